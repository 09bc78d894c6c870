#pragma once

#include <cstddef>
#include <mutex>

namespace imgctl::composefs {

/// Fixed-size blocks carved from 64 KiB slabs, for the tree's most numerous small objects
/// (inodes, 32-byte digest blocks): no malloc header per block; blocks are 16-byte aligned.
/// Freed blocks go to a free list and are reused; slabs are kept for the life of the process.
/// Thread-safe (the sources create inodes on several threads).
class BlockPool {
public:
    explicit BlockPool(size_t block_size);
    BlockPool(const BlockPool&) = delete;
    BlockPool& operator=(const BlockPool&) = delete;

    void* allocate();
    void deallocate(void* p) noexcept;
    size_t block_size() const { return size_; }

    /// The process-wide pool of Inode-sized blocks, and the one of 32-byte blocks.
    static BlockPool& inodes();
    static BlockPool& digests();

private:
    struct Free {
        Free* next;
    };
    static constexpr size_t kSlab = 64 * 1024;

    std::mutex mu_;
    size_t size_;
    Free* free_ = nullptr;
    char* cur_ = nullptr;  // the unused rest of the newest slab
    char* end_ = nullptr;
};

}  // namespace imgctl::composefs
