// hostdriver/blockstore/block_store.h
// BlockStore: the host driver's storage engine below the file system (DESIGN.md §3, §4, §6). It
// stores and returns the blocks of files addressed by (inode, byte offset), deduplicating by
// SHA-256, compressing with zstd, making writes durable in the host's shelf NVRAM log and
// destaging them into erasure-coded containers on the shelf's disks.
//
// Write:  split into blocks (partial blocks read-modify-written) -> fingerprint on the compute
//         pool -> dedup (zero block = hole; staged chunks; recent-fp table; Bloom filter; one
//         batched index lookup; optional verify-on-match) -> compress new blocks -> in arrival
//         order: pack new chunks into the open container (their final location is known from
//         here on), update the block map, queue one NVRAM record -> group commit.
// Destage: a full (or idle) container is sealed, k data + m parity fragments with identity and
//         CRC32C are written to k+m distinct disks (declustered placement); only then are its fps
//         inserted in the shelf index and the log trimmed behind it.
// Read:   block map -> location -> read cache / staged container in memory / one byte-range read
//         of one data fragment -> decompress (bounded) -> verify fp. On any failure: degraded read
//         (k other fragments, reconstruct, verify) and a repair of the bad fragment.
//
// Invariants:
//   (1) An acknowledged write (stable: its record acknowledged by the shelf; unstable: after a
//       later commit() returned ok) survives a host restart: open() replays the NVRAM log.
//   (2) The block map is updated in write arrival order, so of two overlapping writes the one
//       that arrived later wins, whatever order their hashing finishes in.
//   (3) Index inserts and log trims for a container happen only after every fragment of its
//       stripe on a non-failed disk is durable (a fragment whose disk is failed at destage time
//       is the rebuild's job, as if the disk had failed a moment later); and never with fewer
//       than k fragments durable (a stripe whose disks are partly failed is written degraded,
//       as a RAID array keeps writing; new container ids avoid disks known to be failed).
//   (4) A read returns the bytes last written or kCorruption for blocks that cannot be
//       reconstructed; never other bytes (every chunk's fp is verified after decoding).
//   (5) Memory is bounded: queued log bytes <= log_queue_bytes_max, stripes in flight <=
//       stripes_inflight_max, read cache <= read_cache_bytes; writers wait at those limits
//       (backpressure) and when the shelf answers kBusy.
// Until the file system's checkpoints cover block maps too, the block maps themselves are made
// durable by the log: before the log is trimmed past a record, the map entries it carried that
// are still current are appended again ("relogged"), so the log always holds the whole map. See
// README.md.
//
// For the file system above (hostdriver/fs), the log also carries its operations as opaque bytes
// ("fs ops"), alone (queue_op) or in the same record as the data change they describe (write,
// truncate, remove), so both survive or vanish together; open() hands them back in log order
// (take_replayed_ops). A record with an fs op is not trimmed until the file system says a
// checkpoint covers it (fs_ops_covered); when that holds the trimming back, log_pressure() is
// set so the file system checkpoints. Metadata nodes are stored as chunks (put_chunks/get_chunk).
//
// Threading: every method runs on the Env's event loop; CPU work goes to the compute pool.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/ids.h"
#include "common/result.h"
#include "common/unique_function.h"
#include "hostdriver/blockstore/log_record.h"
#include "hostdriver/container/container.h"
#include "protocol/shelf_messages.h"

