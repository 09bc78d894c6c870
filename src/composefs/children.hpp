#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <string_view>
#include <utility>
#include <vector>

#include "composefs/entry_name.hpp"
#include "composefs/inode_ptr.hpp"

namespace imgctl::composefs {

/// One directory entry: 24 bytes. `first`/`second` as in a std::map, so
/// `for (auto& [name, child] : dir.children())` reads the same.
struct ChildEntry {
    EntryName first;
    InodePtr second;

    ChildEntry(EntryName name, InodePtr child) : first(std::move(name)), second(std::move(child)) {}
    ChildEntry(const ChildEntry&) = default;
    ChildEntry& operator=(const ChildEntry&) = default;
    ChildEntry(ChildEntry&& o) noexcept = default;
    // A swap: the cheapest move when the array shifts entries (the source is left with the
    // old value, which its owner destroys or overwrites).
    ChildEntry& operator=(ChildEntry&& o) noexcept {
        first.swap(o.first);
        second.swap(o.second);
        return *this;
    }
};

/// A directory's entries, iterated sorted by name (byte order): a map-like container of
/// 24-byte ChildEntry in one array (a std::map node costs 80). Lookups are O(log n).
///
/// The array is a sorted run followed by a short sorted tail: appending names in order (the
/// dump parser, the EROFS reader) only appends to the run; a name that sorts before the run's
/// last goes into the tail (shifting at most the tail), and the tail is merged into the run
/// when it outgrows 2 sqrt(n), so n insertions in any order cost O(n sqrt n) moves, not O(n^2).
/// Iteration merges the two on the fly (no mutation on reads: const access is thread-safe).
///
/// Any insertion or erase invalidates iterators and references to entries (like a
/// std::vector); keep a copy of a name or InodePtr across them.
class Children {
    template <bool Const>
    class Iter {
        using Owner = std::conditional_t<Const, const Children, Children>;

    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = ChildEntry;
        using difference_type = std::ptrdiff_t;
        using reference = std::conditional_t<Const, const ChildEntry&, ChildEntry&>;
        using pointer = std::conditional_t<Const, const ChildEntry*, ChildEntry*>;

        Iter() = default;
        Iter(Owner* c, uint32_t i, uint32_t j) : c_(c), i_(i), j_(j) {}
        operator Iter<true>() const { return {c_, i_, j_}; }  // NOLINT: iterator -> const_iterator

        reference operator*() const { return c_->v_[at()]; }
        pointer operator->() const { return &c_->v_[at()]; }
        Iter& operator++() {
            if (in_run()) {
                ++i_;
            } else {
                ++j_;
            }
            return *this;
        }
        Iter operator++(int) {
            Iter t = *this;
            ++*this;
            return t;
        }
        friend bool operator==(const Iter& a, const Iter& b) { return a.i_ == b.i_ && a.j_ == b.j_; }

    private:
        friend class Children;
        // The array index of the current entry: the smaller head of the run and the tail.
        uint32_t at() const { return in_run() ? i_ : j_; }
        // Whether the current entry is the run's (else the tail's).
        bool in_run() const {
            if (i_ == c_->sorted_) return false;
            if (j_ == c_->v_.size()) return true;
            return c_->v_[i_].first.view() < c_->v_[j_].first.view();
        }
        Owner* c_ = nullptr;
        uint32_t i_ = 0;  // next in the sorted run [0, sorted_)
        uint32_t j_ = 0;  // next in the tail [sorted_, size)
    };

public:
    using value_type = ChildEntry;
    using iterator = Iter<false>;
    using const_iterator = Iter<true>;

    Children() = default;
    Children(const Children&) = default;
    Children& operator=(const Children&) = default;
    /// A moved-from Children is empty.
    Children(Children&& o) noexcept : v_(std::move(o.v_)), sorted_(std::exchange(o.sorted_, 0)) { o.v_.clear(); }
    Children& operator=(Children&& o) noexcept {
        if (this == &o) return *this;
        v_ = std::move(o.v_);
        sorted_ = std::exchange(o.sorted_, 0);
        o.v_.clear();
        return *this;
    }

    size_t size() const { return v_.size(); }
    bool empty() const { return v_.empty(); }
    iterator begin() { return {this, 0, sorted_}; }
    iterator end() { return {this, sorted_, static_cast<uint32_t>(v_.size())}; }
    const_iterator begin() const { return {this, 0, sorted_}; }
    const_iterator end() const { return {this, sorted_, static_cast<uint32_t>(v_.size())}; }

    iterator find(std::string_view name);
    const_iterator find(std::string_view name) const;
    size_t count(std::string_view name) const { return find(name) != end(); }
    bool contains(std::string_view name) const { return count(name) != 0; }

    /// Inserts `name` -> `child` unless `name` is there: (the entry, whether it was inserted).
    std::pair<iterator, bool> emplace(std::string_view name, InodePtr child);
    /// Inserts or replaces the entry `name`.
    std::pair<iterator, bool> insert_or_assign(std::string_view name, InodePtr child);
    /// The entry `name`'s inode, inserting a null one when missing.
    InodePtr& operator[](std::string_view name);

    /// Removes the entry at `it`; returns the entry after it.
    iterator erase(const_iterator it);
    /// Removes the entry `name` if present; returns how many were removed (0 or 1).
    size_t erase(std::string_view name);
    /// Removes every entry for which `pred(entry)` is true, in one pass; returns how many.
    size_t erase_if(const std::function<bool(const ChildEntry&)>& pred);
    void clear();

private:
    // The array index of `name`, or the array size.
    uint32_t index_of(std::string_view name) const;
    // The iterator positioned at array index k.
    iterator iter_at(uint32_t k);
    void merge_tail();

    std::vector<ChildEntry> v_;
    uint32_t sorted_ = 0;  // v_[0, sorted_) is the sorted run, v_[sorted_, size) the sorted tail
};

}  // namespace imgctl::composefs
