// tests/bench/meta_bench.cpp
// Metadata benchmark (issue 5, `scripts/bench meta`): an in-process FileSystem (format + open,
// production defaults: block store geometry, node cache, dirty limit, inode cache, checkpoint
// interval) on a REAL `netshelf` process on loopback (formatted fresh in a temp state dir;
// datapath_shelf.h), driven through its namespace calls (meta_driver.h).
//
// Sections, in this order, on one FileSystem:
//   one directory  create --files files in one directory (--inflight calls outstanding), an
//                  explicit checkpoint (checkpoint_ms, nodes written), stat (lookup by name +
//                  getattr) every file, readdir the whole directory (pages of --page entries),
//                  rename every file (new name, same directory), remove every file, checkpoint
//   tree           the same over --tree-dirs directories (file i in directory i mod dirs, so
//                  consecutive calls touch different directories); rename moves every file to
//                  the next directory
//   qd 1           create, stat, rename, remove --qd1-files files in one directory, one call
//                  at a time (the latency floor: one NVRAM log round trip per mutation)
// Every answer is checked (lookup/getattr name the created inode, readdir finds every entry);
// a wrong one aborts. Phases are timed with the Env clock; "bg ckpt" counts the checkpoints the
// file system ran by itself during a phase (dirty_bytes_max, log pressure, interval) and their
// summed time. CPU is getrusage of this process (event loop + threads) and /proc of the shelf.
// Memory: VmHWM (peak RSS) of this process, read from /proc/self/status, before the file system
// opens and at the end; with 100,000 files it should stay bounded by the caches (node cache 64
// MiB, inode cache 65,536, dirty 8 MiB), not grow with the file count.
// The shelf's state goes to /dev/shm (tmpfs) when it has room, else the temp directory; --dir DIR
// chooses.
//
// usage: meta_bench [--files N] [--inflight K] [--tree-dirs D] [--qd1-files M] [--page N]
//                   [--dir DIR]
// Defaults: 100,000 files, 16 in flight, 100 tree directories, 5,000 files at qd 1 (at most
// --files), pages of 1024 entries.
// Output: a table, then one JSON object as the last line of stdout.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "common/env_asio/asio_env.h"
#include "hostdriver/fs/file_system.h"
#include "tests/bench/bench_report.h"
#include "tests/bench/datapath_shelf.h"
#include "tests/bench/meta_driver.h"

namespace splitarray::bench {
namespace {

using hostdriver::fs::FormatOptions;
using hostdriver::fs::FsConfig;
using hostdriver::fs::FsStats;
using hostdriver::fs::kReaddirEntriesMax;
using hostdriver::fs::kRootInode;

constexpr size_t kFilesDefault = 100000;
constexpr size_t kInflightDefault = 16;
constexpr size_t kTreeDirsDefault = 100;
constexpr size_t kQd1FilesDefault = 5000;
constexpr size_t kPageDefault = 1024;
constexpr size_t kFilesMax = 10000000;  // names are f%07zu
constexpr size_t kInflightMax = 4096;
// Up to this many files the shelf is small (smoke runs).
constexpr size_t kSmallShelfFiles = 10000;

struct Options {
  size_t files = kFilesDefault;
  size_t inflight = kInflightDefault;
  size_t tree_dirs = kTreeDirsDefault;
  size_t qd1_files = kQd1FilesDefault;
  size_t page = kPageDefault;
  std::string base_dir;
};

size_t parse_count(const char* flag, const char* text, size_t max) {
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 0);
  if (end == text || *end != '\0' || value == 0 || value > max) {
    std::fprintf(stderr, "meta_bench: %s wants a number in [1, %zu], got '%s'\n", flag, max, text);
    std::exit(2);
  }
  return static_cast<size_t>(value);
}

[[noreturn]] void usage_exit() {
  std::fprintf(stderr,
               "usage: meta_bench [--files N] [--inflight K] [--tree-dirs D] [--qd1-files M] "
               "[--page N] [--dir DIR]\n");
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  bool qd1_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage_exit();
    const char* value = argv[++i];
    if (flag == "--files") {
      o.files = parse_count(flag.c_str(), value, kFilesMax);
    } else if (flag == "--inflight") {
      o.inflight = parse_count(flag.c_str(), value, kInflightMax);
    } else if (flag == "--tree-dirs") {
      o.tree_dirs = parse_count(flag.c_str(), value, kFilesMax);
    } else if (flag == "--qd1-files") {
      o.qd1_files = parse_count(flag.c_str(), value, kFilesMax);
      qd1_given = true;
    } else if (flag == "--page") {
      o.page = parse_count(flag.c_str(), value, kReaddirEntriesMax);
    } else if (flag == "--dir") {
      o.base_dir = value;
    } else {
      usage_exit();
    }
  }
  o.tree_dirs = std::min(o.tree_dirs, o.files);
  if (!qd1_given) o.qd1_files = std::min(o.qd1_files, o.files);
  if (o.base_dir.empty()) o.base_dir = default_state_base(4 * kGiB);
  return o;
}

