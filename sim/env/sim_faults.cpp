#include "sim/env/sim_faults.h"

#include "common/assert.h"

namespace splitarray::sim {

uint64_t FaultPlan::fired_total() const {
  uint64_t total = 0;
  for (uint64_t n : fired) total += n;
  return total;
}

std::string FaultPlan::fired_summary() const {
  std::string out;
  for (size_t i = 0; i < kFaultSiteCount; ++i) {
    if (fired[i] == 0) continue;
    if (!out.empty()) out += ' ';
    out += fault_site_name(static_cast<FaultSite>(i));
    out += '=' + std::to_string(fired[i]);
  }
  return out.empty() ? "none" : out;
}

bool SimFaults::fire(FaultSite site) {
  const auto index = static_cast<size_t>(site);
  ASSERT(index < kFaultSiteCount);
  const double p = plan_.probability[index];
  if (plan_.healed || p <= 0) return false;
  if (!rng_.chance(p)) return false;
  ++plan_.fired[index];
  return true;
}

}  // namespace splitarray::sim
