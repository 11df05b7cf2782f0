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
  TimerId call_at(TimePoint when, UniqueFunction<void()> fn) override;
  void cancel(TimerId id) override { world_.cancel(id); }

 private:
  SimWorld& world_;
  const ProcessId process_;
  asio::io_context& io_;
};

}  // namespace splitarray::sim
