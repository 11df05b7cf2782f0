// hostdriver/chunk/bloom_filter.h
// BloomFilter is the host's summary vector of known fingerprints (DESIGN.md §3 step 4): a block
// whose fp it has certainly never seen skips the shelf index lookup and is stored as new.
// A classic (unblocked) Bloom filter of m bits and k probes, m and k sized from the expected
// number of entries and a target false-positive rate. The k probe positions come straight from
// the fingerprint's bytes (SHA-256 output is already uniform): h1 = bytes[0,8), h2 = bytes[8,16)
// (made odd), position i = fastrange(h1 + i*h2, m) (Kirsch-Mitzenmacher double hashing).
// Invariants:
//   (1) No false negatives: after add(fp), may_contain(fp) is true for the filter's lifetime,
//       and after a serialize/deserialize round trip.
//   (2) bits_set() is the number of set bits; count() <= bits_set() (every counted add set a
//       bit); bit_count() is a multiple of 64 in [kBloomBitsMin, kBloomBitsMax].
// Entries are never removed (a Bloom filter cannot forget): fps of freed chunks stay as false
// positives until the host rebuilds the filter from the index.
// Threading: single-threaded state owned by one thread. Moves; does not copy (it can be GiBs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "common/units.h"
#include "protocol/shelf_messages.h"

namespace splitarray::hostdriver::chunk {

inline constexpr uint64_t kBloomEntriesMax = uint64_t{1} << 32;
inline constexpr double kBloomFpRateMin = 1e-6;  // k = 20 probes
inline constexpr double kBloomFpRateMax = 0.5;   // k = 1 probe
inline constexpr uint32_t kBloomProbesMax = 32;
inline constexpr uint64_t kBloomBitsMin = 64;
inline constexpr uint64_t kBloomBitsMax = 16 * kGiB * 8;  // 16 GiB of filter
// Serialized form, little-endian: a 48-byte header
//   u64 magic | u32 version | u32 header bytes | u64 bit count | u64 count | u64 bits set |
//   u32 probes | u32 crc32c([0,44))
// then the bit words as u64, then u32 crc32c(words).
inline constexpr uint64_t kBloomFormatMagic = 0x314D4F4F4C424153;  // "SABLOOM1"
inline constexpr uint32_t kBloomFormatVersion = 1;
inline constexpr size_t kBloomHeaderBytes = 48;
inline constexpr size_t kBloomTrailerBytes = 4;

struct BloomSizing {
  uint64_t bit_count = 0;
  uint32_t probes = 0;
};

// m = ceil(-n ln p / ln^2 2) rounded up to whole words, k = round(-log2 p); kInvalidArgument if
// n or p is outside the limits or the filter would exceed kBloomBitsMax.
Result<BloomSizing> bloom_sizing(uint64_t expected_entries, double fp_rate);

class BloomFilter final {
 public:
  static Result<BloomFilter> create(uint64_t expected_entries, double fp_rate);
  // kCorruption unless `bytes` is exactly one well-formed serialized filter.
  static Result<BloomFilter> deserialize(std::span<const uint8_t> bytes);

  BloomFilter(BloomFilter&&) = default;
  BloomFilter& operator=(BloomFilter&&) = default;
  BloomFilter(const BloomFilter&) = delete;
  BloomFilter& operator=(const BloomFilter&) = delete;

  // Returns true if fp was certainly absent before (some probe bit was clear); only those adds
  // are counted.
  bool add(const protocol::Fingerprint& fp);
  bool may_contain(const protocol::Fingerprint& fp) const;

  uint64_t count() const { return count_; }
  uint64_t bits_set() const { return bits_set_; }
  uint64_t bit_count() const { return words_.size() * 64; }
  uint32_t probes() const { return probes_; }
  size_t byte_size() const { return words_.size() * sizeof(uint64_t); }
  // (bits_set / m)^k: the false-positive rate of a fresh fp now; grows as the filter fills.
  double fp_rate_estimate() const;

  std::vector<uint8_t> serialize() const;

 private:
  BloomFilter(uint64_t bit_count, uint32_t probes);

  std::vector<uint64_t> words_;
  uint32_t probes_ = 0;
  uint64_t count_ = 0;
  uint64_t bits_set_ = 0;
};

}  // namespace splitarray::hostdriver::chunk
