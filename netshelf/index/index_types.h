// netshelf/index/index_types.h
// Values of the shelf's global fingerprint index (DESIGN.md §7): a fingerprint (32 bytes of
// SHA-256 or HMAC-SHA256, never interpreted by the shelf) maps to the location of its chunk
// inside a sealed container. Also the packed 11-byte form of a location that the in-memory index
// and the on-disk formats share, and the limits that packing implies.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <span>

#include "common/endian.h"
#include "common/ids.h"
#include "common/result.h"

namespace splitarray::netshelf::index {

inline constexpr size_t kFingerprintBytes = 32;

struct Fingerprint {
  std::array<uint8_t, kFingerprintBytes> bytes{};

  friend auto operator<=>(const Fingerprint&, const Fingerprint&) = default;
  friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
};

// Where a chunk lives: byte range [offset, offset + length) of a container's payload.
struct ChunkLocation {
  ContainerId container{};
  uint32_t offset = 0;
  uint32_t length = 0;

  friend bool operator==(const ChunkLocation&, const ChunkLocation&) = default;
};

struct IndexEntry {
  Fingerprint fp;
  ChunkLocation location;
};

// Answer to a lookup, and (from remove) what was there before.
struct LookupResult {
  bool found = false;
  ChunkLocation location{};  // meaningful when found
};

// First writer wins: inserted == false means the fp was already present (possibly inserted by an
// earlier entry of the same batch) and `existing` is the location that stays.
struct InsertResult {
  bool inserted = false;
  ChunkLocation existing{};  // meaningful when !inserted
};

// ---------------------------------------------------------------------------------------------
// Packed location: container id 40 bits, offset 24 bits, length 24 bits = 11 bytes.
// Containers are 8 MiB of payload (DESIGN.md §13) and a chunk is at most one 64 KiB block plus
// framing, so 24 bits leave 2x headroom for both; 2^40 containers of 8 MiB are 8 EiB.

inline constexpr uint64_t kContainerIdBits = 40;
inline constexpr uint64_t kOffsetBits = 24;
inline constexpr uint64_t kLengthBits = 24;
inline constexpr uint64_t kContainerIdMax = (uint64_t{1} << kContainerIdBits) - 1;
inline constexpr uint32_t kOffsetMax = (uint32_t{1} << kOffsetBits) - 1;
inline constexpr uint32_t kLengthMax = (uint32_t{1} << kLengthBits) - 1;
inline constexpr size_t kPackedLocationBytes = (kContainerIdBits + kOffsetBits + kLengthBits) / 8;
static_assert(kPackedLocationBytes == 11);
static_assert(kOffsetMax >= 8 * 1024 * 1024, "a container's 8 MiB payload must be addressable");
static_assert(kLengthMax >= 64 * 1024 + 4096, "a 64 KiB block plus framing must fit");

// kInvalidArgument (never truncation) for a location the packed form cannot hold exactly.
inline Result<void> validate_location(const ChunkLocation& location) {
  if (location.container.value() > kContainerIdMax) {
    return make_error(Code::kInvalidArgument, "index: container id above 2^40-1");
  }
  if (location.offset > kOffsetMax) {
    return make_error(Code::kInvalidArgument, "index: chunk offset above 2^24-1");
  }
  if (location.length == 0 || location.length > kLengthMax) {
    return make_error(Code::kInvalidArgument, "index: chunk length is 0 or above 2^24-1");
  }
  return ok_result();
}

inline void pack_location(const ChunkLocation& location, uint8_t* out) {
  ASSERT(location.container.value() <= kContainerIdMax);
  ASSERT(location.offset <= kOffsetMax);
  ASSERT(location.length <= kLengthMax);
  const uint64_t c = location.container.value();
  for (size_t i = 0; i < 5; ++i) out[i] = static_cast<uint8_t>(c >> (8 * i));
  for (size_t i = 0; i < 3; ++i) out[5 + i] = static_cast<uint8_t>(location.offset >> (8 * i));
  for (size_t i = 0; i < 3; ++i) out[8 + i] = static_cast<uint8_t>(location.length >> (8 * i));
}

inline ChunkLocation unpack_location(const uint8_t* in) {
  uint64_t c = 0;
  for (size_t i = 0; i < 5; ++i) c |= uint64_t{in[i]} << (8 * i);
  uint32_t offset = 0;
  uint32_t length = 0;
  for (size_t i = 0; i < 3; ++i) offset |= uint32_t{in[5 + i]} << (8 * i);
  for (size_t i = 0; i < 3; ++i) length |= uint32_t{in[8 + i]} << (8 * i);
  return ChunkLocation{.container = ContainerId(c), .offset = offset, .length = length};
}

}  // namespace splitarray::netshelf::index
