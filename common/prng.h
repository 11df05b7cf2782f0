// common/prng.h
// The project's only source of randomness (STYLE.md "Determinism"): xoshiro256** seeded through
// splitmix64. Seeded explicitly; fork() derives an independent child stream so each component
// gets its own sequence and adding draws in one component does not perturb the others.
#pragma once

#include <cstdint>
#include <span>

namespace splitarray {

class Prng final {
 public:
  explicit Prng(uint64_t seed);

  uint64_t next_u64();
  // Uniform in [0, bound); bound > 0. Unbiased (Lemire's multiply-and-reject).
  uint64_t below(uint64_t bound);
  // Uniform in [lo, hi], inclusive; lo <= hi.
  uint64_t between(uint64_t lo, uint64_t hi);
  // True with probability p (0 <= p <= 1).
  bool chance(double p);
  double unit();  // uniform in [0, 1)
  void fill(std::span<uint8_t> out);
  // An independent generator derived from this one's next output.
  Prng fork();

 private:
  uint64_t state_[4];
};

}  // namespace splitarray
