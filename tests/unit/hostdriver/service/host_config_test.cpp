// tests/unit/hostdriver/service/host_config_test.cpp
// The host driver's command line: defaults a user gets without options, the values options set,
// and a clear error (naming the option) for every bad value.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "hostdriver/service/host_config.h"

namespace splitarray::hostdriver::service {
namespace {

Result<HostConfig> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "hostdriver");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return parse_host_config(static_cast<int>(argv.size()), argv.data());
}

TEST_CASE(
    "hostdriver/service: defaults serve /default to localhost with a 1 GiB read cache and "
    "polling") {
  auto config = parse({"--shelf", "127.0.0.1:9000"});
  REQUIRE(config.ok());
  CHECK(config->fs.store.shelf.port == 9000);
  CHECK(config->nfs_port == kNfsPortDefault);
  CHECK(config->mount_port == kMountPortDefault);
  CHECK(config->exported.root_squash);
  CHECK(config->fs.store.read_cache_bytes == kReadCacheMibDefault * kMiB);
  CHECK(config->poll == std::chrono::microseconds(kPollUsDefault));
  CHECK(export_url(*config) == "nfs://127.0.0.1/default?nfsport=20490&mountport=20048");
}

TEST_CASE("hostdriver/service: options set ports, export, squash, read cache and polling") {
  auto config =
      parse({"--shelf", "127.0.0.1:9000", "--nfs-port", "3049", "--mount-port", "3048", "--export",
             "/vms", "--no-root-squash", "--read-cache-mib", "0", "--poll-us", "0"});
  REQUIRE(config.ok());
  CHECK(config->nfs_port == 3049);
  CHECK(config->mount_port == 3048);
  CHECK(config->exported.path == "/vms");
  CHECK_FALSE(config->exported.root_squash);
  CHECK(config->fs.store.read_cache_bytes == 0);
  CHECK(config->poll == Duration::zero());
  auto big = parse({"--shelf", "127.0.0.1:9000", "--read-cache-mib", "4096", "--poll-us", "50"});
  REQUIRE(big.ok());
  CHECK(big->fs.store.read_cache_bytes == 4 * kGiB);
  CHECK(big->poll == std::chrono::microseconds(50));
}

TEST_CASE("hostdriver/service: bad values are refused, naming the option") {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--nfs-port", "3049"}, "--shelf is required"},
      {{"--shelf", "nowhere"}, "bad --shelf"},
      {{"--shelf", "127.0.0.1:9000", "--read-cache-mib", "-1"}, "bad --read-cache-mib"},
      {{"--shelf", "127.0.0.1:9000", "--read-cache-mib", "many"}, "bad --read-cache-mib"},
      {{"--shelf", "127.0.0.1:9000", "--read-cache-mib", "999999999"}, "bad --read-cache-mib"},
      {{"--shelf", "127.0.0.1:9000", "--read-cache-mib"}, "--read-cache-mib needs a value"},
      {{"--shelf", "127.0.0.1:9000", "--poll-us", "-1"}, "bad --poll-us"},
      {{"--shelf", "127.0.0.1:9000", "--poll-us", "10001"}, "bad --poll-us"},
      {{"--shelf", "127.0.0.1:9000", "--poll-us", "1ms"}, "bad --poll-us"},
      {{"--shelf", "127.0.0.1:9000", "--nfs-port", "5", "--mount-port", "5"},
       "--nfs-port and --mount-port must differ"},
      {{"--shelf", "127.0.0.1:9000", "--export", "relative"}, "bad --export"},
      {{"--shelf", "127.0.0.1:9000", "--cache", "1"}, "unknown option --cache"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.message);
    auto config = parse(c.args);
    REQUIRE_FALSE(config.ok());
    CHECK(config.code() == Code::kInvalidArgument);
    CHECK(config.error().message == c.message);
  }
}

}  // namespace
}  // namespace splitarray::hostdriver::service
