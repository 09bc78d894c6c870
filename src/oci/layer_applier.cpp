#include "oci/layer_applier.hpp"

#include <sys/sysmacros.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include <archive.h>
#include <archive_entry.h>

namespace imgctl::oci {

using composefs::Inode;
using composefs::InodePtr;

namespace {

constexpr size_t kInlineMax = 64;  // mkcomposefs keeps files of 1..64 bytes inline
constexpr size_t kBlock = 256 * 1024;
constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";

struct ArchiveFree {
    void operator()(archive* a) const { archive_read_free(a); }
};

std::string parent_of(std::string_view p) {
    size_t s = p.rfind('/');
    return s == std::string_view::npos ? std::string() : std::string(p.substr(0, s));
}

std::string_view base_of(std::string_view p) {
    size_t s = p.rfind('/');
    return s == std::string_view::npos ? p : p.substr(s + 1);
}

}  // namespace

Result<std::string> normalize_entry_name(std::string_view name) {
    std::string out;
    size_t pos = 0;
    bool leading = true;
    while (pos <= name.size()) {
        size_t next = name.find('/', pos);
        if (next == std::string_view::npos) next = name.size();
        std::string_view c = name.substr(pos, next - pos);
        pos = next + 1;
        if (c.empty()) continue;
        if (c == "." && leading) continue;  // "./" prefixes (and a bare ".") name the root
        if (c == "." || c == "..")
            return make_error(EINVAL, "layer entry '{}' has a '{}' component", name, c);
        leading = false;
        if (!out.empty()) out += '/';
        out.append(c);
    }
    return out;
}

struct LayerApplier::Reader {
    ByteSource& src;
    std::unique_ptr<archive, ArchiveFree> a;
    archive_entry* entry = nullptr;
    std::unique_ptr<std::byte[]> buf{new std::byte[kBlock]};
    std::optional<Error> src_error;  // the real cause when libarchive reports a read failure

