// tests/bench/datapath_bench.cpp
// Datapath benchmark (issue 4, `scripts/bench datapath`): an in-process BlockStore writing to a
// REAL `netshelf` process on loopback (formatted fresh in a temp state dir; datapath_shelf.h),
// next to the compute limits of the same data measured in the same run.
//
// Rows, in this order, on one BlockStore (host 1, epoch 1), each data set --data-mib MiB:
//   ingest unique        VM-like compressible blocks, all distinct (datapath_data.h says how
//                        they are generated from the seed; their zstd-1 ratio is printed)
//   ingest duplicate     the same data set again, to other inodes (every block a dedup hit)
//   ingest incompressible  random blocks
//   read hot             a working set of half the read cache, read repeatedly (first pass
//                        untimed) for --seconds
//   read cold            after close() and a new BlockStore::open (epoch 2; it replays the log):
//                        the unique set, then (also timed, reported) the duplicate and the
//                        incompressible sets; reads go to the shelf
// Writes: --writers coroutines, 1 MiB Stability::kUnstable calls, commit() every --commit-mib
// per writer and at the end, like an NFS client (datapath_driver.h). Ingest MB/s is the data
// set over first write .. last commit; "destaged" adds the destage_all() that follows. CPU
// seconds per GB (10^9 bytes of data) is getrusage of this process over write + commit +
// destage (event loop, compute and blocking-I/O threads); the shelf's own CPU (from /proc) is
// reported separately, never subtracted. Every byte written is read back and compared (cold
// rows); any mismatch aborts.
// Limits (one thread, then x --compute-threads, the engine's compute pool size; measured before
// and after the BlockStore rows, the faster kept, as other processes share this machine): SHA-256
// of the unique set's blocks, and the pipeline SHA-256 + zstd-1 + RS(8,2) + CRC32C
// (datapath_data.h) with the project's own Fingerprinter, ChunkCodec, ErasureCode and crc32c. Also
// measured: the pipeline on all compute threads at once (what the machine really gives right now),
// each limit's CPU seconds per GB (thread CPU time: "cpu efficiency" = limit cpu s/GB / ingest cpu
// s/GB stays meaningful when other processes share the cores), and 1 MiB pwrite + fdatasync in
// the shelf's state directory (what the shelf's files can take).
// The shelf's state goes to /dev/shm (tmpfs: NVRAM and disks in RAM, as a real shelf's NVRAM is
// fast) when it has room, else the temp directory; --dir DIR chooses (e.g. --dir /tmp for this
// VM's disk, which then bounds ingest: see the device rows).
//
// usage: datapath_bench [--quick] [--seconds N] [--data-mib N] [--writers N] [--readers N]
//                       [--commit-mib N] [--compute-threads N] [--seed N] [--dir DIR]
//                       [--corpus DIR]   (--corpus: the realistic corpus instead; see
//                                         datapath_corpus.h and scripts/corpus)
// Defaults: 1024 MiB per data set (32 with --quick), 8 writers, readers = writers, commit every
// 64 MiB (8 with --quick), 2 compute threads (this machine has 2 cores), --seconds 3 (0.5).
// Output: a table, then one JSON object as the last line of stdout.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/env_asio/asio_env.h"
#include "tests/bench/bench_report.h"
#include "tests/bench/datapath_corpus.h"
#include "tests/bench/datapath_data.h"
#include "tests/bench/datapath_driver.h"
#include "tests/bench/datapath_shelf.h"

