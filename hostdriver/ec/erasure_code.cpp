#include "hostdriver/ec/erasure_code.h"

#include <isa-l/erasure_code.h>

#include <algorithm>
#include <array>
#include <bit>
#include <string>

#include "common/assert.h"

namespace splitarray::hostdriver::ec {
namespace {

uint64_t bit(int index) { return uint64_t{1} << index; }

// What a reconstruct() call asks for, after its shape has been checked.
struct Request {
  uint64_t present = 0;  // bit i: fragment i was given
  uint64_t wanted = 0;   // bit i: fragment i is to be produced
  size_t length = 0;     // bytes in every fragment
};

// Checks the caller's shape (a wrong one is a bug): indices in range and distinct, nothing both
// present and wanted, one length for all.
Request check_request(int width, std::span<const PresentFragment> present,
                      std::span<const WantedFragment> wanted) {
  Request request;
  bool have_length = false;
  auto note_length = [&](size_t length) {
    ASSERT_MSG(!have_length || length == request.length, "fragments differ in length");
    request.length = length;
    have_length = true;
  };
  for (const PresentFragment& fragment : present) {
    ASSERT(fragment.index >= 0);
    ASSERT(fragment.index < width);
    ASSERT_MSG((request.present & bit(fragment.index)) == 0, "fragment given twice");
    request.present |= bit(fragment.index);
    note_length(fragment.bytes.size());
  }
  for (const WantedFragment& fragment : wanted) {
    ASSERT(fragment.index >= 0);
    ASSERT(fragment.index < width);
    ASSERT_MSG((request.wanted & bit(fragment.index)) == 0, "fragment wanted twice");
    ASSERT_MSG((request.present & bit(fragment.index)) == 0, "fragment both present and wanted");
    request.wanted |= bit(fragment.index);
    note_length(fragment.bytes.size());
  }
  ASSERT(request.length <= kFragmentBytesMax);
  return request;
}

// The `count` lowest set bits of `mask` (mask has at least `count`).
uint64_t lowest_bits(uint64_t mask, int count) {
  uint64_t chosen = 0;
  for (int i = 0; i < count; ++i) {
    ASSERT(mask != 0);
    const uint64_t lowest = mask & (~mask + 1);
    chosen |= lowest;
    mask &= ~lowest;
  }
  return chosen;
}

}  // namespace

Result<ErasureCode> ErasureCode::create(int k, int m) {
  if (k < 1 || k > kDataFragmentsMax) {
    return make_error(Code::kInvalidArgument, "erasure code: k=" + std::to_string(k) +
                                                  " outside 1.." +
                                                  std::to_string(kDataFragmentsMax));
  }
  if (m < 1 || m > kParityFragmentsMax) {
    return make_error(Code::kInvalidArgument, "erasure code: m=" + std::to_string(m) +
                                                  " outside 1.." +
                                                  std::to_string(kParityFragmentsMax));
  }
  return ErasureCode(k, m);
}

ErasureCode::ErasureCode(int k, int m)
    : k_(k),
      m_(m),
      matrix_(static_cast<size_t>((k + m) * k)),
      encode_tables_(kTableBytesPerCoefficient * k * m) {
  ASSERT(k >= 1 && k <= kDataFragmentsMax);
  ASSERT(m >= 1 && m <= kParityFragmentsMax);
  gf_gen_cauchy1_matrix(matrix_.data(), k + m, k);
  ec_init_tables(k, m, &matrix_[static_cast<size_t>(k * k)], encode_tables_.data());
  decode_cache_.reserve(kDecodeCacheEntriesMax);
}

void ErasureCode::encode(std::span<const std::span<const uint8_t>> data,
                         std::span<const std::span<uint8_t>> parity) const {
  ASSERT(data.size() == static_cast<size_t>(k_));
  ASSERT(parity.size() == static_cast<size_t>(m_));
  const size_t length = data[0].size();
  ASSERT(length <= kFragmentBytesMax);
  // ISA-L's signature is not const-correct; it only reads the sources and the tables.
  std::array<unsigned char*, kDataFragmentsMax> sources{};
  std::array<unsigned char*, kParityFragmentsMax> outputs{};
  for (int i = 0; i < k_; ++i) {
    ASSERT_MSG(data[i].size() == length, "data fragments differ in length");
    sources[i] = const_cast<uint8_t*>(data[i].data());
  }
  for (int i = 0; i < m_; ++i) {
    ASSERT_MSG(parity[i].size() == length, "parity fragment length differs from data");
    outputs[i] = parity[i].data();
  }
  if (length == 0) return;
  ec_encode_data(static_cast<int>(length), k_, m_, const_cast<uint8_t*>(encode_tables_.data()),
                 sources.data(), outputs.data());
}

Result<void> ErasureCode::reconstruct(std::span<const PresentFragment> present,
                                      std::span<const WantedFragment> wanted) {
  const Request request = check_request(width(), present, wanted);
  const int present_count = std::popcount(request.present);
  if (present_count < k_) {
    return make_error(Code::kCorruption,
                      "unrecoverable: " + std::to_string(width() - present_count) + " of " +
                          std::to_string(width()) + " fragments lost (m=" + std::to_string(m_) +
                          ")");
  }
  if (request.wanted == 0) return ok_result();
  // Decode from the k lowest-index survivors: data first, so losing only parity is a plain
  // encode, and a fixed choice keeps the number of cached patterns small.
  const uint64_t survivors = lowest_bits(request.present, k_);
  std::array<unsigned char*, kStripeWidthMax> by_index{};
  for (const PresentFragment& fragment : present) {
    by_index[fragment.index] = const_cast<uint8_t*>(fragment.bytes.data());  // read only
  }
  for (const WantedFragment& fragment : wanted) by_index[fragment.index] = fragment.bytes.data();
  // ISA-L wants sources and outputs in the row order of the tables: ascending index.
  std::array<unsigned char*, kDataFragmentsMax> sources{};
  std::array<unsigned char*, kParityFragmentsMax> outputs{};  // wanted <= width - k = m
  int source_count = 0;
  int output_count = 0;
  for (int i = 0; i < width(); ++i) {
    if (survivors & bit(i)) sources[source_count++] = by_index[i];
    if (request.wanted & bit(i)) outputs[output_count++] = by_index[i];
  }
  ASSERT(source_count == k_);
  ASSERT(output_count == static_cast<int>(wanted.size()));
  if (request.length == 0) return ok_result();
  const std::vector<uint8_t>& tables = decode_tables(survivors, request.wanted);
  ec_encode_data(static_cast<int>(request.length), k_, output_count,
                 const_cast<uint8_t*>(tables.data()), sources.data(), outputs.data());
  return ok_result();
}

const std::vector<uint8_t>& ErasureCode::decode_tables(uint64_t survivors, uint64_t wanted) {
  ++cache_clock_;
  for (DecodeEntry& entry : decode_cache_) {
    if (entry.survivors == survivors && entry.wanted == wanted) {
      ++decode_cache_hits_;
      entry.last_used = cache_clock_;
      return entry.tables;
    }
  }
  ++decode_cache_misses_;
  DecodeEntry fresh{.survivors = survivors,
                    .wanted = wanted,
                    .last_used = cache_clock_,
                    .tables = build_decode_tables(survivors, wanted)};
  if (decode_cache_.size() < kDecodeCacheEntriesMax) {
    decode_cache_.push_back(std::move(fresh));
    return decode_cache_.back().tables;
  }
  // Full: replace the least recently used entry (a linear scan; clocks are unique, so the
  // choice is deterministic).
  DecodeEntry* victim = &decode_cache_.front();
  for (DecodeEntry& entry : decode_cache_) {
    if (entry.last_used < victim->last_used) victim = &entry;
  }
  *victim = std::move(fresh);
  ASSERT(decode_cache_.size() <= kDecodeCacheEntriesMax);
  return victim->tables;
}

std::vector<uint8_t> ErasureCode::build_decode_tables(uint64_t survivors, uint64_t wanted) const {
  const size_t k = static_cast<size_t>(k_);
  ASSERT(std::popcount(survivors) == k_);
  ASSERT((survivors & wanted) == 0);
  // Survivors s = B * d, where B holds the encode-matrix rows of the survivors; so d = B^-1 * s.
  std::vector<uint8_t> b(k * k);
  std::vector<uint8_t> inverse(k * k);
  size_t row = 0;
  for (int i = 0; i < width(); ++i) {
    if ((survivors & bit(i)) == 0) continue;
    std::copy_n(&matrix_[i * k], k, &b[row * k]);
    ++row;
  }
  const int singular = gf_invert_matrix(b.data(), inverse.data(), k_);
  ASSERT_MSG(singular == 0, "every k x k submatrix of a Cauchy encode matrix is invertible");
  // Data fragment i is row i of B^-1; parity fragment i is (encode row i) * B^-1.
  const size_t wanted_count = static_cast<size_t>(std::popcount(wanted));
  std::vector<uint8_t> rows(wanted_count * k);
  size_t out = 0;
  for (int i = 0; i < width(); ++i) {
    if ((wanted & bit(i)) == 0) continue;
    for (size_t j = 0; j < k; ++j) {
      if (i < k_) {
        rows[out * k + j] = inverse[i * k + j];
        continue;
      }
      uint8_t sum = 0;
      for (size_t t = 0; t < k; ++t) sum ^= gf_mul(matrix_[i * k + t], inverse[t * k + j]);
      rows[out * k + j] = sum;
    }
    ++out;
  }
  ASSERT(out == wanted_count);
  std::vector<uint8_t> tables(kTableBytesPerCoefficient * k * wanted_count);
  ec_init_tables(k_, static_cast<int>(wanted_count), rows.data(), tables.data());
  return tables;
}

}  // namespace splitarray::hostdriver::ec
