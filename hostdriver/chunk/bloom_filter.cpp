// hostdriver/chunk/bloom_filter.cpp
#include "hostdriver/chunk/bloom_filter.h"

#include <bit>
#include <cmath>
#include <string>

#include "common/assert.h"
#include "common/crc32c.h"
#include "common/endian.h"

namespace splitarray::hostdriver::chunk {
namespace {

// Header: u64 magic | u32 version | u32 header bytes | u64 bit count | u64 count |
//         u64 bits set | u32 probes | u32 crc32c([0,44))
constexpr size_t kOffMagic = 0;
constexpr size_t kOffVersion = 8;
constexpr size_t kOffHeaderBytes = 12;
constexpr size_t kOffBitCount = 16;
constexpr size_t kOffCount = 24;
constexpr size_t kOffBitsSet = 32;
constexpr size_t kOffProbes = 40;
constexpr size_t kOffHeaderCrc = 44;
static_assert(kOffHeaderCrc + 4 == kBloomHeaderBytes);
static_assert(kBloomBitsMin % 64 == 0 && kBloomBitsMax % 64 == 0);
static_assert(protocol::kFingerprintBytes >= 16, "probes take two u64 from the fp");

constexpr double kLn2 = 0.69314718055994530942;

// Lemire's fastrange: maps a uniform 64-bit value onto [0, range) without a division.
uint64_t fastrange(uint64_t hash, uint64_t range) {
  __extension__ using U128 = unsigned __int128;
  return static_cast<uint64_t>((static_cast<U128>(hash) * range) >> 64);
}

struct Probe {
  uint64_t h1;
  uint64_t h2;
};

Probe probe_of(const protocol::Fingerprint& fp) {
  const std::span<const uint8_t> bytes(fp);
  // h2 odd: successive positions never repeat h1's for i < 2^64.
  return Probe{get_u64(bytes, 0), get_u64(bytes, 8) | 1};
}

Error bloom_corruption(std::string what) {
  return make_error(Code::kCorruption, "bloom filter: " + std::move(what));
}

}  // namespace

Result<BloomSizing> bloom_sizing(uint64_t expected_entries, double fp_rate) {
  if (expected_entries == 0 || expected_entries > kBloomEntriesMax) {
    return make_error(Code::kInvalidArgument,
                      "bloom filter: expected entries " + std::to_string(expected_entries));
  }
  // Written so that NaN fails too.
  if (!(fp_rate >= kBloomFpRateMin && fp_rate <= kBloomFpRateMax)) {
    return make_error(Code::kInvalidArgument,
                      "bloom filter: false-positive rate " + std::to_string(fp_rate));
  }
  const double bits =
      std::ceil(-static_cast<double>(expected_entries) * std::log(fp_rate) / (kLn2 * kLn2));
  if (bits > static_cast<double>(kBloomBitsMax)) {
    return make_error(Code::kInvalidArgument, "bloom filter: needs more than kBloomBitsMax bits");
  }
  BloomSizing sizing;
  sizing.bit_count = (static_cast<uint64_t>(bits) + 63) / 64 * 64;
  if (sizing.bit_count < kBloomBitsMin) sizing.bit_count = kBloomBitsMin;
  sizing.probes = static_cast<uint32_t>(std::lround(-std::log2(fp_rate)));
  if (sizing.probes == 0) sizing.probes = 1;
  ASSERT(sizing.bit_count <= kBloomBitsMax);
  ASSERT(sizing.probes <= kBloomProbesMax);
  return sizing;
}

BloomFilter::BloomFilter(uint64_t bit_count, uint32_t probes)
    : words_(bit_count / 64, 0), probes_(probes) {
  ASSERT(bit_count % 64 == 0);
  ASSERT(bit_count >= kBloomBitsMin && bit_count <= kBloomBitsMax);
  ASSERT(probes >= 1 && probes <= kBloomProbesMax);
}

Result<BloomFilter> BloomFilter::create(uint64_t expected_entries, double fp_rate) {
  ASSIGN_OR_RETURN(const BloomSizing sizing, bloom_sizing(expected_entries, fp_rate));
  return BloomFilter(sizing.bit_count, sizing.probes);
}

bool BloomFilter::add(const protocol::Fingerprint& fp) {
  ASSERT_MSG(!words_.empty(), "add() on a moved-from BloomFilter");
  const uint64_t m = bit_count();
  const Probe probe = probe_of(fp);
  uint64_t newly_set = 0;
  for (uint32_t i = 0; i < probes_; ++i) {
    const uint64_t position = fastrange(probe.h1 + i * probe.h2, m);
    uint64_t& word = words_[position / 64];
    const uint64_t mask = uint64_t{1} << (position % 64);
    newly_set += (word & mask) == 0 ? 1 : 0;
    word |= mask;
  }
  bits_set_ += newly_set;
  ASSERT(bits_set_ <= m);
  if (newly_set == 0) return false;
  ++count_;
  return true;
}

bool BloomFilter::may_contain(const protocol::Fingerprint& fp) const {
  ASSERT_MSG(!words_.empty(), "may_contain() on a moved-from BloomFilter");
  const uint64_t m = bit_count();
  const Probe probe = probe_of(fp);
  for (uint32_t i = 0; i < probes_; ++i) {
    const uint64_t position = fastrange(probe.h1 + i * probe.h2, m);
    if ((words_[position / 64] & (uint64_t{1} << (position % 64))) == 0) return false;
  }
  return true;
}

double BloomFilter::fp_rate_estimate() const {
  if (words_.empty()) return 0;
  const double fill = static_cast<double>(bits_set_) / static_cast<double>(bit_count());
  return std::pow(fill, probes_);
}

std::vector<uint8_t> BloomFilter::serialize() const {
  ASSERT_MSG(!words_.empty(), "serialize() on a moved-from BloomFilter");
  const size_t body_bytes = byte_size();
  std::vector<uint8_t> out(kBloomHeaderBytes + body_bytes + kBloomTrailerBytes);
  const std::span<uint8_t> all(out);
  put_u64(all, kOffMagic, kBloomFormatMagic);
  put_u32(all, kOffVersion, kBloomFormatVersion);
  put_u32(all, kOffHeaderBytes, static_cast<uint32_t>(kBloomHeaderBytes));
  put_u64(all, kOffBitCount, bit_count());
  put_u64(all, kOffCount, count_);
  put_u64(all, kOffBitsSet, bits_set_);
  put_u32(all, kOffProbes, probes_);
  put_u32(all, kOffHeaderCrc, crc32c(all.first(kOffHeaderCrc)));
  const std::span<uint8_t> body = all.subspan(kBloomHeaderBytes, body_bytes);
  for (size_t i = 0; i < words_.size(); ++i) put_u64(body, i * 8, words_[i]);
  put_u32(all, kBloomHeaderBytes + body_bytes, crc32c(body));
  return out;
}

Result<BloomFilter> BloomFilter::deserialize(std::span<const uint8_t> bytes) {
  // Every length is checked before it is used, the header's before the body is touched.
  if (bytes.size() < kBloomHeaderBytes + kBloomTrailerBytes) {
    return bloom_corruption("short: " + std::to_string(bytes.size()) + " bytes");
  }
  if (get_u64(bytes, kOffMagic) != kBloomFormatMagic) return bloom_corruption("bad magic");
  if (get_u32(bytes, kOffHeaderCrc) != crc32c(bytes.first(kOffHeaderCrc))) {
    return bloom_corruption("header checksum mismatch");
  }
  if (get_u32(bytes, kOffVersion) != kBloomFormatVersion)
    return bloom_corruption("unknown version");
  if (get_u32(bytes, kOffHeaderBytes) != kBloomHeaderBytes)
    return bloom_corruption("bad header size");
  const uint64_t bit_count = get_u64(bytes, kOffBitCount);
  const uint64_t count = get_u64(bytes, kOffCount);
  const uint64_t bits_set = get_u64(bytes, kOffBitsSet);
  const uint32_t probes = get_u32(bytes, kOffProbes);
  if (bit_count % 64 != 0 || bit_count < kBloomBitsMin || bit_count > kBloomBitsMax) {
    return bloom_corruption("bad bit count " + std::to_string(bit_count));
  }
  if (probes < 1 || probes > kBloomProbesMax) return bloom_corruption("bad probe count");
  if (bits_set > bit_count || count > bits_set) return bloom_corruption("bad counters");
  const uint64_t body_bytes = bit_count / 8;
  if (bytes.size() != kBloomHeaderBytes + body_bytes + kBloomTrailerBytes) {
    return bloom_corruption("size " + std::to_string(bytes.size()) + " does not match the header");
  }
  const std::span<const uint8_t> body = bytes.subspan(kBloomHeaderBytes, body_bytes);
  if (get_u32(bytes, kBloomHeaderBytes + body_bytes) != crc32c(body)) {
    return bloom_corruption("body checksum mismatch");
  }
  BloomFilter filter(bit_count, probes);
  uint64_t popcount = 0;
  for (size_t i = 0; i < filter.words_.size(); ++i) {
    filter.words_[i] = get_u64(body, i * 8);
    popcount += static_cast<uint64_t>(std::popcount(filter.words_[i]));
  }
  if (popcount != bits_set) return bloom_corruption("bits set does not match the header");
  filter.count_ = count;
  filter.bits_set_ = bits_set;
  return filter;
}

}  // namespace splitarray::hostdriver::chunk
