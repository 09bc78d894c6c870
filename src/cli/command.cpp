#include "cli/command.hpp"

#include <stdio.h>

#include <algorithm>
#include <string>

#include <fmt/format.h>

namespace imgctl::cli {

namespace {
std::vector<const Command*>& registry() {
    static std::vector<const Command*> r;
    return r;
}
}  // namespace

CommandRegistrar::CommandRegistrar(const Command& c) {
    auto& r = registry();
    r.insert(std::upper_bound(r.begin(), r.end(), &c, [](auto* a, auto* b) { return a->name < b->name; }), &c);
}

const std::vector<const Command*>& commands() { return registry(); }

const Command* find_command(std::string_view name) {
    for (auto* c : registry())
        if (c->name == name) return c;
    return nullptr;
}

int usage_error(std::string_view verb, std::string_view message) {
    fmt::print(stderr, "imgctl: {}: {}\nTry 'imgctl {} --help'.\n", verb, message, verb);
    return kExitUsage;
}

bool handle_help(const Command& c, int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--") break;
        if (a == "-h" || a == "--help") {
            fmt::print("{}", c.usage);
            return true;
        }
    }
    return false;
}

}  // namespace imgctl::cli