namespace splitarray::bench {
namespace {

using hostdriver::blockstore::BlockStoreStats;

constexpr uint64_t kDataMibDefault = 1024;
constexpr uint64_t kDataMibQuick = 32;
constexpr size_t kWritersDefault = 8;
constexpr size_t kComputeThreadsDefault = 2;  // this machine has 2 cores
constexpr size_t kCommitMibDefault = 64;
constexpr size_t kCommitMibQuick = 8;
constexpr uint64_t kSeedDefault = 0x4441544150415448;  // "DATAPATH"
constexpr uint64_t kRandomSeedOffset = 0x52414E44;     // "RAND"
constexpr uint64_t kUniqueInodeBase = 1000;
constexpr uint64_t kDupInodeBase = 2000;
constexpr uint64_t kRandomInodeBase = 3000;
constexpr uint64_t kFilesMax = kDupInodeBase - kUniqueInodeBase;
constexpr uint64_t kValueMax = 1 << 20;
// NVRAM log (1) + RS(8,2) fragments (10/8): device bytes per stored (compressed) byte.
constexpr double kDeviceBytesPerStoredByte = 1.0 + 10.0 / 8.0;

struct Options {
  BenchOptions bench;
  uint64_t data_mib = 0;  // 0: the default for --quick or not
  size_t writers = kWritersDefault;
  size_t readers = 0;  // 0: as many as writers
  size_t commit_mib = 0;
  size_t compute_threads = kComputeThreadsDefault;
  uint64_t seed = kSeedDefault;
  std::string base_dir;
  std::string corpus_dir;
};

uint64_t parse_count(const char* flag, const char* text) {
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 0);
  if (end == text || *end != '\0' || value == 0 || value > kValueMax) {
    std::fprintf(stderr, "datapath_bench: %s wants a number in [1, %llu], got '%s'\n", flag,
                 static_cast<unsigned long long>(kValueMax), text);
    std::exit(2);
  }
  return value;
}

Options parse_options(int argc, char** argv) {
  Options o;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--data-mib" && has_value) {
      o.data_mib = parse_count(argv[i], argv[i + 1]);
    } else if (flag == "--writers" && has_value) {
      o.writers = parse_count(argv[i], argv[i + 1]);
    } else if (flag == "--readers" && has_value) {
      o.readers = parse_count(argv[i], argv[i + 1]);
    } else if (flag == "--commit-mib" && has_value) {
      o.commit_mib = parse_count(argv[i], argv[i + 1]);
    } else if (flag == "--compute-threads" && has_value) {
      o.compute_threads = parse_count(argv[i], argv[i + 1]);
    } else if (flag == "--seed" && has_value) {
      o.seed = std::strtoull(argv[i + 1], nullptr, 0);
    } else if (flag == "--dir" && has_value) {
      o.base_dir = argv[i + 1];
    } else if (flag == "--corpus" && has_value) {
      o.corpus_dir = argv[i + 1];
    } else {
      rest.push_back(argv[i]);
      continue;
    }
    ++i;
  }
  o.bench = parse_bench_options(static_cast<int>(rest.size()), rest.data());
  if (o.data_mib == 0) o.data_mib = o.bench.quick ? kDataMibQuick : kDataMibDefault;
  if (o.commit_mib == 0) o.commit_mib = o.bench.quick ? kCommitMibQuick : kCommitMibDefault;
  if (o.readers == 0) o.readers = o.writers;
  if (o.writers > kFilesMax) fail("--writers is at most " + std::to_string(kFilesMax));
  if (o.base_dir.empty()) {
    // Two data sets (raw, plus parity) and the NVRAM file, with room to spare.
    const uint64_t need = o.corpus_dir.empty() ? 4 * o.data_mib * kMiB + 2 * kGiB : 4 * kGiB;
    o.base_dir = default_state_base(need);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Data sets and limits (threads, before the shelf starts).

struct DataSets {
  std::vector<uint8_t> unique;  // VM-like, compressible, every block distinct
  std::vector<uint8_t> random;  // incompressible
  double zstd_ratio = 0;        // ChunkCodec over `unique`
};

// Runs fn(i) for i in [0, n) on n threads and joins them.
template <class Fn>
void on_threads(size_t n, Fn fn) {
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i) threads.emplace_back(fn, i);
  for (std::thread& t : threads) t.join();
}

DataSets make_data(const Options& o) {
  DataSets d;
  const size_t bytes = o.data_mib * kMiB;
  d.unique.resize(bytes);
  d.random.resize(bytes);
  const size_t parts = std::max<size_t>(o.compute_threads, 1);
  const size_t part_bytes = (bytes / parts + kPieceBytes - 1) / kPieceBytes * kPieceBytes;
  on_threads(parts, [&](size_t i) {
    const size_t begin = std::min(bytes, i * part_bytes);
    const size_t length = std::min(bytes, begin + part_bytes) - begin;
    make_vm_like(o.seed, begin / kBlockBytes, std::span(d.unique).subspan(begin, length));
    make_random(o.seed + kRandomSeedOffset + i, std::span(d.random).subspan(begin, length));
  });
  d.zstd_ratio = chunk_compression_ratio(d.unique);
  return d;
}

