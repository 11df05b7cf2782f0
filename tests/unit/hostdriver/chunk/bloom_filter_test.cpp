// tests/unit/hostdriver/chunk/bloom_filter_test.cpp
// BloomFilter: sizing, no false negatives over 1 M fingerprints, a measured false-positive rate
// close to the target, and the serialized form (round trip; every truncation, byte flip and
// forged header rejected as corruption).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "common/crc32c.h"
#include "common/endian.h"
#include "hostdriver/chunk/bloom_filter.h"
#include "tests/unit/hostdriver/chunk/chunk_test_util.h"

namespace splitarray::hostdriver::chunk::test {
namespace {

BloomFilter make_filter(uint64_t entries, double fp_rate) {
  auto filter = BloomFilter::create(entries, fp_rate);
  REQUIRE(filter.ok());
  return std::move(filter).value();
}

bool is_corruption(const Result<BloomFilter>& result) {
  return !result.ok() && result.code() == Code::kCorruption;
}

TEST_CASE("hostdriver/chunk: bloom sizing follows the textbook formulas and the limits") {
  auto one_percent = bloom_sizing(1'000'000, 0.01);
  REQUIRE(one_percent.ok());
  CHECK(one_percent->bit_count == 9'585'088);  // ceil(9'585'059 bits) to whole words
  CHECK(one_percent->probes == 7);
  auto tenth = bloom_sizing(1'000'000, 0.001);
  REQUIRE(tenth.ok());
  CHECK(tenth->probes == 10);
  CHECK(bloom_sizing(1, 0.5)->bit_count == kBloomBitsMin);
  CHECK(bloom_sizing(1, 0.5)->probes == 1);
  CHECK(bloom_sizing(kBloomEntriesMax, kBloomFpRateMin)->bit_count <= kBloomBitsMax);

  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const auto& bad : {std::pair<uint64_t, double>{0, 0.01},
                          {kBloomEntriesMax + 1, 0.01},
                          {1000, 0.0},
                          {1000, kBloomFpRateMin / 2},
                          {1000, 0.6},
                          {1000, nan}}) {
    // No structured bindings: clang 14 cannot capture them in doctest's CAPTURE lambdas.
    const uint64_t entries = bad.first;
    const double rate = bad.second;
    CAPTURE(entries);
    CAPTURE(rate);
    auto filter = BloomFilter::create(entries, rate);
    REQUIRE_FALSE(filter.ok());
    CHECK(filter.code() == Code::kInvalidArgument);
  }
}

TEST_CASE("hostdriver/chunk: bloom filter has no false negatives and meets its fp rate") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  constexpr uint64_t kEntries = 1'000'000;
  constexpr uint64_t kProbeQueries = 1'000'000;
  for (double target : {0.01, 0.001}) {
    CAPTURE(target);
    BloomFilter filter = make_filter(kEntries, target);
    Prng inserted_stream = rng.fork();
    Prng replay = inserted_stream;
    uint64_t added = 0;
    for (uint64_t i = 0; i < kEntries; ++i) added += filter.add(random_fp(inserted_stream)) ? 1 : 0;
    CHECK(filter.count() == added);
    CHECK(filter.count() <= kEntries);
    CHECK(filter.count() >= kEntries - kEntries / 100);  // only false positives are uncounted

    uint64_t missing = 0;
    for (uint64_t i = 0; i < kEntries; ++i)
      missing += filter.may_contain(random_fp(replay)) ? 0 : 1;
    CHECK(missing == 0);

    // Fresh fps (from a different stream) were never inserted: every "maybe" is a false positive.
    Prng fresh = rng.fork();
    uint64_t false_positives = 0;
    for (uint64_t i = 0; i < kProbeQueries; ++i) {
      false_positives += filter.may_contain(random_fp(fresh)) ? 1 : 0;
    }
    const double measured = static_cast<double>(false_positives) / kProbeQueries;
    CAPTURE(measured);
    CHECK(measured <= 1.5 * target);
    CHECK(measured >= target / 1.5);  // not wildly oversized either
    CHECK(filter.fp_rate_estimate() <= 1.5 * target);
  }
}

