#include "base/temp_dir.hpp"

#include <fcntl.h>
#include <stdlib.h>

#include <vector>

#include "base/file_util.hpp"

namespace imgctl {

Result<TempDir> TempDir::create(const std::string& prefix, const std::string& parent) {
    std::string dir = parent;
    if (dir.empty()) {
        const char* t = ::getenv("TMPDIR");
        dir = (t && *t) ? t : "/tmp";
    }
    std::string templ = dir + "/" + prefix + "XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) return errno_error(errno, fmt::format("creating a directory in '{}'", dir));
    return TempDir(std::string(buf.data()));
}

TempDir& TempDir::operator=(TempDir&& o) noexcept {
    if (this != &o) {
        if (!path_.empty()) (void)remove_tree_at(AT_FDCWD, path_);
        path_ = std::exchange(o.path_, {});
    }
    return *this;
}

TempDir::~TempDir() {
    if (!path_.empty()) (void)remove_tree_at(AT_FDCWD, path_);  // best effort in a destructor
}

}  // namespace imgctl
