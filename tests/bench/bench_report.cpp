#include "tests/bench/bench_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/assert.h"

namespace splitarray::bench {
namespace {

// Rows shorter than this measure mostly noise; the smoke test runs 0.2 s rows.
constexpr double kMinSecondsPerRow = 0.05;
constexpr double kMaxSecondsPerRow = 3600;

[[noreturn]] void usage_exit(const char* program) {
  std::fprintf(stderr,
               "usage: %s [--seconds N] [--quick]\n"
               "  --seconds N  measured time per row (default %.1f; %.1f with --quick)\n"
               "  --quick      short rows, for smoke tests\n",
               program, kDefaultSecondsPerRow, kQuickSecondsPerRow);
  std::exit(2);
}

double parse_seconds(const char* program, const char* text) {
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  if (end == text || *end != '\0' || !std::isfinite(seconds) || seconds < kMinSecondsPerRow ||
      seconds > kMaxSecondsPerRow) {
    std::fprintf(stderr, "%s: --seconds wants a number in [%.2f, %.0f], got '%s'\n", program,
                 kMinSecondsPerRow, kMaxSecondsPerRow, text);
    usage_exit(program);
  }
  return seconds;
}

// Nearest-rank percentile of sorted values (p in [0, 100]).
int64_t percentile(const std::vector<int64_t>& sorted, double p) {
  ASSERT(!sorted.empty());
  ASSERT(p >= 0 && p <= 100);
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

BenchOptions parse_bench_options(int argc, char** argv) {
  const char* program = argc > 0 ? argv[0] : "bench";
  BenchOptions options;
  bool seconds_given = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      options.quick = true;
    } else if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      options.seconds_per_row = parse_seconds(program, argv[++i]);
      seconds_given = true;
    } else {
      usage_exit(program);
    }
  }
  if (options.quick && !seconds_given) options.seconds_per_row = kQuickSecondsPerRow;
  return options;
}

Window make_window(double seconds_per_row) {
  ASSERT(seconds_per_row > 0);
  const double warmup = std::min(kWarmupMaxSeconds, seconds_per_row * kWarmupFraction);
  const auto to_duration = [](double s) {
    return std::chrono::duration_cast<BenchClock::duration>(std::chrono::duration<double>(s));
  };
  Window window;
  window.measure_start = BenchClock::now() + to_duration(warmup);
  window.measure_end = window.measure_start + to_duration(seconds_per_row);
  return window;
}

RowRecorder::RowRecorder(Window window, size_t payload_bytes)
    : window_(window), payload_bytes_(payload_bytes) {
  ASSERT(window_.measure_start < window_.measure_end);
}

void RowRecorder::record(BenchClock::time_point sent, BenchClock::time_point done) {
  ASSERT(sent <= done);
  if (!window_.contains(done)) return;
  latencies_ns_.push_back(
      std::chrono::duration_cast<std::chrono::nanoseconds>(done - sent).count());
}

RowResult RowRecorder::result() const {
  if (latencies_ns_.empty()) fail("no message completed inside the measurement window");
  return summarize_row(
      latencies_ns_,
      std::chrono::duration<double>(window_.measure_end - window_.measure_start).count(),
      payload_bytes_);
}

RowResult summarize_row(std::vector<int64_t> latencies_ns, double seconds, size_t bytes_per_op) {
  ASSERT(!latencies_ns.empty() && seconds > 0);
  RowResult r;
  r.messages = latencies_ns.size();
  r.seconds = seconds;
  r.msgs_per_s = static_cast<double>(r.messages) / r.seconds;
  r.mbps = r.msgs_per_s * static_cast<double>(bytes_per_op) / 1e6;
  std::sort(latencies_ns.begin(), latencies_ns.end());
  r.p50_us = static_cast<double>(percentile(latencies_ns, 50)) / 1e3;
  r.p99_us = static_cast<double>(percentile(latencies_ns, 99)) / 1e3;
  return r;
}

void fail(std::string_view what) {
  std::fflush(stdout);
  std::fprintf(stderr, "bench: FATAL: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

void JsonLine::add(std::string key, double value) {
  ASSERT(!key.empty());
  ASSERT_MSG(std::isfinite(value), "JSON has no NaN or infinity");
  fields_.emplace_back(std::move(key), value);
}

std::string JsonLine::str() const {
  std::string out = "{";
  char number[64];
  for (size_t i = 0; i < fields_.size(); ++i) {
    // Keys are program-chosen identifiers ([a-z0-9_]), so they need no escaping.
    std::snprintf(number, sizeof(number), "%.6g", fields_[i].second);
    out += (i == 0 ? "\"" : ", \"") + fields_[i].first + "\": " + number;
  }
  return out + "}";
}

}  // namespace splitarray::bench
