// common/env_asio/asio_clock.h
#pragma once

#include <chrono>
#include <map>
#include <memory>

#include <boost/asio/steady_timer.hpp>

#include "common/env.h"

namespace splitarray {

class AsioClock final : public Clock {
 public:
  explicit AsioClock(asio::io_context& io);
  ~AsioClock() override;
  TimePoint now() const override;
  WallTime wall_now() const override;
  TimerId call_at(TimePoint when, UniqueFunction<void()> fn) override;
  void cancel(TimerId id) override;

 private:
  asio::io_context& io_;
  std::chrono::steady_clock::time_point start_;
  TimerId next_id_ = 1;
  // Live timers by id. Ordered map: no decision depends on hash order (STYLE.md).
  std::map<TimerId, std::shared_ptr<asio::steady_timer>> timers_;
};

}  // namespace splitarray
