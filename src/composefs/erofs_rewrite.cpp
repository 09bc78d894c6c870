// The rewrite pass of the composefs writer (FORMAT-NOTES §3): a flat, breadth-first copy of the
// tree with the composefs xattrs added, whiteouts converted, '.'/'..' and the 256 stubs added.
#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_map>

#include "composefs/erofs_build.hpp"
#include "composefs/limits.hpp"

namespace imgctl::composefs::erofs {

namespace {

constexpr std::string_view kTrustedOverlay = "trusted.overlay.";
constexpr std::string_view kMetacopy = "trusted.overlay.metacopy";
constexpr std::string_view kRedirect = "trusted.overlay.redirect";

bool is_whiteout(const Inode& n) { return S_ISCHR(n.mode) && n.rdev == 0; }

// The first of the `used` live entries of `xs` named `name`, or a new one (the strings of
// entries past `used` are reused, so regenerating a node's xattrs rarely allocates).
Xattr& xattr_slot(std::vector<Xattr>& xs, size_t& used, std::string_view name, bool replace = true) {
    if (replace)
        for (size_t i = 0; i < used; ++i)
            if (xs[i].name == name) return xs[i];
    if (used == xs.size()) xs.emplace_back();
    xs[used].name.assign(name);
    return xs[used++];
}

void set_xattr(std::vector<Xattr>& xs, size_t& used, std::string_view name, std::string_view value) {
    xattr_slot(xs, used, name).value.assign(value);
}

// Depth-first walk (sorted children, as the reader reports names): finds the owner of every
// inode reachable under several names, refuses directory hardlinks and reports whiteouts.
struct Scan {
    std::unordered_map<const Inode*, Owner> owners;
    bool has_whiteout = false;
    size_t entries = 0;        // directory entries met
    size_t shared_names = 0;   // of them, entries of inodes in `owners`
};

Result<Scan> scan_tree(const Tree& tree) {
    Scan s;
    struct Frame {
        const Inode* dir;
        Children::const_iterator it;
    };
    std::unordered_map<const Inode*, bool> seen_dirs;
    std::vector<Frame> stack{{tree.root().get(), tree.root()->children().begin()}};
    while (!stack.empty()) {
        Frame& f = stack.back();
        if (f.it == f.dir->children().end()) {
            stack.pop_back();
            continue;
        }
        const auto& [name, child] = *f.it++;
        if (!child) return make_error(EINVAL, "entry '{}' has no inode", name);
        if (is_whiteout(*child)) s.has_whiteout = true;
        ++s.entries;
        if (child.use_count() > 1) {  // maybe shared: only such inodes need an owner
            if (child->is_dir()) {
                if (child == tree.root() || !seen_dirs.emplace(child.get(), true).second)
                    return make_error(EMLINK, "directory '{}' is reachable under several names (directory hardlink)", name);
            } else {
                s.owners.emplace(child.get(), Owner{f.dir, name});
                ++s.shared_names;
            }
        }
        if (child->is_dir()) stack.push_back({child.get(), child->children().begin()});
    }
    // An explicit owner (Inode::primary_path) wins when it still names the inode.
    for (auto& [inode, owner] : s.owners) {
        if (inode->primary_path().empty()) continue;
        if (tree.lookup(inode->primary_path()).get() != inode) continue;
        auto slash = inode->primary_path().find_last_of('/');
        std::string_view dir_path = std::string_view(inode->primary_path()).substr(0, slash);
        InodePtr parent = dir_path.empty() ? tree.root() : tree.lookup(dir_path);
        auto it = parent->children().find(std::string_view(inode->primary_path()).substr(slash + 1));
        owner = Owner{parent.get(), it->first};
    }
    return s;
}

Result<void> validate(const Inode& n, std::string_view name) {
    switch (n.mode & S_IFMT) {
        case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFBLK: case S_IFCHR: case S_IFIFO: case S_IFSOCK: break;
        default: return make_error(EINVAL, "'{}' has an unknown file type (mode {:o})", name, n.mode);
    }
    if (n.is_symlink() && (n.symlink_target().empty() || n.symlink_target().size() > kMaxSymlinkLen))
        return make_error(EINVAL, "symlink '{}' has a target of {} bytes (1..{})", name, n.symlink_target().size(), kMaxSymlinkLen);
    if (n.is_reg() && n.content()) {
        if (n.content()->size() != n.size)
            return make_error(EINVAL, "'{}' has {} bytes of inline content but size {}", name, n.content()->size(), n.size);
        if (n.content()->size() > kMaxInlineContent)
            return make_error(EFBIG, "'{}' has more than {} bytes of inline content", name, kMaxInlineContent);
    }
    for (const auto& x : n.xattrs) {
        if (x.name.empty() || x.name.size() > kMaxXattrNameLen || x.value.size() > kMaxXattrValueLen)
            return make_error(EINVAL, "'{}' has an xattr with a bad name or value length", name);
    }
    return {};
}


class Rewriter {
public:
    Rewriter(const Tree& t, Scan s, uint32_t version) : tree_(t), version_(version) {
        // The exact node count: the root, one node per entry except the aliases of hardlinked
        // inodes, and the stubs no root entry shadows. No reallocation copies the array.
        size_t stubs = 0;
        for (const auto& stub : stub_names()) stubs += !t.root()->children().count(stub);
        b_.nodes.reserve(1 + s.entries - s.shared_names + s.owners.size() + stubs);
        b_.owners = std::move(s.owners);
    }
    Result<Build> run();

private:
    Result<uint32_t> add_node(const Inode& n, std::string_view name, uint32_t parent);
    Result<void> expand_dir(uint32_t idx);
    void add_stub(uint32_t parent);

