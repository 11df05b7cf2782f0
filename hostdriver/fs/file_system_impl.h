// hostdriver/fs/file_system_impl.h
// FileSystemImpl: the state behind FileSystem (file_system.h) and the glue between its parts:
//   fs_open.cpp        format, open: lease, fencing, recovery (replay, orphans), close
//   lookups.cpp        reading inodes and directory entries: memory (FsState) over the trees
//   namespace_ops.cpp  create/mkdir/symlink/mknod/link/remove/rmdir/rename
//   data_ops.cpp       getattr/setattr/read/write/commit/readlink/readdir
//   checkpoint.cpp     the checkpoint and its background loop
// Private to this folder.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/async/condition.h"
#include "common/async/task_group.h"
#include "common/env.h"
#include "hostdriver/blockstore/block_store.h"
#include "hostdriver/fs/file_system.h"
#include "hostdriver/fs/fs_state.h"
#include "hostdriver/meta/btree.h"
#include "hostdriver/meta/node_cache.h"
#include "hostdriver/meta/node_io.h"
#include "protocol/shelf_client.h"

namespace splitarray::hostdriver::fs {

// Loading what one operation needs may race with evictions and checkpoints; a bounded number of
// rounds (each makes progress unless memory is far too small for one operation).
inline constexpr size_t kResolveRoundsMax = 16;
// Taking the lease races with other hosts doing the same.
inline constexpr size_t kLeaseAttemptsMax = 8;

// Tree nodes live as chunks in the block store.
// Nodes packed per synchronous step of BlockStoreNodeIo::store (~0.4 ms of the event loop).
inline constexpr size_t kNodesPerStoreStep = 16;

class BlockStoreNodeIo final : public meta::NodeIo {
 public:
  explicit BlockStoreNodeIo(blockstore::BlockStore& store) : store_(store) {}
  Task<Result<std::vector<uint8_t>>> load(blockstore::BlockRef ref) override;
  // Packs the nodes (fingerprint, compress, place) with put_chunks_now, kNodesPerStoreStep at a
  // time, yielding to the event loop between steps: a checkpoint stores hundreds of nodes, and
  // packing them in one synchronous step held every NFS call for 12-19 ms (FILE_SYNC p99 ~20 ms).
  // Calls that run in between only read trees (BTree invariant 6) or add records behind these.
  Task<Result<std::vector<blockstore::BlockRef>>> store(
      std::vector<std::vector<uint8_t>> nodes) override;
  uint64_t nodes_stored() const { return nodes_stored_; }

 private:
  blockstore::BlockStore& store_;
  uint64_t nodes_stored_ = 0;
};

class FileSystemImpl;

// The block store's base below its in-memory block-map changes: each file's block-map tree.
class FsMapBase final : public blockstore::BlockMapBase {
 public:
  explicit FsMapBase(FileSystemImpl& fs) : fs_(fs) {}
  Task<Result<std::vector<std::pair<uint64_t, blockstore::BlockRef>>>> lookup(
      InodeId inode, uint64_t first_block, uint64_t last_block) override;

 private:
  FileSystemImpl& fs_;
};

// Memory one block-map entry costs in the block store's overlay (checkpoint trigger).
inline constexpr size_t kMapEntryBytes = 128;

// A waitable mutual exclusion for namespace operations (one at a time, FIFO).
class AsyncMutex final {
 public:
  Task<void> lock();
  void unlock();

 private:
  bool held_ = false;
  async::Condition released_;
};

// An entry found by name: its cookie key and contents.
struct FoundEntry {
  uint64_t key = 0;
  DirEntry entry;
};

class FileSystemImpl final {
 public:
  FileSystemImpl(Env& env, FsConfig config);
  ~FileSystemImpl();

  // fs_open.cpp
  static Task<Result<void>> format(Env& env, FsConfig config, FormatOptions options);
  Task<Result<void>> open();
  Task<void> close();
  std::optional<Error> close_error() const { return close_error_; }
  void abandon() {
    abandoned_ = true;
    if (store_ != nullptr) store_->abandon();
    // The register calls of a checkpoint and of the lease watch, on their own connections.
    if (registers_ != nullptr) registers_->rpc().abort();
    if (lease_connection_ != nullptr) lease_connection_->rpc().abort();
  }

