// hostdriver/blockstore/read_cache.cpp
#include "hostdriver/blockstore/read_cache.h"

#include <algorithm>

#include "common/assert.h"

namespace splitarray::hostdriver::blockstore {

bool ReadCache::lookup(const protocol::ChunkLocation& location, std::span<uint8_t> out) {
  auto it = index_.find(Key{location.container_id, location.offset});
  if (it == index_.end()) return false;
  const std::vector<uint8_t>& block = it->second->block;
  if (block.size() != out.size()) return false;
  std::copy(block.begin(), block.end(), out.begin());
  lru_.splice(lru_.begin(), lru_, it->second);
  return true;
}

void ReadCache::insert(const protocol::ChunkLocation& location, std::span<const uint8_t> block) {
  if (block.size() > capacity_bytes_) return;
  const Key key{location.container_id, location.offset};
  if (index_.count(key) != 0) return;
  while (bytes_ + block.size() > capacity_bytes_) {
    ASSERT(!lru_.empty());
    bytes_ -= lru_.back().block.size();
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(Entry{key, std::vector<uint8_t>(block.begin(), block.end())});
  index_[key] = lru_.begin();
  bytes_ += block.size();
  ASSERT(bytes_ <= capacity_bytes_);
}

}  // namespace splitarray::hostdriver::blockstore
