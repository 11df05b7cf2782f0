// hostdriver/meta/node_cache.h
// NodeCache: decoded clean B+tree nodes keyed by fingerprint, shared by every tree of a
// datastore. Nodes are content-addressed and immutable, so an entry is never stale and two trees
// that share a subtree (a snapshot and its origin) share its cached nodes. LRU, bounded by a byte
// budget charged with an estimate of each decoded node's memory (node_memory_bytes).
// Invariants:
//   (1) bytes() <= budget_bytes after every call (an entry larger than the budget is returned to
//       the caller but not kept).
//   (2) Entries are std::shared_ptr<const DecodedNode>: a caller holding one keeps it valid
//       across eviction; such held nodes are not charged to the budget.
//   (3) Eviction order depends only on the sequence of calls (std::map + list, no hashing).
// Dirty (modified) nodes never live here: they are owned by their tree until it flushes.
// Threading: single-threaded (the event loop of the datastore).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>

#include "hostdriver/meta/btree_node.h"

namespace splitarray::hostdriver::meta {

struct NodeCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  uint64_t bytes = 0;    // charged bytes now
  uint64_t entries = 0;  // nodes now
};

// What a decoded node costs in memory, for the budget: the struct, its vectors and values.
size_t node_memory_bytes(const DecodedNode& node);

class NodeCache final {
 public:
  explicit NodeCache(size_t budget_bytes);
  NodeCache(const NodeCache&) = delete;
  NodeCache& operator=(const NodeCache&) = delete;
  NodeCache(NodeCache&&) = delete;
  NodeCache& operator=(NodeCache&&) = delete;

  // The node stored under fp, marked most recently used; null if absent. Counts a hit or miss.
  std::shared_ptr<const DecodedNode> lookup(const protocol::Fingerprint& fp);
  // Inserts the node decoded from the chunk fp (or refreshes the existing one, which is returned:
  // same fp, same content), then evicts least recently used entries down to the budget.
  std::shared_ptr<const DecodedNode> insert(const protocol::Fingerprint& fp, DecodedNode node);

  size_t bytes() const { return bytes_; }
  size_t budget_bytes() const { return budget_bytes_; }
  NodeCacheStats stats() const;

 private:
  struct Entry {
    protocol::Fingerprint fp;
    std::shared_ptr<const DecodedNode> node;
    size_t charged_bytes;
  };
  void evict_to_budget();

  const size_t budget_bytes_;
  std::list<Entry> lru_;  // most recently used first
  std::map<protocol::Fingerprint, std::list<Entry>::iterator> index_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace splitarray::hostdriver::meta
