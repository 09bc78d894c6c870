#include "composefs/dump_parser.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <unordered_map>
#include <vector>

#include "composefs/dump_escape.hpp"
#include "composefs/limits.hpp"

namespace imgctl::composefs {

namespace {

constexpr size_t kFixedFields = 11;

// A hardlink line waiting for its target (targets may come later in the file).
struct PendingLink {
    Inode* parent;
    std::string name;
    std::string path;    // normalized "/a/b" of the link itself
    std::string target;  // normalized path of the target
    size_t line;
    int state = 0;  // 0 unresolved, 1 resolving (cycle check), 2 done
    InodePtr resolved;
};

class Parser {
public:
    explicit Parser(const DumpParseOptions& o) : opts_(o) {}
    /// One line without its '\n'; `terminated` says whether a '\n' followed it.
    Result<void> feed_line(std::string_view line, bool terminated);
    /// After the last line: resolves hardlinks.
    Result<Tree> finish();

private:
    Result<void> parse_line(std::string_view line);
    Result<void> add_entry(std::string_view path, InodePtr inode);
    Result<void> fill_inode(Inode& n, const std::vector<std::string_view>& f, size_t xattr_bytes);
    Result<void> fill_data(Inode& n, uint64_t size, const std::vector<std::string_view>& f);
    Result<void> parse_xattrs(Inode& n, const std::vector<std::string_view>& f);
    Result<InodePtr> resolve(PendingLink& l);
    Result<InodePtr> lookup_target(const std::string& path);
    Result<Inode*> parent_of(const std::vector<std::string>& parts);

