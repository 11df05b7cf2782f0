// netshelf/nvram/ring_scan.h
// Recovery of one host ring from its bytes (pure, I/O-free; the log reads the ring into memory and
// calls scan_ring). Rules (README "Recovery"):
//   - Walk the hash chain from the head: a record belongs to the log iff it is intact (magic,
//     host, incarnation, bounded length, CRC32C), has sequence expected, and its prev_crc is the
//     CRC of the record before it.
//   - Where the walk stops, look further: the first intact record with a higher sequence and the
//     chain after it. If any of those says committed_through >= the stop sequence, the stopped
//     record had been durable (acknowledged) and is now damaged: that is reported as Damage and
//     the records after it are kept. Otherwise the stop is a torn tail of a group commit that was
//     never acknowledged: it and the chain after it are truncated (counted, not kept).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/ids.h"

namespace splitarray::netshelf::nvram {

// Where one record lives in its ring.
struct RecordLoc {
  uint64_t sequence = 0;
  uint64_t offset = 0;  // ring offset of the record header, block aligned
  uint32_t length = 0;  // payload bytes
  uint32_t crc = 0;
  uint32_t prev_crc = 0;
  uint64_t committed_through = 0;
};

struct ScanParams {
  HostId host{};
  uint64_t incarnation = 0;
  uint64_t head_offset = 0;
  uint64_t first_sequence = 1;  // the sequence expected at head_offset
  uint32_t head_prev_crc = 0;
  uint64_t record_max_bytes = 0;  // no valid record has a longer payload
};

struct Damage {
  uint64_t sequence = 0;           // the damaged record's sequence
  uint64_t offset = 0;             // its ring offset
  uint64_t evidence_sequence = 0;  // a later record proving it had been durable
  uint64_t evidence_offset = 0;
  uint64_t evidence_committed_through = 0;
};

struct ScanResult {
  std::vector<RecordLoc> records;  // the intact chain from the head: contiguous sequences
  uint64_t tail_offset = 0;        // where the next record goes (after the intact chain)
  uint64_t used_bytes = 0;         // ring bytes of the intact chain
  std::optional<Damage> damage;
  std::vector<RecordLoc> after_damage;  // chain after the damage (kept), when damage is set
  uint64_t torn_discarded = 0;          // unacknowledged intact records cut off with a torn tail
  bool stopped_at_invalid = false;      // the walk ended on bytes that were not a clean end
};

// The record at `offset` if it is intact for these params (any sequence, any prev_crc).
std::optional<RecordLoc> parse_record_at(std::span<const uint8_t> ring, uint64_t offset,
                                         const ScanParams& params);

ScanResult scan_ring(std::span<const uint8_t> ring, const ScanParams& params);

}  // namespace splitarray::netshelf::nvram
