// netshelf/nvram/nvram_log.h
// NvramLog: one append-only log per host inside one NVRAM file (DESIGN.md §3 step 6, §4, §7).
// Layout, recovery rules and the group-commit design are in README.md next to this file.
//
// Invariants:
//   (1) An append is acknowledged only after a LogDevice::flush() that started after all of its
//       bytes (and those of every earlier sequence of the file) were written. Acks are therefore
//       in sequence order per host, and nothing that is not durable is ever acknowledged.
//   (2) Per host, sequences are contiguous from 1; a batch is all-or-nothing (one reservation).
//   (3) Ring bytes of a record are reused only after a trim covering it is durable
//       (region header written and flushed).
//   (4) A mutation carrying an epoch older than the host's fence is kStale and changes nothing;
//       a newer epoch is made durable (region header) before the mutation proceeds.
//   (5) After any write or flush error the log is failed: every later call is kIo.
//   (6) used_bytes <= ring capacity; beyond that appends get kBusy (backpressure).
// Threading: all methods run on the Env's event loop. Concurrent calls from many coroutines are
// expected; every caller must finish its calls before the NvramLog is destroyed.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/async/oneshot.h"
#include "common/env.h"
#include "common/ids.h"
#include "netshelf/nvram/async_gate.h"
#include "netshelf/nvram/log_device.h"
#include "netshelf/nvram/nvram_format.h"
#include "netshelf/nvram/ring_scan.h"

namespace splitarray::netshelf::nvram {

// Hard upper bounds for the configurable limits (a config beyond them is kInvalidArgument).
inline constexpr uint64_t kAppendMaxBytesLimit = 64 * 1024 * 1024;
inline constexpr uint32_t kAppendRecordsMax = 4096;
inline constexpr uint64_t kReadMaxBytesLimit = 64 * 1024 * 1024;

struct NvramConfig {
  // Layout (used by format(); open() takes the layout from the file header).
  uint64_t file_bytes = 64 * 1024 * 1024;
  uint32_t max_hosts = 16;
  // Runtime limits.
  uint64_t append_max_bytes = 1024 * 1024;    // payload bytes per append (all its records)
  uint32_t append_records_max = 1024;         // records per append, <= kAppendRecordsMax
  uint64_t read_max_bytes = 4 * 1024 * 1024;  // payload bytes per read reply
};

struct AppendResult {
  uint64_t first_sequence = 0;  // sequence of the batch's first record
  uint64_t used_bytes = 0;      // ring bytes in use for this host after the append
  uint64_t capacity_bytes = 0;
};

struct LogRecord {
  uint64_t sequence = 0;
  std::vector<uint8_t> bytes;
};

struct ReadResult {
  std::vector<LogRecord> records;  // contiguous sequences starting at the requested one
  uint64_t first_sequence = 0;     // first record still in the log (not trimmed)
  uint64_t next_sequence = 0;      // one past the last acknowledged record
};

struct LogUsage {
  HostId host{};
  uint64_t used_bytes = 0;
  uint64_t capacity_bytes = 0;
  uint64_t first_sequence = 0;
  uint64_t next_sequence = 0;
  Epoch fence{};
  bool damaged = false;
};

struct NvramStats {
  uint64_t flushes = 0;                 // group-commit flushes (one per round)
  uint64_t header_flushes = 0;          // flushes for region headers (claims, fence raises, trims)
  uint64_t appends = 0;                 // acknowledged appends
  uint64_t records = 0;                 // acknowledged records
  uint64_t torn_records_discarded = 0;  // at open: unacknowledged records cut with torn tails
};

class NvramLog final {
 public:
  // Creates (or overwrites the layout of) the NVRAM file and opens it with no host logs.
  static Task<Result<std::unique_ptr<NvramLog>>> format(Env& env, std::string path,
                                                        NvramConfig config);
  // Opens and recovers every host log (README "Recovery"). A host whose log holds a damaged
  // record before its tail is opened read-only: damage(host) says where; appends and trims for
  // it are kCorruption; records before and after the damage stay readable.
  static Task<Result<std::unique_ptr<NvramLog>>> open(Env& env, std::string path,
                                                      NvramConfig config);
  static Task<Result<std::unique_ptr<NvramLog>>> open_device(Env& env,
                                                             std::unique_ptr<LogDevice> device,
                                                             NvramConfig config);

