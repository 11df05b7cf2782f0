// The simulated shelf cluster under seeded faults: the real netshelf, crashed, partitioned and
// fed failing disks, must keep everything it acknowledged, report damage instead of returning it,
// and recover once faults heal. Seeds are fixed so CI is reproducible; `sim_run --soak` explores
// random ones. SPLITARRAY_SIM_SEEDS=N widens each fixed set to N seeds.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "sim/harness/shelf_sim.h"

namespace splitarray::sim {
namespace {

using std::chrono::seconds;

uint64_t seed_count(uint64_t fallback) {
  const char* text = std::getenv("SPLITARRAY_SIM_SEEDS");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : fallback;
}

std::string describe(const ShelfSimReport& report) {
  std::ostringstream out;
  out << "sim_run --seed " << report.seed << (report.detection ? " --detection" : " --safety")
      << ": " << report.acked_ops << " acked ops, crashes " << report.crashes << ", faults "
      << report.faults_summary;
  for (const std::string& what : report.violations) out << "\n  VIOLATION: " << what;
  return out.str();
}

ShelfSimConfig short_run(uint64_t seed) {
  ShelfSimConfig config;
  config.seed = seed;
  config.duration = seconds(10);
  config.heal_duration = seconds(5);
  return config;
}

TEST_CASE("sim/shelf: a seed replays to the same trace hash") {
  ShelfSimConfig config = short_run(7);
  config.duration = seconds(4);
  const ShelfSimReport first = run_shelf_sim(config);
  const ShelfSimReport second = run_shelf_sim(config);
  CHECK(first.trace_hash == second.trace_hash);
  CHECK(first.events == second.events);
  CHECK(first.acked_ops == second.acked_ops);
  CHECK(first.faults_summary == second.faults_summary);
  config.seed = 8;
  const ShelfSimReport other = run_shelf_sim(config);
  CHECK(other.trace_hash != first.trace_hash);
  CHECK(first.acked_ops > 1000);  // the workload really ran
}

TEST_CASE("sim/shelf: safety seeds keep every acknowledged operation") {
  uint64_t crashes = 0;
  uint64_t faults = 0;
  for (uint64_t seed = 1; seed <= seed_count(12); ++seed) {
    ShelfSimConfig config = short_run(seed);
    config.detection = false;
    const ShelfSimReport report = run_shelf_sim(config);
    const std::string text = describe(report);
    CHECK_MESSAGE(report.ok(), text);
    CHECK_MESSAGE(report.acked_ops > 500, text);
    crashes += report.crashes;
    for (uint64_t n : report.faults_fired) faults += n;
  }
  MESSAGE("shelf crashes " << crashes << ", faults fired " << faults);
  CHECK(crashes >= 5);  // the seed set really exercises recovery
}

TEST_CASE("sim/shelf: detection seeds report damaged fragments, never return them") {
  uint64_t silent = 0;
  for (uint64_t seed = 1001; seed < 1001 + seed_count(8); ++seed) {
    ShelfSimConfig config = short_run(seed);
    config.detection = true;
    const ShelfSimReport report = run_shelf_sim(config);
    const std::string text = describe(report);
    CHECK_MESSAGE(report.ok(), text);
    silent += report.faults_fired[static_cast<size_t>(FaultSite::kDiskBitRot)] +
              report.faults_fired[static_cast<size_t>(FaultSite::kDiskLostWrite)] +
              report.faults_fired[static_cast<size_t>(FaultSite::kDiskMisdirectedWrite)];
  }
  MESSAGE("silent disk faults injected: " << silent);
  CHECK(silent > 0);
}

TEST_CASE("sim/shelf: regression seeds stay fixed") {
  std::ifstream file(SIM_REGRESSION_SEEDS);
  REQUIRE(file.good());
  std::string line;
  int runs = 0;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    ShelfSimConfig config;
    uint64_t hosts = 0;
    uint64_t disks = 0;
    uint64_t duration_s = 0;
    std::string mode;
    fields >> config.seed >> hosts >> disks >> duration_s >> mode;
    REQUIRE_MESSAGE(!fields.fail(), "bad line in regressions.txt: " << line);
    config.hosts = static_cast<uint16_t>(hosts);
    config.disks = static_cast<uint16_t>(disks);
    config.duration = seconds(duration_s);
    if (mode == "safety") config.detection = false;
    if (mode == "detection") config.detection = true;
    const ShelfSimReport report = run_shelf_sim(config);
    CHECK_MESSAGE(report.ok(), describe(report));
    ++runs;
  }
  MESSAGE(runs << " regression seeds");
}

TEST_CASE("sim/shelf: the checker catches acknowledged fragments lost to flushes that lie") {
  // Fragment disks that acknowledge flushes without persisting, plus frequent power losses: the
  // shelf still opens, acknowledged fragments vanish, and the model comparison has to say so.
  ShelfSimConfig config = short_run(42);
  config.detection = false;
  config.crash_rate = 0.2;
  config.sabotage_flushes = true;
  const ShelfSimReport report = run_shelf_sim(config);
  CHECK(report.power_losses > 0);
  size_t lost_fragments = 0;
  for (const std::string& what : report.violations) {
    if (what.starts_with("acknowledged fragment")) ++lost_fragments;
  }
  MESSAGE("violations: " << report.violations.size() << ", lost fragments " << lost_fragments
                         << "; first: " << (report.violations.empty() ? "" : report.violations[0]));
  CHECK(lost_fragments > 0);
}

}  // namespace
}  // namespace splitarray::sim
