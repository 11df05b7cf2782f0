// hostdriver/chunk/fingerprinter.h
// Fingerprinter computes a block's fingerprint: SHA-256 of its plaintext (common/sha256.h: OpenSSL
// EVP, SHA-NI where the CPU has it, no per-call fetch or allocation).
// Invariants:
//   (1) fingerprint(b) is a pure function of b's bytes (and of truncate_to_bits).
//   (2) With truncate_to_bits = N > 0, the first N bits equal those of the full SHA-256 and all
//       later bits are zero. Test only: it forces collisions so that verify-on-match is tested.
// Threading: an instance is single-threaded state owned by one compute thread; make one per
// thread. No globals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/sha256.h"
#include "protocol/shelf_messages.h"

namespace splitarray::hostdriver::chunk {

using protocol::Fingerprint;
using protocol::kFingerprintBytes;

inline constexpr uint32_t kFingerprintBits = kFingerprintBytes * 8;

struct FingerprinterOptions {
  // Test only: keep the first N bits of every fingerprint and zero the rest (0 = off).
  uint32_t truncate_to_bits = 0;
};

class Fingerprinter final {
 public:
  explicit Fingerprinter(const FingerprinterOptions& options = {});
  Fingerprinter(const Fingerprinter&) = delete;
  Fingerprinter& operator=(const Fingerprinter&) = delete;
  Fingerprinter(Fingerprinter&&) = delete;
  Fingerprinter& operator=(Fingerprinter&&) = delete;

  // SHA-256 of `bytes` (any length; blocks are kBlockSizeMin..kBlockSizeMax).
  Fingerprint fingerprint(std::span<const uint8_t> bytes);

 private:
  const FingerprinterOptions options_;
  Sha256 sha_;
};

// True if every byte is zero (an empty span is all zero). Zero blocks are never stored: they
// become holes in the block map.
bool is_zero_block(std::span<const uint8_t> block);

}  // namespace splitarray::hostdriver::chunk
