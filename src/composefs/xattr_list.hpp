#pragma once

#include <atomic>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace imgctl::composefs {

struct Xattr {
    std::string name;
    std::string value;
    bool operator==(const Xattr&) const = default;
};

/// An inode's xattrs: 8 bytes, a reference-counted list that copies share. Reading is that
/// of a std::vector<Xattr>; a change (push_back, the non-const begin()/end()/operator[],
/// mut()) first copies the list when another XattrList shares it. So the many inodes that
/// carry the same list (one SELinux label on every file) can hold one copy: XattrInterner.
/// Copies, reads and destruction are thread-safe; one writer at a time, as for a vector.
class XattrList {
public:
    using Vec = std::vector<Xattr>;

    XattrList() = default;
    XattrList(Vec v);                           // NOLINT: assigns like a vector
    XattrList(std::initializer_list<Xattr> il)  // NOLINT
        : XattrList(Vec(il)) {}
    XattrList(const XattrList& o);
    XattrList(XattrList&& o) noexcept : b_(o.b_) { o.b_ = nullptr; }
    XattrList& operator=(XattrList o) noexcept {
        std::swap(b_, o.b_);
        return *this;
    }
    ~XattrList();

    const Vec& vec() const;
    operator const Vec&() const { return vec(); }  // NOLINT
    Vec::const_iterator begin() const { return vec().begin(); }
    Vec::const_iterator end() const { return vec().end(); }
    size_t size() const { return vec().size(); }
    bool empty() const { return vec().empty(); }
    const Xattr& operator[](size_t i) const { return vec()[i]; }

    /// The list for changing it (copied first when shared).
    Vec& mut();
    Vec::iterator begin() { return mut().begin(); }
    Vec::iterator end() { return mut().end(); }
    Xattr& operator[](size_t i) { return mut()[i]; }
    void push_back(Xattr x) { mut().push_back(std::move(x)); }
    Vec::iterator erase(Vec::iterator it) { return mut().erase(it); }
    void clear() { *this = XattrList(); }

    /// True when both hold the very same list (not merely equal ones).
    bool shares_with(const XattrList& o) const { return b_ && b_ == o.b_; }
    friend bool operator==(const XattrList& a, const XattrList& b) { return a.vec() == b.vec(); }

private:
    struct Block {
        std::atomic<uint32_t> refs{1};
        Vec v;
    };
    Block* b_ = nullptr;  // null: empty
};

/// Hands out one shared XattrList per distinct list (name and value bytes, in order), for a
/// source that builds many inodes. Holds a reference to every list it has seen.
class XattrInterner {
public:
    /// Replaces `list` by the shared copy of an equal list (adopting it when it is the first).
    void intern(XattrList& list);

private:
    std::unordered_map<std::string, XattrList> seen_;
};

}  // namespace imgctl::composefs
