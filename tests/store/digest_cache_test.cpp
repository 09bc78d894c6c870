#include "store/digest_cache.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <time.h>

#include <cstring>
#include <string>

#include "base/file_util.hpp"
#include "base/temp_dir.hpp"
#include "crypto/sha256.hpp"
#include "store/store.hpp"

using namespace imgctl;
using imgctl::store::CacheEntry;
using imgctl::store::DigestCache;
using imgctl::store::Store;

namespace {

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

struct stat make_stat(uint64_t dev, uint64_t ino, int64_t size, int64_t mtime, int64_t ctime) {
    struct stat st {};
    st.st_dev = dev;
    st.st_ino = ino;
    st.st_size = size;
    st.st_mtim = {mtime, 111};
    st.st_ctim = {ctime, 222};
    return st;
}

crypto::Digest digest_of(uint8_t b) {
    crypto::Digest d;
    d.bytes.fill(b);
    return d;
}

std::vector<CacheEntry> sample() {
    return {{store::FileStamp::of(make_stat(9, 7, 100, 5, 6)), digest_of(1)},
            {store::FileStamp::of(make_stat(3, 1ull << 40, 1ull << 33, -2, 1700000000)), digest_of(2)},
            {store::FileStamp::of(make_stat(3, 2, 65, 0, 0)), digest_of(3)}};
}

// Replaces the trailing SHA-256 so that only the checks before it can refuse the file.
std::string reseal(std::string f) {
    auto sum = crypto::Sha256::of(std::string_view(f).substr(0, f.size() - 32));
    f.replace(f.size() - 32, 32, reinterpret_cast<const char*>(sum.bytes.data()), 32);
    return f;
}

TEST(DigestCacheFormat, RoundTripsEveryFieldSortedByDevAndInode) {
    auto in = sample();
    std::string f = DigestCache::serialize(in);
    auto out = DigestCache::parse(bytes(f));
    ASSERT_TRUE(out);
    ASSERT_EQ(out->size(), 3u);
    EXPECT_EQ((*out)[0], in[2]);  // (3, 2)
    EXPECT_EQ((*out)[1], in[1]);  // (3, 2^40)
    EXPECT_EQ((*out)[2], in[0]);  // (9, 7)
}

// The layout of docs/store-format.md, "Digest cache", checked byte by byte.
TEST(DigestCacheFormat, MatchesTheDocumentedLayout) {
    std::vector<CacheEntry> one{{store::FileStamp::of(make_stat(0x0102, 0x0304, 0x0506, 0x0708, 0x090a)), digest_of(0xab)}};
    std::string f = DigestCache::serialize(one);
    ASSERT_EQ(f.size(), 24u + 80u + 32u);
    EXPECT_EQ(f.substr(0, 8), "imgctlDC");
    EXPECT_EQ(f.substr(8, 8), std::string("\x01\0\0\0\x50\0\0\0", 8));  // version 1, entry size 80
    EXPECT_EQ(f.substr(16, 8), std::string("\x01\0\0\0\0\0\0\0", 8));   // one entry
    const char* e = f.data() + 24;
    EXPECT_EQ(std::string(e, 2), "\x02\x01");        // dev
    EXPECT_EQ(std::string(e + 8, 2), "\x04\x03");    // ino
    EXPECT_EQ(std::string(e + 16, 2), "\x06\x05");   // size
    EXPECT_EQ(std::string(e + 24, 2), "\x08\x07");   // mtime s
    EXPECT_EQ(std::string(e + 32, 2), "\x0a\x09");   // ctime s
    EXPECT_EQ(std::string(e + 40, 4), std::string("\x6f\0\0\0", 4));  // mtime ns 111
    EXPECT_EQ(std::string(e + 44, 4), std::string("\xde\0\0\0", 4));  // ctime ns 222
    EXPECT_EQ(std::string(e + 48, 32), std::string(32, '\xab'));
    auto sum = crypto::Sha256::of(std::string_view(f).substr(0, 104));
    EXPECT_EQ(std::memcmp(f.data() + 104, sum.bytes.data(), 32), 0);
}

TEST(DigestCacheFormat, RefusesEveryTruncationFlippedByteAndExtraByte) {
    std::string f = DigestCache::serialize(sample());
    for (size_t n = 0; n < f.size(); ++n) EXPECT_FALSE(DigestCache::parse(bytes(f.substr(0, n)))) << "length " << n;
    for (size_t i = 0; i < f.size(); ++i) {
        std::string g = f;
        g[i] ^= 0x10;
        EXPECT_FALSE(DigestCache::parse(bytes(g))) << "byte " << i;
    }
    EXPECT_FALSE(DigestCache::parse(bytes(f + '\0')));
    EXPECT_TRUE(DigestCache::parse(bytes(DigestCache::serialize({}))));
}

TEST(DigestCacheFormat, RefusesOtherVersionsAndUnsortedEntriesEvenWhenSealed) {
    std::string f = DigestCache::serialize(sample());
    std::string v2 = f;
    v2[8] = 2;
    EXPECT_FALSE(DigestCache::parse(bytes(reseal(v2))));
    std::string size = f;
    size[12] = 81;
    EXPECT_FALSE(DigestCache::parse(bytes(reseal(size))));
    std::string count = f;
    count[16] = 4;
    EXPECT_FALSE(DigestCache::parse(bytes(reseal(count))));
    std::string swapped = f;  // entries 0 and 2 exchanged: (9,7) before (3,2)
    std::string a = f.substr(24, 80), c = f.substr(24 + 160, 80);
    swapped.replace(24, 80, c);
    swapped.replace(24 + 160, 80, a);
    EXPECT_FALSE(DigestCache::parse(bytes(reseal(swapped))));
    EXPECT_TRUE(DigestCache::parse(bytes(reseal(f))));  // reseal itself changes nothing
}

class DigestCacheTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto t = TempDir::create("digest-cache-test-");
        ASSERT_TRUE(t);
        dir_.emplace(std::move(*t));
        auto s = Store::init(dir_->path() + "/repo", store::VerityPolicy::Optional);
        ASSERT_TRUE(s) << s.error().message;
        store_.emplace(std::move(*s));
        auto d = store_->insert_object_bytes(bytes(std::string(200, 'x')));
        ASSERT_TRUE(d) << d.error().message;
        stored_ = *d;
    }
    std::optional<TempDir> dir_;
    std::optional<Store> store_;
    crypto::Digest stored_;
};

