#pragma once

#include <cstddef>
#include <utility>

namespace imgctl::composefs {

struct Inode;

/// Shared ownership of an Inode: 8 bytes, an intrusive thread-safe reference count in the
/// inode (no separate control block). Hardlinks are several entries holding one InodePtr.
class InodePtr {
public:
    InodePtr() = default;
    InodePtr(std::nullptr_t) {}  // NOLINT: converts like a shared_ptr
    /// Takes ownership of a new inode (from make_inode()).
    explicit InodePtr(Inode* p);
    InodePtr(const InodePtr& o);
    InodePtr(InodePtr&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
    InodePtr& operator=(InodePtr o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }
    ~InodePtr();

    Inode* get() const { return p_; }
    Inode* operator->() const { return p_; }
    Inode& operator*() const { return *p_; }
    explicit operator bool() const { return p_ != nullptr; }
    /// How many InodePtrs share the inode (0 for a null pointer).
    long use_count() const;
    void reset() { *this = InodePtr(); }
    void swap(InodePtr& o) noexcept { std::swap(p_, o.p_); }
    friend bool operator==(const InodePtr& a, const InodePtr& b) { return a.p_ == b.p_; }
    friend bool operator==(const InodePtr& a, std::nullptr_t) { return a.p_ == nullptr; }

private:
    Inode* p_ = nullptr;
};

}  // namespace imgctl::composefs
