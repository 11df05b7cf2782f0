// hostdriver/nfs/xdr.cpp
#include "hostdriver/nfs/xdr.h"

#include <cstring>

#include "common/assert.h"

namespace splitarray::hostdriver::nfs {

std::span<const uint8_t> XdrDecoder::take(size_t n) {
  if (!ok_) return {};
  const size_t padded = xdr_padded(n);
  // padded < n only on overflow of a huge n; both are checked against what is left.
  if (n > remaining() || padded > remaining() || padded < n) {
    ok_ = false;
    return {};
  }
  auto bytes = bytes_.subspan(position_, n);
  position_ += padded;
  ASSERT(position_ <= bytes_.size());
  return bytes;
}

uint32_t XdrDecoder::u32() {
  auto bytes = take(4);
  if (bytes.size() != 4) return 0;
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}

uint64_t XdrDecoder::u64() {
  const uint64_t high = u32();
  const uint64_t low = u32();
  return (high << 32) | low;
}

bool XdrDecoder::boolean() { return enumeration(1) == 1; }

uint32_t XdrDecoder::enumeration(uint32_t max_value) {
  const uint32_t value = u32();
  if (value > max_value) {
    ok_ = false;
    return 0;
  }
  return value;
}

std::span<const uint8_t> XdrDecoder::opaque_view(size_t max_bytes) {
  const uint32_t length = u32();
  if (!ok_) return {};
  if (length > max_bytes) {
    ok_ = false;
    return {};
  }
  return take(length);
}

std::vector<uint8_t> XdrDecoder::opaque(size_t max_bytes) {
  auto view = opaque_view(max_bytes);
  return std::vector<uint8_t>(view.begin(), view.end());
}

std::string XdrDecoder::string(size_t max_bytes) {
  auto view = opaque_view(max_bytes);
  return std::string(view.begin(), view.end());
}

void XdrDecoder::fixed(std::span<uint8_t> out) {
  auto bytes = take(out.size());
  if (bytes.size() != out.size()) {
    std::memset(out.data(), 0, out.size());
    return;
  }
  if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
}

void XdrEncoder::u32(uint32_t value) {
  const uint8_t bytes[4] = {static_cast<uint8_t>(value >> 24), static_cast<uint8_t>(value >> 16),
                            static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)};
  out_.insert(out_.end(), bytes, bytes + 4);
}

void XdrEncoder::u64(uint64_t value) {
  u32(static_cast<uint32_t>(value >> 32));
  u32(static_cast<uint32_t>(value));
}

void XdrEncoder::fixed(std::span<const uint8_t> bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
  out_.resize(xdr_padded(out_.size()), 0);
  ASSERT(out_.size() % kXdrUnit == 0);
}

void XdrEncoder::opaque(std::span<const uint8_t> bytes) {
  ASSERT(bytes.size() <= UINT32_MAX);
  u32(static_cast<uint32_t>(bytes.size()));
  fixed(bytes);
}

void XdrEncoder::string(std::string_view text) {
  opaque(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

size_t XdrEncoder::reserve_u32() {
  const size_t at = out_.size();
  u32(0);
  return at;
}

void XdrEncoder::patch_u32(size_t at, uint32_t value) {
  ASSERT(at + 4 <= out_.size());
  out_[at] = static_cast<uint8_t>(value >> 24);
  out_[at + 1] = static_cast<uint8_t>(value >> 16);
  out_[at + 2] = static_cast<uint8_t>(value >> 8);
  out_[at + 3] = static_cast<uint8_t>(value);
}

}  // namespace splitarray::hostdriver::nfs