struct Limits {
  LimitResult sha256;
  LimitResult pipeline;
  LimitResult pipeline_random;
  double pipeline_parallel_mbps = 0;  // compute_threads threads at once, summed
  // The device under the shelf (datapath_shelf.h) and what it allows: every stored byte goes to
  // it (1 + (k+m)/k) times, NVRAM log then fragments. A rough bound (qd1, ignores headers).
  double device_mbps = 0;
  double device_limit_unique_mbps = 0;
  double device_limit_incompressible_mbps = 0;
};

Limits measure_limits(const DataSets& d, const Options& o) {
  Limits l;
  const double seconds = o.bench.seconds_per_row;
  l.sha256 = sha256_limit(d.unique, seconds);
  l.pipeline = pipeline_limit(d.unique, seconds);
  l.pipeline_random = pipeline_limit(d.random, seconds);
  std::vector<LimitResult> each(o.compute_threads);
  on_threads(o.compute_threads, [&](size_t i) { each[i] = pipeline_limit(d.unique, seconds); });
  for (const LimitResult& r : each) l.pipeline_parallel_mbps += r.mbps_one;
  l.device_mbps = device_write_mbps(o.base_dir, seconds);
  l.device_limit_unique_mbps = l.device_mbps * d.zstd_ratio / kDeviceBytesPerStoredByte;
  l.device_limit_incompressible_mbps = l.device_mbps / kDeviceBytesPerStoredByte;
  return l;
}

// A limit is a ceiling: of two measurements (before and after the BlockStore rows), the faster
// is the one less disturbed by other processes on this shared machine.
LimitResult best(const LimitResult& a, const LimitResult& b) {
  return a.mbps_one >= b.mbps_one ? a : b;
}

Limits best_limits(const Limits& a, const Limits& b) {
  Limits l = a;
  l.sha256 = best(a.sha256, b.sha256);
  l.pipeline = best(a.pipeline, b.pipeline);
  l.pipeline_random = best(a.pipeline_random, b.pipeline_random);
  l.pipeline_parallel_mbps = std::max(a.pipeline_parallel_mbps, b.pipeline_parallel_mbps);
  return l;
}

// ---------------------------------------------------------------------------------------------
// The BlockStore rows.

struct StoreResults {
  IngestResult unique;
  IngestResult dup;
  IngestResult random;
  BlockStoreStats after_unique;
  BlockStoreStats after_dup;
  BlockStoreStats after_ingest;
  ReadResult hot;
  double hot_cache_hit_fraction = 0;
  double reopen_seconds = 0;
  uint64_t replayed_records = 0;
  ReadResult cold;
  ReadResult cold_dup;
  ReadResult cold_random;
  uint64_t cold_fragment_reads = 0;
  uint64_t degraded_reads = 0;
};

uint64_t blocks_of(uint64_t bytes) { return bytes / kBlockBytes; }

Task<void> read_hot(BlockStore& store, Env& env, const PieceSet& pieces, const Options& o,
                    StoreResults& out) {
  const size_t cache_pieces = store.config().read_cache_bytes / 2 / kPieceBytes;
  const size_t count = std::clamp<size_t>(cache_pieces, 1, pieces.count);
  (void)co_await read_verify(store, env, pieces, 0, count, o.readers);  // warms the cache
  const BlockStoreStats before = store.stats();
  std::vector<ReadResult> passes;
  double seconds = 0;
  while (seconds < o.bench.seconds_per_row) {
    passes.push_back(co_await read_verify(store, env, pieces, 0, count, o.readers));
    seconds += passes.back().seconds;
  }
  const BlockStoreStats after = store.stats();
  for (const ReadResult& pass : passes) {
    out.hot.bytes += pass.bytes;
    out.hot.seconds += pass.seconds;
    out.hot.cpu_seconds += pass.cpu_seconds;
  }
  out.hot.read = passes.front().read;  // latencies of one pass
  out.hot_cache_hit_fraction = static_cast<double>(after.read_cache_hits - before.read_cache_hits) /
                               static_cast<double>(blocks_of(out.hot.bytes));
}

void progress(const char* row, const IngestResult& r) {
  std::fprintf(stderr, "datapath_bench: %s: %.1f MB/s (%.1f with destage), %.2f cpu s/GB\n", row,
               r.mbps(), r.destaged_mbps(), r.cpu_s_per_gb());
}

