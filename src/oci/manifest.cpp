#include "oci/manifest.hpp"

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include "oci/reference.hpp"

namespace imgctl::oci {

using json = nlohmann::json;

namespace {

Result<json> parse_json(std::string_view text, std::string_view what) {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return make_error(EBADMSG, "{} is not valid JSON", what);
    if (!j.is_object()) return make_error(EBADMSG, "{} is not a JSON object", what);
    return j;
}

std::string get_string(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::map<std::string, std::string> get_string_map(const json& j, const char* key) {
    std::map<std::string, std::string> m;
    auto it = j.find(key);
    if (it == j.end() || !it->is_object()) return m;
    for (auto& [k, v] : it->items())
        if (v.is_string()) m.emplace(k, v.get<std::string>());
    return m;
}

Result<Descriptor> parse_descriptor(const json& j, std::string_view what) {
    if (!j.is_object()) return make_error(EBADMSG, "{} is not an object", what);
    Descriptor d;
    d.media_type = get_string(j, "mediaType");
    d.digest = get_string(j, "digest");
    if (!is_sha256_digest(d.digest))
        return make_error(EBADMSG, "{} has digest '{}', want sha256:<64 hex>", what, d.digest);
    auto size = j.find("size");
    if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0)
        return make_error(EBADMSG, "{} has no valid size", what);
    d.size = size->get<int64_t>();
    if (auto p = j.find("platform"); p != j.end() && p->is_object())
        d.platform = Platform{get_string(*p, "os"), get_string(*p, "architecture"), get_string(*p, "variant")};
    d.annotations = get_string_map(j, "annotations");
    return d;
}

}  // namespace

std::string Platform::to_string() const {
    return os + "/" + architecture + (variant.empty() ? "" : "/" + variant);
}

Result<DocumentKind> classify_document(std::string_view text, std::string_view content_type) {
    auto j = parse_json(text, "manifest");
    if (!j) return std::move(j).error();
    std::string mt = get_string(*j, "mediaType");
    if (mt.empty()) mt = std::string(content_type.substr(0, content_type.find(';')));
    auto sv = j->find("schemaVersion");
    if ((sv != j->end() && *sv == 1) || mt == media::kDockerSchema1 || mt == media::kDockerSchema1Signed)
        return make_error(EPROTONOSUPPORT,
                          "Docker schema 1 manifests are not supported (deprecated; re-push the image "
                          "with a current tool to get a schema 2 or OCI manifest)");
    if (mt == media::kOciIndex || mt == media::kDockerList) return DocumentKind::Index;
    if (mt == media::kOciManifest || mt == media::kDockerManifest) return DocumentKind::Manifest;
    // OCI allows mediaType to be absent: tell by shape.
    if (mt.empty() && j->contains("manifests")) return DocumentKind::Index;
    if (mt.empty() && j->contains("config") && j->contains("layers")) return DocumentKind::Manifest;
    return make_error(EPROTONOSUPPORT, "unsupported manifest media type '{}'", mt);
}

Result<Index> parse_index(std::string_view text) {
    auto j = parse_json(text, "image index");
    if (!j) return std::move(j).error();
    auto m = j->find("manifests");
    if (m == j->end() || !m->is_array()) return make_error(EBADMSG, "image index has no 'manifests' array");
    Index idx;
    for (size_t i = 0; i < m->size(); ++i) {
        auto d = parse_descriptor((*m)[i], fmt::format("image index entry {}", i));
        if (!d) return std::move(d).error();
        idx.manifests.push_back(std::move(*d));
    }
    return idx;
}

Result<Manifest> parse_manifest(std::string_view text) {
    auto j = parse_json(text, "image manifest");
    if (!j) return std::move(j).error();
    Manifest man;
    man.media_type = get_string(*j, "mediaType");
    auto c = j->find("config");
    if (c == j->end()) return make_error(EBADMSG, "image manifest has no 'config'");
    auto cfg = parse_descriptor(*c, "manifest config");
    if (!cfg) return std::move(cfg).error();
    man.config = std::move(*cfg);
    auto l = j->find("layers");
    if (l == j->end() || !l->is_array()) return make_error(EBADMSG, "image manifest has no 'layers' array");
    for (size_t i = 0; i < l->size(); ++i) {
        auto d = parse_descriptor((*l)[i], fmt::format("manifest layer {}", i));
        if (!d) return std::move(d).error();
        man.layers.push_back(std::move(*d));
    }
    man.annotations = get_string_map(*j, "annotations");
    return man;
}

Result<ImageConfig> parse_config(std::string_view text) {
    auto j = parse_json(text, "image config");
    if (!j) return std::move(j).error();
    ImageConfig c;
    c.os = get_string(*j, "os");
    c.architecture = get_string(*j, "architecture");
    c.variant = get_string(*j, "variant");
    c.created = get_string(*j, "created");
    if (auto cfg = j->find("config"); cfg != j->end() && cfg->is_object()) c.labels = get_string_map(*cfg, "Labels");
    auto rootfs = j->find("rootfs");
    if (rootfs == j->end() || !rootfs->is_object()) return make_error(EBADMSG, "image config has no 'rootfs'");
    auto ids = rootfs->find("diff_ids");
    if (ids == rootfs->end() || !ids->is_array()) return make_error(EBADMSG, "image config has no 'rootfs.diff_ids'");
    for (auto& id : *ids) {
        if (!id.is_string() || !is_sha256_digest(id.get<std::string>()))
            return make_error(EBADMSG, "image config has a diff_id that is not sha256:<64 hex>");
        c.diff_ids.push_back(id.get<std::string>());
    }
    return c;
}

Result<Compression> layer_compression(std::string_view mt) {
    static constexpr std::string_view kPrefixes[] = {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.foreign.diff.tar",
    };
    for (auto p : kPrefixes) {
        if (!mt.starts_with(p)) continue;
        std::string_view rest = mt.substr(p.size());
        if (rest.empty()) return Compression::None;
        if (rest == "+gzip" || rest == ".gzip") return Compression::Gzip;
        if (rest == "+zstd") return Compression::Zstd;
    }
    return make_error(EPROTONOSUPPORT, "unsupported layer media type '{}'", mt);
}

Platform host_platform() {
    struct utsname u {};
    (void)uname(&u);  // cannot fail with a valid buffer
    std::string m = u.machine;
    Platform p{"linux", m, ""};
    if (m == "x86_64") p.architecture = "amd64";
    else if (m == "aarch64") p = {"linux", "arm64", "v8"};
    else if (m == "i686" || m == "i386") p.architecture = "386";
    else if (m.starts_with("armv7")) p = {"linux", "arm", "v7"};
    return p;
}

Result<Platform> parse_platform(std::string_view s) {
    Platform p;
    size_t a = s.find('/');
    if (a == std::string_view::npos || a == 0) return make_error(EINVAL, "invalid platform '{}': want os/arch[/variant]", s);
    p.os = std::string(s.substr(0, a));
    std::string_view rest = s.substr(a + 1);
    size_t b = rest.find('/');
    p.architecture = std::string(rest.substr(0, b));
    if (b != std::string_view::npos) p.variant = std::string(rest.substr(b + 1));
    if (p.architecture.empty() || (b != std::string_view::npos && p.variant.empty()) ||
        p.variant.find('/') != std::string::npos)
        return make_error(EINVAL, "invalid platform '{}': want os/arch[/variant]", s);
    return p;
}

Result<Descriptor> select_platform(const Index& index, const Platform& want) {
    const Descriptor* loose = nullptr;  // os/arch match, variant not given on one side
    std::string offered;
    for (const auto& d : index.manifests) {
        if (!d.platform) continue;
        const Platform& p = *d.platform;
        offered += (offered.empty() ? "" : ", ") + p.to_string();
        if (p.os != want.os || p.architecture != want.architecture) continue;
        if (p.variant == want.variant) return d;
        if (!loose && (p.variant.empty() || want.variant.empty())) loose = &d;
    }
    if (loose) return *loose;
    if (index.manifests.size() == 1 && !index.manifests[0].platform) return index.manifests[0];
    return make_error(ENOENT, "no manifest for platform {} in the image index (it has: {})", want.to_string(),
                      offered.empty() ? "no platform entries" : offered);
}

}  // namespace imgctl::oci