namespace splitarray::hostdriver::blockstore {

using protocol::ChunkLocation;
using protocol::Fingerprint;

// --- Limits and defaults ----------------------------------------------------------------------
inline constexpr uint32_t kParityFragmentsDefault = 2;
// One write call: an NFS WRITE is at most 1 MiB; larger calls are the caller's to split. Its
// record (<= ~1.07 MiB with 4 KiB blocks) must fit one frame payload (protocol/frame.h, 2 MiB).
inline constexpr size_t kWriteBytesMax = 1 * kMiB;
// One read call allocates its whole answer: bound it (NFS READ asks for at most 1 MiB).
inline constexpr uint32_t kReadBytesMax = 64 * kMiB;
// Group commit: bytes of records in one NVRAM append.
inline constexpr size_t kAppendBatchBytesMax = 2 * kMiB - 64 * kKiB;  // < one frame payload
inline constexpr size_t kLogQueueBytesMaxDefault = 32 * kMiB;
inline constexpr size_t kReadCacheBytesDefault = 64 * kMiB;
inline constexpr size_t kRecentFpsDefault = size_t{1} << 20;
inline constexpr size_t kStripesInflightMaxDefault = 2;
// A partly filled container is sealed after this long without new chunks.
inline constexpr Duration kSealIdleDefault = std::chrono::seconds(2);

// How a write is acknowledged (NFSv3 stable_how).
enum class Stability : uint8_t {
  kUnstable,  // after buffering; durable by a later commit()
  kDataSync,  // after the shelf acknowledged the NVRAM record
  kFileSync,  // same as kDataSync here: the block store has no separate metadata
};

struct BlockStoreConfig {
  HostId host{1};
  Epoch epoch{1};
  Address shelf;               // where the shelf listens
  uint32_t block_size = 4096;  // a valid chunk block size (4-64 KiB, power of two)
  container::ContainerGeometry geometry{};
  uint32_t parity_fragments = kParityFragmentsDefault;
  bool verify_on_match = false;  // byte-compare before trusting a dedup hit
  // Test only: keep the first N bits of every fingerprint (forces collisions). 0 = off.
  uint32_t fingerprint_truncate_bits = 0;
  size_t read_cache_bytes = kReadCacheBytesDefault;
  size_t recent_fps = kRecentFpsDefault;
  uint64_t bloom_expected_entries = uint64_t{1} << 24;
  double bloom_fp_rate = 0.01;
  size_t log_queue_bytes_max = kLogQueueBytesMaxDefault;
  size_t stripes_inflight_max = kStripesInflightMaxDefault;
  Duration seal_idle = kSealIdleDefault;
  Duration shelf_timeout = std::chrono::seconds(30);
};

// kInvalidArgument naming the field.
Result<void> validate_config(const BlockStoreConfig& config);

// Where a file block's bytes are (DESIGN.md §6 "block pointer"): its fp and the chunk's location.
struct BlockRef {
  Fingerprint fp{};
  ChunkLocation location{};
  friend bool operator==(const BlockRef&, const BlockRef&) = default;
};

// A file-system operation that rides in a write's, truncate's or remove's record, built at the
// moment that record is queued (only if it is queued): the file system numbers the operation and
// applies its effect in memory inside build(), so its memory and its numbering follow log order.
// build() returns at most bytes_max (<= kRecordFsOpBytesMax) bytes, at least one.
struct FsOpBuilder {
  size_t bytes_max = 0;  // 0: no operation
  UniqueFunction<std::vector<uint8_t>()> build;
};

// A record's place in the log, in queue order (the file system's checkpoint mark).
struct LogTicket {
  uint64_t value = 0;
  friend auto operator<=>(const LogTicket&, const LogTicket&) = default;
};

struct BlockStoreStats {
  // Accounting (DESIGN.md §3): logical = bytes of non-hole blocks in files; unique = logical bytes
  // of the distinct chunks this host stored; stored = their bytes after compression. Until GC
  // exists unique and stored only grow (overwritten chunks stay stored).
  uint64_t logical_bytes = 0;
  uint64_t unique_bytes = 0;
  uint64_t stored_bytes = 0;
  double dedup_ratio() const { return unique_bytes ? double(logical_bytes) / unique_bytes : 1.0; }
  double compression_ratio() const {
    return stored_bytes ? double(unique_bytes) / stored_bytes : 1.0;
  }

