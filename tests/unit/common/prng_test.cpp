#include <doctest/doctest.h>

#include <array>
#include <vector>

#include "common/prng.h"

namespace splitarray {
namespace {

TEST_CASE("common/prng: same seed, same sequence, different seed, different sequence") {
  Prng a(42), b(42), c(43);
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t x = a.next_u64();
    CHECK(x == b.next_u64());
    if (x != c.next_u64()) ++differ;
  }
  CHECK(differ > 990);
}

TEST_CASE("common/prng: fork gives an independent stream that does not disturb siblings") {
  Prng parent1(7), parent2(7);
  Prng child1 = parent1.fork();
  Prng child2 = parent2.fork();
  // Forks at the same point are equal; drawing from one child does not change the parent.
  for (int i = 0; i < 100; ++i) CHECK(child1.next_u64() == child2.next_u64());
  CHECK(parent1.next_u64() == parent2.next_u64());
  // A child differs from the parent's continuation.
  Prng p(9);
  Prng child = p.fork();
  int same = 0;
  for (int i = 0; i < 100; ++i) same += child.next_u64() == p.next_u64();
  CHECK(same == 0);
}

TEST_CASE("common/prng: below() stays in range and is roughly uniform") {
  Prng rng(1234);
  constexpr int kBuckets = 10;
  constexpr int kDraws = 100000;
  std::array<int, kBuckets> counts{};
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t v = rng.below(kBuckets);
    REQUIRE(v < kBuckets);
    ++counts[v];
  }
  // Chi-square with 9 degrees of freedom: 27.9 is the 0.1% critical value.
  double chi2 = 0;
  const double expected = static_cast<double>(kDraws) / kBuckets;
  for (int n : counts) chi2 += (n - expected) * (n - expected) / expected;
  CHECK(chi2 < 27.9);
}

TEST_CASE("common/prng: between() is inclusive and handles the full range") {
  Prng rng(5);
  bool saw_lo = false, saw_hi = false;
  for (int i = 0; i < 10000; ++i) {
    const uint64_t v = rng.between(3, 6);
    REQUIRE(v >= 3);
    REQUIRE(v <= 6);
    saw_lo |= v == 3;
    saw_hi |= v == 6;
  }
  CHECK(saw_lo);
  CHECK(saw_hi);
  (void)rng.between(0, UINT64_MAX);  // must not divide by zero
}

TEST_CASE("common/prng: fill covers odd lengths deterministically") {
  Prng a(77), b(77);
  std::vector<uint8_t> x(13), y(13);
  a.fill(x);
  b.fill(y);
  CHECK(x == y);
  int zeros = 0;
  for (uint8_t v : x) zeros += v == 0;
  CHECK(zeros < 5);
}

}  // namespace
}  // namespace splitarray
