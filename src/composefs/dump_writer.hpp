#pragma once

#include <string>

#include "composefs/tree.hpp"

namespace imgctl::composefs {

/// Writes `tree` as composefs-dump(5) text, in the format `composefs-info dump` prints
/// (FORMAT-NOTES §14): depth-first pre-order with sorted children, the root "/" first.
///
/// It prints the tree as the image would carry it, so for a tree read back from an image it
/// gives what composefs-info prints for that image:
/// - SIZE: regular file size, symlink target length, the EROFS directory size
///   (erofs_dir_size(), the whiteout stubs of the root included), 0 for everything else;
/// - NLINK: directories 2 + subdirectories; everything else as stored;
/// - RDEV only on devices; PAYLOAD/DIGEST only on external regular files (size > 0, no
///   content); CONTENT only on inline files; symlinks print their target as PAYLOAD;
/// - xattrs in the order of Inode::xattrs (a reader should keep the image's order: shared
///   refs first, then inline ones), names and values escaped with '=' as \x3d.
/// The tree must be user-level (what the parser produces): no composefs-internal xattrs
/// (metacopy, redirect, the root's opaque, whiteout markers), escaped overlay names already
/// restored, whiteouts as chardev 0:0 and no 00..ff stubs.
/// An inode with several names is printed in full once, under its owner (Inode::primary_path()
/// when that still names it, otherwise the first name met), and as '@' lines (the owner's
/// fields, PAYLOAD = owner's path, CONTENT and DIGEST "-") under its other names.
std::string write_dump(const Tree& tree);

}  // namespace imgctl::composefs
