// hostdriver/meta/node_cache.cpp
#include "hostdriver/meta/node_cache.h"

#include "common/assert.h"

namespace splitarray::hostdriver::meta {
namespace {

// Per heap allocation (a value's buffer): allocator header and rounding, roughly.
constexpr size_t kAllocationOverheadBytes = 16;

}  // namespace

size_t node_memory_bytes(const DecodedNode& node) {
  size_t bytes = sizeof(DecodedNode) + node.children.capacity() * sizeof(ChildRef) +
                 node.entries.capacity() * sizeof(LeafEntry);
  for (const LeafEntry& entry : node.entries) {
    if (entry.value.capacity() > 0) bytes += entry.value.capacity() + kAllocationOverheadBytes;
  }
  return bytes;
}

NodeCache::NodeCache(size_t budget_bytes) : budget_bytes_(budget_bytes) {}

std::shared_ptr<const DecodedNode> NodeCache::lookup(const protocol::Fingerprint& fp) {
  auto found = index_.find(fp);
  if (found == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, found->second);
  ASSERT(lru_.begin() == found->second);
  return found->second->node;
}

std::shared_ptr<const DecodedNode> NodeCache::insert(const protocol::Fingerprint& fp,
                                                     DecodedNode node) {
  auto found = index_.find(fp);
  if (found != index_.end()) {
    lru_.splice(lru_.begin(), lru_, found->second);
    return found->second->node;
  }
  const size_t charged = node_memory_bytes(node);
  auto shared = std::make_shared<const DecodedNode>(std::move(node));
  lru_.push_front(Entry{fp, shared, charged});
  index_.emplace(fp, lru_.begin());
  bytes_ += charged;
  evict_to_budget();
  ASSERT(bytes_ <= budget_bytes_);
  ASSERT(index_.size() == lru_.size());
  return shared;
}

void NodeCache::evict_to_budget() {
  while (bytes_ > budget_bytes_) {
    ASSERT(!lru_.empty());
    const Entry& victim = lru_.back();
    ASSERT(bytes_ >= victim.charged_bytes);
    bytes_ -= victim.charged_bytes;
    index_.erase(victim.fp);
    lru_.pop_back();
    ++evictions_;
  }
}

NodeCacheStats NodeCache::stats() const {
  return {.hits = hits_,
          .misses = misses_,
          .evictions = evictions_,
          .bytes = bytes_,
          .entries = index_.size()};
}

}  // namespace splitarray::hostdriver::meta
