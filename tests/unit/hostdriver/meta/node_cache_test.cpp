// NodeCache: LRU by a byte budget, counters, and nodes held by a caller surviving eviction.
#include <doctest/doctest.h>

#include "hostdriver/meta/node_cache.h"

namespace splitarray::hostdriver::meta {
namespace {

protocol::Fingerprint fp_of(uint8_t n) {
  protocol::Fingerprint fp{};
  fp[0] = n;
  return fp;
}

DecodedNode leaf_of(uint64_t key) {
  DecodedNode node;
  node.entries.push_back(LeafEntry{key, std::vector<uint8_t>(100, uint8_t(key))});
  return node;
}

TEST_CASE("hostdriver/meta: node cache evicts least recently used within its budget") {
  const size_t one = node_memory_bytes(leaf_of(0));
  NodeCache cache(3 * one);
  for (uint8_t i = 0; i < 3; ++i) cache.insert(fp_of(i), leaf_of(i));
  CHECK(cache.bytes() == 3 * one);
  REQUIRE(cache.lookup(fp_of(0)) != nullptr);  // 0 becomes most recent: 1 is next to go
  std::shared_ptr<const DecodedNode> held = cache.lookup(fp_of(1));
  REQUIRE(held != nullptr);
  cache.lookup(fp_of(2));
  cache.lookup(fp_of(0));  // order now (recent first): 0 2 1
  cache.insert(fp_of(3), leaf_of(3));
  CHECK(cache.lookup(fp_of(1)) == nullptr);
  CHECK(held->entries.at(0).key == 1);  // still valid after eviction
  CHECK(cache.lookup(fp_of(0)) != nullptr);
  CHECK(cache.lookup(fp_of(2)) != nullptr);
  CHECK(cache.lookup(fp_of(3)) != nullptr);
  const NodeCacheStats stats = cache.stats();
  CHECK(stats.evictions == 1);
  CHECK(stats.misses == 1);
  CHECK(stats.hits == 7);
  CHECK(stats.entries == 3);
  CHECK(stats.bytes <= 3 * one);
}

TEST_CASE("hostdriver/meta: node cache keeps one entry per fingerprint") {
  NodeCache cache(1 << 20);
  std::shared_ptr<const DecodedNode> first = cache.insert(fp_of(1), leaf_of(1));
  std::shared_ptr<const DecodedNode> again = cache.insert(fp_of(1), leaf_of(1));
  CHECK(first == again);
  CHECK(cache.stats().entries == 1);
  CHECK(cache.bytes() == node_memory_bytes(leaf_of(1)));
}

TEST_CASE("hostdriver/meta: node cache smaller than one node keeps nothing") {
  NodeCache cache(10);
  std::shared_ptr<const DecodedNode> node = cache.insert(fp_of(1), leaf_of(1));
  REQUIRE(node != nullptr);
  CHECK(node->entries.at(0).key == 1);
  CHECK(cache.bytes() == 0);
  CHECK(cache.lookup(fp_of(1)) == nullptr);
  CHECK(cache.stats().evictions == 1);
}

}  // namespace
}  // namespace splitarray::hostdriver::meta