ShelfLayout shelf_layout(const Options& o) {
  ShelfLayout layout;
  const bool small = o.files <= kSmallShelfFiles;
  layout.disk_bytes = small ? 256 * kMiB : 1 * kGiB;
  layout.nvram_bytes = small ? 128 * kMiB : 512 * kMiB;
  layout.state_prefix = "sa-meta-";
  return layout;
}

struct CheckpointRow {
  std::string name;
  CheckpointResult result;
};

struct Results {
  std::vector<PhaseResult> phases;
  std::vector<CheckpointRow> checkpoints;
  FsStats after_create;  // one directory, all files created
  FsStats end;
  Memory before_open;
  Memory after_open;  // the block store's fixed allocations (Bloom filter, caches) are in
  Memory after_flat;
  Memory after_tree;
  Memory end_memory;
  double open_ms = 0;
  double format_ms = 0;
};

const PhaseResult& phase(const Results& r, const std::string& op) {
  for (const PhaseResult& p : r.phases) {
    if (p.op == op) return p;
  }
  fail("no phase " + op);
}

// Runs one phase over `set` and appends its row.
Task<void> add_phase_row(Env& env, FileSystem& fs, const ShelfProcess& shelf, FileSet& set,
                         MetaOp op, size_t inflight, std::string label, Results& out) {
  PhaseResult row = co_await run_phase(env, fs, shelf, set, op, inflight, std::move(label));
  out.phases.push_back(std::move(row));
}

Task<void> add_checkpoint_row(Env& env, FileSystem& fs, std::string name, Results& out) {
  CheckpointResult result = co_await run_checkpoint(env, fs);
  out.checkpoints.push_back(CheckpointRow{std::move(name), result});
}

// One section: create, checkpoint, stat, readdir, rename, remove, checkpoint over `set`.
Task<void> run_section(Env& env, FileSystem& fs, const ShelfProcess& shelf, FileSet& set,
                       size_t inflight, const Options& o, std::string prefix, Results& out) {
  std::fprintf(stderr,
               "meta_bench: %screate, stat, readdir, rename, remove %zu files in %zu "
               "dirs, %zu in flight\n",
               prefix.c_str(), set.files, set.dirs.size(), inflight);
  // Labels named first: no temporaries inside a co_await expression (GCC 12).
  std::string label = prefix + "create";
  co_await add_phase_row(env, fs, shelf, set, MetaOp::kCreate, inflight, label, out);
  if (prefix.empty()) out.after_create = fs.stats();
  label = prefix + "after create";
  co_await add_checkpoint_row(env, fs, label, out);
  label = prefix + "stat";
  co_await add_phase_row(env, fs, shelf, set, MetaOp::kStat, inflight, label, out);
  label = prefix + "readdir";
  PhaseResult listed = co_await run_readdir(env, fs, shelf, set, o.page, set.files, label);
  out.phases.push_back(std::move(listed));
  label = prefix + "rename";
  co_await add_phase_row(env, fs, shelf, set, MetaOp::kRename, inflight, label, out);
  label = prefix + "remove";
  co_await add_phase_row(env, fs, shelf, set, MetaOp::kRemove, inflight, label, out);
  label = prefix + "after remove";
  co_await add_checkpoint_row(env, fs, label, out);
}

Task<std::unique_ptr<FileSystem>> format_and_open(Env& env, const ShelfProcess& shelf,
                                                  Results& out) {
  FsConfig config;
  config.store.shelf = shelf.address();
  const FormatOptions options;
  TimePoint start = env.clock.now();
  auto formatted = co_await FileSystem::format(env, config, options);
  if (!formatted.ok()) fail("format: " + formatted.error().to_string());
  out.format_ms = std::chrono::duration<double, std::milli>(env.clock.now() - start).count();
  start = env.clock.now();
  auto opened = co_await FileSystem::open(env, config);
  if (!opened.ok()) fail("open: " + opened.error().to_string());
  out.open_ms = std::chrono::duration<double, std::milli>(env.clock.now() - start).count();
  co_return std::move(opened).value();
}

