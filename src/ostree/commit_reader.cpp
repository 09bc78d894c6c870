#include "ostree/commit_reader.hpp"

#include <sys/stat.h>

#include <string>
#include <unordered_map>

#include <gio/gfiledescriptorbased.h>
#include <gio/gio.h>

#include "base/log.hpp"
#include "ostree/glib_support.hpp"

namespace imgctl::ostree {

namespace {

using composefs::Inode;
using composefs::InodePtr;
using composefs::Xattr;

// OSTree's own recursion limit for dirtree depth (OSTREE_MAX_RECURSION) is 256.
constexpr int kMaxDepth = 256;
constexpr size_t kCopyChunk = 256 * 1024;

// Reads the "a(ayay)" xattr list of a dirmeta object or a file object.
std::vector<Xattr> parse_xattrs(GVariant* xattrs) {
    std::vector<Xattr> out;
    if (!xattrs) return out;
    const gsize n = g_variant_n_children(xattrs);
    out.reserve(n);
    for (gsize i = 0; i < n; ++i) {
        const char* name = nullptr;
        GVariant* value_raw = nullptr;
        g_variant_get_child(xattrs, i, "(^&ay@ay)", &name, &value_raw);
        GVariantPtr value(value_raw);
        gsize len = 0;
        const void* data = g_variant_get_fixed_array(value.get(), &len, 1);
        out.push_back(Xattr{name ? name : "", std::string(static_cast<const char*>(data), len)});
    }
    return out;
}

bool is_valid_name(std::string_view n) {
    return !n.empty() && n != "." && n != ".." && n.find('/') == std::string_view::npos && n.size() <= 255;
}

class Reader {
public:
    Reader(OstreeRepo* repo, ContentSink& sink) : repo_(repo), sink_(sink) {}

    Result<InodePtr> dir_meta(const std::string& csum);
    Result<void> fill_dir(Inode& dir, const std::string& tree_csum, const std::string& path, int depth);
    ReadStats stats;

private:
    Result<InodePtr> file(const std::string& csum, const std::string& path);
    Result<void> file_content(Inode& ino, GInputStream* in, const std::string& csum);

