#include "oci/puller.hpp"

#include <fcntl.h>

#include <ctime>
#include <future>
#include <semaphore>

#include <nlohmann/json.hpp>

#include "base/log.hpp"
#include "base/progress.hpp"
#include "store/store.hpp"

namespace imgctl::oci {

namespace {

using json = nlohmann::json;

// Regular-file contents go straight into the store's objects (ObjectWriter: O_TMPFILE in tmp/,
// linked under the fs-verity digest on commit).
class StoreSink : public ObjectSink {
public:
    explicit StoreSink(store::Store& s) : store_(s) {}
    class W : public Writer {
    public:
        explicit W(store::ObjectWriter w) : w_(std::move(w)) {}
        Result<void> write(std::span<const std::byte> d) override { return w_.write(d); }
        Result<crypto::Digest> commit() override { return w_.commit(); }

    private:
        store::ObjectWriter w_;
    };
    Result<std::unique_ptr<Writer>> begin(uint64_t size) override {
        auto w = store_.begin_object(size);
        if (!w) return std::move(w).error();
        return std::unique_ptr<Writer>(new W(std::move(*w)));
    }

private:
    store::Store& store_;
};

std::optional<crypto::Digest> digest_of(const std::string& s) {
    return s.size() == 71 ? crypto::Digest::from_hex(std::string_view(s).substr(7)) : std::nullopt;
}

std::string now_rfc3339() {
    char buf[32];
    time_t t = ::time(nullptr);
    struct tm tm {};
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

struct Resolved {
    FetchedManifest manifest;
    Manifest parsed;
    std::string config_text;
    ImageConfig config;
};

Result<Resolved> resolve(ImageSource& src, const Platform& want) {
    auto top = src.root_manifest();
    if (!top) return std::move(top).error();
    auto kind = classify_document(top->body, top->content_type);
    if (!kind) return std::move(kind).error();
    Resolved r;
    if (*kind == DocumentKind::Index) {
        auto idx = parse_index(top->body);
        if (!idx) return std::move(idx).error();
        auto pick = select_platform(*idx, want);
        if (!pick) return std::move(pick).error();
        auto m = src.manifest(*pick);
        if (!m) return std::move(m).error();
        auto k2 = classify_document(m->body, m->content_type);
        if (!k2) return std::move(k2).error();
        if (*k2 != DocumentKind::Manifest) return make_error(EPROTONOSUPPORT, "nested image indexes are not supported");
        r.manifest = std::move(*m);
    } else {
        r.manifest = std::move(*top);
    }
    auto man = parse_manifest(r.manifest.body);
    if (!man) return std::move(man).error();
    r.parsed = std::move(*man);
    auto cfg_text = src.blob(r.parsed.config);
    if (!cfg_text) return std::move(cfg_text).error().context("fetching the image config");
    r.config_text = std::move(*cfg_text);
    auto cfg = parse_config(r.config_text);
    if (!cfg) return std::move(cfg).error();
    r.config = std::move(*cfg);
    if (r.config.diff_ids.size() != r.parsed.layers.size())
        return make_error(EBADMSG, "the manifest has {} layers but the config lists {} diff_ids", r.parsed.layers.size(),
                          r.config.diff_ids.size());
    if (!r.config.os.empty() && r.config.os != want.os)
        return make_error(EINVAL, "the image is for {}/{}, not {}", r.config.os, r.config.architecture, want.to_string());
    return r;
}

Result<bool> is_up_to_date(store::Store& st, const std::string& ref_name, const std::string& manifest_digest,
                           crypto::Digest& image) {
    auto cur = st.resolve_ref(ref_name);
    if (!cur) return false;
    auto meta = st.read_image_meta(*cur);
    if (!meta || !*meta) return false;
    json j = json::parse(**meta, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("manifest") || j["manifest"] != manifest_digest) return false;
    image = *cur;
    return true;
}

std::string image_meta(const PullOptions& opts, const Reference& ref, const Resolved& r, const Platform& p) {
    json j = {{"source", opts.source.empty() ? ref.to_string() : opts.source},
              {"reference", ref.to_string()},
              {"created", now_rfc3339()},
              {"manifest", r.manifest.digest},
              {"config", r.parsed.config.digest},
              {"platform", p.to_string()},
              {"hardlinks", true}};
    if (!r.config.created.empty()) j["image_created"] = r.config.created;
    for (const char* k : {"org.opencontainers.image.version", "version"}) {
        auto it = r.config.labels.find(k);
        if (it != r.config.labels.end()) {
            j["version"] = it->second;
            break;
        }
    }
    return j.dump();
}

}  // namespace

Result<PullResult> pull_image(store::Store& st, ImageSource& src, const Reference& ref, const PullOptions& opts,
                              const ImageWriterFn& write_image) {
    Platform want = opts.platform ? *opts.platform : host_platform();
    PullResult res;
    res.ref_name = opts.ref_name.empty() ? ref.store_ref_name() : opts.ref_name;

    // 1. Manifest (through the index for the platform) and config, each checked by digest.
    auto r = resolve(src, want);
    if (!r) return std::move(r).error();
    res.manifest_digest = r->manifest.digest;
    if (auto same = is_up_to_date(st, res.ref_name, res.manifest_digest, res.image); same && *same) {
        res.up_to_date = true;
        return res;
    }
    std::vector<Compression> comp;
    uint64_t total = 0;
    for (const auto& l : r->parsed.layers) {
        auto c = layer_compression(l.media_type);
        if (!c) return std::move(c).error().context(fmt::format("layer {}", l.digest));
        comp.push_back(*c);
        total += static_cast<uint64_t>(l.size);
    }

    // 2. Fetch the layers: every one starts at once, a semaphore bounds the connections, and
    //    the applier below consumes them in order as they complete.
    std::optional<Progress> bar;
    if (opts.show_progress && src.is_remote()) bar.emplace(fmt::format("{}", ref.to_string()), total);
    auto on_bytes = [&bar](int64_t d) {
        if (bar && d > 0) bar->add(static_cast<uint64_t>(d));
    };
    std::counting_semaphore<64> slots(std::clamp<unsigned>(opts.max_connections, 1, 64));
    std::vector<std::future<Result<UniqueFd>>> fetches;
    for (const auto& l : r->parsed.layers) {
        fetches.push_back(std::async(src.is_remote() ? std::launch::async : std::launch::deferred, [&, l] {
            slots.acquire();
            auto fd = src.open_layer(l, on_bytes);
            slots.release();
            return fd;
        }));
    }

    // 3. Apply in order; each layer's compressed digest and diff_id are checked as it streams.
    composefs::Tree tree;
    StoreSink sink(st);
    LayerApplier applier(tree, sink);
    for (size_t i = 0; i < r->parsed.layers.size(); ++i) {
        const auto& l = r->parsed.layers[i];
        auto ctx = [&](Error e) {
            return std::move(e).context(fmt::format("layer {} of {} ({})", i + 1, r->parsed.layers.size(), l.digest));
        };
        auto fd = fetches[i].get();
        if (!fd) return ctx(std::move(fd).error());
        FdSource raw(fd->get());
        LayerStream stream(raw, comp[i], digest_of(l.digest), digest_of(r->config.diff_ids[i]));
        auto stats = applier.apply(stream);
        if (!stats) return ctx(std::move(stats).error());
        auto fin = stream.finish();
        if (!fin) return ctx(std::move(fin).error());
        res.downloaded += stream.compressed_bytes();
        res.totals.entries += stats->entries;
        res.totals.objects += stats->objects;
        res.totals.inline_files += stats->inline_files;
        res.totals.whiteouts += stats->whiteouts;
        res.totals.object_bytes += stats->object_bytes;
        log_debug("oci", "layer {}: {} entries, {} objects", l.digest, stats->entries, stats->objects);
    }
    applier.finalize();
    if (bar) bar->finish();

    // 4. Image, provenance, ref.
    auto image = write_image(tree, st);
    if (!image) return std::move(image).error().context("writing the composefs image");
    res.image = *image;
    auto as_bytes = [](const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); };
    IMGCTL_TRY(st.put_blob(*digest_of(r->manifest.digest), as_bytes(r->manifest.body)));
    IMGCTL_TRY(st.put_blob(*digest_of(r->parsed.config.digest), as_bytes(r->config_text)));
    IMGCTL_TRY(st.set_image_meta(res.image, image_meta(opts, ref, *r, want)));
    IMGCTL_TRY(st.set_ref(res.ref_name, res.image));
    return res;
}

}  // namespace imgctl::oci
