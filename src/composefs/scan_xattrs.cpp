#include "composefs/scan_xattrs.hpp"

#include <sys/xattr.h>

#include <algorithm>

#include "composefs/dir_scanner.hpp"
#include "composefs/limits.hpp"

namespace imgctl::composefs {

namespace {

// Calls `get(buf, size)` (flistxattr/fgetxattr shaped) with a growing buffer: most entries
// have few or no xattrs, so one call with a small buffer usually suffices. `what()` names the
// operation, and is only called for an error.
template <typename F, typename W>
Result<std::string> read_sized(F get, W what) {
    char small[256];
    ssize_t n = get(small, sizeof small);
    if (n >= 0) return std::string(small, static_cast<size_t>(n));
    std::string buf;
    for (;;) {
        if (errno != ERANGE) return errno_error(errno, what());
        n = get(nullptr, 0);
        if (n < 0) return errno_error(errno, what());
        buf.resize(std::max<size_t>(static_cast<size_t>(n), buf.size() * 2 + sizeof small));
        n = get(buf.data(), buf.size());
        if (n >= 0) {
            buf.resize(static_cast<size_t>(n));
            return buf;
        }
    }
}

ssize_t list_at(const XattrTarget& t, char* b, size_t n) {
    return t.fd >= 0 ? ::flistxattr(t.fd, b, n) : ::llistxattr(t.proc_path.c_str(), b, n);
}

ssize_t get_at(const XattrTarget& t, const char* name, char* b, size_t n) {
    return t.fd >= 0 ? ::fgetxattr(t.fd, name, b, n) : ::lgetxattr(t.proc_path.c_str(), name, b, n);
}

}  // namespace

Result<std::vector<Xattr>> read_xattrs(const XattrTarget& target, XattrMode mode,
                                       const std::function<std::string()>& path) {
    std::vector<Xattr> out;
    if (mode == XattrMode::None) return out;
    auto names = read_sized([&](char* b, size_t n) { return list_at(target, b, n); },
                            [&] { return fmt::format("listing xattrs of '{}'", path()); });
    if (!names) {
        if (names.error().code == ENOTSUP) return out;
        return std::move(names).error();
    }
    for (size_t pos = 0; pos < names->size();) {
        std::string name(names->c_str() + pos);
        pos += name.size() + 1;
        if (name.empty()) continue;
        if (mode == XattrMode::User && !name.starts_with("user.")) continue;
        auto value = read_sized([&](char* b, size_t n) { return get_at(target, name.c_str(), b, n); },
                                [&] { return fmt::format("reading xattr '{}' of '{}'", name, path()); });
        if (!value) return std::move(value).error();
        if (name.size() > kMaxXattrNameLen || value->size() > kMaxXattrValueLen)
            return make_error(ERANGE, "xattr '{}' of '{}' is too long", name, path());
        out.push_back(Xattr{std::move(name), std::move(*value)});
    }
    if (xattr_budget(out) > kMaxXattrBudget)
        return make_error(E2BIG, "xattrs of '{}' exceed {} bytes", path(), kMaxXattrBudget);
    return out;
}

}  // namespace imgctl::composefs
