#include "composefs/tree.hpp"

namespace imgctl::composefs {

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
        auto it = cur->children.find(p);
        if (it == cur->children.end()) return nullptr;
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
        auto it = cur->children.find((*parts)[i]);
        if (it == cur->children.end()) return make_error(ENOENT, "parent of '{}' does not exist", path);
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
    (*parent)->children.insert_or_assign(std::string(last_component(path)), std::move(inode));
    return {};
}

Result<void> Tree::remove(std::string_view path) {
    auto parent = parent_dir(path);
    if (!parent) {
        if (parent.error().code == ENOENT || parent.error().code == ENOTDIR) return {};
        return std::move(parent).error();
    }
    auto& ch = (*parent)->children;
    auto it = ch.find(last_component(path));
    if (it != ch.end()) ch.erase(it);
    return {};
}

Result<void> Tree::mkdir_parents(std::string_view path, uint32_t mode) {
    auto parts = split(path);
    if (!parts) return std::move(parts).error();
    Inode* cur = root_.get();
    for (size_t i = 0; i + 1 < parts->size(); ++i) {
        auto it = cur->children.find((*parts)[i]);
        if (it == cur->children.end()) {
            auto d = Inode::make(mode);
            it = cur->children.emplace(std::string((*parts)[i]), d).first;
        } else if (!it->second->is_dir()) {
            return make_error(ENOTDIR, "parent of '{}' is not a directory", path);
        }
        cur = it->second.get();
    }
    return {};
}

}  // namespace imgctl::composefs
