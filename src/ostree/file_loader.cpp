#include "ostree/file_loader.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <gio/gfiledescriptorbased.h>
#include <gio/gio.h>

#include "ostree/commit_reader.hpp"
#include "ostree/glib_support.hpp"

namespace imgctl::ostree {

std::vector<composefs::Xattr> parse_xattrs(GVariant* xattrs) {
    std::vector<composefs::Xattr> out;
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
        out.push_back(composefs::Xattr{name ? name : "", std::string(static_cast<const char*>(data), len)});
    }
    return out;
}

namespace {

// Reads from a GInputStream (an archive object's stream decompresses on the fly).
Result<size_t> read_stream(GInputStream* in, std::span<std::byte> buf) {
    GError* err = nullptr;
    gsize got = 0;
    if (!g_input_stream_read_all(in, buf.data(), buf.size(), &got, nullptr, &err))
        return gerror_to_error(err, "reading file content");
    return static_cast<size_t>(got);
}

Result<void> load_content(composefs::Inode& ino, GInputStream* in, ContentSink& sink) {
    if (ino.size == 0) return {};
    if (ino.size <= kMaxInlineSize) {
        std::string data(ino.size, '\0');
        auto got = read_stream(in, std::as_writable_bytes(std::span(data)));
        if (!got) return std::move(got).error();
        if (*got != ino.size) return make_error(EIO, "the object holds {} bytes, its header says {}", *got, ino.size);
        ino.set_content(std::move(data));
        return {};
    }
    // Objects of bare and bare-user repositories are plain files: hand over the descriptor so the
    // store can reflink; archive objects are zlib streams and are copied through.
    Result<crypto::Digest> d = G_IS_FILE_DESCRIPTOR_BASED(in)
        ? sink.put_fd(g_file_descriptor_based_get_fd(G_FILE_DESCRIPTOR_BASED(in)))
        : sink.put_stream(ino.size, [in](std::span<std::byte> buf) { return read_stream(in, buf); });
    if (!d) return std::move(d).error().context("storing its content");
    std::string hex = d->hex();
    ino.set_fsverity(*d);
    ino.set_payload(hex.substr(0, 2) + "/" + hex.substr(2));
    return {};
}

Result<void> load_one(OstreeRepo* repo, FileJob& job, ContentSink& sink) {
    GError* err = nullptr;
    GInputStream* in_raw = nullptr;
    GFileInfo* info_raw = nullptr;
    GVariant* xattrs_raw = nullptr;
    if (!ostree_repo_load_file(repo, job.checksum.c_str(), &in_raw, &info_raw, &xattrs_raw, nullptr, &err))
        return gerror_to_error(err, "loading its object");
    GObjectPtr<GInputStream> in(in_raw);
    GObjectPtr<GFileInfo> info(info_raw);
    GVariantPtr xattrs(xattrs_raw);
    composefs::Inode& ino = *job.inode;
    ino.mode = g_file_info_get_attribute_uint32(info.get(), "unix::mode");
    ino.uid = g_file_info_get_attribute_uint32(info.get(), "unix::uid");
    ino.gid = g_file_info_get_attribute_uint32(info.get(), "unix::gid");
    ino.xattrs = parse_xattrs(xattrs.get());
    if (ino.is_symlink()) {
        const char* target = g_file_info_get_symlink_target(info.get());
        if (!target || !*target) return make_error(EINVAL, "symlink with an empty target");
        ino.set_symlink_target(target);
        ino.size = ino.symlink_target().size();
        return {};
    }
    if (!ino.is_reg()) return make_error(EINVAL, "unsupported file type (mode 0{:o})", ino.mode);
    ino.size = static_cast<uint64_t>(g_file_info_get_size(info.get()));
    return load_content(ino, in.get(), sink);
}

}  // namespace

Result<void> load_file_objects(const Repo& repo, std::vector<FileJob>& jobs, ContentSink& sink, unsigned threads) {
    threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(jobs.size())));
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex mu;
    std::optional<Error> first_error;
    auto fail = [&](Error e) {
        std::lock_guard lock(mu);
        if (!first_error) first_error = std::move(e);
        failed = true;
    };
    auto worker = [&](OstreeRepo* handle) {
        for (size_t i; !failed && (i = next.fetch_add(1)) < jobs.size();) {
            auto r = load_one(handle, jobs[i], sink);
            if (!r) fail(std::move(r).error().context(fmt::format("file '{}' (object {})", jobs[i].first_path,
                                                                  jobs[i].checksum)));
        }
    };
    // Each extra worker opens its own OstreeRepo on the same directory, so no libostree object
    // is shared between threads.
    std::vector<GObjectPtr<OstreeRepo>> handles;
    for (unsigned t = 1; t < threads; ++t) {
        GError* err = nullptr;
        GObjectPtr<OstreeRepo> h(ostree_repo_open_at(AT_FDCWD, repo.impl().path.c_str(), nullptr, &err));
        if (!h) return gerror_to_error(err, fmt::format("opening '{}' again", repo.impl().path));
        handles.push_back(std::move(h));
    }
    std::vector<std::thread> pool;
    for (auto& h : handles) pool.emplace_back(worker, h.get());
    worker(repo.impl().repo.get());
    for (auto& t : pool) t.join();
    if (first_error) return std::move(*first_error);
    return {};
}

}  // namespace imgctl::ostree
