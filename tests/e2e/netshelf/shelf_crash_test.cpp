// Real-process crash test for netshelf: a client keeps appending NVRAM records, writing
// fragments and CASing a register while the shelf is killed with SIGKILL at random moments and
// restarted. After every restart: every acknowledged record, fragment and register value is
// present and intact; anything unacknowledged is whole or absent, never torn or wrong.
// Seed: SPLITARRAY_SEED (printed). Kills: SPLITARRAY_CRASH_KILLS (default 50).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/async/task_group.h"
#include "common/endian.h"
#include "common/env_asio/asio_env.h"
#include "protocol/fragment_header.h"
#include "protocol/shelf_client.h"
#include "tests/e2e/support_process.h"
#include "tests/support/run.h"

namespace splitarray {
namespace {

using protocol::ShelfClient;
using std::chrono::milliseconds;

constexpr HostId kHost{1};
constexpr Epoch kEpoch{1};
constexpr int kDisks = 3;
constexpr size_t kWorkers = 4;
const std::string kRegister = "crash/counter";

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr ? std::strtoull(text, nullptr, 10) : fallback;
}

// NVRAM record `id`: 8-byte id, then bytes derived from it (length too), so any record read back
// can be checked on its own.
std::vector<uint8_t> record_bytes(uint64_t id) {
  Prng rng(id * 0x9E3779B97F4A7C15ULL + 1);
  std::vector<uint8_t> out(8 + rng.between(0, 4096));
  put_u64(out, 0, id);
  rng.fill(std::span<uint8_t>(out).subspan(8));
  return out;
}

std::vector<uint8_t> fragment_bytes(uint64_t container) {
  Prng rng(container * 0xD1B54A32D192ED03ULL + 7);
  std::vector<uint8_t> payload(rng.between(1, 48 * 1024));
  rng.fill(payload);
  return protocol::build_fragment(protocol::FragmentId{ContainerId(container), 0, 1}, payload);
}

protocol::FragmentIdValue fragment_id(uint64_t container) {
  return protocol::FragmentIdValue{container, 0, 1};
}

DiskIndex disk_of(uint64_t container) {
  return DiskIndex(static_cast<uint16_t>(container % kDisks));
}

std::vector<uint8_t> counter_value(uint64_t version) {
  std::vector<uint8_t> v(16);
  put_u64(v, 0, version);
  put_u64(v, 8, ~version);
  return v;
}

// What the client knows was acknowledged.
struct Model {
  std::map<uint64_t, uint64_t> records;  // sequence -> record id (acknowledged appends)
  uint64_t trimmed_through = 0;          // acknowledged trims
  uint64_t trim_requested = 0;    // highest trim ever sent: an unacknowledged one may have happened
  std::set<uint64_t> fragments;   // acknowledged fragment writes (container ids)
  uint64_t register_version = 0;  // highest acknowledged CAS version
  uint64_t next_record_id = 1;
  uint64_t next_container = 1;
  uint64_t acked_ops = 0;
};

std::string write_config(const std::string& dir, uint16_t port) {
  std::string disks;
  for (int d = 0; d < kDisks; ++d) {
    if (d > 0) disks += ", ";
    disks +=
        R"({"path": ")" + dir + "/disk" + std::to_string(d) + R"(.img", "size_bytes": 268435456})";
  }
  const std::string path = dir + "/shelf.json";
  std::ofstream(path) << R"({"cluster_id": 1, "shelf_id": 1, "listen": "127.0.0.1:)" << port
                      << R"(", "disks": [)" << disks << R"(], "slot_payload_bytes": 65536,)"
                      << R"( "nvram": {"path": ")" << dir
                      << R"(/nvram.img", "size_bytes": 4194304,)"
                      << R"( "hosts_max": 4}, "index_dir": ")" << dir << R"(/index",)"
                      << R"( "registers_path": ")" << dir
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

