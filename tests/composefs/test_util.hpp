#pragma once
// Helpers shared by the composefs unit tests: where the conformance vectors live, and reading
// (possibly gzip-compressed) vector files.

#include <string>
#include <vector>

namespace imgctl::composefs::test {

/// $IMGCTL_SHARED/vectors; the test fails (not skips) when it is missing.
std::string vectors_dir();
/// Reads a file, gunzipping it when the name ends in ".gz". Fails the test on error.
std::string read_vector(const std::string& name);

/// One line of expected.tsv.
struct Expected {
    std::string file, options, sha256, fsverity;
    bool strict_ok = false;
};
std::vector<Expected> expected_vectors();
/// The should-fail-*.dump files.
std::vector<std::string> should_fail_vectors();

}  // namespace imgctl::composefs::test