Task<void> run_store_rows(Env& env, ShelfProcess& shelf, const DataSets& d, const Options& o,
                          StoreResults& out) {
  co_await shelf.wait_ready(env);
  const size_t commit_every = o.commit_mib;  // pieces are 1 MiB
  const PieceSet unique = round_robin_pieces(d.unique, kUniqueInodeBase, o.writers);
  const PieceSet dup = round_robin_pieces(d.unique, kDupInodeBase, o.writers);
  const PieceSet random = round_robin_pieces(d.random, kRandomInodeBase, o.writers);
  std::unique_ptr<BlockStore> store = co_await open_store(env, shelf, Epoch(1));
  out.unique = co_await ingest(*store, env, shelf, unique, o.writers, commit_every);
  progress("ingest unique", out.unique);
  out.after_unique = store->stats();
  out.dup = co_await ingest(*store, env, shelf, dup, o.writers, commit_every);
  progress("ingest duplicate", out.dup);
  out.after_dup = store->stats();
  out.random = co_await ingest(*store, env, shelf, random, o.writers, commit_every);
  progress("ingest incompressible", out.random);
  out.after_ingest = store->stats();
  std::fprintf(stderr, "datapath_bench: read hot\n");
  co_await read_hot(*store, env, unique, o, out);
  co_await store->close();
  store.reset();

  std::fprintf(stderr, "datapath_bench: reopen, read cold\n");
  const auto reopen_start = BenchClock::now();
  store = co_await open_store(env, shelf, Epoch(2));
  out.reopen_seconds = std::chrono::duration<double>(BenchClock::now() - reopen_start).count();
  const BlockStoreStats opened = store->stats();
  out.replayed_records = opened.open_replayed_records;
  out.cold = co_await read_verify(*store, env, unique, 0, unique.count, o.readers);
  out.cold_fragment_reads = store->stats().fragment_range_reads - opened.fragment_range_reads;
  out.cold_dup = co_await read_verify(*store, env, dup, 0, dup.count, o.readers);
  out.cold_random = co_await read_verify(*store, env, random, 0, random.count, o.readers);
  out.degraded_reads = store->stats().degraded_reads;
  co_await store->close();
}

ShelfLayout shelf_layout(const Options& o) {
  ShelfLayout layout;
  const uint64_t data_bytes = o.data_mib * kMiB;
  layout.disk_bytes = o.bench.quick ? 256 * kMiB : std::max<uint64_t>(1 * kGiB, data_bytes / 2);
  layout.nvram_bytes = o.bench.quick ? 128 * kMiB : 512 * kMiB;
  return layout;
}

// ---------------------------------------------------------------------------------------------
// Output.

double ratio(uint64_t numerator, uint64_t denominator) {
  return denominator == 0 ? 0 : static_cast<double>(numerator) / static_cast<double>(denominator);
}

void print_ingest(const char* name, const IngestResult& r, const std::string& note) {
  std::printf("%-30s %9.1f %9.1f %9.2f %9.2f %9.2f %9.2f  %s\n", name, r.mbps(), r.destaged_mbps(),
              r.cpu_s_per_gb(), r.shelf_cpu_s_per_gb(), r.write.p50_us / 1e3, r.write.p99_us / 1e3,
              note.c_str());
}

void print_read(const char* name, const ReadResult& r, const std::string& note) {
  std::printf("%-30s %9.1f %9s %9.2f %9s %9.2f %9.2f  %s\n", name, r.mbps(), "",
              r.cpu_seconds / (static_cast<double>(r.bytes) / 1e9), "", r.read.p50_us / 1e3,
              r.read.p99_us / 1e3, note.c_str());
}

