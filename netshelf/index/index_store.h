// netshelf/index/index_store.h
// IndexStore: the crash-safe fingerprint index of one shelf (DESIGN.md §7): a FingerprintIndex
// in RAM, an append-only log of insert/remove batches and a periodic snapshot, all through
// env.storage inside one directory:
//   index.snap            the last complete snapshot (replaced atomically by rename)
//   index.snap.tmp        a snapshot being written (removed at open)
//   index.log.<gen>       log generations; recovery replays those >= the snapshot's generation
//   index.rebuild         present while a rebuild from container footers is in progress
//
// Mutations apply to RAM, append one log record with only their effective changes (inserted
// entries, removed fps), and answer after the flush that covers the record and every earlier
// one (group commit). A lookup may see an insert before it is durable: harmless, because a
// container's chunks are durable before the host inserts them (DESIGN.md §4) and the index is
// derived data. Snapshots are fuzzy: appends switch to a new log generation, then the RAM index
// is written partition by partition while mutations continue. Replaying the new generation's
// effective changes over any mix of before/after states per fp gives the live state (first
// writer wins after the fp's last remove), so no pause is needed.
//
// Recovery (open): load the snapshot, replay generations in order while sequences stay
// consecutive; a bad record at a file's tail is a torn, unacknowledged write and is skipped by
// starting a fresh generation (the Env cannot truncate, and a new file never holds stale bytes).
// A bad snapshot, a sequence gap, or a bad record followed by one that declares it durable is
// kCorruption: the index is derived data, so the fix is to rebuild it — move the index
// directory away (an owner that opens with create_if_missing + mark_created_rebuilding then
// starts an empty index marked rebuilding) and re-insert every container footer's entries.
//
// Rebuild (driven by an admin over the protocol; the shelf never parses container footers):
// begin_rebuild() makes index.rebuild durable *before* it drops anything, then empties the index
// the way a snapshot rotates it (RAM cleared at the same instant appends switch to a new
// generation; an empty snapshot for that generation installed by rename). rebuild_insert()
// re-inserts footer entries (first writer wins makes duplicates and retries harmless; ordinary
// inserts and lookups go on meanwhile). finish_rebuild() waits until everything logged is
// durable and only then removes the marker. So a crash at any point leaves either the old
// complete index or the marker, never a partial index that looks complete; rebuilding() says
// so after open, and the rebuild is run again (a begin while one is in progress restarts it).
// Each begin's id is the log generation it created: unique and increasing in this directory, so
// entries or a finish from a rebuild a later begin superseded are refused.
//
// Limits: kIndexBatchMax entries per call (kInvalidArgument beyond); mutations answer kBusy
// while the log is over log_bytes_max or unwritten log bytes exceed pending_bytes_max.
// Threading: the Env's event loop only. The owner keeps the store alive until every call it
// started has completed.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/env.h"
#include "netshelf/index/fingerprint_index.h"
#include "netshelf/index/index_format.h"
#include "netshelf/index/index_log.h"

namespace splitarray::netshelf::index {

struct IndexStoreConfig {
  std::string dir;                 // must exist
  bool create_if_missing = false;  // no snapshot: start empty (else kNotFound)
  // With create_if_missing: an index created because none was found is marked rebuilding
  // (durably, before its empty snapshot). For owners that expect an index to exist: a shelf
  // whose index directory was emptied must not serve the new empty index as complete.
  bool mark_created_rebuilding = false;
  uint64_t entries_max = kIndexEntriesMaxDefault;
  uint64_t snapshot_after_log_bytes = 1 * kGiB;  // snapshot_due() from here
  uint64_t log_bytes_max = 16 * kGiB;            // mutations answer kBusy above this
  uint64_t pending_bytes_max = 64 * kMiB;        // appended, not yet written
};

// Beyond this many log generations (one per open and per snapshot) a snapshot is due.
inline constexpr uint64_t kLogGenerationsSnapshotAt = 8;

struct BulkInsertSummary {
  uint64_t inserted = 0;
  uint64_t already_present = 0;
};

struct IndexStoreStats {
  uint64_t entries = 0;
  uint64_t allocated_bytes = 0;
  uint64_t log_bytes = 0;  // all live generations
  uint64_t log_generation = 0;
  uint64_t durable_sequence = 0;
  uint64_t flushes = 0;
  uint64_t snapshots = 0;
  bool rebuilding = false;
  uint64_t rebuild_id = 0;
};

class IndexStore final {
 public:
  static Task<Result<std::unique_ptr<IndexStore>>> open(Env& env, IndexStoreConfig config);
  ~IndexStore();
  IndexStore(const IndexStore&) = delete;
  IndexStore& operator=(const IndexStore&) = delete;

