// sim_run: runs the simulated cluster from a seed and reports what happened.
//   sim_run --seed N [--hosts H] [--disks D] [--duration SECONDS] [--detection|--safety]
//           [--verbose]                     one run; exit 1 if a checker found a violation
//   sim_run --blockstore --seed N [--host-kill] [same options]
//                                           the host driver's block store on the simulated shelf
//                                           (sim/harness/blockstore_sim.h); defaults 3 hosts,
//                                           8 disks, 20 s; --host-kill: host crashes are kill -9
//   sim_run --fs --seed N [--host-kill] [same options]
//                                           the host driver's file system: hosts take turns owning
//                                           one datastore (sim/harness/fs_sim.h); defaults 3
//                                           hosts, 8 disks, 20 s, safety runs
//   sim_run --fs-crash-points --seed N [--sequence K]
//                                           crash the owner after every persistence point of a
//                                           short operation sequence (K = 0, 1; default both)
//   sim_run --soak [--blockstore|--fs] [--host-kill] [--seconds S] [same options]
//                                           random seeds until stopped (or S wall seconds);
//                                           prints seeds/s, simulated hours, faults by type,
//                                           and every failing seed
// Every run prints `trace hash: <hex>`; the same seed and options print the same hash.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "sim/harness/blockstore_sim.h"
#include "sim/harness/fs_sim.h"
#include "sim/harness/shelf_sim.h"

namespace {

using splitarray::sim::BlockStoreSimConfig;
using splitarray::sim::BlockStoreSimReport;
using splitarray::sim::FsCrashPointsConfig;
using splitarray::sim::FsCrashPointsReport;
using splitarray::sim::FsSimConfig;
using splitarray::sim::FsSimReport;
using splitarray::sim::ShelfSimConfig;
using splitarray::sim::ShelfSimReport;

struct Args {
  ShelfSimConfig config;
  bool soak = false;
  double soak_seconds = 0;  // 0: until stopped
  bool verbose = false;
  bool blockstore = false;
  bool fs = false;
  bool fs_crash_points = false;
  int sequence = -1;       // --fs-crash-points: -1 = every sequence
  bool host_kill = false;  // --blockstore, --fs: host crashes are kill -9 (see their configs)
  bool hosts_set = false;
  bool disks_set = false;
  bool duration_set = false;
};

int usage(const char* message) {
  std::fprintf(
      stderr,
      "sim_run: %s\nusage: sim_run --seed N [--hosts H] [--disks D] [--duration S]\n"
      "               [--detection|--safety] [--verbose] [--blockstore|--fs] [--host-kill]\n"
      "       sim_run --fs-crash-points --seed N [--sequence K] [--verbose]\n"
      "       sim_run --soak [--seconds S] [--hosts H] [--disks D] [--duration S]\n"
      "               [--blockstore|--fs] [--host-kill]\n",
      message);
  return 2;
}

bool parse_u64(const char* text, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') return false;
  *out = value;
  return true;
}

bool parse_args(int argc, char** argv, Args& args) {
  bool have_seed = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    uint64_t value = 0;
    if (arg == "--soak") {
      args.soak = true;
    } else if (arg == "--verbose") {
      args.verbose = true;
    } else if (arg == "--blockstore") {
      args.blockstore = true;
    } else if (arg == "--fs") {
      args.fs = true;
    } else if (arg == "--fs-crash-points") {
      args.fs_crash_points = true;
    } else if (arg == "--host-kill") {
      args.host_kill = true;
    } else if (arg == "--detection") {
      args.config.detection = true;
    } else if (arg == "--safety") {
      args.config.detection = false;
    } else if (has_value && parse_u64(argv[i + 1], &value)) {
      ++i;
      if (arg == "--seed") {
        args.config.seed = value;
        have_seed = true;
      } else if (arg == "--hosts" && value >= 1 && value <= 64) {
        args.config.hosts = static_cast<uint16_t>(value);
        args.hosts_set = true;
      } else if (arg == "--disks" && value >= 1 && value <= 64) {
        args.config.disks = static_cast<uint16_t>(value);
        args.disks_set = true;
      } else if (arg == "--duration" && value >= 1) {
        args.config.duration = std::chrono::seconds(value);
        args.duration_set = true;
      } else if (arg == "--sequence" &&
                 value < static_cast<uint64_t>(splitarray::sim::kFsCrashSequences)) {
        args.sequence = static_cast<int>(value);
      } else if (arg == "--seconds") {
        args.soak_seconds = static_cast<double>(value);
      } else {
        return false;
      }
    } else {
      return false;
    }
  }
  return args.soak != have_seed;
}