  uint64_t blocks_written = 0;
  uint64_t zero_blocks = 0;
  uint64_t dedup_hits = 0;            // blocks that referenced an existing chunk
  uint64_t dedup_hits_local = 0;      // ... found without asking the shelf
  uint64_t index_lookups = 0;         // lookup RPCs
  uint64_t bloom_skips = 0;           // blocks the Bloom filter declared new
  uint64_t bloom_loaded_entries = 0;  // fps read from the shelf's index into the filter at open
  bool bloom_trusted = false;         // the filter holds every fp the index held at open
  uint64_t verify_mismatches = 0;     // verify-on-match found different bytes (fp collision)
  uint64_t chunks_stored = 0;
  uint64_t log_appends = 0;
  uint64_t log_records = 0;
  uint64_t log_relogged_entries = 0;
  uint64_t log_busy_waits = 0;
  uint64_t containers_sealed = 0;
  uint64_t containers_destaged = 0;
  uint64_t stripes_written_degraded = 0;  // some fragment's disk was failed at destage time
  uint64_t fragment_write_retries = 0;
  uint64_t fragments_rebuilt = 0;  // fragments built again for a retried write
  uint64_t reads = 0;
  uint64_t read_cache_hits = 0;
  uint64_t fragment_range_reads = 0;
  uint64_t degraded_reads = 0;
  uint64_t repairs = 0;               // fragments rewritten after a degraded read
  uint64_t unrecoverable_blocks = 0;  // reads answered kCorruption
  uint64_t open_replayed_records = 0;
  uint64_t fs_ops_logged = 0;
  uint64_t metadata_chunks_put = 0;
};

// The block maps below the block store's memory: the file system's checkpointed block-map
// trees (hostdriver/fs). With a base, the block store keeps only the changes since the last
// checkpoint in memory (FileMaps overlay mode) and never relogs them; the file system merges them
// into the base at each checkpoint (map_changes, fs_ops_covered).
class BlockMapBase {
 public:
  virtual ~BlockMapBase() = default;
  // The references of the blocks in [first_block, last_block] as of the last checkpoint, in
  // block order; blocks not listed are holes.
  virtual Task<Result<std::vector<std::pair<uint64_t, BlockRef>>>> lookup(InodeId inode,
                                                                          uint64_t first_block,
                                                                          uint64_t last_block) = 0;
};

// One file's block-map changes since a checkpoint, as FileMaps holds them.
struct FileMapChanges {
  std::optional<uint64_t> truncate_from;  // blocks >= this are dropped first
  std::vector<std::pair<uint64_t, std::optional<BlockRef>>> blocks;  // nullopt: a hole
};

class BlockStoreImpl;

class BlockStore final {
 public:
  // Connects to the shelf, raises the host's fence to config.epoch, replays the host's NVRAM log
  // (block maps and not yet destaged chunks) and starts the group-commit and destage loops.
  // With `base` (which must outlive the store), block maps are an overlay over it (see
  // BlockMapBase); without, they are whole in memory and kept durable by relog.
  static Task<Result<std::unique_ptr<BlockStore>>> open(Env& env, BlockStoreConfig config,
                                                        BlockMapBase* base = nullptr);
  ~BlockStore();
  BlockStore(const BlockStore&) = delete;
  BlockStore& operator=(const BlockStore&) = delete;

  // Writes data (1..kWriteBytesMax bytes) at byte offset of inode (!= 0). Errors:
  // kInvalidArgument (inode 0, empty, too long, offset + size overflows, fs_op too long), kStale
  // (fenced by a newer owner: every later call fails the same way), kUnavailable (closed),
  // kNoSpace (the shelf's disks are full: new chunks cannot be destaged; see Destager::space()).
  // Nothing is acknowledged that is not durable at the level `stability` asks for. A non-empty
  // fs_op's operation goes into the write's (last) record (FsOpBuilder). `data` must stay valid
  // until the call returns: whole blocks are hashed and compressed in place, not copied.
  Task<Result<void>> write(InodeId inode, uint64_t offset, std::span<const uint8_t> data,
                           Stability stability, FsOpBuilder fs_op = {});
  // length (<= kReadBytesMax, else kInvalidArgument) bytes at offset; holes and unwritten blocks
  // read as zeros. kCorruption if some block
  // in the range cannot be read or reconstructed (the message names inode and block offsets).
  Task<Result<std::vector<uint8_t>>> read(InodeId inode, uint64_t offset, uint32_t length);
  // Drops blocks wholly past size and zeroes the tail of the block containing size.
  Task<Result<void>> truncate(InodeId inode, uint64_t size, Stability stability,
                              FsOpBuilder fs_op = {});
  // Drops every block of inode.
  Task<Result<void>> remove(InodeId inode, Stability stability, FsOpBuilder fs_op = {});

