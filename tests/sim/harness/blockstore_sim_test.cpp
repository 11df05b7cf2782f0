// The host driver's block store on the simulated shelf, under seeded faults: hosts crash and come
// back with higher epochs, the shelf crashes and loses power, links drop, delay and partition,
// disks fail operations. Every acknowledged block must read back from a fresh incarnation, live
// reads must return the last write, and every host must make progress once faults heal. Seeds
// are fixed so CI is reproducible; `sim_run --blockstore --soak` explores random ones.
// SPLITARRAY_SIM_SEEDS=N widens the safety set to N seeds.
#include <doctest/doctest.h>

#include <cstdlib>
#include <sstream>

#include "sim/harness/blockstore_sim.h"

namespace splitarray::sim {
namespace {

using std::chrono::seconds;

std::string describe(const BlockStoreSimReport& report, const BlockStoreSimConfig& config) {
  std::ostringstream out;
  out << "sim_run --blockstore --seed " << report.seed << " --hosts " << config.hosts
      << " --duration " << std::chrono::duration_cast<seconds>(config.duration).count()
      << (report.detection ? " --detection" : " --safety") << ": " << report.acked_ops
      << " acked ops (" << report.acked_writes << " writes, " << report.acked_commits
      << " commits), shelf crashes " << report.crashes << ", host crashes " << report.host_crashes
      << ", destaged " << report.containers_destaged << ", faults " << report.faults_summary;
  for (const std::string& what : report.violations) out << "\n  VIOLATION: " << what;
  return out.str();
}

BlockStoreSimConfig short_run(uint64_t seed) {
  BlockStoreSimConfig config;
  config.seed = seed;
  config.hosts = 2;
  config.duration = seconds(8);
  return config;
}

TEST_CASE("sim/blockstore: a seed replays to the same trace hash") {
  BlockStoreSimConfig config = short_run(7);
  config.duration = seconds(4);
  const BlockStoreSimReport first = run_blockstore_sim(config);
  const BlockStoreSimReport second = run_blockstore_sim(config);
  CHECK(first.trace_hash == second.trace_hash);
  CHECK(first.events == second.events);
  CHECK(first.acked_ops == second.acked_ops);
  CHECK(first.faults_summary == second.faults_summary);
  CHECK_MESSAGE(first.ok(), describe(first, config));
  CHECK(first.acked_writes > 0);
}

TEST_CASE("sim/blockstore: safety seeds keep every acknowledged block") {
  const char* text = std::getenv("SPLITARRAY_SIM_SEEDS");
  std::vector<uint64_t> seeds = {1, 2, 3, 4, 5, 6, 7, 8};
  if (text != nullptr) {
    seeds.clear();
    for (uint64_t s = 1; s <= std::strtoull(text, nullptr, 10); ++s) seeds.push_back(s);
  }
  uint64_t host_crashes = 0;
  uint64_t shelf_crashes = 0;
  uint64_t destaged = 0;
  uint64_t rebuilt = 0;
  for (const uint64_t seed : seeds) {
    BlockStoreSimConfig config = short_run(seed);
    config.detection = false;
    const BlockStoreSimReport report = run_blockstore_sim(config);
    const std::string what = describe(report, config);
    MESSAGE(what);
    CHECK_MESSAGE(report.ok(), what);
    CHECK_MESSAGE(report.acked_writes > 0, what);
    CHECK_MESSAGE(report.verified_blocks > 0, what);
    host_crashes += report.host_crashes;
    shelf_crashes += report.crashes;
    destaged += report.containers_destaged;
    rebuilt += report.fragments_rebuilt;
  }
  MESSAGE("host crashes " << host_crashes << ", shelf crashes " << shelf_crashes
                          << ", containers destaged " << destaged << ", fragments built again "
                          << rebuilt);
  CHECK(destaged > 0);  // the seed set really reaches erasure-coded containers
  // ... and retries fragment writes whose bytes went with a failed request, building them again:
  // the check above read those containers back through a fresh store.
  CHECK(rebuilt > 0);
}

// Seeds that once failed with the default shape (3 hosts, 20 s): seed 1 deadlocked the trimmer
// (a ring filled by appends stored twice had no room for relog records, and nothing was trimmed
// before relogging); seed 2 replayed a record stored twice as corruption and could not open;
// seed 8 left writers waiting on a destager whose log had been refused by a failed NVRAM.
// 6199471024707736971: the shelf's index recovery replayed a log generation an incarnation killed
// before flushing it had left in the page cache, built the next generation on it, and after a
// power loss refused to open ("unreadable header before a later generation").
TEST_CASE("sim/blockstore: regression seeds with the default shape") {
  for (const uint64_t seed :
       {uint64_t{1}, uint64_t{2}, uint64_t{8}, uint64_t{6199471024707736971ULL}}) {
    BlockStoreSimConfig config;
    config.seed = seed;
    const BlockStoreSimReport report = run_blockstore_sim(config);
    const std::string what = describe(report, config);
    CHECK_MESSAGE(report.ok(), what);
    CHECK_MESSAGE(report.acked_writes > 0, what);
  }
}

// Host crashes as kill -9 (BlockStoreSimConfig::host_kill): every killed incarnation must
// unwind, and these seeds found: writers that never counted a failed read towards a reopen (1),
// a replayed container taking new chunks and being written again with other bytes under its id
// (7), and the log trimmed through an acknowledged write that only an unstable, never durable
// overwrite replaced, plus a destage retry loop that outlived its process (7313444752934472693).
TEST_CASE("sim/blockstore: regression seeds with hosts killed -9") {
  for (const uint64_t seed : {uint64_t{1}, uint64_t{7}, uint64_t{7313444752934472693ULL}}) {
    BlockStoreSimConfig config;
    config.seed = seed;
    config.host_kill = true;
    const BlockStoreSimReport report = run_blockstore_sim(config);
    const std::string what = describe(report, config) + " --host-kill";
    CHECK_MESSAGE(report.ok(), what);
    CHECK_MESSAGE(report.host_crashes > 0, what);
    CHECK_MESSAGE(report.acked_writes > 0, what);
  }
}

}  // namespace
}  // namespace splitarray::sim
