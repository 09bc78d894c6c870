// Children (a directory's entries as a sorted run plus a sorted tail) checked against a
// std::map model: any insertion order, erase through iterators, names of every length.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>

#include "composefs/tree.hpp"

namespace imgctl::composefs {
namespace {

// Children and the model hold the same entries in the same order (forward and by lookup).
void expect_same(const Children& c, const std::map<std::string, Inode*>& model) {
    ASSERT_EQ(c.size(), model.size());
    auto m = model.begin();
    for (const auto& [name, child] : c) {
        ASSERT_EQ(name.view(), m->first);
        ASSERT_EQ(child.get(), m->second) << m->first;
        ++m;
    }
    for (const auto& [name, inode] : model) {
        auto it = c.find(name);
        ASSERT_NE(it, c.end()) << name;
        ASSERT_EQ(it->first.view(), name);
        ASSERT_EQ(it->second.get(), inode);
    }
}

std::string random_name(std::mt19937_64& rng) {
    // Lengths around the 15-byte inline limit and up to 255, bytes 0x01..0xff.
    std::uniform_int_distribution<int> len(1, rng() % 4 == 0 ? 255 : 20), byte(1, 255);
    std::string s(len(rng), 'x');
    for (auto& ch : s) ch = static_cast<char>(byte(rng));
    if (s.find('/') != std::string::npos) s[s.find('/')] = 'a';
    return s;
}

TEST(EntryName, InlineAndLongNamesReadBack) {
    for (size_t n : {0, 1, 14, 15, 16, 17, 255, 4000}) {
        std::string s(n, 'q');
        if (n) s[n - 1] = '\xff';
        EntryName a(s);
        EXPECT_EQ(a.view(), s);
        EntryName b = a;
        EXPECT_EQ(b.view(), s);
        EntryName c = std::move(a);
        EXPECT_EQ(c.view(), s);
        EXPECT_TRUE(a.empty());
        b = c;
        EXPECT_EQ(b.view(), s);
        EXPECT_EQ(std::string("/") + c, "/" + s);
        EXPECT_EQ(fmt::format("<{}>", c), "<" + s + ">");
    }
    EXPECT_EQ(sizeof(EntryName), 16u);
    EXPECT_EQ(sizeof(ChildEntry), 24u);
}

TEST(Children, RandomInsertsFindsAndErasesMatchAMap) {
    std::mt19937_64 rng(42);
    for (int round = 0; round < 20; ++round) {
        Children c;
        std::map<std::string, Inode*> model;
        std::vector<InodePtr> keep;
        int n = round < 10 ? 50 : 3000;
        for (int i = 0; i < n; ++i) {
            std::string name = random_name(rng);
            auto inode = Inode::make(S_IFREG | 0644);
            keep.push_back(inode);
            switch (rng() % 4) {
                case 0: {
                    auto [it, inserted] = c.emplace(name, inode);
                    bool fresh = model.emplace(name, inode.get()).second;
                    ASSERT_EQ(inserted, fresh);
                    ASSERT_EQ(it->first.view(), name);
                    ASSERT_EQ(it->second.get(), model[name]);
                    break;
                }
                case 1:
                    c.insert_or_assign(name, inode);
                    model[name] = inode.get();
                    break;
                case 2:
                    c[name] = inode;
                    model[name] = inode.get();
                    break;
                case 3:  // erase an existing name (by name or through its iterator), or a missing one
                    if (!model.empty() && rng() % 2) {
                        auto m = model.begin();
                        std::advance(m, rng() % model.size());
                        std::string victim = m->first;
                        auto next = std::next(m);
                        auto it = c.find(victim);
                        ASSERT_NE(it, c.end());
                        auto after = c.erase(it);
                        if (next == model.end()) {
                            ASSERT_EQ(after, c.end());
                        } else {
                            ASSERT_NE(after, c.end());
                            ASSERT_EQ(after->first.view(), next->first);
                        }
                        model.erase(m);
                    } else {
                        ASSERT_EQ(c.erase(name), model.erase(name));
                    }
                    break;
            }
        }
        expect_same(c, model);
        if (HasFatalFailure()) return;
        Children copy = c;  // copies keep the order
        expect_same(copy, model);
        Children moved = std::move(copy);  // a move empties the source
        expect_same(moved, model);
        EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move)
        EXPECT_EQ(copy.begin(), copy.end());
        copy = std::move(moved);
        expect_same(copy, model);
        EXPECT_EQ(moved.begin(), moved.end());  // NOLINT(bugprone-use-after-move)
        size_t removed = c.erase_if([](const ChildEntry& e) { return e.first.view()[0] & 1; });
        size_t expected = std::erase_if(model, [](const auto& kv) { return kv.first[0] & 1; });
        EXPECT_EQ(removed, expected);
        expect_same(c, model);
        c.clear();
        EXPECT_TRUE(c.empty());
        EXPECT_EQ(c.begin(), c.end());
    }
}

// The tail's first entry sorting after the whole run (the run's last was erased): iteration
// must step from the exhausted run into the tail and on to the end.
TEST(Children, TailAfterTheWholeRun) {
    Children c;
    auto a = Inode::make(S_IFREG | 0644), b = Inode::make(S_IFDIR | 0755), d = Inode::make(S_IFREG | 0600);
    c.emplace("a", a);
    c.emplace("c", d);
    c.emplace("b", b);  // into the tail
    c.emplace("bb", b);
    EXPECT_EQ(c.erase("c"), 1u);
    std::vector<std::string> names;
    for (const auto& [name, child] : c) names.push_back(name.str());
    EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "bb"}));
    auto it = c.find("b");
    ASSERT_NE(it, c.end());
    EXPECT_EQ((++it)->first, "bb");
    EXPECT_EQ(++it, c.end());
    auto after_bb = c.erase(c.find("bb"));
    EXPECT_EQ(after_bb, c.end());
    auto after_a = c.erase(c.find("a"));
    ASSERT_NE(after_a, c.end());
    EXPECT_EQ(after_a->first, "b");
    EXPECT_EQ(c.size(), 1u);
}

