// netshelf/nvram/nvram_format.h
// On-media layout of the NVRAM file (see README.md for the picture with offsets). Pure, I/O-free
// encode/decode of the file header, the per-host region headers and the record headers, so the
// parsers of untrusted bytes can be tested and fuzzed on their own.
//
// Every integer is little-endian (common/endian.h). Every structure carries a magic and a
// CRC32C; a decoder never trusts a length before the structure's checksum has passed, and checks
// every length against the geometry before it is used.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "common/ids.h"
#include "common/result.h"

namespace splitarray::netshelf::nvram {

// Records start on block boundaries, so a torn write can damage only the blocks it touched and
// a record header (kRecordHeaderBytes) never straddles the end of a ring.
inline constexpr uint64_t kBlockBytes = 512;
// Block 0..7 of the file: the file header (one 4 KiB page, so it shares no page with a region).
inline constexpr uint64_t kFileHeaderAreaBytes = 4096;
// Each region starts with two region-header slots (ping-pong: an update writes the slot the
// current one is not in, so a torn header write leaves the previous header intact).
inline constexpr uint64_t kRegionHeaderSlots = 2;
inline constexpr uint64_t kRegionHeaderAreaBytes = kRegionHeaderSlots * kBlockBytes;
inline constexpr uint64_t kRecordHeaderBytes = 64;
// Geometry limits, checked at format and again on open (the header is untrusted input).
inline constexpr uint64_t kRingMinBytes = 64 * 1024;
inline constexpr uint32_t kMaxHostsMax = 4096;

inline constexpr uint64_t kFileMagic = 0x314D415256414E53ULL;  // "SNAVRAM1" little-endian
inline constexpr uint32_t kRegionMagic = 0x4852564EU;          // "NVRH"
inline constexpr uint32_t kRecordMagic = 0x5252564EU;          // "NVRR"
inline constexpr uint32_t kFormatVersion = 1;

static_assert(kRecordHeaderBytes <= kBlockBytes);
static_assert(kFileHeaderAreaBytes % kBlockBytes == 0);
static_assert(kRingMinBytes % kBlockBytes == 0);

inline constexpr uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}
// Bytes a record with `payload_bytes` of payload occupies in a ring.
inline constexpr uint64_t record_footprint(uint64_t payload_bytes) {
  return align_up(kRecordHeaderBytes + payload_bytes, kBlockBytes);
}

// --- File header (offset 0) -------------------------------------------------------------------

struct FileHeader {
  uint32_t block_bytes = kBlockBytes;
  uint32_t max_hosts = 0;
  uint64_t file_bytes = 0;
  uint64_t region_bytes = 0;  // header slots + ring; a multiple of kBlockBytes
  // Random at format: records of an earlier format of the same file never validate.
  uint64_t incarnation = 0;

  uint64_t region_offset(uint32_t index) const {
    return kFileHeaderAreaBytes + uint64_t{index} * region_bytes;
  }
  uint64_t ring_bytes() const { return region_bytes - kRegionHeaderAreaBytes; }
  uint64_t ring_offset(uint32_t index) const {
    return region_offset(index) + kRegionHeaderAreaBytes;
  }
};
inline constexpr uint64_t kFileHeaderBytes = 52;

// The geometry format() would choose for a file of `file_bytes` with `max_hosts` regions.
Result<FileHeader> plan_geometry(uint64_t file_bytes, uint32_t max_hosts, uint64_t incarnation);
void encode_file_header(const FileHeader& header, std::span<uint8_t> out);
// kCorruption on a bad magic or checksum, or a geometry that does not fit `actual_file_bytes`.
Result<FileHeader> decode_file_header(std::span<const uint8_t> in, uint64_t actual_file_bytes);

// --- Region header (two slots at the start of each region) ------------------------------------

struct RegionHeader {
  uint64_t generation = 0;  // bumped by every update; the valid slot with the highest wins
  bool in_use = false;      // false: the region belongs to no host yet
  HostId host{};
  Epoch fence{};                 // mutations with an older epoch are kStale
  uint64_t trimmed_through = 0;  // every sequence <= this was trimmed; the next is +1
  uint64_t head_offset = 0;      // ring offset of record trimmed_through + 1 (or the tail)
  uint32_t head_prev_crc = 0;    // CRC of record trimmed_through (the chain's anchor)
};
inline constexpr uint64_t kRegionHeaderBytes = 56;
static_assert(kRegionHeaderBytes <= kBlockBytes);

void encode_region_header(const RegionHeader& header, std::span<uint8_t> out);
// nullopt when the slot does not hold a valid header (never written, torn, or rotted).
std::optional<RegionHeader> decode_region_header(std::span<const uint8_t> in, uint64_t ring_bytes);

// --- Record header (at the start of every record, block aligned) -------------------------------

struct RecordHeader {
  HostId host{};
  uint32_t length = 0;  // payload bytes after the header
  uint32_t crc = 0;     // CRC32C over the payload, then the header with this field zeroed
  uint64_t sequence = 0;
  uint64_t incarnation = 0;
  Epoch epoch{};
  // Every sequence <= this was durable when this record was written: proof, at recovery, that
  // an earlier damaged record had been acknowledged (see README "Recovery").
  uint64_t committed_through = 0;
  uint32_t prev_crc = 0;  // crc of the previous record of this host (a hash chain)
};

void encode_record_header(const RecordHeader& header, std::span<uint8_t> out);
// Decodes without checking the CRC (the payload is needed for that); nullopt on a bad magic.
std::optional<RecordHeader> decode_record_header(std::span<const uint8_t> in);
// The CRC a record with this header (crc field ignored) and a payload whose own CRC32C is
// `payload_crc` must carry.
uint32_t record_crc(const RecordHeader& header, uint32_t payload_crc);

}  // namespace splitarray::netshelf::nvram
