// common/env_asio/event_loop.cpp
#include "common/env_asio/event_loop.h"

#include <chrono>

#include "common/assert.h"

namespace splitarray {

void run_event_loop(boost::asio::io_context& io, Duration spin) {
  ASSERT(spin >= Duration::zero());
  if (spin == Duration::zero()) {
    io.run();
    return;
  }
  using SteadyClock = std::chrono::steady_clock;  // not Env's Clock: this is the real loop
  while (!io.stopped()) {
    if (io.poll() > 0) continue;  // ready work ran: look again without blocking
    const SteadyClock::time_point give_up = SteadyClock::now() + spin;
    bool woke = false;
    while (!woke && !io.stopped() && SteadyClock::now() < give_up) woke = io.poll() > 0;
    if (!woke) io.run_one();  // idle for the whole window: block until the next event
  }
}

}  // namespace splitarray
