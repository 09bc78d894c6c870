#pragma once
// Store-internal: the pending batch of staged objects (see Store::begin_batch()).

#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "store/store.hpp"

namespace imgctl::store {

struct ObjectWriter::Batch {
    std::mutex mu;
    std::vector<std::pair<std::string, crypto::Digest>> staged;  // name in tmp/, digest
    std::unordered_set<crypto::Digest, crypto::DigestHash> pending;
};

}  // namespace imgctl::store
