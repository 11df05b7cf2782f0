// hostdriver/arrayctl/status_report.h
// What `arrayctl status` prints, from a StatusSnapshot (the shelf's StatusRep plus the hosts'
// status records, collected by status_collect.h). Pure: no I/O, no clock (the snapshot carries
// the time it was taken), so the table and the JSON are unit-tested byte for byte.
//
// The view. The shelf counts requests and NVRAM logs by the id the request carries, which for a
// datastore's traffic is the datastore's NVRAM log id, not the host's id. So a host row adds up
// the shelf's counters of its own id and of its datastores' log ids, and a shelf id that some
// published host claims as a log id is not shown as a separate, unpublished host. Requests that
// carried no host id (register reads, status, this tool) are the shelf's "unattributed" ones.
//
// A host whose record is older than kStaleIntervals of its own interval shows as
// "stale (last seen Ns ago)"; one that stopped cleanly as "stopped"; an id the shelf knows
// without a record as "not published"; a record that does not decode as "unreadable".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/units.h"
#include "hostdriver/status/host_status.h"
#include "protocol/shelf_messages.h"

namespace splitarray::hostdriver::arrayctl {

struct HostRecord {
  HostId id{0};
  std::optional<status::HostStatus> status;  // nullopt: not published, or unreadable
  std::string error;                         // why the record could not be read ("" if none)
};

// The datastore's root register (hostdriver/fs: the checkpoint): its version counts root swaps
// (checkpoints and takeovers), its epoch is the current owner's lease epoch.
struct DatastoreRoot {
  std::string datastore;
  bool exists = false;
  uint64_t version = 0;
  uint64_t epoch = 0;
};

struct StatusSnapshot {
  std::string shelf_address;
  WallTime taken_at{};  // the reader's wall clock, for the hosts' ages
  protocol::StatusRep shelf;
  std::vector<HostRecord> hosts;      // ascending id, at most one per id
  std::vector<DatastoreRoot> roots;   // of the datastores the records name
  std::vector<std::string> warnings;  // what could not be collected (shown, never fatal)
};

std::string render_table(const StatusSnapshot& snapshot);
// One JSON object (stable keys, numbers as numbers, ratios rounded to 2 decimals), then '\n'.
std::string render_json(const StatusSnapshot& snapshot);

// Pieces of the table, exposed for tests.
std::string human_bytes(uint64_t bytes);  // "0 B", "1023 B", "1.5 KiB", "16.0 MiB", ...
std::string ratio_text(double ratio);     // "2.50x"
std::string duration_text(Duration d);    // "0s", "59s", "2m 03s", "1h 02m", "3d 04h"
std::string_view disk_state_name(protocol::DiskStateValue state);
// "serving", "stale (last seen 12s ago)", "stopped", "not published", "unreadable"
std::string host_state_text(const HostRecord& host, WallTime now);

}  // namespace splitarray::hostdriver::arrayctl
