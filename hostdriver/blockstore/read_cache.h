// hostdriver/blockstore/read_cache.h
// ReadCache: decoded blocks kept in host memory, keyed by chunk LOCATION (container, offset),
// not by fp: a location names exactly one stored chunk, so even colliding fingerprints (the
// truncated-fp test build) can never make the cache answer another block's bytes. Entries never
// go stale (containers are immutable). Filled by reads and, write-through, by writes of new
// chunks (DESIGN.md §3 step 8), so a read after a write finds its block here.
//
// Layout: one arena of capacity_bytes / block_size slots of block_size bytes, allocated once
// (its pages are committed as slots fill); a hash index location -> slot. Eviction is CLOCK: a
// hit sets the slot's referenced bit; the hand sweeps the slots in order, clearing set bits and
// taking the first slot whose bit is clear. A block read once (a scan, a write-through of a
// block nobody reads) is evicted on the hand's next pass; a block read again survives it.
// Invariants: bytes() <= capacity_bytes; index_ and the used slots name each other exactly;
// which slot is evicted depends only on the call sequence (the hash index is never iterated).
// Threading: single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "protocol/shelf_messages.h"

namespace splitarray::hostdriver::blockstore {

class ReadCache final {
 public:
  // Holds at most capacity_bytes / block_size blocks of block_size bytes (0: caches nothing).
  ReadCache(size_t capacity_bytes, uint32_t block_size);
  ReadCache(const ReadCache&) = delete;
  ReadCache& operator=(const ReadCache&) = delete;

  // Copies the block (out.size() == block_size) into out and marks it referenced; false if
  // absent.
  bool lookup(const protocol::ChunkLocation& location, std::span<uint8_t> out);
  // Caches a copy of `block` (block_size bytes) as the decoded bytes of `location`; a location
  // already cached keeps its entry (its bytes are the same: containers are immutable).
  void insert(const protocol::ChunkLocation& location, std::span<const uint8_t> block);
  size_t bytes() const { return index_.size() * block_size_; }
  size_t entries() const { return index_.size(); }
  size_t capacity_entries() const { return slots_.size(); }

 private:
  struct Key {
    uint64_t container = 0;
    uint32_t offset = 0;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  struct Slot {
    Key key;
    bool used = false;
    bool referenced = false;
  };
  // The slot the next insert takes: the hand's first unused or unreferenced slot.
  size_t take_slot();

  const uint32_t block_size_;
  std::vector<Slot> slots_;
  std::unique_ptr<uint8_t[]> arena_;  // slots_.size() * block_size_ bytes
  std::unordered_map<Key, uint32_t, KeyHash> index_;
  size_t hand_ = 0;
};

}  // namespace splitarray::hostdriver::blockstore
