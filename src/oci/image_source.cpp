#include "oci/image_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "base/file_util.hpp"
#include "base/hex.hpp"
#include "crypto/sha256.hpp"

namespace imgctl::oci {

namespace {

constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";

class LayoutSource : public ImageSource {
public:
    LayoutSource(UniqueFd dir, std::string name, std::string tag, std::optional<TempDir> owned)
        : dir_(std::move(dir)), name_(std::move(name)), tag_(std::move(tag)), owned_(std::move(owned)) {}

    Result<FetchedManifest> root_manifest() override {
        auto text = read_file_at(dir_.get(), "index.json");
        if (!text) return std::move(text).error().context(fmt::format("OCI layout '{}'", name_));
        auto idx = parse_index(*text);
        if (!idx) return std::move(idx).error().context(fmt::format("OCI layout '{}': index.json", name_));
        const Descriptor* pick = nullptr;
        std::string tags;
        for (const auto& d : idx->manifests) {
            auto it = d.annotations.find(std::string(kRefNameAnnotation));
            std::string t = it == d.annotations.end() ? "" : it->second;
            if (!t.empty()) tags += (tags.empty() ? "" : ", ") + t;
            if (!tag_.empty() && t == tag_) pick = &d;
        }
        if (tag_.empty() && idx->manifests.size() == 1) pick = &idx->manifests[0];
        if (!pick) {
            if (tag_.empty())
                return make_error(ENOENT, "OCI layout '{}' holds {} images: name one with ':TAG' (tags: {})", name_,
                                  idx->manifests.size(), tags.empty() ? "none" : tags);
            return make_error(ENOENT, "OCI layout '{}' has no image tagged '{}' (tags: {})", name_, tag_,
                              tags.empty() ? "none" : tags);
        }
        return manifest(*pick);
    }

    Result<FetchedManifest> manifest(const Descriptor& d) override {
        auto body = blob(d);
        if (!body) return std::move(body).error();
        return FetchedManifest{std::move(*body), d.media_type, d.digest};
    }

    Result<std::string> blob(const Descriptor& d) override {
        auto fd = open_blob(d);
        if (!fd) return std::move(fd).error();
        struct stat st {};
        if (::fstat(fd->get(), &st) < 0) return errno_error(errno, fmt::format("inspecting blob {}", d.digest));
        if (st.st_size != d.size)
            return make_error(EBADMSG, "OCI layout '{}': blob {} has {} bytes, its descriptor says {}", name_, d.digest,
                              st.st_size, d.size);
        if (d.size > (64 << 20)) return make_error(EFBIG, "blob {} is too large to read into memory", d.digest);
        auto data = read_all(fd->get());
        if (!data) return std::move(data).error().context(fmt::format("reading blob {}", d.digest));
        if (static_cast<int64_t>(data->size()) != d.size || sha256_digest_of(*data) != d.digest)
            return make_error(EBADMSG, "OCI layout '{}': blob {} does not match its digest or size", name_, d.digest);
        return std::move(*data);
    }

    Result<UniqueFd> open_layer(const Descriptor& d, const std::function<void(int64_t)>&) override { return open_blob(d); }
    bool verifies_layers() const override { return false; }
    bool is_remote() const override { return false; }

private:
    Result<UniqueFd> open_blob(const Descriptor& d) {
        std::string path = "blobs/sha256/" + d.digest.substr(7);  // digest validated by the parser
        auto fd = open_at(dir_.get(), path, O_RDONLY);
        if (!fd) return std::move(fd).error().context(fmt::format("OCI layout '{}': blob {}", name_, d.digest));
        return fd;
    }
    UniqueFd dir_;
    std::string name_;
    std::string tag_;
    std::optional<TempDir> owned_;  // the extracted archive, removed with the source
};

class RegistrySource : public ImageSource {
public:
    RegistrySource(const Reference& ref, RegistryOptions opts, int tmp_fd)
        : ref_(ref), client_(ref.api_host(), ref.repository, std::move(opts)), tmp_fd_(tmp_fd) {}

