// netshelf/index/index_format.h
// On-disk formats of the fingerprint index (pure encode/decode; IndexStore does the I/O).
// All integers little-endian through common/endian.h; every byte is covered by a CRC32C.
//
// Log file "index.log.<generation>": a 64-byte header, then records back to back.
//   header: u64 magic | u32 version | u32 header bytes | u64 generation | u32 crc32c([0,24))
//   record: u32 magic | u8 kind | 3 zero bytes | u32 count | u32 payload bytes | u64 sequence |
//           u64 durable_through | u32 crc32c(header[0,32) + payload) | u32 zero | payload
//   insert payload: count x (32-byte fp | u64 container | u32 offset | u32 length)
//   remove payload: count x 32-byte fp
// Sequences are consecutive across generations. durable_through is the highest sequence known
// durable when the record was built: a bad record followed by a good one whose durable_through
// covers it was acknowledged, so it is corruption, not a torn tail.
//
// Snapshot file "index.snap": a 64-byte header, a table of 2^16 u32 partition counts, then the
// entries in fp order, in blocks of kSnapshotBlockEntries x 43 bytes (fp | packed location),
// each block followed by its u32 crc32c.
//   header: u64 magic | u32 version | u32 partition bits | u64 log generation |
//           u64 first sequence | u64 entry count | u32 crc32c(table) | u32 block entries |
//           u32 crc32c([0,48))
//
// Rebuild marker "index.rebuild": exists while a rebuild from container footers is in progress.
//   u64 magic | u32 version | u32 zero | u64 rebuild id | u32 crc32c([0,24)) | u32 zero
// Its existence alone means "rebuilding" (a torn or damaged marker still does); the id only says
// which rebuild may send entries and finish.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "netshelf/index/fingerprint_index.h"
#include "netshelf/index/index_types.h"

namespace splitarray::netshelf::index {

// Entries per insert/remove/lookup call and per log record.
inline constexpr size_t kIndexBatchMax = 65536;

inline constexpr uint64_t kLogFileMagic = 0x31474F4C58494153;  // "SAIXLOG1"
inline constexpr uint32_t kLogRecordMagic = 0x52584449;        // "IDXR"
inline constexpr uint32_t kIndexFormatVersion = 1;
inline constexpr size_t kLogHeaderBytes = 64;
inline constexpr size_t kLogRecordHeaderBytes = 40;
inline constexpr size_t kLogInsertEntryBytes = kFingerprintBytes + 8 + 4 + 4;
inline constexpr size_t kLogRemoveEntryBytes = kFingerprintBytes;
inline constexpr size_t kLogRecordBytesMax =
    kLogRecordHeaderBytes + kIndexBatchMax * kLogInsertEntryBytes;

enum class LogRecordKind : uint8_t { kInsert = 1, kRemove = 2 };

struct LogRecordHeader {
  LogRecordKind kind = LogRecordKind::kInsert;
  uint32_t count = 0;
  uint32_t payload_bytes = 0;
  uint64_t sequence = 0;
  uint64_t durable_through = 0;
  uint32_t crc = 0;
};

std::vector<uint8_t> encode_log_file_header(uint64_t generation);
// The generation, or kCorruption.
Result<uint64_t> decode_log_file_header(std::span<const uint8_t> bytes);

void append_insert_record(std::vector<uint8_t>* out, uint64_t sequence, uint64_t durable_through,
                          std::span<const IndexEntry> entries);
void append_remove_record(std::vector<uint8_t>* out, uint64_t sequence, uint64_t durable_through,
                          std::span<const Fingerprint> fps);

// Checks magic, kind and that payload_bytes matches count; nullopt if any is wrong.
std::optional<LogRecordHeader> parse_log_record_header(std::span<const uint8_t> bytes);
// `record` is the whole record (header + payload) described by `header`.
bool log_record_crc_ok(const LogRecordHeader& header, std::span<const uint8_t> record);
// kCorruption if a location is out of range (the CRC passed, so this is a bug or a forgery).
Result<std::vector<IndexEntry>> decode_insert_payload(std::span<const uint8_t> payload,
                                                      uint32_t count);
std::vector<Fingerprint> decode_remove_payload(std::span<const uint8_t> payload, uint32_t count);

// --- snapshot ------------------------------------------------------------------------------

inline constexpr uint64_t kSnapshotMagic = 0x31504E5358494153;  // "SAIXSNP1"
inline constexpr size_t kSnapshotHeaderBytes = 64;
inline constexpr size_t kSnapshotTableBytes = kPartitionCount * 4;
inline constexpr size_t kSnapshotEntryBytes = kFingerprintBytes + kPackedLocationBytes;
inline constexpr uint32_t kSnapshotBlockEntries = 65536;
inline constexpr size_t kSnapshotBlockBytes = kSnapshotBlockEntries * kSnapshotEntryBytes + 4;

struct SnapshotHeader {
  uint64_t log_generation = 0;  // replay logs of this generation and later
  uint64_t first_sequence = 0;  // the sequence of the first record in that generation
  uint64_t entry_count = 0;
  uint32_t table_crc = 0;
};

std::vector<uint8_t> encode_snapshot_header(const SnapshotHeader& header);
Result<SnapshotHeader> decode_snapshot_header(std::span<const uint8_t> bytes);
uint64_t snapshot_file_bytes(uint64_t entry_count);
void encode_snapshot_entry(const IndexEntry& entry, uint8_t* out);
IndexEntry decode_snapshot_entry(const uint8_t* in);

// --- rebuild marker ------------------------------------------------------------------------

inline constexpr uint64_t kRebuildMarkerMagic = 0x31444C4258494153;  // "SAIXBLD1"
inline constexpr size_t kRebuildMarkerBytes = 32;

std::vector<uint8_t> encode_rebuild_marker(uint64_t rebuild_id);
// The rebuild id, or kCorruption (the marker is damaged: the rebuild must begin again).
Result<uint64_t> decode_rebuild_marker(std::span<const uint8_t> bytes);

}  // namespace splitarray::netshelf::index
