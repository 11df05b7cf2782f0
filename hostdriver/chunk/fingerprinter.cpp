// hostdriver/chunk/fingerprinter.cpp
#include "hostdriver/chunk/fingerprinter.h"

#include <cstring>

#include "common/assert.h"

namespace splitarray::hostdriver::chunk {

Fingerprinter::Fingerprinter(const FingerprinterOptions& options) : options_(options) {
  ASSERT(options_.truncate_to_bits <= kFingerprintBits);
}

Fingerprint Fingerprinter::fingerprint(std::span<const uint8_t> bytes) {
  static_assert(Sha256::kDigestBytes == kFingerprintBytes);
  Fingerprint fp = sha_.digest(bytes);

  const uint32_t keep_bits = options_.truncate_to_bits;
  if (keep_bits != 0) {
    // Bits are numbered from the most significant bit of byte 0 (the order of the hex form).
    const size_t full_bytes = keep_bits / 8;
    const uint32_t partial_bits = keep_bits % 8;
    size_t zero_from = full_bytes;
    if (partial_bits != 0) {
      fp[full_bytes] &= static_cast<uint8_t>(0xFF00u >> partial_bits);
      zero_from = full_bytes + 1;
    }
    std::memset(fp.data() + zero_from, 0, fp.size() - zero_from);
  }
  return fp;
}

bool is_zero_block(std::span<const uint8_t> block) {
  // OR 64-byte groups of words (the compiler vectorizes the inner loop); stop at the first
  // group with a set bit, so a typical data block is rejected after one cache line.
  constexpr size_t kGroupBytes = 64;
  constexpr size_t kWordsPerGroup = kGroupBytes / sizeof(uint64_t);
  const uint8_t* p = block.data();
  size_t left = block.size();
  while (left >= kGroupBytes) {
    uint64_t words[kWordsPerGroup];
    std::memcpy(words, p, kGroupBytes);
    uint64_t any = 0;
    for (uint64_t word : words) any |= word;
    if (any != 0) return false;
    p += kGroupBytes;
    left -= kGroupBytes;
  }
  for (; left > 0; --left, ++p) {
    if (*p != 0) return false;
  }
  return true;
}

}  // namespace splitarray::hostdriver::chunk