class StderrSink final : public splitarray::LogSink {
 public:
  void write(splitarray::LogLevel /*level*/, std::string_view line) override {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  }
};

void print_report(const ShelfSimReport& report) {
  std::printf("seed %" PRIu64 " (%s run): %s\n", report.seed,
              report.detection ? "detection" : "safety", report.ok() ? "ok" : "VIOLATIONS");
  std::printf("  simulated %.1f s, %" PRIu64 " events, %" PRIu64 " acknowledged ops, %" PRIu64
              " failed ops\n",
              splitarray::to_seconds(report.simulated), report.events, report.acked_ops,
              report.failed_ops);
  std::printf("  shelf crashes %" PRIu64 " (power losses %" PRIu64 "), partitions %" PRIu64 "\n",
              report.crashes, report.power_losses, report.partitions);
  std::printf("  fault plan: %s\n  faults fired: %s\n", report.plan_summary.c_str(),
              report.faults_summary.c_str());
  for (const std::string& what : report.violations) std::printf("  VIOLATION: %s\n", what.c_str());
  std::printf("trace hash: %016" PRIx64 "\n", report.trace_hash);
  std::fflush(stdout);
}

BlockStoreSimConfig blockstore_config(const Args& args) {
  BlockStoreSimConfig config;
  config.seed = args.config.seed;
  if (args.hosts_set) config.hosts = args.config.hosts;
  if (args.disks_set) config.disks = args.config.disks;
  if (args.duration_set) config.duration = args.config.duration;
  config.detection = args.config.detection;
  config.host_kill = args.host_kill;
  config.log_level = args.config.log_level;
  config.log_sink = args.config.log_sink;
  return config;
}

void print_blockstore_report(const BlockStoreSimReport& report) {
  std::printf("blockstore seed %" PRIu64 " (%s run): %s\n", report.seed,
              report.detection ? "detection" : "safety", report.ok() ? "ok" : "VIOLATIONS");
  std::printf("  simulated %.1f s, %" PRIu64 " events, %" PRIu64 " acknowledged ops (%" PRIu64
              " writes, %" PRIu64 " commits, %" PRIu64 " checked reads), %" PRIu64
              " failed ops, %" PRIu64 " read errors (%" PRIu64 " corruption)\n",
              splitarray::to_seconds(report.simulated), report.events, report.acked_ops,
              report.acked_writes, report.acked_commits, report.checked_reads, report.failed_ops,
              report.read_errors, report.corrupt_reads);
  std::printf("  store: %" PRIu64 " opens (%" PRIu64 " reopens after failures), %" PRIu64
              " replayed records, %" PRIu64 " containers destaged, %" PRIu64 " dedup hits, %" PRIu64
              " degraded reads, %" PRIu64 " repairs\n",
              report.opens, report.reopens, report.replayed_records, report.containers_destaged,
              report.dedup_hits, report.degraded_reads, report.repairs);
  std::printf("  check: %" PRIu64 " blocks compared, %" PRIu64 " reported damaged\n",
              report.verified_blocks, report.detected_blocks);
  std::printf("  shelf crashes %" PRIu64 " (power losses %" PRIu64 "), host crashes %" PRIu64
              ", partitions %" PRIu64 "\n",
              report.crashes, report.power_losses, report.host_crashes, report.partitions);
  std::printf("  fault plan: %s\n  faults fired: %s\n", report.plan_summary.c_str(),
              report.faults_summary.c_str());
  for (const std::string& what : report.violations) std::printf("  VIOLATION: %s\n", what.c_str());
  std::printf("trace hash: %016" PRIx64 "\n", report.trace_hash);
  std::fflush(stdout);
}

