#include "tests/bench/meta_driver.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <utility>

#include "common/async/task_group.h"
#include "tests/bench/bench_report.h"
#include "tests/bench/datapath_driver.h"

namespace splitarray::bench {
namespace {

using hostdriver::fs::Attributes;
using hostdriver::fs::CreateMode;
using hostdriver::fs::FileType;
using hostdriver::fs::FsStats;
using hostdriver::fs::SetAttributes;

constexpr uint32_t kFileMode = 0644;
constexpr uint32_t kDirMode = 0755;

double seconds_between(TimePoint start, TimePoint end) {
  return std::chrono::duration<double>(end - start).count();
}

double to_ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string numbered(char prefix, size_t i) {
  char text[32];
  std::snprintf(text, sizeof text, "%c%07zu", prefix, i);
  return text;
}

// Counts the checkpoints that completed since construction (see meta_driver.h).
class CheckpointWatch final {
 public:
  explicit CheckpointWatch(const FileSystem& fs) : seen_(fs.stats().checkpoints) {}

  void sample(const FileSystem& fs, PhaseResult& out) {
    const FsStats stats = fs.stats();
    if (stats.checkpoints == seen_) return;
    ASSERT(stats.checkpoints > seen_);
    out.checkpoints += stats.checkpoints - seen_;
    const double ms = to_ms(stats.last_checkpoint_time);
    out.checkpoint_ms += ms;
    out.checkpoint_ms_max = std::max(out.checkpoint_ms_max, ms);
    out.checkpoint_nodes += stats.last_checkpoint_nodes;
    seen_ = stats.checkpoints;
  }

