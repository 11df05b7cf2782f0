// Real-process crash test for the file system: the host driver (fs_crash_worker, a process that
// owns the datastore's FileSystem on a real netshelf) runs random mixed operations and is killed
// with SIGKILL at random moments, SPLITARRAY_CRASH_KILLS times (default 50); every tenth round
// the shelf is killed first. Each new worker first verifies the datastore against its journal:
// every acknowledged operation is there with exact bytes, and the operation(s) in flight at the
// kill are wholly applied or wholly absent (a rename: exactly one of the names). See
// fs_crash_model.h for the journal and fs_crash_worker.cpp for the worker.
// Seed: SPLITARRAY_SEED (printed). The temporary directory is kept when the test fails.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "common/env_asio/asio_env.h"
#include "common/prng.h"
#include "tests/e2e/support_process.h"

namespace splitarray {
namespace {

using std::chrono::milliseconds;
using testing::ChildProcess;

constexpr int kDisks = 12;  // RS(8,2) stripes need 10 distinct disks
constexpr uint64_t kDiskBytes = 64 * kMiB;
constexpr uint64_t kNvramBytes = 64 * kMiB;
constexpr int kShelfKillEvery = 10;
constexpr int kExitOpFailed = 4;  // the worker's "an op failed outside fs semantics"
const std::string kDatastore = "crash";
const auto kStartDeadline = std::chrono::seconds(60);  // worker start + open + verify

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr ? std::strtoull(text, nullptr, 10) : fallback;
}

std::string write_config(const std::string& dir, uint16_t port) {
  std::ostringstream disks;
  for (int d = 0; d < kDisks; ++d) {
    disks << (d > 0 ? ", " : "") << R"({"path": ")" << dir << "/disk" << d
          << R"(.img", "size_bytes": )" << kDiskBytes << "}";
  }
  const std::string path = dir + "/shelf.json";
  std::ofstream(path) << R"({"cluster_id": 1, "shelf_id": 1, "listen": "127.0.0.1:)" << port
                      << R"(", "disks": [)" << disks.str() << R"(], "slot_payload_bytes": 65536,)"
                      << R"( "nvram": {"path": ")" << dir << R"(/nvram.img", "size_bytes": )"
                      << kNvramBytes << R"(, "hosts_max": 4}, "index_dir": ")" << dir
                      << R"(/index", "registers_path": ")" << dir
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

uint64_t count_lines(const std::string& text, const std::string& prefix) {
  uint64_t count = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) count += line.rfind(prefix, 0) == 0 ? 1 : 0;
  return count;
}

void sleep_ms(uint64_t ms) { std::this_thread::sleep_for(milliseconds(ms)); }

// Waits until the worker created its marker (it verified and started working).
enum class Start { kWorking, kExited, kTimedOut };
Start wait_working(ChildProcess& worker, const std::string& marker) {
  const auto give_up = std::chrono::steady_clock::now() + kStartDeadline;
  while (!std::filesystem::exists(marker)) {
    // exited() reaps the child: it must not be signalled or waited for after that.
    if (worker.exited()) return Start::kExited;
    if (std::chrono::steady_clock::now() > give_up) return Start::kTimedOut;
    sleep_ms(2);
  }
  return Start::kWorking;
}

struct Round {
  const std::string& dir;
  const std::string& address;
  const std::string& journal;
  uint64_t seed;
  uint64_t index;
};

