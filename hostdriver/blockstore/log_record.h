// hostdriver/blockstore/log_record.h
// The block store's NVRAM log record (DESIGN.md §3 step 6): one record per write, truncate,
// remove or relog, carrying the new chunks (fp, final location, stored bytes) and the block-map
// updates of one inode, and optionally one file-system operation (opaque bytes the file system
// above interprets on replay). A record with inode 0 changes no block map: it carries metadata
// chunks (put_chunks) and/or a file-system operation. The shelf stores records as opaque bytes;
// the host replays them on open.
//
//   header (48 bytes)                          update (56 bytes)       chunk (48 bytes + bytes)
//     0  4  magic "SABR" (0x52424153)            0  8  block index       0 32  fp
//     4  2  version (2)                          8 32  fp               32  8  container id
//     6  2  flags (bit 0: truncate)             40  8  container id     40  4  offset
//     8  8  inode (0: no block-map change)      48  4  offset           44  4  stored bytes
//    16  8  truncate: first dropped block       52  4  stored bytes     48  .. stored bytes
//    24  4  update count                       (container id 0: a hole)
//    28  4  chunk count                        then the file-system operation's bytes
//    32  4  file-system operation bytes
//    36  4  reserved (0)
//    40  4  CRC32C of bytes [48, end)
//    44  4  CRC32C of bytes [0, 44)
//
// Applying a record: if truncating, drop the inode's blocks >= the first dropped block; then set
// every update (a hole erases the block). Replaying a record twice gives the same block maps, so a
// record the shelf stored twice (an append retried after a lost reply) is harmless there; the file
// system de-duplicates its operations itself (they carry its own sequence numbers).
// Version 1 (no file-system operation, 40-byte header) predates any deployment and is refused.
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
inline constexpr uint16_t kRecordVersion = 2;
inline constexpr size_t kRecordHeaderBytes = 48;
inline constexpr size_t kRecordUpdateBytes = 56;
inline constexpr size_t kRecordChunkHeaderBytes = 48;
// A record describes one write call at most (or one batch of relogged entries).
inline constexpr uint32_t kRecordUpdatesMax = 65536;
inline constexpr uint32_t kRecordChunksMax = 65536;
inline constexpr uint32_t kRecordChunkBytesMax = 64 * 1024;
// A file-system operation (a rename carries two names of <= 255 bytes; a symlink a target).
inline constexpr uint32_t kRecordFsOpBytesMax = 16 * 1024;

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
  std::vector<uint8_t> fs_op;  // empty: none
  friend bool operator==(const LogRecord&, const LogRecord&) = default;
};

size_t encoded_size(const LogRecord& record);
// A record that breaks the limits above is a bug (ASSERT).
std::vector<uint8_t> encode_record(const LogRecord& record);
// kCorruption naming the field for anything but exactly one well-formed record.
Result<LogRecord> decode_record(std::span<const uint8_t> bytes);

}  // namespace splitarray::hostdriver::blockstore
