// imgctl images: list the images of the store.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <map>

#include "base/progress.hpp"
#include "cli/command.hpp"
#include "cli/store_common.hpp"

namespace imgctl::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: imgctl images [--json] [OPTIONS]\n\n"
    "List the composefs images of the store: digest, size, the refs naming it and its source.\n\n"
    "  --json           print a JSON array of {\"digest\", \"size\", \"refs\", \"meta\"}\n";

int run_images(int argc, char** argv) {
    auto parsed = parse_list_args(argc, argv);
    if (!parsed) return usage_error("images", parsed.error().message);
    const RepoOptions& ro = parsed->repo;
    const bool json = parsed->json;
    const int next = parsed->next;
    if (next != argc) return usage_error("images", fmt::format("unexpected argument '{}'", argv[next]));
    auto s = open_store(ro, store::LockMode::Shared);
    if (!s) return fail(s.error());
    auto images = s->list_images();
    if (!images) return fail(images.error());
    auto refs = s->list_refs();
    if (!refs) return fail(refs.error());
    std::map<crypto::Digest, std::vector<std::string>> by_image;
    for (const auto& r : *refs) {
        if (r.image) by_image[*r.image].push_back(r.name);
    }
    auto arr = nlohmann::json::array();
    for (const auto& i : *images) {
        const auto& names = by_image[i.digest];
        nlohmann::json meta = i.meta ? nlohmann::json::parse(*i.meta, nullptr, false) : nlohmann::json(nullptr);
        if (meta.is_discarded()) meta = nullptr;
        if (json) {
            arr.push_back({{"digest", i.digest.hex()}, {"size", i.size}, {"refs", names}, {"meta", meta}});
            continue;
        }
        std::string source = meta.is_object() && meta.contains("source") && meta["source"].is_string()
                                 ? meta["source"].get<std::string>()
                                 : "-";
        fmt::print("{} {:>10} {} {}\n", i.digest.hex(), format_bytes(i.size), source,
                   names.empty() ? std::string("(no ref)") : fmt::format("{}", fmt::join(names, ",")));
    }
    if (json) fmt::print("{}\n", arr.dump(2));
    return kExitOk;
}

const std::string kFullUsage = std::string(kUsage) + std::string(kRepoUsage);

const Command kImages{"images", "list the images of the store", kFullUsage, run_images};
const CommandRegistrar kReg(kImages);

}  // namespace
}  // namespace imgctl::cli