// One round: start a worker (verify, then work), kill it (and maybe the shelf) at a random
// moment. Returns "" or what went wrong, with the worker's output.
std::string run_round(const Round& round, std::unique_ptr<ChildProcess>& shelf,
                      const std::string& shelf_config, Prng& rng) {
  const std::string marker = round.journal + ".working";
  const std::string log = round.dir + "/worker-" + std::to_string(round.index) + ".log";
  std::filesystem::remove(marker);
  const bool kill_shelf = round.index % kShelfKillEvery == kShelfKillEvery - 3;
  const std::string mode =
      round.index % kShelfKillEvery == kShelfKillEvery - 1 ? "run-full" : "run";
  ChildProcess worker(FS_CRASH_WORKER_BINARY,
                      {round.address, kDatastore, round.journal, std::to_string(round.seed), mode},
                      log);
  const Start start = wait_working(worker, marker);
  if (start == Start::kExited) return "the worker exited before working:\n" + slurp(log);
  if (start == Start::kTimedOut) {
    worker.signal(SIGKILL);
    worker.wait();
    return "the worker did not start working in time:\n" + slurp(log);
  }
  if (kill_shelf) {
    sleep_ms(rng.between(50, 300));
    shelf->signal(SIGKILL);
    const int shelf_status = shelf->wait();
    sleep_ms(rng.between(5, 50));  // the worker may notice and stop on its own
    worker.signal(SIGKILL);
    const int status = worker.wait();
    shelf = std::make_unique<ChildProcess>(NETSHELF_BINARY,
                                           std::vector<std::string>{"--config", shelf_config},
                                           round.dir + "/netshelf.log");
    if (shelf_status != 128 + SIGKILL)
      return "netshelf exited with " + std::to_string(shelf_status);
    if (status != 128 + SIGKILL && status != kExitOpFailed) {
      return "worker exited with " + std::to_string(status) + ":\n" + slurp(log);
    }
  } else {
    sleep_ms(rng.between(100, 400));
    worker.signal(SIGKILL);
    const int status = worker.wait();
    if (status != 128 + SIGKILL) {
      return "worker exited with " + std::to_string(status) + " before the kill:\n" + slurp(log);
    }
  }
  std::filesystem::remove(log);
  return "";
}

TEST_CASE("e2e/fs: kill -9 of the host driver loses no acknowledged operation") {
  const uint64_t seed = env_u64("SPLITARRAY_SEED", 20261121);
  const uint64_t kills = env_u64("SPLITARRAY_CRASH_KILLS", 50);
  MESSAGE("SPLITARRAY_SEED=" << seed << " SPLITARRAY_CRASH_KILLS=" << kills);
  const auto started = std::chrono::steady_clock::now();
  const std::string dir =
      std::filesystem::temp_directory_path() / ("sa-fs-crash-" + std::to_string(seed));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const uint16_t port = free_port();
  const std::string config = write_config(dir, port);
  const std::string shelf_log = dir + "/netshelf.log";
  REQUIRE(testing::run_program(NETSHELF_BINARY, {"format", "--config", config}, shelf_log) == 0);
  auto shelf = std::make_unique<ChildProcess>(
      NETSHELF_BINARY, std::vector<std::string>{"--config", config}, shelf_log);

  const std::string address = "127.0.0.1:" + std::to_string(port);
  const std::string journal = dir + "/journal";
  const std::string format_log = dir + "/worker-format.log";
  const int formatted = testing::run_program(
      FS_CRASH_WORKER_BINARY, {address, kDatastore, journal, std::to_string(seed), "format"},
      format_log);
  REQUIRE_MESSAGE(formatted == 0, slurp(format_log));

  Prng rng(seed);
  for (uint64_t i = 0; i < kills; ++i) {
    const Round round{dir, address, journal, seed * 1000 + i, i};
    const std::string failure = run_round(round, shelf, config, rng);
    REQUIRE_MESSAGE(failure.empty(), "SPLITARRAY_SEED=" << seed << " round " << i
                                                        << " (worker seed " << round.seed
                                                        << "): " << failure);
  }
  // A last worker verifies (with the full fsck when built) and closes cleanly.
  const std::string last_log = dir + "/worker-last.log";
  const int verified = testing::run_program(
      FS_CRASH_WORKER_BINARY, {address, kDatastore, journal, std::to_string(seed), "verify"},
      last_log);
  const std::string last_output = slurp(last_log);
  REQUIRE_MESSAGE(verified == 0, "SPLITARRAY_SEED=" << seed << " final verify: " << last_output);
  shelf->signal(SIGTERM);
  CHECK(shelf->wait() == 0);

  const std::string text = slurp(journal);
  const uint64_t acked = count_lines(text, "ack ");
  const uint64_t in_flight = count_lines(text, "resolve ");
  uint64_t applied = 0;  // in-flight operations the next worker found applied
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    applied += line.rfind("resolve ", 0) == 0 && line.ends_with(" 1") ? 1 : 0;
  }
  const auto seconds =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started).count() /
      1000.0;
  MESSAGE("kills " << kills << " (shelf too: " << (kills + 2) / kShelfKillEvery
                   << "), acknowledged ops " << acked << ", in flight at kills " << in_flight
                   << " (applied " << applied << "), " << seconds << " s; " << last_output);
  CHECK(acked > kills * 5);  // the workload really ran between kills
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace splitarray