FsSimConfig fs_config(const Args& args) {
  FsSimConfig config;
  config.seed = args.config.seed;
  if (args.hosts_set) config.hosts = args.config.hosts;
  if (args.disks_set) config.disks = args.config.disks;
  if (args.duration_set) config.duration = args.config.duration;
  config.detection = args.config.detection;
  config.host_kill = args.host_kill;
  config.log_level = args.config.log_level;
  config.log_sink = args.config.log_sink;
  return config;
}

void print_fs_report(const FsSimReport& report) {
  std::printf("fs seed %" PRIu64 " (%s run): %s\n", report.seed,
              report.detection ? "detection" : "safety", report.ok() ? "ok" : "VIOLATIONS");
  std::printf("  simulated %.1f s, %" PRIu64 " events, %" PRIu64 " acknowledged ops (%" PRIu64
              " predicted errors, %" PRIu64 " writes, %" PRIu64 " commits, %" PRIu64
              " checked reads), %" PRIu64 " failed ops\n",
              splitarray::to_seconds(report.simulated), report.events, report.acked_ops,
              report.expected_errors, report.acked_writes, report.acked_commits,
              report.checked_reads, report.failed_ops);
  std::printf("  owners: %" PRIu64 " opens (%" PRIu64 " after a failed op, %" PRIu64
              " by crashed hosts), %" PRIu64 " replayed ops, %" PRIu64 " checkpoints\n",
              report.opens, report.reopens, report.zombie_opens, report.replayed_ops,
              report.checkpoints);
  std::printf("  recoveries: %" PRIu64 " trees matched (%" PRIu64 " with uncertain ops, %" PRIu64
              " without the last op issued, %" PRIu64 " with torn writes); check: %" PRIu64
              " objects, fsck %s\n",
              report.resolves, report.resolved_uncertain, report.resolved_dropped,
              report.torn_matches, report.final_objects,
              report.fsck_ran ? report.fsck_summary.c_str() : "not run");
  std::printf("  shelf crashes %" PRIu64 " (power losses %" PRIu64 "), owner crashes %" PRIu64
              ", partitions %" PRIu64 "\n",
              report.crashes, report.power_losses, report.owner_crashes, report.partitions);
  std::printf("  fault plan: %s\n  faults fired: %s\n", report.plan_summary.c_str(),
              report.faults_summary.c_str());
  for (const std::string& what : report.violations) std::printf("  VIOLATION: %s\n", what.c_str());
  std::printf("trace hash: %016" PRIx64 "\n", report.trace_hash);
  std::fflush(stdout);
}

bool run_fs_crash_points(const Args& args, int sequence) {
  FsCrashPointsConfig config;
  config.seed = args.config.seed;
  config.sequence = sequence;
  config.log_level = args.config.log_level;
  config.log_sink = args.config.log_sink;
  const FsCrashPointsReport report = splitarray::sim::run_fs_crash_points(config);
  std::printf("fs crash points, seed %" PRIu64 ", sequence %d:", report.seed, report.sequence);
  for (const std::string& step : report.steps) std::printf(" [%s]", step.c_str());
  std::printf("\n  %zu persistence points\n", report.outcomes.size());
  for (const auto& outcome : report.outcomes) {
    std::printf("  point %3" PRIu64 " %-15s in flight: %-28s recovered: %s (of %zu), fsck %s%s\n",
                outcome.point, outcome.kind.c_str(), outcome.in_flight.c_str(),
                outcome.recovered.c_str(), outcome.candidates,
                outcome.fsck_ran ? (outcome.fsck_ok ? "ok" : "PROBLEMS") : "not run",
                outcome.old_owner_unwound ? "" : ", old owner stuck");
  }
  for (const std::string& what : report.violations) std::printf("  VIOLATION: %s\n", what.c_str());
  std::printf("%s; trace hash: %016" PRIx64 "\n", report.ok() ? "ok" : "VIOLATIONS",
              report.trace_hash);
  std::fflush(stdout);
  return report.ok();
}

