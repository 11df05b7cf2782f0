// hostdriver/chunk/recent_fp_table.cpp
#include "hostdriver/chunk/recent_fp_table.h"

#include <bit>
#include <span>

#include "common/assert.h"
#include "common/endian.h"

namespace splitarray::hostdriver::chunk {
namespace {

// splitmix64's finalizer: a bijection on 64 bits, so distinct keys never collide before masking.
uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

RecentFpTable::RecentFpTable(size_t capacity, uint64_t hash_seed) : hash_seed_(hash_seed) {
  ASSERT(capacity >= kRecentFpCapacityMin);
  ASSERT(capacity <= kRecentFpCapacityMax);
  static_assert(2 * kRecentFpCapacityMax < kNoSlot, "slot numbers and index size fit in u32");
  slots_.resize(capacity);
  index_.assign(std::bit_ceil(2 * capacity), kNoSlot);
  free_.reserve(capacity);
  // Popped from the back: slot 0 is used first.
  for (size_t i = capacity; i > 0; --i) free_.push_back(static_cast<uint32_t>(i - 1));
}

size_t RecentFpTable::home_of(const protocol::Fingerprint& fp) const {
  const uint64_t key = get_u64(std::span<const uint8_t>(fp), 0);
  return static_cast<size_t>(mix64(key ^ hash_seed_)) & (index_.size() - 1);
}

size_t RecentFpTable::find(const protocol::Fingerprint& fp) const {
  const size_t mask = index_.size() - 1;
  // Load <= 1/2, so an empty position ends every probe sequence.
  for (size_t position = home_of(fp);; position = (position + 1) & mask) {
    const uint32_t slot = index_[position];
    if (slot == kNoSlot) return index_.size();
    if (slots_[slot].fp == fp) return position;
  }
}

void RecentFpTable::index_insert(const protocol::Fingerprint& fp, uint32_t slot) {
  const size_t mask = index_.size() - 1;
  size_t position = home_of(fp);
  while (index_[position] != kNoSlot) position = (position + 1) & mask;
  index_[position] = slot;
}

void RecentFpTable::index_remove_at(size_t position) {
  ASSERT(position < index_.size());
  ASSERT(index_[position] != kNoSlot);
  // Backward-shift deletion: pull later members of the probe run into the hole when the hole
  // lies between their home and their position, so lookups never need tombstones.
  const size_t mask = index_.size() - 1;
  size_t hole = position;
  for (size_t next = (hole + 1) & mask; index_[next] != kNoSlot; next = (next + 1) & mask) {
    const size_t home = home_of(slots_[index_[next]].fp);
    if (((next - home) & mask) >= ((next - hole) & mask)) {
      index_[hole] = index_[next];
      hole = next;
    }
  }
  index_[hole] = kNoSlot;
}

std::optional<protocol::ChunkLocation> RecentFpTable::lookup(const protocol::Fingerprint& fp) {
  const size_t position = find(fp);
  if (position == index_.size()) return std::nullopt;
  Slot& slot = slots_[index_[position]];
  ASSERT(slot.used);
  slot.referenced = true;
  return slot.location;
}

bool RecentFpTable::insert(const protocol::Fingerprint& fp,
                           const protocol::ChunkLocation& location) {
  const size_t position = find(fp);
  if (position != index_.size()) {
    Slot& slot = slots_[index_[position]];
    ASSERT(slot.used);
    slot.location = location;
    slot.referenced = true;
    return false;
  }
  const uint32_t number = free_.empty() ? evict_one() : take_free_slot();
  Slot& slot = slots_[number];
  ASSERT(!slot.used);
  slot = Slot{fp, location, /*used=*/true, /*referenced=*/false};
  index_insert(fp, number);
  ++size_;
  ASSERT(size_ <= capacity());
  return true;
}

bool RecentFpTable::erase(const protocol::Fingerprint& fp) {
  const size_t position = find(fp);
  if (position == index_.size()) return false;
  const uint32_t number = index_[position];
  index_remove_at(position);
  slots_[number].used = false;
  slots_[number].referenced = false;
  free_.push_back(number);
  ASSERT(size_ > 0);
  --size_;
  return true;
}

uint32_t RecentFpTable::take_free_slot() {
  ASSERT(!free_.empty());
  const uint32_t number = free_.back();
  free_.pop_back();
  return number;
}

uint32_t RecentFpTable::evict_one() {
  ASSERT(size_ == capacity());
  // Every slot is used; the first lap clears reference bits, so the second lap finds a victim.
  for (size_t examined = 0; examined <= 2 * capacity(); ++examined) {
    const size_t number = hand_;
    hand_ = (hand_ + 1) % capacity();
    Slot& slot = slots_[number];
    ASSERT(slot.used);
    if (slot.referenced) {
      slot.referenced = false;
      continue;
    }
    const size_t position = find(slot.fp);
    ASSERT(position != index_.size());
    index_remove_at(position);
    slot.used = false;
    --size_;
    ++evictions_;
    return static_cast<uint32_t>(number);
  }
  UNREACHABLE("CLOCK found no victim in two laps");
}

}  // namespace splitarray::hostdriver::chunk