    Result<FetchedManifest> root_manifest() override {
        return client_.get_manifest(ref_.digest.empty() ? ref_.tag : ref_.digest);
    }
    Result<FetchedManifest> manifest(const Descriptor& d) override { return client_.get_manifest(d.digest); }
    Result<std::string> blob(const Descriptor& d) override { return client_.get_blob(d); }
    Result<UniqueFd> open_layer(const Descriptor& d, const std::function<void(int64_t)>& progress) override {
        int fd = ::openat(tmp_fd_, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) return errno_error(errno, "creating a download file in the store's tmp/");
        UniqueFd file(fd);
        IMGCTL_TRY(download_layer(d, file.get(), progress));
        if (::lseek(file.get(), 0, SEEK_SET) < 0) return errno_error(errno, "rewinding a download");
        return file;
    }
    Result<void> download_layer(const Descriptor& d, int fd, const std::function<void(int64_t)>& progress) override {
        return client_.download_blob(d, fd, progress);
    }
    bool verifies_layers() const override { return true; }
    bool is_remote() const override { return true; }

private:
    Reference ref_;
    RegistryClient client_;
    int tmp_fd_;
};

struct ArchiveFree {
    void operator()(archive* a) const { archive_read_free(a); }
};

Result<void> extract_member(archive* a, archive_entry* e, int dir_fd, const std::string& file) {
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    while (name.starts_with("./")) name.erase(0, 2);
    auto type = archive_entry_filetype(e);
    if (type == AE_IFDIR) {
        if (name == "blobs/" || name == "blobs/sha256/" || name == "blobs" || name == "blobs/sha256" || name.empty())
            return {};
        return make_error(EINVAL, "OCI archive '{}': unexpected directory '{}'", file, name);
    }
    bool ok = name == "index.json" || name == "oci-layout" ||
              (name.starts_with("blobs/sha256/") && is_lower_hex(std::string_view(name).substr(13), 64));
    if (!ok || type != AE_IFREG)
        return make_error(EINVAL, "OCI archive '{}': unexpected member '{}' (an OCI layout holds only index.json, "
                                  "oci-layout and blobs/sha256/<digest>)", file, name);
    auto fd = open_at(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (!fd) return std::move(fd).error().context(fmt::format("OCI archive '{}'", file));
    const void* buf;
    size_t len;
    la_int64_t off;
    int rc;
    while ((rc = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
        IMGCTL_TRY(pwrite_all(fd->get(), {static_cast<const std::byte*>(buf), len}, static_cast<off_t>(off)));
    if (rc != ARCHIVE_EOF)
        return make_error(EBADMSG, "OCI archive '{}': reading '{}': {}", file, name, archive_error_string(a));
    return {};
}

}  // namespace

Result<std::unique_ptr<ImageSource>> open_layout(const std::string& dir, const std::string& tag) {
    auto fd = open_at(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY);
    if (!fd) return std::move(fd).error().context("opening OCI layout");
    auto layout = read_file_at(fd->get(), "oci-layout");
    if (!layout) return std::move(layout).error().context(fmt::format("'{}' is not an OCI layout", dir));
    return std::unique_ptr<ImageSource>(new LayoutSource(std::move(*fd), dir, tag, std::nullopt));
}

Result<std::unique_ptr<ImageSource>> open_archive(const std::string& file, const std::string& tag,
                                                  const std::string& tmp_parent) {
    auto tmp = TempDir::create("oci-archive-", tmp_parent);
    if (!tmp) return std::move(tmp).error();
    auto dir = open_at(AT_FDCWD, tmp->path(), O_RDONLY | O_DIRECTORY);
    if (!dir) return std::move(dir).error();
    IMGCTL_TRY(mkdir_p_at(dir->get(), "blobs/sha256", 0700));
    std::unique_ptr<archive, ArchiveFree> a(archive_read_new());
    archive_read_support_format_tar(a.get());
    archive_read_support_filter_all(a.get());
    if (archive_read_open_filename(a.get(), file.c_str(), 256 * 1024) != ARCHIVE_OK)
        return make_error(ENOENT, "opening OCI archive '{}': {}", file, archive_error_string(a.get()));
    archive_entry* e;
    int rc;
    while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN)
        IMGCTL_TRY(extract_member(a.get(), e, dir->get(), file));
    if (rc != ARCHIVE_EOF) return make_error(EBADMSG, "reading OCI archive '{}': {}", file, archive_error_string(a.get()));
    if (!read_file_at(dir->get(), "oci-layout")) return make_error(EINVAL, "'{}' is not an OCI archive (no oci-layout)", file);
    return std::unique_ptr<ImageSource>(new LayoutSource(std::move(*dir), file, tag, std::move(*tmp)));
}

std::unique_ptr<ImageSource> open_registry(const Reference& ref, RegistryOptions opts, int tmp_dir_fd) {
    return std::make_unique<RegistrySource>(ref, std::move(opts), tmp_dir_fd);
}

}  // namespace imgctl::oci
