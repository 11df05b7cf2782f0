// netshelf/disk/disk_set.h
// DiskSet: the shelf's N disks, by DiskIndex. A disk that cannot be opened (missing file, foreign
// or unreadable superblock) does not stop the shelf: it is listed as failed, with the reason, so
// the other disks keep serving and an admin can replace it.
//
// Invariants:
//   (1) Disk indexes are unique; at most kDisksPerShelfMax disks.
//   (2) A disk is swapped (replace) only when no operation on it is in flight, so no coroutine
//       ever holds a destroyed Disk.
// Threading: every method runs on the Env's event loop.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "netshelf/disk/disk.h"

namespace splitarray::netshelf {

inline constexpr size_t kDisksPerShelfMax = 256;

struct DiskSlotConfig {
  DiskIndex index;
  std::string path;
};

struct DiskSetConfig {
  ClusterId cluster;
  ShelfId shelf;
  std::vector<DiskSlotConfig> disks;
  // Slot payload size for replacements of disks that never opened (an opened disk's own
  // superblock wins otherwise).
  uint32_t slot_payload_max_bytes = kDefaultSlotPayloadBytes;
};

class DiskSet final {
 public:
  // Opens every configured disk, validating its identity. kInvalidArgument for a bad config
  // (no disks, too many, duplicate index or path); per-disk problems only fail that disk.
  static Task<Result<std::unique_ptr<DiskSet>>> open(Env& env, DiskSetConfig config);
  // Formats every configured disk fresh (`netshelf format`), then opens the set.
  static Task<Result<std::unique_ptr<DiskSet>>> format(Env& env, DiskSetConfig config,
                                                       DiskFormatOptions options);

  DiskSet(const DiskSet&) = delete;
  DiskSet& operator=(const DiskSet&) = delete;

  // kNotFound for an index not in the config; kUnavailable if it could not be opened.
  Result<Disk*> disk(DiskIndex index);
  // Sorted by index; includes disks that could not be opened (state failed, failure set).
  std::vector<DiskInfo> infos() const;
  size_t size() const { return members_.size(); }

  // Formats a fresh replacement for `index` at `path` (may be the old path): same identity and
  // slot size, disk generation + 1, state rebuilding. kBusy while the old disk has operations in
  // flight. options.capacity_bytes 0 means the old disk's capacity.
  Task<Result<void>> replace(DiskIndex index, std::string path, uint64_t capacity_bytes = 0);

 private:
  struct Member {
    std::string path;
    std::unique_ptr<Disk> disk;  // null when it could not be opened
    std::string open_error;
  };
  DiskSet(Env& env, DiskSetConfig config);
  static std::unique_ptr<DiskSet> make(Env& env, DiskSetConfig config);
  static Result<void> validate(const DiskSetConfig& config);
  DiskIdentity identity_of(DiskIndex index) const;

  Env& env_;
  DiskSetConfig config_;
  std::map<DiskIndex, Member> members_;
};

}  // namespace splitarray::netshelf
