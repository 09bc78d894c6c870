#include "ostree/commit_reader.hpp"

#include <sys/stat.h>

#include <string>
#include <thread>
#include <unordered_map>

#include "base/log.hpp"
#include "ostree/file_loader.hpp"
#include "ostree/glib_support.hpp"

namespace imgctl::ostree {

namespace {

using composefs::Inode;
using composefs::InodePtr;

// OSTree's own recursion limit for dirtree depth (OSTREE_MAX_RECURSION) is 256.
constexpr int kMaxDepth = 256;

bool is_valid_name(std::string_view n) {
    return !n.empty() && n != "." && n != ".." && n.find('/') == std::string_view::npos && n.size() <= 255;
}

// Phase 1: walks the dirtree/dirmeta objects (small GVariants) and builds the directories; every
// file name gets the one placeholder inode of its OSTree checksum, filled later by
// load_file_objects() on several threads.
class Walker {
public:
    explicit Walker(OstreeRepo* repo) : repo_(repo) {}

    Result<InodePtr> dir_meta(const std::string& csum);
    Result<void> fill_dir(Inode& dir, const std::string& tree_csum, const std::string& path, int depth);

    std::vector<FileJob> jobs;
    uint64_t dirs = 0;

private:
    Result<void> add_file(Inode& dir, const char* name, const std::string& csum, const std::string& path);

    OstreeRepo* repo_;
    std::unordered_map<std::string, size_t> job_of_;  // checksum -> index in jobs
    // Parsed dirmeta objects by checksum (a few distinct ones serve a whole OS tree).
    std::unordered_map<std::string, Inode> metas_;
};

Result<InodePtr> Walker::dir_meta(const std::string& csum) {
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

Result<void> Walker::add_file(Inode& dir, const char* name, const std::string& csum, const std::string& path) {
    auto [it, is_new] = job_of_.emplace(csum, jobs.size());
    if (is_new) jobs.push_back(FileJob{csum, path, composefs::make_inode(), {}});
    FileJob& job = jobs[it->second];
    job.names.emplace_back(&dir, name);
    dir.children().insert_or_assign(name, job.inode);
    return {};
}

Result<void> Walker::fill_dir(Inode& dir, const std::string& tree_csum, const std::string& path, int depth) {
    if (depth > kMaxDepth) return make_error(ELOOP, "'{}' is nested deeper than {} directories", path, kMaxDepth);
    GError* err = nullptr;
    GVariant* raw = nullptr;
    if (!ostree_repo_load_variant(repo_, OSTREE_OBJECT_TYPE_DIR_TREE, tree_csum.c_str(), &raw, &err))
        return gerror_to_error(err, fmt::format("loading directory tree {} of '{}/'", tree_csum, path));
    GVariantPtr tree(raw);
    GVariantPtr files(g_variant_get_child_value(tree.get(), 0));
    GVariantPtr subdirs(g_variant_get_child_value(tree.get(), 1));
    ++dirs;

    const gsize nfiles = g_variant_n_children(files.get());
    for (gsize i = 0; i < nfiles; ++i) {
        const char* name = nullptr;
        GVariant* csum_raw = nullptr;
        g_variant_get_child(files.get(), i, "(&s@ay)", &name, &csum_raw);
        GVariantPtr csum_v(csum_raw);
        std::string child_path = path + "/" + name;
        if (!is_valid_name(name)) return make_error(EINVAL, "commit has an invalid file name '{}'", child_path);
        if (dir.children().count(name)) return make_error(EINVAL, "commit has '{}' twice", child_path);
        auto csum = checksum_hex(csum_v.get(), fmt::format("checksum of '{}'", child_path));
        if (!csum) return std::move(csum).error();
        IMGCTL_TRY(add_file(dir, name, *csum, child_path));
    }

    const gsize ndirs = g_variant_n_children(subdirs.get());
    for (gsize i = 0; i < ndirs; ++i) {
        const char* name = nullptr;
        GVariant* t_raw = nullptr;
        GVariant* m_raw = nullptr;
        g_variant_get_child(subdirs.get(), i, "(&s@ay@ay)", &name, &t_raw, &m_raw);
        GVariantPtr t_v(t_raw), m_v(m_raw);
        std::string child_path = path + "/" + name;
        if (!is_valid_name(name)) return make_error(EINVAL, "commit has an invalid directory name '{}'", child_path);
        if (dir.children().count(name)) return make_error(EINVAL, "commit has '{}' twice", child_path);
        auto t = checksum_hex(t_v.get(), fmt::format("tree checksum of '{}'", child_path));
        if (!t) return std::move(t).error();
        auto m = checksum_hex(m_v.get(), fmt::format("metadata checksum of '{}'", child_path));
        if (!m) return std::move(m).error();
        auto sub = dir_meta(*m);
        if (!sub) return std::move(sub).error().context(fmt::format("directory '{}'", child_path));
        IMGCTL_TRY(fill_dir(**sub, *t, child_path, depth + 1));
        dir.children().emplace(name, std::move(*sub));
    }
    return {};
}

// Phase 3: regular files keep one inode for all their names (nlink = names); symlinks get an
// inode per name (docs/ostree.md, "Hardlinks"). Counts what the tree holds.
ReadStats finish_links(std::vector<FileJob>& jobs, uint64_t dirs) {
    ReadStats st;
    st.dirs = dirs;
    for (auto& job : jobs) {
        if (job.inode->is_symlink()) {
            for (size_t i = 1; i < job.names.size(); ++i) {
                auto& [parent, name] = job.names[i];
                parent->children().insert_or_assign(name, composefs::make_inode(*job.inode));
            }
            st.symlinks += job.names.size();
            continue;
        }
        job.inode->nlink = static_cast<uint32_t>(job.names.size());
        st.files += job.names.size();
        ++st.file_objects;
        if (job.inode->fsverity()) {
            ++st.external;
            st.external_bytes += job.inode->size;
        }
    }
    return st;
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

unsigned default_threads() {
    // Storing an object is I/O-bound (one fsync each): a few workers per CPU keep the disk busy.
    unsigned n = std::thread::hardware_concurrency();
    return std::clamp(n == 0 ? 4u : 2 * n, 2u, 16u);
}

}  // namespace

Result<CommitTree> read_commit_tree(const Repo& repo, const CommitInfo& commit, ContentSink& sink,
                                    const ReadOptions& opts) {
    std::string what = fmt::format("reading commit {}", commit.checksum);
    Walker walker(repo.impl().repo.get());
    auto root = walker.dir_meta(commit.root_meta);
    if (!root) return std::move(root).error().context(what);
    auto filled = walker.fill_dir(**root, commit.root_tree, "", 0);
    if (!filled) return std::move(filled).error().context(what);
    auto loaded = load_file_objects(repo, walker.jobs, sink, opts.threads ? opts.threads : default_threads());
    if (!loaded) return std::move(loaded).error().context(what);

    CommitTree out{composefs::Tree(std::move(*root)), finish_links(walker.jobs, walker.dirs)};
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
