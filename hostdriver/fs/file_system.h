// hostdriver/fs/file_system.h
// FileSystem: one datastore's POSIX file system on top of the block store (DESIGN.md §5), the
// layer the NFS server serves.
//
// State. The inode table (inode number -> InodeRecord) and every directory (cookie -> DirEntry)
// are copy-on-write B+trees of content-addressed chunks (hostdriver/meta). A checkpoint stores
// their dirty nodes bottom-up and compare-and-swaps the datastore's root register (a Superblock)
// with the owner's epoch; between checkpoints, operations live in host memory and in the NVRAM
// log (records.h FsOp, carried by the block store's records). File data and block maps are the
// block store's (block maps are still made durable by the block store's relog; moving them into
// trees is the next step, see README.md).
//
// Ownership. A datastore is written by one FileSystem at a time: open() takes the lease register
// with a higher epoch, raises the root register's epoch (so an older owner's checkpoint is refused)
// and opens the block store on the datastore's log with that epoch (so an older owner's appends
// are refused). A fenced owner gets kStale from every call from then on, reads included (its
// memory may hold changes the shelf refused, and misses the new owner's), and logs fs.fenced once.
// It learns it was fenced when the shelf refuses one of its changes, or at the latest one
// lease_check_interval after the takeover: it reads the root register that often and a takeover
// raised its epoch (lease_watch.cpp), so a host that only serves reads stops serving stale state
// too. A lease raised by an open that then failed fences nothing.
//
// Recovery. open() reads the root register, replays the operations logged after the checkpoint
// (skipping ids it covers and ids seen twice), reaps orphans (unlinked inodes whose data was not
// yet dropped) and checkpoints.
//
// Invariants:
//   (1) Memory equals the effect of exactly the operations queued to the log, in log order: every
//       operation is applied in the same synchronous step that queues its record (namespace
//       operations under one mutex; writes, truncates and removes in the block store's on_queued).
//   (2) An operation is acknowledged only when its record is durable (writes: as stability asks).
//   (3) A checkpoint is a snapshot taken in one synchronous step (log mark + every dirty node
//       stored), so it covers exactly the operations queued before the mark.
//   (4) Inode numbers are never reused; (inode, generation) names one file for ever.
//   (5) Memory is bounded: clean tree nodes in a byte-bounded cache, clean inodes and directory
//       trees evicted beyond their limits, dirty state bounded by checkpointing at
//       dirty_bytes_max.
// Threading: every method runs on the Env's event loop.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/ids.h"
#include "common/result.h"
#include "hostdriver/blockstore/block_store.h"
#include "hostdriver/fs/records.h"

