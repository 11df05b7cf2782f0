// common/log.h
// Leveled, structured logging in logfmt: `t=12.000345 lvl=warn comp=shelf ev=disk.failed disk=3`.
// A Logger is an object passed in through Env (no global logger), so the simulator can run many
// nodes in one process with distinct components and a simulated timestamp.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/units.h"

namespace splitarray {

class Clock;

enum class LogLevel : uint8_t { kDebug, kInfo, kWarn, kError, kOff };
std::string_view log_level_name(LogLevel level);
// Accepts debug, info, warn, error, off; anything else is nullopt-like (returns false).
bool parse_log_level(std::string_view text, LogLevel* out);

struct LogField {
  using Value = std::variant<int64_t, uint64_t, double, bool, std::string_view>;
  LogField(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, unsigned v) : key(k), value(static_cast<uint64_t>(v)) {}
  LogField(std::string_view k, long v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, unsigned long v) : key(k), value(static_cast<uint64_t>(v)) {}
  LogField(std::string_view k, long long v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, unsigned long long v) : key(k), value(static_cast<uint64_t>(v)) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}

  std::string_view key;
  Value value;
};

// Where formatted lines go. Implementations: stderr (env_asio), memory (tests, sim traces).
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void write(LogLevel level, std::string_view line) = 0;
};

// Discards every line (simulations and tests that do not look at logs).
class NullLogSink final : public LogSink {
 public:
  void write(LogLevel /*level*/, std::string_view /*line*/) override {}
};

class MemoryLogSink final : public LogSink {
 public:
  void write(LogLevel level, std::string_view line) override;
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::vector<std::string> lines_;
};

class Logger final {
 public:
  // clock may be null (no timestamp field).
  Logger(const Clock* clock, LogSink& sink, LogLevel min_level, std::string component);

  // A logger for a sub-component sharing clock, sink and level: comp=parent.child.
  Logger child(std::string_view component) const;

  bool enabled(LogLevel level) const { return level >= min_level_; }
  void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields);
  void debug(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::kDebug, event, fields);
  }
  void info(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::kInfo, event, fields);
  }
  void warn(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::kWarn, event, fields);
  }
  void error(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::kError, event, fields);
  }

 private:
  const Clock* clock_;
  LogSink* sink_;
  LogLevel min_level_;
  std::string component_;
};

// Formats one logfmt line (exposed for tests).
std::string format_log_line(double seconds, bool with_time, LogLevel level,
                            std::string_view component, std::string_view event,
                            std::initializer_list<LogField> fields);

}  // namespace splitarray
