#include "composefs/store_glue.hpp"

#include <fcntl.h>

#include "base/hex.hpp"
#include "base/mapped_file.hpp"
#include "composefs/erofs_reader.hpp"

namespace imgctl::composefs {

Result<std::vector<store::ObjectUse>> list_image_objects(int image_fd) {
    int dup = ::fcntl(image_fd, F_DUPFD_CLOEXEC, 3);
    if (dup < 0) return errno_error(errno, "duplicating an image descriptor");
    auto map = MappedFile::from_fd(UniqueFd(dup), "image");
    if (!map) return std::move(map).error();
    auto files = list_external_files(map->data(), "image");
    if (!files) return std::move(files).error();
    std::vector<store::ObjectUse> out;
    out.reserve(files->size());
    for (auto& f : *files) {
        std::optional<crypto::Digest> d = f.fsverity;
        if (!d && f.payload.size() == 65 && f.payload[2] == '/' && is_lower_hex(f.payload.substr(0, 2), 2) &&
            is_lower_hex(f.payload.substr(3), 62))
            d = crypto::Digest::from_hex(f.payload.substr(0, 2) + f.payload.substr(3));
        if (!d || f.payload != store::Store::object_path(*d))
            return make_error(EINVAL, "'{}' is backed by '{}', which is not the store object of its digest", f.path,
                              f.payload);
        out.push_back({*d, std::move(f.path)});
    }
    return out;
}

store::ImageObjectsFn image_objects() { return [](int fd) { return list_image_objects(fd); }; }

}  // namespace imgctl::composefs