    const DumpParseOptions& opts_;
    Tree tree_{InodePtr{}};
    size_t line_no_ = 0;
    std::vector<PendingLink> links_;
    std::unordered_map<std::string, size_t> link_index_;  // path -> links_ index
    std::vector<std::string> last_parts_;  // components of the last parent directory found
    Inode* last_parent_ = nullptr;
    XattrInterner xattr_lists_;
};

template <typename T>
bool parse_uint(std::string_view s, int base, T& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc() && p == s.data() + s.size();
}

// Splits "a b  c" into non-empty fields; also reports where the xattr part begins.
std::vector<std::string_view> split_fields(std::string_view line, size_t& xattr_bytes) {
    std::vector<std::string_view> f;
    size_t pos = 0;
    xattr_bytes = 0;
    while (pos < line.size()) {
        size_t sp = line.find(' ', pos);
        if (sp == std::string_view::npos) sp = line.size();
        if (sp > pos) {
            if (f.size() == kFixedFields) xattr_bytes = line.size() - pos;
            f.push_back(line.substr(pos, sp - pos));
        }
        pos = sp + 1;
    }
    return f;
}

// Normalizes an absolute dump path into components; refuses empty, "." and ".." names.
Result<std::vector<std::string>> path_components(std::string_view raw) {
    auto p = unescape_field(raw);
    if (!p) return make_error(EINVAL, "bad escape in path '{}'", raw);
    std::string_view path = *p;
    if (path.empty() || path[0] != '/') return make_error(EINVAL, "path '{}' is not absolute", raw);
    // A file name cannot hold NUL; the kernel and every C consumer would cut it there.
    if (path.find('\0') != std::string_view::npos) return make_error(EINVAL, "path '{}' has a NUL byte", raw);
    std::vector<std::string> parts;
    if (path == "/") return parts;
    size_t pos = 1;
    while (true) {
        size_t sl = path.find('/', pos);
        std::string_view part = path.substr(pos, sl == std::string_view::npos ? std::string_view::npos : sl - pos);
        if (part.empty()) return make_error(EINVAL, "path '{}' has an empty name", raw);
        if (part == "." || part == "..") return make_error(EINVAL, "path '{}' has a '{}' name", raw, part);
        if (part.size() > kMaxNameLen)
            return make_error(ENAMETOOLONG, "path '{}' has a name longer than {} bytes", raw, kMaxNameLen);
        parts.emplace_back(part);
        if (sl == std::string_view::npos) break;
        pos = sl + 1;
    }
    return parts;
}

std::string join(const std::vector<std::string>& parts) {
    if (parts.empty()) return "/";
    std::string s;
    for (const auto& p : parts) s.append("/").append(p);
    return s;
}

bool known_type(uint32_t mode) {
    switch (mode & S_IFMT) {
        case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFBLK: case S_IFCHR: case S_IFIFO: case S_IFSOCK:
            return true;
        default: return false;
    }
}

Result<void> Parser::parse_xattrs(Inode& n, const std::vector<std::string_view>& f) {
    for (size_t i = kFixedFields; i < f.size(); ++i) {
        std::string_view field = f[i];
        size_t eq = field.find('=');
        if (eq == std::string_view::npos) return make_error(EINVAL, "xattr '{}' has no '='", field);
        auto name = unescape_field(field.substr(0, eq));
        auto value = unescape_field(field.substr(eq + 1));
        if (!name || !value) return make_error(EINVAL, "bad escape in xattr '{}'", field.substr(0, 64));
        if (name->empty()) return make_error(EINVAL, "empty xattr name");
        if (name->find('\0') != std::string::npos) return make_error(EINVAL, "xattr name with a NUL byte");
        if (name->size() > kMaxXattrNameLen)
            return make_error(ERANGE, "xattr name longer than {} bytes", kMaxXattrNameLen);
        if (value->size() > kMaxXattrValueLen)
            return make_error(E2BIG, "xattr '{}' has a value longer than {} bytes", *name, kMaxXattrValueLen);
        bool replaced = false;
        for (auto& x : n.xattrs) {
            if (x.name == *name) {
                x.value = std::move(*value);
                replaced = true;
                break;
            }
        }
        if (!replaced) n.xattrs.push_back(Xattr{std::move(*name), std::move(*value)});
    }
    if (xattr_budget(n.xattrs) > kMaxXattrBudget)
        return make_error(E2BIG, "xattrs exceed the per-inode limit of {} bytes", kMaxXattrBudget);
    return {};
}

Result<void> Parser::fill_inode(Inode& n, const std::vector<std::string_view>& f, size_t xattr_bytes) {
    uint64_t size = 0;
    if (!parse_uint(f[1], 10, size)) return make_error(EINVAL, "bad SIZE '{}'", f[1]);
    uint32_t mode = 0;
    if (!parse_uint(f[2], 8, mode)) return make_error(EINVAL, "bad MODE '{}'", f[2]);
    if (mode > 0177777) {
        if (opts_.strict) return make_error(EINVAL, "MODE '{}' has bits beyond 16", f[2]);
        mode &= 0177777;
    }
    if (!known_type(mode)) return make_error(EINVAL, "MODE '{}' is not a known file type", f[2]);
    n.mode = mode;
    if (!parse_uint(f[3], 10, n.nlink)) return make_error(EINVAL, "bad NLINK '{}'", f[3]);
    if (!parse_uint(f[4], 10, n.uid)) return make_error(EINVAL, "bad UID '{}'", f[4]);
    if (!parse_uint(f[5], 10, n.gid)) return make_error(EINVAL, "bad GID '{}'", f[5]);
    if (!parse_uint(f[6], 10, n.rdev)) return make_error(EINVAL, "bad RDEV '{}'", f[6]);
    bool is_dev = S_ISCHR(mode) || S_ISBLK(mode);
    if (!is_dev) {
        if (opts_.strict && n.rdev != 0) return make_error(EINVAL, "RDEV must be 0 on a non-device");
        n.rdev = 0;
    }
    std::string_view mt = f[7];
    size_t dot = mt.find('.');
    if (dot == std::string_view::npos) return make_error(EINVAL, "bad MTIME '{}'", mt);
    std::string_view sec = mt.substr(0, dot);
    bool negative = !sec.empty() && sec[0] == '-';
    uint64_t usec = 0;
    if (!parse_uint(negative ? sec.substr(1) : sec, 10, usec) || usec > INT64_MAX ||
        !parse_uint(mt.substr(dot + 1), 10, n.mtime_nsec))
        return make_error(EINVAL, "bad MTIME '{}'", mt);
    n.mtime_sec = negative ? -static_cast<int64_t>(usec) : static_cast<int64_t>(usec);

    if (xattr_bytes > kMaxDumpXattrBytes) return make_error(E2BIG, "Too many xattrs");
    IMGCTL_TRY(fill_data(n, size, f));
    IMGCTL_TRY(parse_xattrs(n, f));
    xattr_lists_.intern(n.xattrs);  // most inodes carry one of a few lists
    return {};
}

// PAYLOAD, CONTENT and DIGEST by file type.
Result<void> Parser::fill_data(Inode& n, uint64_t size, const std::vector<std::string_view>& f) {
    const uint32_t mode = n.mode;
    std::optional<std::string> payload, content;
    if (f.size() > 8 && f[8] != "-") {
        payload = unescape_field(f[8]);
        if (!payload) return make_error(EINVAL, "bad escape in PAYLOAD");
    }
    if (f.size() > 9 && f[9] != "-") {
        content = unescape_field(f[9]);
        if (!content) return make_error(EINVAL, "bad escape in CONTENT");
    }
    if (f.size() > 10 && f[10] != "-") {
        auto d = crypto::Digest::from_hex(f[10]);
        if (!d) return make_error(EINVAL, "bad DIGEST '{}'", f[10].substr(0, 80));
        if (S_ISREG(mode)) n.set_fsverity(*d);
    }
    if (S_ISREG(mode)) {
        n.size = size;
        if (payload) {
            if (payload->size() > kMaxPayloadLen) return make_error(ENAMETOOLONG, "PAYLOAD longer than {} bytes", kMaxPayloadLen);
            if (payload->find('\0') != std::string::npos) return make_error(EINVAL, "PAYLOAD with a NUL byte");
            n.set_payload(std::move(*payload));
        }
        if (content) {
            if (content->size() > kMaxInlineContent)
                return make_error(EFBIG, "inline CONTENT longer than {} bytes", kMaxInlineContent);
            if (content->size() != size)
                return make_error(EINVAL, "CONTENT has {} bytes but SIZE is {}", content->size(), size);
            n.set_content(std::move(*content));
        }
    } else if (S_ISLNK(mode)) {
        if (!payload || payload->empty()) return make_error(EINVAL, "symlink without a target");
        if (payload->find('\0') != std::string::npos) return make_error(EINVAL, "symlink target with a NUL byte");
        if (payload->size() > kMaxSymlinkLen)
            return make_error(ENAMETOOLONG, "symlink target longer than {} bytes", kMaxSymlinkLen);
        if (opts_.strict && size != payload->size())
            return make_error(EINVAL, "symlink SIZE {} is not the target length {}", size, payload->size());
        n.size = payload->size();
        n.set_symlink_target(std::move(*payload));
    }
    return {};
}

Result<void> Parser::add_entry(std::string_view raw_path, InodePtr inode) {
    auto parts = path_components(raw_path);
    if (!parts) return std::move(parts).error();
    if (parts->empty()) {
        if (tree_.root()) return make_error(EEXIST, "root '/' given twice");
        if (!inode || !inode->is_dir()) return make_error(EINVAL, "the root must be a directory");
        tree_.root() = std::move(inode);
        return {};
    }
    auto parent = parent_of(*parts);
    if (!parent) return std::move(parent).error();
    Inode* cur = *parent;
    const std::string& name = parts->back();
    if (cur->children().count(name)) return make_error(EEXIST, "'{}' is given twice", join(*parts));
    cur->children().emplace(name, std::move(inode));
    return {};
}

Result<void> Parser::parse_line(std::string_view line) {
    if (line.find('\0') != std::string_view::npos) return make_error(EINVAL, "NUL byte in line");
    size_t xattr_bytes = 0;
    auto f = split_fields(line, xattr_bytes);
    size_t need = opts_.strict ? kFixedFields : 8;
    if (f.size() < need) return make_error(EINVAL, "{} fields, need at least {}", f.size(), need);
    if (!f[2].empty() && f[2][0] == '@') {
        if (f.size() < 9 || f[8] == "-") return make_error(EINVAL, "hardlink without a target path");
        auto self = path_components(f[0]);
        if (!self) return std::move(self).error();
        if (self->empty()) return make_error(EINVAL, "the root cannot be a hardlink");
        auto target = path_components(f[8]);
        if (!target) return std::move(target).error().context("hardlink target");
        PendingLink l{nullptr, self->back(), join(*self), join(*target), line_no_, 0, nullptr};
        if (l.path == l.target) return make_error(EINVAL, "hardlink '{}' points to itself", l.path);
        // Reserve the name now so that duplicates and children of it are refused.
        auto placeholder = Inode::make(S_IFREG);
        auto found = parent_of(*self);
        if (!found) return std::move(found).error();
        Inode* parent = *found;
        if (parent->children().count(l.name)) return make_error(EEXIST, "'{}' is given twice", l.path);
        parent->children().emplace(l.name, placeholder);
        l.parent = parent;
        link_index_.emplace(l.path, links_.size());
        links_.push_back(std::move(l));
        return {};
    }
    auto inode = make_inode();
    IMGCTL_TRY(fill_inode(*inode, f, xattr_bytes));
    return add_entry(f[0], std::move(inode));
}

// The directory holding the last of `parts`. Dumps list siblings together, so the last
// parent found is remembered.
Result<Inode*> Parser::parent_of(const std::vector<std::string>& parts) {
    size_t n = parts.size() - 1;
    if (last_parent_ && last_parts_.size() == n && std::equal(parts.begin(), parts.begin() + n, last_parts_.begin()))
        return last_parent_;
    Inode* cur = tree_.root().get();
    if (!cur) return make_error(EINVAL, "the first line must be the root '/'");
    for (size_t i = 0; i < n; ++i) {
        auto it = cur->children().find(parts[i]);
        if (it == cur->children().end()) return make_error(ENOENT, "parent of '{}' does not exist", join(parts));
        if (!it->second || !it->second->is_dir())
            return make_error(ENOTDIR, "parent of '{}' is not a directory", join(parts));
        cur = it->second.get();
    }
    last_parts_.assign(parts.begin(), parts.begin() + n);
    last_parent_ = cur;
    return cur;
}

Result<InodePtr> Parser::lookup_target(const std::string& path) {
    auto li = link_index_.find(path);
    if (li != link_index_.end()) return resolve(links_[li->second]);
    InodePtr n = tree_.lookup(path);
    if (!n) return make_error(ENOENT, "hardlink target '{}' does not exist", path);
    return n;
}

Result<InodePtr> Parser::resolve(PendingLink& l) {
    if (l.state == 2) return l.resolved;
    if (l.state == 1) return make_error(ELOOP, "hardlink '{}' is part of a cycle", l.path);
    l.state = 1;
    auto t = lookup_target(l.target);
    if (!t) return std::move(t).error();
    if ((*t)->is_dir()) return make_error(EISDIR, "hardlink '{}' points to directory '{}'", l.path, l.target);
    l.resolved = *t;
    l.state = 2;
    return l.resolved;
}

Result<void> Parser::feed_line(std::string_view line, bool terminated) {
    ++line_no_;
    if (!terminated && opts_.strict) return make_error(EINVAL, "line {}: no newline at the end of the last line", line_no_);
    if (line.empty()) return {};
    auto r = parse_line(line);
    if (!r) return std::move(r).error().context(fmt::format("line {}", line_no_));
    return {};
}

Result<Tree> Parser::finish() {
    if (!tree_.root()) return make_error(EINVAL, "no root '/' line");
    // Resolve hardlinks first (a target may itself be a hardlink), then swap them in: the
    // placeholders must stay in place while targets are looked up.
    for (auto& l : links_) {
        auto r = resolve(l);
        if (!r) return std::move(r).error().context(fmt::format("line {}", l.line));
    }
    for (auto& l : links_) {
        l.parent->children()[l.name] = l.resolved;
    }
    for (auto& l : links_) {
        if (!l.resolved->primary_path().empty()) continue;
        // The owner is the name that is not a hardlink line: follow the chain to it.
        std::string owner = l.target;
        for (auto it = link_index_.find(owner); it != link_index_.end(); it = link_index_.find(owner))
            owner = links_[it->second].target;
        l.resolved->set_primary_path(owner);
    }
    return std::move(tree_);
}

}  // namespace

Result<Tree> parse_dump(std::string_view text, const DumpParseOptions& options) {
    Parser p(options);
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        bool terminated = nl != std::string_view::npos;
        if (!terminated) nl = text.size();
        IMGCTL_TRY(p.feed_line(text.substr(pos, nl - pos), terminated));
        pos = nl + 1;
    }
    return p.finish();
}

Result<Tree> parse_dump_fd(int fd, const DumpParseOptions& options) {
    // A window of the file, not the whole file: the text is never needed again once its
    // line is parsed, and a dump is as large as the tree it describes.
    constexpr size_t kWindow = 256 * 1024;
    Parser p(options);
    std::string buf;
    size_t start = 0;  // first byte of buf not yet parsed
    while (true) {
        if (start > 0) {
            buf.erase(0, start);
            start = 0;
        }
        size_t have = buf.size();
        buf.resize(have + kWindow);
        ssize_t n = ::read(fd, buf.data() + have, kWindow);
        if (n < 0 && errno == EINTR) {
            buf.resize(have);
            continue;
        }
        if (n < 0) return errno_error(errno, "reading the dump");
        buf.resize(have + static_cast<size_t>(n));
        if (n == 0) break;
        for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1)
            IMGCTL_TRY(p.feed_line(std::string_view(buf).substr(start, nl - start), true));
    }
    if (start < buf.size()) IMGCTL_TRY(p.feed_line(std::string_view(buf).substr(start), false));
    return p.finish();
}

}  // namespace imgctl::composefs