Task<std::unique_ptr<ShelfClient>> connect_with_retry(Env& env, Address address) {
  const TimePoint give_up = env.clock.now() + std::chrono::seconds(20);
  for (;;) {
    auto client = co_await ShelfClient::connect(env, address);
    if (client.ok()) co_return std::move(client).value();
    REQUIRE_MESSAGE(env.clock.now() < give_up,
                    "shelf did not come up: " << client.error().to_string());
    co_await sleep_for(env.clock, milliseconds(20));
  }
}

// Everything acknowledged is present and intact; anything else present is whole.
Task<void> verify(ShelfClient& shelf, const Model& model) {
  // NVRAM: read the whole log.
  // The log may start after the last acknowledged trim (a trim can be durable without its reply
  // arriving), but never after the last trim requested.
  uint64_t first = model.trimmed_through + 1;
  if (auto usage = co_await shelf.nvram_usage(kHost); usage.ok()) {
    REQUIRE(usage->first_sequence <= model.trim_requested + 1);
    first = std::max(first, usage->first_sequence);
  }
  uint64_t from = first;
  std::map<uint64_t, std::vector<uint8_t>> present;
  for (int rounds = 0; rounds < 10000; ++rounds) {
    auto read = co_await shelf.nvram_read(kHost, from, 1 << 20);
    REQUIRE_MESSAGE(read.ok(), read.error().to_string());
    for (size_t i = 0; i < read->records.size(); ++i) {
      present[read->first_sequence + i] = std::move(read->records[i]);
    }
    if (read->records.empty() ||
        read->first_sequence + read->records.size() >= read->next_sequence) {
      break;
    }
    from = read->first_sequence + read->records.size();
  }
  // (No structured bindings here: clang 14 cannot capture them in doctest's message lambdas.)
  for (const auto& record : model.records) {
    const uint64_t seq = record.first;
    if (seq < first) continue;
    auto it = present.find(seq);
    REQUIRE_MESSAGE(it != present.end(), "acknowledged record " << seq << " lost");
    CHECK(it->second == record_bytes(record.second));
  }
  for (const auto& entry : present) {
    const uint64_t seq = entry.first;
    const std::vector<uint8_t>& bytes = entry.second;
    REQUIRE(bytes.size() >= 8);
    CHECK_MESSAGE(bytes == record_bytes(get_u64(bytes, 0)), "record " << seq << " is not whole");
  }
  // Fragments: acknowledged ones read back byte-identical; others are absent or whole.
  for (uint64_t c = 1; c < model.next_container; ++c) {
    auto got = co_await shelf.fragment_read(disk_of(c), fragment_id(c), 0, 0);
    if (model.fragments.contains(c)) {
      REQUIRE_MESSAGE(got.ok(), "acknowledged fragment " << c << ": " << got.error().to_string());
      CHECK(*got == fragment_bytes(c));
    } else if (got.ok()) {
      CHECK(*got == fragment_bytes(c));
    } else {
      CHECK(got.code() == Code::kNotFound);
    }
  }
  // Register: at least the last acknowledged version, with the value of its version.
  auto reg = co_await shelf.register_get(kRegister);
  REQUIRE(reg.ok());
  CHECK(reg->version >= model.register_version);
  if (reg->exists) CHECK(reg->value == counter_value(reg->version));
}

