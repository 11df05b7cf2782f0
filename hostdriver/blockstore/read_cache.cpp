// hostdriver/blockstore/read_cache.cpp
#include "hostdriver/blockstore/read_cache.h"

#include <cstring>

#include "common/assert.h"

namespace splitarray::hostdriver::blockstore {

size_t ReadCache::KeyHash::operator()(const Key& key) const {
  // Container ids and offsets are small, dense numbers: mix them (splitmix64's finaliser).
  uint64_t x = key.container * 0x9E3779B97F4A7C15ULL ^ key.offset;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return static_cast<size_t>(x ^ (x >> 31));
}

ReadCache::ReadCache(size_t capacity_bytes, uint32_t block_size)
    : block_size_(block_size), slots_(block_size == 0 ? 0 : capacity_bytes / block_size) {
  ASSERT(block_size > 0);
  ASSERT(slots_.size() <= UINT32_MAX);
  if (!slots_.empty()) {
    // Uninitialised: the kernel commits a page when a slot is first written.
    arena_ = std::make_unique_for_overwrite<uint8_t[]>(slots_.size() * block_size_);
    index_.reserve(slots_.size());
  }
}

bool ReadCache::lookup(const protocol::ChunkLocation& location, std::span<uint8_t> out) {
  ASSERT(out.size() == block_size_);
  const auto it = index_.find(Key{location.container_id, location.offset});
  if (it == index_.end()) return false;
  Slot& slot = slots_[it->second];
  ASSERT(slot.used);
  slot.referenced = true;
  std::memcpy(out.data(), arena_.get() + size_t{it->second} * block_size_, block_size_);
  return true;
}

size_t ReadCache::take_slot() {
  // Every full sweep clears every bit it passes, so the second sweep at the latest finds one.
  for (size_t steps = 0; steps <= 2 * slots_.size(); ++steps) {
    Slot& slot = slots_[hand_];
    const size_t at = hand_;
    hand_ = (hand_ + 1) % slots_.size();
    if (slot.used && slot.referenced) {
      slot.referenced = false;
      continue;
    }
    return at;
  }
  UNREACHABLE("CLOCK found no slot in two sweeps");
}

void ReadCache::insert(const protocol::ChunkLocation& location, std::span<const uint8_t> block) {
  ASSERT(block.size() == block_size_);
  if (slots_.empty()) return;
  const Key key{location.container_id, location.offset};
  if (index_.contains(key)) return;
  const size_t at = take_slot();
  Slot& slot = slots_[at];
  if (slot.used) {
    const size_t erased = index_.erase(slot.key);
    ASSERT(erased == 1);
  }
  slot = Slot{.key = key, .used = true, .referenced = false};
  std::memcpy(arena_.get() + at * block_size_, block.data(), block_size_);
  index_.emplace(key, static_cast<uint32_t>(at));
  ASSERT(index_.size() <= slots_.size());
}

}  // namespace splitarray::hostdriver::blockstore
