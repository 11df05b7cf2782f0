// sim/harness/shelf_workload.h
// The shelf workload: each simulated host appends NVRAM records, trims its log, writes and reads
// back fragments, inserts and looks up fingerprints and compare-and-swaps its register, and a
// HostModel records what the shelf acknowledged. Contents derive from ids, so anything read back
// can be checked on its own ("whole or absent").
//
// Outcomes the checker accepts (DESIGN.md: nothing acknowledged is ever lost; never wrong bytes):
//   - acknowledged records, fragments, index entries and register versions are present and
//     intact; an operation whose reply never came may or may not have happened, but is whole;
//   - bytes that come back are always the bytes written;
//   - a fragment on a disk that took silent faults (lost, misdirected, rotted writes) or that
//     the shelf failed may answer an error instead (detected damage), never wrong bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/ids.h"
#include "protocol/shelf_client.h"

namespace splitarray::sim {

// What one host knows was acknowledged.
struct HostModel {
  HostId host;
  Epoch epoch{1};
  std::map<uint64_t, uint64_t> records;  // NVRAM sequence -> record id
  uint64_t trimmed_through = 0;          // acknowledged trims
  uint64_t trim_requested = 0;           // highest trim sent (it may have happened unacknowledged)
  std::set<uint64_t> fragments;          // acknowledged fragment writes (container ids)
  std::set<uint64_t> fingerprints;       // acknowledged index inserts (fingerprint ids)
  uint64_t register_version = 0;         // highest acknowledged CAS version
  uint64_t next_record_id = 1;
  uint64_t next_container = 1;
  uint64_t next_fingerprint = 1;
  uint64_t acked_ops = 0;
  uint64_t failed_ops = 0;  // errors and timeouts (outcome unknown or refused)
};

struct ShelfWorkloadOptions {
  uint16_t disks = 0;
  Duration request_timeout = std::chrono::seconds(2);
  Duration reconnect_delay = std::chrono::milliseconds(50);
  Duration think_time_max = std::chrono::milliseconds(4);  // pause between operations
  // True when fragments on this disk may legitimately be damaged or unreachable.
  std::function<bool(uint16_t disk)> disk_may_lose_data;
};

// Violations found by the workload and the checker; empty means the run is correct.
struct Violations {
  std::vector<std::string> list;
  void add(std::string what) { list.push_back(std::move(what)); }
  bool empty() const { return list.empty(); }
};

// Runs operations against the shelf at `address` until `*stop`, reconnecting after failures.
Task<void> run_host_workload(Env& env, Address address, HostModel& model,
                             ShelfWorkloadOptions options, Prng rng, const bool* stop,
                             Violations& violations);

// Reads back everything the host ever wrote and checks it against the model. Returns false when
// the shelf could not be reached (the caller retries); violations are recorded either way.
Task<bool> verify_host(Env& env, Address address, const HostModel& model,
                       ShelfWorkloadOptions options, Violations& violations);

// Deterministic contents (exposed for tests).
std::vector<uint8_t> sim_record_bytes(HostId host, uint64_t id);
std::vector<uint8_t> sim_fragment_bytes(HostId host, uint64_t container);
uint64_t sim_container_id(HostId host, uint64_t n);
uint16_t sim_fragment_disk(uint64_t container_id, uint16_t disks);
std::string sim_register_name(HostId host);

}  // namespace splitarray::sim
