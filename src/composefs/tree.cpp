#include "composefs/tree.hpp"

#include <cstring>

#include "composefs/block_pool.hpp"

namespace imgctl::composefs {

InodePtr::InodePtr(Inode* p) : p_(p) {
    if (p_) p_->refs_.n.fetch_add(1, std::memory_order_relaxed);
}
InodePtr::InodePtr(const InodePtr& o) : p_(o.p_) {
    if (p_) p_->refs_.n.fetch_add(1, std::memory_order_relaxed);
}
InodePtr::~InodePtr() {
    if (p_ && p_->refs_.n.fetch_sub(1, std::memory_order_acq_rel) == 1) delete p_;
}
long InodePtr::use_count() const { return p_ ? p_->refs_.n.load(std::memory_order_relaxed) : 0; }
InodePtr Inode::make(uint32_t mode) {
    InodePtr i = make_inode();
    i->mode = mode;
    return i;
}

struct Inode::Extra {
    std::string symlink_target;
    std::optional<std::string> content;
    std::string primary_path;
};

namespace {
const std::string kEmpty;
const std::optional<std::string> kNoContent;
const Children kNoChildren;

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kObjectFile = ".file";

// Whether `p` starts with the object path "ab/cdef…" of `d` (lowercase hex).
bool starts_with_object_path(std::string_view p, const crypto::Digest& d) {
    if (p.size() < 65 || p[2] != '/') return false;
    for (size_t i = 0, j = 0; i < 32; ++i) {
        for (int shift : {4, 0}) {
            if (j == 2) ++j;
            if (p[j++] != kHex[(d.bytes[i] >> shift) & 15]) return false;
        }
    }
    return true;
}

bool is_object_path_of(std::string_view p, const crypto::Digest& d) {
    return p.size() == 65 && starts_with_object_path(p, d);
}

// The digest named by a leading "ab/<62 lowercase hex>", if any.
std::optional<crypto::Digest> leading_digest(std::string_view p) {
    if (p.size() < 65 || p[2] != '/') return std::nullopt;
    crypto::Digest d;
    for (size_t i = 0, j = 0; i < 32; ++i) {
        uint8_t v = 0;
        for (int k = 0; k < 2; ++k) {
            if (j == 2) ++j;
            const char* c = std::strchr(kHex, p[j++]);
            if (!c || !*c) return std::nullopt;
            v = static_cast<uint8_t>(v << 4 | (c - kHex));
        }
        d.bytes[i] = v;
    }
    return d;
}

std::unique_ptr<char[]> encode_payload(std::string_view p, size_t& size) {
    std::unique_ptr<char[]> block;
    auto put_size = [](char* at, size_t n) {
        uint32_t v = static_cast<uint32_t>(n);
        std::memcpy(at, &v, sizeof v);
    };
    if (auto d = leading_digest(p)) {
        std::string_view suffix = p.substr(65);
        size = 1 + 32 + 4 + suffix.size();
        block = std::make_unique_for_overwrite<char[]>(size);
        block[0] = 1;
        std::memcpy(block.get() + 1, d->bytes.data(), 32);
        put_size(block.get() + 33, suffix.size());
        std::memcpy(block.get() + 37, suffix.data(), suffix.size());
    } else {
        size = 1 + 4 + p.size();
        block = std::make_unique_for_overwrite<char[]>(size);
        block[0] = 0;
        put_size(block.get() + 1, p.size());
        std::memcpy(block.get() + 5, p.data(), p.size());
    }
    return block;
}

std::string decode_payload(const char* block) {
    auto get_size = [](const char* at) {
        uint32_t v;
        std::memcpy(&v, at, sizeof v);
        return v;
    };
    if (block[0] == 0) return std::string(block + 5, get_size(block + 1));
    crypto::Digest d;
    std::memcpy(d.bytes.data(), block + 1, 32);
    return Inode::object_path(d).append(block + 37, get_size(block + 33));
}

// The size of a block made by encode_payload().
size_t encoded_size(const char* block) {
    uint32_t v;
    std::memcpy(&v, block + (block[0] == 0 ? 1 : 33), sizeof v);
    return (block[0] == 0 ? 5 : 37) + size_t{v};
}
}  // namespace


Inode::Inode(const Inode& o)
    : mode(o.mode), nlink(o.nlink), uid(o.uid), gid(o.gid), rdev(o.rdev), mtime_sec(o.mtime_sec), size(o.size),
      mtime_nsec(o.mtime_nsec), xattrs(o.xattrs), extra_(o.extra_ ? std::make_unique<Extra>(*o.extra_) : nullptr),
      children_(o.children_ ? std::make_unique<Children>(*o.children_) : nullptr) {
    set_digest_and_payload(o.fsverity(), o.payload());
}

Inode& Inode::operator=(const Inode& o) {
    if (this != &o) *this = Inode(o);
    return *this;
}

Inode::Inode() = default;
Inode::Inode(Inode&& o) noexcept { *this = std::move(o); }
Inode& Inode::operator=(Inode&& o) noexcept {
    if (this == &o) return *this;
    mode = o.mode, nlink = o.nlink, uid = o.uid, gid = o.gid, rdev = o.rdev;
    mtime_sec = o.mtime_sec, size = o.size, mtime_nsec = o.mtime_nsec;
    xattrs = std::move(o.xattrs);
    extra_ = std::move(o.extra_);
    children_ = std::move(o.children_);
    free_data();
    data_ = std::exchange(o.data_, 0);
    return *this;
}
Inode::~Inode() { free_data(); }

static_assert(sizeof(Inode) == 80);
void* Inode::operator new(size_t) { return BlockPool::inodes().allocate(); }
void Inode::operator delete(void* p) noexcept { BlockPool::inodes().deallocate(p); }

Inode::Extra& Inode::extra() {
    if (!extra_) extra_ = std::make_unique<Extra>();
    return *extra_;
}

std::string Inode::object_path(const crypto::Digest& d) {
    std::string p(65, '/');
    for (size_t i = 0, j = 0; i < 32; ++i) {
        for (int shift : {4, 0}) {
            if (j == 2) ++j;
            p[j++] = kHex[(d.bytes[i] >> shift) & 15];
        }
    }
    return p;
}

const std::string& Inode::symlink_target() const { return extra_ ? extra_->symlink_target : kEmpty; }
void Inode::set_symlink_target(std::string target) {
    if (target.empty() && !extra_) return;
    extra().symlink_target = std::move(target);
    drop_empty_extra();
}

const std::optional<std::string>& Inode::content() const { return extra_ ? extra_->content : kNoContent; }
void Inode::set_content(std::optional<std::string> content) {
    if (!content && !extra_) return;
    extra().content = std::move(content);
    drop_empty_extra();
}

const std::string& Inode::primary_path() const { return extra_ ? extra_->primary_path : kEmpty; }
void Inode::set_primary_path(std::string path) {
    if (path.empty() && !extra_) return;
    extra().primary_path = std::move(path);
    drop_empty_extra();
}

void Inode::drop_empty_extra() {
    if (extra_->symlink_target.empty() && !extra_->content && extra_->primary_path.empty()) extra_.reset();
}

std::optional<crypto::Digest> Inode::fsverity() const {
    if (!has_digest()) return std::nullopt;
    crypto::Digest d;
    std::memcpy(d.bytes.data(), block(), d.bytes.size());
    return d;
}

std::string Inode::payload() const {
    const char* p = block() + (has_digest() ? 32 : 0);
    switch (payload_kind()) {
        case Payload::FromDigest: return object_path(*fsverity());
        case Payload::Object:
        case Payload::ObjectFile: {
            crypto::Digest d;
            std::memcpy(d.bytes.data(), p, d.bytes.size());
            return payload_kind() == Payload::Object ? object_path(d) : object_path(d).append(kObjectFile);
        }
        case Payload::Stored: return decode_payload(p);
        case Payload::None: break;
    }
    return {};
}

size_t Inode::data_size() const {
    size_t n = has_digest() ? 32 : 0;
    Payload kind = payload_kind();
    if (kind == Payload::Object || kind == Payload::ObjectFile) n += 32;
    if (kind == Payload::Stored) n += encoded_size(block() + n);
    return n;
}

void Inode::free_data() {
    if (!data_) return;
    if (data_size() == 32) {
        BlockPool::digests().deallocate(block());
    } else {
        ::operator delete(block(), std::align_val_t{16});
    }
    data_ = 0;
}

void Inode::set_digest_and_payload(const std::optional<crypto::Digest>& digest, std::string_view payload) {
    std::unique_ptr<char[]> encoded;
    size_t encoded_size = 0;
    std::optional<crypto::Digest> object;
    Payload kind = Payload::Stored;
    if (payload.empty()) {
        kind = Payload::None;
    } else if (digest && is_object_path_of(payload, *digest)) {
        kind = Payload::FromDigest;
    } else if ((payload.size() == 65 || (payload.size() == 70 && payload.ends_with(kObjectFile))) &&
               (object = leading_digest(payload))) {
        kind = payload.size() == 65 ? Payload::Object : Payload::ObjectFile;
        encoded_size = 32;
    } else {
        encoded = encode_payload(payload, encoded_size);
    }
    free_data();
    size_t digest_size = digest ? 32 : 0;
    size_t total = digest_size + encoded_size;
    if (total == 0) return;  // kind None, no digest: data_ stays 0
    // Pool blocks are 32-byte multiples of a 16-byte aligned slab: 16-byte aligned too.
    void* p = total == 32 ? BlockPool::digests().allocate() : ::operator new(total, std::align_val_t{16});
    auto* block = static_cast<char*>(p);
    if (digest) std::memcpy(block, digest->bytes.data(), digest_size);
    if (object) std::memcpy(block + digest_size, object->bytes.data(), 32);
    if (encoded) std::memcpy(block + digest_size, encoded.get(), encoded_size);
    data_ = reinterpret_cast<uintptr_t>(block) | static_cast<uintptr_t>(kind) | (digest ? kHasDigestBit : 0);
}

void Inode::set_payload(std::string_view payload) { set_digest_and_payload(fsverity(), payload); }

void Inode::set_fsverity(std::optional<crypto::Digest> digest) { set_digest_and_payload(digest, payload()); }

Children& Inode::children() {
    if (!children_) children_ = std::make_unique<Children>();
    return *children_;
}
const Children& Inode::children() const { return children_ ? *children_ : kNoChildren; }

Tree::Tree() : root_(Inode::make(S_IFDIR | 0755)) {}

Result<std::vector<std::string_view>> Tree::split(std::string_view path) {
    std::vector<std::string_view> parts;
    size_t pos = 0;
    while (pos < path.size()) {
        size_t next = path.find('/', pos);
        if (next == std::string_view::npos) next = path.size();
        std::string_view part = path.substr(pos, next - pos);
        pos = next + 1;
        if (part.empty()) continue;
        if (part == "." || part == "..")
            return make_error(EINVAL, "path '{}' has a '{}' component", path, part);
        if (part.size() > 255) return make_error(ENAMETOOLONG, "path '{}' has a name longer than 255 bytes", path);
        parts.push_back(part);
    }
    return parts;
}

InodePtr Tree::lookup(std::string_view path) const {
    auto parts = split(path);
    if (!parts) return nullptr;
    InodePtr cur = root_;
    for (auto p : *parts) {
        if (!cur->is_dir()) return nullptr;
        auto it = cur->children().find(p);
        if (it == cur->children().end()) return nullptr;
        cur = it->second;
    }
    return cur;
}

Result<Inode*> Tree::parent_dir(std::string_view path) const {
    auto parts = split(path);
    if (!parts) return std::move(parts).error();
    if (parts->empty()) return make_error(EINVAL, "path '{}' names the root", path);
    Inode* cur = root_.get();
    for (size_t i = 0; i + 1 < parts->size(); ++i) {
        auto it = cur->children().find((*parts)[i]);
        if (it == cur->children().end()) return make_error(ENOENT, "parent of '{}' does not exist", path);
        if (!it->second->is_dir()) return make_error(ENOTDIR, "parent of '{}' is not a directory", path);
        cur = it->second.get();
    }
    return cur;
}

static std::string_view last_component(std::string_view path) {
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

Result<void> Tree::insert(std::string_view path, InodePtr inode) {
    auto parent = parent_dir(path);
    if (!parent) return std::move(parent).error();
    (*parent)->children().insert_or_assign(last_component(path), std::move(inode));
    return {};
}

Result<void> Tree::remove(std::string_view path) {
    auto parent = parent_dir(path);
    if (!parent) {
        if (parent.error().code == ENOENT || parent.error().code == ENOTDIR) return {};
        return std::move(parent).error();
    }
    auto& ch = (*parent)->children();
    auto it = ch.find(last_component(path));
    if (it != ch.end()) ch.erase(it);
    return {};
}

Result<void> Tree::mkdir_parents(std::string_view path, uint32_t mode) {
    auto parts = split(path);
    if (!parts) return std::move(parts).error();
    Inode* cur = root_.get();
    for (size_t i = 0; i + 1 < parts->size(); ++i) {
        auto it = cur->children().find((*parts)[i]);
        if (it == cur->children().end()) {
            auto d = Inode::make(mode);
            it = cur->children().emplace((*parts)[i], d).first;
        } else if (!it->second->is_dir()) {
            return make_error(ENOTDIR, "parent of '{}' is not a directory", path);
        }
        cur = it->second.get();
    }
    return {};
}

}  // namespace imgctl::composefs