int run_soak(Args args) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  std::random_device device;
  std::array<uint64_t, splitarray::kFaultSiteCount> fired{};
  uint64_t runs = 0;
  uint64_t failures = 0;
  uint64_t host_crashes = 0;  // injected by the harness, not a fault site: counted apart
  double simulated = 0;
  for (;;) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (args.soak_seconds > 0 && elapsed >= args.soak_seconds) break;
    args.config.seed = (static_cast<uint64_t>(device()) << 32) | device();
    if (args.fs) {
      const FsSimConfig config = fs_config(args);
      const FsSimReport report = splitarray::sim::run_fs_sim(config);
      ++runs;
      simulated += splitarray::to_seconds(report.simulated);
      host_crashes += report.owner_crashes;
      for (size_t i = 0; i < fired.size(); ++i) fired[i] += report.faults_fired[i];
      if (!report.ok()) {
        ++failures;
        print_fs_report(report);
        std::printf("FAILING SEED: sim_run --fs%s --seed %" PRIu64
                    " --hosts %u --disks %u --duration %.0f\n",
                    config.host_kill ? " --host-kill" : "", report.seed, config.hosts, config.disks,
                    splitarray::to_seconds(config.duration));
      }
    } else if (args.blockstore) {
      const BlockStoreSimConfig config = blockstore_config(args);
      const BlockStoreSimReport report = splitarray::sim::run_blockstore_sim(config);
      ++runs;
      simulated += splitarray::to_seconds(report.simulated);
      host_crashes += report.host_crashes;
      for (size_t i = 0; i < fired.size(); ++i) fired[i] += report.faults_fired[i];
      if (!report.ok()) {
        ++failures;
        print_blockstore_report(report);
        std::printf("FAILING SEED: sim_run --blockstore%s --seed %" PRIu64
                    " --hosts %u --disks %u --duration %.0f\n",
                    config.host_kill ? " --host-kill" : "", report.seed, config.hosts, config.disks,
                    splitarray::to_seconds(config.duration));
      }
    } else {
      const ShelfSimReport report = splitarray::sim::run_shelf_sim(args.config);
      ++runs;
      simulated += splitarray::to_seconds(report.simulated);
      for (size_t i = 0; i < fired.size(); ++i) fired[i] += report.faults_fired[i];
      if (!report.ok()) {
        ++failures;
        print_report(report);
        std::printf("FAILING SEED: sim_run --seed %" PRIu64 " --hosts %u --disks %u\n", report.seed,
                    args.config.hosts, args.config.disks);
      }
    }
    const double now = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("soak: %" PRIu64 " seeds, %" PRIu64 " failing, %.2f seeds/s, %.3f simulated h",
                runs, failures, static_cast<double>(runs) / now, simulated / 3600);
    std::printf(", faults:");
    for (size_t i = 0; i < fired.size(); ++i) {
      if (fired[i] == 0) continue;
      std::printf(
          " %s=%" PRIu64,
          std::string(splitarray::fault_site_name(static_cast<splitarray::FaultSite>(i))).c_str(),
          fired[i]);
    }
    if (host_crashes > 0) {
      std::printf(" %s=%" PRIu64, args.host_kill ? "host_kill" : "host_crash", host_crashes);
    }
    std::printf("\n");
    std::fflush(stdout);
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, args)) return usage("bad arguments");
  StderrSink sink;
  if (args.verbose) {
    args.config.log_level = splitarray::LogLevel::kInfo;
    args.config.log_sink = &sink;
  }
  if (args.soak) return run_soak(args);
  if (args.fs_crash_points) {
    bool ok = true;
    for (int k = 0; k < splitarray::sim::kFsCrashSequences; ++k) {
      if (args.sequence < 0 || args.sequence == k) ok = run_fs_crash_points(args, k) && ok;
    }
    return ok ? 0 : 1;
  }
  if (args.fs) {
    const FsSimReport report = splitarray::sim::run_fs_sim(fs_config(args));
    print_fs_report(report);
    return report.ok() ? 0 : 1;
  }
  if (args.blockstore) {
    const BlockStoreSimReport report = splitarray::sim::run_blockstore_sim(blockstore_config(args));
    print_blockstore_report(report);
    return report.ok() ? 0 : 1;
  }
  const ShelfSimReport report = splitarray::sim::run_shelf_sim(args.config);
  print_report(report);
  return report.ok() ? 0 : 1;
}