void print_table(const Options& o, const DataSets& d, const Limits& l, const StoreResults& s) {
  const double threads = static_cast<double>(o.compute_threads);
  std::printf(
      "datapath_bench: BlockStore in-process -> real netshelf on loopback, state in %s (%s); %llu "
      "MiB per data set, %zu writers / %zu readers (1 MiB calls, unstable + commit every %zu MiB "
      "per writer), %zu compute threads; MB/s = 10^6 data bytes/s; cpu s/GB = this process "
      "(the shelf's own CPU separately)\n\n",
      o.base_dir.c_str(), is_tmpfs(o.base_dir) ? "tmpfs: NVRAM and disks in RAM" : "disk",
      static_cast<unsigned long long>(o.data_mib), o.writers, o.readers, o.commit_mib,
      o.compute_threads);
  std::printf("%-30s %9s %9s %9s %9s %9s %9s  %s\n", "row", "MB/s", "destaged", "cpu s/GB",
              "shelf s/GB", "p50 ms", "p99 ms", "note");
  const uint64_t dup_blocks = blocks_of(s.dup.bytes);
  const uint64_t dup_hits = s.after_dup.dedup_hits - s.after_unique.dedup_hits;
  char note[200];
  std::snprintf(note, sizeof note, "zstd-1 %.2fx (ChunkCodec over the set)", d.zstd_ratio);
  print_ingest("ingest unique compressible", s.unique, note);
  std::printf("%-30s %s %llu index lookups, %llu bloom skips, %llu log appends, %llu busy waits\n",
              "", "", static_cast<unsigned long long>(s.after_unique.index_lookups),
              static_cast<unsigned long long>(s.after_unique.bloom_skips),
              static_cast<unsigned long long>(s.after_unique.log_appends),
              static_cast<unsigned long long>(s.after_unique.log_busy_waits));
  std::snprintf(
      note, sizeof note, "%.1f%% dedup hits, %llu chunks stored",
      100.0 * ratio(dup_hits, dup_blocks),
      static_cast<unsigned long long>(s.after_dup.chunks_stored - s.after_unique.chunks_stored));
  print_ingest("ingest 100% duplicate", s.dup, note);
  print_ingest("ingest incompressible", s.random, "random bytes");
  std::snprintf(note, sizeof note, "%.0f%% read-cache hits", 100.0 * s.hot_cache_hit_fraction);
  print_read("read hot", s.hot, note);
  std::snprintf(note, sizeof note,
                "new instance (open %.2f s, %llu records replayed); %llu "
                "fragment range reads",
                s.reopen_seconds, static_cast<unsigned long long>(s.replayed_records),
                static_cast<unsigned long long>(s.cold_fragment_reads));
  print_read("read cold unique", s.cold, note);
  print_read("read cold duplicate", s.cold_dup, "same chunks as unique, other inodes");
  print_read("read cold incompressible", s.cold_random, "raw chunks");
  std::printf(
      "\nlimits (one thread, x %zu compute threads)      MB/s  one thread  cpu s/GB  "
      "MB/s by cpu time\n",
      o.compute_threads);
  const auto limit_row = [threads](const char* name, const LimitResult& r) {
    std::printf("%-40s %9.1f %11.1f %9.2f %9.1f\n", name, r.mbps_one * threads, r.mbps_one,
                r.cpu_s_per_gb(), threads * 1e9 / r.cpu_s_per_gb() / 1e6);
  };
  limit_row("sha256", l.sha256);
  limit_row("pipeline (sha+zstd+rs82+crc), unique", l.pipeline);
  limit_row("pipeline, incompressible", l.pipeline_random);
  std::printf("%-40s %9.1f  (all threads at once)\n", "pipeline, unique, measured parallel",
              l.pipeline_parallel_mbps);
  std::printf("%-40s %9.1f  (1 MiB pwrite+fdatasync, qd1)\n", "device write (shelf's state dir)",
              l.device_mbps);
  std::printf("%-40s %9.1f / %.1f  (device / 2.25 stored bytes, unique / incompressible)\n",
              "device-bound ingest", l.device_limit_unique_mbps,
              l.device_limit_incompressible_mbps);
  std::printf("\n%-52s %6.2f  (required >= 0.5, target 0.8)\n", "ingest unique / pipeline limit",
              s.unique.mbps() / (l.pipeline.mbps_one * threads));
  std::printf("%-52s %6.2f  (required >= 0.5, target 0.8)\n", "ingest duplicate / sha256 limit",
              s.dup.mbps() / (l.sha256.mbps_one * threads));
  std::printf("%-52s %6.2f\n", "ingest incompressible / its pipeline limit",
              s.random.mbps() / (l.pipeline_random.mbps_one * threads));
  std::printf("%-52s %6.2f\n", "ingest unique / pipeline measured parallel",
              s.unique.mbps() / l.pipeline_parallel_mbps);
  std::printf(
      "cpu efficiency = limit's cpu s/GB / ingest's cpu s/GB (1.0: no CPU beyond the "
      "pipeline; robust on a busy machine)\n");
  std::printf("%-52s %6.2f\n", "  unique (pipeline)",
              l.pipeline.cpu_s_per_gb() / s.unique.cpu_s_per_gb());
  std::printf("%-52s %6.2f\n", "  duplicate (sha256)",
              l.sha256.cpu_s_per_gb() / s.dup.cpu_s_per_gb());
  std::printf("%-52s %6.2f\n", "  incompressible (pipeline)",
              l.pipeline_random.cpu_s_per_gb() / s.random.cpu_s_per_gb());
  std::printf(
      "stats after ingest: dedup %.2fx, compression %.2fx (logical %.0f MiB, unique %.0f "
      "MiB, stored %.0f MiB), containers destaged %llu, log records %llu (relogged map entries "
      "%llu), degraded reads %llu\n\n",
      s.after_ingest.dedup_ratio(), s.after_ingest.compression_ratio(),
      static_cast<double>(s.after_ingest.logical_bytes) / kMiB,
      static_cast<double>(s.after_ingest.unique_bytes) / kMiB,
      static_cast<double>(s.after_ingest.stored_bytes) / kMiB,
      static_cast<unsigned long long>(s.after_ingest.containers_destaged),
      static_cast<unsigned long long>(s.after_ingest.log_records),
      static_cast<unsigned long long>(s.after_ingest.log_relogged_entries),
      static_cast<unsigned long long>(s.degraded_reads));
}

