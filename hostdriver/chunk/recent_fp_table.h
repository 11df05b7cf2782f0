// hostdriver/chunk/recent_fp_table.h
// RecentFpTable remembers where recently written or seen chunks live (fp -> ChunkLocation), so a
// duplicate of a recent block is a dedup hit without a shelf index round trip (DESIGN.md §3
// step 4). A bounded cache: capacity entries, fixed at construction, evicted by CLOCK.
//
// Why CLOCK (not LRU, not S3-FIFO): a hit only sets a reference bit (no list splicing on the hot
// path), memory is two flat arrays allocated once, and every decision depends only on slot
// order, never on hashing. A miss is cheap here: the fp joins the next batched index lookup,
// which the write path sends anyway. S3-FIFO filters one-hit wonders better, but most entries of
// this table *are* first writes whose duplicate, if any, comes later (clones, copies); its small
// probationary FIFO would evict exactly those. CLOCK gives every new entry a full lap instead.
//
// Layout: slots_ holds the entries (CLOCK order is slot order); index_ is an open-addressing
// table (linear probing, backward-shift deletion, load <= 1/2) from fp to slot number, keyed by
// a seeded mix of the fp's first 8 bytes, so a client that crafts blocks whose fps share index
// bits cannot build long probe chains without knowing the seed.
// Invariants:
//   (1) size() <= capacity(); nothing allocates after construction.
//   (2) A hit returns the location of the most recent insert of that fp (never a stale one).
//   (3) Which entry is evicted depends only on the sequence of calls, not on the hash seed or
//       on any container's iteration order (STYLE.md Determinism).
// Threading: single-threaded state owned by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "protocol/shelf_messages.h"

namespace splitarray::hostdriver::chunk {

inline constexpr size_t kRecentFpCapacityMin = 1;
// 16 M entries: ~64 GiB of 4 KiB blocks, ~1.1 GiB of table.
inline constexpr size_t kRecentFpCapacityMax = size_t{1} << 24;

class RecentFpTable final {
 public:
  // capacity in [kRecentFpCapacityMin, kRecentFpCapacityMax]; hash_seed from the Env's rng.
  RecentFpTable(size_t capacity, uint64_t hash_seed);
  RecentFpTable(const RecentFpTable&) = delete;
  RecentFpTable& operator=(const RecentFpTable&) = delete;
  RecentFpTable(RecentFpTable&&) = delete;
  RecentFpTable& operator=(RecentFpTable&&) = delete;

  // The location, and marks the entry recently used; nullopt if absent.
  std::optional<protocol::ChunkLocation> lookup(const protocol::Fingerprint& fp);
  // Inserts or replaces fp's location (and marks it recently used). When the table is full a
  // new fp evicts one entry chosen by CLOCK. Returns true if fp was not present.
  bool insert(const protocol::Fingerprint& fp, const protocol::ChunkLocation& location);
  // Forgets fp (its chunk moved or was freed). Returns true if it was present.
  bool erase(const protocol::Fingerprint& fp);

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  uint64_t evictions() const { return evictions_; }

 private:
  static constexpr uint32_t kNoSlot = UINT32_MAX;

  struct Slot {
    protocol::Fingerprint fp{};
    protocol::ChunkLocation location;
    bool used = false;
    bool referenced = false;
  };

  size_t home_of(const protocol::Fingerprint& fp) const;
  // The index_ position holding fp's slot number, or index_.size() if absent.
  size_t find(const protocol::Fingerprint& fp) const;
  void index_insert(const protocol::Fingerprint& fp, uint32_t slot);
  void index_remove_at(size_t position);
  uint32_t take_free_slot();
  uint32_t evict_one();

  const uint64_t hash_seed_;
  std::vector<Slot> slots_;      // capacity entries
  std::vector<uint32_t> index_;  // power of two >= 2 * capacity; kNoSlot = empty
  std::vector<uint32_t> free_;   // stack of unused slot numbers
  size_t hand_ = 0;              // CLOCK hand: next slot to examine
  size_t size_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace splitarray::hostdriver::chunk
