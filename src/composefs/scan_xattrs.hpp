#pragma once
// The xattr reading of the directory scan (dir_scanner.cpp), kept apart so the scanner stays
// one screenful of walking and hashing.

#include <functional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "composefs/tree.hpp"

namespace imgctl::composefs {

enum class XattrMode;

/// Where an entry's xattrs are read: its open descriptor, or (symlinks, devices, fifos: not
/// opened) its name in an open directory through /proc/self/fd, which needs no full path.
struct XattrTarget {
    int fd = -1;
    std::string proc_path;
};

/// The xattrs of `target` that `mode` keeps, checked against the limits of FORMAT-NOTES §13
/// (ERANGE for a name or value too long, E2BIG over the budget). A file system without xattrs
/// gives none. `path()` names the entry in messages and is only called for an error.
Result<std::vector<Xattr>> read_xattrs(const XattrTarget& target, XattrMode mode,
                                       const std::function<std::string()>& path);

}  // namespace imgctl::composefs
