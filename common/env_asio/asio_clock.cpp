#include "common/env_asio/asio_clock.h"

namespace splitarray {

AsioClock::AsioClock(asio::io_context& io) : io_(io), start_(std::chrono::steady_clock::now()) {}

AsioClock::~AsioClock() {
  for (auto& [id, timer] : timers_) timer->cancel();
}

WallTime AsioClock::wall_now() const {
  return WallTime{std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count()};
}

TimePoint AsioClock::now() const {
  return TimePoint(std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - start_));
}

TimerId AsioClock::call_at(TimePoint when, UniqueFunction<void()> fn) {
  const TimerId id = next_id_++;
  auto timer = std::make_shared<asio::steady_timer>(io_, start_ + when.time_since_epoch());
  timers_.emplace(id, timer);
  timer->async_wait(
      [this, id, timer, fn = std::move(fn)](const boost::system::error_code& ec) mutable {
        if (ec) return;  // cancelled: the entry was already removed by cancel()
        auto it = timers_.find(id);
        if (it == timers_.end()) return;  // cancelled after expiry was queued
        timers_.erase(it);
        fn();
      });
  return id;
}

void AsioClock::cancel(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  it->second->cancel();
  timers_.erase(it);
}

}  // namespace splitarray
