// hostdriver/blockstore/block_store_impl.h
// BlockStoreImpl: the state behind BlockStore (block_store.h) and the glue between its parts:
//   write_path.cpp  write/truncate/remove: split, read-modify-write, fingerprint, dedup,
//                   compress, apply in arrival order, queue the log record
//   read_path.cpp   read: block map -> ChunkReader per block, in parallel
//   recovery.cpp    open: fence, replay the NVRAM log, start the loops
//   trimmer.cpp     trim the log behind durable containers (relogging live map entries first),
//                   seal idle containers
// Private to this folder.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/async/condition.h"
#include "common/async/task_group.h"
#include "common/env.h"
#include "hostdriver/blockstore/block_store.h"
#include "hostdriver/blockstore/chunk_reader.h"
#include "hostdriver/blockstore/destager.h"
#include "hostdriver/blockstore/file_maps.h"
#include "hostdriver/blockstore/log_writer.h"
#include "hostdriver/blockstore/read_cache.h"
#include "hostdriver/blockstore/shelf_link.h"
#include "hostdriver/blockstore/workers.h"
#include "hostdriver/chunk/bloom_filter.h"
#include "hostdriver/chunk/recent_fp_table.h"

namespace splitarray::hostdriver::blockstore {

// Blocks per compute job (fingerprinting, compression): 32 x 4 KiB = 128 KiB, large enough that
// the hop to the pool is noise, small enough that one 1 MiB write uses every thread.
inline constexpr size_t kComputeJobBlocks = 32;
// Workers (per-job hashing/compression/EC contexts) per compute thread: the bound on compute jobs
// submitted at once. Why more than one: a job takes a worker on the event loop and gives it back
// there, so with one per thread a thread that finished its job sat idle until the loop got round
// to resuming the job's coroutine, releasing the worker and submitting the next job (two loop
// turns and a futex wake, each waiting behind whatever the loop was doing: 64 KiB socket sends,
// other writes' apply). With several, the pool's own queue holds the next jobs and a thread goes
// straight on. Measured with datapath_bench (2 threads, 8 writers): duplicate ingest 949-1,219
// MB/s with 1 per thread, 1,253-1,427 with 2, 1,408-1,502 with 4, 1,596-1,777 with 8, 1,705-1,825
// with 16; unique 127-166 -> 193-198 with 8. Cost: a job may queue behind up to this many others
// per thread (FIFO), and each worker holds its codec (~240 KiB with 4 KiB blocks, ~460 KiB with
// 64 KiB ones, chunk_codec.h), so the count is capped for hosts with many cores.
inline constexpr size_t kWorkersPerComputeThread = 8;
inline constexpr size_t kWorkersMax = 64;
// A write of at most this many blocks is fingerprinted and compressed on the event loop itself:
// one 4 KiB block costs ~3 us to hash and ~15 us to compress, while a hop to the pool and back
// costs two thread wake-ups (measured through NFS at queue depth 1 on a 2-core VM: 125 us in
// fingerprint_all, 136 us in compress_new, for one block each).
inline constexpr size_t kInlineComputeBlocksMax = 2;
// Consecutive failed index-list pages after which the Bloom loader gives up (the filter then
// stays untrusted: lookups go to the shelf, as before the loader).
inline constexpr int kBloomLoadAttemptsMax = 50;
// Blocks one read() hands the chunk reader at once (its scratch memory is this many blocks). A
// 1 MiB read of 4 KiB blocks is one batch, so neighbouring chunks merge into few range reads.
inline constexpr size_t kReadBlocksBatchMax = 256;

// One block of a write on its way through the pipeline.
struct PendingBlock {
  uint64_t block_index = 0;
  std::span<const uint8_t> bytes;  // block_size bytes: the caller's data or a merged copy
  bool zero = false;
  Fingerprint fp{};
  std::optional<ChunkLocation> existing;  // dedup hit
  chunk::EncodedChunk encoded;            // new chunk, once compressed
};

// One change to apply in arrival order: blocks of an inode and the file-system operation that
// goes into its last record.
struct Change {
  InodeId inode{};
  std::optional<uint64_t> truncate_from;
  FsOpBuilder fs_op;
};

class BlockStoreImpl final {
 public:
  BlockStoreImpl(Env& env, BlockStoreConfig config, BlockMapBase* base);
  ~BlockStoreImpl();

  Task<Result<void>> open();
  Task<Result<void>> write(InodeId inode, uint64_t offset, std::span<const uint8_t> data,
                           Stability stability, FsOpBuilder fs_op);
  Task<Result<std::vector<uint8_t>>> read(InodeId inode, uint64_t offset, uint32_t length);
  Task<Result<void>> truncate(InodeId inode, uint64_t size, Stability stability, FsOpBuilder fs_op);
  // fs_ops.cpp: the file system's records and chunks (block_store.h).
  Task<Result<void>> wait_op_room(size_t fs_op_bytes);
  Result<LogTicket> enqueue_op(std::vector<uint8_t> fs_op);
  Task<Result<void>> wait_durable(LogTicket ticket);
  Result<std::vector<BlockRef>> put_chunks_now(std::span<const std::vector<uint8_t>> blocks);
  Task<Result<std::vector<uint8_t>>> get_chunk(BlockRef ref);
  LogTicket log_mark() const;
  void fs_ops_covered(LogTicket through);
  bool log_pressure() const { return log_pressure_; }
  std::map<InodeId, FileMapChanges> map_changes(LogTicket through) const {
    return maps_.changes(through.value);
  }
  size_t map_entries() const { return maps_.entries(); }
  Task<Result<std::optional<BlockRef>>> lookup_block(InodeId inode, uint64_t block_index);
  Task<void> wait_log_pressure();
  std::vector<std::vector<uint8_t>> take_replayed_ops() { return std::move(replayed_ops_); }
  Task<Result<void>> commit();
  Task<Result<void>> destage_all();
  Task<void> close();
  void abandon();  // block_store.h

