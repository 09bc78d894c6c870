#include "composefs/xattr_list.hpp"

#include <cstdint>

namespace imgctl::composefs {

XattrList::XattrList(Vec v) {
    if (!v.empty()) b_ = new Block{{1}, std::move(v)};
}

XattrList::XattrList(const XattrList& o) : b_(o.b_) {
    if (b_) b_->refs.fetch_add(1, std::memory_order_relaxed);
}

XattrList::~XattrList() {
    if (b_ && b_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete b_;
}

const XattrList::Vec& XattrList::vec() const {
    static const Vec kEmpty;
    return b_ ? b_->v : kEmpty;
}

XattrList::Vec& XattrList::mut() {
    if (!b_) {
        b_ = new Block;
    } else if (b_->refs.load(std::memory_order_acquire) != 1) {
        *this = XattrList(Vec(b_->v));  // copy on write
        if (!b_) b_ = new Block;
    }
    return b_->v;
}

void XattrInterner::intern(XattrList& list) {
    if (list.empty()) {
        list = XattrList();  // an empty list holds nothing
        return;
    }
    std::string key;
    for (const auto& x : list) {
        uint32_t sizes[2] = {static_cast<uint32_t>(x.name.size()), static_cast<uint32_t>(x.value.size())};
        key.append(reinterpret_cast<const char*>(sizes), sizeof sizes).append(x.name).append(x.value);
    }
    auto [it, inserted] = seen_.try_emplace(std::move(key), list);
    if (!inserted) list = it->second;
}

}  // namespace imgctl::composefs
