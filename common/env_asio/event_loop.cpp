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
  using Clock = std::chrono::steady_clock;
  while (!io.stopped()) {
    if (io.poll() > 0) continue;  // ready work ran: look again without blocking
    const Clock::time_point give_up = Clock::now() + spin;
    bool woke = false;
    while (!woke && !io.stopped() && Clock::now() < give_up) woke = io.poll() > 0;
    if (!woke) io.run_one();  // idle for the whole window: block until the next event
  }
}

}  // namespace splitarray
