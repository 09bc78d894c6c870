#include "composefs/children.hpp"

#include <algorithm>
#include <memory>

#include "composefs/tree.hpp"

namespace imgctl::composefs {

EntryName::EntryName(std::string_view s) {
    if (s.size() <= kInline) {
        std::memcpy(buf_, s.data(), s.size());
        set_inline_size(s.size());
        return;
    }
    char* p = new char[s.size()];
    std::memcpy(p, s.data(), s.size());
    auto n = static_cast<uint32_t>(s.size());
    std::memcpy(buf_, &p, sizeof p);
    std::memcpy(buf_ + 8, &n, sizeof n);
    buf_[kTag] = kLong;
}

namespace {
struct ByName {
    bool operator()(const ChildEntry& a, std::string_view b) const { return a.first.view() < b; }
    bool operator()(std::string_view a, const ChildEntry& b) const { return a < b.first.view(); }
    bool operator()(const ChildEntry& a, const ChildEntry& b) const { return a.first.view() < b.first.view(); }
};
// The tail may grow to max(kMinTail, 2 sqrt(n)) entries before it is merged into the run.
constexpr size_t kMinTail = 16;
}  // namespace

uint32_t Children::index_of(std::string_view name) const {
    auto run_end = v_.begin() + sorted_;
    auto it = std::lower_bound(v_.begin(), run_end, name, ByName{});
    if (it != run_end && it->first.view() == name) return static_cast<uint32_t>(it - v_.begin());
    it = std::lower_bound(run_end, v_.end(), name, ByName{});
    if (it != v_.end() && it->first.view() == name) return static_cast<uint32_t>(it - v_.begin());
    return static_cast<uint32_t>(v_.size());
}

Children::iterator Children::iter_at(uint32_t k) {
    if (k == v_.size()) return end();
    std::string_view name = v_[k].first.view();
    auto run_end = v_.begin() + sorted_;
    if (k < sorted_) {
        auto j = std::lower_bound(run_end, v_.end(), name, ByName{}) - v_.begin();
        return {this, k, static_cast<uint32_t>(j)};
    }
    auto i = std::lower_bound(v_.begin(), run_end, name, ByName{}) - v_.begin();
    return {this, static_cast<uint32_t>(i), k};
}

Children::iterator Children::find(std::string_view name) { return iter_at(index_of(name)); }

Children::const_iterator Children::find(std::string_view name) const {
    return const_cast<Children*>(this)->iter_at(index_of(name));
}

// Merges the tail into the run from the back: each tail entry finds its place by binary
// search (t log n comparisons, not n) and the run's entries after it move once.
void Children::merge_tail() {
    std::vector<ChildEntry> tail(std::make_move_iterator(v_.begin() + sorted_), std::make_move_iterator(v_.end()));
    auto run_end = v_.begin() + sorted_;  // the run's entries not yet in place are [begin, run_end)
    auto out = v_.end();                  // everything from `out` on is in place
    for (size_t t = tail.size(); t-- > 0;) {
        auto pos = std::upper_bound(v_.begin(), run_end, tail[t].first.view(), ByName{});
        out = std::move_backward(pos, run_end, out);
        run_end = pos;
        *--out = std::move(tail[t]);
    }
    sorted_ = static_cast<uint32_t>(v_.size());
}

std::pair<Children::iterator, bool> Children::emplace(std::string_view name, InodePtr child) {
    if (v_.size() == v_.capacity()) v_.reserve(v_.size() + v_.size() / 2 + 2);  // grows by 1.5, not 2
    if (sorted_ == v_.size() && (v_.empty() || v_.back().first.view() < name)) {  // in order: append
        v_.push_back(ChildEntry{EntryName(name), std::move(child)});
        ++sorted_;
        return {iterator(this, sorted_ - 1, sorted_), true};
    }
    uint32_t k = index_of(name);
    if (k != v_.size()) return {iter_at(k), false};
    auto pos = std::lower_bound(v_.begin() + sorted_, v_.end(), name, ByName{});
    k = static_cast<uint32_t>(pos - v_.begin());
    v_.insert(pos, ChildEntry{EntryName(name), std::move(child)});
    size_t tail = v_.size() - sorted_;
    if (tail > kMinTail && tail * tail > 4 * v_.size()) {
        merge_tail();
        k = index_of(name);
    }
    return {iter_at(k), true};
}

std::pair<Children::iterator, bool> Children::insert_or_assign(std::string_view name, InodePtr child) {
    auto [it, inserted] = emplace(name, child);
    if (!inserted) it->second = std::move(child);
    return {it, inserted};
}

InodePtr& Children::operator[](std::string_view name) { return emplace(name, nullptr).first->second; }

Children::iterator Children::erase(const_iterator it) {
    uint32_t k = it.at();
    v_.erase(v_.begin() + k);
    if (k < sorted_) {
        --sorted_;
        return {this, k, it.j_ - 1};
    }
    return {this, it.i_, k};
}

size_t Children::erase(std::string_view name) {
    uint32_t k = index_of(name);
    if (k == v_.size()) return 0;
    erase(iter_at(k));
    return 1;
}

size_t Children::erase_if(const std::function<bool(const ChildEntry&)>& pred) {
    uint32_t kept = 0, kept_in_run = 0;
    for (uint32_t k = 0; k < v_.size(); ++k) {
        if (pred(v_[k])) continue;
        if (kept != k) v_[kept] = std::move(v_[k]);
        kept_in_run += k < sorted_;
        ++kept;
    }
    size_t removed = v_.size() - kept;
    v_.erase(v_.begin() + kept, v_.end());
    sorted_ = kept_in_run;
    return removed;
}

void Children::clear() {
    v_.clear();
    sorted_ = 0;
}

}  // namespace imgctl::composefs
