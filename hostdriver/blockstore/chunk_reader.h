// hostdriver/blockstore/chunk_reader.h
// ChunkReader: one block's bytes from its BlockRef (DESIGN.md §6): read cache -> container still
// in memory (not destaged) -> one byte-range read of the one data fragment holding the chunk ->
// decode (bounded to the block size) -> verify the fp. Any failure of that path (disk failed,
// fragment missing, CRC or identity mismatch at the shelf, wrong fp after decoding) falls back to
// a degraded read: every other fragment of the stripe is read whole and checked (CRC, identity,
// length), the bad ones are reconstructed from k good ones (ISA-L), the chunk is cut from the
// rebuilt data fragment and verified again, and the bad fragments on healthy disks are rewritten
// (repair, in the background). Fewer than k good fragments, or a wrong fp even after
// reconstruction, is kCorruption: never other bytes.
// Concurrent degraded reads of one container share one reconstruction (a read of many blocks
// of a damaged fragment costs one per batch of kReadBlocksBatchMax blocks, not one per block).
// Threading: the Env's event loop. A single chunk is decoded inline (a few microseconds); the
// chunks of a coalesced range read are decoded on the compute pool in jobs of kDecodeJobChunks,
// so a sequential read uses every compute thread instead of the event loop alone.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "common/async/condition.h"
#include "common/async/task_group.h"
#include "common/env.h"
#include "hostdriver/blockstore/block_store.h"
#include "hostdriver/blockstore/destager.h"
#include "hostdriver/blockstore/read_cache.h"
#include "hostdriver/blockstore/shelf_link.h"
#include "hostdriver/blockstore/workers.h"

namespace splitarray::hostdriver::blockstore {

inline constexpr size_t kRepairsInflightMax = 4;
inline constexpr int kReadAttemptsMax = 3;  // connection-level retries of one read
// Fragment reads in flight from one block store, across all read() calls (below the shelf's
// per-connection limit of 256, leaving room for writes and index calls).
inline constexpr size_t kFragmentReadsInflightMax = 64;
inline constexpr Duration kBusyReadRetryDelay = std::chrono::milliseconds(2);
// read_many() merges chunks that lie close together in one data fragment into one range read of
// at most this many bytes, skipping gaps of at most kCoalesceGapBytesMax (bytes of chunks the
// caller did not ask for: cheaper to read than another round trip).
inline constexpr uint32_t kCoalesceBytesMax = 1024 * 1024;
inline constexpr uint32_t kCoalesceGapBytesMax = 32 * 1024;
// A coalesced read's chunks are decoded (decompressed and fp-verified) on the compute pool in jobs
// of this many chunks (~250 us of work at 4 KiB: far more than the hand-off costs); a run of fewer
// than kDecodeOnPoolChunksMin chunks is decoded inline, where the hand-off would cost more than
// it saves.
inline constexpr size_t kDecodeJobChunks = 32;
inline constexpr size_t kDecodeOnPoolChunksMin = 8;

struct ChunkReaderStats {
  uint64_t cache_hits = 0;
  uint64_t staged_hits = 0;
  uint64_t range_reads = 0;
  uint64_t degraded_reads = 0;
  uint64_t reconstructions = 0;
  uint64_t repairs = 0;
  uint64_t unrecoverable = 0;
  uint64_t busy_retries = 0;
  uint64_t coalesced_reads = 0;   // range reads that fetched several chunks at once
  uint64_t coalesced_chunks = 0;  // chunks those reads delivered
};

class ChunkReader final {
 public:
  ChunkReader(Env& env, const BlockStoreConfig& config, ShelfLink& link, Destager& destager,
              Workers& workers, ReadCache& cache);
  ~ChunkReader();
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;

  // Reads block `ref` into out (block_size bytes). kCorruption if it cannot be read or
  // reconstructed; kUnavailable/kTimeout if the shelf cannot be reached.
  Task<Result<void>> read(const BlockRef& ref, std::span<uint8_t> out);
  // Reads refs[i] into out[i * block_size, +block_size) for every i and returns each outcome, as
  // read() would. Chunks next to each other in one data fragment (a sequentially written range)
  // are fetched with one range read; any chunk that read fails for is read alone by read(),
  // which also takes the degraded path. Same errors as read(), per chunk.
  Task<std::vector<Result<void>>> read_many(std::span<const BlockRef> refs, std::span<uint8_t> out);
  struct Run;  // one planned range read of read_many (coalesced_reads.cpp)
  // Waits for background repairs (close()).
  Task<void> stop();
  const ChunkReaderStats& stats() const { return stats_; }

 private:
  struct Reconstruction {
    uint64_t container = 0;
    int suspect = -1;  // fragment treated as bad although it passed its checks
    bool done = false;
    Result<void> outcome;
    std::vector<std::vector<uint8_t>> payloads;  // per fragment index; k data ones at least
    async::Condition finished;
  };

  // Decodes stored chunk bytes into out (block_size bytes) with `worker`'s contexts and checks
  // the fp. kCorruption on any mismatch. Touches nothing else, so it may run on a compute thread.
  static Result<void> decode_with(Worker& worker, uint32_t block_size, const BlockRef& ref,
                                  std::span<const uint8_t> stored, std::span<uint8_t> out);
  // decode_with on the event loop's own worker.
  Result<void> decode_and_verify(const BlockRef& ref, std::span<const uint8_t> stored,
                                 std::span<uint8_t> out);
  // Decodes every member of `run` from `bytes` (the run's range read) into its slot of out and
  // sets decoded[m] for run.members[m]; on the compute pool unless the run is short.
  Task<void> decode_run(const Run& run, std::span<const uint8_t> bytes,
                        std::span<const BlockRef> refs, std::span<uint8_t> out,
                        std::vector<Result<void>>& decoded);
  Task<Result<std::vector<uint8_t>>> fragment_read(protocol::ShelfClient& client, DiskIndex disk,
                                                   protocol::FragmentIdValue id, uint32_t offset,
                                                   uint32_t length);
  Task<Result<std::vector<uint8_t>>> read_range(const BlockRef& ref);
  // The bytes [offset_in_fragment, +length) of one data fragment, with connection retries.
  Task<Result<std::vector<uint8_t>>> read_placed(uint64_t container, uint32_t fragment_index,
                                                 uint32_t offset_in_fragment, uint32_t length);
  Task<void> read_one(BlockRef ref, std::span<uint8_t> out, Result<void>& outcome);
  Task<void> read_run(const Run& run, std::span<const BlockRef> refs, std::span<uint8_t> out,
                      std::vector<Result<void>>& outcomes);
  uint32_t placed_index(const BlockRef& ref) const;
  Task<Result<void>> read_degraded(const BlockRef& ref, int suspect, std::span<uint8_t> out);
  Task<void> reconstruct(std::shared_ptr<Reconstruction> r);
  Task<void> repair(uint64_t container, int index, DiskIndex disk, std::vector<uint8_t> payload);

  Env& env_;
  const BlockStoreConfig config_;
  ShelfLink& link_;
  Destager& destager_;
  Workers& workers_;
  ReadCache& cache_;
  const int k_;
  const int width_;
  std::vector<std::shared_ptr<Reconstruction>> reconstructions_;  // in progress
  std::set<std::pair<uint64_t, int>> repairs_inflight_;
  size_t reads_inflight_ = 0;
  async::Condition read_slot_;  // a fragment read finished           // (container, fragment index)
  async::TaskGroup background_;
  ChunkReaderStats stats_;
};

}  // namespace splitarray::hostdriver::blockstore
