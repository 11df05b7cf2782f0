#include "common/log.h"

#include <cstdio>

#include "common/env.h"

namespace splitarray {
namespace {

bool needs_quotes(std::string_view s) {
  if (s.empty()) return true;
  for (char c : s) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

void append_text(std::string& out, std::string_view s) {
  if (!needs_quotes(s)) {
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(static_cast<uint8_t>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "off";
  }
  return "unknown";
}

bool parse_log_level(std::string_view text, LogLevel* out) {
  for (LogLevel level :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError, LogLevel::kOff}) {
    if (text == log_level_name(level)) {
      *out = level;
      return true;
    }
  }
  return false;
}

void MemoryLogSink::write(LogLevel /*level*/, std::string_view line) { lines_.emplace_back(line); }

Logger::Logger(const Clock* clock, LogSink& sink, LogLevel min_level, std::string component)
    : clock_(clock), sink_(&sink), min_level_(min_level), component_(std::move(component)) {}

Logger Logger::child(std::string_view component) const {
  std::string name =
      component_.empty() ? std::string(component) : component_ + "." + std::string(component);
  return Logger(clock_, *sink_, min_level_, std::move(name));
}

void Logger::log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (!enabled(level)) return;
  const double seconds = clock_ != nullptr ? to_seconds(clock_->now().time_since_epoch()) : 0.0;
  sink_->write(level,
               format_log_line(seconds, clock_ != nullptr, level, component_, event, fields));
}

std::string format_log_line(double seconds, bool with_time, LogLevel level,
                            std::string_view component, std::string_view event,
                            std::initializer_list<LogField> fields) {
  std::string out;
  out.reserve(128);
  if (with_time) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "t=%.6f ", seconds);
    out += buf;
  }
  out += "lvl=";
  out += log_level_name(level);
  out += " comp=";
  append_text(out, component.empty() ? std::string_view("-") : component);
  out += " ev=";
  append_text(out, event);
  for (const LogField& field : fields) {
    out += ' ';
    out += field.key;
    out += '=';
    std::visit(
        [&out](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::string_view>) {
            append_text(out, v);
          } else if constexpr (std::is_same_v<V, bool>) {
            out += v ? "true" : "false";
          } else if constexpr (std::is_same_v<V, double>) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.6g", v);
            out += buf;
          } else {
            out += std::to_string(v);
          }
        },
        field.value);
  }
  return out;
}

}  // namespace splitarray
