// The rewrite pass of the composefs writer (FORMAT-NOTES §3): a flat, breadth-first copy of the
// tree with the composefs xattrs added, whiteouts converted, '.'/'..' and the 256 stubs added.
#include <algorithm>
#include <array>
#include <unordered_map>

#include "composefs/erofs_build.hpp"
#include "composefs/limits.hpp"

namespace imgctl::composefs::erofs {

namespace {

constexpr std::string_view kTrustedOverlay = "trusted.overlay.";
constexpr std::string_view kMetacopy = "trusted.overlay.metacopy";
constexpr std::string_view kRedirect = "trusted.overlay.redirect";

bool is_whiteout(const Inode& n) { return S_ISCHR(n.mode) && n.rdev == 0; }

void set_xattr(std::vector<Xattr>& xs, std::string_view name, std::string value) {
    for (auto& x : xs) {
        if (x.name == name) {
            x.value = std::move(value);
            return;
        }
    }
    xs.push_back(Xattr{std::string(name), std::move(value)});
}

// Where a hardlinked inode is owned: its parent directory and the name inside it.
struct Owner {
    const Inode* parent;
    std::string_view name;
};

// Depth-first walk (sorted children, as the reader reports names): finds the owner of every
// inode reachable under several names, refuses directory hardlinks and reports whiteouts.
struct Scan {
    std::unordered_map<const Inode*, Owner> owners;
    bool has_whiteout = false;
};

Result<Scan> scan_tree(const Tree& tree) {
    Scan s;
    struct Frame {
        const Inode* dir;
        std::map<std::string, InodePtr, std::less<>>::const_iterator it;
    };
    std::unordered_map<const Inode*, bool> seen_dirs;
    std::vector<Frame> stack{{tree.root().get(), tree.root()->children.begin()}};
    while (!stack.empty()) {
        Frame& f = stack.back();
        if (f.it == f.dir->children.end()) {
            stack.pop_back();
            continue;
        }
        const auto& [name, child] = *f.it++;
        if (!child) return make_error(EINVAL, "entry '{}' has no inode", name);
        if (is_whiteout(*child)) s.has_whiteout = true;
        if (child.use_count() > 1) {  // maybe shared: only such inodes need an owner
            if (child->is_dir()) {
                if (child == tree.root() || !seen_dirs.emplace(child.get(), true).second)
                    return make_error(EMLINK, "directory '{}' is reachable under several names (directory hardlink)", name);
            } else {
                s.owners.emplace(child.get(), Owner{f.dir, name});
            }
        }
        if (child->is_dir()) stack.push_back({child.get(), child->children.begin()});
    }
    // An explicit owner (Inode::primary_path) wins when it still names the inode.
    for (auto& [inode, owner] : s.owners) {
        if (inode->primary_path.empty()) continue;
        if (tree.lookup(inode->primary_path).get() != inode) continue;
        auto slash = inode->primary_path.find_last_of('/');
        std::string_view dir_path = std::string_view(inode->primary_path).substr(0, slash);
        InodePtr parent = dir_path.empty() ? tree.root() : tree.lookup(dir_path);
        auto it = parent->children.find(std::string_view(inode->primary_path).substr(slash + 1));
        owner = Owner{parent.get(), it->first};
    }
    return s;
}

Result<void> validate(const Inode& n, std::string_view name) {
    switch (n.mode & S_IFMT) {
        case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFBLK: case S_IFCHR: case S_IFIFO: case S_IFSOCK: break;
        default: return make_error(EINVAL, "'{}' has an unknown file type (mode {:o})", name, n.mode);
    }
    if (n.is_symlink() && (n.symlink_target.empty() || n.symlink_target.size() > kMaxSymlinkLen))
        return make_error(EINVAL, "symlink '{}' has a target of {} bytes (1..{})", name, n.symlink_target.size(), kMaxSymlinkLen);
    if (n.is_reg() && n.content) {
        if (n.content->size() != n.size)
            return make_error(EINVAL, "'{}' has {} bytes of inline content but size {}", name, n.content->size(), n.size);
        if (n.content->size() > kMaxInlineContent)
            return make_error(EFBIG, "'{}' has more than {} bytes of inline content", name, kMaxInlineContent);
    }
    for (const auto& x : n.xattrs) {
        if (x.name.empty() || x.name.size() > kMaxXattrNameLen || x.value.size() > kMaxXattrValueLen)
            return make_error(EINVAL, "'{}' has an xattr with a bad name or value length", name);
    }
    return {};
}

uint32_t chunkbits_for(uint64_t size) {
    uint32_t bits = size <= 1 ? 0 : 64 - static_cast<uint32_t>(__builtin_clzll(size - 1));
    return std::clamp(bits, 12u, 43u);
}

class Rewriter {
public:
    Rewriter(const Tree& t, Scan s, uint32_t version) : tree_(t), scan_(std::move(s)), version_(version) {}
    Result<Build> run();

private:
    Result<uint32_t> add_node(const Inode& n, std::string_view name, uint32_t parent);
    Result<void> expand_dir(uint32_t idx);
    uint32_t add_stub();