    const Tree& tree_;
    uint32_t version_;
    Build b_;
    std::vector<Entry> ents_;  // scratch
};

Result<uint32_t> Rewriter::add_node(const Inode& n, std::string_view name, uint32_t parent) {
    IMGCTL_TRY(validate(n, name));
    Node w;
    w.src = &n;
    w.parent = parent;
    for (const auto& x : n.xattrs)
        if (x.name == "system.posix_acl_access" || x.name == "system.posix_acl_default") b_.has_acl = true;
    if (n.is_reg() && n.size > 0 && !n.content()) {  // §3.2c: external file
        uint32_t bits = chunkbits_for(n.size);
        uint64_t count = (n.size >> bits) + ((n.size & ((uint64_t{1} << bits) - 1)) != 0);
        if (count > kMaxChunks) return make_error(EFBIG, "'{}': File too large ({} bytes)", name, n.size);
    }
    if (is_whiteout(n)) {  // §3.2d
        w.flags |= Node::kWhiteout;
        b_.nodes[parent].flags |= Node::kHasWhiteouts;
    }
    if (std::pair(n.mtime_sec, n.mtime_nsec) < std::pair(b_.build_time, b_.build_time_nsec)) {
        b_.build_time = n.mtime_sec;
        b_.build_time_nsec = n.mtime_nsec;
    }
    b_.nodes.push_back(w);
    return static_cast<uint32_t>(b_.nodes.size() - 1);
}

// §3.4/§8: a whiteout stub, chardev 0:0 with the root's owner, mtime and SELinux label.
void Rewriter::add_stub(uint32_t parent) {
    Node w;
    w.parent = parent;
    b_.nodes.push_back(w);
}

Result<void> Rewriter::expand_dir(uint32_t idx) {
    const Inode* src = b_.nodes[idx].src;
    // Entries in sorted order: node indices (BFS order) follow the sorted dirents, the
    // whiteout stubs of the root included, so a directory's nodes are consecutive.
    for (const auto& [name, child] : src->children()) {
        if (name.empty() || name.size() > kMaxNameLen || name == "." || name == ".." ||
            name.view().find('/') != std::string::npos)
            return make_error(EINVAL, "bad file name '{}'", name);
    }
    dir_entries(*src, idx == 0, ents_);
    for (const auto& e : ents_) {
        if (!e.child) {
            if (e.name != "." && e.name != "..") add_stub(idx);
            continue;
        }
        const InodePtr& child = *e.child;
        if (child.use_count() > 1 && !child->is_dir()) {
            auto o = b_.owners.find(child.get());
            if (o != b_.owners.end() && (o->second.parent != src || o->second.name != e.name)) continue;
        }
        auto r = add_node(*child, e.name, idx);
        if (!r) return std::move(r).error();
        if (child.use_count() > 1) b_.index_of_shared.emplace(child.get(), *r);
    }
    return {};
}

Result<Build> Rewriter::run() {
    b_.version = version_;
    const Inode& root = *tree_.root();
    if (!root.is_dir()) return make_error(EINVAL, "the root is not a directory");
    b_.build_time = root.mtime_sec;
    b_.build_time_nsec = root.mtime_nsec;
    auto r = add_node(root, "/", 0);
    if (!r) return std::move(r).error();
    // Breadth-first: nodes are appended as they are discovered, so the vector is the queue.
    for (uint32_t i = 0; i < b_.nodes.size(); ++i) {
        if (!b_.nodes[i].src || !b_.nodes[i].src->is_dir()) continue;
        IMGCTL_TRY(expand_dir(i));
    }
    // Every hardlink alias must name a placed inode.
    for (const auto& [inode, owner] : b_.owners)
        if (!b_.index_of_shared.count(inode)) return make_error(EINVAL, "hardlink '{}' has no owner", owner.name);
    return std::move(b_);
}

}  // namespace

void dir_entries(const Inode& src, bool is_root, std::vector<Entry>& ents) {
    ents.clear();
    ents.reserve(src.children().size() + 2 + (is_root ? 256 : 0));
    ents.push_back(Entry{".", nullptr});
    ents.push_back(Entry{"..", nullptr});
    for (const auto& [name, child] : src.children()) ents.push_back(Entry{name, &child});
    bool sorted = true;
    if (is_root) {  // §3.4: the whiteout stubs, after the rewrite, so never converted
        for (const auto& stub : stub_names())
            if (!src.children().count(stub)) ents.push_back(Entry{stub, nullptr});
        sorted = false;
    }
    // "." and ".." are not always first (§4): names below 0x2e sort before them.
    if (sorted && ents.size() > 2 && ents[2].name < "..") sorted = false;
    if (!sorted) std::sort(ents.begin(), ents.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
}

uint32_t dir_targets(const Build& b, uint32_t k, uint32_t next, const std::vector<Entry>& ents, std::vector<uint32_t>& out) {
    const Node& n = b.nodes[k];
    out.clear();
    for (const auto& e : ents) {
        if (!e.child) {
            out.push_back(e.name == "." ? k : e.name == ".." ? n.parent : next++);
            continue;
        }
        const InodePtr& child = *e.child;
        if (child.use_count() > 1 && !child->is_dir()) {
            auto o = b.owners.find(child.get());
            if (o != b.owners.end() && (o->second.parent != n.src || o->second.name != e.name)) {
                out.push_back(b.index_of_shared.at(child.get()));
                continue;
            }
        }
        out.push_back(next++);
    }
    return next;
}

std::string_view node_data(const Node& n) {
    if (!n.src) return {};
    if (n.src->is_symlink()) return n.src->symlink_target();
    if (n.src->is_reg() && n.src->size > 0 && n.src->content()) return *n.src->content();
    return {};
}

bool is_external(const Node& n) { return n.src && n.src->is_reg() && n.src->size > 0 && !n.src->content(); }

void node_xattrs(const Build& b, uint32_t k, std::vector<Xattr>& xs) {
    const Node& n = b.nodes[k];
    size_t used = 0;
    if (!n.src) {  // a stub: the root's SELinux label
        for (const auto& x : b.nodes[0].src->xattrs)
            if (x.name == "security.selinux") xattr_slot(xs, used, x.name, false).value.assign(x.value);
    } else {
        for (const auto& x : n.src->xattrs) {  // §3.2b: escape user overlay xattrs
            Xattr& out = xattr_slot(xs, used, x.name, false);
            if (x.name.starts_with(kTrustedOverlay))
                out.name.assign("trusted.overlay.overlay.").append(std::string_view(x.name).substr(kTrustedOverlay.size()));
            out.value.assign(x.value);
        }
    }
    if (is_external(n)) {
        std::string_view meta;
        char buf[36];
        if (n.src->fsverity()) {
            buf[0] = '\x00';
            buf[1] = '\x24';
            buf[2] = '\x00';
            buf[3] = '\x01';
            std::memcpy(buf + 4, n.src->fsverity()->bytes.data(), 32);
            meta = std::string_view(buf, 36);
        }
        set_xattr(xs, used, kMetacopy, meta);
        if (!n.src->payload().empty()) xattr_slot(xs, used, kRedirect).value.assign("/").append(n.src->payload());
    }
    if (n.is(Node::kWhiteout)) {
        set_xattr(xs, used, "trusted.overlay.overlay.whiteout", "");
        set_xattr(xs, used, "user.overlay.whiteout", "");
    }
    if (n.is(Node::kHasWhiteouts)) {
        set_xattr(xs, used, "trusted.overlay.overlay.whiteouts", "");
        set_xattr(xs, used, "user.overlay.whiteouts", "");
        if (b.version >= 1) {
            set_xattr(xs, used, "trusted.overlay.overlay.opaque", "x");
            set_xattr(xs, used, "user.overlay.opaque", "x");
        }
    }
    if (k == 0) set_xattr(xs, used, "trusted.overlay.opaque", "y");  // §3.3
    xs.resize(used);
    std::sort(xs.begin(), xs.end(), [](const Xattr& a, const Xattr& c) { return a.name < c.name; });
}

uint32_t chunkbits_for(uint64_t size) {
    uint32_t bits = size <= 1 ? 0 : 64 - static_cast<uint32_t>(__builtin_clzll(size - 1));
    return std::clamp(bits, 12u, 43u);
}

const std::array<std::string, 256>& stub_names() {
    static const std::array<std::string, 256> names = [] {
        std::array<std::string, 256> n;
        constexpr char kHex[] = "0123456789abcdef";
        for (int i = 0; i < 256; ++i) n[i] = std::string{kHex[i >> 4], kHex[i & 15]};
        return n;
    }();
    return names;
}

Result<Build> rewrite(const Tree& tree, const ErofsOptions& options) {
    if (options.min_version > kFormatVersionMax || options.min_version > options.max_version)
        return make_error(EINVAL, "bad format version range {}..{} (supported: 0..{})", options.min_version,
                          options.max_version, kFormatVersionMax);
    if (!tree.root()) return make_error(EINVAL, "the tree has no root");
    auto scan = scan_tree(tree);
    if (!scan) return std::move(scan).error();
    uint32_t version = options.min_version;
    if (options.max_version >= 1 && scan->has_whiteout) version = 1;
    Rewriter rw(tree, std::move(*scan), version);
    return rw.run();
}

}  // namespace imgctl::composefs::erofs
