// sim/env/sim_clock.h
// SimClock: Env's Clock on the world's virtual time. A timer is a world event that posts its
// callback to the process's io_context, so it runs on the process's event loop like an Asio one.
#pragma once

#include "common/env.h"
#include "sim/world/sim_world.h"

namespace splitarray::sim {

class SimClock final : public Clock {
 public:
  SimClock(SimWorld& world, ProcessId process, asio::io_context& io)
      : world_(world), process_(process), io_(io) {}

  TimePoint now() const override { return world_.now(); }
  // Simulated calendar time: a fixed start (2026-01-01T00:00:00Z) plus simulated time, so file
  // timestamps are deterministic.
  WallTime wall_now() const override {
    return WallTime{kSimWallStartNanos + world_.now().time_since_epoch().count()};
  }
  static constexpr int64_t kSimWallStartNanos = int64_t{1767225600} * 1'000'000'000;
  TimerId call_at(TimePoint when, UniqueFunction<void()> fn) override;
  void cancel(TimerId id) override { world_.cancel(id); }

 private:
  SimWorld& world_;
  const ProcessId process_;
  asio::io_context& io_;
};

}  // namespace splitarray::sim