// One worker: a random mix of operations until the connection dies.
Task<void> worker(ShelfClient& shelf, Model& model, Prng rng) {
  for (;;) {
    const uint64_t pick = rng.below(10);
    if (pick < 5) {
      std::vector<uint64_t> ids;
      std::vector<std::vector<uint8_t>> records;
      for (uint64_t n = rng.between(1, 4); n > 0; --n) {
        ids.push_back(model.next_record_id++);
        records.push_back(record_bytes(ids.back()));
      }
      auto appended = co_await shelf.nvram_append(kHost, kEpoch, records);
      if (!appended.ok() && appended.code() == Code::kBusy) {
        // Full: trim what is acknowledged so far (as a destage would) and go on.
        const uint64_t through = model.records.empty() ? 0 : model.records.rbegin()->first;
        if (through > model.trimmed_through)
          model.trim_requested = std::max(model.trim_requested, through);
        if (through > model.trimmed_through &&
            (co_await shelf.nvram_trim(kHost, kEpoch, through)).ok()) {
          model.trimmed_through = std::max(model.trimmed_through, through);
        }
        continue;
      }
      if (!appended.ok()) co_return;  // connection gone: the shelf was killed
      for (size_t i = 0; i < ids.size(); ++i) model.records[appended->first_sequence + i] = ids[i];
    } else if (pick < 8) {
      const uint64_t c = model.next_container++;
      auto written = co_await shelf.fragment_write(kHost, kEpoch, disk_of(c), fragment_id(c),
                                                   fragment_bytes(c));
      if (!written.ok()) {
        if (written.code() == Code::kNoSpace) continue;
        co_return;
      }
      model.fragments.insert(c);
    } else {
      const uint64_t expected = model.register_version;
      auto cas =
          co_await shelf.register_cas(kRegister, expected, counter_value(expected + 1), kEpoch);
      if (!cas.ok()) co_return;
      if (cas->swapped)
        model.register_version = std::max(model.register_version, expected + 1);
      else
        model.register_version = std::max(model.register_version, cas->current.version);
    }
    ++model.acked_ops;
  }
}

TEST_CASE("e2e/netshelf: kill -9 at random moments loses nothing acknowledged") {
  const uint64_t seed = env_u64("SPLITARRAY_SEED", 20261121);
  const uint64_t kills = env_u64("SPLITARRAY_CRASH_KILLS", 50);
  MESSAGE("SPLITARRAY_SEED=" << seed << " kills=" << kills);
  const std::string dir =
      std::filesystem::temp_directory_path() / ("sa-crash-" + std::to_string(seed));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const uint16_t port = free_port();
  const std::string config = write_config(dir, port);
  const std::string log = dir + "/netshelf.log";
  REQUIRE(testing::run_program(NETSHELF_BINARY, {"format", "--config", config}, log) == 0);

  asio::io_context io;
  AsioEnv asio_env(io, AsioEnvOptions{.log_level = LogLevel::kError, .seed = seed});
  Env& env = asio_env.env();
  Model model;
  Prng rng(seed);
  for (uint64_t round = 0; round <= kills; ++round) {
    testing::ChildProcess shelf_process(NETSHELF_BINARY, {"--config", config}, log);
    const bool last = round == kills;
    testing::run_task(io, [&]() -> Task<void> {
      const Address address{"127.0.0.1", port};  // named: see README "GCC 12 coroutine rules"
      auto shelf = co_await connect_with_retry(env, address);
      co_await verify(*shelf, model);
      if (!last) {
        // Kill at a random moment while the workers are busy.
        env.clock.call_at(env.clock.now() + milliseconds(rng.between(5, 120)),
                          [&shelf_process] { shelf_process.signal(SIGKILL); });
        async::TaskGroup workers;
        for (size_t w = 0; w < kWorkers; ++w)
          workers.spawn(env.executor(), worker(*shelf, model, rng.fork()));
        co_await workers.join();
      }
      co_await shelf->close();
    }());
    if (last) {
      shelf_process.signal(SIGTERM);  // graceful stop must exit cleanly
      CHECK(shelf_process.wait() == 0);
    } else {
      CHECK(shelf_process.wait() == 128 + SIGKILL);
    }
  }
  MESSAGE("acknowledged operations: " << model.acked_ops << ", records " << model.records.size()
                                      << ", fragments " << model.fragments.size()
                                      << ", register version " << model.register_version);
  CHECK(model.acked_ops > kills);  // the workload really ran between kills
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace splitarray
