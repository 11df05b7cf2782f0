#include "tests/bench/nfs_bench_compare.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <utility>

#include "tests/bench/bench_report.h"

namespace splitarray::bench::nfs {
namespace {

using Figures = std::vector<std::pair<std::string, double>>;  // in the run's output order

constexpr std::string_view kPeerPrefix = "ganesha_";

// The last non-empty line of the file, parsed as a flat JSON object of numbers.
Figures read_figures(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot read " + path);
  std::string line;
  std::string last;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  const nlohmann::ordered_json parsed =
      nlohmann::ordered_json::parse(last, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) fail(path + ": the last line is not a JSON object");
  Figures figures;
  for (const auto& [key, value] : parsed.items()) {
    if (!value.is_number()) fail(path + ": " + key + " is not a number");
    figures.emplace_back(key, value.get<double>());
  }
  return figures;
}

bool has(const Figures& figures, std::string_view key) {
  for (const auto& [name, value] : figures) {
    if (name == key) return true;
  }
  return false;
}

double figure(const Figures& figures, std::string_view key, const std::string& path) {
  for (const auto& [name, value] : figures) {
    if (name == key) return value;
  }
  fail(path + ": no " + std::string(key));
}

// "ahead" reads from ours' point of view: more throughput, or less latency.
bool ahead(const Metric& m, double ours, double peer) {
  return m.higher_is_better ? ours > peer : ours < peer;
}

}  // namespace

const std::vector<Metric>& metrics() {
  static const std::vector<Metric> kMetrics = {
      {"seq_write_mbps", "seq write 1 MiB (incl. COMMIT)", "MB/s", true},
      {"seq_write_commit_ms", "  its final COMMIT", "ms", false},
      {"seq_read_mbps", "seq read 1 MiB", "MB/s", true},
      {"randread_4k_qd1_iops", "randread 4 KiB qd 1", "IOPS", true},
      {"randread_4k_qd1_p50_us", "  p50", "us", false},
      {"randread_4k_qd1_p99_us", "  p99", "us", false},
      {"randread_4k_iops", "randread 4 KiB qd 16", "IOPS", true},
      {"randread_4k_p50_us", "  p50", "us", false},
      {"randread_4k_p99_us", "  p99", "us", false},
      {"randwrite_4k_qd1_iops", "randwrite 4 KiB qd 1", "IOPS", true},
      {"randwrite_4k_qd1_p50_us", "  p50", "us", false},
      {"randwrite_4k_qd1_p99_us", "  p99", "us", false},
      {"randwrite_4k_qd1_commit_ms", "  COMMIT after the row", "ms", false},
      {"randwrite_4k_iops", "randwrite 4 KiB qd 16", "IOPS", true},
      {"randwrite_4k_p50_us", "  p50", "us", false},
      {"randwrite_4k_p99_us", "  p99", "us", false},
      {"randwrite_4k_commit_ms", "  COMMIT after the row", "ms", false},
      {"randwrite_4k_sync_iops", "randwrite 4 KiB qd 16 FILE_SYNC", "IOPS", true},
      {"randwrite_4k_sync_p50_us", "  p50", "us", false},
      {"randwrite_4k_sync_p99_us", "  p99", "us", false},
      {"create_per_s", "create+write 4 KiB+close", "ops/s", true},
      {"stat_per_s", "stat", "ops/s", true},
      {"readdir_entries_per_s", "readdir", "entries/s", true},
      {"remove_per_s", "remove", "ops/s", true},
  };
  return kMetrics;
}

const std::vector<std::string_view>& workload_keys() {
  static const std::vector<std::string_view> kKeys = {
      "seq_mib", "seq_qd",  "rand_file_mib",  "rand_qd", "seconds_per_row",
      "files",   "meta_qd", "readdir_passes", "seed",    "rows_mask",
  };
  return kKeys;
}

int compare_runs(const std::string& ours_path, const std::string& peer_path) {
  const Figures ours = read_figures(ours_path);
  const Figures peer = read_figures(peer_path);
  for (std::string_view key : workload_keys()) {
    const double a = figure(ours, key, ours_path);
    const double b = figure(peer, key, peer_path);
    if (a != b) {
      std::fprintf(stderr, "nfs_bench: the runs differ in %.*s (%g vs %g): not comparable\n",
                   static_cast<int>(key.size()), key.data(), a, b);
      return 1;
    }
  }

  std::printf("\nNFS v3 through libnfs (async, one connection), same client, same machine:\n");
  std::printf("  %-34s %12s %12s %8s  %-9s %s\n", "row", "ours", "ganesha", "ratio", "unit",
              "ahead");
  JsonLine line;
  for (const auto& [key, value] : ours) line.add(key, value);
  for (const auto& [key, value] : peer) line.add(std::string(kPeerPrefix) + key, value);
  int rows = 0;
  int rows_ahead = 0;
  for (const Metric& m : metrics()) {
    // A row group neither run measured (--rows) is left out; workload_keys() made sure both ran
    // the same groups.
    if (!has(ours, m.key)) continue;
    const double a = figure(ours, m.key, ours_path);
    const double b = figure(peer, m.key, peer_path);
    const bool is_ahead = ahead(m, a, b);
    ++rows;
    rows_ahead += is_ahead ? 1 : 0;
    const bool has_ratio = b > 0 && std::isfinite(a / b);
    if (has_ratio) line.add("ratio_" + std::string(m.key), a / b);
    char ratio[32] = "-";
    if (has_ratio) std::snprintf(ratio, sizeof ratio, "%.2f", a / b);
    std::printf("  %-34.*s %12.1f %12.1f %8s  %-9.*s %s\n", static_cast<int>(m.label.size()),
                m.label.data(), a, b, ratio, static_cast<int>(m.unit.size()), m.unit.data(),
                is_ahead ? "yes" : "NO");
  }
  std::printf("  ahead on %d of %d rows (ratio = ours / ganesha; for us and ms lower is better)\n",
              rows_ahead, rows);
  line.add("rows", rows);
  line.add("rows_ahead", rows_ahead);
  std::printf("%s\n", line.str().c_str());
  return 0;
}

}  // namespace splitarray::bench::nfs
