// sim/harness/shelf_sim.h
// One simulated run of the shelf cluster: the real netshelf on a simulated machine with M disks,
// H simulated hosts running the shelf workload against it, and a seed that decides everything —
// which faults are on and how often ("swarm"), when the shelf crashes or loses power, which
// links partition. Phases:
//   1. faults: the workload runs while faults fire and the shelf crashes and restarts;
//   2. heal: faults stop, partitions heal, the shelf restarts once more; every host must make
//      progress again (liveness);
//   3. check: the workload stops, the shelf is stopped gracefully and reopened, and every host's
//      model is checked against what the shelf returns (safety).
// Safety runs inject only faults the shelf must absorb without losing anything acknowledged;
// detection runs also let disks lose, misdirect and rot writes, and then require that damaged
// fragments are reported as errors, never returned as data.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/log.h"

namespace splitarray::sim {

struct ShelfSimConfig {
  uint64_t seed = 1;
  uint16_t hosts = 3;
  uint16_t disks = 4;
  Duration duration = std::chrono::seconds(20);       // phase 1
  Duration heal_duration = std::chrono::seconds(10);  // phase 2
  std::optional<bool> detection;                      // default: the seed decides (one run in four)
  std::optional<double> crash_rate;                   // per harness tick; default: the seed decides
  LogLevel log_level = LogLevel::kOff;
  LogSink* log_sink = nullptr;  // default: logs are discarded
  // Test-only: from the first workload operation on, the shelf's fragment disks acknowledge
  // flushes without making anything durable, so power losses destroy acknowledged fragments
  // while the shelf still opens. The checker must report them lost.
  bool sabotage_flushes = false;
};

struct ShelfSimReport {
  uint64_t seed = 0;
  bool detection = false;
  std::vector<std::string> violations;  // empty: the run is correct
  uint64_t trace_hash = 0;
  uint64_t events = 0;
  Duration simulated{};
  uint64_t acked_ops = 0;
  uint64_t failed_ops = 0;
  uint64_t crashes = 0;
  uint64_t power_losses = 0;
  uint64_t partitions = 0;
  std::array<uint64_t, kFaultSiteCount> faults_fired{};
  std::string faults_summary;  // "net_drop=3 disk_bit_rot=1"
  std::string plan_summary;    // which sites were on, with their probabilities

  bool ok() const { return violations.empty(); }
};

ShelfSimReport run_shelf_sim(const ShelfSimConfig& config);

}  // namespace splitarray::sim
