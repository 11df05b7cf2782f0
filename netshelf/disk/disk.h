// netshelf/disk/disk.h
// Disk: one shelf disk (a file or block device) holding fragments in fixed-size slots
// (DESIGN.md §7; on-disk format in disk_format.h, layout and arguments in README.md).
//
// Invariants:
//   (1) Crash safety: a slot's bytes are written and flushed BEFORE the table entry that points
//       to them is written and flushed, and a write is acknowledged only after that. A rewrite
//       commits the new slot's entry before clearing the old one; a delete is a durable
//       tombstone. After a crash every fragment is absent or whole, never half.
//   (2) Nothing unverified leaves: whole reads check the fragment CRC and identity; range reads
//       check the header's identity and the CRC32C of every 4 KiB block they return. A rotted,
//       stale or misdirected fragment answers kCorruption, never bytes.
//   (3) A write or flush error fails the disk for good (the kernel may have dropped dirty pages);
//       a failed disk answers kUnavailable to everything. Read errors answer kIo only.
//   (4) A slot is reused only after its tombstone is durable and no read of it is in flight.
//   (5) inflight_ <= kDiskInflightMax; beyond that callers get kBusy.
//   (6) Startup reads only the superblocks and the table (bounded: 512 bytes per slot), never
//       the slots.
// Threading: every method runs on the Env's event loop. The object must outlive every call.
#pragma once

#include <compare>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/env.h"
#include "netshelf/disk/disk_format.h"

namespace splitarray::netshelf {

inline constexpr uint32_t kDiskInflightMax = 64;
// The table is read at startup in chunks of this many entries (1 MiB).
inline constexpr uint32_t kTableReadChunkEntries = 2048;
inline constexpr uint32_t kDefaultSlotPayloadBytes = 1024 * 1024;

struct DiskFormatOptions {
  uint64_t capacity_bytes = 0;  // 0: the existing file's size; else the file is extended to it
  uint32_t slot_payload_max_bytes = kDefaultSlotPayloadBytes;
  uint32_t disk_generation = 1;
  DiskState state = DiskState::kHealthy;  // kRebuilding for a replacement
};

struct DiskInfo {
  DiskIndex index;
  DiskState state = DiskState::kFailed;
  uint64_t capacity_bytes = 0;
  uint32_t slot_payload_max_bytes = 0;
  uint32_t slots_total = 0;
  uint32_t slots_used = 0;
  uint64_t payload_bytes_used = 0;
  uint32_t disk_generation = 0;
  uint32_t damaged_entries = 0;  // table entries found damaged at open (treated as free)
  std::string failure;           // why the disk failed (empty when not failed)
};

struct ListedFragment {
  FragmentId id;
  uint32_t payload_length = 0;  // bytes after the fragment header
};
// A bounded slice of a disk's fragments in (container, index) order.
struct FragmentPage {
  std::vector<ListedFragment> fragments;
  std::optional<FragmentId> next;  // the first fragment after this page; none: the last page
};

class Disk final {
 public:
  // Creates a fresh disk at `path` (created or extended as needed). Whatever the file held
  // before is ignored from now on (new format nonce).
  static Task<Result<std::unique_ptr<Disk>>> format(Env& env, std::string path,
                                                    DiskIdentity identity,
                                                    DiskFormatOptions options);
  // Opens an existing disk. kInvalidArgument if it belongs to another cluster, shelf or index;
  // kCorruption if neither superblock copy is valid. A disk persisted as failed opens failed.
  static Task<Result<std::unique_ptr<Disk>>> open(Env& env, std::string path,
                                                  DiskIdentity expected);

  Disk(const Disk&) = delete;
  Disk& operator=(const Disk&) = delete;
  ~Disk();

  // Stores `fragment` (header + payload) as `id`, replacing an older or equal generation.
  // kCorruption: bad header or CRC. kInvalidArgument: header identity differs from id, or the
  // payload exceeds the slot. kStale: a newer generation is stored. kNoSpace: no free slot.
  Task<Result<void>> write_fragment(FragmentId id, std::span<const uint8_t> fragment);
  // The whole fragment (header + payload). kNotFound if absent or only a newer generation is
  // stored; kCorruption if an older generation is stored (stale) or the bytes fail verification.
  Task<Result<std::vector<uint8_t>>> read_fragment(FragmentId id);
  // `length` payload bytes from payload `offset`. kInvalidArgument unless 0 < length and
  // offset + length <= payload length. Errors otherwise as read_fragment.
  Task<Result<std::vector<uint8_t>>> read_range(FragmentId id, uint64_t offset, uint64_t length);
  // Removes exactly `id` (durable tombstone). kNotFound if that generation is not stored.
  Task<Result<void>> delete_fragment(FragmentId id);