  // Answered from RAM, also after a log failure (best effort; the index is derived data).
  Result<std::vector<LookupResult>> lookup(std::span<const Fingerprint> fps) const;
  // First writer wins; see FingerprintIndex::insert. kIo once the log has failed.
  Task<Result<std::vector<InsertResult>>> insert(std::vector<IndexEntry> entries);
  // out[i] is what was there.
  Task<Result<std::vector<LookupResult>>> remove(std::vector<Fingerprint> fps);
  // Rebuild path (re-inserting container footers): insert in kIndexBatchMax records, one
  // durability wait at the end (and whenever the unwritten log would exceed its limit).
  Task<Result<BulkInsertSummary>> bulk_insert(std::vector<IndexEntry> entries);

  bool snapshot_due() const;
  // Writes a snapshot and drops the log generations it covers. kBusy if one (or a rebuild
  // begin) is running.
  Task<Result<void>> snapshot();

  // --- rebuild from container footers (see the top of this file) ---------------------------
  // Marks the index rebuilding (durably), empties it and returns the new rebuild id. Restarts a
  // rebuild in progress. kBusy while a snapshot, a begin or a finish runs; kIo once the log
  // has failed.
  Task<Result<uint64_t>> begin_rebuild();
  // bulk_insert for rebuild `rebuild_id`. kInvalidArgument when no rebuild is in progress, the
  // one in progress has no usable id (begin again), or it is finishing; kStale when a later
  // begin superseded `rebuild_id`.
  Task<Result<BulkInsertSummary>> rebuild_insert(uint64_t rebuild_id,
                                                 std::vector<IndexEntry> entries);
  // Makes everything logged durable, then removes the marker: the index is complete again.
  // Errors as rebuild_insert; kBusy while a begin, a finish or a rebuild_insert runs.
  Task<Result<void>> finish_rebuild(uint64_t rebuild_id);
  // From begin_rebuild (or an open that found the marker) until finish_rebuild succeeds.
  bool rebuilding() const { return rebuilding_; }
  // The rebuild in progress; 0 if none, or if it has no usable id (marker unreadable at open,
  // or a begin failed): then only a new begin can continue.
  uint64_t rebuild_id() const { return rebuild_id_; }

  const FingerprintIndex& memory() const { return index_; }
  IndexStoreStats stats() const;

 private:
  IndexStore(Env& env, IndexStoreConfig config);

  std::string snapshot_path() const;
  std::string snapshot_tmp_path() const;
  std::string log_path(uint64_t generation) const;
  std::string marker_path() const;

  Task<Result<void>> recover();
  // The snapshot to load exists afterwards (created empty when missing and allowed).
  Task<Result<void>> ensure_snapshot();
  Task<Result<void>> load_marker();
  // Creates or overwrites index.rebuild and flushes it; id 0 writes one without a usable id.
  Task<Result<void>> write_marker(uint64_t rebuild_id);
  // Switches appends to a new generation, writes RAM (emptied first, at the switch, when
  // `empty`) as that generation's snapshot and drops the older generations. Returns the new
  // generation. The caller holds snapshot_running_.
  Task<Result<uint64_t>> rotate(bool empty);
  Result<void> check_rebuild(uint64_t rebuild_id) const;
  Task<Result<SnapshotHeader>> load_snapshot();
  Task<Result<void>> write_snapshot(const std::string& path, uint64_t generation,
                                    uint64_t first_sequence);
  // Replays one generation; *expected is the next sequence. Returns false if the file's
  // header is unreadable (a crash while creating it).
  Task<Result<bool>> replay_log(File& file, uint64_t generation, uint64_t* expected);
  Task<Result<std::unique_ptr<File>>> create_log(uint64_t generation);
  Task<Result<void>> remove_if_present(const std::string& path);
  Result<void> check_writable(uint64_t record_bytes) const;
  uint64_t log_bytes() const;

  Env& env_;
  Logger log_;
  const IndexStoreConfig config_;
  FingerprintIndex index_;
  std::unique_ptr<LogWriter> writer_;
  uint64_t oldest_generation_ = 0;  // oldest log generation not yet covered by the snapshot
  uint64_t older_log_bytes_ = 0;    // bytes in generations before the current one
  bool snapshot_running_ = false;
  uint64_t snapshots_ = 0;
  bool rebuilding_ = false;
  uint64_t rebuild_id_ = 0;
  bool rebuild_step_running_ = false;  // a begin or a finish
  uint64_t rebuild_inserts_running_ = 0;
};

}  // namespace splitarray::netshelf::index
