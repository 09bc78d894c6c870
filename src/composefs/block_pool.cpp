#include "composefs/block_pool.hpp"

#include <new>

#include "composefs/tree.hpp"

namespace imgctl::composefs {

// 16-byte multiples of a slab from operator new (16-byte aligned): every block is 16-byte
// aligned, as Inode's tagged data pointer needs.
BlockPool::BlockPool(size_t block_size) : size_((block_size + 15) / 16 * 16) {}

void* BlockPool::allocate() {
    std::lock_guard lock(mu_);
    if (free_) {
        Free* f = free_;
        free_ = f->next;
        return f;
    }
    if (static_cast<size_t>(end_ - cur_) < size_) {
        cur_ = static_cast<char*>(::operator new(kSlab));  // never freed (see the header)
        end_ = cur_ + kSlab;
    }
    void* p = cur_;
    cur_ += size_;
    return p;
}

void BlockPool::deallocate(void* p) noexcept {
    if (!p) return;
    std::lock_guard lock(mu_);
    auto* f = static_cast<Free*>(p);
    f->next = free_;
    free_ = f;
}

// Never destroyed: inodes held by static objects may be freed after main() returns.
BlockPool& BlockPool::inodes() {
    static BlockPool* pool = new BlockPool(sizeof(Inode));
    return *pool;
}

BlockPool& BlockPool::digests() {
    static BlockPool* pool = new BlockPool(32);
    return *pool;
}

}  // namespace imgctl::composefs
