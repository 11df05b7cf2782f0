// sim/world/sim_wait.h
// Suspends a process's coroutine until a simulated instant: the building block of every
// simulated device and link delay. The waiter resumes on its own io_context.
#pragma once

#include "common/async/oneshot.h"
#include "sim/world/sim_world.h"

namespace splitarray::sim {

inline Task<void> wait_until(SimWorld& world, ProcessId process, EventKind kind, TimePoint when) {
  async::Oneshot<bool> reached;
  auto fire = [&reached] { reached.set(true); };
  world.schedule(std::max(when, world.now()), process, kind, std::move(fire));
  co_await reached.wait();
}

}  // namespace splitarray::sim
