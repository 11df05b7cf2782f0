// arrayctl against a real netshelf process (file-backed disks in a temporary directory): the
// real `arrayctl status` and `arrayctl status --json` binaries exit 0 and show every disk with its
// state (one failed on purpose) and a host that publishes its status record, then "stopped" once
// it stops; an unreachable shelf is exit 1 with the message; bad usage is exit 2.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "common/env_asio/asio_env.h"
#include "hostdriver/status/status_publisher.h"
#include "protocol/shelf_client.h"
#include "tests/e2e/support_process.h"
#include "tests/support/run.h"
#include "tests/support/temp_dir.h"

namespace splitarray {
namespace {

using hostdriver::status::HostState;
using hostdriver::status::HostStatus;
using hostdriver::status::StatusPublisher;
using hostdriver::status::StatusPublisherConfig;
using nlohmann::json;
using protocol::ShelfClient;
using std::chrono::milliseconds;

constexpr int kDisks = 4;
constexpr uint64_t kDiskBytes = 64 * kMiB;  // sparse files
constexpr uint16_t kFailedDisk = 2;
const auto kStartDeadline = std::chrono::seconds(30);

std::string write_config(const std::string& dir, uint16_t port) {
  std::ostringstream disks;
  for (int d = 0; d < kDisks; ++d) {
    disks << (d > 0 ? ", " : "") << R"({"path": ")" << dir << "/disk" << d
          << R"(.img", "size_bytes": )" << kDiskBytes << "}";
  }
  const std::string path = dir + "/shelf.json";
  std::ofstream(path) << R"({"cluster_id": 9, "shelf_id": 4, "listen": "127.0.0.1:)" << port
                      << R"(", "disks": [)" << disks.str() << R"(], "slot_payload_bytes": 65536,)"
                      << R"( "nvram": {"path": ")" << dir
                      << R"(/nvram.img", "size_bytes": 16777216, "hosts_max": 4},)"
                      << R"( "index_dir": ")" << dir << R"(/index", "registers_path": ")" << dir
                      << R"(/registers.log", "log_level": "warn"})";
  return path;
}

