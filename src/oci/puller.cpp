#include "oci/puller.hpp"

#include <fcntl.h>

#include <algorithm>
#include <functional>
#include <ctime>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "base/log.hpp"
#include "base/progress.hpp"
#include "base/progress_events.hpp"
#include "oci/layer_fetcher.hpp"
#include "oci/layer_record.hpp"
#include "oci/prefetch_source.hpp"
#include "oci/store_sink.hpp"
#include "crypto/sha256.hpp"
#include "store/store.hpp"

namespace imgctl::oci {

namespace {

using json = nlohmann::json;

constexpr uint64_t kWritebackEvery = 32 << 20;
constexpr std::string_view kZstdChunkedChecksum = "io.containers.zstd-chunked.manifest-checksum";

void add_stats(LayerStats& t, const LayerStats& s) {
    t.entries += s.entries;
    t.objects += s.objects;
    t.inline_files += s.inline_files;
    t.whiteouts += s.whiteouts;
    t.object_bytes += s.object_bytes;
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

// The manifest for the platform (through the index when the reference names one).
Result<Resolved> resolve_manifest(ImageSource& src, const Platform& want) {
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
    return r;
}

// The config, checked against the manifest and the platform.
Result<void> resolve_config(ImageSource& src, const Platform& want, Resolved& r) {
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
    return {};
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

// A layer's record blob, and its diff_id when the uncompressed tar was hashed to it (by this
// pull or the one that made the record): only such a diff_id may name the record for reuse.
struct RecordRef {
    std::string record;   ///< "sha256:<hex>" of the record blob
    std::string diff_id;  ///< "sha256:<hex>", or empty (zstd:chunked layers are not checked)
};

bool is_chunked(const Descriptor& l) { return l.annotations.count(std::string(kZstdChunkedChecksum)) > 0; }

std::string image_meta(const PullOptions& opts, const Reference& ref, const Resolved& r, const Platform& p,
                       const std::vector<RecordRef>& records) {
    json j = {{"source", opts.source.empty() ? ref.to_string() : opts.source},
              {"reference", ref.to_string()},
              {"created", now_rfc3339()},
              {"manifest", r.manifest.digest},
              {"config", r.parsed.config.digest},
              {"platform", p.to_string()},
              {"hardlinks", true}};
    if (!r.config.created.empty()) j["image_created"] = r.config.created;
    json layers = json::array();
    for (size_t i = 0; i < r.parsed.layers.size(); ++i) {
        json l = {{"digest", r.parsed.layers[i].digest}, {"record", records[i].record}};
        if (!records[i].diff_id.empty()) l["diff_id"] = records[i].diff_id;
        layers.push_back(std::move(l));
    }
    j["layers"] = std::move(layers);
    for (const char* k : {"org.opencontainers.image.version", "version"}) {
        auto it = r.config.labels.find(k);
        if (it != r.config.labels.end()) {
            j["version"] = it->second;
            break;
        }
    }
    return j.dump();
}

// Layers applied by earlier pulls: images/*.json list {"digest": blob, "record": sha256 of the
// layer record blob, "diff_id": when it was checked}. A record is usable when every object it
// names is still in the store. A layer of this image reuses a record with the same blob digest
// (unless that record's checked diff_id contradicts this image's config), or, when it is not
// zstd:chunked, one whose checked diff_id is this layer's diff_id: the same tar, compressed
// otherwise (e.g. pushed once as gzip and once as zstd).
struct CachedLayer {
    RecordRef ref;
    std::vector<LayerEntry> entries;
};

std::map<std::string, CachedLayer> load_cached_layers(store::Store& st, const Manifest& man,
                                                      const std::vector<std::string>& diff_ids) {
    std::map<std::string, CachedLayer> out;
    std::map<std::string, std::string> diff_of;                // blob digest -> this image's diff_id
    std::map<std::string, std::vector<std::string>> by_diff;   // diff_id -> blob digests (not chunked)
    for (size_t i = 0; i < man.layers.size() && i < diff_ids.size(); ++i) {
        diff_of[man.layers[i].digest] = diff_ids[i];
        if (!is_chunked(man.layers[i])) by_diff[diff_ids[i]].push_back(man.layers[i].digest);
    }
    auto images = st.list_images();
    if (!images) return out;
    for (const auto& img : *images) {
        if (!img.meta) continue;
        json j = json::parse(*img.meta, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("layers") || !j["layers"].is_array()) continue;
        for (const auto& l : j["layers"]) {
            if (!l.is_object() || !l.contains("digest") || !l.contains("record") || !l["digest"].is_string() ||
                !l["record"].is_string())
                continue;
            std::string d = l["digest"].get<std::string>();
            std::string vd = l.contains("diff_id") && l["diff_id"].is_string() ? l["diff_id"].get<std::string>() : "";
            std::vector<std::string> targets;
            if (auto it = diff_of.find(d); it != diff_of.end() && (vd.empty() || vd == it->second)) targets.push_back(d);
            if (auto it = by_diff.find(vd); !vd.empty() && it != by_diff.end())
                targets.insert(targets.end(), it->second.begin(), it->second.end());
            std::erase_if(targets, [&](const std::string& t) { return out.count(t) > 0; });
            auto rd = parse_sha256_digest(l["record"].get<std::string>());
            if (targets.empty() || !rd || !st.has_blob(*rd)) continue;
            auto text = st.read_blob(*rd);
            auto entries = text ? parse_layer_record(*text) : Result<std::vector<LayerEntry>>(text.error());
            if (!entries) {
                log_debug("oci", "layer record {} for {} unusable: {}, ignoring", rd->hex(), d, entries.error().message);
                continue;
            }
            bool complete = std::all_of(entries->begin(), entries->end(), [&](const LayerEntry& e) {
                return !e.node || !e.node->fsverity() || st.has_object(*e.node->fsverity());
            });
            if (!complete) continue;
            for (const auto& t : targets)
                out.emplace(t, CachedLayer{RecordRef{l["record"].get<std::string>(), vd}, *entries});
        }
    }
    return out;
}

// Streams one fetched layer into the tree, checks its digests, and stores its record.
// Returns the record's "sha256:<hex>".
// `check_blob`: hash the compressed bytes here (local blobs); a download checks its own, and
// its file is append-only, so that check covers exactly the bytes read here.
Result<RecordRef> apply_fetched(store::Store& st, LayerApplier& applier, ByteSource& raw, const Descriptor& l,
                                Compression comp, const std::string& diff_id, bool check_blob, PullResult& res) {
    // zstd:chunked blobs (skopeo/containers-storage) decompress to the tar without its trailing
    // record padding, so they never hash to the diff_id; the blob digest from the manifest
    // authenticates them instead (docs/oci.md).
    bool chunked = is_chunked(l);
    LayerStream stream(raw, comp, check_blob ? parse_sha256_digest(l.digest) : std::nullopt,
                       chunked ? std::nullopt : parse_sha256_digest(diff_id));
    std::vector<LayerEntry> entries;
    Result<LayerStats> stats = make_error(ECANCELED, "not applied");
    {
        // Three pipeline stages: reading and decompressing on one thread, the SHA-256 of the tar
        // for the diff_id on another, tar parsing and object writing on this one (docs/oci.md,
        // "Performance").
        PrefetchSource ahead(stream, 256 * 1024, 8, stream.lend_uncompressed_hash());
        stats = applier.apply(ahead, &entries);
    }
    stream.take_back_uncompressed_hash();
    auto fin = stream.finish();
    // A damaged blob shows up as a tar or decompression error first: name the cause.
    if (!fin) return std::move(fin).error();
    if (!stats) return std::move(stats).error();
    res.downloaded += stream.compressed_bytes();
    add_stats(res.totals, *stats);
    log_debug("oci", "layer {}: {} entries, {} objects", l.digest, stats->entries, stats->objects);
    // Keep the layer's record so a later pull of an image sharing it skips the download.
    std::string rec = serialize_layer_record(entries);
    crypto::Digest rd = crypto::Sha256::of(rec);
    IMGCTL_TRY(st.put_blob(rd, std::as_bytes(std::span(rec.data(), rec.size()))));
    return RecordRef{"sha256:" + rd.hex(), chunked ? std::string() : diff_id};
}

// Layers (fetched in parallel, applied in order) -> one Tree. Fills res and records.
Result<void> build_tree(store::Store& st, ImageSource& src, const Reference& ref, const PullOptions& opts,
                        const Resolved& r, composefs::Tree& tree, PullResult& res, std::vector<RecordRef>& records) {
    const auto& layers = r.parsed.layers;
    std::vector<Compression> comp;
    for (const auto& l : layers) {
        auto c = layer_compression(l.media_type);
        if (!c) return std::move(c).error().context(fmt::format("layer {}", l.digest));
        comp.push_back(*c);
    }
    auto cached = load_cached_layers(st, r.parsed, r.config.diff_ids);
    std::set<std::string> skip;
    uint64_t total = 0;
    for (const auto& l : layers) {
        if (cached.count(l.digest)) skip.insert(l.digest);
        else total += static_cast<uint64_t>(l.size);
    }
    std::optional<Progress> bar;
    // The bar draws only on a TTY (and not after Progress::disable_tty_bar, i.e. --quiet); it also
    // feeds --progress-fd.
    // One sub-progress per layer it downloads (a line each on a TTY, "layer" events).
    std::vector<size_t> item(layers.size(), SIZE_MAX);
    if (src.is_remote() && total > 0) {
        bar.emplace(ref.to_string(), total, "download");
        for (size_t i = 0; i < layers.size(); ++i)
            if (!skip.count(layers[i].digest)) item[i] = bar->add_item(layers[i].digest, static_cast<uint64_t>(layers[i].size));
    }
    LayerFetcher fetcher(src, st.dir_fd("tmp"), layers, skip, opts.max_connections, [&bar, &item](size_t i, int64_t d) {
        if (bar && d > 0 && item[i] != SIZE_MAX) bar->add(item[i], static_cast<uint64_t>(d));
    });
    // In a store batch a commit only finishes the digest and closes the staged file: cheaper
    // inline than handed to another thread (docs/oci.md, "Performance").
    // And the objects start going to disk while the layers still unpack (EarlyWriteback).
    // Small files are written by another thread (StoreSink's deferred writes).
    StoreSink sink(st, 0, kWritebackEvery, /*defer_writes=*/true);
    LayerApplier applier(tree, sink);
    for (size_t i = 0; i < layers.size(); ++i) {
        const auto& l = layers[i];
        auto ctx = [&](Error e) {
            return std::move(e).context(fmt::format("layer {} of {} ({})", i + 1, layers.size(), l.digest));
        };
        if (auto c = cached.find(l.digest); c != cached.end()) {
            auto stats = applier.apply_entries(c->second.entries);
            if (!stats) return ctx(std::move(stats).error().context("applying the cached layer record"));
            ++res.cached_layers;
            add_stats(res.totals, *stats);
            records.push_back(c->second.ref);
            continue;
        }
        auto raw = fetcher.reader(i);
        if (!raw) return ctx(std::move(raw).error());
        auto rec = apply_fetched(st, applier, **raw, l, comp[i], r.config.diff_ids[i], !src.verifies_layers(), res);
        // A failed download (digest, size) is the cause to report, also when the layer failed first.
        if (auto fetched = fetcher.wait(i); !fetched) return ctx(std::move(fetched).error());
        if (!rec) return ctx(std::move(rec).error());
        records.push_back(std::move(*rec));
    }
    applier.finalize();
    if (bar) bar->finish();
    return {};
}

}  // namespace

Result<PullResult> pull_image(store::Store& st, ImageSource& src, const Reference& ref, const PullOptions& opts,
                              const ImageWriterFn& write_image) {
    Platform want = opts.platform ? *opts.platform : host_platform();
    PullResult res;
    res.ref_name = opts.ref_name.empty() ? ref.store_ref_name() : opts.ref_name;

    // 1. Manifest (through the index for the platform), checked by digest; done if the ref
    //    already names an image of it; then the config, checked by digest.
    auto r = resolve_manifest(src, want);
    if (!r) return std::move(r).error();
    res.manifest_digest = r->manifest.digest;
    if (auto same = is_up_to_date(st, res.ref_name, res.manifest_digest, res.image); same && *same) {
        res.up_to_date = true;
        return res;
    }
    IMGCTL_TRY(resolve_config(src, want, *r));

    // 2. Layers -> Tree, file contents -> objects: in one store batch (no fsync per object;
    //    one syncfs, then the objects are linked in, before the image names them).
    composefs::Tree tree;
    std::vector<RecordRef> records;  // per layer
    st.begin_batch();
    progress_events::step("pull", "fetch", 1, 4);
    IMGCTL_TRY(build_tree(st, src, ref, opts, *r, tree, res, records));
    progress_events::step("pull", "sync", 2, 4);
    IMGCTL_TRY(st.commit_batch());

    // 3. Image, provenance, ref.
    progress_events::step("pull", "compose", 3, 4);
    auto image = write_image(tree, st);
    if (!image) return std::move(image).error().context("writing the composefs image");
    res.image = *image;
    auto as_bytes = [](const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); };
    IMGCTL_TRY(st.put_blob(*parse_sha256_digest(r->manifest.digest), as_bytes(r->manifest.body)));
    IMGCTL_TRY(st.put_blob(*parse_sha256_digest(r->parsed.config.digest), as_bytes(r->config_text)));
    IMGCTL_TRY(st.set_image_meta(res.image, image_meta(opts, ref, *r, want, records)));
    progress_events::step("pull", "ref", 4, 4);
    IMGCTL_TRY(st.set_ref(res.ref_name, res.image));
    return res;
}

}  // namespace imgctl::oci
