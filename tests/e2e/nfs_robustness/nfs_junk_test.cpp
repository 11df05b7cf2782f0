// tests/e2e/nfs_robustness/nfs_junk_test.cpp
// A real host driver process attacked with malformed RPC traffic over TCP: random bytes,
// truncated and oversized records, storms of empty fragments, garbage arguments to every NFS and
// MOUNT procedure, stalled and idle connections. The server must answer what can be answered
// (GARBAGE_ARGS, PROC_UNAVAIL, AUTH errors), close what cannot, stay up, and keep serving a real
// NFS client (libnfs's tools) with the same bytes as before.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>

#include "common/async/task_group.h"
#include "tests/e2e/local_cluster.h"
#include "tests/support/run.h"
#include "tests/unit/hostdriver/nfs/rpc_test_client.h"

namespace splitarray::hostdriver::nfs {
namespace {

using rpc_test::as_record;
using rpc_test::call_body;
using rpc_test::RawClient;
using testing::LocalCluster;

constexpr uint32_t kNfsProgram = 100003;
constexpr uint32_t kMountProgramNumber = 100005;
constexpr uint32_t kNfsProcedures = 22;
constexpr int kIdleConnections = 64;
constexpr uint64_t kSeed = 20261122;
constexpr size_t kGarbageLengths[] = {3, 4, 64, 1000};

// Runs a libnfs tool; returns its exit status (output in `log`).
int libnfs_tool(const std::vector<std::string>& args, const std::string& log) {
  return testing::run_program("/usr/bin/" + args[0],
                              std::vector<std::string>(args.begin() + 1, args.end()), log);
}

void check_real_client(LocalCluster& cluster, const std::string& name, const std::string& local) {
  const std::string back = cluster.dir() + "/back-" + name;
  REQUIRE(libnfs_tool({"nfs-cp", cluster.url("/" + name), back}, cluster.log("client")) == 0);
  CHECK(testing::read_file(back) == testing::read_file(local));
}

struct Attack {
  asio::io_context io;
  AsioEnv asio_env{io, AsioEnvOptions{.log_level = LogLevel::kError, .component = "junk"}};
  Env& env = asio_env.env();
  Address nfs;
  Address mount;
  Prng rng{kSeed};

  Task<RawClient> connect(const Address& address) {
    auto stream = co_await env.network.connect(address, std::chrono::seconds(5));
    REQUIRE(stream.ok());
    co_return RawClient(std::move(stream).value());
  }