TEST(Children, ErasingWhileIteratingVisitsEveryEntryOnce) {
    std::mt19937_64 rng(7);
    Children c;
    std::map<std::string, Inode*> model;
    for (int i = 0; i < 2000; ++i) {
        auto name = fmt::format("{:08}", rng() % 100000);
        auto inode = Inode::make(S_IFREG | 0644);
        if (c.emplace(name, inode).second) model.emplace(name, inode.get());
        c[name]->nlink = 1;  // keeps the inode alive through the entry
    }
    // The opaque-directory loop of layer application: erase some, step over the others.
    std::vector<std::string> seen;
    size_t before = c.size();
    for (auto it = c.begin(); it != c.end();) {
        seen.push_back(it->first.str());
        if (it->first.view().back() % 3 == 0) {
            model.erase(it->first.str());
            it = c.erase(it);
        } else {
            ++it;
        }
    }
    EXPECT_EQ(seen.size(), before);
    EXPECT_LT(model.size(), before);
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
    expect_same(c, model);
}

// 200k names in random order into one directory (readdir order, tar order): no quadratic
// cost, and iteration is sorted.
TEST(Children, TwoHundredThousandRandomInsertsAreFastAndSorted) {
    std::vector<std::string> names;
    for (int i = 0; i < 200000; ++i) names.push_back(fmt::format("file-{}", i * 7919 % 1000003));
    std::shuffle(names.begin(), names.end(), std::mt19937_64(1));
    auto inode = Inode::make(S_IFREG | 0644);
    auto start = std::chrono::steady_clock::now();
    Children c;
    for (const auto& n : names) ASSERT_TRUE(c.emplace(n, inode).second);
    for (const auto& n : names) ASSERT_NE(c.find(n), c.end());
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(secs, 1.0);
    EXPECT_EQ(c.size(), names.size());
    std::sort(names.begin(), names.end());
    size_t i = 0;
    for (const auto& [name, child] : c) ASSERT_EQ(name.view(), names[i++]);
    EXPECT_EQ(i, names.size());
}

}  // namespace
}  // namespace imgctl::composefs
