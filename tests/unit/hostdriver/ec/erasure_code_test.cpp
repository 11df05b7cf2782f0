// Tests for hostdriver/ec/erasure_code.h: the parity format is the Cauchy matrix, every erasure
// pattern of small shapes is either recovered byte for byte or reported unrecoverable (never
// wrong bytes), and the decode-table cache stays bounded. Randomized parts print their seed and
// take SPLITARRAY_SEED.
#include "hostdriver/ec/erasure_code.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/prng.h"
#include "tests/unit/hostdriver/ec/ec_test_util.h"

namespace splitarray::hostdriver::ec {
namespace {

using testing::random_bytes;
using testing::test_seed;
using Fragments = std::vector<std::vector<uint8_t>>;

// Written into output buffers first, so a call that must not write can be seen not to.
constexpr uint8_t kSentinel = 0xa5;

ErasureCode make_code(int k, int m) {
  Result<ErasureCode> code = ErasureCode::create(k, m);
  REQUIRE(code.ok());
  return std::move(code).value();
}

// k random data fragments of `length` bytes followed by their m parity fragments.
Fragments make_stripe(const ErasureCode& code, size_t length, Prng& rng) {
  Fragments stripe;
  for (int i = 0; i < code.width(); ++i) stripe.push_back(random_bytes(rng, length));
  std::vector<std::span<const uint8_t>> data(stripe.begin(),
                                             stripe.begin() + code.data_fragments());
  std::vector<std::span<uint8_t>> parity(stripe.begin() + code.data_fragments(), stripe.end());
  code.encode(data, parity);
  return stripe;
}

uint64_t binomial(int n, int r) {
  uint64_t result = 1;
  for (int i = 1; i <= r; ++i) result = result * static_cast<uint64_t>(n - r + i) / i;
  return result;
}

uint64_t patterns_with_at_most(int width, int lost_max) {
  uint64_t total = 0;
  for (int lost = 0; lost <= lost_max; ++lost) total += binomial(width, lost);
  return total;
}

bool all_sentinel(const std::vector<uint8_t>& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == kSentinel; });
}

struct Outcome {
  uint64_t recovered = 0;      // patterns of <= m lost, every lost fragment rebuilt exactly
  uint64_t unrecoverable = 0;  // patterns of > m lost, kCorruption and outputs untouched
  uint64_t wrong = 0;          // anything else
  std::string first_wrong;
};

// Loses the fragments in `lost`, gives the rest as present and asks for the lost ones back.
void try_pattern(ErasureCode& code, const Fragments& stripe, uint64_t lost, Fragments& out,
                 Outcome& outcome) {
  std::vector<PresentFragment> present;
  std::vector<WantedFragment> wanted;
  for (int i = 0; i < code.width(); ++i) {
    if (lost & (uint64_t{1} << i)) {
      std::fill(out[i].begin(), out[i].end(), kSentinel);
      wanted.push_back({.index = i, .bytes = out[i]});
    } else {
      present.push_back({.index = i, .bytes = stripe[i]});
    }
  }
  const Result<void> result = code.reconstruct(present, wanted);
  bool right = false;
  if (std::popcount(lost) <= code.parity_fragments()) {
    right = result.ok();
    for (const WantedFragment& w : wanted) right = right && out[w.index] == stripe[w.index];
    outcome.recovered += right ? 1 : 0;
  } else {
    right = !result.ok() && result.code() == Code::kCorruption;
    for (const WantedFragment& w : wanted) right = right && all_sentinel(out[w.index]);
    outcome.unrecoverable += right ? 1 : 0;
  }
  if (!right && outcome.wrong++ == 0) outcome.first_wrong = "lost mask " + std::to_string(lost);
}

// Every one of the 2^(k+m) erasure patterns of one random stripe of `length` bytes.
Outcome try_every_pattern(ErasureCode& code, size_t length, Prng& rng) {
  const Fragments stripe = make_stripe(code, length, rng);
  Fragments out(static_cast<size_t>(code.width()), std::vector<uint8_t>(length));
  Outcome outcome;
  for (uint64_t lost = 0; lost < (uint64_t{1} << code.width()); ++lost) {
    try_pattern(code, stripe, lost, out, outcome);
  }
  return outcome;
}

