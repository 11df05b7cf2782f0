// hostdriver/blockstore/log_record.cpp
#include "hostdriver/blockstore/log_record.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/assert.h"
#include "common/crc32c.h"
#include "common/endian.h"

namespace splitarray::hostdriver::blockstore {
namespace {

constexpr uint16_t kFlagTruncate = 1;
constexpr size_t kFsOpBytesOffset = 32;
constexpr size_t kReservedOffset = 36;
constexpr size_t kBodyCrcOffset = 40;
constexpr size_t kHeaderCrcOffset = 44;
static_assert(kHeaderCrcOffset + 4 == kRecordHeaderBytes);

Error corrupt(const std::string& what) {
  return make_error(Code::kCorruption, "log record: " + what);
}

void put_location(std::span<uint8_t> out, size_t at, const protocol::ChunkLocation& location) {
  put_u64(out, at, location.container_id);
  put_u32(out, at + 8, location.offset);
  put_u32(out, at + 12, location.length);
}

protocol::ChunkLocation get_location(std::span<const uint8_t> in, size_t at) {
  return {.container_id = get_u64(in, at),
          .offset = get_u32(in, at + 8),
          .length = get_u32(in, at + 12)};
}

}  // namespace

size_t encoded_size(const LogRecord& record) {
  size_t bytes = kRecordHeaderBytes + record.updates.size() * kRecordUpdateBytes;
  for (const NewChunk& chunk : record.chunks) bytes += kRecordChunkHeaderBytes + chunk.bytes.size();
  return bytes + record.fs_op.size();
}

std::vector<uint8_t> encode_record(const LogRecord& record) {
  ASSERT(record.updates.size() <= kRecordUpdatesMax);
  ASSERT(record.chunks.size() <= kRecordChunksMax);
  ASSERT(record.fs_op.size() <= kRecordFsOpBytesMax);
  std::vector<uint8_t> out(encoded_size(record));
  std::span<uint8_t> bytes(out);
  put_u32(bytes, 0, kRecordMagic);
  put_u16(bytes, 4, kRecordVersion);
  put_u16(bytes, 6, record.truncate_from_block ? kFlagTruncate : 0);
  put_u64(bytes, 8, record.inode.value());
  put_u64(bytes, 16, record.truncate_from_block.value_or(0));
  put_u32(bytes, 24, static_cast<uint32_t>(record.updates.size()));
  put_u32(bytes, 28, static_cast<uint32_t>(record.chunks.size()));
  put_u32(bytes, kFsOpBytesOffset, static_cast<uint32_t>(record.fs_op.size()));
  put_u32(bytes, kReservedOffset, 0);
  size_t at = kRecordHeaderBytes;
  for (const MapUpdate& update : record.updates) {
    put_u64(bytes, at, update.block_index);
    std::memcpy(out.data() + at + 8, update.fp.data(), update.fp.size());
    put_location(bytes, at + 40, update.location);
    at += kRecordUpdateBytes;
  }
  for (const NewChunk& chunk : record.chunks) {
    ASSERT(!chunk.bytes.empty() && chunk.bytes.size() <= kRecordChunkBytesMax);
    ASSERT(chunk.location.length == chunk.bytes.size());
    ASSERT(chunk.location.container_id != 0);
    std::memcpy(out.data() + at, chunk.fp.data(), chunk.fp.size());
    put_location(bytes, at + 32, chunk.location);
    std::memcpy(out.data() + at + kRecordChunkHeaderBytes, chunk.bytes.data(), chunk.bytes.size());
    at += kRecordChunkHeaderBytes + chunk.bytes.size();
  }
  if (!record.fs_op.empty()) std::memcpy(out.data() + at, record.fs_op.data(), record.fs_op.size());
  at += record.fs_op.size();
  ASSERT(at == out.size());
  put_u32(bytes, kBodyCrcOffset, crc32c(bytes.subspan(kRecordHeaderBytes)));
  put_u32(bytes, kHeaderCrcOffset, crc32c(bytes.first(kHeaderCrcOffset)));
  return out;
}

Result<LogRecord> decode_record(std::span<const uint8_t> bytes) {
  if (bytes.size() < kRecordHeaderBytes) return corrupt("shorter than its header");
  if (get_u32(bytes, 0) != kRecordMagic) return corrupt("bad magic");
  if (get_u32(bytes, kHeaderCrcOffset) != crc32c(bytes.first(kHeaderCrcOffset))) {
    return corrupt("bad header CRC");
  }
  if (get_u16(bytes, 4) != kRecordVersion) return corrupt("unknown version");
  const uint16_t flags = get_u16(bytes, 6);
  if ((flags & ~kFlagTruncate) != 0) return corrupt("unknown flags");
  if (get_u32(bytes, kBodyCrcOffset) != crc32c(bytes.subspan(kRecordHeaderBytes))) {
    return corrupt("bad body CRC");
  }
  LogRecord record;
  record.inode = InodeId(get_u64(bytes, 8));
  if (flags & kFlagTruncate) {
    record.truncate_from_block = get_u64(bytes, 16);
  } else if (get_u64(bytes, 16) != 0) {
    return corrupt("truncate field set without the truncate flag");
  }
  const uint32_t update_count = get_u32(bytes, 24);
  const uint32_t chunk_count = get_u32(bytes, 28);
  if (update_count > kRecordUpdatesMax) return corrupt("too many updates");
  if (chunk_count > kRecordChunksMax) return corrupt("too many chunks");
  const uint32_t fs_op_bytes = get_u32(bytes, kFsOpBytesOffset);
  if (fs_op_bytes > kRecordFsOpBytesMax) return corrupt("file-system operation too long");
  if (get_u32(bytes, kReservedOffset) != 0) return corrupt("reserved field set");
  size_t at = kRecordHeaderBytes;
  if ((bytes.size() - at) / kRecordUpdateBytes < update_count) return corrupt("updates truncated");
  record.updates.resize(update_count);
  for (MapUpdate& update : record.updates) {
    update.block_index = get_u64(bytes, at);
    std::memcpy(update.fp.data(), bytes.data() + at + 8, update.fp.size());
    update.location = get_location(bytes, at + 40);
    at += kRecordUpdateBytes;
  }
  record.chunks.resize(chunk_count);
  for (NewChunk& chunk : record.chunks) {
    if (bytes.size() - at < kRecordChunkHeaderBytes) return corrupt("chunk header truncated");
    std::memcpy(chunk.fp.data(), bytes.data() + at, chunk.fp.size());
    chunk.location = get_location(bytes, at + 32);
    const uint32_t length = chunk.location.length;
    if (length == 0 || length > kRecordChunkBytesMax) return corrupt("bad chunk length");
    if (chunk.location.container_id == 0) return corrupt("chunk without a container");
    at += kRecordChunkHeaderBytes;
    if (bytes.size() - at < length) return corrupt("chunk bytes truncated");
    chunk.bytes.assign(bytes.begin() + at, bytes.begin() + at + length);
    at += length;
  }
  if (bytes.size() - at < fs_op_bytes) return corrupt("file-system operation truncated");
  record.fs_op.assign(bytes.begin() + static_cast<ptrdiff_t>(at),
                      bytes.begin() + static_cast<ptrdiff_t>(at + fs_op_bytes));
  at += fs_op_bytes;
  if (at != bytes.size()) return corrupt("trailing bytes");
  return record;
}

}  // namespace splitarray::hostdriver::blockstore