Task<void> run_rows(Env& env, ShelfProcess& shelf, const Options& o, Results& out) {
  co_await shelf.wait_ready(env);
  out.before_open = process_memory();
  std::unique_ptr<FileSystem> fs = co_await format_and_open(env, shelf, out);
  out.after_open = process_memory();

  std::vector<uint64_t> flat_dirs = co_await make_dirs(*fs, kRootInode, 1, "flat");
  FileSet flat{std::move(flat_dirs), o.files, {}};
  co_await run_section(env, *fs, shelf, flat, o.inflight, o, "", out);
  co_await remove_dirs(*fs, kRootInode, 1, "flat");
  out.after_flat = process_memory();

  std::vector<uint64_t> tree_dirs = co_await make_dirs(*fs, kRootInode, o.tree_dirs, "d");
  FileSet tree{std::move(tree_dirs), o.files, {}};
  co_await run_section(env, *fs, shelf, tree, o.inflight, o, "tree ", out);
  co_await remove_dirs(*fs, kRootInode, o.tree_dirs, "d");
  out.after_tree = process_memory();

  std::vector<uint64_t> qd1_dirs = co_await make_dirs(*fs, kRootInode, 1, "qd1-");
  FileSet qd1{std::move(qd1_dirs), o.qd1_files, {}};
  std::fprintf(stderr, "meta_bench: qd 1, %zu files\n", qd1.files);
  co_await add_phase_row(env, *fs, shelf, qd1, MetaOp::kCreate, 1, "qd1 create", out);
  co_await add_phase_row(env, *fs, shelf, qd1, MetaOp::kStat, 1, "qd1 stat", out);
  co_await add_phase_row(env, *fs, shelf, qd1, MetaOp::kRename, 1, "qd1 rename", out);
  co_await add_phase_row(env, *fs, shelf, qd1, MetaOp::kRemove, 1, "qd1 remove", out);
  co_await remove_dirs(*fs, kRootInode, 1, "qd1-");

  out.end = fs->stats();
  if (out.end.inodes != out.after_create.inodes - o.files - 1) {
    fail("inodes at the end: " + std::to_string(out.end.inodes) + ", wanted " +
         std::to_string(out.after_create.inodes - o.files - 1));
  }
  co_await fs->close();
  out.end_memory = process_memory();
}

// ---------------------------------------------------------------------------------------------
// Output.

double mib(uint64_t kib) { return static_cast<double>(kib) / 1024.0; }

void print_table(const Options& o, const Results& r) {
  std::printf(
      "meta_bench: FileSystem in-process -> real netshelf on loopback, state in %s (%s); %zu "
      "files, %zu calls in flight, tree of %zu directories, production defaults (node cache %zu "
      "MiB, dirty max %zu MiB, inode cache %zu); format %.1f ms, open %.1f ms\n\n",
      o.base_dir.c_str(), is_tmpfs(o.base_dir) ? "tmpfs" : "disk", o.files, o.inflight, o.tree_dirs,
      hostdriver::fs::kNodeCacheBytesDefault / kMiB, hostdriver::fs::kDirtyBytesMaxDefault / kMiB,
      hostdriver::fs::kInodeCacheMaxDefault, r.format_ms, r.open_ms);
  std::printf("%-16s %9s %9s %11s %10s %10s %8s %9s %9s %10s\n", "op", "count", "seconds", "ops/s",
              "cpu us/op", "shelf us", "bg ckpt", "ckpt ms", "max ms", "ckpt nodes");
  for (const PhaseResult& p : r.phases) {
    std::printf("%-16s %9llu %9.3f %11.0f %10.1f %10.1f %8llu %9.1f %9.1f %10llu\n", p.op.c_str(),
                static_cast<unsigned long long>(p.count), p.seconds, p.per_s(), p.cpu_us_per_op(),
                p.shelf_cpu_us_per_op(), static_cast<unsigned long long>(p.checkpoints),
                p.checkpoint_ms, p.checkpoint_ms_max,
                static_cast<unsigned long long>(p.checkpoint_nodes));
  }
  std::printf("(readdir: count = entries, ops/s = entries/s, pages of %zu)\n\n", o.page);
  std::printf("%-26s %10s %10s %10s\n", "explicit checkpoint", "ms", "fs ms", "nodes");
  for (const CheckpointRow& c : r.checkpoints) {
    std::printf("%-26s %10.1f %10.1f %10llu\n", c.name.c_str(), c.result.ms, c.result.fs_ms,
                static_cast<unsigned long long>(c.result.nodes));
  }
  const FsStats& a = r.after_create;
  std::printf(
      "\nafter creating %zu files in one directory: %llu inodes cached, node cache %.1f MiB, "
      "dirty %.1f MiB, %llu fs ops logged in %llu log appends\n",
      o.files, static_cast<unsigned long long>(a.inode_cache_entries),
      static_cast<double>(a.node_cache_bytes) / kMiB, static_cast<double>(a.dirty_bytes) / kMiB,
      static_cast<unsigned long long>(a.store.fs_ops_logged),
      static_cast<unsigned long long>(a.store.log_appends));
  std::printf("checkpoints in all: %llu, metadata chunks put %llu, containers destaged %llu\n",
              static_cast<unsigned long long>(r.end.checkpoints),
              static_cast<unsigned long long>(r.end.store.metadata_chunks_put),
              static_cast<unsigned long long>(r.end.store.containers_destaged));
  std::printf(
      "memory (this process): RSS %.1f MiB before open, %.1f after open; peak %.1f MiB after one "
      "directory, %.1f after the tree, %.1f at the end (RSS %.1f)\n\n",
      mib(r.before_open.rss_kib), mib(r.after_open.rss_kib), mib(r.after_flat.peak_kib),
      mib(r.after_tree.peak_kib), mib(r.end_memory.peak_kib), mib(r.end_memory.rss_kib));
}

