#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "composefs/children.hpp"
#include "composefs/xattr_list.hpp"
#include "crypto/digest.hpp"

namespace imgctl::composefs {


/// One file-system object of the in-memory tree: the one thing every source (directory on
/// disk, dump file, OCI layers, OSTree commit, EROFS reader) produces and the EROFS writer
/// consumes. Hardlinks are several directory entries sharing one InodePtr.
///
/// Compact (a tree can have millions of inodes; 80 bytes plus what is set, from a pool): the fields every
/// inode has are members; the rare ones (symlink target, inline content, primary path) live
/// in one side allocation made only when one is set, a directory's entries in another, and the
/// fs-verity digest and payload in a third of exactly their size. A payload equal to
/// object_path(fsverity) ("ab/cdef…", the content-addressed layout every source uses) is not
/// stored: it is derived.
struct Inode final {  // final: Inode's operator new hands out blocks of exactly sizeof(Inode)
private:
    // Copies and assignments of an Inode start from / keep their own count.
    struct RefCount {
        std::atomic<uint32_t> n{0};
        RefCount() = default;
        RefCount(const RefCount&) {}
        RefCount& operator=(const RefCount&) { return *this; }
    };

public:
    uint32_t mode = 0;  ///< full st_mode: type and permission bits
    uint32_t nlink = 1; ///< regular files: as given (dump NLINK); directories: recomputed by the writer
    uint32_t uid = 0;
    uint32_t gid = 0;
    uint64_t rdev = 0;  ///< Linux dev_t for char/block devices
    int64_t mtime_sec = 0;
    uint64_t size = 0;  ///< regular files: st_size; symlinks: target length
    uint32_t mtime_nsec = 0;

private:
    RefCount refs_;  // here rather than last: no padding


public:
    XattrList xattrs;  ///< in any order; the writer sorts. Shared with other inodes, see XattrInterner

    Inode();
    Inode(const Inode& o);
    Inode& operator=(const Inode& o);
    Inode(Inode&&) noexcept;
    Inode& operator=(Inode&&) noexcept;
    ~Inode();

    /// S_IFLNK only: the target (empty when unset).
    const std::string& symlink_target() const;
    void set_symlink_target(std::string target);

    /// Inline content of a small regular file (nullopt: none, the file is external or empty).
    const std::optional<std::string>& content() const;
    void set_content(std::optional<std::string> content);

    /// Backing path relative to the object dir ("ab/cd…"; empty: none), for external files.
    std::string payload() const;
    void set_payload(std::string_view payload);

    /// The fs-verity digest of an external file (for trusted.overlay.metacopy), by value.
    /// Setting it keeps the payload as it was.
    std::optional<crypto::Digest> fsverity() const;
    void set_fsverity(std::optional<crypto::Digest> digest);

    /// For an inode reachable under several names (a hardlink): the absolute path of the name
    /// that owns it (a dump file's line without '@'). The EROFS writer places the inode at
    /// that name's breadth-first position and the dump writer prints that name in full and
    /// the others as '@' lines. Empty, or naming a path that is not this inode: the first
    /// name met in a depth-first walk with sorted children owns it (what an image reader
    /// reports). Ignored for inodes with one name.
    const std::string& primary_path() const;
    void set_primary_path(std::string path);

    /// Directory entries (S_IFDIR only), kept sorted by name (byte order), without "." and "..".
    /// The non-const form creates the (empty) Children on first use; the const form never
    /// allocates. Insertions and erases invalidate iterators and references to entries.
    Children& children();
    const Children& children() const;

    bool is_dir() const { return S_ISDIR(mode); }
    bool is_reg() const { return S_ISREG(mode); }
    bool is_symlink() const { return S_ISLNK(mode); }

    static InodePtr make(uint32_t mode);

    /// Inodes live in BlockPool::inodes() (no malloc header per inode).
    static void* operator new(size_t n);
    static void operator delete(void* p) noexcept;

    /// "ab/cdef…": where the content-addressed store keeps an object with digest `d`.
    static std::string object_path(const crypto::Digest& d);

private:
    friend class InodePtr;
    enum class Payload : uint8_t { None, FromDigest, Object, ObjectFile, Stored };
    struct Extra;
    Extra& extra();
    void drop_empty_extra();  // the side allocation goes when nothing in it is set
    void set_digest_and_payload(const std::optional<crypto::Digest>& digest, std::string_view payload);

    std::unique_ptr<Extra> extra_;
    std::unique_ptr<Children> children_;
    // The fs-verity digest and payload in one exact-size block (null when neither is set),
    // 16-byte aligned, its address in data_ with the payload's kind in bits 0-2 and whether
    // there is a digest in bit 3. The block holds the 32 digest bytes when there is one, then for Payload::Object (ObjectFile) the 32
    // bytes of the digest D of a payload object_path(D) (+ ".file", OSTree's form, as in
    // every payload of an OSTree-based dump), for Payload::Stored either [0][u32 size][bytes]
    // or, for the common "ab/<62 hex><suffix>" form, [1][32 digest bytes][u32 suffix size][suffix].
    // Blocks of exactly 32 bytes (the usual case) come from BlockPool::digests().
    uintptr_t data_ = 0;
    static constexpr uintptr_t kKindBits = 7, kHasDigestBit = 8, kTagBits = 15;
    char* block() const { return reinterpret_cast<char*>(data_ & ~kTagBits); }
    Payload payload_kind() const { return static_cast<Payload>(data_ & kKindBits); }
    bool has_digest() const { return data_ & kHasDigestBit; }
    size_t data_size() const;
    void free_data();
};

/// A new inode, shared: make_inode() or make_inode(other) (a copy).
template <typename... Args>
InodePtr make_inode(Args&&... args) {
    return InodePtr(new Inode(std::forward<Args>(args)...));
}

/// A rooted tree with path-based editing for the sources (OCI layer application etc.).
/// Paths are absolute or relative to the root, '/'-separated; "." and ".." components are
/// refused (EINVAL) so nothing can ever escape the tree.
class Tree {
public:
    Tree();
    explicit Tree(InodePtr root) : root_(std::move(root)) {}

    InodePtr& root() { return root_; }
    const InodePtr& root() const { return root_; }

    /// The inode at `path` (not following symlinks), or nullptr.
    InodePtr lookup(std::string_view path) const;
    /// The directory that would hold `path`'s last component, or an error naming the path
    /// (ENOENT when a parent is missing, ENOTDIR when a parent is not a directory).
    Result<Inode*> parent_dir(std::string_view path) const;
    /// Inserts or replaces the entry at `path`; the parent must exist and be a directory.
    Result<void> insert(std::string_view path, InodePtr inode);
    /// Removes the entry at `path` (and its subtree). Missing is not an error.
    Result<void> remove(std::string_view path);
    /// Creates missing parent directories of `path` with `mode`, uid/gid 0.
    Result<void> mkdir_parents(std::string_view path, uint32_t mode = S_IFDIR | 0755);

    /// Splits a path into components, refusing empty input, "." and "..".
    static Result<std::vector<std::string_view>> split(std::string_view path);

private:
    InodePtr root_;
};

}  // namespace imgctl::composefs
