// netshelf/nvram/nvram_log_internal.h
// NvramLog's private state, shared by nvram_log.cpp (append, read, trim) and nvram_open.cpp
// (format, open, recovery). Not part of the component's API.
#pragma once

#include <deque>
#include <optional>
#include <vector>

#include "netshelf/nvram/nvram_log.h"

namespace splitarray::netshelf::nvram {

// One host's log: its region, its durable header and the in-memory index of its records.
// Invariants:
//   header.fence <= fence_target (fence_target may be ahead while a raise is being written);
//   index holds exactly the sequences [header.trimmed_through + 1, next_sequence), in order;
//   durable_next <= next_sequence; records >= durable_next are staged or being written;
//   tail_offset == (head_offset + used_bytes) % ring, unless used_bytes == ring (then equal).
struct NvramLog::HostLog {
  uint32_t region = 0;
  HostId host{};
  RegionHeader header;  // as last made durable
  Epoch fence_target{};
  uint64_t head_offset = 0;
  uint64_t tail_offset = 0;
  uint64_t used_bytes = 0;  // includes bytes reserved by appends not yet acknowledged
  uint64_t next_sequence = 1;
  uint64_t durable_next = 1;
  uint32_t last_stamped_crc = 0;  // crc of the newest record stamped for writing (the chain)
  std::deque<RecordLoc> index;
  // Set at open when a record before the tail is damaged: the log is read-only.
  std::optional<Damage> damage;
  std::deque<RecordLoc> after_damage;
  AsyncGate header_gate;  // serializes region-header updates (fence raises, trims)

  uint64_t first_sequence() const { return header.trimmed_through + 1; }
};

// One append's batch, owned by the appending coroutine's frame until its result is set.
struct NvramLog::Staged {
  HostLog* log = nullptr;
  Epoch epoch{};
  uint64_t first_sequence = 0;
  uint64_t ring_offset = 0;
  std::vector<uint8_t> bytes;              // the records, each block aligned, headers stamped late
  std::vector<uint32_t> payload_crcs;      // per record
  std::vector<uint64_t> record_positions;  // per record: offset within `bytes`
  std::vector<uint32_t> lengths;           // per record: payload bytes
  std::optional<Result<void>> result;      // set once the batch is durable or failed
  async::Oneshot<bool> wake;               // set once: result is set, or "lead the next round"
};

}  // namespace splitarray::netshelf::nvram
