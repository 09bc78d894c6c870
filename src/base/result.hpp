#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace imgctl {

/// An error: an errno-style code and a human message that reads as a context chain,
/// outermost first ("importing layer 'x': linking object: No space left on device").
struct Error {
    int code = EIO;
    std::string message;

    /// Prefixes the message with what the caller was doing.
    [[nodiscard]] Error context(std::string_view what) && {
        std::string m;
        m.reserve(what.size() + 2 + message.size());
        m.append(what).append(": ").append(message);
        return Error{code, std::move(m)};
    }
    [[nodiscard]] Error context(std::string_view what) const & { return Error(*this).context(what); }
};

/// Makes an error with a formatted message.
template <typename... Args>
[[nodiscard]] Error make_error(int code, fmt::format_string<Args...> f, Args&&... args) {
    return Error{code, fmt::format(f, std::forward<Args>(args)...)};
}

/// Makes an error from errno (or `err`) with a formatted context: "<context>: <strerror>".
[[nodiscard]] Error errno_error(int err, std::string_view what);

/// Tag type for building a Result<T> in the error state.
struct Unexpected {
    Error error;
};

/// A value or an Error. The API mirrors std::expected (value(), error(), operator bool) so it
/// can become an alias once GCC >= 13 is the baseline.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit on purpose
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
    Result(Unexpected u) : v_(std::in_place_index<1>, std::move(u.error)) {}  // NOLINT

    explicit operator bool() const { return v_.index() == 0; }
    bool has_value() const { return v_.index() == 0; }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    T& operator*() & { return std::get<0>(v_); }
    const T& operator*() const& { return std::get<0>(v_); }

    const Error& error() const& { return std::get<1>(v_); }
    Error&& error() && { return std::get<1>(std::move(v_)); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
    Result(Unexpected u) : error_(std::move(u.error)), ok_(false) {}  // NOLINT

    explicit operator bool() const { return ok_; }
    bool has_value() const { return ok_; }
    void value() const {}
    const Error& error() const& { return error_; }
    Error&& error() && { return std::move(error_); }

private:
    Error error_;
    bool ok_ = true;
};

/// Returns early from the enclosing function with the error of `expr` if it failed.
#define IMGCTL_TRY(expr)                                   \
    do {                                                   \
        auto imgctl_try_r_ = (expr);                       \
        if (!imgctl_try_r_) return std::move(imgctl_try_r_).error(); \
    } while (0)

}  // namespace imgctl
