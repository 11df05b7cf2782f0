// hostdriver/status/host_status.h
// HostStatus: what a running host driver tells the rest of the cluster about itself (DESIGN.md
// §7 "Admin/status", §2 "register"): its state, the datastores it serves with their NFS export
// and figures (files, logical / unique / stored bytes, dedup and compression ratios, read and
// repair counters), and a generic name -> count list (NFS calls, errors, ...) that other layers
// extend without touching this file. StatusPublisher (status_publisher.h) writes it to the shelf
// register `hosts/<id>/status` every couple of seconds; `arrayctl status` reads it.
//
// Encoding: one JSON object (nlohmann-json), at most kHostStatusBytesMax bytes, so it fits a
// shelf register. Additive fields do not change kHostStatusFormat: decoders ignore keys they do
// not know, so an older arrayctl reads a newer host. A change of meaning bumps the format.
//
// Invariants:
//   (1) encode() output decodes to an equal HostStatus (round trip), and is never larger than
//       kHostStatusBytesMax: a record beyond a limit is kInvalidArgument, not truncated.
//   (2) decode() never throws and never trusts the bytes: wrong JSON, wrong types, missing
//       required keys, values beyond the limits or an unknown format are kProtocol.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/ids.h"
#include "common/result.h"
#include "common/units.h"
#include "protocol/shelf_messages.h"

namespace splitarray::hostdriver::status {

inline constexpr uint32_t kHostStatusFormat = 1;
// The encoded record must fit a shelf register value.
inline constexpr size_t kHostStatusBytesMax = protocol::kRegisterValueBytesMaxWire;
inline constexpr size_t kDatastoresPerHostMax = 16;
inline constexpr size_t kCountersMax = 128;
inline constexpr size_t kCounterNameBytesMax = 64;
inline constexpr size_t kLabelBytesMax = 128;      // host label, datastore name
inline constexpr size_t kExportUrlBytesMax = 512;  // nfs://host/path?nfsport=..&mountport=..
// The directory of hosts that ever published (so arrayctl finds hosts the shelf does not name).
inline constexpr size_t kHostDirectoryMax = 1024;
// How often a live host rewrites its record (StatusPublisherConfig::interval's default), and how
// many of its own intervals may pass without a record before readers call it stale.
inline constexpr Duration kPublishIntervalDefault = std::chrono::seconds(2);
inline constexpr int64_t kStaleIntervals = 3;

// A record with every list and text at its maximum (plain ASCII) still fits: about 16 x 1.3 KB of
// datastores plus 128 x 90 B of counters plus the host's own fields, far below 64 KiB.
static_assert(kDatastoresPerHostMax * (2 * kLabelBytesMax + kExportUrlBytesMax + 1024) +
                  kCountersMax * (kCounterNameBytesMax + 32) + 1024 <=
              kHostStatusBytesMax);

enum class HostState : uint8_t {
  kStarting,  // the process runs; its datastores are not served yet
  kServing,
  kStopping,  // draining: refusing new work, finishing old
  kStopped,   // the last record of a clean stop (StatusPublisher::stop writes it)
  // Another host took a datastore of this one over (file_system.h "Ownership"). It answers
  // NFS3ERR_JUKEBOX for that datastore until an operator stops it; it does not exit by itself,
  // so a supervisor restarting it cannot take the datastore back from the new owner.
  kFenced,
};
std::string_view host_state_name(HostState state);
// Parses host_state_name()'s words; anything else is kProtocol.
Result<HostState> parse_host_state(std::string_view text);

// One datastore served by the host: its export and its figures (hostdriver/fs FsStats and
// hostdriver/blockstore BlockStoreStats; fs_figures.h copies them over).
struct DatastoreStatus {
  std::string name;
  std::string export_url;  // e.g. nfs://127.0.0.1/default?nfsport=20490&mountport=20048
  uint32_t log_id = 0;     // the datastore's NVRAM log slot on the shelf (0: unknown)
  // The file system.
  uint64_t inodes = 0;  // files, directories and symlinks, the root included
  uint64_t checkpoints = 0;
  uint64_t operations = 0;
  // The block store: logical = bytes of non-hole blocks in files; unique = logical bytes of the
  // distinct chunks stored; stored = those after compression.
  uint64_t logical_bytes = 0;
  uint64_t unique_bytes = 0;
  uint64_t stored_bytes = 0;
  uint64_t blocks_written = 0;
  uint64_t zero_blocks = 0;
  uint64_t dedup_hits = 0;
  uint64_t chunks_stored = 0;
  uint64_t containers_destaged = 0;
  uint64_t reads = 0;
  uint64_t read_cache_hits = 0;
  uint64_t degraded_reads = 0;
  uint64_t repairs = 0;
  uint64_t unrecoverable_blocks = 0;

  // 1.0 when the denominator is zero (nothing stored yet), as BlockStoreStats does.
  double dedup_ratio() const;        // logical / unique
  double compression_ratio() const;  // unique / stored
  double reduction_ratio() const;    // logical / stored: what dedup and compression save together
  friend bool operator==(const DatastoreStatus&, const DatastoreStatus&) = default;
};

struct HostStatus {
  HostId host{0};
  uint64_t instance = 0;  // random per process: tells a restart (or a clashing host id) apart
  std::string label;      // hostname-ish, for people
  HostState state = HostState::kStarting;
  WallTime started_at{};        // when the process started
  WallTime published_at{};      // when this record was taken (StatusPublisher sets it)
  Duration publish_interval{};  // how often a live host rewrites it (StatusPublisher sets it)
  std::vector<DatastoreStatus> datastores;   // <= kDatastoresPerHostMax
  std::map<std::string, uint64_t> counters;  // <= kCountersMax, e.g. "nfs.calls"
  friend bool operator==(const HostStatus&, const HostStatus&) = default;
};

// kInvalidArgument when a list or text exceeds its limit or the result would exceed
// kHostStatusBytesMax.
Result<std::vector<uint8_t>> encode_host_status(const HostStatus& status);
Result<HostStatus> decode_host_status(std::span<const uint8_t> bytes);

// How a reader at wall time `now` should call the host: its own state while it keeps publishing,
// stale once kStaleIntervals of its intervals passed without a record.
bool is_stale(const HostStatus& status, WallTime now);
// now - published_at, never negative (the writer's clock may run ahead of the reader's).
Duration age(const HostStatus& status, WallTime now);

// Register names.
std::string host_status_register(HostId host);
std::string host_directory_register();  // "hosts/directory"

// The directory: the ids of hosts that ever published, ascending, at most kHostDirectoryMax.
Result<std::vector<uint8_t>> encode_host_directory(const std::vector<HostId>& hosts);
Result<std::vector<HostId>> decode_host_directory(std::span<const uint8_t> bytes);

}  // namespace splitarray::hostdriver::status