  // data_ops.cpp
  Task<Result<Attributes>> getattr(uint64_t inode);
  std::optional<Attributes> cached_attributes(uint64_t inode);
  Task<Result<SetattrResult>> setattr(uint64_t inode, SetAttributes set,
                                      std::optional<WallTime> guard_ctime);
  Task<Result<ReadResult>> read(uint64_t inode, uint64_t offset, uint32_t count);
  Task<Result<WriteResult>> write(uint64_t inode, uint64_t offset, std::vector<uint8_t> data,
                                  Stability stability);
  Task<Result<void>> commit();
  Task<Result<FsStat>> fsstat();
  Task<Result<std::string>> readlink(uint64_t inode);
  Task<Result<DirPage>> readdir(uint64_t dir, uint64_t cookie, size_t entries_max);

  // namespace_ops.cpp
  Task<Result<Attributes>> lookup(uint64_t dir, std::string name);
  Task<Result<CreateResult>> create_node(uint64_t dir, std::string name, FileType type,
                                         CreateMode mode, SetAttributes set, uint64_t verifier,
                                         std::string target, uint32_t rdev_major,
                                         uint32_t rdev_minor);
  Task<Result<LinkResult>> link(uint64_t inode, uint64_t dir, std::string name);
  Task<Result<RemoveResult>> remove(uint64_t dir, std::string name, bool directory);
  Task<Result<RenameResult>> rename(uint64_t from_dir, std::string from_name, uint64_t to_dir,
                                    std::string to_name);

  // checkpoint.cpp
  Task<Result<void>> checkpoint();

  // lookups.cpp: the checkpointed block map of a file, blocks [first, last] (FsMapBase).
  Task<Result<std::vector<std::pair<uint64_t, blockstore::BlockRef>>>> base_blocks(uint64_t inode,
                                                                                   uint64_t first,
                                                                                   uint64_t last);
  // A file's block-map tree, created from its record's map_root on first use.
  std::shared_ptr<meta::BTree> map_tree(uint64_t inode, const std::optional<BlockRef>& root);
  size_t dirty_bytes() const;
  // The datastore's figures now (FsStats::figures): the checkpoint's at open plus this process's.
  DataFigures figures_now() const;

  Env& env() { return env_; }
  uint64_t fs_id() const { return superblock_.fs_id; }
  // file_system.h FileSystem::fenced(): ours, or the block store's if only it knows yet.
  std::optional<Error> fenced() const {
    if (fenced_) return fenced_;
    return store_ != nullptr ? store_->fenced() : std::nullopt;
  }
  FsStats stats() const;
  blockstore::BlockStore& store() { return *store_; }
  const Superblock& superblock() const { return superblock_; }
  // dir_name_hash of `name` in this datastore (salted with fs_id), with this loop's Sha256.
  uint64_t name_hash(std::string_view name) {
    return dir_name_hash(name_sha_, superblock_.fs_id, name);
  }
  meta::NodeCache& node_cache() { return cache_; }
  meta::NodeIo& node_io() { return *node_io_; }

 private:
  // fs_open.cpp
  // The register connection, reconnected if it broke.
  Task<Result<protocol::ShelfClient*>> registers();
  Task<Result<void>> take_lease();
  Task<Result<void>> replay();
  Task<void> reap_orphans();
  Task<Result<void>> reap(uint64_t inode);
  // The end of an operation that may have unlinked `unlinked`'s last name (0: none): reaps it if
  // it is now an orphan, then waits until `ticket` (the operation's record) is durable.
  Task<Result<void>> reap_and_wait_durable(blockstore::LogTicket ticket, uint64_t unlinked);

  // lease_watch.cpp
  // Reads the root register every lease_check_interval; an epoch above ours (a takeover's step
  // 2) fences us.
  Task<void> run_lease_watch();
  // Register `name` as the shelf holds it now, over `connection`, (re)connected if needed.
  Task<Result<protocol::RegisterValueRep>> read_register(
      std::unique_ptr<protocol::ShelfClient>& connection, const std::string& name);

