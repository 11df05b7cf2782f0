// hostdriver/blockstore/file_maps.h
// FileMaps: the block maps of every file, in host memory (DESIGN.md §5 keeps them in a
// content-addressed tree; until that exists, issue 5, they live here and in the NVRAM log).
// Each entry remembers the ticket of the log record that last carried it, so that before the log
// is trimmed past a record, the entries still current from it can be logged again ("relog";
// block_store.h). A hole is the absence of an entry.
// Invariants:
//   (1) Every entry is listed under its current ticket in by_ticket_ (lists may also hold stale
//       pairs from overwritten entries; take_relog skips them).
//   (2) mapped_blocks() == number of entries over all files.
// Threading: single-threaded, the block store's event loop.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "common/ids.h"
#include "hostdriver/blockstore/block_store.h"
#include "hostdriver/blockstore/log_record.h"

namespace splitarray::hostdriver::blockstore {

class FileMaps final {
 public:
  FileMaps() = default;
  FileMaps(const FileMaps&) = delete;
  FileMaps& operator=(const FileMaps&) = delete;

  const BlockRef* find(InodeId inode, uint64_t block_index) const;
  // Applies one update logged by record `ticket` (a hole update erases).
  void apply(InodeId inode, const MapUpdate& update, uint64_t ticket);
  // Drops every block >= first_block (0: the whole file).
  void truncate_from(InodeId inode, uint64_t first_block);
  // Applies a whole record (truncate first, then updates).
  void apply(const LogRecord& record, uint64_t ticket);

  // The entries whose last record has a ticket <= through_ticket, grouped by inode in inode
  // order, at most `max_entries` of them (the rest stay for the next call). The caller logs them
  // again under `new_ticket`, which becomes their ticket.
  std::vector<LogRecord> take_relog(uint64_t through_ticket, uint64_t new_ticket,
                                    size_t max_entries, size_t updates_per_record);
  // The smallest ticket still carrying a current entry (UINT64_MAX if none).
  uint64_t oldest_ticket();

  uint64_t mapped_blocks() const { return mapped_blocks_; }
  size_t files() const { return files_.size(); }

 private:
  struct Entry {
    BlockRef ref;
    uint64_t ticket = 0;
  };
  using FileMap = std::map<uint64_t, Entry>;

  void set(InodeId inode, uint64_t block_index, const BlockRef& ref, uint64_t ticket);
  void erase(InodeId inode, uint64_t block_index);
  // Drops stale pairs at the front of by_ticket_ so oldest_ticket() is exact.
  void prune_front();

  std::map<InodeId, FileMap> files_;
  std::map<uint64_t, std::vector<std::pair<InodeId, uint64_t>>> by_ticket_;
  uint64_t mapped_blocks_ = 0;
};

}  // namespace splitarray::hostdriver::blockstore