// The rest of an ingest row (its MB/s key comes first in the line).
void add_ingest(JsonLine& json, const std::string& name, const IngestResult& r) {
  json.add("ingest_" + name + "_destaged_mbps", r.destaged_mbps());
  json.add("cpu_s_per_gb_" + name, r.cpu_s_per_gb());
  json.add("shelf_cpu_s_per_gb_" + name, r.shelf_cpu_s_per_gb());
  json.add("write_" + name + "_p50_us", r.write.p50_us);
  json.add("write_" + name + "_p99_us", r.write.p99_us);
  json.add("commit_" + name + "_p50_us", r.commit.p50_us);
}

void print_json(const Options& o, const DataSets& d, const Limits& l, const StoreResults& s) {
  const double threads = static_cast<double>(o.compute_threads);
  JsonLine json;
  json.add("ingest_unique_mbps", s.unique.mbps());
  json.add("pipeline_limit_mbps", l.pipeline.mbps_one * threads);
  json.add("ingest_dup_mbps", s.dup.mbps());
  json.add("sha256_limit_mbps", l.sha256.mbps_one * threads);
  json.add("ingest_incompressible_mbps", s.random.mbps());
  json.add("pipeline_limit_incompressible_mbps", l.pipeline_random.mbps_one * threads);
  json.add("pipeline_parallel_mbps", l.pipeline_parallel_mbps);
  json.add("sha256_cpu_s_per_gb", l.sha256.cpu_s_per_gb());
  json.add("pipeline_cpu_s_per_gb", l.pipeline.cpu_s_per_gb());
  json.add("pipeline_incompressible_cpu_s_per_gb", l.pipeline_random.cpu_s_per_gb());
  json.add("cpu_efficiency_unique", l.pipeline.cpu_s_per_gb() / s.unique.cpu_s_per_gb());
  json.add("cpu_efficiency_dup", l.sha256.cpu_s_per_gb() / s.dup.cpu_s_per_gb());
  json.add("cpu_efficiency_incompressible",
           l.pipeline_random.cpu_s_per_gb() / s.random.cpu_s_per_gb());
  json.add("device_write_mbps", l.device_mbps);
  json.add("device_limit_unique_mbps", l.device_limit_unique_mbps);
  json.add("device_limit_incompressible_mbps", l.device_limit_incompressible_mbps);
  json.add("read_hot_mbps", s.hot.mbps());
  json.add("read_cold_mbps", s.cold.mbps());
  json.add("read_cold_dup_mbps", s.cold_dup.mbps());
  json.add("read_cold_incompressible_mbps", s.cold_random.mbps());
  json.add("ratio_unique_to_pipeline", s.unique.mbps() / (l.pipeline.mbps_one * threads));
  json.add("ratio_dup_to_sha256", s.dup.mbps() / (l.sha256.mbps_one * threads));
  json.add("ratio_incompressible_to_pipeline",
           s.random.mbps() / (l.pipeline_random.mbps_one * threads));
  add_ingest(json, "unique", s.unique);
  add_ingest(json, "dup", s.dup);
  add_ingest(json, "incompressible", s.random);
  json.add("cpu_s_per_gb_read_hot", s.hot.cpu_seconds / (static_cast<double>(s.hot.bytes) / 1e9));
  json.add("cpu_s_per_gb_read_cold",
           s.cold.cpu_seconds / (static_cast<double>(s.cold.bytes) / 1e9));
  json.add("read_hot_cache_hit_fraction", s.hot_cache_hit_fraction);
  json.add("reopen_s", s.reopen_seconds);
  json.add("dedup_ratio", s.after_ingest.dedup_ratio());
  json.add("compression_ratio", s.after_ingest.compression_ratio());
  json.add("compression_ratio_unique", s.after_unique.compression_ratio());
  json.add("data_zstd_ratio", d.zstd_ratio);
  json.add("dup_hit_fraction",
           ratio(s.after_dup.dedup_hits - s.after_unique.dedup_hits, blocks_of(s.dup.bytes)));
  json.add("degraded_reads", static_cast<double>(s.degraded_reads));
  json.add("log_relogged_entries", static_cast<double>(s.after_ingest.log_relogged_entries));
  json.add("shelf_on_tmpfs", is_tmpfs(o.base_dir) ? 1 : 0);
  json.add("data_mib", static_cast<double>(o.data_mib));
  json.add("writers", static_cast<double>(o.writers));
  json.add("compute_threads", threads);
  std::printf("%s\n", json.str().c_str());
}

