// tests/unit/hostdriver/ec/ec_test_util.h
// Shared helpers for the hostdriver/ec tests: the seed of randomized tests (printed on every run,
// overridden by SPLITARRAY_SEED) and random byte buffers.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/prng.h"

namespace splitarray::hostdriver::ec::testing {

inline constexpr uint64_t kDefaultSeed = 20261121;

// The seed for a randomized test; printed so a failure can be replayed with SPLITARRAY_SEED.
inline uint64_t test_seed() {
  const char* text = std::getenv("SPLITARRAY_SEED");
  const uint64_t seed = text != nullptr ? std::strtoull(text, nullptr, 10) : kDefaultSeed;
  MESSAGE("SPLITARRAY_SEED=" << seed);
  return seed;
}

inline std::vector<uint8_t> random_bytes(Prng& rng, size_t length) {
  std::vector<uint8_t> bytes(length);
  rng.fill(bytes);
  return bytes;
}

}  // namespace splitarray::hostdriver::ec::testing
