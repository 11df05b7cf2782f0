// sim/harness/blockstore_workload.h
// The block store workload: each simulated host runs a real hostdriver BlockStore against the
// simulated shelf and drives it with random writes (aligned and unaligned, overwrites, zero
// blocks, blocks shared by every host, blocks copied from its own files), truncates, commits and
// reads, with every stability level. A BlockHostModel records, per block, what the host knows.
//
// The model (one per host, kept by the harness across the host's incarnations):
//   - history[0] of a block is its acknowledged content: the last stable write or truncate that
//     returned ok, or the last unstable one that returned ok before a commit() that returned ok;
//   - the later history entries are writes issued after it whose fate is unknown (unstable, not
//     yet committed, failed, or interrupted by a crash);
//   - `current` is what the live store holds; it is unknown (`uncertain`) after a failed write or
//     a host crash until a read resolves it.
// What the checks accept (block_store.h invariants 1, 2 and 4):
//   - a live store reads back exactly `current` (arrival order, read-your-writes);
//   - after crashes, every block reads back as one of its history entries: the acknowledged
//     content or a later write, never older content and never other bytes;
//   - a read error only where the run allows it (faults in flight; silent disk damage).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/env.h"
#include "common/ids.h"
#include "hostdriver/blockstore/block_store.h"
#include "sim/harness/shelf_workload.h"

namespace splitarray::sim {

using BlockBytes = std::shared_ptr<const std::vector<uint8_t>>;

struct BlockVersion {
  uint64_t seq = 0;        // issue order within the host
  BlockBytes bytes;        // the whole block after the operation
  uint64_t done_tick = 0;  // the model tick at which its operation returned ok; 0: not (yet)
};

struct ModelBlock {
  std::vector<BlockVersion> history;  // [0]: acknowledged content; then later, unknown fates
  BlockBytes current;                 // what the live store holds (when !uncertain)
  bool uncertain = false;
};

// What one host knows was acknowledged, plus counters for the report.
struct BlockHostModel {
  HostId host;
  uint64_t next_epoch = 1;  // every open (also a failed attempt) uses a new, higher epoch
  uint64_t next_seq = 1;
  uint64_t tick = 0;
  std::map<std::pair<uint64_t, uint64_t>, ModelBlock> blocks;  // (inode, block index)

  uint64_t acked_ops = 0;  // operations that returned ok (and checked reads)
  uint64_t failed_ops = 0;
  uint64_t acked_writes = 0;
  uint64_t acked_commits = 0;
  uint64_t checked_reads = 0;
  uint64_t read_errors = 0;    // reads that answered an error while faults were on
  uint64_t corrupt_reads = 0;  // ... of which kCorruption
  uint64_t opens = 0;
  uint64_t reopens = 0;  // stores reopened: failed for good, or kReopenAfterFailures failed ops
  uint64_t consecutive_failures = 0;  // of the live incarnation
  uint64_t open_failures = 0;
  uint64_t verified_blocks = 0;  // blocks the final check compared
  uint64_t detected_blocks = 0;  // blocks the final check could not read (detection runs)
  hostdriver::blockstore::BlockStoreStats stats;  // summed over incarnations (selected fields)
};

struct BlockStoreWorkloadOptions {
  Address shelf;
  hostdriver::blockstore::BlockStoreConfig store;  // host and epoch are set per open
  uint32_t workers = 2;                            // concurrent operation streams per host
  uint32_t inodes_per_worker = 3;                  // each worker owns its inodes
  uint32_t blocks_per_inode = 96;                  // offsets stay below this many blocks
  Duration think_time_max = std::chrono::milliseconds(5);
  Duration retry_delay = std::chrono::milliseconds(200);
  bool read_errors_allowed = false;  // final check: damage may be reported (detection runs)
};

// A store whose operations fail this many times in a row, or that says it failed for good
// (BlockStore::failed: e.g. the shelf's NVRAM refused a record with kIo), is closed and reopened
// with a new epoch, as a host driver would restart it.
inline constexpr uint64_t kReopenAfterFailures = 50;

// What an incarnation is doing, for reports of processes that never finish.
struct HostActivity {
  std::string host = "starting";     // open / workers / commit / close / done
  std::vector<std::string> workers;  // per worker: the operation in flight, or "idle"
  std::string describe() const;
};

// One host incarnation: opens a BlockStore (retrying with rising epochs), runs the workers until
// `*stop` or `*killed`, then (when stopped, not killed) commits and closes the store.
Task<void> run_blockstore_host(Env& env, BlockStoreWorkloadOptions options, BlockHostModel& model,
                               Prng rng, const bool* stop, const bool* killed,
                               HostActivity* activity, Violations& violations);

// A host crash: what its live store held is unknown until read again.
void forget_current(BlockHostModel& model);

// Opens a fresh incarnation of the host and compares every block of its files with the model.
// Returns false if the store could not be opened (the caller retries); violations either way.
Task<bool> verify_blockstore_host(Env& env, BlockStoreWorkloadOptions options,
                                  BlockHostModel& model, Violations& violations);

}  // namespace splitarray::sim
