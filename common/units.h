// common/units.h
// Time and size units. Durations are std::chrono types (units carried by the type); time points
// come only from Env's Clock (STYLE.md: no ::now() outside env_asio), measured on a monotonic
// timeline that starts when the Env is created.
#pragma once

#include <chrono>
#include <cstdint>

namespace splitarray {

using Duration = std::chrono::nanoseconds;

// A clock tag without now(): the only source of TimePoints is Env's Clock.
struct EnvTimeline {
  using rep = Duration::rep;
  using period = Duration::period;
  using duration = Duration;
  using time_point = std::chrono::time_point<EnvTimeline, Duration>;
  static constexpr bool is_steady = true;
};
using TimePoint = EnvTimeline::time_point;

// Calendar time (file timestamps): nanoseconds since the Unix epoch, from Env's Clock.
struct WallTime {
  int64_t nanos = 0;
  friend auto operator<=>(const WallTime&, const WallTime&) = default;
};

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kGiB = 1024 * kMiB;

inline constexpr double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }
inline constexpr int64_t to_micros(Duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

}  // namespace splitarray
