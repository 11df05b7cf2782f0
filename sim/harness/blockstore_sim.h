// sim/harness/blockstore_sim.h
// One simulated run of the host driver's block store: the real netshelf on a simulated machine
// with M disks, and H simulated hosts each running a real hostdriver BlockStore (small geometry:
// 4 KiB blocks, RS(4,2) with 64 KiB fragments) driven by the block store workload. The seed picks
// the swarm fault plan (network, disks, shelf crashes and power losses, partitions) and how often
// hosts crash; a crashed host comes back as a new incarnation whose BlockStore opens with a higher
// epoch and replays its NVRAM log. Phases, as in shelf_sim.h:
//   1. faults: the workload runs while faults fire, the shelf and hosts crash and restart;
//   2. heal: faults stop, partitions heal, the shelf restarts once more and dead hosts come back;
//      every host must make progress again (liveness);
//   3. check: hosts commit and close, the shelf stops gracefully and reopens, and a fresh
//      incarnation of every host reads back each of its blocks against the model (safety).
// Safety runs stay within the erasure code's budget (disk errors are transient; no silent
// damage), so every acknowledged block must read back. Detection runs also let fragment disks lose,
// misdirect and rot writes: a block may then read as kCorruption, never as wrong bytes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/log.h"

namespace splitarray::sim {

struct BlockStoreSimConfig {
  uint64_t seed = 1;
  uint16_t hosts = 3;
  uint16_t disks = 8;
  Duration duration = std::chrono::seconds(20);      // phase 1
  Duration heal_duration = std::chrono::seconds(5);  // phase 2
  std::optional<bool> detection;                     // default: the seed decides (one run in four)
  std::optional<double> crash_rate;                  // shelf, per harness tick; default: seed
  std::optional<double> host_crash_rate;             // per host and tick; default: seed
  // How a host crashes. false (default): the incarnation stops being observed at the crash
  // instant and a new one opens at once with a higher epoch, fencing it; the old one unwinds when
  // the shelf rejects it (a paused host that wakes up). true: kill -9 of the host process: its
  // network refuses everything (kCancelled), its store's link closes for good and it unwinds (a
  // violation if it does not); a new incarnation boots after 10-500 ms.
  bool host_kill = false;
  LogLevel log_level = LogLevel::kOff;
  LogSink* log_sink = nullptr;  // default: logs are discarded
};

struct BlockStoreSimReport {
  uint64_t seed = 0;
  bool detection = false;
  std::vector<std::string> violations;  // empty: the run is correct
  uint64_t trace_hash = 0;
  uint64_t events = 0;
  Duration simulated{};
  uint64_t acked_ops = 0;
  uint64_t failed_ops = 0;
  uint64_t acked_writes = 0;
  uint64_t acked_commits = 0;
  uint64_t checked_reads = 0;
  uint64_t read_errors = 0;    // during the faults (allowed; not wrong bytes)
  uint64_t corrupt_reads = 0;  // ... of which kCorruption
  uint64_t verified_blocks = 0;
  uint64_t detected_blocks = 0;  // unreadable at the check (detection runs only)
  uint64_t opens = 0;
  uint64_t reopens = 0;  // stores reopened after failing kReopenAfterFailures ops in a row
  uint64_t containers_destaged = 0;
  uint64_t fragments_rebuilt = 0;  // fragments built again for a retried write
  uint64_t dedup_hits = 0;
  uint64_t degraded_reads = 0;
  uint64_t repairs = 0;
  uint64_t replayed_records = 0;
  uint64_t crashes = 0;  // shelf
  uint64_t power_losses = 0;
  uint64_t host_crashes = 0;  // host incarnations crashed (fenced, or killed with host_kill)
  uint64_t partitions = 0;
  std::array<uint64_t, kFaultSiteCount> faults_fired{};
  std::string faults_summary;
  std::string plan_summary;

  bool ok() const { return violations.empty(); }
};

BlockStoreSimReport run_blockstore_sim(const BlockStoreSimConfig& config);

}  // namespace splitarray::sim
