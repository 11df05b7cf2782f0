// netshelf/nvram/nvram_format.cpp
#include "netshelf/nvram/nvram_format.h"

#include <algorithm>
#include <array>
#include <string>

#include "common/crc32c.h"
#include "common/endian.h"

namespace splitarray::netshelf::nvram {
namespace {

// File header field offsets.
constexpr size_t kFhMagic = 0, kFhVersion = 8, kFhBlock = 12, kFhMaxHosts = 16, kFhFile = 24,
                 kFhRegion = 32, kFhIncarnation = 40, kFhCrc = 48;
static_assert(kFhCrc + 4 == kFileHeaderBytes);

// Region header field offsets.
constexpr size_t kRhMagic = 0, kRhVersion = 4, kRhState = 6, kRhGeneration = 8, kRhHost = 16,
                 kRhFence = 24, kRhTrimmed = 32, kRhHead = 40, kRhHeadPrevCrc = 48, kRhCrc = 52;
static_assert(kRhCrc + 4 == kRegionHeaderBytes);

// Record header field offsets.
constexpr size_t kRcMagic = 0, kRcHost = 4, kRcLength = 8, kRcCrc = 12, kRcSequence = 16,
                 kRcIncarnation = 24, kRcEpoch = 32, kRcCommitted = 40, kRcPrevCrc = 48;
static_assert(kRcPrevCrc + 4 <= kRecordHeaderBytes);

}  // namespace

Result<FileHeader> plan_geometry(uint64_t file_bytes, uint32_t max_hosts, uint64_t incarnation) {
  if (max_hosts == 0 || max_hosts > kMaxHostsMax) {
    return make_error(Code::kInvalidArgument,
                      "nvram: max_hosts must be 1.." + std::to_string(kMaxHostsMax));
  }
  if (file_bytes <= kFileHeaderAreaBytes) {
    return make_error(Code::kInvalidArgument, "nvram: file too small");
  }
  FileHeader header;
  header.max_hosts = max_hosts;
  header.file_bytes = file_bytes;
  header.region_bytes = (file_bytes - kFileHeaderAreaBytes) / max_hosts / kBlockBytes * kBlockBytes;
  header.incarnation = incarnation;
  if (header.region_bytes < kRegionHeaderAreaBytes + kRingMinBytes) {
    return make_error(Code::kInvalidArgument,
                      "nvram: " + std::to_string(file_bytes) + " bytes for " +
                          std::to_string(max_hosts) + " hosts leaves a ring below " +
                          std::to_string(kRingMinBytes) + " bytes per host");
  }
  ASSERT(header.region_offset(max_hosts) <= file_bytes);
  ASSERT(header.ring_bytes() % kBlockBytes == 0);
  return header;
}

void encode_file_header(const FileHeader& header, std::span<uint8_t> out) {
  ASSERT(out.size() >= kFileHeaderBytes);
  ASSERT(header.region_bytes % kBlockBytes == 0);
  std::fill(out.begin(), out.begin() + kFileHeaderBytes, uint8_t{0});
  put_u64(out, kFhMagic, kFileMagic);
  put_u32(out, kFhVersion, kFormatVersion);
  put_u32(out, kFhBlock, header.block_bytes);
  put_u32(out, kFhMaxHosts, header.max_hosts);
  put_u64(out, kFhFile, header.file_bytes);
  put_u64(out, kFhRegion, header.region_bytes);
  put_u64(out, kFhIncarnation, header.incarnation);
  put_u32(out, kFhCrc, crc32c(out.first(kFhCrc)));
}

Result<FileHeader> decode_file_header(std::span<const uint8_t> in, uint64_t actual_file_bytes) {
  ASSERT(in.size() >= kFileHeaderBytes);
  if (get_u64(in, kFhMagic) != kFileMagic) {
    return make_error(Code::kCorruption, "nvram: not an NVRAM file (bad magic)");
  }
  if (get_u32(in, kFhCrc) != crc32c(in.first(kFhCrc))) {
    return make_error(Code::kCorruption, "nvram: file header checksum mismatch");
  }
  if (get_u32(in, kFhVersion) != kFormatVersion) {
    return make_error(Code::kCorruption, "nvram: unsupported format version");
  }
  FileHeader header;
  header.block_bytes = get_u32(in, kFhBlock);
  header.max_hosts = get_u32(in, kFhMaxHosts);
  header.file_bytes = get_u64(in, kFhFile);
  header.region_bytes = get_u64(in, kFhRegion);
  header.incarnation = get_u64(in, kFhIncarnation);
  // Lengths from the medium are checked before anything is computed from them.
  const bool geometry_ok =
      header.block_bytes == kBlockBytes && header.max_hosts >= 1 &&
      header.max_hosts <= kMaxHostsMax && header.region_bytes % kBlockBytes == 0 &&
      header.region_bytes >= kRegionHeaderAreaBytes + kRingMinBytes &&
      header.region_bytes <= header.file_bytes && header.file_bytes <= actual_file_bytes &&
      header.region_offset(header.max_hosts) <= header.file_bytes;
  if (!geometry_ok) {
    return make_error(Code::kCorruption, "nvram: file header geometry does not fit the file");
  }
  return header;
}

void encode_region_header(const RegionHeader& header, std::span<uint8_t> out) {
  ASSERT(out.size() >= kRegionHeaderBytes);
  ASSERT(header.head_offset % kBlockBytes == 0);
  std::fill(out.begin(), out.begin() + kRegionHeaderBytes, uint8_t{0});
  put_u32(out, kRhMagic, kRegionMagic);
  put_u16(out, kRhVersion, static_cast<uint16_t>(kFormatVersion));
  put_u16(out, kRhState, header.in_use ? 1 : 0);
  put_u64(out, kRhGeneration, header.generation);
  put_u32(out, kRhHost, header.host.value());
  put_u64(out, kRhFence, header.fence.value());
  put_u64(out, kRhTrimmed, header.trimmed_through);
  put_u64(out, kRhHead, header.head_offset);
  put_u32(out, kRhHeadPrevCrc, header.head_prev_crc);
  put_u32(out, kRhCrc, crc32c(out.first(kRhCrc)));
}

std::optional<RegionHeader> decode_region_header(std::span<const uint8_t> in, uint64_t ring_bytes) {
  ASSERT(in.size() >= kRegionHeaderBytes);
  if (get_u32(in, kRhMagic) != kRegionMagic) return std::nullopt;
  if (get_u32(in, kRhCrc) != crc32c(in.first(kRhCrc))) return std::nullopt;
  if (get_u16(in, kRhVersion) != kFormatVersion) return std::nullopt;
  const uint16_t state = get_u16(in, kRhState);
  RegionHeader header;
  header.generation = get_u64(in, kRhGeneration);
  header.in_use = state == 1;
  header.host = HostId(get_u32(in, kRhHost));
  header.fence = Epoch(get_u64(in, kRhFence));
  header.trimmed_through = get_u64(in, kRhTrimmed);
  header.head_offset = get_u64(in, kRhHead);
  header.head_prev_crc = get_u32(in, kRhHeadPrevCrc);
  if (state > 1 || header.head_offset >= ring_bytes || header.head_offset % kBlockBytes != 0) {
    return std::nullopt;
  }
  return header;
}

void encode_record_header(const RecordHeader& header, std::span<uint8_t> out) {
  ASSERT(out.size() >= kRecordHeaderBytes);
  std::fill(out.begin(), out.begin() + kRecordHeaderBytes, uint8_t{0});
  put_u32(out, kRcMagic, kRecordMagic);
  put_u32(out, kRcHost, header.host.value());
  put_u32(out, kRcLength, header.length);
  put_u32(out, kRcCrc, header.crc);
  put_u64(out, kRcSequence, header.sequence);
  put_u64(out, kRcIncarnation, header.incarnation);
  put_u64(out, kRcEpoch, header.epoch.value());
  put_u64(out, kRcCommitted, header.committed_through);
  put_u32(out, kRcPrevCrc, header.prev_crc);
}

std::optional<RecordHeader> decode_record_header(std::span<const uint8_t> in) {
  ASSERT(in.size() >= kRecordHeaderBytes);
  if (get_u32(in, kRcMagic) != kRecordMagic) return std::nullopt;
  RecordHeader header;
  header.host = HostId(get_u32(in, kRcHost));
  header.length = get_u32(in, kRcLength);
  header.crc = get_u32(in, kRcCrc);
  header.sequence = get_u64(in, kRcSequence);
  header.incarnation = get_u64(in, kRcIncarnation);
  header.epoch = Epoch(get_u64(in, kRcEpoch));
  header.committed_through = get_u64(in, kRcCommitted);
  header.prev_crc = get_u32(in, kRcPrevCrc);
  return header;
}

uint32_t record_crc(const RecordHeader& header, uint32_t payload_crc) {
  // Payload first, then the header: the writer stamps committed_through and prev_crc into the
  // header at write time without re-reading the payload.
  std::array<uint8_t, kRecordHeaderBytes> bytes{};
  RecordHeader copy = header;
  copy.crc = 0;
  encode_record_header(copy, bytes);
  return crc32c(bytes, payload_crc);
}

}  // namespace splitarray::netshelf::nvram
