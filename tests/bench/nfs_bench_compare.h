// tests/bench/nfs_bench_compare.h
// The figures nfs_bench reports, and its second mode: `nfs_bench --compare OURS GANESHA` reads
// the last line (a JSON object) of two runs' outputs, checks they ran the same workload, and
// prints both side by side with their ratio, then one JSON line holding ours (unprefixed), the
// peer's (prefixed "ganesha_") and the ratios ("ratio_", always ours / ganesha).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace splitarray::bench::nfs {

// One measured figure (a JSON key of a single run).
struct Metric {
  std::string_view key;
  std::string_view label;
  std::string_view unit;
  bool higher_is_better;
};

// Every figure a run reports, in output order.
const std::vector<Metric>& metrics();

// Workload parameters a run reports; two runs compare only if these are equal.
const std::vector<std::string_view>& workload_keys();

// Runs the compare mode; returns the process exit status.
int compare_runs(const std::string& ours_path, const std::string& peer_path);

}  // namespace splitarray::bench::nfs
