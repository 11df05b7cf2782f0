// common/endian.h
// Little-endian encoding helpers for wire and disk formats. Every on-wire and on-disk integer is
// little-endian, written and read through these (never by memcpy of a struct), so layouts do not
// depend on the compiler's padding.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

#include "common/assert.h"

namespace splitarray {

template <class T>
inline void put_le(std::span<uint8_t> out, size_t offset, T value) {
  static_assert(std::is_unsigned_v<T>);
  ASSERT(offset + sizeof(T) <= out.size());
  for (size_t i = 0; i < sizeof(T); ++i) {
    out[offset + i] = static_cast<uint8_t>(value >> (8 * i));
  }
}

template <class T>
inline T get_le(std::span<const uint8_t> in, size_t offset) {
  static_assert(std::is_unsigned_v<T>);
  ASSERT(offset + sizeof(T) <= in.size());
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<T>(static_cast<T>(in[offset + i]) << (8 * i));
  }
  return value;
}

inline void put_u16(std::span<uint8_t> out, size_t offset, uint16_t v) { put_le(out, offset, v); }
inline void put_u32(std::span<uint8_t> out, size_t offset, uint32_t v) { put_le(out, offset, v); }
inline void put_u64(std::span<uint8_t> out, size_t offset, uint64_t v) { put_le(out, offset, v); }
inline uint16_t get_u16(std::span<const uint8_t> in, size_t offset) {
  return get_le<uint16_t>(in, offset);
}
inline uint32_t get_u32(std::span<const uint8_t> in, size_t offset) {
  return get_le<uint32_t>(in, offset);
}
inline uint64_t get_u64(std::span<const uint8_t> in, size_t offset) {
  return get_le<uint64_t>(in, offset);
}

}  // namespace splitarray