namespace splitarray::hostdriver::fs {

using blockstore::Stability;

inline constexpr size_t kNodeCacheBytesDefault = 64 * kMiB;
inline constexpr size_t kDirtyBytesMaxDefault = 8 * kMiB;
inline constexpr size_t kInodeCacheMaxDefault = 65536;
inline constexpr size_t kDirTreesMaxDefault = 1024;
inline constexpr Duration kCheckpointIntervalDefault = std::chrono::seconds(30);
inline constexpr Duration kLeaseCheckIntervalDefault = std::chrono::seconds(1);
inline constexpr uint32_t kReadBytesMax = 1 * kMiB;  // one read() (NFS rtmax)
inline constexpr size_t kReaddirEntriesMax = 4096;   // one readdir() page

struct FsConfig {
  std::string datastore = "default";
  HostId host{1};  // this host (recorded in the lease)
  // The block store's settings; host and epoch are set by open() (the datastore's log id and
  // the lease epoch), shelf and block_size must match the datastore.
  blockstore::BlockStoreConfig store;
  size_t node_cache_bytes = kNodeCacheBytesDefault;
  size_t dirty_bytes_max = kDirtyBytesMaxDefault;
  size_t inode_cache_max = kInodeCacheMaxDefault;
  size_t dir_trees_max = kDirTreesMaxDefault;
  Duration checkpoint_interval = kCheckpointIntervalDefault;
  Duration lease_check_interval = kLeaseCheckIntervalDefault;  // > 0 (else kInvalidArgument)
};

struct FormatOptions {
  uint32_t log_id = 1;  // the NVRAM log slot (a HostId on the shelf) the datastore writes
  uint32_t root_mode = 0755;
  uint32_t root_uid = 0;
  uint32_t root_gid = 0;
};

enum class CreateMode : uint8_t {
  kUnchecked,  // an existing regular file is used (a size in `set` truncates it)
  kGuarded,    // kExists if the name exists
  kExclusive,  // kExists unless the name exists with the same verifier (a retried create)
};

// NFS sattr3: fields to set.
struct SetAttributes {
  std::optional<uint32_t> mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;
  std::optional<WallTime> atime;  // set_to_server_time is the caller's: pass the time
  std::optional<WallTime> mtime;
};

// A directory before and after a change (NFS wcc_data).
struct DirChange {
  Attributes before;
  Attributes after;
};

struct CreateResult {
  Attributes attrs;  // the created (or, unchecked/exclusive retry, existing) object
  DirChange dir;
};

struct RemoveResult {
  DirChange dir;
};

struct RenameResult {
  DirChange from;
  DirChange to;  // == from when one directory
};

struct LinkResult {
  Attributes attrs;  // the file, after
  DirChange dir;
};

struct SetattrResult {
  Attributes before;
  Attributes after;
};

struct ReadResult {
  std::vector<uint8_t> data;
  bool eof = false;
  Attributes attrs;
};

struct WriteResult {
  Attributes before;
  Attributes after;
  uint64_t verifier = 0;  // the block store's write verifier
};

struct DirListEntry {
  uint64_t cookie = 0;  // pass back to continue after this entry
  uint64_t inode = 0;
  std::string name;
  FileType type = FileType::kRegular;
};
struct DirPage {
  std::vector<DirListEntry> entries;  // "." and ".." first when starting at cookie 0
  bool eof = false;
  Attributes dir;
};

// NFS FSSTAT: capacity as the shelf reports it, in bytes a file can use (after parity).
struct FsStat {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  uint64_t total_files = 0;
  uint64_t free_files = 0;
};
inline constexpr uint64_t kFilesMax = uint64_t{1} << 48;  // inode numbers a datastore may use

struct FsStats {
  uint64_t inodes = 0;
  uint64_t operations = 0;
  uint64_t checkpoints = 0;
  uint64_t last_checkpoint_nodes = 0;
  Duration last_checkpoint_time{};
  uint64_t replayed_operations = 0;
  uint64_t reaped_orphans = 0;
  uint64_t inode_cache_entries = 0;
  uint64_t node_cache_bytes = 0;
  uint64_t dirty_bytes = 0;
  // Since format: the last checkpoint's figures plus what this process took in since it opened
  // (records.h DataFigures). Writes acknowledged after the last checkpoint by a process that
  // then crashed are replayed but not counted.
  DataFigures figures;
  uint64_t lease_checks = 0;          // lease register reads that answered
  uint64_t lease_check_failures = 0;  // ... that did not (shelf unreachable): asked again later
  blockstore::BlockStoreStats store;
};

class FileSystemImpl;

class FileSystem final {
 public:
  // Creates an empty datastore (root directory only). kExists if its root register exists.
  static Task<Result<void>> format(Env& env, FsConfig config, FormatOptions options);
  // Takes the datastore over (fencing any previous owner), recovers it and checkpoints.
  // kNotFound if it was never formatted.
  static Task<Result<std::unique_ptr<FileSystem>>> open(Env& env, FsConfig config);
  ~FileSystem();
  FileSystem(const FileSystem&) = delete;
  FileSystem& operator=(const FileSystem&) = delete;