 private:
  uint64_t seen_ = 0;
};

struct PhaseState {
  FileSystem& fs;
  FileSet& set;
  const MetaOp op;
  size_t next = 0;
  CheckpointWatch watch;
  PhaseResult result;
};

[[noreturn]] void fail_op(const char* what, size_t i, const Error& error) {
  fail(std::string(what) + " of file " + std::to_string(i) + ": " + error.to_string());
}

void check_file(const char* what, size_t i, const Attributes& attrs, uint64_t inode) {
  if (attrs.inode != inode || attrs.type != FileType::kRegular) {
    fail(std::string(what) + " of file " + std::to_string(i) + " answered inode " +
         std::to_string(attrs.inode) + ", wanted regular file " + std::to_string(inode));
  }
}

Task<void> create_one(FileSystem& fs, FileSet& set, size_t i) {
  const uint64_t dir = set.dirs[i % set.dirs.size()];
  std::string name = file_name(i);
  SetAttributes attrs;
  attrs.mode = kFileMode;
  auto created = co_await fs.create(dir, std::move(name), CreateMode::kGuarded, attrs, 0);
  if (!created.ok()) fail_op("create", i, created.error());
  if (created->attrs.type != FileType::kRegular) fail("create made no regular file");
  set.inodes[i] = created->attrs.inode;
}

Task<void> stat_one(FileSystem& fs, FileSet& set, size_t i) {
  const uint64_t dir = set.dirs[i % set.dirs.size()];
  std::string name = file_name(i);
  auto found = co_await fs.lookup(dir, std::move(name));
  if (!found.ok()) fail_op("lookup", i, found.error());
  check_file("lookup", i, *found, set.inodes[i]);
  auto attrs = co_await fs.getattr(found->inode);
  if (!attrs.ok()) fail_op("getattr", i, attrs.error());
  check_file("getattr", i, *attrs, set.inodes[i]);
}

Task<void> rename_one(FileSystem& fs, FileSet& set, size_t i) {
  const size_t dirs = set.dirs.size();
  std::string from = file_name(i);
  std::string to = renamed_name(i);
  auto renamed = co_await fs.rename(set.dirs[i % dirs], std::move(from), set.dirs[(i + 1) % dirs],
                                    std::move(to));
  if (!renamed.ok()) fail_op("rename", i, renamed.error());
}

Task<void> remove_one(FileSystem& fs, FileSet& set, size_t i) {
  const uint64_t dir = set.dirs[(i + 1) % set.dirs.size()];
  std::string name = renamed_name(i);
  auto removed = co_await fs.remove(dir, std::move(name));
  if (!removed.ok()) fail_op("remove", i, removed.error());
}

Task<void> phase_worker(PhaseState& state) {
  while (state.next < state.set.files) {
    const size_t i = state.next++;
    switch (state.op) {
      case MetaOp::kCreate:
        co_await create_one(state.fs, state.set, i);
        break;
      case MetaOp::kStat:
        co_await stat_one(state.fs, state.set, i);
        break;
      case MetaOp::kRename:
        co_await rename_one(state.fs, state.set, i);
        break;
      case MetaOp::kRemove:
        co_await remove_one(state.fs, state.set, i);
        break;
    }
    state.watch.sample(state.fs, state.result);
  }
}

}  // namespace

std::string file_name(size_t i) { return numbered('f', i); }
std::string renamed_name(size_t i) { return numbered('r', i); }

Task<PhaseResult> run_phase(Env& env, FileSystem& fs, const ShelfProcess& shelf, FileSet& set,
                            MetaOp op, size_t inflight, std::string label) {
  ASSERT(inflight >= 1);
  ASSERT(!set.dirs.empty());
  if (op == MetaOp::kCreate) set.inodes.assign(set.files, 0);
  ASSERT(set.inodes.size() == set.files);
  PhaseState state{fs, set, op, 0, CheckpointWatch(fs), {}};
  state.result.op = std::move(label);
  const double cpu_start = process_cpu_seconds();
  const double shelf_start = shelf.cpu_seconds();
  const TimePoint start = env.clock.now();
  async::TaskGroup group;
  const size_t workers = std::min(inflight, std::max<size_t>(set.files, 1));
  for (size_t w = 0; w < workers; ++w) group.spawn(env.executor(), phase_worker(state));
  co_await group.join();
  state.result.seconds = seconds_between(start, env.clock.now());
  state.result.cpu_seconds = process_cpu_seconds() - cpu_start;
  state.result.shelf_cpu_seconds = shelf.cpu_seconds() - shelf_start;
  state.result.count = set.files;
  co_return state.result;
}

Task<PhaseResult> run_readdir(Env& env, FileSystem& fs, const ShelfProcess& shelf,
                              const FileSet& set, size_t page_entries, uint64_t expected,
                              std::string label) {
  ASSERT(page_entries >= 1);
  PhaseResult result;
  result.op = std::move(label);
  CheckpointWatch watch(fs);
  const double cpu_start = process_cpu_seconds();
  const double shelf_start = shelf.cpu_seconds();
  const TimePoint start = env.clock.now();
  for (const uint64_t dir : set.dirs) {
    uint64_t cookie = 0;
    for (;;) {
      auto page = co_await fs.readdir(dir, cookie, page_entries);
      if (!page.ok()) fail("readdir of " + std::to_string(dir) + ": " + page.error().to_string());
      for (const auto& entry : page->entries) {
        if (entry.name != "." && entry.name != "..") ++result.count;
      }
      watch.sample(fs, result);
      if (page->eof) break;
      if (page->entries.empty()) fail("readdir returned an empty page before eof");
      cookie = page->entries.back().cookie;
    }
  }
  result.seconds = seconds_between(start, env.clock.now());
  result.cpu_seconds = process_cpu_seconds() - cpu_start;
  result.shelf_cpu_seconds = shelf.cpu_seconds() - shelf_start;
  if (result.count != expected) {
    fail("readdir found " + std::to_string(result.count) + " entries, wanted " +
         std::to_string(expected));
  }
  co_return result;
}

Task<CheckpointResult> run_checkpoint(Env& env, FileSystem& fs) {
  CheckpointResult result;
  const uint64_t before = fs.stats().checkpoints;
  const TimePoint start = env.clock.now();
  auto done = co_await fs.checkpoint();
  result.ms = seconds_between(start, env.clock.now()) * 1e3;
  if (!done.ok()) fail("checkpoint: " + done.error().to_string());
  const FsStats stats = fs.stats();
  ASSERT(stats.checkpoints > before);
  result.nodes = stats.last_checkpoint_nodes;
  result.fs_ms = to_ms(stats.last_checkpoint_time);
  co_return result;
}

Task<std::vector<uint64_t>> make_dirs(FileSystem& fs, uint64_t parent, size_t count,
                                      const std::string& prefix) {
  std::vector<uint64_t> dirs;
  for (size_t d = 0; d < count; ++d) {
    std::string name = prefix + std::to_string(d);
    SetAttributes attrs;
    attrs.mode = kDirMode;
    auto made = co_await fs.mkdir(parent, std::move(name), attrs);
    if (!made.ok()) fail("mkdir " + prefix + std::to_string(d) + ": " + made.error().to_string());
    dirs.push_back(made->attrs.inode);
  }
  ASSERT(dirs.size() == count);
  co_return dirs;
}

Task<void> remove_dirs(FileSystem& fs, uint64_t parent, size_t count, const std::string& prefix) {
  for (size_t d = 0; d < count; ++d) {
    std::string name = prefix + std::to_string(d);
    auto removed = co_await fs.rmdir(parent, std::move(name));
    if (!removed.ok()) {
      fail("rmdir " + prefix + std::to_string(d) + ": " + removed.error().to_string());
    }
  }
}

Memory process_memory() {
  std::ifstream in("/proc/self/status");
  Memory memory;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    uint64_t kib = 0;
    fields >> key >> kib;
    if (key == "VmHWM:") memory.peak_kib = kib;
    if (key == "VmRSS:") memory.rss_kib = kib;
  }
  if (memory.peak_kib == 0) fail("no VmHWM in /proc/self/status");
  return memory;
}

}  // namespace splitarray::bench