void add_phase(JsonLine& json, const Results& r, const std::string& op, const std::string& key) {
  json.add(key + "_per_s", phase(r, op).per_s());
}

void print_json(const Options& o, const Results& r) {
  JsonLine json;
  add_phase(json, r, "create", "create");
  add_phase(json, r, "stat", "stat");
  add_phase(json, r, "rename", "rename");
  add_phase(json, r, "remove", "remove");
  json.add("readdir_entries_per_s", phase(r, "readdir").per_s());
  json.add("checkpoint_ms", r.checkpoints.front().result.ms);
  json.add("checkpoint_nodes", static_cast<double>(r.checkpoints.front().result.nodes));
  add_phase(json, r, "tree create", "tree_create");
  add_phase(json, r, "tree stat", "tree_stat");
  add_phase(json, r, "tree rename", "tree_rename");
  add_phase(json, r, "tree remove", "tree_remove");
  json.add("tree_readdir_entries_per_s", phase(r, "tree readdir").per_s());
  add_phase(json, r, "qd1 create", "qd1_create");
  add_phase(json, r, "qd1 stat", "qd1_stat");
  add_phase(json, r, "qd1 rename", "qd1_rename");
  add_phase(json, r, "qd1 remove", "qd1_remove");
  json.add("create_cpu_us", phase(r, "create").cpu_us_per_op());
  json.add("create_shelf_cpu_us", phase(r, "create").shelf_cpu_us_per_op());
  uint64_t background = 0;
  double background_ms_max = 0;
  for (const PhaseResult& p : r.phases) {
    background += p.checkpoints;
    background_ms_max = std::max(background_ms_max, p.checkpoint_ms_max);
  }
  json.add("background_checkpoints", static_cast<double>(background));
  json.add("background_checkpoint_ms_max", background_ms_max);
  json.add("peak_rss_mib", mib(r.end_memory.peak_kib));
  json.add("rss_before_open_mib", mib(r.before_open.rss_kib));
  json.add("rss_after_open_mib", mib(r.after_open.rss_kib));
  json.add("peak_rss_one_dir_mib", mib(r.after_flat.peak_kib));
  json.add("inode_cache_entries", static_cast<double>(r.after_create.inode_cache_entries));
  json.add("node_cache_mib", static_cast<double>(r.after_create.node_cache_bytes) / kMiB);
  json.add("files", static_cast<double>(o.files));
  json.add("inflight", static_cast<double>(o.inflight));
  json.add("tree_dirs", static_cast<double>(o.tree_dirs));
  json.add("qd1_files", static_cast<double>(o.qd1_files));
  json.add("shelf_on_tmpfs", is_tmpfs(o.base_dir) ? 1 : 0);
  std::printf("%s\n", json.str().c_str());
}

int run(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  Results results;
  {
    ShelfProcess shelf(NETSHELF_BINARY, o.base_dir, shelf_layout(o));
    std::fprintf(stderr, "meta_bench: shelf state dir %s (left behind on failure)\n",
                 shelf.dir().c_str());
    asio::io_context io;
    AsioEnv asio_env(io, AsioEnvOptions{.compute_threads = 2,
                                        .blocking_io_threads = 1,
                                        .log_level = LogLevel::kWarn,
                                        .component = "meta-bench"});
    asio::co_spawn(io, run_rows(asio_env.env(), shelf, o, results), [](std::exception_ptr error) {
      if (error) std::rethrow_exception(error);  // a bug: abort via terminate
    });
    io.run();
    shelf.stop();
  }
  print_table(o, results);
  print_json(o, results);
  return 0;
}

}  // namespace
}  // namespace splitarray::bench

int main(int argc, char** argv) { return splitarray::bench::run(argc, argv); }