  BlockStoreStats stats() const;
  Result<BlockRef> block_ref(InodeId inode, uint64_t block_index) const;
  Result<std::vector<DiskIndex>> placement(ContainerId container) const;
  const BlockStoreConfig& config() const { return config_; }
  uint64_t write_verifier() const { return write_verifier_; }
  std::optional<Error> fenced() const;  // block_store.h
  std::optional<Error> failed() const;  // block_store.h

 private:
  // write_path.cpp
  Result<void> usable() const;
  Task<void> wait_turn(uint64_t arrival);
  void finish_turn(uint64_t arrival);
  Task<Result<void>> read_block(InodeId inode, uint64_t block_index, std::span<uint8_t> out);
  // Admission of a client record (a write's, or an fs op's): client records stay within
  // kClientShareOfRing of the ring, so trimming can always make progress. Waits for room.
  Task<Result<void>> wait_client_room(size_t record_bytes);
  // The references of blocks [first, last] from memory, and from the base for blocks memory
  // does not know (overlay mode). Blocks not listed are holes.
  Task<Result<std::vector<std::pair<uint64_t, BlockRef>>>> map_range(InodeId inode, uint64_t first,
                                                                     uint64_t last);
  Task<Result<void>> fingerprint_all(std::vector<PendingBlock>& blocks);
  Task<Result<void>> dedup(std::vector<PendingBlock>& blocks);
  Task<Result<void>> compress_new(std::vector<PendingBlock>& blocks);
  // Applies a prepared change at its turn: packs, updates the maps, queues the record.
  Task<Result<uint64_t>> apply(Change& change, std::vector<PendingBlock>& blocks);
  Task<Result<void>> acknowledge(uint64_t ticket, Stability stability);
  // `blocks` name their bytes (block_size each), which the caller keeps alive until it returns.
  Task<Result<void>> change_blocks(Change change, uint64_t arrival,
                                   std::vector<PendingBlock> blocks, Stability stability);
  Result<void> check_fs_op_size(size_t bytes) const;
  // fs_ops.cpp: remembers that record `ticket` carries an fs op not yet covered by a checkpoint.
  void note_fs_op(uint64_t ticket);
  // The oldest record with an fs op not yet covered (UINT64_MAX if none).
  uint64_t oldest_uncovered_fs_op() const;
  // Called by the trimmer: whether uncovered fs ops hold back a trim it wanted.
  void set_log_pressure(bool held_back);
  // Packs one metadata chunk now (put_chunks_now); appends it to `record` for the caller to
  // queue. Returns its reference.
  BlockRef pack_metadata_chunk(std::span<const uint8_t> block, LogRecord& record);

  // recovery.cpp
  Task<Result<void>> fence_and_replay();

  // trimmer.cpp
  Task<void> run_trimmer();
  // Asks the trimmer for a pass (one more, if it is in one now).
  void request_trim();
  // After a client record is queued (over a base): once the ring passes kTrimStartShare, log
  // pressure, so the checkpoint that must cover records without chunks starts before writers
  // run out of room.
  void note_log_growth();
  // everything: trim all that may be trimmed (destage_all); else lazily (see trimmer.cpp).
  Task<Result<void>> trim_once(bool everything);
  // How many entries one relog batch may carry so that it fits the ring's free space.
  size_t relog_entries_fitting(size_t per_record) const;
  Task<void> run_idle_sealer();
  // bloom_loader.cpp: fills bloom_ from the shelf's index, then trusts it.
  Task<void> run_bloom_loader();

  Env& env_;
  const BlockStoreConfig config_;
  BlockMapBase* const base_;  // nullptr: maps whole in memory
  const uint64_t write_verifier_;
  ShelfLink link_;
  Workers workers_;
  FileMaps maps_;
  ReadCache cache_;
  chunk::RecentFpTable recent_;
  std::optional<chunk::BloomFilter> bloom_;
  bool bloom_trusted_ = false;  // every fp in the shelf index is in bloom_
  std::unique_ptr<LogWriter> log_;
  std::unique_ptr<Destager> destager_;
  std::unique_ptr<ChunkReader> reader_;
  async::TaskGroup loops_;
  async::Condition turn_;       // applied_through_ moved
  async::Condition log_space_;  // the log was trimmed (writers waiting on a nearly full log)
  std::deque<uint64_t> fs_op_tickets_;  // records with fs ops, ticket order, not yet covered
  uint64_t fs_covered_ticket_ = 0;
  bool log_pressure_ = false;
  async::Condition pressure_;  // log_pressure_ became true, or closing
  std::vector<std::vector<uint8_t>> replayed_ops_;
  uint64_t next_arrival_ = 1;
  uint64_t applied_through_ = 0;
  bool opened_ = false;
  bool closing_ = false;
  bool closed_ = false;
  std::optional<Error> abandoned_;  // abandon() ran: why every call fails
  TimerId idle_timer_ = 0;
  async::Notify idle_tick_;
  bool trim_requested_ = false;  // request_trim() since the trimmer's last pass began
  BlockStoreStats stats_;
};

}  // namespace splitarray::hostdriver::blockstore
