// sim/harness/fs_sim.h
// The host driver's file system (hostdriver/fs FileSystem) under the simulator, in two modes.
//
// run_fs_sim (`sim_run --fs`): the real netshelf on a simulated machine with M disks, and H
// simulated hosts that take turns owning one datastore (the shelf's 4 KiB-block block store
// underneath, as in blockstore_sim.h). The owner runs the file-system workload (fs_workload.h)
// with a model of the acknowledged state (fs_model.h). A host crash is a new owner (another host,
// or a new incarnation of the same one) opening the datastore at once, which fences the old
// owner: from the crash instant nothing the old one does is observed; it issues no new
// operations, its calls fail kStale once fenced, and it must unwind and close. Every open matches
// the recovered tree against the model (operations acknowledged before the crash are visible;
// the one in flight is all or nothing). The seed also picks the swarm fault plan (network, disk
// errors, shelf crashes and power losses, partitions). Phases as in blockstore_sim.h: faults ->
// heal (faults stop, one clean shelf restart; the owner must make progress) -> check (the owner
// commits and closes, the shelf stops gracefully and reopens, a fresh owner compares the whole
// tree with the model and runs fsck when it is linked). Same seed, same trace hash.
//
// run_fs_crash_points (`sim_run --fs-crash-points`): a short fixed sequence of operations
// (fs_crash_sequence) runs once on a fault-free shelf, then the owner closes (a checkpoint, the
// block store's destage), while the shelf counts the persistence points of the owner's requests
// (every request that completed making something durable: NVRAM appends and trims, fragment writes
// and deletes, index inserts and removes, register CAS; see ShelfNode::set_persist_hook). Then, for
// each point i = 1..N, the same seed runs again and the owner crashes right after point i: its host
// is cut off from the shelf at that instant (the shelf keeps what it acknowledged; the owner sees
// no reply), a new owner on another host opens, matches the tree against the model and runs fsck;
// then the old owner's link heals and it must unwind (fenced) and close.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/log.h"
#include "netshelf/config/shelf_config.h"
#include "sim/harness/fs_workload.h"

namespace splitarray::sim {

struct FsSimConfig {
  uint64_t seed = 1;
  uint16_t hosts = 3;
  uint16_t disks = 8;
  Duration duration = std::chrono::seconds(20);      // phase 1
  Duration heal_duration = std::chrono::seconds(5);  // phase 2
  // Default off: silent disk damage can hit metadata, and the datastore then cannot open at all
  // (reported as detected, not as a violation). true also lets fragment disks lose, misdirect and
  // rot writes; kCorruption is then allowed, wrong bytes never.
  std::optional<bool> detection;
  std::optional<double> crash_rate;        // shelf, per harness tick; default: the seed
  std::optional<double> owner_crash_rate;  // per tick; default: the seed
  // How the owner's host crashes. false: it stops being observed and the new owner fences it
  // (a paused host). true: kill -9 of its process as well; it must unwind all the same.
  bool host_kill = false;
  LogLevel log_level = LogLevel::kOff;
  LogSink* log_sink = nullptr;
};

struct FsSimReport {
  uint64_t seed = 0;
  bool detection = false;
  std::vector<std::string> violations;
  uint64_t trace_hash = 0;
  uint64_t events = 0;
  Duration simulated{};
  uint64_t acked_ops = 0;
  uint64_t expected_errors = 0;
  uint64_t failed_ops = 0;
  uint64_t acked_writes = 0;
  uint64_t acked_commits = 0;
  uint64_t checked_reads = 0;
  uint64_t opens = 0;
  uint64_t zombie_opens = 0;
  uint64_t reopens = 0;
  uint64_t resolves = 0;
  uint64_t resolved_uncertain = 0;
  uint64_t resolved_dropped = 0;
  uint64_t torn_matches = 0;
  uint64_t replayed_ops = 0;
  uint64_t checkpoints = 0;
  uint64_t final_objects = 0;  // objects in the tree the check compared
  bool fsck_ran = false;
  std::string fsck_summary;
  uint64_t crashes = 0;  // shelf
  uint64_t power_losses = 0;
  uint64_t owner_crashes = 0;
  uint64_t partitions = 0;
  std::array<uint64_t, kFaultSiteCount> faults_fired{};
  std::string faults_summary;
  std::string plan_summary;

  bool ok() const { return violations.empty(); }
};

FsSimReport run_fs_sim(const FsSimConfig& config);

struct FsCrashPointsConfig {
  uint64_t seed = 1;
  int sequence = 0;  // 0 .. kFsCrashSequences - 1
  LogLevel log_level = LogLevel::kOff;
  LogSink* log_sink = nullptr;
};

struct FsCrashPointOutcome {
  uint64_t point = 0;     // 1-based
  std::string kind;       // the request, e.g. "nvram_append"
  std::string in_flight;  // the step in flight when the owner crashed (or "close")
  std::string recovered;  // which model state the new owner's tree matched
  size_t candidates = 0;  // states the crash could leave
  bool fsck_ran = false;
  bool fsck_ok = false;
  bool old_owner_unwound = false;
  std::vector<std::string> violations;
};

struct FsCrashPointsReport {
  uint64_t seed = 0;
  int sequence = 0;
  std::vector<std::string> steps;
  std::vector<std::string> point_kinds;  // of the counting run, in order
  std::vector<FsCrashPointOutcome> outcomes;
  std::vector<std::string> violations;  // of every run (each prefixed with its point)
  uint64_t trace_hash = 0;              // of every run, combined
  bool ok() const { return violations.empty(); }
};

FsCrashPointsReport run_fs_crash_points(const FsCrashPointsConfig& config);

// Shared by the two modes (fs_sim.cpp, fs_crash_points.cpp).
inline constexpr uint16_t kFsShelfPort = 20300;
inline const char* const kFsShelfHost = "10.0.0.1";
netshelf::ShelfConfig fs_shelf_config(uint16_t hosts, uint16_t disks, LogLevel log_level);
FsWorkloadOptions fs_workload_options(const Address& shelf, HostId host, bool detection);
std::string fs_host_address(uint16_t host);  // "10.0.1.<host>"

}  // namespace splitarray::sim
