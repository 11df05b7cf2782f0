// tests/bench/bench_report.h
// Shared pieces of benchmark programs: command-line options, the measurement window of one row,
// latency percentiles, and the output format (a readable table, then exactly one JSON object as
// the last line of stdout, for scripts).
//
// Benchmarks are programs, not core code (STYLE.md "Tests"): they read std::chrono::steady_clock
// and start threads directly, which core code may not.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace splitarray::bench {

using BenchClock = std::chrono::steady_clock;

inline constexpr double kDefaultSecondsPerRow = 3.0;
inline constexpr double kQuickSecondsPerRow = 0.5;
// Each row first runs a warmup (connections ramp up, allocator and TCP windows settle) that is
// not counted: this fraction of the row's time, at most kWarmupMaxSeconds.
inline constexpr double kWarmupFraction = 0.2;
inline constexpr double kWarmupMaxSeconds = 0.5;

struct BenchOptions {
  double seconds_per_row = kDefaultSecondsPerRow;
  bool quick = false;  // short rows, for smoke tests and quick looks
};

// Parses `--seconds N` and `--quick`; on anything else prints usage and exits with status 2.
BenchOptions parse_bench_options(int argc, char** argv);

// One row runs for warmup + measurement; only operations that complete inside
// [measure_start, measure_end) count, and no new operation starts after measure_end.
struct Window {
  BenchClock::time_point measure_start;
  BenchClock::time_point measure_end;

  bool contains(BenchClock::time_point t) const { return t >= measure_start && t < measure_end; }
  bool over(BenchClock::time_point t) const { return t >= measure_end; }
};

// A window starting now.
Window make_window(double seconds_per_row);

struct RowResult {
  uint64_t messages = 0;
  double seconds = 0;
  double msgs_per_s = 0;
  double mbps = 0;  // payload bytes per second in each direction, in 10^6 bytes
  double p50_us = 0;
  double p99_us = 0;
};

// A row's figures from its latencies (nanoseconds, any order, not empty), the seconds its rate
// is taken over, and the payload bytes each operation moved (p50/p99 by nearest rank).
RowResult summarize_row(std::vector<int64_t> latencies_ns, double seconds, size_t bytes_per_op);

// Collects the completions of one row (request sent -> verified reply) and summarizes them.
class RowRecorder final {
 public:
  RowRecorder(Window window, size_t payload_bytes);
  RowRecorder(const RowRecorder&) = delete;
  RowRecorder& operator=(const RowRecorder&) = delete;

  void record(BenchClock::time_point sent, BenchClock::time_point done);
  RowResult result() const;

 private:
  const Window window_;
  const size_t payload_bytes_;
  std::vector<int64_t> latencies_ns_;
};

// Prints "bench: FATAL: <what>" to stderr and aborts: a benchmark of wrong answers is worthless.
[[noreturn]] void fail(std::string_view what);

// Builds the final JSON line: one flat object of numbers, keys in insertion order.
class JsonLine final {
 public:
  void add(std::string key, double value);
  std::string str() const;

 private:
  std::vector<std::pair<std::string, double>> fields_;
};

}  // namespace splitarray::bench
