// tests/unit/hostdriver/meta/meta_test_support.h
// Test helpers for hostdriver/meta: an in-memory NodeIo (SHA-256 fingerprints, optional
// asynchronous completion and injected failures), seeds, and a std::map model of a tree.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/assert.h"
#include "common/prng.h"
#include "hostdriver/chunk/fingerprinter.h"
#include "hostdriver/meta/btree.h"
#include "tests/support/run.h"

namespace splitarray::hostdriver::meta::meta_test {

using blockstore::BlockRef;

template <class T>
Task<void> store_into(Task<T> task, std::optional<T>* out) {
  T value = co_await std::move(task);
  out->emplace(std::move(value));
}

// Runs a task to completion on ctx (Result<T> has no default constructor, which
// testing::run_task needs) and returns its value.
template <class T>
T run(asio::io_context& ctx, Task<T> task) {
  std::optional<T> out;
  testing::run_task(ctx, store_into(std::move(task), &out));
  ASSERT(out.has_value());
  return std::move(*out);
}

// Nodes by fp. Locations are made up (container 1 + n / 256, offset (n % 256) * node_bytes) but
// stable per fp, and checked on load so a ref from another store cannot pass.
class MemoryNodeIo final : public NodeIo {
 public:
  // async: every call first yields to the event loop 0..3 times (seeded), so operations that
  // await loads interleave.
  explicit MemoryNodeIo(uint32_t node_bytes, bool async = false, uint64_t seed = 1)
      : node_bytes_(node_bytes), async_(async), rng_(seed) {}

  Task<Result<std::vector<uint8_t>>> load(BlockRef ref) override {
    ++loads_;
    co_await yield_some();
    if (load_failures_ > 0) {
      --load_failures_;
      co_return make_error(Code::kIo, "memory node io: injected load failure");
    }
    auto found = nodes_.find(ref.fp);
    if (found == nodes_.end()) co_return make_error(Code::kNotFound, "memory node io: no node");
    if (found->second.location != ref.location) {
      co_return make_error(Code::kCorruption, "memory node io: wrong location");
    }
    if (fingerprinter_.fingerprint(found->second.bytes) != ref.fp) {
      co_return make_error(Code::kCorruption, "memory node io: fingerprint mismatch");
    }
    co_return found->second.bytes;
  }

  Task<Result<std::vector<BlockRef>>> store(std::vector<std::vector<uint8_t>> nodes) override {
    ++stores_;
    co_await yield_some();
    if (store_failures_ > 0 && stores_skipped_before_failure_ > 0) {
      --stores_skipped_before_failure_;
    } else if (store_failures_ > 0) {
      --store_failures_;
      co_return make_error(Code::kIo, "memory node io: injected store failure");
    }
    std::vector<BlockRef> refs;
    for (std::vector<uint8_t>& bytes : nodes) {
      ASSERT(bytes.size() == node_bytes_);
      refs.push_back(put_raw(std::move(bytes)));
    }
    nodes_stored_ += nodes.size();
    co_return refs;
  }

  // Stores bytes as they are (tests use it to plant malformed nodes).
  BlockRef put_raw(std::vector<uint8_t> bytes) {
    BlockRef ref;
    ref.fp = fingerprinter_.fingerprint(bytes);
    auto found = nodes_.find(ref.fp);
    if (found != nodes_.end()) return {ref.fp, found->second.location};
    const uint64_t n = nodes_.size();
    ref.location = {.container_id = 1 + n / 256,
                    .offset = static_cast<uint32_t>((n % 256) * node_bytes_),
                    .length = node_bytes_};
    nodes_.emplace(ref.fp, Stored{ref.location, std::move(bytes)});
    return ref;
  }
  // Flips a byte of a stored node (its fp no longer matches: load answers kCorruption).
  void damage(const BlockRef& ref) { nodes_.at(ref.fp).bytes[100] ^= 0xff; }

  const std::vector<uint8_t>& bytes_of(const BlockRef& ref) const {
    return nodes_.at(ref.fp).bytes;
  }

  void fail_next_loads(int n) { load_failures_ = n; }
  // The next n store calls after `after` successful ones fail.
  void fail_next_stores(int n, int after = 0) {
    store_failures_ = n;
    stores_skipped_before_failure_ = after;
  }
  uint64_t loads() const { return loads_; }
  uint64_t stores() const { return stores_; }
  uint64_t nodes_stored() const { return nodes_stored_; }
  size_t nodes() const { return nodes_.size(); }

