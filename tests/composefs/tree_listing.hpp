#pragma once
// Test helper: a plain, writer-independent text listing of a Tree (one line per name, sorted
// depth-first), so tests can compare trees field by field and print readable diffs.
#include <string>

#include "composefs/tree.hpp"

namespace imgctl::composefs::testing {

struct ListingOptions {
    bool dir_sizes = false;  ///< include directory sizes (the writer computes them)
    bool nlink_dirs = false; ///< include directory nlink (the writer recomputes it)
    /// leave out the opaque=x markers format v1 puts on directories holding whiteouts
    bool strip_v1_markers = false;
};

std::string tree_listing(const Tree& tree, const ListingOptions& o = {});

}  // namespace imgctl::composefs::testing
