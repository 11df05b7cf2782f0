// hostdriver/blockstore/file_maps.h
// FileMaps: block-map changes in host memory. Two modes:
//   whole (no base): the complete block maps of every file; they survive restarts through the
//       NVRAM log: each entry remembers the ticket of the log record that last carried it, so
//       that before the log is trimmed past a record, the entries still current from it can be
//       logged again ("relog"; block_store.h). A hole is the absence of an entry.
//   overlay (a BlockMapBase below: the file system's checkpointed block-map trees): only the
//       changes since the checkpoint. A hole is an explicit entry (it hides the base), and a
//       truncate leaves a mark (blocks >= its first block not in memory are holes, whatever the
//       base says). A checkpoint copies the changes up to a ticket (changes()), merges them into
//       the base, then drops them (drop_through()); nothing is relogged.
// Invariants:
//   (1) Every entry is listed under its current ticket in by_ticket_ (lists may also hold stale
//       pairs from overwritten entries; take_relog skips them).
//   (2) mapped_blocks() == number of non-hole entries over all files.
//   (3) Overlay: an entry at a block >= a mark's first block is newer than that mark (the
//       truncate erased older ones), so base.erase_from(mark) then the entries is the merge.
// Threading: single-threaded, the block store's event loop.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "common/ids.h"
#include "hostdriver/blockstore/block_store.h"
#include "hostdriver/blockstore/log_record.h"

namespace splitarray::hostdriver::blockstore {

// What memory says about one block.
enum class MapHit : uint8_t {
  kMapped,   // the block's reference is here
  kHole,     // a hole (explicit, truncated, or in whole mode simply absent)
  kUnknown,  // overlay mode: not changed since the checkpoint; ask the base
};

class FileMaps final {
 public:
  FileMaps() = default;
  FileMaps(const FileMaps&) = delete;
  FileMaps& operator=(const FileMaps&) = delete;

  // Overlay mode; set before anything is applied.
  void set_overlay() {
    ASSERT(files_.empty());
    overlay_ = true;
  }
  bool overlay() const { return overlay_; }

  // The mapped block's reference, nullptr if memory says hole or does not know.
  const BlockRef* find(InodeId inode, uint64_t block_index) const;
  MapHit lookup(InodeId inode, uint64_t block_index, BlockRef* ref) const;
  // Applies one update logged by record `ticket` (a hole update erases, or in overlay mode
  // records an explicit hole).
  void apply(InodeId inode, const MapUpdate& update, uint64_t ticket);
  // Drops every block >= first_block (0: the whole file); overlay mode leaves a mark.
  void truncate_from(InodeId inode, uint64_t first_block, uint64_t ticket);
  // Applies a whole record (truncate first, then updates).
  void apply(const LogRecord& record, uint64_t ticket);

  // The entries whose last record has a ticket <= through_ticket, grouped by inode in inode
  // order, at most `max_entries` of them (the rest stay for the next call). The caller logs them
  // again under `new_ticket`, which becomes their ticket.
  std::vector<LogRecord> take_relog(uint64_t through_ticket, uint64_t new_ticket,
                                    size_t max_entries, size_t updates_per_record);
  // The smallest ticket still carrying a current entry or mark (UINT64_MAX if none).
  uint64_t oldest_ticket();
  // The smallest ticket of a record whose entry (or mark) a newer record with a ticket above
  // `durable_ticket` replaced or erased (UINT64_MAX if none); forgets replacements now durable.
  // The log must not be trimmed through it: were the newer record lost in a crash (it is not
  // durable), replay would need the older one, e.g. an acknowledged write overwritten by an
  // unstable one.
  uint64_t oldest_replaced_by_undurable(uint64_t durable_ticket);

  // Overlay mode: the changes with tickets <= through, per file (a copy; FileMapChanges is in
  // block_store.h; truncate_from is the smallest mark's first block).
  std::map<InodeId, FileMapChanges> changes(uint64_t through) const;
  // Overlay mode: forgets the changes with tickets <= through (the base holds them now).
  void drop_through(uint64_t through);

  uint64_t mapped_blocks() const { return mapped_blocks_; }
  size_t entries() const { return entries_; }
  size_t files() const { return files_.size(); }

 private:
  struct Entry {
    BlockRef ref;  // container 0: an explicit hole (overlay mode)
    uint64_t ticket = 0;
  };
  struct Mark {
    uint64_t first_block = 0;
    uint64_t ticket = 0;
  };
  struct FileMap {
    std::map<uint64_t, Entry> blocks;
    std::vector<Mark> marks;  // overlay mode, in ticket order
    bool empty() const { return blocks.empty() && marks.empty(); }
  };

  void set(InodeId inode, uint64_t block_index, const BlockRef& ref, uint64_t ticket);
  // Sets one entry of `file` (searching from `hint`) without listing it under its ticket; the
  // caller lists it. Returns the entry.
  std::map<uint64_t, Entry>::iterator set_in(FileMap& file,
                                             std::map<uint64_t, Entry>::iterator hint,
                                             uint64_t block_index, const BlockRef& ref,
                                             uint64_t ticket);
  void erase(InodeId inode, uint64_t block_index, uint64_t ticket);
  // Record `by_ticket` replaced or erased an entry record `old_ticket` set.
  void note_replaced(uint64_t by_ticket, uint64_t old_ticket);
  void erase_entry(std::map<uint64_t, Entry>::iterator it, std::map<uint64_t, Entry>& blocks);
  // Drops stale pairs at the front of by_ticket_ so oldest_ticket() is exact.
  void prune_front();

  // by_ticket_'s block index for a truncate mark (no block has this index: offsets would overflow).
  static constexpr uint64_t kMarkPair = UINT64_MAX;

  bool overlay_ = false;
  std::map<InodeId, FileMap> files_;
  std::map<uint64_t, std::vector<std::pair<InodeId, uint64_t>>> by_ticket_;
  // Replacing ticket -> the smallest ticket it replaced (oldest_replaced_by_undurable). Holds at
  // most the records not yet durable at the last query, so it stays as small as the log queue.
  std::map<uint64_t, uint64_t> replaced_;
  uint64_t mapped_blocks_ = 0;
  size_t entries_ = 0;  // entries of every kind (memory)
};

}  // namespace splitarray::hostdriver::blockstore