 private:
  struct Stored {
    protocol::ChunkLocation location;
    std::vector<uint8_t> bytes;
  };
  Task<void> yield_some() {
    if (!async_) co_return;
    auto executor = co_await asio::this_coro::executor;
    const uint64_t hops = rng_.below(4);
    for (uint64_t i = 0; i < hops; ++i) co_await asio::post(executor, asio::use_awaitable);
  }

  const uint32_t node_bytes_;
  const bool async_;
  Prng rng_;
  chunk::Fingerprinter fingerprinter_;
  std::map<protocol::Fingerprint, Stored> nodes_;
  int load_failures_ = 0;
  int store_failures_ = 0;
  int stores_skipped_before_failure_ = 0;
  uint64_t loads_ = 0;
  uint64_t stores_ = 0;
  uint64_t nodes_stored_ = 0;
};

using Model = std::map<uint64_t, std::vector<uint8_t>>;

// The seeds of a randomized test: SPLITARRAY_SEED alone when set, else `defaults`.
inline std::vector<uint64_t> test_seeds(std::vector<uint64_t> defaults) {
  const char* text = std::getenv("SPLITARRAY_SEED");
  if (text != nullptr) return {std::strtoull(text, nullptr, 10)};
  return defaults;
}

inline std::vector<uint8_t> value_of(uint64_t key, size_t length) {
  std::vector<uint8_t> value(length);
  for (size_t i = 0; i < length; ++i) value[i] = static_cast<uint8_t>(key * 131 + i * 7);
  return value;
}

// Every entry of the tree, paging through scan() with `page` entries per call.
inline Task<Result<Model>> scan_all(BTree* tree, size_t page) {
  Model out;
  uint64_t from = 0;
  while (true) {
    Result<Scan> scanned = co_await tree->scan(from, page);
    if (!scanned.ok()) co_return std::move(scanned).take_error();
    ASSERT(scanned->entries.size() <= page);
    for (LeafEntry& entry : scanned->entries) {
      ASSERT(out.empty() || out.rbegin()->first < entry.key);
      out.emplace(entry.key, std::move(entry.value));
    }
    if (!scanned->next) co_return out;
    ASSERT(out.empty() || *scanned->next > out.rbegin()->first);
    from = *scanned->next;
  }
}

// The nodes reachable from the tree's root (which must be clean).
inline Task<Result<size_t>> count_nodes(BTree* tree) {
  size_t count = 0;
  std::function<void(const BlockRef&, bool)> visit = [&count](const BlockRef&, bool) { ++count; };
  Result<void> visited = co_await tree->visit_nodes(visit);
  if (!visited.ok()) co_return std::move(visited).take_error();
  co_return count;
}

// fsck of a stored tree, straight from the NodeIo's bytes: every node decodes, is non-empty, has
// its parent's level - 1, and holds only keys in [lo, hi) given by its parent (invariant (1) of
// btree.h); an interior root has at least two children. Returns the number of entries.
inline uint64_t check_stored_tree(const MemoryNodeIo& io, uint32_t node_bytes, const BlockRef& ref,
                                  int level, uint64_t lo, std::optional<uint64_t> hi) {
  Result<DecodedNode> decoded = decode_node(io.bytes_of(ref), node_bytes);
  REQUIRE(decoded.ok());
  const DecodedNode& node = decoded.value();
  REQUIRE(node.count() > 0);
  if (level < 0) {
    CHECK((node.is_leaf() || node.children.size() >= 2));
  } else {
    REQUIRE(node.level == level);
  }
  if (node.is_leaf()) {
    CHECK(node.entries.front().key >= lo);
    if (hi) CHECK(node.entries.back().key < *hi);
    return node.entries.size();
  }
  uint64_t entries = 0;
  for (size_t i = 0; i < node.children.size(); ++i) {
    const uint64_t child_lo = node.children[i].key;
    CHECK(child_lo >= lo);
    const std::optional<uint64_t> child_hi =
        i + 1 < node.children.size() ? std::optional<uint64_t>(node.children[i + 1].key) : hi;
    entries +=
        check_stored_tree(io, node_bytes, node.children[i].ref, node.level - 1, child_lo, child_hi);
  }
  return entries;
}

}  // namespace splitarray::hostdriver::meta::meta_test
