#include "oci/layer_record.hpp"

#include <nlohmann/json.hpp>

#include "oci/auth.hpp"
#include "oci/object_sink.hpp"

namespace imgctl::oci {

using json = nlohmann::json;
using composefs::Inode;

namespace {

constexpr int kVersion = 1;

Result<std::string> b64(const json& j, const char* key, size_t index) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return make_error(EBADMSG, "layer record entry {}: no '{}'", index, key);
    auto v = base64_decode(it->get<std::string>());
    if (!v) return make_error(EBADMSG, "layer record entry {}: bad base64 in '{}'", index, key);
    return std::move(*v);
}

template <typename T>
T num(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number_integer() ? it->get<T>() : T{};
}

Result<LayerEntry> parse_entry(const json& j, size_t i) {
    if (!j.is_object()) return make_error(EBADMSG, "layer record entry {} is not an object", i);
    auto name = b64(j, "n", i);
    if (!name) return std::move(name).error();
    auto path = normalize_entry_name(*name);
    if (!path) return std::move(path).error();
    LayerEntry e{std::move(*name), std::move(*path), std::nullopt, nullptr};
    if (j.contains("h")) {
        auto h = b64(j, "h", i);
        if (!h) return std::move(h).error();
        auto t = normalize_entry_name(*h);
        if (!t) return std::move(t).error();
        e.hardlink = std::move(*t);
        return e;
    }
    if (!j.contains("m")) return e;  // a whiteout
    auto n = Inode::make(num<uint32_t>(j, "m"));
    n->uid = num<uint32_t>(j, "u");
    n->gid = num<uint32_t>(j, "g");
    n->rdev = num<uint64_t>(j, "r");
    n->mtime_sec = num<int64_t>(j, "t");
    n->mtime_nsec = num<uint32_t>(j, "ns");
    n->size = num<uint64_t>(j, "s");
    if (j.contains("l")) {
        auto l = b64(j, "l", i);
        if (!l) return std::move(l).error();
        n->set_symlink_target(std::move(*l));
    }
    if (j.contains("c")) {
        auto c = b64(j, "c", i);
        if (!c) return std::move(c).error();
        n->set_content(std::move(*c));
    }
    if (auto o = j.find("o"); o != j.end()) {
        auto d = o->is_string() ? crypto::Digest::from_hex(o->get<std::string>()) : std::nullopt;
        if (!d) return make_error(EBADMSG, "layer record entry {}: bad object digest", i);
        n->set_fsverity(*d);
        n->set_payload(object_payload_path(*d));
    }
    if (auto x = j.find("x"); x != j.end() && x->is_array()) {
        for (const auto& kv : *x) {
            if (!kv.is_array() || kv.size() != 2 || !kv[0].is_string() || !kv[1].is_string())
                return make_error(EBADMSG, "layer record entry {}: bad xattr", i);
            auto k = base64_decode(kv[0].get<std::string>());
            auto v = base64_decode(kv[1].get<std::string>());
            if (!k || !v) return make_error(EBADMSG, "layer record entry {}: bad xattr base64", i);
            n->xattrs.push_back({std::move(*k), std::move(*v)});
        }
    }
    e.node = std::move(n);
    return e;
}

}  // namespace

std::string serialize_layer_record(const std::vector<LayerEntry>& entries) {
    json arr = json::array();
    for (const auto& e : entries) {
        json j = {{"n", base64_encode(e.name)}};
        if (e.hardlink) {
            j["h"] = base64_encode(*e.hardlink);
        } else if (e.node) {
            const Inode& n = *e.node;
            j["m"] = n.mode;
            if (n.uid) j["u"] = n.uid;
            if (n.gid) j["g"] = n.gid;
            if (n.rdev) j["r"] = n.rdev;
            j["t"] = n.mtime_sec;
            if (n.mtime_nsec) j["ns"] = n.mtime_nsec;
            if (n.size) j["s"] = n.size;
            if (!n.symlink_target().empty()) j["l"] = base64_encode(n.symlink_target());
            if (n.content()) j["c"] = base64_encode(*n.content());
            if (n.fsverity()) j["o"] = n.fsverity()->hex();
            if (!n.xattrs.empty()) {
                json xs = json::array();
                for (const auto& x : n.xattrs) xs.push_back({base64_encode(x.name), base64_encode(x.value)});
                j["x"] = std::move(xs);
            }
        }
        arr.push_back(std::move(j));
    }
    return json{{"version", kVersion}, {"entries", std::move(arr)}}.dump();
}

Result<std::vector<LayerEntry>> parse_layer_record(std::string_view text) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return make_error(EBADMSG, "layer record is not a JSON object");
    if (!j.contains("version") || j["version"] != kVersion)
        return make_error(EBADMSG, "layer record has an unknown version");
    auto arr = j.find("entries");
    if (arr == j.end() || !arr->is_array()) return make_error(EBADMSG, "layer record has no entries");
    std::vector<LayerEntry> out;
    out.reserve(arr->size());
    for (size_t i = 0; i < arr->size(); ++i) {
        auto e = parse_entry((*arr)[i], i);
        if (!e) return std::move(e).error();
        out.push_back(std::move(*e));
    }
    return out;
}

}  // namespace imgctl::oci