    OstreeRepo* repo_;
    ContentSink& sink_;
    // Regular files by OSTree checksum: one inode shared by every name (hardlinks).
    std::unordered_map<std::string, InodePtr> files_;
    // Parsed dirmeta objects by checksum (a few distinct ones serve a whole OS tree).
    std::unordered_map<std::string, Inode> metas_;
};

Result<InodePtr> Reader::dir_meta(const std::string& csum) {
    auto it = metas_.find(csum);
    if (it == metas_.end()) {
        GError* err = nullptr;
        GVariant* raw = nullptr;
        if (!ostree_repo_load_variant(repo_, OSTREE_OBJECT_TYPE_DIR_META, csum.c_str(), &raw, &err))
            return gerror_to_error(err, fmt::format("loading directory metadata {}", csum));
        GVariantPtr meta(raw);
        guint32 uid = 0, gid = 0, mode = 0;
        GVariant* xattrs_raw = nullptr;
        g_variant_get(meta.get(), "(uuu@a(ayay))", &uid, &gid, &mode, &xattrs_raw);
        GVariantPtr xattrs(xattrs_raw);
        Inode m;
        m.mode = GUINT32_FROM_BE(mode);
        m.uid = GUINT32_FROM_BE(uid);
        m.gid = GUINT32_FROM_BE(gid);
        m.xattrs = parse_xattrs(xattrs.get());
        if (!S_ISDIR(m.mode))
            return make_error(EINVAL, "directory metadata {} has a non-directory mode 0{:o}", csum, m.mode);
        it = metas_.emplace(csum, std::move(m)).first;
    }
    auto ino = Inode::make(it->second.mode);
    ino->uid = it->second.uid;
    ino->gid = it->second.gid;
    ino->xattrs = it->second.xattrs;
    return ino;
}

Result<void> Reader::fill_dir(Inode& dir, const std::string& tree_csum, const std::string& path, int depth) {
    if (depth > kMaxDepth) return make_error(ELOOP, "'{}' is nested deeper than {} directories", path, kMaxDepth);
    GError* err = nullptr;
    GVariant* raw = nullptr;
    if (!ostree_repo_load_variant(repo_, OSTREE_OBJECT_TYPE_DIR_TREE, tree_csum.c_str(), &raw, &err))
        return gerror_to_error(err, fmt::format("loading directory tree {} of '{}'", tree_csum, path));
    GVariantPtr tree(raw);
    GVariantPtr files(g_variant_get_child_value(tree.get(), 0));
    GVariantPtr dirs(g_variant_get_child_value(tree.get(), 1));
    ++stats.dirs;

    const gsize nfiles = g_variant_n_children(files.get());
    for (gsize i = 0; i < nfiles; ++i) {
        const char* name = nullptr;
        GVariant* csum_raw = nullptr;
        g_variant_get_child(files.get(), i, "(&s@ay)", &name, &csum_raw);
        GVariantPtr csum_v(csum_raw);
        std::string child_path = path + "/" + name;
        if (!is_valid_name(name)) return make_error(EINVAL, "commit has an invalid file name '{}'", child_path);
        auto csum = checksum_hex(csum_v.get(), fmt::format("checksum of '{}'", child_path));
        if (!csum) return std::move(csum).error();
        auto ino = file(*csum, child_path);
        if (!ino) return std::move(ino).error();
        dir.children.insert_or_assign(name, std::move(*ino));
    }

    const gsize ndirs = g_variant_n_children(dirs.get());
    for (gsize i = 0; i < ndirs; ++i) {
        const char* name = nullptr;
        GVariant* t_raw = nullptr;
        GVariant* m_raw = nullptr;
        g_variant_get_child(dirs.get(), i, "(&s@ay@ay)", &name, &t_raw, &m_raw);
        GVariantPtr t_v(t_raw), m_v(m_raw);
        std::string child_path = path + "/" + name;
        if (!is_valid_name(name)) return make_error(EINVAL, "commit has an invalid directory name '{}'", child_path);
        if (dir.children.count(name)) return make_error(EINVAL, "commit has '{}' twice", child_path);
        auto t = checksum_hex(t_v.get(), fmt::format("tree checksum of '{}'", child_path));
        if (!t) return std::move(t).error();
        auto m = checksum_hex(m_v.get(), fmt::format("metadata checksum of '{}'", child_path));
        if (!m) return std::move(m).error();
        auto sub = dir_meta(*m);
        if (!sub) return std::move(sub).error().context(fmt::format("directory '{}'", child_path));
        IMGCTL_TRY(fill_dir(**sub, *t, child_path, depth + 1));
        dir.children.emplace(name, std::move(*sub));
    }
    return {};
}

Result<InodePtr> Reader::file(const std::string& csum, const std::string& path) {
    if (auto it = files_.find(csum); it != files_.end()) {
        ++it->second->nlink;
        ++stats.files;
        return it->second;
    }
    GError* err = nullptr;
    GInputStream* in_raw = nullptr;
    GFileInfo* info_raw = nullptr;
    GVariant* xattrs_raw = nullptr;
    if (!ostree_repo_load_file(repo_, csum.c_str(), &in_raw, &info_raw, &xattrs_raw, nullptr, &err))
        return gerror_to_error(err, fmt::format("loading file object {} of '{}'", csum, path));
    GObjectPtr<GInputStream> in(in_raw);
    GObjectPtr<GFileInfo> info(info_raw);
    GVariantPtr xattrs(xattrs_raw);

    auto ino = Inode::make(g_file_info_get_attribute_uint32(info.get(), "unix::mode"));
    ino->uid = g_file_info_get_attribute_uint32(info.get(), "unix::uid");
    ino->gid = g_file_info_get_attribute_uint32(info.get(), "unix::gid");
    ino->xattrs = parse_xattrs(xattrs.get());
    if (ino->is_symlink()) {
        const char* target = g_file_info_get_symlink_target(info.get());
        if (!target || !*target) return make_error(EINVAL, "symlink '{}' has an empty target", path);
        ino->symlink_target = target;
        ino->size = ino->symlink_target.size();
        ++stats.symlinks;
        return ino;
    }
    if (!ino->is_reg())
        return make_error(EINVAL, "'{}' has an unsupported file type (mode 0{:o})", path, ino->mode);
    ino->size = static_cast<uint64_t>(g_file_info_get_size(info.get()));
    auto content = file_content(*ino, in.get(), csum);
    if (!content) return std::move(content).error().context(fmt::format("file '{}'", path));
    ++stats.files;
    ++stats.file_objects;
    files_.emplace(csum, ino);
    return ino;
}

// Reads from a GInputStream into `buf` (the stream of an archive repository's object
// decompresses on the fly).
Result<size_t> read_stream(GInputStream* in, std::span<std::byte> buf) {
    GError* err = nullptr;
    gsize got = 0;
    if (!g_input_stream_read_all(in, buf.data(), buf.size(), &got, nullptr, &err))
        return gerror_to_error(err, "reading file content");
    return static_cast<size_t>(got);
}

Result<void> Reader::file_content(Inode& ino, GInputStream* in, const std::string& csum) {
    if (ino.size == 0) return {};
    if (ino.size <= kMaxInlineSize) {
        std::string data(ino.size, '\0');
        auto got = read_stream(in, std::as_writable_bytes(std::span(data)));
        if (!got) return std::move(got).error();
        if (*got != ino.size)
            return make_error(EIO, "object {} holds {} bytes, its header says {}", csum, *got, ino.size);
        ino.content = std::move(data);
        return {};
    }
    Result<crypto::Digest> d = make_error(EIO, "unreached");
    // Objects of bare and bare-user repositories are plain files: hand over the descriptor so the
    // store can reflink; archive objects are zlib streams and are copied through.
    if (G_IS_FILE_DESCRIPTOR_BASED(in)) {
        d = sink_.put_fd(g_file_descriptor_based_get_fd(G_FILE_DESCRIPTOR_BASED(in)));
    } else {
        d = sink_.put_stream(ino.size, [in](std::span<std::byte> buf) { return read_stream(in, buf); });
    }
    if (!d) return std::move(d).error().context(fmt::format("storing object {}", csum));
    ino.payload = fmt::format("{:02x}/{}", d->bytes[0], d->hex().substr(2));
    ino.fsverity = *d;
    ++stats.external;
    stats.external_bytes += ino.size;
    return {};
}

// OSTree keeps the default /etc as /usr/etc; a deployment gets it back as /etc.
Result<void> map_usr_etc(composefs::Tree& tree) {
    InodePtr usr_etc = tree.lookup("usr/etc");
    if (!usr_etc) return {};
    if (!usr_etc->is_dir()) return make_error(EINVAL, "/usr/etc in the commit is not a directory");
    if (tree.lookup("etc")) return make_error(EEXIST, "the commit has both /etc and /usr/etc");
    IMGCTL_TRY(tree.remove("usr/etc"));
    return tree.insert("etc", std::move(usr_etc));
}

}  // namespace

Result<CommitTree> read_commit_tree(const Repo& repo, const CommitInfo& commit, ContentSink& sink,
                                    const ReadOptions& opts) {
    std::string what = fmt::format("reading commit {}", commit.checksum);
    Reader reader(repo.impl().repo.get(), sink);
    auto root = reader.dir_meta(commit.root_meta);
    if (!root) return std::move(root).error().context(what);
    auto filled = reader.fill_dir(**root, commit.root_tree, "", 0);
    if (!filled) return std::move(filled).error().context(what);
    CommitTree out{composefs::Tree(std::move(*root)), reader.stats};
    if (opts.map_usr_etc) {
        auto mapped = map_usr_etc(out.tree);
        if (!mapped) return std::move(mapped).error().context(what);
    }
    log_debug("ostree", "commit {}: {} dirs, {} files ({} objects, {} external, {} bytes), {} symlinks",
              commit.checksum, out.stats.dirs, out.stats.files, out.stats.file_objects, out.stats.external,
              out.stats.external_bytes, out.stats.symlinks);
    return out;
}

}  // namespace imgctl::ostree
