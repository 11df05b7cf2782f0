// hostdriver/blockstore/read_cache.h
// ReadCache: decoded blocks kept in host memory, keyed by chunk LOCATION (container, offset),
// not by fp: a location names exactly one stored chunk, so even colliding fingerprints (the
// truncated-fp test build) can never make the cache answer another block's bytes. Entries never
// go stale (containers are immutable). LRU, bounded by bytes.
// Invariants: bytes() <= capacity_bytes; eviction order depends only on the call sequence.
// Threading: single-threaded.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "protocol/shelf_messages.h"

namespace splitarray::hostdriver::blockstore {

class ReadCache final {
 public:
  explicit ReadCache(size_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}
  ReadCache(const ReadCache&) = delete;
  ReadCache& operator=(const ReadCache&) = delete;

  // Copies the block into out and marks it recently used; false if absent.
  bool lookup(const protocol::ChunkLocation& location, std::span<uint8_t> out);
  void insert(const protocol::ChunkLocation& location, std::span<const uint8_t> block);
  size_t bytes() const { return bytes_; }

 private:
  using Key = std::pair<uint64_t, uint32_t>;  // container, offset
  struct Entry {
    Key key;
    std::vector<uint8_t> block;
  };
  const size_t capacity_bytes_;
  std::list<Entry> lru_;  // most recent first
  std::map<Key, std::list<Entry>::iterator> index_;
  size_t bytes_ = 0;
};

}  // namespace splitarray::hostdriver::blockstore