  // Every stored fragment, sorted.
  std::vector<FragmentId> list() const;
  // The committed fragments from (container, index) `from` on (its generation is ignored), at
  // most `max` (> 0) of them: pages that follow `next` list every fragment that is stored
  // throughout exactly once. Synchronous, reads no slot. kUnavailable when the disk is failed.
  Result<FragmentPage> list_page(const FragmentId& from, size_t max) const;
  DiskInfo info() const;
  DiskState state() const { return state_; }
  const DiskIdentity& identity() const { return sb_.identity; }
  const DiskGeometry& geometry() const { return sb_.geometry; }
  uint32_t disk_generation() const { return sb_.disk_generation; }
  uint32_t inflight() const { return inflight_; }
  const std::string& path() const { return path_; }

  // Admin: fail the disk (persisted best-effort so it stays failed across restarts).
  Task<Result<void>> fail(std::string reason);
  // A rebuilt replacement becomes healthy (persisted). kInvalidArgument unless rebuilding.
  Task<Result<void>> mark_healthy();

 private:
  struct Key {
    uint64_t container = 0;
    uint8_t index = 0;
    friend auto operator<=>(const Key&, const Key&) = default;
  };
  enum class SlotUse : uint8_t { kFree, kWriting, kUsed, kReleasing };
  struct SlotMeta {
    SlotUse use = SlotUse::kFree;
    uint32_t readers = 0;  // reads in flight; the slot is not reused while > 0
    TableEntry entry;      // the durable entry when kUsed
  };
  // Counts an operation in flight for the whole of its coroutine (invariant 5).
  class Inflight {
   public:
    explicit Inflight(Disk& disk) : disk_(disk) {
      ASSERT(disk_.inflight_ < kDiskInflightMax);
      ++disk_.inflight_;
    }
    ~Inflight() {
      ASSERT(disk_.inflight_ > 0);
      --disk_.inflight_;
    }
    Inflight(const Inflight&) = delete;
    Inflight& operator=(const Inflight&) = delete;

   private:
    Disk& disk_;
  };
  // Keeps a slot from being reused while a read of it is in flight (invariant 4).
  class ReadPin {
   public:
    ReadPin(Disk& disk, uint32_t slot) : disk_(disk), slot_(slot) { ++disk_.slots_[slot_].readers; }
    ~ReadPin() { disk_.unpin(slot_); }
    ReadPin(const ReadPin&) = delete;
    ReadPin& operator=(const ReadPin&) = delete;

   private:
    Disk& disk_;
    uint32_t slot_;
  };

  Disk(Env& env, std::string path, std::unique_ptr<File> file, Superblock sb);
  static std::unique_ptr<Disk> make(Env& env, std::string path, std::unique_ptr<File> file,
                                    Superblock sb);
  static Key key_of(const FragmentId& id) { return Key{id.container.value(), id.index}; }

  Result<void> admit(bool mutating) const;
  Result<uint32_t> lookup(const FragmentId& id) const;
  void mark_failed(std::string reason);
  Error fail_now(std::string reason);
  Task<Result<void>> write_superblocks();
  Task<Result<void>> load_table();
  Task<Result<void>> write_entry(const TableEntry& entry);
  Task<Result<void>> clear_slot(uint32_t slot);
  Task<Result<void>> commit_write(uint32_t slot, TableEntry entry);
  Task<Result<std::vector<uint8_t>>> read_verified_range(TableEntry entry, uint64_t offset,
                                                         uint64_t length);
  void release_slot(uint32_t slot);
  void unpin(uint32_t slot);
  TableEntry tombstone(uint32_t slot);
  SlotPageKey page_key(const TableEntry& entry) const;

  Logger log_;
  std::string path_;
  std::unique_ptr<File> file_;
  Superblock sb_;
  DiskState state_;
  std::string failure_;
  std::vector<SlotMeta> slots_;
  std::map<Key, uint32_t> index_;     // committed fragments -> slot
  std::vector<uint32_t> free_slots_;  // a stack; popped from the back (lowest slot first)
  uint64_t next_sequence_ = 1;
  uint64_t payload_bytes_used_ = 0;
  uint32_t inflight_ = 0;
  uint32_t damaged_entries_ = 0;
};

}  // namespace splitarray::netshelf
