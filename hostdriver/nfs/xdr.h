// hostdriver/nfs/xdr.h
// XDR (RFC 4506) encoding and decoding of the ONC RPC, NFSv3, MOUNT v3 and portmapper messages.
//
// XdrDecoder reads untrusted bytes from the network. Every read checks that the bytes are there
// and every variable-length item checks its declared length against a caller-named maximum before
// anything is copied; the first failure makes the decoder fail for good (sticky), later reads
// return zero values, and the caller checks ok() once at the end. Signed quantities that arrive
// as unsigned (offsets, sizes) are checked by the caller with fits_int64().
//
// XdrEncoder appends to a byte vector; it never fails (the caller bounds what it encodes).
// Invariants:
//   (1) Decoder: position() <= size(); a failed decoder never becomes ok() again.
//   (2) Encoder: size() is always a multiple of 4 (XDR alignment).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace splitarray::hostdriver::nfs {

inline constexpr size_t kXdrUnit = 4;
inline constexpr size_t xdr_padded(size_t bytes) {
  return (bytes + kXdrUnit - 1) & ~(kXdrUnit - 1);
}

class XdrDecoder {
 public:
  explicit XdrDecoder(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint32_t u32();
  int32_t i32() { return static_cast<int32_t>(u32()); }
  uint64_t u64();
  // A bool is 0 or 1; anything else fails the decoder.
  bool boolean();
  // An enum value in [0, max_value]; anything else fails the decoder.
  uint32_t enumeration(uint32_t max_value);
  // Variable-length opaque / string: a length <= max_bytes, the bytes, padding to 4.
  std::vector<uint8_t> opaque(size_t max_bytes);
  std::string string(size_t max_bytes);
  // A view of the next variable-length opaque (valid while the input is); empty on failure.
  std::span<const uint8_t> opaque_view(size_t max_bytes);
  // Fixed-length opaque: exactly `out.size()` bytes plus padding.
  void fixed(std::span<uint8_t> out);
  // Skips a variable-length opaque of at most max_bytes.
  void skip_opaque(size_t max_bytes) { (void)opaque_view(max_bytes); }

  // Marks the decoder failed (a caller's semantic check, e.g. an unknown union arm).
  void fail() { ok_ = false; }
  bool ok() const { return ok_; }
  // True when every byte was consumed (trailing garbage is an error for RPC arguments).
  bool at_end() const { return position_ == bytes_.size(); }
  size_t position() const { return position_; }
  size_t remaining() const { return bytes_.size() - position_; }
  // The bytes not yet decoded (e.g. the procedure arguments after the RPC header).
  std::span<const uint8_t> rest() const { return bytes_.subspan(position_); }

 private:
  // Returns the next n bytes and advances past n padded bytes; empty + failed if short.
  std::span<const uint8_t> take(size_t n);

  std::span<const uint8_t> bytes_;
  size_t position_ = 0;
  bool ok_ = true;
};

class XdrEncoder {
 public:
  XdrEncoder() = default;
  explicit XdrEncoder(std::vector<uint8_t> reuse) : out_(std::move(reuse)) { out_.clear(); }

  void u32(uint32_t value);
  void i32(int32_t value) { u32(static_cast<uint32_t>(value)); }
  void u64(uint64_t value);
  void boolean(bool value) { u32(value ? 1 : 0); }
  void opaque(std::span<const uint8_t> bytes);
  void string(std::string_view text);
  void fixed(std::span<const uint8_t> bytes);
  // Reserves a u32 to fill in later (e.g. a length known only after encoding what follows).
  size_t reserve_u32();
  void patch_u32(size_t at, uint32_t value);

  size_t size() const { return out_.size(); }
  std::vector<uint8_t>& bytes() { return out_; }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

// True when an unsigned wire value is a valid non-negative int64 (off_t, file sizes).
inline constexpr bool fits_int64(uint64_t value) { return value <= uint64_t{INT64_MAX}; }

// Runs `fill` over a decoder of `bytes`; true when it decoded without error and used every byte.
template <class Fill>
bool decode_whole(std::span<const uint8_t> bytes, Fill fill) {
  XdrDecoder in(bytes);
  fill(in);
  return in.ok() && in.at_end();
}

}  // namespace splitarray::hostdriver::nfs