void check_every_pattern(int k, int m, size_t length, Prng& rng) {
  ErasureCode code = make_code(k, m);
  const Outcome outcome = try_every_pattern(code, length, rng);
  INFO("RS(" << k << "," << m << "), " << length << " bytes, " << outcome.first_wrong);
  CHECK(outcome.wrong == 0);
  CHECK(outcome.recovered == patterns_with_at_most(k + m, m));
  CHECK(outcome.unrecoverable == (uint64_t{1} << (k + m)) - patterns_with_at_most(k + m, m));
}

// Independent GF(2^8) arithmetic (polynomial x^8+x^4+x^3+x^2+1, 0x11d), to pin the format.
uint8_t gf_mul_reference(uint8_t a, uint8_t b) {
  uint8_t product = 0;
  for (int bit = 0; bit < 8; ++bit) {
    if (b & (1u << bit)) product ^= a;
    a = static_cast<uint8_t>((a << 1) ^ ((a & 0x80) ? 0x1d : 0));
  }
  return product;
}

uint8_t gf_inv_reference(uint8_t a) {
  for (int b = 1; b < 256; ++b) {
    if (gf_mul_reference(a, static_cast<uint8_t>(b)) == 1) return static_cast<uint8_t>(b);
  }
  FAIL("no inverse");
  return 0;
}

TEST_CASE("hostdriver/ec: create rejects shapes outside the limits") {
  for (const auto& shape : {std::pair{0, 1},
                            {-1, 2},
                            {1, 0},
                            {8, -2},
                            {kDataFragmentsMax + 1, 2},
                            {8, kParityFragmentsMax + 1},
                            {0, 0}}) {
    // No structured bindings: clang 14 cannot capture them in INFO.
    const int k = shape.first;
    const int m = shape.second;
    INFO("k=" << k << " m=" << m);
    const Result<ErasureCode> code = ErasureCode::create(k, m);
    REQUIRE_FALSE(code.ok());
    CHECK(code.code() == Code::kInvalidArgument);
  }
  for (const auto& shape : {std::pair{1, 1}, {8, 2}, {kDataFragmentsMax, kParityFragmentsMax}}) {
    const int k = shape.first;
    const int m = shape.second;
    const Result<ErasureCode> code = ErasureCode::create(k, m);
    REQUIRE(code.ok());
    CHECK(code->data_fragments() == k);
    CHECK(code->parity_fragments() == m);
    CHECK(code->width() == k + m);
  }
}

