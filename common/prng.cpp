#include "common/prng.h"

#include <cstring>

#include "common/assert.h"

namespace splitarray {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Prng::Prng(uint64_t seed) {
  uint64_t x = seed;
  for (auto& word : state_) word = splitmix64(x);
  // xoshiro's state must not be all zero; splitmix64 never yields four zeros in a row.
  ASSERT((state_[0] | state_[1] | state_[2] | state_[3]) != 0);
}

uint64_t Prng::next_u64() {
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

uint64_t Prng::below(uint64_t bound) {
  ASSERT(bound > 0);
  __uint128_t m = static_cast<__uint128_t>(next_u64()) * bound;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<__uint128_t>(next_u64()) * bound;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

uint64_t Prng::between(uint64_t lo, uint64_t hi) {
  ASSERT(lo <= hi);
  if (lo == 0 && hi == UINT64_MAX) return next_u64();
  return lo + below(hi - lo + 1);
}

double Prng::unit() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

bool Prng::chance(double p) {
  ASSERT(p >= 0.0);
  ASSERT(p <= 1.0);
  return unit() < p;
}

void Prng::fill(std::span<uint8_t> out) {
  size_t i = 0;
  for (; i + 8 <= out.size(); i += 8) {
    const uint64_t v = next_u64();
    std::memcpy(out.data() + i, &v, 8);
  }
  if (i < out.size()) {
    const uint64_t v = next_u64();
    std::memcpy(out.data() + i, &v, out.size() - i);
  }
}

Prng Prng::fork() {
  // Mix with a fixed odd constant so a child's stream differs from the parent's continuation.
  return Prng(next_u64() ^ 0xD1B54A32D192ED03ULL);
}

}  // namespace splitarray
