// hostdriver/fs/byte_codec.h
// Private to hostdriver/fs: a little-endian append writer and a bounds-checked reader for the
// variable-length records in records.cpp. Integers go through common/endian.h; strings are a u16
// byte count then the bytes.
// Reader invariant: it never reads past its span. The first read that would overrun marks the
// reader failed and remembers that field's name; that read and every later one return zero or
// empty and consume nothing, so a decoder reads all fields and checks ok() once before trusting
// any of them.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/assert.h"
#include "common/endian.h"

namespace splitarray::hostdriver::fs {

inline constexpr size_t kStringLengthBytes = 2;  // a string's u16 byte count

class ByteWriter final {
 public:
  explicit ByteWriter(size_t capacity_bytes) { out_.reserve(capacity_bytes); }

  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { put_u16(grow(2), 0, v); }
  void u32(uint32_t v) { put_u32(grow(4), 0, v); }
  void u64(uint64_t v) { put_u64(grow(8), 0, v); }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }  // two's complement
  void bytes(std::span<const uint8_t> v) { out_.insert(out_.end(), v.begin(), v.end()); }
  void str(std::string_view v) {
    ASSERT(v.size() <= UINT16_MAX);
    u16(static_cast<uint16_t>(v.size()));
    out_.insert(out_.end(), v.begin(), v.end());
  }
  size_t size() const { return out_.size(); }
  std::vector<uint8_t> take() && { return std::move(out_); }

 private:
  // The n bytes just appended, to be filled in.
  std::span<uint8_t> grow(size_t n) {
    out_.resize(out_.size() + n);
    return std::span<uint8_t>(out_).last(n);
  }
  std::vector<uint8_t> out_;
};

class ByteReader final {
 public:
  explicit ByteReader(std::span<const uint8_t> in) : in_(in) {}

  uint8_t u8(const char* field) { return take(1, field) ? in_[at_ - 1] : 0; }
  uint16_t u16(const char* field) { return take(2, field) ? get_u16(in_, at_ - 2) : 0; }
  uint32_t u32(const char* field) { return take(4, field) ? get_u32(in_, at_ - 4) : 0; }
  uint64_t u64(const char* field) { return take(8, field) ? get_u64(in_, at_ - 8) : 0; }
  int64_t i64(const char* field) { return static_cast<int64_t>(u64(field)); }
  void bytes(std::span<uint8_t> out, const char* field) {
    if (take(out.size(), field) && !out.empty()) {
      std::memcpy(out.data(), in_.data() + at_ - out.size(), out.size());
    }
  }
  std::string str(const char* field) {
    const uint16_t length = u16(field);
    if (!take(length, field)) return {};
    return std::string(reinterpret_cast<const char*>(in_.data()) + at_ - length, length);
  }

  bool ok() const { return failed_field_ == nullptr; }
  const char* failed_field() const { return failed_field_; }
  size_t remaining() const { return in_.size() - at_; }

 private:
  // Consumes n bytes if they are all there and no read failed before.
  bool take(size_t n, const char* field) {
    if (!ok()) return false;
    if (remaining() < n) {
      failed_field_ = field;
      return false;
    }
    at_ += n;
    ASSERT(at_ <= in_.size());
    return true;
  }

  std::span<const uint8_t> in_;
  size_t at_ = 0;
  const char* failed_field_ = nullptr;
};

}  // namespace splitarray::hostdriver::fs
