#include "composefs/erofs_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include "base/mapped_file.hpp"
#include "composefs/erofs_image.hpp"
#include "composefs/limits.hpp"

namespace imgctl::composefs {

namespace {

using erofs::ErofsImage;
using erofs::Layout;
using erofs::RawInode;

// Overlay xattr names the writer adds (FORMAT-NOTES §3, §14).
constexpr std::string_view kMetacopy = "trusted.overlay.metacopy";
constexpr std::string_view kRedirect = "trusted.overlay.redirect";
constexpr std::string_view kOpaque = "trusted.overlay.opaque";
constexpr std::string_view kEscapedPrefix = "trusted.overlay.overlay.";
constexpr std::string_view kEscapedWhiteout = "trusted.overlay.overlay.whiteout";
constexpr std::string_view kEscapedWhiteouts = "trusted.overlay.overlay.whiteouts";
constexpr std::string_view kUserWhiteout = "user.overlay.whiteout";
constexpr std::string_view kUserWhiteouts = "user.overlay.whiteouts";
constexpr size_t kMetacopyDigestSize = 36;
constexpr uint32_t kMaxSymlinkLen = 4095;

Error in_image(Error e, std::string_view name) { return std::move(e).context(fmt::format("image '{}'", name)); }

std::string display_path(const std::string& p) { return p.empty() ? "/" : p; }


bool is_stub(const RawInode& ino) { return S_ISCHR(ino.mode) && ino.i_u == 0; }

// Walks every directory entry below `root` (except "." and "..") breadth-first with entries in
// on-disk (sorted) order, which is the writer's inode order (FORMAT-NOTES §3.5), calling
// fn(parent nid, name, child inode, child path, is_primary). `is_primary` is true for the name
// at which the writer placed the inode: its i_ino is the next breadth-first index. Of a
// hardlinked inode's names, that one must stay primary for the image bytes to round-trip.
// Directories are entered once: a directory reached twice (a cycle or a directory hardlink)
// and nesting beyond kMaxDepth are errors.
template <typename Fn>
Result<void> walk(const ErofsImage& img, const RawInode& root, Fn&& fn) {
    struct Pending {
        RawInode ino;
        std::string path;
        unsigned depth;
    };
    std::deque<Pending> queue{{root, "", 0}};
    std::unordered_set<uint64_t> dirs{root.nid};
    uint64_t next_ino = uint64_t{root.i_ino} + 1;
    while (!queue.empty()) {
        Pending cur = std::move(queue.front());
        queue.pop_front();
        auto ents = img.dirents(cur.ino);
        if (!ents) return std::move(ents).error().context(fmt::format("'{}'", display_path(cur.path)));
        std::unordered_set<std::string_view> names;
        for (const auto& e : *ents) {
            if (e.name == "." || e.name == "..") continue;
            std::string path = cur.path + "/" + std::string(e.name);
            auto ctx = [&](Error err) { return std::move(err).context(fmt::format("'{}'", path)); };
            if (!names.insert(e.name).second) return ctx(make_error(EINVAL, "duplicate directory entry"));
            // Paths grow with depth: charge them too, or a deep chain with a wide bottom could
            // make a small image build gigabytes of path strings.
            if (auto c = img.charge(path.size()); !c) return ctx(std::move(c).error());
            auto child = img.inode(e.nid);
            if (!child) return ctx(std::move(child).error());
            if (e.file_type != dirent_file_type(child->mode))
                return ctx(make_error(EINVAL, "entry type {} does not match the mode 0{:o} of nid {}", e.file_type,
                                      child->mode, e.nid));
            bool primary = child->i_ino == next_ino;
            if (primary) ++next_ino;
            auto r = fn(cur.ino.nid, e.name, *child, path, primary);
            if (!r) return ctx(std::move(r).error());
            if (!S_ISDIR(child->mode)) continue;
            if (!dirs.insert(child->nid).second)
                return ctx(make_error(EINVAL, "directory at nid {} is reached twice (cycle or directory hardlink)", e.nid));
            if (cur.depth + 1 > kMaxDepth) return ctx(make_error(EINVAL, "directories nested deeper than {}", kMaxDepth));
            queue.push_back(Pending{*child, std::move(path), cur.depth + 1});
        }
    }
    return {};
}

Result<std::optional<crypto::Digest>> parse_metacopy(std::string_view v) {
    if (v.empty()) return std::optional<crypto::Digest>();
    // struct ovl_metacopy: version 0, len 36, flags 0, digest algo 1 (SHA-256), 32 digest bytes.
    if (v.size() != kMetacopyDigestSize || v[0] != 0 || v[1] != 36 || v[2] != 0 || v[3] != 1)
        return make_error(EINVAL, "malformed {} xattr ({} bytes)", kMetacopy, v.size());
    crypto::Digest d;
    std::memcpy(d.bytes.data(), v.data() + 4, d.bytes.size());
    return std::optional<crypto::Digest>(d);
}

// Turns the image's xattrs of one inode back into the tree's (FORMAT-NOTES §14).
Result<void> map_xattrs(std::vector<erofs::RawXattr> raw, Inode& node, bool is_root) {
    bool whiteout = false;
    for (auto& x : raw) {
        std::string_view n = x.name;
        if (n == kMetacopy) {
            if (!node.is_reg()) continue;
            auto d = parse_metacopy(x.value);
            if (!d) return std::move(d).error();
            node.set_fsverity(*d);
        } else if (n == kRedirect) {
            if (!node.is_reg()) continue;
            std::string_view v = x.value;
            if (!v.empty() && v.front() == '/') v.remove_prefix(1);
            node.set_payload(std::string(v));
        } else if ((is_root && n == kOpaque) || n == kEscapedWhiteouts || n == kUserWhiteouts || n == kUserWhiteout) {
            continue;
        } else if (n == kEscapedWhiteout && node.is_reg()) {
            whiteout = true;
        } else if (n.starts_with(kEscapedPrefix)) {
            node.xattrs.push_back({"trusted.overlay." + std::string(n.substr(kEscapedPrefix.size())), std::move(x.value)});
        } else {
            node.xattrs.push_back({std::move(x.name), std::move(x.value)});
        }
    }
    if (whiteout) {  // a converted overlay whiteout: back to the chardev 0:0 it was
        node.mode = S_IFCHR | (node.mode & 07777);
        node.rdev = 0;
        node.size = 0;
        node.set_content(std::nullopt);
        node.set_payload({});
        node.set_fsverity(std::nullopt);
    }
    return {};
}

Result<InodePtr> make_node(const ErofsImage& img, const RawInode& raw, bool is_root) {
    auto node = Inode::make(raw.mode);
    node->nlink = raw.nlink;
    node->uid = raw.uid;
    node->gid = raw.gid;
    node->mtime_sec = raw.mtime_sec;
    node->mtime_nsec = raw.mtime_nsec;
    node->size = raw.size;
    switch (raw.mode & S_IFMT) {
        case S_IFREG:
            if (raw.layout != Layout::ChunkBased && raw.size > 0) {
                auto c = img.flat_data(raw);
                if (!c) return std::move(c).error();
                node->set_content(std::move(c).value());
            }
            break;
        case S_IFLNK: {
            if (raw.size == 0 || raw.size > kMaxSymlinkLen)
                return make_error(EINVAL, "inode at nid {}: symlink target of {} bytes", raw.nid, raw.size);
            auto t = img.flat_data(raw);
            if (!t) return std::move(t).error();
            if (t->find('\0') != std::string::npos)
                return make_error(EINVAL, "inode at nid {}: symlink target contains a NUL byte", raw.nid);
            node->set_symlink_target(std::move(t).value());
            break;
        }
        case S_IFCHR:
        case S_IFBLK: node->rdev = raw.i_u; node->size = 0; break;
        case S_IFDIR: break;
        default: node->size = 0; break;
    }
    auto xs = img.xattrs(raw);
    if (!xs) return std::move(xs).error();
    auto m = map_xattrs(std::move(xs).value(), *node, is_root);
    if (!m) return std::move(m).error().context(fmt::format("inode at nid {}", raw.nid));
    return node;
}

Result<std::pair<ErofsImage, RawInode>> open_root(std::span<const std::byte> image) {
    auto img = ErofsImage::open(image);
    if (!img) return std::move(img).error();
    auto root = img->inode(img->superblock().root_nid);
    if (!root) return std::move(root).error().context("root");
    if (!S_ISDIR(root->mode)) return make_error(EINVAL, "root inode at nid {} is not a directory", root->nid);
    return std::pair<ErofsImage, RawInode>(std::move(img).value(), *root);
}

}  // namespace

Result<ImageInfo> read_image_info(std::span<const std::byte> image, std::string_view name) {
    auto img = ErofsImage::open(image);
    if (!img) return in_image(std::move(img).error(), name);
    const auto& sb = img->superblock();
    return ImageInfo{sb.format_version, (sb.composefs_flags & erofs::kComposefsFlagHasAcl) != 0};
}

Result<ImageContents> read_image(std::span<const std::byte> image, std::string_view name) {
    auto opened = open_root(image);
    if (!opened) return in_image(std::move(opened).error(), name);
    const ErofsImage& img = opened->first;
    const RawInode& root_raw = opened->second;
    auto root = make_node(img, root_raw, /*is_root=*/true);
    if (!root) return in_image(std::move(root).error().context("'/'"), name);
    XattrInterner xattr_lists;  // most inodes carry one of a few lists
    xattr_lists.intern((*root)->xattrs);
    std::unordered_map<uint64_t, InodePtr> by_nid;
    by_nid.reserve(std::min<uint64_t>(img.superblock().inos, image.size() / 32));  // inos is untrusted
    by_nid.emplace(root_raw.nid, *root);
    auto r = walk(img, root_raw,
                  [&](uint64_t parent_nid, std::string_view n, const RawInode& raw, const std::string& path,
                      bool primary) -> Result<void> {
                      if (is_stub(raw)) return {};  // the 00..ff whiteout stubs (FORMAT-NOTES §8)
                      Inode& parent = *by_nid.at(parent_nid);  // walk() enters only directories we made
                      auto it = by_nid.find(raw.nid);
                      if (it == by_nid.end()) {
                          auto node = make_node(img, raw, /*is_root=*/false);
                          if (!node) return std::move(node).error();
                          xattr_lists.intern((*node)->xattrs);
                          it = by_nid.emplace(raw.nid, std::move(node).value()).first;
                      } else if (it->second->is_dir()) {
                          return make_error(EINVAL, "directory at nid {} is reached twice (cycle or directory hardlink)", raw.nid);
                      }
                      if (primary && !it->second->is_dir()) it->second->set_primary_path(path);
                      parent.children().emplace(std::string(n), it->second);
                      return {};
                  });
    if (!r) return in_image(std::move(r).error(), name);
    // primary_path only matters for inodes with several names (by_nid holds one reference).
    for (auto& [nid, node] : by_nid)
        if (node.use_count() <= 2) node->set_primary_path({});
    const auto& sb = img.superblock();
    return ImageContents{Tree(std::move(root).value()),
                         ImageInfo{sb.format_version, (sb.composefs_flags & erofs::kComposefsFlagHasAcl) != 0}};
}

Result<ImageContents> read_image_at(int dir_fd, const std::string& path) {
    auto m = MappedFile::open_at(dir_fd, path);
    if (!m) return std::move(m).error();
    return read_image(m->data(), path);
}

Result<std::vector<ExternalFile>> list_external_files(std::span<const std::byte> image, std::string_view name) {
    auto opened = open_root(image);
    if (!opened) return in_image(std::move(opened).error(), name);
    const ErofsImage& img = opened->first;
    const RawInode& root_raw = opened->second;
    std::vector<ExternalFile> out;
    auto r = walk(img, root_raw, [&](uint64_t, std::string_view, const RawInode& raw, const std::string& path, bool) -> Result<void> {
        if (!S_ISREG(raw.mode) || raw.layout != Layout::ChunkBased) return {};
        auto xs = img.xattrs(raw);
        if (!xs) return std::move(xs).error();
        ExternalFile f;
        f.path = path;
        for (auto& x : *xs) {
            if (x.name == kRedirect) {
                std::string_view v = x.value;
                if (!v.empty() && v.front() == '/') v.remove_prefix(1);
                f.payload = std::string(v);
            } else if (x.name == kMetacopy) {
                auto d = parse_metacopy(x.value);
                if (!d) return std::move(d).error().context(fmt::format("inode at nid {}", raw.nid));
                f.fsverity = *d;
            } else if (x.name == kEscapedWhiteout) {
                return {};  // a whiteout, not a file
            }
        }
        out.push_back(std::move(f));
        return {};
    });
    if (!r) return in_image(std::move(r).error(), name);
    return out;
}

}  // namespace imgctl::composefs