  // --- For the file system -------------------------------------------------------------------
  // Waits until a record carrying an fs op of `fs_op_bytes` may be queued (log backpressure).
  Task<Result<void>> wait_op_room(size_t fs_op_bytes);
  // Queues a record carrying only `fs_op` (1..kRecordFsOpBytesMax bytes). Synchronous: records
  // are in the log in call order, so the caller applies the op in memory in the same step.
  // Durable once wait_durable(ticket) returns ok. kStale / kUnavailable as for writes.
  Result<LogTicket> enqueue_op(std::vector<uint8_t> fs_op);
  Task<Result<void>> wait_durable(LogTicket ticket);
  // Stores whole blocks (metadata nodes, block_size bytes each) as chunks, synchronously on the
  // event loop (fingerprint, dedup against recently stored chunks, compress, pack, queue), so a
  // checkpoint can store a consistent snapshot of its nodes without freezing them. Returns their
  // references in order (an all-zero block gives a hole reference, container 0). The records
  // skip the client share of the log ring (they are what lets the log be trimmed) and the
  // queue's byte limit, so the caller bounds how much it puts at once. Durable once
  // wait_durable(log_mark()) returns ok.
  Result<std::vector<BlockRef>> put_chunks_now(std::span<const std::vector<uint8_t>> blocks);
  // One chunk's block_size bytes, fp verified (degraded read and repair as for data; a hole
  // reference reads as zeros). kCorruption if it cannot be read or reconstructed.
  Task<Result<std::vector<uint8_t>>> get_chunk(BlockRef ref);
  // The newest record queued so far. After a checkpoint that includes every fs op queued up to
  // log_mark() is durable, fs_ops_covered(mark) lets the log be trimmed past those records.
  LogTicket log_mark() const;
  void fs_ops_covered(LogTicket through);
  // True while records with fs ops not yet covered hold back trimming a log past half full.
  bool log_pressure() const;
  // Resumes when log_pressure() may have become true (or the store closes).
  Task<void> wait_log_pressure();
  // With a base: the block-map changes of records up to `through` (a copy, per file). After the
  // checkpoint holding them is durable, fs_ops_covered(through) also drops them from memory.
  std::map<InodeId, FileMapChanges> map_changes(LogTicket through) const;
  // Block-map entries in memory (to trigger checkpoints).
  size_t map_entries() const;
  // The block's reference as memory and the base say now (nullopt: a hole).
  Task<Result<std::optional<BlockRef>>> lookup_block(InodeId inode, uint64_t block_index);
  // The fs ops found in the log at open(), in log order (each as queued; a record the shelf
  // stored twice gives its op twice). Moves them out: a second call returns nothing.
  std::vector<std::vector<uint8_t>> take_replayed_ops();
  // Everything written before this call is durable (NFS COMMIT).
  Task<Result<void>> commit();
  // Seals the open container and waits until every sealed container is destaged (tests, bench,
  // shutdown).
  Task<Result<void>> destage_all();
  // Commits, destages, stops the loops, closes the shelf connection. Must be awaited before
  // destruction; idempotent.
  Task<void> close();
  // Gives up on the shelf, for a close that cannot finish (the shelf is unreachable): every
  // retry stops, and every waiting and later call fails kUnavailable, so close() returns. What
  // the shelf acknowledged stays durable in its NVRAM and the next open() replays it; what it
  // did not (unstable writes not yet committed) is lost, as NFS allows: the next open() changes
  // the write verifier. Safe from a timer callback; a no-op once closed.
  void abandon();

  // Changes on every open(): NFS's write verifier for UNSTABLE writes.
  uint64_t write_verifier() const;
  // The kStale error once a newer owner fenced this store (final), else nullopt. The store can
  // learn it on its own, after the call that queued the refused record returned (group commit,
  // destage, trim): the file system checks it before serving anything from memory.
  std::optional<Error> fenced() const;
  // The error that ended this store for good, else nullopt: fenced (above), an NVRAM append the
  // shelf refused, a destage that cannot succeed, or a link closed under it. Every later call
  // fails; only close() and a new open() (which replays the log) go on. Not set by close().
  std::optional<Error> failed() const;
  BlockStoreStats stats() const;

  // Introspection for tests.
  // The block's reference in memory, or kNotFound for a hole / unwritten / only in the base.
  Result<BlockRef> block_ref(InodeId inode, uint64_t block_index) const;
  // Disk of each fragment 0..k+m-1 of a container's stripe.
  Result<std::vector<DiskIndex>> placement(ContainerId container) const;
  const BlockStoreConfig& config() const;

 private:
  explicit BlockStore(std::unique_ptr<BlockStoreImpl> impl);
  std::unique_ptr<BlockStoreImpl> impl_;
};

}  // namespace splitarray::hostdriver::blockstore