TEST_CASE("hostdriver/ec: parity is the Cauchy matrix 1/(i^j) over GF(2^8)") {
  Prng rng(test_seed());
  for (const auto& shape : {std::pair{1, 1}, {3, 1}, {4, 2}, {8, 2}, {10, 4}, {32, 8}}) {
    const int k = shape.first;
    const int m = shape.second;
    INFO("RS(" << k << "," << m << ")");
    const ErasureCode code = make_code(k, m);
    const Fragments stripe = make_stripe(code, 67, rng);
    int mismatches = 0;
    for (int p = k; p < k + m; ++p) {
      for (size_t b = 0; b < stripe[0].size(); ++b) {
        uint8_t expected = 0;
        for (int j = 0; j < k; ++j) {
          const uint8_t coefficient = gf_inv_reference(static_cast<uint8_t>(p ^ j));
          expected ^= gf_mul_reference(coefficient, stripe[j][b]);
        }
        mismatches += stripe[p][b] != expected ? 1 : 0;
      }
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("hostdriver/ec: 8+2 recovers every pattern of up to 2 lost fragments byte for byte") {
  Prng rng(test_seed());
  ErasureCode code = make_code(8, 2);
  for (size_t length : {size_t{1} << 20, (size_t{1} << 20) + 13, size_t{4099}, size_t{1}}) {
    const Fragments stripe = make_stripe(code, length, rng);
    Fragments out(10, std::vector<uint8_t>(length));
    Outcome outcome;
    for (uint64_t lost = 0; lost < 1024; ++lost) {
      if (std::popcount(lost) <= 2) try_pattern(code, stripe, lost, out, outcome);
    }
    INFO(length << " bytes, " << outcome.first_wrong);
    CHECK(outcome.wrong == 0);
    CHECK(outcome.recovered == 1 + 10 + 45);
  }
}

TEST_CASE("hostdriver/ec: 8+2 reports every pattern of 3 or more lost as unrecoverable") {
  Prng rng(test_seed());
  ErasureCode code = make_code(8, 2);
  // reconstruct() must not write at all here, so a smaller odd length tests the same thing.
  const size_t length = 65537;
  const Fragments stripe = make_stripe(code, length, rng);
  Fragments out(10, std::vector<uint8_t>(length));
  Outcome outcome;
  for (uint64_t lost = 0; lost < 1024; ++lost) {
    if (std::popcount(lost) >= 3) try_pattern(code, stripe, lost, out, outcome);
  }
  INFO(outcome.first_wrong);
  CHECK(outcome.wrong == 0);
  CHECK(outcome.unrecoverable == 1024 - 56);
  // The message names the loss.
  std::vector<PresentFragment> present;
  for (int i = 3; i < 10; ++i) present.push_back({.index = i, .bytes = stripe[i]});
  std::vector<WantedFragment> wanted{{.index = 0, .bytes = out[0]}};
  const Result<void> result = code.reconstruct(present, wanted);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message == "unrecoverable: 3 of 10 fragments lost (m=2)");
}

TEST_CASE("hostdriver/ec: every erasure pattern of shapes with k+m <= 12") {
  Prng rng(test_seed());
  const std::vector<std::pair<int, int>> shapes{{1, 1},  {2, 1},  {3, 1}, {1, 3}, {2, 2},
                                                {4, 2},  {6, 3},  {8, 2}, {8, 4}, {9, 3},
                                                {10, 2}, {11, 1}, {4, 8}, {6, 6}};
  for (const auto& shape : shapes) {
    const int k = shape.first;
    const int m = shape.second;
    for (size_t length : {size_t{0}, size_t{1}, size_t{31}, size_t{64}, size_t{1021}}) {
      check_every_pattern(k, m, length, rng);
    }
  }
}

TEST_CASE("hostdriver/ec: a degraded read rebuilds any subset of the lost fragments") {
  Prng rng(test_seed());
  for (const auto& shape : {std::pair{8, 2}, {6, 3}, {4, 4}}) {
    const int k = shape.first;
    const int m = shape.second;
    ErasureCode code = make_code(k, m);
    const int width = k + m;
    const Fragments stripe = make_stripe(code, 4097, rng);
    uint64_t checked = 0;
    uint64_t wrong = 0;
    for (uint64_t lost = 1; lost < (uint64_t{1} << width); ++lost) {
      if (std::popcount(lost) > m) continue;
      // Every nonempty subset of the lost fragments, e.g. the one data fragment a read needs.
      for (uint64_t want = lost; want != 0; want = (want - 1) & lost) {
        std::vector<PresentFragment> present;
        std::vector<WantedFragment> wanted;
        Fragments out(static_cast<size_t>(width));
        for (int i = 0; i < width; ++i) {
          if ((lost & (uint64_t{1} << i)) == 0) present.push_back({i, stripe[i]});
          if (want & (uint64_t{1} << i)) {
            out[i].assign(4097, kSentinel);
            wanted.push_back({i, out[i]});
          }
        }
        std::reverse(wanted.begin(), wanted.end());  // any order of outputs works
        const bool ok = code.reconstruct(present, wanted).ok();
        bool right = ok;
        for (const WantedFragment& w : wanted) right = right && out[w.index] == stripe[w.index];
        wrong += right ? 0 : 1;
        ++checked;
      }
    }
    INFO("RS(" << k << "," << m << "), " << checked << " requests");
    CHECK(wrong == 0);
    CHECK(checked > 0);
  }
}

// One random request: a random shape, a random set of at least k present fragments (in random
// order) and a random nonempty subset of the rest wanted. True when the bytes came back exactly.
bool random_request_ok(Prng& rng) {
  const int k = static_cast<int>(rng.between(1, kDataFragmentsMax));
  const int m = static_cast<int>(rng.between(1, kParityFragmentsMax));
  ErasureCode code = make_code(k, m);
  const size_t length = rng.below(20000);
  const Fragments stripe = make_stripe(code, length, rng);
  std::vector<int> order(static_cast<size_t>(k + m));
  for (int i = 0; i < k + m; ++i) order[i] = i;
  for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  const size_t present_count = rng.between(k, k + m - 1);
  const size_t wanted_count = rng.between(1, order.size() - present_count);
  std::vector<PresentFragment> present;
  std::vector<WantedFragment> wanted;
  Fragments out(order.size());
  for (size_t i = 0; i < present_count; ++i) present.push_back({order[i], stripe[order[i]]});
  for (size_t i = present_count; i < present_count + wanted_count; ++i) {
    out[order[i]].assign(length, kSentinel);
    wanted.push_back({order[i], out[order[i]]});
  }
  if (!code.reconstruct(present, wanted).ok()) return false;
  for (const WantedFragment& w : wanted) {
    if (out[w.index] != stripe[w.index]) return false;
  }
  return true;
}

TEST_CASE("hostdriver/ec: random shapes up to 32+8, survivors and lengths") {
  Prng rng(test_seed());
  constexpr int kRequests = 300;
  int wrong = 0;
  for (int i = 0; i < kRequests; ++i) wrong += random_request_ok(rng) ? 0 : 1;
  CHECK(wrong == 0);
}

TEST_CASE("hostdriver/ec: the decode-table cache is bounded and reused") {
  Prng rng(test_seed());
  ErasureCode code = make_code(10, 2);
  // 10+2 has 1 + 12 + 66 = 79 patterns of <= 2 lost: more than the cache holds.
  static_assert(78 > kDecodeCacheEntriesMax);
  const Outcome first = try_every_pattern(code, 999, rng);
  CHECK(first.wrong == 0);
  CHECK(code.decode_cache_entries() == kDecodeCacheEntriesMax);
  CHECK(code.decode_cache_misses() == 78);  // each nonempty recoverable pattern once
  CHECK(code.decode_cache_hits() == 0);
  // A second pass over all patterns evicts and rebuilds tables and still decodes exactly.
  const Outcome second = try_every_pattern(code, 999, rng);
  CHECK(second.wrong == 0);
  CHECK(code.decode_cache_entries() == kDecodeCacheEntriesMax);
  // The same pattern twice in a row is a hit the second time.
  const uint64_t hits = code.decode_cache_hits();
  const Fragments stripe = make_stripe(code, 100, rng);
  Fragments out(12, std::vector<uint8_t>(100));
  Outcome repeat;
  try_pattern(code, stripe, 0b101, out, repeat);
  try_pattern(code, stripe, 0b101, out, repeat);
  CHECK(repeat.recovered == 2);
  CHECK(code.decode_cache_hits() >= hits + 1);
}

TEST_CASE("hostdriver/ec: losing only parity re-encodes it, nothing wanted is a no-op") {
  Prng rng(test_seed());
  ErasureCode code = make_code(8, 2);
  const Fragments stripe = make_stripe(code, 333, rng);
  std::vector<PresentFragment> present;
  for (int i = 0; i < 8; ++i) present.push_back({i, stripe[i]});
  std::vector<uint8_t> p0(333, kSentinel);
  std::vector<uint8_t> p1(333, kSentinel);
  const std::vector<WantedFragment> wanted{{8, p0}, {9, p1}};
  REQUIRE(code.reconstruct(present, wanted).ok());
  CHECK(p0 == stripe[8]);
  CHECK(p1 == stripe[9]);
  CHECK(code.reconstruct(present, {}).ok());
  // Too few present is reported even when nothing is wanted.
  const Result<void> result = code.reconstruct(std::span(present).first(7), {});
  REQUIRE_FALSE(result.ok());
  CHECK(result.code() == Code::kCorruption);
}

}  // namespace
}  // namespace splitarray::hostdriver::ec
