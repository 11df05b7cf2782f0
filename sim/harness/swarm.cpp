#include "sim/harness/swarm.h"

#include <cmath>
#include <cstdio>

namespace splitarray::sim {
namespace {

struct SiteRange {
  FaultSite site;
  double on_chance;  // probability that the site is on in a run
  double low;        // its rate, log-uniform in [low, high]
  double high;
};

// Rates high enough to fire many times in a short run, low enough that work still gets done.
constexpr SiteRange kSafetySites[] = {
    {FaultSite::kDiskReadError, 0.5, 1e-4, 3e-3},  {FaultSite::kDiskWriteError, 0.5, 1e-4, 2e-3},
    {FaultSite::kDiskFlushError, 0.5, 1e-4, 2e-3}, {FaultSite::kDiskHang, 0.3, 1e-5, 1e-3},
    {FaultSite::kDiskTornWrite, 0.5, 0.1, 1.0},    {FaultSite::kNetDrop, 0.5, 1e-4, 5e-2},
    {FaultSite::kNetReorder, 0.5, 1e-3, 1e-1},     {FaultSite::kNetDuplicate, 0.5, 1e-3, 1e-1},
    {FaultSite::kNetDelay, 0.4, 1e-4, 1e-3},       {FaultSite::kNetReset, 0.3, 1e-5, 1e-3},
    {FaultSite::kNetPartition, 0.4, 0.01, 0.1},    {FaultSite::kProcessCrash, 0.8, 0.01, 0.1},
};
constexpr SiteRange kSilentSites[] = {
    {FaultSite::kDiskLostWrite, 0.6, 1e-4, 1e-2},
    {FaultSite::kDiskMisdirectedWrite, 0.6, 1e-4, 1e-2},
    {FaultSite::kDiskBitRot, 0.6, 1e-4, 1e-2},
};

double log_uniform(Prng& rng, double low, double high) {
  return std::exp(std::log(low) + rng.unit() * (std::log(high) - std::log(low)));
}

void draw(Prng& rng, const SiteRange& range, FaultPlan& plan) {
  // Draw both numbers always, so turning one site off does not shift the others' rates.
  const bool on = rng.chance(range.on_chance);
  const double rate = log_uniform(rng, range.low, range.high);
  plan.at(range.site) = on ? rate : 0.0;
}

}  // namespace

FaultPlan choose_fault_plan(Prng& rng, bool detection) {
  FaultPlan plan;
  for (const SiteRange& range : kSafetySites) draw(rng, range, plan);
  if (detection) {
    for (const SiteRange& range : kSilentSites) draw(rng, range, plan);
    // A detection run detects something: at least one silent site is on.
    if (plan.at(FaultSite::kDiskBitRot) == 0 && plan.at(FaultSite::kDiskLostWrite) == 0 &&
        plan.at(FaultSite::kDiskMisdirectedWrite) == 0) {
      plan.at(FaultSite::kDiskBitRot) = 1e-3;
    }
  }
  return plan;
}

std::string describe_fault_plan(const FaultPlan& plan) {
  std::string out;
  for (size_t i = 0; i < kFaultSiteCount; ++i) {
    if (plan.probability[i] <= 0) continue;
    char rate[32];
    std::snprintf(rate, sizeof(rate), "%.2g", plan.probability[i]);
    if (!out.empty()) out += ' ';
    out += std::string(fault_site_name(static_cast<FaultSite>(i))) + "=" + rate;
  }
  return out.empty() ? "none" : out;
}

}  // namespace splitarray::sim
