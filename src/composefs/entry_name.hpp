#pragma once

#include <fmt/format.h>

#include <compare>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imgctl::composefs {

/// A directory entry's name in 16 bytes: up to 15 bytes are stored inline, a longer name in
/// its own heap block. Reads like a std::string_view (it converts to one).
class EntryName {
public:
    EntryName() noexcept { set_inline_size(0); }
    explicit EntryName(std::string_view s);
    EntryName(const EntryName& o) : EntryName(o.view()) {}
    EntryName(EntryName&& o) noexcept {
        std::memcpy(buf_, o.buf_, sizeof buf_);
        o.set_inline_size(0);
    }
    EntryName& operator=(const EntryName& o) {
        if (this != &o) *this = EntryName(o);
        return *this;
    }
    EntryName& operator=(EntryName&& o) noexcept {
        if (this != &o) {
            release();
            std::memcpy(buf_, o.buf_, sizeof buf_);
            o.set_inline_size(0);
        }
        return *this;
    }
    ~EntryName() { release(); }
    void swap(EntryName& o) noexcept {
        char t[sizeof buf_];
        std::memcpy(t, buf_, sizeof t);
        std::memcpy(buf_, o.buf_, sizeof t);
        std::memcpy(o.buf_, t, sizeof t);
    }

    std::string_view view() const {
        if (!is_long()) return {buf_, static_cast<size_t>(buf_[kTag])};
        return {long_ptr(), long_size()};
    }
    operator std::string_view() const { return view(); }  // NOLINT: reads like a string_view
    std::string str() const { return std::string(view()); }
    size_t size() const { return view().size(); }
    bool empty() const { return view().empty(); }
    const char* data() const { return view().data(); }

    friend bool operator==(const EntryName& a, const EntryName& b) { return a.view() == b.view(); }
    friend bool operator==(const EntryName& a, std::string_view b) { return a.view() == b; }
    friend bool operator==(const EntryName& a, const char* b) { return a.view() == std::string_view(b); }
    friend std::strong_ordering operator<=>(const EntryName& a, const EntryName& b) { return a.view() <=> b.view(); }
    friend std::strong_ordering operator<=>(const EntryName& a, std::string_view b) { return a.view() <=> b; }
    friend std::string operator+(std::string a, const EntryName& b) { return a.append(b.view()); }
    friend std::string operator+(const char* a, const EntryName& b) { return std::string(a).append(b.view()); }

private:
    static constexpr size_t kInline = 15;
    static constexpr size_t kTag = 15;  // inline: the size (0..15); long: kLong
    static constexpr char kLong = char(0x80);
    bool is_long() const { return buf_[kTag] == kLong; }
    void set_inline_size(size_t n) { buf_[kTag] = static_cast<char>(n); }
    const char* long_ptr() const {
        const char* p;
        std::memcpy(&p, buf_, sizeof p);
        return p;
    }
    uint32_t long_size() const {
        uint32_t n;
        std::memcpy(&n, buf_ + 8, sizeof n);
        return n;
    }
    void release() {
        if (is_long()) delete[] long_ptr();
    }

    char buf_[16];
};

}  // namespace imgctl::composefs

template <>
struct fmt::formatter<imgctl::composefs::EntryName> : fmt::formatter<std::string_view> {
    template <typename Ctx>
    auto format(const imgctl::composefs::EntryName& n, Ctx& ctx) const {
        return fmt::formatter<std::string_view>::format(n.view(), ctx);
    }
};
