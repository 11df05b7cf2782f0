// netshelf/registers/register_log.h
// The on-disk format of the register log, as pure functions (no I/O): encoding a file header and a
// batch of register records, and scanning a whole file image back into register state. The
// coroutine driver (registers.h) does the reads, writes, flushes and renames. Format and recovery
// rules are described in README.md.
//
// File:   [file header 32 B][batch][batch]...
// Header: magic u64 | format u32 | reserved u32 | salt u64 | reserved u32 | crc32c(0..28) u32
// Batch:  magic u32 | header_crc u32 | seq u64 | body_len u32 | record_count u32 | body_crc u32 |
//         reserved u32, then body_len bytes of records. Both CRCs are seeded with the file's salt,
//         so bytes that merely look like a batch (a register value, a previous file's leftovers)
//         never validate. header_crc covers bytes 8..32 of the batch header.
// Record: name_len u16 | reserved u16 | value_len u32 | version u64 | epoch u64 | name | value.
//         A record is the register's whole new state, so replay is "last record wins".
//
// Invariants: a file's batches carry seq 1, 2, 3, ... with no gaps; within one file a register's
// versions strictly increase; one batch is written with one write_at, so a crash can tear only the
// last batch.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/result.h"

namespace splitarray::netshelf {

inline constexpr size_t kLogFileHeaderBytes = 32;
inline constexpr size_t kLogBatchHeaderBytes = 32;
inline constexpr size_t kLogRecordHeaderBytes = 24;
inline constexpr uint64_t kLogFileMagic = 0x474f4c4745524153ull;  // "SAREGLOG" little-endian
inline constexpr uint32_t kLogBatchMagic = 0x54414252u;           // "RBAT" little-endian
inline constexpr uint32_t kLogFormatVersion = 1;
// Format ceilings (the fields' widths); the store's configured limits must be within them.
inline constexpr size_t kLogNameBytesCeiling = UINT16_MAX;
inline constexpr size_t kLogBatchBodyBytesCeiling = UINT32_MAX;

// One register's state as stored in the log and held in memory.
struct StoredRegister {
  std::vector<uint8_t> value;
  uint64_t version = 0;  // >= 1 for a register that exists
  Epoch epoch{0};
  friend bool operator==(const StoredRegister&, const StoredRegister&) = default;
};

// Registers keyed by name. Ordered, so compaction output is deterministic.
using RegisterMap = std::map<std::string, StoredRegister, std::less<>>;

// One record to append.
struct LogRecord {
  std::string name;
  StoredRegister state;
};

size_t encoded_record_bytes(size_t name_bytes, size_t value_bytes);

// The 32-byte file header carrying `salt`.
std::vector<uint8_t> encode_file_header(uint64_t salt);

// Appends one batch (header + records) with sequence number `seq` to `out`.
void encode_batch(uint64_t salt, uint64_t seq, std::span<const LogRecord> records,
                  std::vector<uint8_t>& out);

struct RecoveredLog {
  uint64_t salt = 0;
  RegisterMap registers;
  uint64_t batches = 0;          // valid batches replayed; the next batch's seq is batches + 1
  uint64_t valid_bytes = 0;      // end of the last valid batch (header included)
  uint64_t torn_tail_bytes = 0;  // bytes after valid_bytes that were dropped as a torn write
};

// Replays a whole file image. A batch that fails its checks is a torn tail (dropped, reported in
// torn_tail_bytes) when no valid batch of this file starts anywhere after it, and kCorruption
// when one does: acknowledged batches are never dropped silently. A bad file header, a sequence
// gap, a malformed record inside a valid batch or a version that does not increase is kCorruption.
Result<RecoveredLog> recover_log(std::span<const uint8_t> image);

}  // namespace splitarray::netshelf
