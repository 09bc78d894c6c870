#pragma once

#include <string_view>

#include "base/result.hpp"
#include "composefs/tree.hpp"

namespace imgctl::composefs {

/// How strictly composefs-dump(5) text is read (mkcomposefs's CFS_PARSE_STRICT).
struct DumpParseOptions {
    /// Strict parsing additionally requires: a newline after the last line, all 11 fixed
    /// fields on every line, MODE within 16 bits, RDEV 0 on everything but devices, and
    /// SIZE equal to the target length on symlinks. The default (lenient) mode accepts
    /// missing trailing fields (PAYLOAD, CONTENT, DIGEST read as "-") and keeps the low 16
    /// bits of MODE.
    bool strict = false;
};

/// Parses composefs-dump(5) text (FORMAT-NOTES §14, §16) into a Tree.
///
/// The first line must be the root directory "/"; parents come before their children.
/// Hardlink lines ('@' before MODE) become entries sharing the target's InodePtr (forward
/// references are allowed); the target's primary_path() is set to its own path. Regular files
/// get `content()` (CONTENT), `payload()` (PAYLOAD) and `fsverity()` (DIGEST); symlinks get
/// `symlink_target()` and size = its length; devices get `rdev`; directories and special files
/// get size 0. nlink is kept as given. xattrs keep their input order (a repeated name
/// replaces the earlier value).
///
/// Every problem (bad escape or number, unknown file type, empty/"."/".." name, name > 255
/// bytes, missing parent, empty or > 4095-byte symlink target, inline content > 5000 bytes or
/// not matching SIZE, xattr name empty or > 255, value > 65535, xattr part > 65535 bytes, the
/// per-inode xattr budget, hardlinks to directories, to themselves or to missing paths,
/// raw NUL bytes) gives an EINVAL (or ENAMETOOLONG/E2BIG) Error naming the line number.
/// Never crashes on any input. File sizes are not limited here; the EROFS writer refuses
/// files that need more than 1024 chunks (EFBIG).
Result<Tree> parse_dump(std::string_view text, const DumpParseOptions& options = {});

/// The same, reading the text from `fd` (a file or a pipe, from its current offset to EOF)
/// through a small window instead of holding the whole text. Read errors name "the dump";
/// callers add the file name.
Result<Tree> parse_dump_fd(int fd, const DumpParseOptions& options = {});

}  // namespace imgctl::composefs
