// tests/bench/datapath_driver.h
// Drives a BlockStore the way an NFS client does, for the datapath benchmark:
//   ingest       `writers` coroutines take 1 MiB pieces of a data set from a shared counter, in
//                order, and write each with Stability::kUnstable; every writer calls commit()
//                after every `commit_every` pieces and once at the end (NFS COMMIT). The row's
//                time ends when the last commit returns; then destage_all() drains the open and
//                sealed containers to the shelf (timed separately). CPU time covers both, so
//                cpu-seconds per GB include all the work the data causes.
//   read_verify  `readers` coroutines read pieces back in 1 MiB calls and compare every byte with
//                the source; any difference aborts the benchmark (bench::fail).
// Pieces: piece p of a PieceSet is `length(p)` bytes at (inode(p), offset(p)); its bytes come from
// `fill(p, scratch)` (a span into the data set, or into scratch when read from a file).
// Benchmarks may use clocks directly (bench_report.h).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/env.h"
#include "common/ids.h"
#include "hostdriver/blockstore/block_store.h"
#include "tests/bench/datapath_shelf.h"

namespace splitarray::bench {

using hostdriver::blockstore::BlockStore;

inline constexpr size_t kPieceBytes = 1 * kMiB;  // one NFS WRITE / READ

struct PieceSet {
  size_t count = 0;
  std::function<InodeId(size_t)> inode;
  std::function<uint64_t(size_t)> offset;
  std::function<std::span<const uint8_t>(size_t, std::vector<uint8_t>&)> fill;
};

// Pieces of an in-memory data set spread round robin over `files` inodes from inode_base:
// piece p is data[p MiB, (p+1) MiB) at inode_base + p % files, offset (p / files) MiB.
PieceSet round_robin_pieces(std::span<const uint8_t> data, uint64_t inode_base, size_t files);

// CPU seconds (user + system) of this process: the event loop, compute and blocking-I/O threads.
double process_cpu_seconds();

struct Latencies {
  double p50_us = 0;
  double p99_us = 0;
};
Latencies summarize(std::vector<int64_t> latencies_ns);

struct IngestResult {
  uint64_t bytes = 0;
  double commit_seconds = 0;     // first write .. last commit returned
  double destage_seconds = 0;    // destage_all after that
  double cpu_seconds = 0;        // this process, over both
  double shelf_cpu_seconds = 0;  // the shelf process, over both
  Latencies write;               // one 1 MiB unstable write call
  Latencies commit;
  double mbps() const { return static_cast<double>(bytes) / commit_seconds / 1e6; }
  double destaged_mbps() const {
    return static_cast<double>(bytes) / (commit_seconds + destage_seconds) / 1e6;
  }
  double cpu_s_per_gb() const { return cpu_seconds / (static_cast<double>(bytes) / 1e9); }
  double shelf_cpu_s_per_gb() const {
    return shelf_cpu_seconds / (static_cast<double>(bytes) / 1e9);
  }
};

Task<IngestResult> ingest(BlockStore& store, Env& env, const ShelfProcess& shelf,
                          const PieceSet& pieces, size_t writers, size_t commit_every);

struct ReadResult {
  uint64_t bytes = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  Latencies read;
  double mbps() const { return static_cast<double>(bytes) / seconds / 1e6; }
};

// Reads pieces [first, first + count) once, verifying every byte.
Task<ReadResult> read_verify(BlockStore& store, Env& env, const PieceSet& pieces, size_t first,
                             size_t count, size_t readers);

// Opens a BlockStore on the shelf with the given epoch (fails the benchmark on error).
Task<std::unique_ptr<BlockStore>> open_store(Env& env, const ShelfProcess& shelf, Epoch epoch);

}  // namespace splitarray::bench
