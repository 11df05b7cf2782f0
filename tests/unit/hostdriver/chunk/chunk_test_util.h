// tests/unit/hostdriver/chunk/chunk_test_util.h
// Shared helpers for the hostdriver/chunk tests: the seed (SPLITARRAY_SEED), random
// fingerprints and blocks, and hex formatting.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/prng.h"
#include "protocol/shelf_messages.h"

namespace splitarray::hostdriver::chunk::test {

using protocol::ChunkLocation;
using protocol::Fingerprint;

inline uint64_t seed_from_env() {
  const char* text = std::getenv("SPLITARRAY_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 20261121;
}

inline protocol::Fingerprint random_fp(Prng& rng) {
  protocol::Fingerprint fp{};
  rng.fill(fp);
  return fp;
}

inline std::vector<uint8_t> random_bytes(Prng& rng, size_t size) {
  std::vector<uint8_t> bytes(size);
  rng.fill(bytes);
  return bytes;
}

inline std::string to_hex(const protocol::Fingerprint& fp) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t byte : fp) {
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0xF]);
  }
  return out;
}

}  // namespace splitarray::hostdriver::chunk::test