    static la_ssize_t read_cb(archive*, void* ctx, const void** out) {
        auto* self = static_cast<Reader*>(ctx);
        // The view stays valid until the next call, as libarchive requires.
        auto b = self->src.next_block({self->buf.get(), kBlock});
        if (!b) {
            self->src_error = std::move(b).error();
            return -1;
        }
        *out = b->data();
        return static_cast<la_ssize_t>(b->size());
    }
    Error error(std::string_view what) {
        if (src_error) return Error(*src_error).context(what);
        const char* msg = archive_error_string(a.get());
        return make_error(EBADMSG, "{}: {}", what, msg ? msg : "tar format error");
    }
};

Result<LayerStats> LayerApplier::apply(ByteSource& tar, std::vector<LayerEntry>* record) {
    Reader r{tar, std::unique_ptr<archive, ArchiveFree>(archive_read_new()), nullptr, std::unique_ptr<std::byte[]>(new std::byte[kBlock]), std::nullopt};
    archive_read_support_format_tar(r.a.get());
    archive_read_support_filter_none(r.a.get());
    if (archive_read_open(r.a.get(), &r, nullptr, &Reader::read_cb, nullptr) != ARCHIVE_OK)
        return r.error("opening layer tar");
    added_.clear();
    LayerStats stats;
    while (true) {
        int rc = archive_read_next_header(r.a.get(), &r.entry);
        if (rc == ARCHIVE_EOF) break;
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return r.error("reading layer tar");
        auto e = read_entry(r, stats);
        if (!e) return std::move(e).error();
        IMGCTL_TRY(apply_entry(*e, stats));
        if (record) record->push_back(std::move(*e));
    }
    // Objects may still be committing; the layer is only done (and recordable) when they are.
    IMGCTL_TRY(sink_.flush());
    return stats;
}

Result<LayerStats> LayerApplier::apply_entries(const std::vector<LayerEntry>& entries) {
    added_.clear();
    LayerStats stats;
    for (const auto& e : entries) {
        if (e.node && e.node->is_reg()) {
            if (e.node->fsverity()) {
                ++stats.objects;
                stats.object_bytes += e.node->size;
            } else if (e.node->content()) {
                ++stats.inline_files;
            }
        }
        // Each application gets its own inode: the tree may change it (directory children).
        LayerEntry copy{e.name, e.path, e.hardlink, e.node ? make_inode(*e.node) : nullptr};
        IMGCTL_TRY(apply_entry(copy, stats));
    }
    return stats;
}

Result<void> LayerApplier::check_parents(const std::string& path) {
    // Walk the existing parents: a symlink or non-directory on the way would make the entry land
    // somewhere else on a real file system, so it is refused rather than silently followed.
    size_t pos = 0;
    Inode* cur = tree_.root().get();
    while (true) {
        size_t slash = path.find('/', pos);
        if (slash == std::string::npos) return {};
        auto it = cur->children().find(std::string_view(path).substr(pos, slash - pos));
        if (it == cur->children().end()) return {};  // missing parents get created
        if (it->second->is_symlink())
            return make_error(ENOTDIR, "layer entry '{}' would pass through the symlink '{}'", path,
                              path.substr(0, slash));
        if (!it->second->is_dir())
            return make_error(ENOTDIR, "layer entry '{}' has the non-directory '{}' as a parent", path,
                              path.substr(0, slash));
        cur = it->second.get();
        pos = slash + 1;
    }
}

Result<void> LayerApplier::place(const std::string& path, InodePtr inode) {
    IMGCTL_TRY(check_parents(path));
    IMGCTL_TRY(tree_.mkdir_parents(path));
    auto old = tree_.lookup(path);
    if (old && old->is_dir() && inode->is_dir()) {
        // A directory entry over an existing directory updates its metadata and keeps its
        // children (the lower layer's contents stay visible, as overlayfs merges them).
        inode->children() = std::move(old->children());
    }
    added_.insert(path);
    auto r = tree_.insert(path, std::move(inode));
    if (!r) return std::move(r).error().context(fmt::format("layer entry '{}'", path));
    return {};
}

Result<void> LayerApplier::whiteout(std::string_view dir, std::string_view name, LayerStats& stats) {
    ++stats.whiteouts;
    std::string dir_s(dir);
    if (name == kOpaque) {
        auto d = dir.empty() ? tree_.root() : tree_.lookup(dir);
        if (!d || !d->is_dir()) return {};  // nothing below to hide
        std::string prefix = dir.empty() ? "" : dir_s + "/";
        d->children().erase_if([&](const composefs::ChildEntry& e) { return !added_.count(prefix + e.first); });
        return {};
    }
    std::string_view target = name.substr(kWhiteoutPrefix.size());
    if (target.empty() || target == "." || target == "..")
        return make_error(EINVAL, "invalid whiteout '{}' in '{}'", name, dir);
    std::string path = dir.empty() ? std::string(target) : dir_s + "/" + std::string(target);
    IMGCTL_TRY(check_parents(path));
    if (added_.count(path)) return {};  // a whiteout hides lower layers only
    return tree_.remove(path);
}

Result<void> LayerApplier::apply_entry(const LayerEntry& e, LayerStats& stats) {
    ++stats.entries;
    const std::string& path = e.path;
    std::string_view base = base_of(path);
    if (base.starts_with(kWhiteoutPrefix)) {
        auto w = whiteout(parent_of(path), base, stats);
        if (!w) return std::move(w).error().context(fmt::format("layer entry '{}'", e.name));
        return {};
    }
    if (e.hardlink) {
        auto node = tree_.lookup(*e.hardlink);
        if (!node) return make_error(ENOENT, "hardlink '{}' points to missing '{}'", e.name, *e.hardlink);
        if (node->is_dir()) return make_error(EINVAL, "hardlink '{}' points to the directory '{}'", e.name, *e.hardlink);
        if (path.empty()) return make_error(EINVAL, "hardlink '{}' replaces the root", e.name);
        return place(path, node);
    }
    if (!e.node) return make_error(EINVAL, "layer entry '{}' has no file data", e.name);
    if (path.empty()) {
        if (!e.node->is_dir()) return make_error(EINVAL, "layer entry '{}' replaces the root with a non-directory", e.name);
        e.node->children() = std::move(tree_.root()->children());
        tree_.root() = e.node;
        return {};
    }
    return place(path, e.node);
}

Result<LayerEntry> LayerApplier::read_entry(Reader& r, LayerStats& stats) {
    archive_entry* e = r.entry;
    const char* raw_name = archive_entry_pathname(e);
    if (!raw_name) return make_error(EBADMSG, "layer entry without a name");
    auto norm = normalize_entry_name(raw_name);
    if (!norm) return std::move(norm).error();
    LayerEntry out{raw_name, std::move(*norm), std::nullopt, nullptr};
    auto err_ctx = [&](Error er) { return std::move(er).context(fmt::format("layer entry '{}'", raw_name)); };
    if (base_of(out.path).starts_with(kWhiteoutPrefix)) return out;
    if (const char* hl = archive_entry_hardlink(e)) {
        auto target = normalize_entry_name(hl);
        if (!target) return err_ctx(std::move(target).error());
        out.hardlink = std::move(*target);
        return out;
    }

    uint32_t mode = archive_entry_mode(e);
    auto node = Inode::make(mode);
    node->uid = static_cast<uint32_t>(archive_entry_uid(e));
    node->gid = static_cast<uint32_t>(archive_entry_gid(e));
    node->mtime_sec = archive_entry_mtime(e);
    node->mtime_nsec = static_cast<uint32_t>(archive_entry_mtime_nsec(e));
    archive_entry_xattr_reset(e);
    const char* xname;
    const void* xval;
    size_t xsize;
    while (archive_entry_xattr_next(e, &xname, &xval, &xsize) == ARCHIVE_OK) {
        // libarchive reports an xattr twice when a PAX header carries both the SCHILY.xattr.
        // and LIBARCHIVE.xattr. forms; the last one wins.
        std::string value(static_cast<const char*>(xval), xsize);
        auto same = std::find_if(node->xattrs.begin(), node->xattrs.end(), [&](auto& x) { return x.name == xname; });
        if (same != node->xattrs.end()) {
            same->value = std::move(value);
        } else {
            node->xattrs.push_back({xname, std::move(value)});
        }
    }

    switch (mode & S_IFMT) {
        case S_IFDIR:
            break;
        case S_IFLNK: {
            const char* t = archive_entry_symlink(e);
            node->set_symlink_target(t ? t : "");
            if (node->symlink_target().empty()) return make_error(EINVAL, "symlink '{}' has an empty target", raw_name);
            node->size = node->symlink_target().size();
            break;
        }
        case S_IFCHR:
        case S_IFBLK:
            node->rdev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
            break;
        case S_IFIFO:
        case S_IFSOCK:
            break;
        case S_IFREG: {
            auto st = read_content(r, node, stats);
            if (!st) return err_ctx(std::move(st).error());
            break;
        }
        default:
            return make_error(EINVAL, "layer entry '{}' has an unsupported file type {:o}", raw_name, mode & S_IFMT);
    }
    out.node = std::move(node);
    return out;
}

Result<void> LayerApplier::read_content(Reader& r, const InodePtr& nodep, LayerStats& stats) {
    Inode& node = *nodep;
    int64_t size = archive_entry_size(r.entry);
    if (size < 0) return make_error(EBADMSG, "negative size");
    node.size = static_cast<uint64_t>(size);
    if (size == 0) return {};
    std::unique_ptr<ObjectSink::Writer> w;
    std::string small;
    if (node.size <= kInlineMax) {
        ++stats.inline_files;
    } else {
        auto wr = sink_.begin(node.size);
        if (!wr) return std::move(wr).error();
        w = std::move(*wr);
    }
    // archive_read_data_block() reports sparse-file holes as offset jumps: fill them with zeros.
    static const std::byte kZeros[4096] = {};
    uint64_t written = 0;
    auto emit = [&](const std::byte* p, size_t n) -> Result<void> {
        if (written + n > node.size) return make_error(EBADMSG, "more data than the entry's size");
        written += n;
        if (!w) {
            small.append(reinterpret_cast<const char*>(p), n);
            return {};
        }
        return w->write({p, n});
    };
    while (true) {
        const void* buf;
        size_t len;
        la_int64_t off;
        int rc = archive_read_data_block(r.a.get(), &buf, &len, &off);
        if (rc == ARCHIVE_EOF) break;
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return r.error("reading file data");
        while (written < static_cast<uint64_t>(off)) {
            size_t z = std::min<uint64_t>(sizeof kZeros, static_cast<uint64_t>(off) - written);
            IMGCTL_TRY(emit(kZeros, z));
        }
        IMGCTL_TRY(emit(static_cast<const std::byte*>(buf), len));
    }
    while (written < node.size) {
        size_t z = std::min<uint64_t>(sizeof kZeros, node.size - written);
        IMGCTL_TRY(emit(kZeros, z));
    }
    if (!w) {
        node.set_content(std::move(small));
        return {};
    }
    IMGCTL_TRY(sink_.finish(std::move(w), nodep));
    ++stats.objects;
    stats.object_bytes += node.size;
    return {};
}

void LayerApplier::finalize() {
    std::unordered_map<Inode*, uint32_t> names;
    std::vector<Inode*> stack{tree_.root().get()};
    while (!stack.empty()) {
        Inode* d = stack.back();
        stack.pop_back();
        for (auto& [n, child] : d->children()) {
            if (child->is_dir()) {
                stack.push_back(child.get());
            } else {
                ++names[child.get()];
            }
        }
    }
    for (auto& [inode, count] : names) inode->nlink = count;
}

}  // namespace imgctl::oci