  // Errors of every call: kNotFound (no such inode/name), kNotDirectory, kIsDirectory, kExists,
  // kNotEmpty, kNameTooLong, kInvalidArgument, kFileTooLarge, kStale (fenced: final),
  // kUnavailable (closed), kCorruption / kIo (the shelf).
  Task<Result<Attributes>> getattr(uint64_t inode);
  // The inode's attributes if memory holds them now: no I/O and no suspension, for callers that
  // ask for many at once (READDIRPLUS: one per entry). nullopt when getattr would have to load
  // the inode, or would fail; ask getattr then.
  std::optional<Attributes> cached_attributes(uint64_t inode);
  // The child's inode; "." is dir itself and ".." its parent.
  Task<Result<Attributes>> lookup(uint64_t dir, std::string name);
  Task<Result<CreateResult>> create(uint64_t dir, std::string name, CreateMode mode,
                                    SetAttributes set, uint64_t verifier);
  Task<Result<CreateResult>> mkdir(uint64_t dir, std::string name, SetAttributes set);
  Task<Result<CreateResult>> symlink(uint64_t dir, std::string name, std::string target,
                                     SetAttributes set);
  Task<Result<CreateResult>> mknod(uint64_t dir, std::string name, FileType type, SetAttributes set,
                                   uint32_t rdev_major, uint32_t rdev_minor);
  Task<Result<std::string>> readlink(uint64_t inode);
  Task<Result<LinkResult>> link(uint64_t inode, uint64_t dir, std::string name);
  Task<Result<RemoveResult>> remove(uint64_t dir, std::string name);
  Task<Result<RemoveResult>> rmdir(uint64_t dir, std::string name);
  Task<Result<RenameResult>> rename(uint64_t from_dir, std::string from_name, uint64_t to_dir,
                                    std::string to_name);
  // guard_ctime: NFS sattrguard3 (kInvalidArgument "not_sync" if the ctime differs).
  Task<Result<SetattrResult>> setattr(uint64_t inode, SetAttributes set,
                                      std::optional<WallTime> guard_ctime);
  Task<Result<ReadResult>> read(uint64_t inode, uint64_t offset, uint32_t count);
  Task<Result<WriteResult>> write(uint64_t inode, uint64_t offset, std::vector<uint8_t> data,
                                  Stability stability);
  // Everything acknowledged before is durable (NFS COMMIT).
  Task<Result<void>> commit();
  // Capacity of the shelf's healthy disks after parity (fragment slots x payload x k/(k+m)) and
  // inodes. Before deduplication and compression: what the disks hold, not what files may add.
  Task<Result<FsStat>> fsstat();
  // Entries with cookie > `cookie` (0: from the start), at most entries_max.
  Task<Result<DirPage>> readdir(uint64_t dir, uint64_t cookie, size_t entries_max);
  // Checkpoints now (tests, shutdown); the background loop also does at dirty_bytes_max, on log
  // pressure and every checkpoint_interval.
  Task<Result<void>> checkpoint();
  // Checkpoints, closes the block store. Must be awaited before destruction; idempotent.
  Task<void> close();
  // After close(): why it could not checkpoint (the shelf failed or was given up), else nullopt.
  // Not set for an owner that was fenced: the datastore is the new owner's. Nothing acknowledged as
  // stable is lost either way: the next open() replays the log.
  std::optional<Error> close_error() const;
  // Gives up on the shelf so that a close() that cannot finish returns (BlockStore::abandon()).
  // Safe from a timer callback.
  void abandon();

  uint64_t fs_id() const;
  uint64_t write_verifier() const;
  // The kStale error once another host took this datastore over (final), else nullopt.
  std::optional<Error> fenced() const;
  FsStats stats() const;
  // For fsck and tests.
  blockstore::BlockStore& store();
  FileSystemImpl& impl() { return *impl_; }

 private:
  explicit FileSystem(std::unique_ptr<FileSystemImpl> impl);
  std::unique_ptr<FileSystemImpl> impl_;
};

}  // namespace splitarray::hostdriver::fs
