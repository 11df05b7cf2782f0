// BTree: basic operations, flush and reopen, load and store failures, determinism, a large tree
// scanned within a small cache, and erase_from dropping subtrees without loading them.
#include <doctest/doctest.h>

#include "tests/unit/hostdriver/meta/meta_test_support.h"

namespace splitarray::hostdriver::meta::meta_test {
namespace {

constexpr uint32_t kNodeBytes = 4096;
constexpr size_t kBigCacheBytes = 64 << 20;

// Puts keys [first, first + count) with values value_of(key, value_bytes), in the order given by
// stride (a stride coprime to count visits every key once, out of order).
Task<Result<void>> put_range(BTree* tree, uint64_t first, uint64_t count, uint64_t stride,
                             size_t value_bytes) {
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t key = first + (i * stride) % count;
    const std::vector<uint8_t> value = value_of(key, value_bytes);
    Result<void> put = co_await tree->put(key, value);
    if (!put.ok()) co_return put;
  }
  co_return ok_result();
}

Model model_range(uint64_t first, uint64_t count, size_t value_bytes) {
  Model model;
  for (uint64_t k = first; k < first + count; ++k) model[k] = value_of(k, value_bytes);
  return model;
}

TEST_CASE("hostdriver/meta: btree basic operations and flush") {
  asio::io_context ctx;
  MemoryNodeIo io(kNodeBytes);
  NodeCache cache(kBigCacheBytes);
  BTree tree(cache, io, kNodeBytes, std::nullopt);
  CHECK_FALSE(tree.dirty());
  CHECK(run(ctx, tree.get(5)).value() == std::nullopt);
  CHECK(run(ctx, tree.scan(0, 10)).value().entries.empty());
  CHECK(run(ctx, tree.flush()).value() == std::nullopt);

  const std::vector<uint8_t> a{1, 2, 3};
  const std::vector<uint8_t> b(kValueBytesMax, 9);
  REQUIRE(run(ctx, tree.put(5, a)).ok());
  REQUIRE(run(ctx, tree.put(3, b)).ok());
  CHECK(tree.dirty());
  CHECK(tree.dirty_bytes() == kNodeBytes);
  CHECK(run(ctx, tree.get(5)).value() == a);
  CHECK(run(ctx, tree.get(3)).value() == b);
  CHECK(run(ctx, tree.get(4)).value() == std::nullopt);
  const std::vector<uint8_t> too_big(kValueBytesMax + 1);
  CHECK(run(ctx, tree.put(6, too_big)).code() == Code::kInvalidArgument);
  CHECK(run(ctx, tree.scan(0, kScanEntriesMax + 1)).code() == Code::kInvalidArgument);

  Scan first = run(ctx, tree.scan(0, 1)).value();
  REQUIRE(first.entries.size() == 1);
  CHECK(first.entries[0].key == 3);
  CHECK(first.next == std::optional<uint64_t>(5));
  Scan rest = run(ctx, tree.scan(*first.next, 10)).value();
  REQUIRE(rest.entries.size() == 1);
  CHECK(rest.next == std::nullopt);

  std::optional<BlockRef> root = run(ctx, tree.flush()).value();
  REQUIRE(root.has_value());
  CHECK_FALSE(tree.dirty());
  CHECK(tree.dirty_bytes() == 0);
  CHECK(tree.root() == root);
  CHECK(run(ctx, tree.erase(4)).value() == false);
  CHECK_FALSE(tree.dirty());  // erasing an absent key changes nothing
  CHECK(run(ctx, tree.put(5, a)).ok());
  CHECK_FALSE(tree.dirty());  // nor does putting the same value
  CHECK(run(ctx, tree.erase(5)).value() == true);
  CHECK(run(ctx, tree.erase(3)).value() == true);
  CHECK(tree.dirty());
  CHECK(tree.dirty_nodes() == 0);  // empty: nothing to store, but the root changed
  CHECK(run(ctx, tree.flush()).value() == std::nullopt);
  CHECK_FALSE(tree.dirty());
}

TEST_CASE("hostdriver/meta: btree reopened from its root in a fresh cache reads the same") {
  asio::io_context ctx;
  MemoryNodeIo io(kNodeBytes);
  std::optional<BlockRef> root;
  {
    NodeCache cache(kBigCacheBytes);
    BTree tree(cache, io, kNodeBytes, std::nullopt);
    REQUIRE(run(ctx, put_range(&tree, 0, 5000, 7, 100)).ok());
    CHECK(tree.dirty_nodes() > 100);
    root = run(ctx, tree.flush()).value();
  }
  NodeCache cache(64 << 10);
  BTree tree(cache, io, kNodeBytes, root);
  CHECK(run(ctx, scan_all(&tree, 333)).value() == model_range(0, 5000, 100));
  CHECK(run(ctx, tree.get(4321)).value() == value_of(4321, 100));
  const size_t nodes = run(ctx, count_nodes(&tree)).value();
  CHECK(nodes == io.nodes_stored());  // one flush from empty: every stored node is live
  CHECK(cache.bytes() <= cache.budget_bytes());
  CHECK(cache.stats().evictions > 0);
}

TEST_CASE("hostdriver/meta: btree load failure returns the error and leaves the tree readable") {
  asio::io_context ctx;
  MemoryNodeIo io(kNodeBytes);
  NodeCache build_cache(kBigCacheBytes);
  BTree built(build_cache, io, kNodeBytes, std::nullopt);
  REQUIRE(run(ctx, put_range(&built, 0, 3000, 1, 40)).ok());
  const std::optional<BlockRef> root = run(ctx, built.flush()).value();

  NodeCache cache(16 << 10);
  BTree tree(cache, io, kNodeBytes, root);
  io.fail_next_loads(1);
  CHECK(run(ctx, tree.get(10)).code() == Code::kIo);
  io.fail_next_loads(1);
  CHECK(run(ctx, tree.put(10, std::vector<uint8_t>{1})).code() == Code::kIo);
  io.fail_next_loads(1);
  CHECK(run(ctx, tree.erase_from(1500)).code() == Code::kIo);
  io.fail_next_loads(1);
  CHECK(run(ctx, tree.scan(0, 10)).code() == Code::kIo);
  CHECK_FALSE(tree.dirty());  // nothing changed
  CHECK(run(ctx, tree.get(10)).value() == value_of(10, 40));
  CHECK(run(ctx, scan_all(&tree, 1000)).value() == model_range(0, 3000, 40));

  // A damaged node: the NodeIo's fp check answers kCorruption, which passes through.
  io.damage(*root);
  NodeCache cold(16 << 10);
  BTree damaged(cold, io, kNodeBytes, root);
  CHECK(run(ctx, damaged.get(10)).code() == Code::kCorruption);
  // A malformed node with a correct fp: decode answers kCorruption.
  std::vector<uint8_t> junk(kNodeBytes, 0);
  junk[0] = 1;
  const BlockRef junk_ref = io.put_raw(junk);
  BTree malformed(cold, io, kNodeBytes, junk_ref);
  Result<std::optional<std::vector<uint8_t>>> got = run(ctx, malformed.get(1));
  CHECK(got.code() == Code::kCorruption);
}

TEST_CASE("hostdriver/meta: btree store failure keeps the tree dirty and flush can be retried") {
  asio::io_context ctx;
  MemoryNodeIo io(kNodeBytes);
  NodeCache cache(kBigCacheBytes);
  BTree tree(cache, io, kNodeBytes, std::nullopt);
  REQUIRE(run(ctx, put_range(&tree, 0, 4000, 3, 60)).ok());
  for (int failing_call = 0; failing_call < 3; ++failing_call) {
    io.fail_next_stores(1, failing_call);  // level failing_call fails, the ones below store
    CHECK(run(ctx, tree.flush()).code() == Code::kIo);
    CHECK(tree.dirty());
    CHECK(run(ctx, tree.get(17)).value() == value_of(17, 60));
    REQUIRE(run(ctx, tree.put(100000 + failing_call, std::vector<uint8_t>{7})).ok());
  }
  const std::optional<BlockRef> root = run(ctx, tree.flush()).value();
  REQUIRE(root.has_value());
  Model expected = model_range(0, 4000, 60);
  for (uint64_t k = 100000; k < 100003; ++k) expected[k] = {7};
  NodeCache fresh(32 << 10);
  BTree reopened(fresh, io, kNodeBytes, root);
  CHECK(run(ctx, scan_all(&reopened, 500)).value() == expected);
}

// The bytes of every leaf in key order (leaves hold no refs, so they do not depend on where the
// NodeIo put earlier nodes).
std::vector<std::vector<uint8_t>> leaf_bytes(asio::io_context& ctx, BTree& tree,
                                             const MemoryNodeIo& io) {
  std::vector<std::vector<uint8_t>> out;
  std::function<void(const BlockRef&, bool)> visit = [&](const BlockRef& ref, bool is_leaf) {
    if (is_leaf) out.push_back(io.bytes_of(ref));
  };
  REQUIRE(run(ctx, tree.visit_nodes(visit)).ok());
  return out;
}

TEST_CASE("hostdriver/meta: btree is deterministic whatever the flushes and cache") {
  // a never flushes until the end; b and c flush and reopen every 500 steps, c with a big cache
  // and b with a tiny one. b and c store the same nodes in the same order: same root fp. a stores
  // other intermediate nodes (so its refs point elsewhere) but has the same shape and leaves.
  asio::io_context ctx;
  MemoryNodeIo io_a(kNodeBytes);
  MemoryNodeIo io_b(kNodeBytes);
  MemoryNodeIo io_c(kNodeBytes);
  NodeCache cache_a(kBigCacheBytes);
  NodeCache cache_b(8 << 10);
  NodeCache cache_c(kBigCacheBytes);
  BTree a(cache_a, io_a, kNodeBytes, std::nullopt);
  auto b = std::make_unique<BTree>(cache_b, io_b, kNodeBytes, std::nullopt);
  auto c = std::make_unique<BTree>(cache_c, io_c, kNodeBytes, std::nullopt);
  Prng rng(42);
  for (int step = 0; step < 6000; ++step) {
    const uint64_t key = rng.below(3000);
    const std::vector<uint8_t> value = value_of(key + step, rng.below(200));
    if (rng.chance(0.2)) {
      const bool erased = run(ctx, a.erase(key)).value();
      CHECK(run(ctx, b->erase(key)).value() == erased);
      CHECK(run(ctx, c->erase(key)).value() == erased);
    } else {
      REQUIRE(run(ctx, a.put(key, value)).ok());
      REQUIRE(run(ctx, b->put(key, value)).ok());
      REQUIRE(run(ctx, c->put(key, value)).ok());
    }
    if (step % 500 == 499) {
      const std::optional<BlockRef> root_b = run(ctx, b->flush()).value();
      b = std::make_unique<BTree>(cache_b, io_b, kNodeBytes, root_b);
      const std::optional<BlockRef> root_c = run(ctx, c->flush()).value();
      c = std::make_unique<BTree>(cache_c, io_c, kNodeBytes, root_c);
    }
  }
  const std::optional<BlockRef> root_a = run(ctx, a.flush()).value();
  const std::optional<BlockRef> root_b = run(ctx, b->flush()).value();
  const std::optional<BlockRef> root_c = run(ctx, c->flush()).value();
  REQUIRE(root_a.has_value());
  REQUIRE(root_b.has_value());
  REQUIRE(root_c.has_value());
  CHECK(*root_b == *root_c);
  CHECK(io_b.bytes_of(*root_b) == io_c.bytes_of(*root_c));
  const std::vector<std::vector<uint8_t>> leaves_a = leaf_bytes(ctx, a, io_a);
  CHECK(leaves_a.size() > 10);
  CHECK(leaves_a == leaf_bytes(ctx, *b, io_b));
  CHECK(run(ctx, count_nodes(&a)).value() == run(ctx, count_nodes(b.get())).value());
}

TEST_CASE("hostdriver/meta: btree of 100000 entries scans in order within a small cache") {
  constexpr uint64_t kEntries = 100000;
  constexpr size_t kValueBytes = 40;
  constexpr size_t kScanBudgetBytes = 128 << 10;  // the tree is ~40x larger
  asio::io_context ctx;
  MemoryNodeIo io(kNodeBytes);
  std::optional<BlockRef> root;
  {
    NodeCache cache(1 << 20);
    BTree tree(cache, io, kNodeBytes, std::nullopt);
    for (uint64_t part = 0; part < 10; ++part) {  // interleave flushes with inserts
      const uint64_t count = kEntries / 10;
      REQUIRE(run(ctx, put_range(&tree, part * count, count, 7, kValueBytes)).ok());
      root = run(ctx, tree.flush()).value();
    }
  }
  NodeCache cache(kScanBudgetBytes);
  BTree tree(cache, io, kNodeBytes, root);
  const size_t nodes = run(ctx, count_nodes(&tree)).value();
  CHECK(nodes * kNodeBytes > 30 * kScanBudgetBytes);
  uint64_t expected_key = 0;
  uint64_t from = 0;
  while (true) {
    Scan page = run(ctx, tree.scan(from, 1000)).value();
    for (const LeafEntry& entry : page.entries) {
      REQUIRE(entry.key == expected_key);
      REQUIRE(entry.value == value_of(entry.key, kValueBytes));
      ++expected_key;
    }
    REQUIRE(cache.bytes() <= kScanBudgetBytes);
    if (!page.next) break;
    from = *page.next;
  }
  CHECK(expected_key == kEntries);
  CHECK(cache.stats().evictions > 0);
}

TEST_CASE("hostdriver/meta: btree erase_from drops subtrees without loading them") {
  asio::io_context ctx;
  MemoryNodeIo io(kNodeBytes);
  NodeCache build_cache(kBigCacheBytes);
  BTree built(build_cache, io, kNodeBytes, std::nullopt);
  REQUIRE(run(ctx, put_range(&built, 0, 20000, 1, 100)).ok());
  const std::optional<BlockRef> root = run(ctx, built.flush()).value();
  const size_t nodes_before = run(ctx, count_nodes(&built)).value();

  NodeCache cache(kBigCacheBytes);
  BTree tree(cache, io, kNodeBytes, root);
  const uint64_t loads_before = io.loads();
  const ErasedFrom erased = run(ctx, tree.erase_from(12345)).value();
  CHECK(io.loads() - loads_before <= kTreeLevelsMax);  // one path, not 7000 entries' leaves
  CHECK(erased.any());
  CHECK(erased.subtrees_dropped > 0);
  CHECK(erased.entries_counted < 20000 - 12345);
  CHECK(run(ctx, tree.erase_from(12345)).value() == ErasedFrom{});
  CHECK(run(ctx, tree.get(12344)).value() == value_of(12344, 100));
  CHECK(run(ctx, tree.get(12345)).value() == std::nullopt);
  const std::optional<BlockRef> cut_root = run(ctx, tree.flush()).value();
  REQUIRE(cut_root.has_value());
  CHECK(check_stored_tree(io, kNodeBytes, *cut_root, -1, 0, std::nullopt) == 12345);
  NodeCache fresh(64 << 10);
  BTree reopened(fresh, io, kNodeBytes, cut_root);
  CHECK(run(ctx, scan_all(&reopened, 4000)).value() == model_range(0, 12345, 100));
  CHECK(run(ctx, count_nodes(&reopened)).value() < nodes_before);

  const ErasedFrom all = run(ctx, reopened.erase_from(0)).value();
  CHECK(all.any());
  CHECK(run(ctx, reopened.flush()).value() == std::nullopt);
  CHECK(run(ctx, scan_all(&reopened, 10)).value().empty());
}

}  // namespace
}  // namespace splitarray::hostdriver::meta::meta_test
