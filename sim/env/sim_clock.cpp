#include "sim/env/sim_clock.h"

#include <algorithm>

namespace splitarray::sim {

TimerId SimClock::call_at(TimePoint when, UniqueFunction<void()> fn) {
  // A deadline already passed fires at the current instant, after what is already queued.
  const TimePoint at = std::max(when, world_.now());
  auto fire = [&io = io_, fn = std::move(fn)]() mutable { asio::post(io, std::move(fn)); };
  const EventId id = world_.schedule(at, process_, EventKind::kTimer, std::move(fire));
  ASSERT(id != 0);
  return id;
}

}  // namespace splitarray::sim
