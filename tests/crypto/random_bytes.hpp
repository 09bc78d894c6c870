#pragma once

#include <random>
#include <string>

namespace imgctl::crypto::testing_data {

/// `n` pseudo-random bytes, the same for the same seed (the crypto tests' inputs).
inline std::string random_bytes(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}

}  // namespace imgctl::crypto::testing_data
