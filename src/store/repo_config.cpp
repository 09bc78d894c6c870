#include "store/repo_config.hpp"

#include <nlohmann/json.hpp>

namespace imgctl::store {

Result<RepoConfig> RepoConfig::parse(std::string_view text) {
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return make_error(EINVAL, "not a JSON object");
    auto version = j.find("version");
    if (version == j.end() || !version->is_number_integer())
        return make_error(EINVAL, "no integer \"version\"");
    if (version->get<int64_t>() != kVersion)
        return make_error(EPROTONOSUPPORT, "unsupported store format version {} (this imgctl knows {})",
                          version->dump(), kVersion);
    auto digest = j.find("digest");
    if (digest == j.end() || !digest->is_string()) return make_error(EINVAL, "no string \"digest\"");
    if (digest->get<std::string>() != kDigest)
        return make_error(EPROTONOSUPPORT, "unsupported digest '{}' (this imgctl knows '{}')",
                          digest->get<std::string>(), kDigest);
    RepoConfig c;
    auto verity = j.find("verity");
    if (verity == j.end() || !verity->is_string()) return make_error(EINVAL, "no string \"verity\"");
    if (*verity == "require") {
        c.verity = VerityPolicy::Require;
    } else if (*verity == "optional") {
        c.verity = VerityPolicy::Optional;
    } else {
        return make_error(EINVAL, "unknown \"verity\" value {}", verity->dump());
    }
    auto fmt_it = j.find("image_format");
    if (fmt_it == j.end() || !fmt_it->is_number_integer()) return make_error(EINVAL, "no integer \"image_format\"");
    if (fmt_it->get<int64_t>() != kImageFormat)
        return make_error(EPROTONOSUPPORT, "unsupported image format {} (this imgctl writes {})", fmt_it->dump(),
                          kImageFormat);
    c.image_format = kImageFormat;
    return c;
}

std::string RepoConfig::serialize() const {
    nlohmann::ordered_json j;
    j["version"] = kVersion;
    j["digest"] = std::string(kDigest);
    j["verity"] = verity == VerityPolicy::Require ? "require" : "optional";
    j["image_format"] = image_format;
    return j.dump() + "\n";
}

}  // namespace imgctl::store
