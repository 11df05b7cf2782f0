// tests/bench/meta_driver.h
// Drives a FileSystem's namespace the way many NFS clients do, for the meta benchmark: `inflight`
// coroutines take file numbers from a shared counter, in order, and each runs one operation on
// file i at a time, so exactly `inflight` operations are outstanding until the counter runs out.
//
// The file set. File i of a FileSet lives in directory dirs[i % dirs.size()] as name(i)
// ("f0000042"); rename moves it to directory dirs[(i + 1) % dirs.size()] as new_name(i)
// ("r0000042"): the same directory when there is one, the next one in a tree. Operations:
//   create   create(dir, name(i), guarded); records the inode in inodes[i]
//   stat     lookup(dir, name(i)) then getattr(inode): both must name inodes[i], a regular file
//   rename   rename(dir, name(i) -> next dir, new_name(i))
//   remove   remove(next dir, new_name(i))
// Any error or wrong answer aborts the benchmark (bench::fail): figures of a broken file system
// are worthless.
//
// Each phase is timed with the Env clock; the checkpoints the file system ran in the background
// during it are counted by sampling fs.stats() after every operation (a checkpoint that starts and
// ends between two samples of a phase is still counted: the counter is read, not the event).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/env.h"
#include "hostdriver/fs/file_system.h"
#include "tests/bench/datapath_shelf.h"

namespace splitarray::bench {

using hostdriver::fs::FileSystem;

enum class MetaOp : uint8_t { kCreate, kStat, kRename, kRemove };

struct FileSet {
  std::vector<uint64_t> dirs;    // at least one directory inode
  size_t files = 0;              // file numbers [0, files)
  std::vector<uint64_t> inodes;  // filled by kCreate
};

std::string file_name(size_t i);
std::string renamed_name(size_t i);

struct PhaseResult {
  std::string op;
  uint64_t count = 0;  // operations (readdir: entries returned, without "." and "..")
  double seconds = 0;
  double cpu_seconds = 0;        // this process
  double shelf_cpu_seconds = 0;  // the shelf process
  uint64_t checkpoints = 0;      // background checkpoints that completed during the phase
  double checkpoint_ms = 0;      // their summed time (fs.stats().last_checkpoint_time)
  double checkpoint_ms_max = 0;
  uint64_t checkpoint_nodes = 0;  // their summed nodes written

  double per_s() const { return seconds > 0 ? static_cast<double>(count) / seconds : 0; }
  double cpu_us_per_op() const {
    return count ? cpu_seconds * 1e6 / static_cast<double>(count) : 0;
  }
  double shelf_cpu_us_per_op() const {
    return count ? shelf_cpu_seconds * 1e6 / static_cast<double>(count) : 0;
  }
};

// Runs `op` on every file of the set with `inflight` operations outstanding.
Task<PhaseResult> run_phase(Env& env, FileSystem& fs, const ShelfProcess& shelf, FileSet& set,
                            MetaOp op, size_t inflight, std::string label);

// Reads every directory of the set whole, in pages of `page_entries`, and checks that together
// they hold exactly `expected` entries besides "." and "..".
Task<PhaseResult> run_readdir(Env& env, FileSystem& fs, const ShelfProcess& shelf,
                              const FileSet& set, size_t page_entries, uint64_t expected,
                              std::string label);

struct CheckpointResult {
  double ms = 0;       // the explicit checkpoint, timed with the Env clock
  uint64_t nodes = 0;  // tree nodes it wrote (fs.stats().last_checkpoint_nodes)
  double fs_ms = 0;    // its own measurement (fs.stats().last_checkpoint_time)
};
// An explicit checkpoint now (waits for a background one in progress first).
Task<CheckpointResult> run_checkpoint(Env& env, FileSystem& fs);

// Makes `count` directories d000..  under `parent` (fails the benchmark on error).
Task<std::vector<uint64_t>> make_dirs(FileSystem& fs, uint64_t parent, size_t count,
                                      const std::string& prefix);
// Removes them again (they must be empty).
Task<void> remove_dirs(FileSystem& fs, uint64_t parent, size_t count, const std::string& prefix);

// Peak and current resident set size of this process in KiB (/proc/self/status VmHWM, VmRSS).
struct Memory {
  uint64_t peak_kib = 0;
  uint64_t rss_kib = 0;
};
Memory process_memory();

}  // namespace splitarray::bench