  NvramLog(const NvramLog&) = delete;
  NvramLog& operator=(const NvramLog&) = delete;
  ~NvramLog();

  // Appends the records as one all-or-nothing batch and returns once they are durable.
  // kInvalidArgument: empty batch, too many records or bytes. kBusy: the host's ring is full.
  // kStale: epoch older than the fence. kNoSpace: a new host and no free region. kIo: failed.
  Task<Result<AppendResult>> append(HostId host, Epoch epoch,
                                    std::span<const std::span<const uint8_t>> records);
  // Acknowledged records from from_sequence on, up to max_bytes of payload (at least one record
  // when any is available). kNotFound: unknown host or from_sequence already trimmed.
  // kCorruption: from_sequence is a damaged record (or bytes failed their CRC on this read).
  Task<Result<ReadResult>> read(HostId host, uint64_t from_sequence, uint64_t max_bytes);
  // Discards records <= through_sequence durably. through_sequence must be acknowledged.
  Task<Result<void>> trim(HostId host, Epoch epoch, uint64_t through_sequence);

  Result<LogUsage> usage(HostId host) const;
  std::vector<HostId> hosts() const;  // hosts with a log, ascending
  std::optional<Error> damage(HostId host) const;
  bool failed() const { return failed_.has_value(); }
  const NvramStats& stats() const { return stats_; }
  const FileHeader& geometry() const { return geometry_; }

 private:
  struct HostLog;
  struct Staged;

  NvramLog(Env& env, std::unique_ptr<LogDevice> device, NvramConfig config, FileHeader geometry);

  static Result<void> validate_config(const NvramConfig& config);
  Task<Result<void>> recover_region(uint32_t index, std::vector<uint8_t>& ring_buffer);
  Task<Result<void>> recover_host(uint32_t index, const RegionHeader& header,
                                  std::vector<uint8_t>& ring_buffer);

  Task<Result<HostLog*>> find_or_claim(HostId host, Epoch epoch);
  Task<Result<void>> admit(HostLog& log, Epoch epoch);
  Task<Result<void>> write_region_header(HostLog& log, const RegionHeader& next);
  Task<Result<void>> write_header_slot(uint32_t region, const RegionHeader& next);
  Result<void> check_reservation(const HostLog& log, Epoch epoch,
                                 std::span<const std::span<const uint8_t>> records) const;
  void reserve(HostLog& log, Epoch epoch, std::span<const std::span<const uint8_t>> records,
               Staged& staged);
  Task<void> lead_round();
  void stamp(Staged& staged);
  Task<Result<void>> write_staged(const Staged& staged);
  Task<Result<std::vector<uint8_t>>> read_ring(const HostLog& log, uint64_t offset,
                                               uint64_t length);
  Task<Result<LogRecord>> read_record(const HostLog& log, const RecordLoc& loc);
  Error fail(std::string_view what, const Error& cause);
  Error damage_error(const HostLog& log) const;

  Logger log_;
  std::unique_ptr<LogDevice> device_;
  const NvramConfig config_;
  const FileHeader geometry_;

  std::map<HostId, std::unique_ptr<HostLog>> hosts_;  // ordered: deterministic iteration
  std::map<uint32_t, uint64_t> free_regions_;         // region index -> header generation
  AsyncGate claim_gate_;

  // Group commit (README "Group commit"): appends stage their bytes here in reservation order;
  // one leader at a time writes everything staged and flushes once.
  std::deque<Staged*> staged_;
  bool leader_active_ = false;

  std::optional<Error> failed_;
  uint64_t calls_inflight_ = 0;
  NvramStats stats_;
};

}  // namespace splitarray::netshelf::nvram
