// imgctl refs: list, set and delete refs (the store's GC roots).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.hpp"
#include "cli/store_common.hpp"
#include "store/ref_name.hpp"

namespace imgctl::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: imgctl refs [--json] [OPTIONS]\n"
    "       imgctl refs set NAME DIGEST|REF [OPTIONS]\n"
    "       imgctl refs delete NAME [OPTIONS]\n\n"
    "List the refs of the store ('<image digest> <name>' per line, or a JSON array), point a\n"
    "ref at an image, or delete a ref (its image stays until 'imgctl gc'). Names are paths\n"
    "like 'local/base'; characters other than A-Z a-z 0-9 . _ - are written as %XX\n"
    "(docs/store-format.md).\n\n"
    "  --json           print a JSON array of {\"name\", \"display\", \"image\"}\n";

int list(const RepoOptions& ro, bool json) {
    auto s = open_store(ro, store::LockMode::Shared);
    if (!s) return fail(s.error());
    auto refs = s->list_refs();
    if (!refs) return fail(refs.error());
    if (json) {
        auto arr = nlohmann::json::array();
        for (const auto& r : *refs) {
            arr.push_back({{"name", r.name},
                           {"display", store::display_ref_name(r.name)},
                           {"image", r.image ? nlohmann::json(r.image->hex()) : nlohmann::json(nullptr)}});
        }
        fmt::print("{}\n", arr.dump(2));
        return kExitOk;
    }
    for (const auto& r : *refs) fmt::print("{} {}\n", r.image ? r.image->hex() : std::string(64, '?'), r.name);
    return kExitOk;
}

int run_refs(int argc, char** argv) {
    auto parsed = parse_list_args(argc, argv);
    if (!parsed) return usage_error("refs", parsed.error().message);
    const RepoOptions& ro = parsed->repo;
    const bool json = parsed->json;
    const int next = parsed->next;
    std::vector<std::string_view> args(argv + next, argv + argc);
    if (args.empty()) return list(ro, json);
    if (args[0] == "set" && args.size() == 3) {
        auto s = open_store(ro, store::LockMode::Exclusive);
        if (!s) return fail(s.error());
        auto d = store::resolve_image(*s, args[2]);
        if (!d) return fail(d.error());
        if (auto r = s->set_ref(args[1], *d); !r) return fail(r.error());
        return kExitOk;
    }
    if (args[0] == "delete" && args.size() == 2) {
        auto s = open_store(ro, store::LockMode::Exclusive);
        if (!s) return fail(s.error());
        if (auto r = s->delete_ref(args[1]); !r) return fail(r.error());
        return kExitOk;
    }
    return usage_error("refs", "expected no argument, 'set NAME DIGEST|REF' or 'delete NAME'");
}

const std::string kFullUsage = std::string(kUsage) + std::string(kRepoUsage);

const Command kRefs{"refs", "list, set or delete refs of the store", kFullUsage, run_refs};
const CommandRegistrar kReg(kRefs);

}  // namespace
}  // namespace imgctl::cli
