#include "test_util.hpp"

#include <dirent.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace imgctl::composefs::test {

std::string vectors_dir() {
    const char* shared = std::getenv("IMGCTL_SHARED");
    EXPECT_NE(shared, nullptr) << "IMGCTL_SHARED is not set (run through meson test)";
    return std::string(shared ? shared : "/nonexistent") + "/vectors";
}

std::string read_vector(const std::string& name) {
    std::string path = vectors_dir() + "/" + name;
    gzFile f = gzopen(path.c_str(), "rb");  // reads plain files transparently too
    EXPECT_NE(f, nullptr) << "cannot open " << path;
    if (!f) return {};
    std::string out;
    char buf[65536];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, n);
    EXPECT_EQ(n, 0) << "read error in " << path;
    gzclose(f);
    return out;
}

std::vector<Expected> expected_vectors() {
    std::ifstream in(vectors_dir() + "/expected.tsv");
    EXPECT_TRUE(in.good()) << "expected.tsv missing";
    std::vector<Expected> v;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ls(line);
        Expected e;
        std::string mode;
        std::getline(ls, e.file, '\t');
        std::getline(ls, e.options, '\t');
        std::getline(ls, e.sha256, '\t');
        std::getline(ls, e.fsverity, '\t');
        std::getline(ls, mode, '\t');
        e.strict_ok = mode == "strict";
        v.push_back(e);
    }
    EXPECT_GE(v.size(), 14u);
    return v;
}

std::vector<std::string> should_fail_vectors() {
    std::vector<std::string> v;
    DIR* d = opendir(vectors_dir().c_str());
    EXPECT_NE(d, nullptr);
    if (!d) return v;
    while (auto* e = readdir(d)) {
        std::string n = e->d_name;
        if (n.starts_with("should-fail-")) v.push_back(n);
    }
    closedir(d);
    std::sort(v.begin(), v.end());
    EXPECT_GE(v.size(), 14u);
    return v;
}

}  // namespace imgctl::composefs::test