uint16_t free_port() {
  asio::io_context io;
  AsioEnv env(io, AsioEnvOptions{});
  auto listener = env.env().network.listen(Address{"127.0.0.1", 0});
  REQUIRE(listener.ok());
  return (*listener)->local_address().port;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

struct Run {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs the real arrayctl binary to completion.
Run arrayctl(const std::string& dir, const std::vector<std::string>& args) {
  static int runs = 0;
  const std::string out = dir + "/arrayctl-" + std::to_string(++runs) + ".out";
  Run run;
  run.exit_code = testing::run_program(ARRAYCTL_BINARY, args, out);
  run.output = slurp(out);
  return run;
}

Task<std::unique_ptr<ShelfClient>> connect_with_retry(Env& env, Address address) {
  const TimePoint give_up = env.clock.now() + kStartDeadline;
  for (;;) {
    auto client = co_await ShelfClient::connect(env, address);
    if (client.ok()) co_return std::move(client).value();
    REQUIRE_MESSAGE(env.clock.now() < give_up,
                    "shelf did not come up: " << client.error().to_string());
    co_await sleep_for(env.clock, milliseconds(20));
  }
}

Task<void> fail_disk(Env& env, Address address) {
  std::unique_ptr<ShelfClient> shelf = co_await connect_with_retry(env, address);
  auto failed = co_await shelf->disk_admin(Epoch(1), DiskIndex(kFailedDisk),
                                           protocol::DiskActionValue::kFail);
  co_await shelf->close();
  REQUIRE_MESSAGE(failed.ok(), (failed.ok() ? "" : failed.error().to_string()));
}

HostStatus host_figures() {
  HostStatus s;
  s.label = "e2e-host";
  s.state = HostState::kServing;
  hostdriver::status::DatastoreStatus d;
  d.name = "default";
  d.export_url = "nfs://127.0.0.1/default?nfsport=20490&mountport=20048";
  d.inodes = 5;
  d.logical_bytes = 4 * kMiB;
  d.unique_bytes = 2 * kMiB;
  d.stored_bytes = kMiB;
  s.datastores.push_back(d);
  return s;
}

Task<void> wait_published(Env& env, StatusPublisher& publisher) {
  const TimePoint give_up = env.clock.now() + kStartDeadline;
  while (publisher.stats().published == 0 || !publisher.stats().listed) {
    REQUIRE_MESSAGE(env.clock.now() < give_up,
                    "no status record: " << publisher.stats().last_error);
    co_await sleep_for(env.clock, milliseconds(10));
  }
}

void check_status_json(const Run& run, const char* expected_host_state) {
  REQUIRE_MESSAGE(run.exit_code == 0, run.output);
  const json root = json::parse(run.output);
  CHECK(root["shelf"]["cluster_id"] == 9);
  CHECK(root["shelf"]["shelf_id"] == 4);
  REQUIRE(root["disks"].size() == kDisks);
  for (int d = 0; d < kDisks; ++d) {
    CHECK(root["disks"][d]["index"] == d);
    CHECK(root["disks"][d]["state"] == (d == kFailedDisk ? "failed" : "healthy"));
    CHECK(root["disks"][d]["slots_total"].get<uint64_t>() > 0);
  }
  REQUIRE(root["hosts"].size() == 1);
  CHECK(root["hosts"][0]["id"] == 21);
  CHECK(root["hosts"][0]["label"] == "e2e-host");
  CHECK(root["hosts"][0]["state"] == expected_host_state);
  REQUIRE(root["datastores"].size() == 1);
  CHECK(root["datastores"][0]["logical_bytes"] == 4 * kMiB);
  CHECK(root["datastores"][0]["dedup_ratio"] == 2.0);
  CHECK(root["datastores"][0]["reduction_ratio"] == 4.0);
}

// Runs on the test's event loop; arrayctl runs as a real process meanwhile (the loop blocks, which
// only delays the publisher's next tick: the record stays fresh for three intervals).
Task<void> status_scenario(Env& env, std::string dir, Address address) {
  const std::string where = address.to_string();
  co_await fail_disk(env, address);

  // A host publishes its status record (as the host driver will), then arrayctl reads it.
  StatusPublisherConfig publisher_config;
  publisher_config.shelf = address;
  publisher_config.host = HostId(21);
  StatusPublisher publisher(env, publisher_config, [] { return host_figures(); });
  publisher.start();
  co_await wait_published(env, publisher);

  const Run table = arrayctl(dir, {"status", "--shelf", where});
  MESSAGE("arrayctl status:\n" << table.output);
  CHECK(table.exit_code == 0);
  CHECK(table.output.find("Shelf " + where) == 0);
  CHECK(table.output.find("cluster 9, shelf 4, 4 disks (3 healthy)") != std::string::npos);
  CHECK(table.output.find("failed") != std::string::npos);
  CHECK(table.output.find("e2e-host") != std::string::npos);
  CHECK(table.output.find("serving") != std::string::npos);
  CHECK(table.output.find("4.00x") != std::string::npos);  // 4 MiB logical in 1 MiB stored

  check_status_json(arrayctl(dir, {"status", "--shelf", where, "--json"}), "serving");

  // The host stops: its last record says so. The shelf comes from $SPLITARRAY_SHELF this time.
  co_await publisher.stop();
  ::setenv("SPLITARRAY_SHELF", where.c_str(), 1);
  const Run stopped = arrayctl(dir, {"status", "--json"});
  ::unsetenv("SPLITARRAY_SHELF");
  check_status_json(stopped, "stopped");
}

TEST_CASE("e2e/arrayctl: status of a real shelf as a table and as JSON") {
  testing::TempDir dir("sa-arrayctl");
  const uint16_t port = free_port();
  const std::string config = write_config(dir.path, port);
  const std::string log = dir.path + "/netshelf.log";
  REQUIRE(testing::run_program(NETSHELF_BINARY, {"format", "--config", config}, log) == 0);
  testing::ChildProcess shelf_process(NETSHELF_BINARY, {"--config", config}, log);
  const Address address{"127.0.0.1", port};
  {
    asio::io_context io;
    AsioEnv asio_env(io, AsioEnvOptions{.compute_threads = 1, .log_level = LogLevel::kError});
    testing::run_task(io, status_scenario(asio_env.env(), dir.path, address));
  }
  shelf_process.signal(SIGTERM);
  CHECK(shelf_process.wait() == 0);

  // The shelf is gone: exit 1 and a message that says where it looked.
  const std::string where = address.to_string();
  const Run unreachable = arrayctl(dir.path, {"status", "--shelf", where});
  CHECK(unreachable.exit_code == 1);
  CHECK_MESSAGE(unreachable.output.find("arrayctl: cannot reach the shelf at " + where + ": ") == 0,
                unreachable.output);
}

TEST_CASE("e2e/arrayctl: bad usage is exit 2 and lists the commands") {
  testing::TempDir dir("sa-arrayctl-usage");
  const std::vector<std::vector<std::string>> bad_usages = {
      {}, {"rebuild"}, {"status", "--bogus"}, {"status", "--shelf", "x"}, {"status", "--shelf"}};
  for (const std::vector<std::string>& args : bad_usages) {
    const Run run = arrayctl(dir.path, args);
    CHECK(run.exit_code == 2);
    CHECK(run.output.find("usage: arrayctl") != std::string::npos);
    CHECK(run.output.find("status [--shelf HOST:PORT] [--json]") != std::string::npos);
  }
  const Run help = arrayctl(dir.path, {"--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.output.find("usage: arrayctl") == 0);
}

}  // namespace
}  // namespace splitarray
