// hostdriver/fs/fs_state.h
// FsState: the file system's in-memory state since the last checkpoint, and apply(), the pure and
// synchronous function that changes it by one logged operation (records.h FsOp). The live path
// and replay after a crash both call apply(), so memory after replay equals memory before the
// crash (file_system.h invariant 1).
//
// What lives here (everything else is in the checkpointed trees, read through FileSystemImpl):
//   inodes   InodeRecords loaded from the inode table or changed since: an entry is "dirty" from
//            its change until a checkpoint that includes it completes; clean, unpinned entries
//            are evicted beyond a limit. Deleted inodes stay as tombstones until checkpointed.
//   entries  per directory, the entries set (or erased: a tombstone) since the checkpoint, keyed
//            by cookie key, each tagged with the generation of its change.
// Generations: every change carries gen_ (the generation being built). A checkpoint freezes gen
// G (begin_checkpoint returns it and starts G+1); once the trees hold G, end_checkpoint(G) drops
// what G and older left in memory unless a newer change replaced it.
// apply() needs every inode it touches present (needed_inodes); it never touches the trees.
// Threading: the file system's event loop. No I/O.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "hostdriver/fs/records.h"

namespace splitarray::hostdriver::fs {

struct CachedInode {
  InodeRecord record;
  bool deleted = false;    // a tombstone: the inode is gone (kept until checkpointed)
  uint64_t dirty_gen = 0;  // generation of its last change not yet in the trees (0: clean)
  uint32_t pins = 0;       // operations in flight using it (never evicted while > 0)
  uint64_t last_use = 0;   // for LRU eviction
};

struct OverlayEntry {
  std::optional<DirEntry> entry;  // nullopt: erased since the checkpoint
  uint64_t gen = 0;
};
using DirOverlay = std::map<uint64_t, OverlayEntry>;  // cookie key -> change

// What a checkpoint writes: the inodes and directory entries of generations <= gen.
struct FrozenChanges {
  uint64_t gen = 0;
  std::map<uint64_t, std::optional<InodeRecord>> inodes;  // nullopt: delete from the table
  std::map<uint64_t, DirOverlay> dirs;                    // directory inode -> its changes
  uint64_t next_inode = 0;
  uint64_t last_op_id = 0;
  uint64_t inode_count = 0;
  std::vector<uint64_t> orphans;
};

class FsState final {
 public:
  FsState(uint64_t next_inode, uint64_t last_op_id, uint64_t inode_count);
  FsState(const FsState&) = delete;
  FsState& operator=(const FsState&) = delete;

  // --- Inodes ---------------------------------------------------------------------------------
  // The cached inode (nullptr if not in memory). A tombstone is returned too (check deleted).
  CachedInode* find(uint64_t inode);
  // Adds an inode loaded from the inode table (no-op if it is already cached: memory is newer).
  CachedInode& insert_loaded(uint64_t inode, InodeRecord record);
  // Records that the inode table has no such inode (a clean tombstone, so lookups stop loading).
  void insert_absent(uint64_t inode);
  void pin(CachedInode& inode) { ++inode.pins; }
  void unpin(CachedInode& inode);
  // Evicts clean, unpinned inodes, least recently used first, down to `keep`.
  void evict(size_t keep);
  size_t cached_inodes() const { return inodes_.size(); }

  // --- Directory entries changed since the checkpoint -----------------------------------------
  const DirOverlay* overlay(uint64_t dir) const;
  // Bumped whenever changes leave memory for the trees: a reader that read a tree, then memory,
  // must see the same value before and after, or read again.
  uint64_t drops() const { return drops_; }

  // --- Operations ------------------------------------------------------------------------------
  // Inodes apply(op) reads or changes that must be cached (not the one a kCreate makes).
  static std::vector<uint64_t> needed_inodes(const FsOp& op);
  // Applies one operation. kCorruption if the state does not allow it (a log that does not
  // match its checkpoint); the state is then unchanged. Ids <= last_op_id() are skipped (ok):
  // covered by the checkpoint, or a record the shelf stored twice.
  Result<void> apply(const FsOp& op);
  // What apply(op) would answer, without changing anything.
  Result<void> can_apply(const FsOp& op) const;
  uint64_t last_op_id() const { return last_op_id_; }
  uint64_t next_op_id() const { return last_op_id_ + 1; }
  uint64_t allocate_inode() { return next_inode_; }  // the next create's inode (not consumed)
  uint64_t inode_count() const { return inode_count_; }
  // Regular files with nlink 0 whose data is still to be dropped (kReap).
  const std::set<uint64_t>& orphans() const { return orphans_; }
  void add_orphans(const std::vector<uint64_t>& orphans);

  // --- Checkpoints ------------------------------------------------------------------------------
  FrozenChanges begin_checkpoint();
  void end_checkpoint(uint64_t gen);
  // Bytes of changes in memory not yet in the trees (to trigger checkpoints).
  size_t dirty_bytes() const { return dirty_bytes_; }

 private:
  CachedInode& touch(uint64_t inode);  // must be cached and not deleted (ASSERT)
  void mark_dirty(uint64_t inode, CachedInode& cached);
  void set_entry(uint64_t dir, uint64_t key, std::optional<DirEntry> entry);
  Result<void> check_namespace(const FsOp& op) const;
  void apply_create(const FsOp& op);
  void apply_unlink(const FsOp& op, bool directory);
  void apply_rename(const FsOp& op);
  void apply_setattr(const FsOp& op);
  void drop_link(uint64_t inode, WallTime time);
  void touch_dir(uint64_t dir, WallTime time, int64_t entries_delta, int32_t nlink_delta);

  // Hashed: every NFS call finds an inode (a READDIRPLUS reply one per entry), and a tree of
  // tens of thousands cost ~20% of the event loop in cache misses. Nothing depends on its
  // iteration order: evict() sorts by last use, begin_checkpoint() copies into an ordered map,
  // end_checkpoint() only clears flags and erases.
  std::unordered_map<uint64_t, std::unique_ptr<CachedInode>> inodes_;
  std::map<uint64_t, DirOverlay> overlays_;
  std::set<uint64_t> orphans_;
  uint64_t next_inode_;
  uint64_t last_op_id_;
  uint64_t inode_count_;
  uint64_t gen_ = 1;
  uint64_t use_clock_ = 0;
  uint64_t drops_ = 0;
  size_t dirty_bytes_ = 0;
};

}  // namespace splitarray::hostdriver::fs
