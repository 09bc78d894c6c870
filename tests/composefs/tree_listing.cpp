#include "tree_listing.hpp"

#include <fmt/format.h>

#include <map>

#include "base/hex.hpp"

namespace imgctl::composefs::testing {

namespace {

std::string quote(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (c > 0x20 && c < 0x7f && c != '\\') out += static_cast<char>(c);
        else out += fmt::format("\\x{:02x}", c);
    }
    return out;
}

void list(const InodePtr& node, const std::string& path, const ListingOptions& o,
          std::map<const Inode*, std::string>& seen, std::string& out) {
    auto [it, first] = seen.emplace(node.get(), path);
    if (!first) {
        out += fmt::format("{} -> hardlink of {}\n", quote(path), quote(it->second));
        return;
    }
    const Inode& n = *node;
    out += fmt::format("{} mode=0{:o} uid={} gid={} mtime={}.{}", quote(path), n.mode, n.uid, n.gid, n.mtime_sec,
                       n.mtime_nsec);
    if (!n.is_dir() || o.nlink_dirs) out += fmt::format(" nlink={}", n.nlink);
    if (!n.is_dir() || o.dir_sizes) out += fmt::format(" size={}", n.size);
    if (S_ISCHR(n.mode) || S_ISBLK(n.mode)) out += fmt::format(" rdev={}", n.rdev);
    if (n.is_symlink()) out += " target=" + quote(n.symlink_target());
    if (n.content()) out += " content=" + quote(*n.content());
    if (!n.payload().empty()) out += " payload=" + quote(n.payload());
    if (n.fsverity()) out += " verity=" + n.fsverity()->hex();
    std::map<std::string, std::string> xs;
    for (const auto& x : n.xattrs) xs[x.name] = x.value;
    bool has_whiteout = false;
    for (const auto& [name, c] : n.children()) has_whiteout |= S_ISCHR(c->mode) && c->rdev == 0;
    if (o.strip_v1_markers && has_whiteout) {
        for (const char* m : {"trusted.overlay.opaque", "user.overlay.opaque"})
            if (auto x = xs.find(m); x != xs.end() && x->second == "x") xs.erase(x);
    }
    for (const auto& [k, v] : xs) out += " " + quote(k) + "=" + quote(v);
    out += "\n";
    for (const auto& [name, child] : n.children()) list(child, path == "/" ? "/" + name : path + "/" + name, o, seen, out);
}

}  // namespace

std::string tree_listing(const Tree& tree, const ListingOptions& o) {
    std::map<const Inode*, std::string> seen;
    std::string out;
    list(tree.root(), "/", o, seen, out);
    return out;
}

}  // namespace imgctl::composefs::testing
