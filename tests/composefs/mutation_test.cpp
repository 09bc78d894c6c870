// Robustness: randomly mutated vectors never crash the parser, the EROFS writer or the dump
// writer (deterministic seed; a cheap stand-in for the fuzzer, run under ASan in CI).
#include <random>

#include <gtest/gtest.h>

#include "composefs/dump_parser.hpp"
#include "composefs/dump_writer.hpp"
#include "composefs/erofs_writer.hpp"
#include "test_util.hpp"

namespace imgctl::composefs {
namespace {

TEST(Mutation, MutatedDumpsAreRejectedOrWrittenNeverCrash) {
    std::mt19937 rng(20261204);
    const char kInteresting[] = " \n\\@/-=x0.";
    int accepted = 0, rejected = 0;
    std::vector<std::string> seeds;
    for (const char* f : {"special.dump", "no-newline.dump", "longlink.dump", "bigfile-xattr.dump",
                          "should-fail-self-hardlink.dump", "honggfuzz-long-symlink.dump"})
        seeds.push_back(test::read_vector(f));
    std::string extra = "/ 4096 40755 2 0 0 0 0.0 - - -\n/a 0 100644 2 0 0 0 0.0 - - -\n/b 0 @100644 0 0 0 0 0.0 /a - -\n";
    seeds.push_back(extra);
    for (int iter = 0; iter < 3000; ++iter) {
        std::string s = seeds[rng() % seeds.size()];
        int edits = 1 + rng() % 4;
        for (int e = 0; e < edits && !s.empty(); ++e) {
            size_t pos = rng() % s.size();
            switch (rng() % 4) {
                case 0: s[pos] = kInteresting[rng() % (sizeof kInteresting - 1)]; break;
                case 1: s.erase(pos, 1 + rng() % 8); break;
                case 2: s.insert(pos, 1, static_cast<char>(rng())); break;
                default: s.insert(pos, s.substr(rng() % s.size(), rng() % 40)); break;
            }
        }
        for (bool strict : {false, true}) {
            auto t = parse_dump(s, DumpParseOptions{.strict = strict});
            if (!t) {
                ++rejected;
                continue;
            }
            ++accepted;
            (void)write_dump(*t);
            auto img = write_erofs(*t);
            if (img) {
                EXPECT_EQ(img->bytes.size() % 4096, 0u);
            }
        }
    }
    EXPECT_GT(accepted, 100);
    EXPECT_GT(rejected, 100);
}

}  // namespace
}  // namespace imgctl::composefs
