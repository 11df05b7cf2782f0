// sim/env/sim_compute.h
// SimCompute: the compute pool run inline on the simulator's thread with a simulated cost. The
// work runs when its event fires (cost after submit, one job at a time per process, like one
// core), then `done` is posted to the process's io_context.
#pragma once

#include "common/env.h"
#include "sim/world/sim_world.h"

namespace splitarray::sim {

// Simulated CPU time charged per job; real cost is not measurable deterministically.
inline constexpr Duration kComputeJobCostDefault = std::chrono::microseconds(20);

class SimCompute final : public ComputePool {
 public:
  SimCompute(SimWorld& world, ProcessId process, asio::io_context& io,
             Duration job_cost = kComputeJobCostDefault)
      : world_(world), process_(process), io_(io), job_cost_(job_cost) {}

  void submit(UniqueFunction<void()> work, UniqueFunction<void()> done) override;
  size_t threads() const override { return 1; }

 private:
  SimWorld& world_;
  const ProcessId process_;
  asio::io_context& io_;
  const Duration job_cost_;
  TimePoint busy_until_{};  // jobs run one after another
};

}  // namespace splitarray::sim