int run_synthetic(const Options& o) {
  std::fprintf(stderr, "datapath_bench: generating 2 x %llu MiB\n",
               static_cast<unsigned long long>(o.data_mib));
  const DataSets data = make_data(o);
  if (data.unique.size() / kPieceBytes < o.writers) fail("--data-mib must be >= --writers");
  std::fprintf(stderr, "datapath_bench: limits\n");
  const Limits before = measure_limits(data, o);
  std::fprintf(stderr,
               "datapath_bench: one thread: sha256 %.1f MB/s, pipeline %.1f MB/s (incompressible "
               "%.1f); %zu threads at once: %.1f MB/s; device %.1f MB/s\n",
               before.sha256.mbps_one, before.pipeline.mbps_one, before.pipeline_random.mbps_one,
               o.compute_threads, before.pipeline_parallel_mbps, before.device_mbps);
  StoreResults results;
  {
    ShelfProcess shelf(NETSHELF_BINARY, o.base_dir, shelf_layout(o));
    std::fprintf(stderr, "datapath_bench: shelf state dir %s (left behind on failure)\n",
                 shelf.dir().c_str());
    asio::io_context io;
    AsioEnv asio_env(io, AsioEnvOptions{.compute_threads = o.compute_threads,
                                        .blocking_io_threads = 1,
                                        .log_level = LogLevel::kWarn,
                                        .component = "datapath-bench"});
    asio::co_spawn(io, run_store_rows(asio_env.env(), shelf, data, o, results),
                   [](std::exception_ptr error) {
                     if (error) std::rethrow_exception(error);  // a bug: abort via terminate
                   });
    io.run();
    shelf.stop();
  }
  std::fprintf(stderr, "datapath_bench: limits again\n");
  const Limits limits = best_limits(before, measure_limits(data, o));
  print_table(o, data, limits, results);
  print_json(o, data, limits, results);
  return 0;
}

int run(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  if (!o.corpus_dir.empty()) {
    CorpusOptions c;
    c.corpus_dir = o.corpus_dir;
    c.base_dir = o.base_dir;
    c.netshelf = NETSHELF_BINARY;
    c.writers = o.writers;
    c.readers = o.readers;
    c.commit_every = o.commit_mib;
    c.compute_threads = o.compute_threads;
    return run_corpus(c);
  }
  return run_synthetic(o);
}

}  // namespace
}  // namespace splitarray::bench

int main(int argc, char** argv) { return splitarray::bench::run(argc, argv); }
