// tests/bench/nfs_bench_rows.h
// The rows of nfs_bench, each run through the libnfs async API on one connection
// (nfs_bench_client.h). Every answer is checked: a short read or write, a wrong CRC32C of read
// bytes, a wrong size from stat or a missing directory entry aborts the run.
//
//   sequential   a new file written in 1 MiB WRITEs (UNSTABLE, as libnfs sends them), then one
//                COMMIT; the time includes the COMMIT. Then the file is read back in 1 MiB READs
//                and each MiB's CRC32C is compared with what was written.
//   random       a preallocated file (written and committed before timing), then 4 KiB READs
//                and WRITEs at random 4 KiB-aligned offsets from a seeded PRNG, for a fixed time
//                each, at queue depth 1 and 16; UNSTABLE writes are followed by a COMMIT whose
//                time is reported on its own; a FILE_SYNC row (O_SYNC) at queue depth 16 is what
//                a VMware datastore sends. Reads run before any random write, so every read is
//                verified against the preallocated bytes.
//   metadata     in one directory: create + WRITE 4 KiB + close of N files (libnfs's close
//                sends a COMMIT after UNSTABLE writes, so each file is durable), stat of each
//                (LOOKUP + GETATTR), readdir of the whole directory, remove of each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/bench/bench_report.h"
#include "tests/bench/nfs_bench_client.h"

namespace splitarray::bench::nfs {

struct RunConfig {
  std::string dir;  // this run's directory inside the export, e.g. "/nfs_bench.ours.1234"
  uint64_t seed = 0;
  size_t seq_mib = 0;
  size_t seq_qd = 0;
  size_t rand_file_mib = 0;
  size_t rand_qd = 0;  // the "high" queue depth of the random rows (the other is 1)
  double seconds_per_row = 0;
  size_t files = 0;
  size_t meta_qd = 0;
  size_t readdir_passes = 0;
};

struct SeqResult {
  double write_mbps = 0;  // bytes / (writes + COMMIT)
  double commit_ms = 0;
  PhaseStats writes;  // the WRITEs alone (latency of one 1 MiB call)
  double read_mbps = 0;
  PhaseStats reads;
};

struct RandomRow {
  std::string key;    // JSON key stem, e.g. "randread_4k_qd1"
  std::string label;  // table label
  size_t qd = 0;
  RowResult result;
  double commit_ms = -1;  // UNSTABLE write rows: the COMMIT after the row
};

struct RandomResult {
  double prefill_mbps = 0;  // writing + committing the preallocated file (setup, not a row)
  std::vector<RandomRow> rows;
};

struct MetaResult {
  PhaseStats create;  // create + write 4 KiB + close, per file
  PhaseStats stat;
  double readdir_entries_per_s = 0;
  double readdir_seconds = 0;
  PhaseStats remove;
};

SeqResult run_sequential(NfsSession& session, const RunConfig& config);
RandomResult run_random(NfsSession& session, const RunConfig& config);
MetaResult run_metadata(NfsSession& session, const RunConfig& config);

// Removes what the rows left in config.dir, and the directory itself.
void remove_run_files(NfsSession& session, const RunConfig& config);

}  // namespace splitarray::bench::nfs