  std::vector<uint8_t> random_bytes(size_t n) {
    std::vector<uint8_t> bytes(n);
    for (auto& byte : bytes) byte = static_cast<uint8_t>(rng.below(256));
    return bytes;
  }
};

std::vector<std::vector<uint8_t>> closing_inputs() {
  std::vector<std::vector<uint8_t>> inputs;
  inputs.push_back({0xFF, 0xFF, 0xFF, 0xFF});
  inputs.push_back(std::vector<uint8_t>(4000, 0));  // 1,000 empty non-final fragments
  inputs.push_back(as_record(std::vector<uint8_t>{0, 0, 0, 1, 0, 0, 0, 1}));
  inputs.push_back(as_record(std::vector<uint8_t>{0, 0, 0, 1}));
  return inputs;
}

// A record announcing 4 KiB of which 4 bytes arrive.
std::vector<uint8_t> stalled_record() { return {0x80, 0, 0x10, 0, 1, 2, 3, 4}; }

// Sends `bytes` on a fresh connection and expects the server to close it (no reply).
Task<void> expect_closed(Attack& attack, std::vector<uint8_t> bytes) {
  RawClient client = co_await attack.connect(attack.nfs);
  REQUIRE((co_await client.send(bytes)).ok());
  auto reply = co_await client.receive();
  CHECK_FALSE(reply.ok());
}

Task<void> garbage_to_every_procedure(Attack& attack) {
  RawClient client = co_await attack.connect(attack.nfs);
  for (uint32_t procedure = 0; procedure <= kNfsProcedures + 2; ++procedure) {
    for (size_t length : kGarbageLengths) {
      const auto junk = attack.random_bytes(length);
      const uint32_t xid = procedure * 10000 + static_cast<uint32_t>(length);
      REQUIRE(
          (co_await client.send(as_record(call_body(xid, kNfsProgram, 3, procedure, junk)))).ok());
      auto reply = co_await client.receive();
      REQUIRE_MESSAGE(reply.ok(), "procedure " << procedure << " length " << length);
      CHECK(reply->xid == xid);
      CHECK(reply->reply_stat == 0);
      if (procedure >= kNfsProcedures) {
        CHECK(reply->accept_stat == static_cast<uint32_t>(AcceptStat::kProcUnavail));
      } else if (procedure != 0) {
        // Random bytes can decode as valid arguments (then a status such as BADHANDLE comes
        // back inside a SUCCESS reply); they must never crash or hang the server.
        CHECK((reply->accept_stat == static_cast<uint32_t>(AcceptStat::kGarbageArgs) ||
               reply->accept_stat == static_cast<uint32_t>(AcceptStat::kSuccess)));
      }
    }
  }
  // MOUNT with a 1 MiB path and an unknown version.
  XdrEncoder long_path;
  long_path.string(std::string(1 << 20, 'x'));
  RawClient mount = co_await attack.connect(attack.mount);
  REQUIRE(
      (co_await mount.send(as_record(call_body(1, kMountProgramNumber, 3, 1, long_path.bytes()))))
          .ok());
  auto refused = co_await mount.receive();
  REQUIRE(refused.ok());
  CHECK(refused->accept_stat == static_cast<uint32_t>(AcceptStat::kGarbageArgs));
  REQUIRE((co_await mount.send(as_record(call_body(2, kMountProgramNumber, 9, 0, {})))).ok());
  auto mismatch = co_await mount.receive();
  REQUIRE(mismatch.ok());
  CHECK(mismatch->accept_stat == static_cast<uint32_t>(AcceptStat::kProgMismatch));
}

Task<void> run_attack(Attack& attack, std::vector<std::unique_ptr<RawClient>>& idle) {
  // Random bytes behind a plausible last-fragment header, and with none.
  for (int round = 0; round < 20; ++round) {
    auto bytes = attack.random_bytes(1 + attack.rng.below(8192));
    if (round % 2 == 0 && bytes.size() > 4) {
      bytes[0] = 0x80;
      bytes[1] = 0;
    }
    RawClient client = co_await attack.connect(attack.nfs);
    REQUIRE((co_await client.send(bytes)).ok());
    client.stream().close();
  }
  // A fragment larger than any record; a record of 1,000 empty fragments; not a call (a reply);
  // an RPC header cut after the xid. (Built outside the coroutine: GCC 12 miscompiles braced
  // initializer lists inside coroutines.)
  std::vector<std::vector<uint8_t>> inputs = closing_inputs();
  for (std::vector<uint8_t>& bytes : inputs) co_await expect_closed(attack, std::move(bytes));
  co_await garbage_to_every_procedure(attack);
  // Connections that stop in the middle of a record, and idle ones, stay open meanwhile.
  for (int i = 0; i < kIdleConnections; ++i) {
    auto client = std::make_unique<RawClient>(co_await attack.connect(attack.nfs));
    if (i % 2 == 0) REQUIRE((co_await client->send(stalled_record())).ok());
    idle.push_back(std::move(client));
  }
}

}  // namespace

TEST_CASE("e2e/nfs: malformed RPC traffic never stops the server from serving a real client") {
  LocalCluster cluster({.host_args = {"--no-root-squash"}});
  const std::string local = cluster.dir() + "/data.bin";
  {
    std::ofstream out(local, std::ios::binary);
    Prng rng(kSeed);
    for (int i = 0; i < 300'000; ++i) out.put(static_cast<char>(rng.below(16) + 'a'));
  }
  REQUIRE(libnfs_tool({"nfs-cp", local, cluster.url("/before.bin")}, cluster.log("client")) == 0);

  Attack attack;
  attack.nfs = Address{"127.0.0.1", cluster.nfs_port()};
  attack.mount = Address{"127.0.0.1", cluster.mount_port()};
  std::vector<std::unique_ptr<RawClient>> idle;
  testing::run_task(attack.io, run_attack(attack, idle));

  // While the stalled and idle connections are still open, the real client works.
  REQUIRE(cluster.host_alive());
  check_real_client(cluster, "before.bin", local);
  REQUIRE(libnfs_tool({"nfs-cp", local, cluster.url("/after.bin")}, cluster.log("client")) == 0);
  check_real_client(cluster, "after.bin", local);
  for (auto& client : idle) client->stream().close();
  idle.clear();

  // The log names the connections it closed, and nothing worse happened.
  const std::string host_log = testing::read_file(cluster.host_log());
  CHECK(host_log.find("nfs.rpc.connection_closed") != std::string::npos);
  CHECK(host_log.find("lvl=error") == std::string::npos);
  CHECK(cluster.stop_host(SIGTERM) == 0);
}

}  // namespace splitarray::hostdriver::nfs