    const Tree& tree_;
    Scan scan_;
    uint32_t version_;
    Build b_;
    std::unordered_map<const Inode*, uint32_t> index_of_shared_;
};

Result<uint32_t> Rewriter::add_node(const Inode& n, std::string_view name, uint32_t parent) {
    IMGCTL_TRY(validate(n, name));
    Node w;
    w.src = &n;
    w.mode = n.mode;
    w.nlink = n.nlink;
    w.uid = n.uid;
    w.gid = n.gid;
    w.mtime_sec = n.mtime_sec;
    w.mtime_nsec = n.mtime_nsec;
    w.xattrs.reserve(n.xattrs.size() + 2);
    for (const auto& x : n.xattrs) {  // §3.2b: escape user overlay xattrs
        if (x.name.starts_with(kTrustedOverlay))
            w.xattrs.push_back(Xattr{"trusted.overlay.overlay." + x.name.substr(kTrustedOverlay.size()), x.value});
        else
            w.xattrs.push_back(x);
    }
    if (n.is_reg()) {
        w.size = n.size;
        if (n.size > 0 && n.content) {
            w.data = *n.content;
        } else if (n.size > 0) {  // §3.2c: external file
            w.external = true;
            w.chunkbits = chunkbits_for(n.size);
            uint64_t count = (n.size >> w.chunkbits) + ((n.size & ((uint64_t{1} << w.chunkbits) - 1)) != 0);
            if (count > kMaxChunks) return make_error(EFBIG, "'{}': File too large ({} bytes)", name, n.size);
            w.chunk_count = static_cast<uint32_t>(count);
            std::string meta;
            if (n.fsverity) {
                meta = {'\x00', '\x24', '\x00', '\x01'};
                meta.append(reinterpret_cast<const char*>(n.fsverity->bytes.data()), n.fsverity->bytes.size());
            }
            set_xattr(w.xattrs, kMetacopy, std::move(meta));
            if (!n.payload.empty()) set_xattr(w.xattrs, kRedirect, "/" + n.payload);
        }
    } else if (n.is_symlink()) {
        w.data = n.symlink_target;
        w.size = n.symlink_target.size();
    } else if (S_ISCHR(n.mode) || S_ISBLK(n.mode)) {
        w.rdev = n.rdev;
    }
    if (is_whiteout(n)) {  // §3.2d
        w.mode = S_IFREG | (n.mode & 07777);
        w.size = 0;
        set_xattr(w.xattrs, "trusted.overlay.overlay.whiteout", "");
        set_xattr(w.xattrs, "user.overlay.whiteout", "");
        auto& px = b_.nodes[parent].xattrs;
        set_xattr(px, "trusted.overlay.overlay.whiteouts", "");
        set_xattr(px, "user.overlay.whiteouts", "");
        if (version_ >= 1) {
            set_xattr(px, "trusted.overlay.overlay.opaque", "x");
            set_xattr(px, "user.overlay.opaque", "x");
        }
    }
    b_.nodes.push_back(std::move(w));
    return static_cast<uint32_t>(b_.nodes.size() - 1);
}

// §3.4/§8: a whiteout stub, chardev 0:0 with the root's owner, mtime and SELinux label.
uint32_t Rewriter::add_stub() {
    const Node& root = b_.nodes[0];
    Node w;
    w.mode = S_IFCHR | 0644;
    w.uid = root.uid;
    w.gid = root.gid;
    w.mtime_sec = root.mtime_sec;
    w.mtime_nsec = root.mtime_nsec;
    for (const auto& x : root.xattrs)
        if (x.name == "security.selinux") w.xattrs.push_back(x);
    b_.nodes.push_back(std::move(w));
    return static_cast<uint32_t>(b_.nodes.size() - 1);
}

Result<void> Rewriter::expand_dir(uint32_t idx) {
    const Inode* src = b_.nodes[idx].src;
    // Entries in sorted order first: node indices (BFS order) follow the sorted dirents,
    // the whiteout stubs of the root included.
    struct Entry {
        std::string_view name;
        const InodePtr* child;  // nullptr: "." / ".." / a stub
    };
    std::vector<Entry> ents;
    ents.reserve(src->children.size() + 2 + (idx == 0 ? 256 : 0));
    ents.push_back(Entry{".", nullptr});
    ents.push_back(Entry{"..", nullptr});
    for (const auto& [name, child] : src->children) {
        if (name.empty() || name.size() > kMaxNameLen || name == "." || name == ".." ||
            name.find('/') != std::string::npos)
            return make_error(EINVAL, "bad file name '{}'", name);
        ents.push_back(Entry{name, &child});
    }
    bool sorted = true;
    if (idx == 0) {  // §3.4: the whiteout stubs, after the rewrite, so never converted
        for (const auto& stub : stub_names())
            if (!src->children.count(stub)) ents.push_back(Entry{stub, nullptr});
        sorted = false;
    }
    // "." and ".." are not always first (§4): names below 0x2e sort before them.
    if (sorted && ents.size() > 2 && ents[2].name < "..") sorted = false;
    if (!sorted) std::sort(ents.begin(), ents.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });

    std::vector<Dirent> dirents;
    dirents.reserve(ents.size());
    for (const auto& e : ents) {
        if (e.name == ".") {
            dirents.push_back(Dirent{e.name, idx, nullptr});
            continue;
        }
        if (e.name == "..") {
            dirents.push_back(Dirent{e.name, UINT32_MAX, nullptr});  // resolved after the BFS
            continue;
        }
        if (!e.child) {
            dirents.push_back(Dirent{e.name, add_stub(), nullptr});
            continue;
        }
        const InodePtr& child = *e.child;
        if (child.use_count() > 1 && !child->is_dir()) {
            auto o = scan_.owners.find(child.get());
            if (o != scan_.owners.end() && (o->second.parent != src || o->second.name != e.name)) {
                dirents.push_back(Dirent{e.name, 0, child.get()});
                continue;
            }
        }
        auto r = add_node(*child, e.name, idx);
        if (!r) return std::move(r).error();
        if (child.use_count() > 1) index_of_shared_.emplace(child.get(), *r);
        dirents.push_back(Dirent{e.name, *r, nullptr});
    }
    b_.nodes[idx].dirents = std::move(dirents);
    return {};
}

Result<Build> Rewriter::run() {
    b_.version = version_;
    const Inode& root = *tree_.root();
    if (!root.is_dir()) return make_error(EINVAL, "the root is not a directory");
    auto r = add_node(root, "/", 0);
    if (!r) return std::move(r).error();
    // Breadth-first: nodes are appended as they are discovered, so the vector is the queue.
    std::vector<uint32_t> parent_of{0};
    for (uint32_t i = 0; i < b_.nodes.size(); ++i) {
        if (!S_ISDIR(b_.nodes[i].mode) || !b_.nodes[i].src) continue;
        IMGCTL_TRY(expand_dir(i));
        parent_of.resize(b_.nodes.size(), i);  // the nodes just added are children of i
    }
    // Resolve "..", hardlink aliases; recompute directory nlink (§3.5).
    for (uint32_t i = 0; i < b_.nodes.size(); ++i) {
        Node& n = b_.nodes[i];
        if (!S_ISDIR(n.mode)) continue;
        uint32_t subdirs = 0;
        for (auto& d : n.dirents) {
            if (d.name == "..") {
                d.target = parent_of[i];
            } else if (d.alias) {
                auto it = index_of_shared_.find(d.alias);
                if (it == index_of_shared_.end()) return make_error(EINVAL, "hardlink '{}' has no owner", d.name);
                d.target = it->second;
            } else if (d.name != "." && S_ISDIR(b_.nodes[d.target].mode)) {
                ++subdirs;
            }
        }
        n.nlink = 2 + subdirs;
    }
    set_xattr(b_.nodes[0].xattrs, "trusted.overlay.opaque", "y");  // §3.3
    b_.build_time = b_.nodes[0].mtime_sec;
    b_.build_time_nsec = b_.nodes[0].mtime_nsec;
    for (auto& n : b_.nodes) {
        std::sort(n.xattrs.begin(), n.xattrs.end(), [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
        if (std::pair(n.mtime_sec, n.mtime_nsec) < std::pair(b_.build_time, b_.build_time_nsec)) {
            b_.build_time = n.mtime_sec;
            b_.build_time_nsec = n.mtime_nsec;
        }
        for (const auto& x : n.xattrs)
            if (x.name == "system.posix_acl_access" || x.name == "system.posix_acl_default") b_.has_acl = true;
    }
    return std::move(b_);
}

}  // namespace

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