TEST_F(DigestCacheTest, HitsOnlyTheExactStampOfAStoredObject) {
    auto st = make_stat(5, 6, 200, 1000, 1001);
    auto other = make_stat(5, 7, 200, 1000, 1001);
    DigestCache c(&*store_, 2000);
    c.record(st, stored_);
    c.record(other, digest_of(9));  // not in the store
    ASSERT_TRUE(c.save());
    auto loaded = DigestCache::load(*store_);
    EXPECT_EQ(loaded.loaded_entries(), 2u);
    EXPECT_EQ(loaded.lookup(st), stored_);
    EXPECT_FALSE(loaded.lookup(other)) << "object missing from the store";
    auto changed = [&](auto edit) {
        struct stat s2 = st;
        edit(s2);
        return loaded.lookup(s2);
    };
    EXPECT_FALSE(changed([](struct stat& s) { s.st_dev = 4; }));
    EXPECT_FALSE(changed([](struct stat& s) { s.st_ino = 8; }));
    EXPECT_FALSE(changed([](struct stat& s) { s.st_size = 201; }));
    EXPECT_FALSE(changed([](struct stat& s) { s.st_mtim.tv_sec += 1; }));
    EXPECT_FALSE(changed([](struct stat& s) { s.st_mtim.tv_nsec += 1; }));
    EXPECT_FALSE(changed([](struct stat& s) { s.st_ctim.tv_sec += 1; }));
    EXPECT_FALSE(changed([](struct stat& s) { s.st_ctim.tv_nsec += 1; }));
    EXPECT_EQ(loaded.recorded_entries(), 0u) << "a loaded cache starts recording afresh";
}

// The cache's own presence check must be as strict as Store::has_object: no symlink followed.
TEST_F(DigestCacheTest, SymlinksInTheObjectStoreAreNoHit) {
    auto fake = digest_of(0x5c);  // objects/5c/5c5c…: planted as a symlink to a real object
    auto moved = digest_of(0x6d);  // objects/6d -> a directory outside, holding the object's name
    std::string objects = store_->objects_path(), hex = stored_.hex();
    ASSERT_EQ(::mkdir((objects + "/5c").c_str(), 0755), 0);
    ASSERT_EQ(::symlink((objects + "/" + hex.substr(0, 2) + "/" + hex.substr(2)).c_str(),
                        (objects + "/" + Store::object_path(fake)).c_str()), 0);
    std::string outside = dir_->path() + "/outside";
    ASSERT_EQ(::mkdir(outside.c_str(), 0755), 0);
    auto fd = open_at(AT_FDCWD, outside + "/" + moved.hex().substr(2), O_WRONLY | O_CREAT, 0644);
    ASSERT_TRUE(fd);
    ASSERT_EQ(::symlink(outside.c_str(), (objects + "/6d").c_str()), 0);
    DigestCache c(&*store_, 2000);
    c.record(make_stat(1, 1, 200, 10, 10), stored_);
    c.record(make_stat(1, 2, 200, 10, 10), fake);
    c.record(make_stat(1, 3, 200, 10, 10), moved);
    ASSERT_TRUE(c.save());
    auto loaded = DigestCache::load(*store_);
    EXPECT_EQ(loaded.lookup(make_stat(1, 1, 200, 10, 10)), stored_);
    EXPECT_FALSE(loaded.lookup(make_stat(1, 2, 200, 10, 10))) << "object is a symlink";
    EXPECT_FALSE(loaded.lookup(make_stat(1, 3, 200, 10, 10))) << "objects/XX is a symlink";
}

TEST_F(DigestCacheTest, RacyStampsAreNotRecorded) {
    DigestCache c(&*store_, 1000);  // racy from second 1000 - kRacyMarginSec
    int64_t edge = 1000 - DigestCache::kRacyMarginSec;
    c.record(make_stat(1, 1, 200, edge - 1, edge - 1), stored_);
    c.record(make_stat(1, 2, 200, edge, edge - 1), stored_);
    c.record(make_stat(1, 3, 200, edge - 1, edge), stored_);
    c.record(make_stat(1, 4, 200, 5000, 5000), stored_);
    EXPECT_EQ(c.recorded_entries(), 1u);
}

TEST_F(DigestCacheTest, MissingOrGarbageFileIsAnEmptyCacheAndIsReplaced) {
    EXPECT_EQ(DigestCache::load(*store_).loaded_entries(), 0u);
    ASSERT_EQ(::mkdirat(store_->root_fd(), "cache", 0755), 0);
    auto fd = open_at(store_->root_fd(), "cache/digests", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_TRUE(fd);
    ASSERT_TRUE(write_all(fd->get(), std::string(500, 'g')));
    EXPECT_EQ(DigestCache::load(*store_).loaded_entries(), 0u);
    DigestCache c(&*store_, 2000);
    c.record(make_stat(1, 1, 200, 10, 10), stored_);
    ASSERT_TRUE(c.save());
    EXPECT_EQ(DigestCache::load(*store_).loaded_entries(), 1u);
}

}  // namespace