TEST_CASE("hostdriver/chunk: bloom filter survives a serialize round trip") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  BloomFilter filter = make_filter(10'000, 0.01);
  std::vector<Fingerprint> inserted;
  for (int i = 0; i < 10'000; ++i) {
    inserted.push_back(random_fp(rng));
    filter.add(inserted.back());
  }
  const auto bytes = filter.serialize();
  CHECK(bytes.size() == kBloomHeaderBytes + filter.byte_size() + kBloomTrailerBytes);
  auto copy = BloomFilter::deserialize(bytes);
  REQUIRE(copy.ok());
  CHECK(copy->count() == filter.count());
  CHECK(copy->bits_set() == filter.bits_set());
  CHECK(copy->bit_count() == filter.bit_count());
  CHECK(copy->probes() == filter.probes());
  for (const Fingerprint& fp : inserted) CHECK(copy->may_contain(fp));
  for (int i = 0; i < 10'000; ++i) {
    const Fingerprint fp = random_fp(rng);
    CHECK(copy->may_contain(fp) == filter.may_contain(fp));
  }
  CHECK(copy->serialize() == bytes);
}

TEST_CASE("hostdriver/chunk: short, long and damaged bloom filter bytes are corruption") {
  Prng rng(seed_from_env());
  BloomFilter filter = make_filter(200, 0.01);
  for (int i = 0; i < 200; ++i) filter.add(random_fp(rng));
  const auto bytes = filter.serialize();
  for (size_t length = 0; length < bytes.size(); ++length) {
    CHECK(is_corruption(BloomFilter::deserialize(std::span<const uint8_t>(bytes).first(length))));
  }
  auto longer = bytes;
  longer.push_back(0);
  CHECK(is_corruption(BloomFilter::deserialize(longer)));
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto damaged = bytes;
    damaged[i] ^= 0x10;
    CAPTURE(i);
    CHECK(is_corruption(BloomFilter::deserialize(damaged)));
  }
}

// Headers whose CRC is valid but whose fields lie (offsets as in bloom_filter.h's format): all
// are corruption, and none makes deserialize allocate what the header claims.
TEST_CASE("hostdriver/chunk: forged bloom headers with valid checksums are corruption") {
  Prng rng(seed_from_env());
  BloomFilter filter = make_filter(200, 0.01);
  for (int i = 0; i < 200; ++i) filter.add(random_fp(rng));
  const auto bytes = filter.serialize();
  const auto forge = [&](size_t offset, uint64_t value, size_t width) {
    auto forged = bytes;
    const std::span<uint8_t> all(forged);
    if (width == 8) put_u64(all, offset, value);
    if (width == 4) put_u32(all, offset, static_cast<uint32_t>(value));
    put_u32(all, 44, crc32c(all.first(44)));
    return BloomFilter::deserialize(forged);
  };
  CHECK(forge(0, 0, 0).ok());              // re-signing the unchanged header is fine
  CHECK(is_corruption(forge(8, 2, 4)));    // version
  CHECK(is_corruption(forge(12, 64, 4)));  // header bytes
  CHECK(is_corruption(forge(16, kBloomBitsMax + 64, 8)));       // bit count over the limit
  CHECK(is_corruption(forge(16, filter.bit_count() + 1, 8)));   // not whole words
  CHECK(is_corruption(forge(16, filter.bit_count() + 64, 8)));  // longer than the bytes
  CHECK(is_corruption(forge(16, filter.bit_count() - 64, 8)));  // shorter than the bytes
  CHECK(is_corruption(forge(24, filter.bits_set() + 1, 8)));    // count > bits set
  CHECK(is_corruption(forge(32, filter.bits_set() - 1, 8)));    // bits set disagrees with words
  CHECK(is_corruption(forge(32, filter.bit_count() + 1, 8)));   // bits set > bit count
  CHECK(is_corruption(forge(40, 0, 4)));                        // no probes
  CHECK(is_corruption(forge(40, kBloomProbesMax + 1, 4)));      // too many probes
}

TEST_CASE("hostdriver/chunk: re-adding a fingerprint is not counted") {
  Prng rng(seed_from_env());
  BloomFilter filter = make_filter(1000, 0.01);
  const Fingerprint fp = random_fp(rng);
  CHECK_FALSE(filter.may_contain(fp));
  CHECK(filter.add(fp));
  CHECK(filter.may_contain(fp));
  CHECK_FALSE(filter.add(fp));
  CHECK(filter.count() == 1);
  CHECK(filter.bits_set() >= 1);
  CHECK(filter.bits_set() <= filter.probes());
}

}  // namespace
}  // namespace splitarray::hostdriver::chunk::test
