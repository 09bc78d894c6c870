// Every file in tests/data/composefs/bad/ (regression cases, many found by the fuzzers in
// tests/fuzz/) must be refused with an Error: *.dump by the dump parser in both modes, *.img
// by the image reader and the external-file listing.
#include <dirent.h>
#include <fcntl.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/file_util.hpp"
#include "composefs/dump_parser.hpp"
#include "composefs/erofs_reader.hpp"

namespace imgctl::composefs {
namespace {

std::vector<std::string> bad_files(std::string& dir) {
    const char* root = std::getenv("IMGCTL_SOURCE_ROOT");
    EXPECT_NE(root, nullptr) << "IMGCTL_SOURCE_ROOT is not set (run through meson test)";
    dir = std::string(root ? root : ".") + "/tests/data/composefs/bad";
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (auto* e = readdir(d))
            if (e->d_name[0] != '.') out.emplace_back(e->d_name);
        closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

TEST(BadInputs, EveryRegressionCaseIsRefused) {
    std::string dir;
    auto files = bad_files(dir);
    ASSERT_GE(files.size(), 4u) << "no regression cases in " << dir;
    for (const auto& f : files) {
        SCOPED_TRACE(f);
        auto data = read_file_at(AT_FDCWD, dir + "/" + f);
        ASSERT_TRUE(data) << data.error().message;
        if (f.ends_with(".dump")) {
            for (bool strict : {false, true}) {
                auto t = parse_dump(*data, DumpParseOptions{.strict = strict});
                EXPECT_FALSE(t) << "accepted (strict=" << strict << ")";
            }
        } else if (f.ends_with(".img")) {
            std::span<const std::byte> b(reinterpret_cast<const std::byte*>(data->data()), data->size());
            EXPECT_FALSE(read_image(b, f));
            EXPECT_FALSE(list_external_files(b, f));
        } else {
            ADD_FAILURE() << "unknown kind of regression case (want .dump or .img)";
        }
    }
}

}  // namespace
}  // namespace imgctl::composefs
