// tests/bench/shelf_bench_recorder.h
// The shelf benchmark's per-row recorder (see shelf_bench.cpp).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/assert.h"
#include "tests/bench/bench_report.h"

namespace splitarray::bench {

// Like RowRecorder, but a row may end early when its data set runs out; then the rate is taken
// over [measure_start, last completion] instead of the whole window.
// Serial: the row interleaves op by op with other loops, so its rate is ops / time spent in
// its own ops (for a qd1 loop, what it would do alone) rather than ops / window.
// A row is measured until it holds at least one completion: when an operation stalls across the
// whole window (a loaded CI machine's fdatasync can take longer than a --quick window), the first
// completion after the window is taken, and the rate runs to it, rather than failing the run.
class Recorder final {
 public:
  Recorder(Window window, size_t bytes_per_op, bool serial = false)
      : window_(window), bytes_per_op_(bytes_per_op), serial_(serial) {
    ASSERT(window_.measure_start < window_.measure_end);
  }
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  void record(BenchClock::time_point sent, BenchClock::time_point done) {
    ASSERT(sent <= done);
    const bool late_first = window_.over(done) && latencies_ns_.empty();
    if (!window_.contains(done) && !late_first) return;
    latencies_ns_.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(done - sent).count());
    busy_ns_ += latencies_ns_.back();
    last_done_ = std::max(last_done_, done);
  }
  void set_exhausted() { exhausted_ = true; }
  // True once the window is over and the row holds a completion: workers stop sending.
  bool finished(BenchClock::time_point now) const {
    return window_.over(now) && !latencies_ns_.empty();
  }

  RowResult result(const std::string& row) const {
    if (latencies_ns_.empty()) fail(row + ": no operation completed inside the window");
    const auto end = exhausted_ ? last_done_ : std::max(window_.measure_end, last_done_);
    const double seconds = serial_
                               ? static_cast<double>(busy_ns_) / 1e9
                               : std::chrono::duration<double>(end - window_.measure_start).count();
    return summarize_row(latencies_ns_, seconds, bytes_per_op_);
  }

 private:
  const Window window_;
  const size_t bytes_per_op_;
  const bool serial_;
  std::vector<int64_t> latencies_ns_;
  int64_t busy_ns_ = 0;
  BenchClock::time_point last_done_{};
  bool exhausted_ = false;
};

}  // namespace splitarray::bench
