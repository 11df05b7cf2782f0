// hostdriver/blockstore/log_record.h
// The block store's NVRAM log record (DESIGN.md §3 step 6): one record per write, truncate,
// remove or relog, carrying the new chunks (fp, final location, stored bytes) and the block-map
// updates of one inode. The shelf stores records as opaque bytes; the host replays them on open.
//
//   header (40 bytes)                          update (56 bytes)       chunk (48 bytes + bytes)
//     0  4  magic "SABR" (0x52424153)            0  8  block index       0 32  fp
//     4  2  version (1)                          8 32  fp               32  8  container id
//     6  2  flags (bit 0: truncate)             40  8  container id     40  4  offset
//     8  8  inode                               48  4  offset           44  4  stored bytes
//    16  8  truncate: first dropped block       52  4  stored bytes     48  .. stored bytes
//    24  4  update count                       (container id 0: a hole)
//    28  4  chunk count
//    32  4  CRC32C of bytes [40, end)
//    36  4  CRC32C of bytes [0, 36)
//
// Applying a record: if truncating, drop the inode's blocks >= the first dropped block; then set
// every update (a hole erases the block). Replaying a record twice gives the same state, so a
// record the shelf stored twice (an append retried after a lost reply) is harmless.
// Pure and synchronous; decode validates every length of hostile input.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/ids.h"
#include "common/result.h"
#include "protocol/shelf_messages.h"

namespace splitarray::hostdriver::blockstore {

inline constexpr uint32_t kRecordMagic = 0x52424153;  // "SABR"
inline constexpr uint16_t kRecordVersion = 1;
inline constexpr size_t kRecordHeaderBytes = 40;
inline constexpr size_t kRecordUpdateBytes = 56;
inline constexpr size_t kRecordChunkHeaderBytes = 48;
// A record describes one write call at most (or one batch of relogged entries).
inline constexpr uint32_t kRecordUpdatesMax = 65536;
inline constexpr uint32_t kRecordChunksMax = 65536;
inline constexpr uint32_t kRecordChunkBytesMax = 64 * 1024;

struct MapUpdate {
  uint64_t block_index = 0;
  protocol::Fingerprint fp{};
  protocol::ChunkLocation location{};  // container_id 0: the block becomes a hole

  bool is_hole() const { return location.container_id == 0; }
  friend bool operator==(const MapUpdate&, const MapUpdate&) = default;
};

struct NewChunk {
  protocol::Fingerprint fp{};
  protocol::ChunkLocation location{};  // where the chunk was packed; length = bytes.size()
  std::vector<uint8_t> bytes;          // stored (compressed or raw) bytes
  friend bool operator==(const NewChunk&, const NewChunk&) = default;
};

struct LogRecord {
  InodeId inode{};
  std::optional<uint64_t> truncate_from_block;
  std::vector<MapUpdate> updates;
  std::vector<NewChunk> chunks;
  friend bool operator==(const LogRecord&, const LogRecord&) = default;
};

size_t encoded_size(const LogRecord& record);
// A record that breaks the limits above is a bug (ASSERT).
std::vector<uint8_t> encode_record(const LogRecord& record);
// kCorruption naming the field for anything but exactly one well-formed record.
Result<LogRecord> decode_record(std::span<const uint8_t> bytes);

}  // namespace splitarray::hostdriver::blockstore
