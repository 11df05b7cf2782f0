// sim/env/sim_faults.h
// Fault injection for one run ("swarm" testing): a FaultPlan, drawn from the seed, says which
// fault sites are on and how often each fires. Every process's SimFaults draws from its own
// forked PRNG against the shared plan and counts what fired, by site, for the run's report.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "common/env.h"

namespace splitarray::sim {

struct FaultPlan {
  std::array<double, kFaultSiteCount> probability{};  // per fire() call; 0 = site off
  std::array<uint64_t, kFaultSiteCount> fired{};
  // Set when the run stops injecting (liveness phase: faults heal, work must complete).
  bool healed = false;

  double& at(FaultSite site) { return probability[static_cast<size_t>(site)]; }
  uint64_t fired_count(FaultSite site) const { return fired[static_cast<size_t>(site)]; }
  uint64_t fired_total() const;
  // "net_drop=3 disk_bit_rot=1" for sites that fired, in enum order.
  std::string fired_summary() const;
};

class SimFaults final : public FaultPoints {
 public:
  SimFaults(FaultPlan& plan, Prng rng) : plan_(plan), rng_(rng) {}
  bool fire(FaultSite site) override;

 private:
  FaultPlan& plan_;
  Prng rng_;
};

}  // namespace splitarray::sim
