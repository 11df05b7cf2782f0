// hostdriver/ec/erasure_code.h
// ErasureCode: Reed-Solomon RS(k, m) over GF(2^8) with ISA-L (DESIGN.md §4, §6, §8). A stripe is
// k data fragments (indices 0..k-1) and m parity fragments (indices k..k+m-1), all the same
// length. Any k of the k+m fragments give back all the others.
//
// The encode matrix is ISA-L's gf_gen_cauchy1_matrix: identity on top, then parity row i (i in
// k..k+m-1) has coefficient 1/(i ^ j) for data column j (GF(2^8), polynomial 0x11d). Every k x k
// submatrix of it is invertible (a Cauchy matrix), unlike gf_gen_rs_matrix for larger k+m. The
// matrix is part of the on-disk format: parity written today must decode with tomorrow's code, so
// the tests pin it against an independent GF(2^8) implementation.
//
// Pure and synchronous: no I/O, no Env, no allocation on the encode path. CPU-heavy: callers run
// encode()/reconstruct() on the compute pool (STYLE.md "Concurrency").
// Invariants:
//   (1) 1 <= k <= kDataFragmentsMax and 1 <= m <= kParityFragmentsMax (create() checks).
//   (2) decode_cache_.size() <= kDecodeCacheEntriesMax; every entry's tables decode exactly the
//       (survivors, wanted) pattern of its key.
//   (3) reconstruct() writes its outputs only when it returns ok; on error they are untouched.
// Threading: encode() is const and may run on several threads at once; reconstruct() updates the
// decode-table cache, so each thread that reconstructs needs its own ErasureCode (they are cheap:
// a few KiB of tables).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"

namespace splitarray::hostdriver::ec {

inline constexpr int kDataFragmentsMax = 32;
inline constexpr int kParityFragmentsMax = 8;
inline constexpr int kStripeWidthMax = kDataFragmentsMax + kParityFragmentsMax;
// ISA-L takes the fragment length as an int.
inline constexpr size_t kFragmentBytesMax = 0x7fffffff;
// Decode tables cached per erasure pattern. RS(8,2) has 55 patterns of 1-2 lost fragments; a
// rebuild or a degraded read uses a handful. Worst case 64 * 32*32*8 bytes = 512 KiB.
inline constexpr size_t kDecodeCacheEntriesMax = 64;
// Bytes of ISA-L multiplication tables per (source, output) coefficient.
inline constexpr size_t kTableBytesPerCoefficient = 32;

static_assert(kStripeWidthMax <= 64, "erasure patterns are 64-bit masks");
static_assert(kStripeWidthMax <= 255, "fragment indices fit the fragment header's one byte");

// A fragment we have: its index in the stripe and its bytes.
struct PresentFragment {
  int index = 0;
  std::span<const uint8_t> bytes;
};

// A fragment to produce: its index in the stripe and where its bytes go.
struct WantedFragment {
  int index = 0;
  std::span<uint8_t> bytes;
};

class ErasureCode final {
 public:
  // kInvalidArgument unless 1 <= k <= kDataFragmentsMax and 1 <= m <= kParityFragmentsMax.
  static Result<ErasureCode> create(int k, int m);

  ErasureCode(ErasureCode&&) = default;
  ErasureCode& operator=(ErasureCode&&) = default;
  ErasureCode(const ErasureCode&) = delete;
  ErasureCode& operator=(const ErasureCode&) = delete;

  int data_fragments() const { return k_; }
  int parity_fragments() const { return m_; }
  int width() const { return k_ + m_; }

  // Computes the m parity fragments from the k data fragments. data.size() == k,
  // parity.size() == m, every fragment the same length (<= kFragmentBytesMax; any length,
  // including 0 and odd ones). A wrong shape is a bug (ASSERT).
  void encode(std::span<const std::span<const uint8_t>> data,
              std::span<const std::span<uint8_t>> parity) const;

  // Produces the wanted fragments from the present ones. Indices are in [0, width()), distinct,
  // and no index is both present and wanted; all fragments have the same length (ASSERT).
  // Uses the k present fragments with the lowest indices (data before parity). Fewer than k
  // present: kCorruption "unrecoverable: L of W fragments lost (m=M)", outputs untouched.
  Result<void> reconstruct(std::span<const PresentFragment> present,
                           std::span<const WantedFragment> wanted);

  // For tests and metrics.
  size_t decode_cache_entries() const { return decode_cache_.size(); }
  uint64_t decode_cache_hits() const { return decode_cache_hits_; }
  uint64_t decode_cache_misses() const { return decode_cache_misses_; }

 private:
  struct DecodeEntry {
    uint64_t survivors = 0;  // bit i: fragment i is a decode source
    uint64_t wanted = 0;     // bit i: fragment i is produced
    uint64_t last_used = 0;  // cache clock at the last hit, for LRU eviction
    std::vector<uint8_t> tables;
  };

  ErasureCode(int k, int m);
  const std::vector<uint8_t>& decode_tables(uint64_t survivors, uint64_t wanted);
  std::vector<uint8_t> build_decode_tables(uint64_t survivors, uint64_t wanted) const;

  int k_;
  int m_;
  std::vector<uint8_t> matrix_;         // (k+m) x k, row-major
  std::vector<uint8_t> encode_tables_;  // ec_init_tables of the m parity rows
  std::vector<DecodeEntry> decode_cache_;
  uint64_t cache_clock_ = 0;
  uint64_t decode_cache_hits_ = 0;
  uint64_t decode_cache_misses_ = 0;
};

}  // namespace splitarray::hostdriver::ec
