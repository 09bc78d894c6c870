#include "composefs/dump_writer.hpp"

#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "composefs/dump_escape.hpp"
#include "composefs/erofs_writer.hpp"

namespace imgctl::composefs {

namespace {

uint64_t dump_size(const Inode& n, bool is_root) {
    if (n.is_reg()) return n.size;
    if (n.is_symlink()) return n.symlink_target().size();
    if (n.is_dir()) return erofs_dir_size(n, is_root);
    return 0;
}

uint32_t dump_nlink(const Inode& n) {
    if (!n.is_dir()) return n.nlink;
    uint32_t subdirs = 0;
    for (const auto& [name, c] : n.children())
        if (c && c->is_dir()) ++subdirs;
    return 2 + subdirs;
}

class DumpWriter {
public:
    explicit DumpWriter(const Tree& t) : tree_(t) {}

    std::string run() {
        out_.reserve(1 << 16);
        line(*tree_.root(), "/", nullptr, true);
        walk(*tree_.root(), "");
        return std::move(out_);
    }

private:
    // The owner path of a possibly shared inode, decided at its first meeting.
    const std::string* owner_of(const InodePtr& n, const std::string& path) {
        auto [it, inserted] = owners_.try_emplace(n.get());
        if (inserted) {
            bool explicit_ok = !n->primary_path().empty() && tree_.lookup(n->primary_path()) == n;
            it->second = explicit_ok ? n->primary_path() : path;
        }
        return &it->second;
    }

    void walk(const Inode& dir, const std::string& prefix) {
        for (const auto& [name, child] : dir.children()) {
            if (!child) continue;
            std::string path = prefix + "/" + name;
            const std::string* owner = nullptr;
            if (child.use_count() > 1 && !child->is_dir()) {
                owner = owner_of(child, path);
                if (*owner == path) owner = nullptr;
            }
            line(*child, path, owner, false);
            if (child->is_dir()) walk(*child, path);
        }
    }

    void line(const Inode& n, std::string_view path, const std::string* link_to, bool is_root) {
        append_escaped(out_, path);
        bool dev = S_ISCHR(n.mode) || S_ISBLK(n.mode);
        fmt::format_to(std::back_inserter(out_), " {} {}{:o} {} {} {} {} {}.{} ", dump_size(n, is_root),
                       link_to ? "@" : "", n.mode, dump_nlink(n), n.uid, n.gid, dev ? n.rdev : 0, n.mtime_sec,
                       n.mtime_nsec);
        bool inline_file = n.is_reg() && n.size > 0 && n.content();
        bool external = n.is_reg() && n.size > 0 && !n.content();
        if (link_to) {
            append_escaped_optional(out_, *link_to);
            out_ += " - -";
        } else {
            if (n.is_symlink())
                append_escaped_optional(out_, n.symlink_target());
            else if (external && !n.payload().empty())
                append_escaped_optional(out_, n.payload());
            else
                out_ += '-';
            out_ += ' ';
            if (inline_file)
                append_escaped_optional(out_, *n.content());
            else
                out_ += '-';
            out_ += ' ';
            if (external && n.fsverity())
                out_ += n.fsverity()->hex();
            else
                out_ += '-';
        }
        for (const auto& x : n.xattrs) {
            out_ += ' ';
            append_escaped(out_, x.name, /*escape_equal=*/true);
            out_ += '=';
            append_escaped(out_, x.value, /*escape_equal=*/true);
        }
        out_ += '\n';
    }

    const Tree& tree_;
    std::string out_;
    std::unordered_map<const Inode*, std::string> owners_;
};

}  // namespace

std::string write_dump(const Tree& tree) {
    DumpWriter w(tree);
    return w.run();
}

}  // namespace imgctl::composefs
