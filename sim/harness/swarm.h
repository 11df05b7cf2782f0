// sim/harness/swarm.h
// Swarm testing: each seed turns on a random subset of fault sites, each at its own random rate,
// so different runs stress different combinations instead of every run spreading a little of
// everything. Rates are per FaultPoints::fire() call (per I/O, per segment, per harness tick).
#pragma once

#include <string>

#include "common/prng.h"
#include "sim/env/sim_faults.h"

namespace splitarray::sim {

// How often the harness asks the plan about crashes and partitions.
inline constexpr Duration kHarnessTick = std::chrono::milliseconds(100);

// `detection`: also turn on silent disk faults (lost, misdirected, rotted writes).
FaultPlan choose_fault_plan(Prng& rng, bool detection);
// "disk_flush_error=0.0012 net_drop=0.031 ..." for the sites that are on.
std::string describe_fault_plan(const FaultPlan& plan);

}  // namespace splitarray::sim
