#include <doctest/doctest.h>

#include "common/log.h"

namespace splitarray {
namespace {

TEST_CASE("common/log: logfmt fields, quoting and levels") {
  MemoryLogSink sink;
  Logger log(nullptr, sink, LogLevel::kInfo, "shelf");
  log.debug("hidden", {{"x", 1}});
  log.info("disk.failed", {{"disk", 3}, {"reason", "write error"}, {"ok", false}});
  Logger child = log.child("nvram");
  child.warn("log.full", {{"used", uint64_t{10}}, {"quote", "a\"b"}});
  REQUIRE(sink.lines().size() == 2);
  CHECK(sink.lines()[0] ==
        "lvl=info comp=shelf ev=disk.failed disk=3 reason=\"write error\" ok=false");
  CHECK(sink.lines()[1] == "lvl=warn comp=shelf.nvram ev=log.full used=10 quote=\"a\\\"b\"");
}

TEST_CASE("common/log: parse_log_level accepts the documented names only") {
  LogLevel level = LogLevel::kInfo;
  CHECK(parse_log_level("debug", &level));
  CHECK(level == LogLevel::kDebug);
  CHECK(parse_log_level("off", &level));
  CHECK(level == LogLevel::kOff);
  CHECK_FALSE(parse_log_level("verbose", &level));
}

}  // namespace
}  // namespace splitarray
