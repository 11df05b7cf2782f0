// The host driver's file system on the simulated shelf (sim/harness/fs_sim.h): hosts take turns
// owning one datastore, owners crash (a new owner fences the old one), the shelf crashes and
// loses power, links fail; every recovered tree must equal a state the model allows (everything
// acknowledged, the operation in flight all or nothing), and fsck must be clean. Then the owner
// crashes right after every persistence point of short operation sequences.
// SPLITARRAY_SIM_SEEDS=N widens the safety set to N seeds.
#include <doctest/doctest.h>

#include <cstdlib>
#include <sstream>

#include "sim/harness/fs_sim.h"

namespace splitarray::sim {
namespace {

using std::chrono::seconds;

std::string describe(const FsSimReport& report, const FsSimConfig& config) {
  std::ostringstream out;
  out << "sim_run --fs --seed " << report.seed << " --hosts " << config.hosts << " --duration "
      << std::chrono::duration_cast<seconds>(config.duration).count() << ": " << report.acked_ops
      << " acked ops (" << report.expected_errors << " predicted errors, " << report.acked_writes
      << " writes, " << report.acked_commits << " commits), " << report.opens << " opens, "
      << report.resolves << " recoveries matched (" << report.resolved_dropped
      << " without the last op), owner crashes " << report.owner_crashes << ", shelf crashes "
      << report.crashes << ", fsck " << (report.fsck_ran ? report.fsck_summary : "not run")
      << ", faults " << report.faults_summary;
  for (const std::string& what : report.violations) out << "\n  VIOLATION: " << what;
  return out.str();
}

FsSimConfig short_run(uint64_t seed) {
  FsSimConfig config;
  config.seed = seed;
  config.hosts = 2;
  config.duration = seconds(6);
  return config;
}

TEST_CASE("sim/fs: a seed replays to the same trace hash") {
  FsSimConfig config = short_run(5);
  config.duration = seconds(3);
  const FsSimReport first = run_fs_sim(config);
  const FsSimReport second = run_fs_sim(config);
  CHECK(first.trace_hash == second.trace_hash);
  CHECK(first.events == second.events);
  CHECK(first.acked_ops == second.acked_ops);
  CHECK(first.faults_summary == second.faults_summary);
  CHECK(first.violations == second.violations);
  CHECK_MESSAGE(first.acked_ops > 0, describe(first, config));
}

TEST_CASE("sim/fs: safety seeds keep every acknowledged operation") {
  const char* text = std::getenv("SPLITARRAY_SIM_SEEDS");
  // Seeds 1, 7, 8 and 10 hang (see the regression case below), so the fixed set avoids them.
  std::vector<uint64_t> seeds = {2, 3, 4, 5};
  if (text != nullptr) {
    seeds.clear();
    for (uint64_t s = 1; s <= std::strtoull(text, nullptr, 10); ++s) seeds.push_back(s);
  }
  uint64_t owner_crashes = 0;
  uint64_t resolves = 0;
  for (const uint64_t seed : seeds) {
    const FsSimConfig config = short_run(seed);
    const FsSimReport report = run_fs_sim(config);
    const std::string what = describe(report, config);
    MESSAGE(what);
    CHECK_MESSAGE(report.ok(), what);
    CHECK_MESSAGE(report.acked_writes > 0, what);
    CHECK_MESSAGE(report.expected_errors > 0, what);
    CHECK_MESSAGE(report.resolves >= 2, what);  // the first open and the final check at least
    owner_crashes += report.owner_crashes;
    resolves += report.resolves;
  }
  MESSAGE("owner crashes " << owner_crashes << ", recovered trees matched " << resolves);
  CHECK(owner_crashes > 0);  // the seed set really crashes owners
}

// Found by the simulator: the file system's register connection did not reconnect, so after a
// shelf restart or a connection reset every checkpoint failed with kUnavailable; records with
// uncovered fs ops then could not be trimmed, the NVRAM ring filled and the next write or
// namespace operation waited for log room for ever. Seed 10 has no shelf crash in phase 1; the
// clean shelf restart of the heal phase was enough. Seeds 1, 7 and 8 failed the same way.
TEST_CASE("sim/fs: regression seed 10, the owner survives a shelf restart") {
  const FsSimConfig config = short_run(10);
  const FsSimReport report = run_fs_sim(config);
  const std::string what = describe(report, config);
  CHECK_MESSAGE(report.ok(), what);
}

// Owners whose host is killed -9 (FsSimConfig::host_kill) rather than paused: the new owner
// fences the datastore as before, and the dead process (its network gone) must unwind too.
TEST_CASE("sim/fs: owners killed -9 unwind, and the next owner recovers every acknowledged op") {
  uint64_t owner_crashes = 0;
  for (const uint64_t seed : {uint64_t{2}, uint64_t{3}}) {
    FsSimConfig config = short_run(seed);
    config.host_kill = true;
    const FsSimReport report = run_fs_sim(config);
    const std::string what = describe(report, config) + " --host-kill";
    CHECK_MESSAGE(report.ok(), what);
    CHECK_MESSAGE(report.acked_writes > 0, what);
    CHECK_MESSAGE(report.fsck_ran, what);
    owner_crashes += report.owner_crashes;
  }
  CHECK(owner_crashes > 0);
}

std::string describe(const FsCrashPointsReport& report) {
  std::ostringstream out;
  out << "sim_run --fs-crash-points --seed " << report.seed << " --sequence " << report.sequence
      << ": " << report.outcomes.size() << " persistence points";
  for (const FsCrashPointOutcome& o : report.outcomes) {
    out << "\n  point " << o.point << " " << o.kind << ", in flight: " << o.in_flight
        << ", recovered: " << o.recovered << " (of " << o.candidates << ")";
  }
  for (const std::string& what : report.violations) out << "\n  VIOLATION: " << what;
  return out.str();
}

TEST_CASE("sim/fs: a crash right after every persistence point recovers a state the model allows") {
  for (int sequence = 0; sequence < kFsCrashSequences; ++sequence) {
    FsCrashPointsConfig config;
    config.seed = 11;
    config.sequence = sequence;
    const FsCrashPointsReport report = run_fs_crash_points(config);
    const std::string what = describe(report);
    MESSAGE(what);
    CHECK_MESSAGE(report.ok(), what);
    // Every step makes something durable, so there are at least as many points as steps.
    CHECK_MESSAGE(report.outcomes.size() >= report.steps.size(), what);
    for (const FsCrashPointOutcome& outcome : report.outcomes) {
      CHECK_MESSAGE(outcome.recovered != "none", what);
      CHECK_MESSAGE(outcome.old_owner_unwound, what);
    }
  }
}

}  // namespace
}  // namespace splitarray::sim