  // lookups.cpp
  // ok, or why nothing may be served: closed, or fenced (also when only the block store knows
  // yet; the first time, this logs fs.fenced and fenced_ keeps the error).
  Result<void> usable();
  // Makes sure the inode is in memory (loading it from the inode table). kNotFound if it does
  // not exist. The pointer is valid until the next co_await unless pinned.
  Task<Result<CachedInode*>> load_inode(uint64_t inode);
  Task<Result<void>> load_inodes(const std::vector<uint64_t>& inodes);
  // The directory's tree (as of the last checkpoint), created from its record on first use.
  std::shared_ptr<meta::BTree> dir_tree(uint64_t dir, const InodeRecord& record);
  // Entries of dir with keys in [first, last]: tree and memory merged.
  Task<Result<std::vector<FoundEntry>>> entries_in(uint64_t dir, uint64_t first, uint64_t last);
  Task<Result<std::optional<FoundEntry>>> find_entry(uint64_t dir, const std::string& name);
  // The key a new entry `name` gets in dir (kNoSpace if all collision slots are taken).
  Task<Result<uint64_t>> free_key(uint64_t dir, const std::string& name);
  Task<Result<Attributes>> dir_attrs(uint64_t dir);  // kNotDirectory if not a directory

  // Queues one namespace/attribute operation and applies it (one synchronous step). The caller
  // has loaded every inode it needs. Returns the ticket to wait on.
  Result<blockstore::LogTicket> log_and_apply(FsOp& op);
  FsOp new_op(OpKind kind);
  // An operation that rides in a data record (write, truncate, reap): see FsOpBuilder.
  blockstore::FsOpBuilder riding_op(FsOp op);

  // checkpoint.cpp
  Task<void> run_checkpointer();
  // Wakes the checkpointer when the block store's log needs one (log_pressure).
  Task<void> run_pressure_watch();
  Task<Result<void>> write_checkpoint(FrozenChanges frozen,
                                      std::map<InodeId, blockstore::FileMapChanges> maps);
  Task<Result<void>> merge_maps(FrozenChanges& frozen,
                                const std::map<InodeId, blockstore::FileMapChanges>& maps);
  Task<Result<void>> flush_trees(FrozenChanges& frozen);
  // format(): the root directory and the first checkpoint (root register version 0 -> 1).
  Task<Result<void>> format_datastore(FormatOptions options);
  Task<Result<void>> open_store(uint32_t log_id, uint32_t block_size);
  Task<Result<void>> merge_dirs(const FrozenChanges& frozen);
  void after_operation();

  Env& env_;
  FsConfig config_;
  std::unique_ptr<protocol::ShelfClient> registers_;
  std::unique_ptr<protocol::ShelfClient> lease_connection_;  // the lease watch's own
  uint64_t lease_epoch_ = 0;
  DataFigures figures_at_open_;  // the superblock's when open() read it
  uint64_t root_version_ = 0;
  Superblock superblock_;
  Sha256 name_sha_;
  std::unique_ptr<blockstore::BlockStore> store_;
  std::unique_ptr<BlockStoreNodeIo> node_io_;
  meta::NodeCache cache_;
  std::unique_ptr<meta::BTree> inode_table_;
  // Trees of directories used since open (held by shared_ptr: a reader keeps its tree alive
  // across awaits even if the checkpointer evicts it). Only the checkpointer changes them.
  std::map<uint64_t, std::shared_ptr<meta::BTree>> dir_trees_;
  std::map<uint64_t, std::shared_ptr<meta::BTree>> map_trees_;  // likewise, files' block maps
  uint64_t merged_ = 0;  // tree changes merged by checkpoints (paces their yields)
  // The inode records the running checkpoint is writing to the inode table (null between
  // checkpoints). Until its puts land, the table still holds the old records, some of which name
  // trees the checkpoint has already replaced: load_inode takes a record from here first, so an
  // inode loaded (or reloaded after eviction) while the checkpoint waits never gets a stale root.
  const std::map<uint64_t, std::optional<InodeRecord>>* checkpoint_records_ = nullptr;
  FsMapBase map_base_{*this};
  std::unique_ptr<FsState> state_;
  AsyncMutex namespace_mutex_;
  AsyncMutex checkpoint_mutex_;
  async::TaskGroup loops_;
  async::Condition wake_checkpointer_;
  async::Condition checkpoint_done_;
  TimerId checkpoint_timer_ = 0;
  TimerId lease_timer_ = 0;
  async::Condition wake_lease_watch_;
  std::optional<Error> fenced_;
  bool fence_logged_ = false;
  bool opened_ = false;
  bool closing_ = false;
  bool closed_ = false;
  std::optional<Error> close_error_;  // close() could not checkpoint
  bool abandoned_ = false;            // abandon(): no new register connections
  FsStats stats_;
};

}  // namespace splitarray::hostdriver::fs
