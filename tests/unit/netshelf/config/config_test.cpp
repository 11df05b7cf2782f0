#include <doctest/doctest.h>

#include <string>

#include "netshelf/config/shelf_config.h"

namespace splitarray::netshelf {
namespace {

const char* kValid = R"({
  "cluster_id": 7, "shelf_id": 2, "listen": "127.0.0.1:20100",
  "disks": [{"path": "/s/d0", "size_bytes": 67108864}, {"path": "/s/d1", "size_bytes": 67108864}],
  "nvram": {"path": "/s/nvram", "size_bytes": 8388608},
  "index_dir": "/s/index", "registers_path": "/s/registers"
})";

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

TEST_CASE("netshelf/config: a valid file parses, with defaults for optional keys") {
  auto config = parse_shelf_config(kValid);
  REQUIRE(config.ok());
  CHECK(config->cluster_id == ClusterId(7));
  CHECK(config->shelf_id == ShelfId(2));
  CHECK(config->listen == Address{"127.0.0.1", 20100});
  REQUIRE(config->disks.size() == 2);
  CHECK(config->disks[1].path == "/s/d1");
  CHECK(config->nvram.hosts_max == 16);
  CHECK(config->slot_payload_bytes == kConfigSlotPayloadBytesDefault);
  CHECK(config->log_level == LogLevel::kInfo);
}

TEST_CASE("netshelf/config: errors name the offending key") {
  struct Case {
    std::string text;
    std::string expected;  // substring of the message
  };
  const Case cases[] = {
      {replace(kValid, "\"shelf_id\"", "\"shelf_idd\""), "shelf_idd: unknown key"},
      {replace(kValid, "\"cluster_id\": 7,", ""), "cluster_id: missing"},
      {replace(kValid, "127.0.0.1:20100", "127.0.0.1"), "listen:"},
      {replace(kValid, "67108864}, {", "4096}, {"), "disks[0].size_bytes: must be in"},
      {replace(kValid, "\"/s/d1\"", "\"/s/d0\""), "disks[1].path: used twice"},
      {replace(kValid, "\"size_bytes\": 8388608", "\"size_bytes\": 8388608, \"speed\": 1"),
       "nvram.speed: unknown key"},
      {replace(kValid, "\"cluster_id\": 7", "\"cluster_id\": -7"), "cluster_id: must be"},
      {replace(kValid, "\"cluster_id\": 7", "\"cluster_id\": \"7\""), "cluster_id: must be"},
      {std::string(kValid) + "}", "not valid JSON"},
      {replace(kValid, "\"/s/registers\"", "\"/s/nvram\""), "also used elsewhere"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto config = parse_shelf_config(c.text);
    REQUIRE_FALSE(config.ok());
    CHECK(config.code() == Code::kInvalidArgument);
    CHECK(config.error().message.find(c.expected) != std::string::npos);
  }
}

TEST_CASE("netshelf/config: log level and limits are validated") {
  auto bad_level = parse_shelf_config(
      replace(kValid, "\"registers_path\"", "\"log_level\": \"loud\", \"registers_path\""));
  CHECK(bad_level.error().message.find("log_level") != std::string::npos);
  auto debug = parse_shelf_config(
      replace(kValid, "\"registers_path\"", "\"log_level\": \"debug\", \"registers_path\""));
  REQUIRE(debug.ok());
  CHECK(debug->log_level == LogLevel::kDebug);
  auto odd_slot = parse_shelf_config(
      replace(kValid, "\"registers_path\"", "\"slot_payload_bytes\": 5000, \"registers_path\""));
  CHECK(odd_slot.error().message.find("multiple of 4096") != std::string::npos);
}

}  // namespace
}  // namespace splitarray::netshelf
