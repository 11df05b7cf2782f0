// BTree against a std::map model: random put/erase/erase_from/get/scan with values of random
// sizes up to kValueBytesMax, periodic flushes and reopens from the root into a fresh small cache
// (forcing loads and evictions); and many operations in flight on one tree at once with a NodeIo
// that completes asynchronously. Prints its seeds; SPLITARRAY_SEED=N replays one.
#include <doctest/doctest.h>

#include <exception>

#include "tests/unit/hostdriver/meta/meta_test_support.h"

namespace splitarray::hostdriver::meta::meta_test {
namespace {

constexpr size_t kOpsPerSeed = 6000;
constexpr uint64_t kKeySpace = 2500;
constexpr size_t kSmallCacheBytes = 48 << 10;

std::vector<uint8_t> random_value(Prng& rng) {
  const size_t length = rng.chance(0.1) ? rng.between(0, kValueBytesMax) : rng.below(80);
  std::vector<uint8_t> value(length);
  rng.fill(value);
  return value;
}

class ModelRun {
 public:
  ModelRun(uint64_t seed, uint32_t node_bytes)
      : rng_(seed), node_bytes_(node_bytes), io_(node_bytes) {
    reopen(std::nullopt);
  }

  void step(size_t i) {
    CAPTURE(i);
    const uint64_t key = rng_.below(kKeySpace);
    const uint64_t op = rng_.below(100);
    if (op < 45) {
      const std::vector<uint8_t> value = random_value(rng_);
      REQUIRE(run(ctx_, tree_->put(key, value)).ok());
      model_[key] = value;
    } else if (op < 62) {
      const bool existed = model_.erase(key) > 0;
      CHECK(run(ctx_, tree_->erase(key)).value() == existed);
    } else if (op < 64) {
      erase_from(kKeySpace - rng_.below(kKeySpace / 8));  // trims the top, mostly
    } else if (op < 85) {
      auto found = model_.find(key);
      const std::optional<std::vector<uint8_t>> expected =
          found == model_.end() ? std::nullopt : std::optional(found->second);
      CHECK(run(ctx_, tree_->get(key)).value() == expected);
    } else {
      check_scan(key, rng_.below(300));
    }
    if (i % 700 == 699) flush_and_maybe_reopen();
  }

  void finish() {
    flush_and_maybe_reopen();
    const std::optional<BlockRef> root = tree_->root();
    REQUIRE(root.has_value());
    CHECK(check_stored_tree(io_, node_bytes_, *root, -1, 0, std::nullopt) == model_.size());
    reopen(root);
    CHECK(run(ctx_, scan_all(tree_.get(), 1000)).value() == model_);
    CHECK(cache_->bytes() <= kSmallCacheBytes);
    CHECK(cache_->stats().evictions > 0);
    CHECK(io_.loads() > 0);
  }

 private:
  void erase_from(uint64_t first) {
    uint64_t expected = 0;
    for (auto it = model_.lower_bound(first); it != model_.end();) {
      it = model_.erase(it);
      ++expected;
    }
    const ErasedFrom erased = run(ctx_, tree_->erase_from(first)).value();
    CHECK(erased.any() == (expected > 0));
    CHECK(erased.entries_counted <= expected);
  }

  void check_scan(uint64_t from, size_t entries_max) {
    const Scan scan = run(ctx_, tree_->scan(from, entries_max)).value();
    auto it = model_.lower_bound(from);
    for (const LeafEntry& entry : scan.entries) {
      REQUIRE(it != model_.end());
      CHECK(entry.key == it->first);
      CHECK(entry.value == it->second);
      ++it;
    }
    CHECK(scan.entries.size() <= entries_max);
    const std::optional<uint64_t> next =
        it == model_.end() ? std::nullopt : std::optional<uint64_t>(it->first);
    CHECK(scan.next == next);
  }

  void flush_and_maybe_reopen() {
    const std::optional<BlockRef> root = run(ctx_, tree_->flush()).value();
    if (root)
      CHECK(check_stored_tree(io_, node_bytes_, *root, -1, 0, std::nullopt) == model_.size());
    CHECK_FALSE(tree_->dirty());
    CHECK(tree_->dirty_bytes() == 0);
    if (rng_.chance(0.6)) reopen(root);
  }

  void reopen(std::optional<BlockRef> root) {
    tree_.reset();
    cache_ = std::make_unique<NodeCache>(kSmallCacheBytes);
    tree_ = std::make_unique<BTree>(*cache_, io_, node_bytes_, root);
  }

  Prng rng_;
  const uint32_t node_bytes_;
  asio::io_context ctx_;
  MemoryNodeIo io_;
  std::unique_ptr<NodeCache> cache_;
  std::unique_ptr<BTree> tree_;
  Model model_;
};

TEST_CASE("hostdriver/meta: btree matches a model under random operations and reopens") {
  for (uint64_t seed : test_seeds({1, 2, 3, 4})) {
    const uint32_t node_bytes = seed % 4 == 0 ? 8192 : 4096;
    MESSAGE("SPLITARRAY_SEED=" << seed << " node_bytes=" << node_bytes);
    ModelRun run(seed, node_bytes);
    for (size_t i = 0; i < kOpsPerSeed; ++i) run.step(i);
    run.finish();
  }
}

// --- Many operations in flight ------------------------------------------------------------------

constexpr uint64_t kWorkers = 48;
constexpr uint64_t kWorkerOps = 150;
constexpr uint64_t kConcurrentKeys = 6000;  // key % kWorkers names its worker; the last is idle

struct WorkerOutcome {
  Model model;  // the worker's keys as it left them
  uint64_t mismatches = 0;
  std::string error;
  bool done = false;
};

// Worker `id` owns the keys k with k % kWorkers == id, so its view is independent of the others'
// interleaving. Its scans must see every idle key (owned by no worker) unchanged.
Task<void> worker(BTree* tree, uint64_t id, uint64_t seed, const Model* idle, WorkerOutcome* out) {
  Prng rng(seed);
  for (uint64_t i = 0; i < kWorkerOps; ++i) {
    const uint64_t key = rng.below(kConcurrentKeys / kWorkers) * kWorkers + id;
    const uint64_t op = rng.below(10);
    if (op < 5) {
      const std::vector<uint8_t> value = random_value(rng);
      Result<void> put = co_await tree->put(key, value);
      if (!put.ok()) out->error = put.error().to_string();
      out->model[key] = value;
    } else if (op < 7) {
      Result<bool> erased = co_await tree->erase(key);
      if (!erased.ok()) out->error = erased.error().to_string();
      const bool existed = out->model.erase(key) > 0;
      if (erased.ok() && *erased != existed) ++out->mismatches;
    } else if (op < 9) {
      Result<std::optional<std::vector<uint8_t>>> got = co_await tree->get(key);
      if (!got.ok()) {
        out->error = got.error().to_string();
        break;
      }
      auto found = out->model.find(key);
      const bool match = found == out->model.end() ? !got->has_value()
                                                   : got->has_value() && **got == found->second;
      if (!match) ++out->mismatches;
    } else {
      const uint64_t from = rng.below(kConcurrentKeys);
      Result<Scan> scanned = co_await tree->scan(from, 200);
      if (!scanned.ok()) {
        out->error = scanned.error().to_string();
        break;
      }
      uint64_t last = 0;
      for (const LeafEntry& entry : scanned->entries) {
        if (entry.key < from || (last != 0 && entry.key <= last)) ++out->mismatches;
        last = entry.key;
        auto stable = idle->find(entry.key);
        if (entry.key % kWorkers == kWorkers - 1 &&
            (stable == idle->end() || stable->second != entry.value)) {
          ++out->mismatches;
        }
      }
    }
    if (!out->error.empty()) break;
  }
  out->done = true;
}

TEST_CASE("hostdriver/meta: btree operations in flight together give the model's results") {
  for (uint64_t seed : test_seeds({11, 12})) {
    MESSAGE("SPLITARRAY_SEED=" << seed);
    asio::io_context ctx;
    MemoryNodeIo io(4096, /*async=*/true, seed);
    NodeCache build_cache(64 << 20);
    BTree built(build_cache, io, 4096, std::nullopt);
    Prng rng(seed);
    std::vector<WorkerOutcome> outcomes(kWorkers);
    Model idle;
    for (uint64_t key = 0; key < kConcurrentKeys; key += 3) {
      const std::vector<uint8_t> value = random_value(rng);
      REQUIRE(run(ctx, built.put(key, value)).ok());
      if (key % kWorkers == kWorkers - 1) idle[key] = value;
      if (key % kWorkers != kWorkers - 1) outcomes[key % kWorkers].model[key] = value;
    }
    const std::optional<BlockRef> root = run(ctx, built.flush()).value();
    NodeCache cache(24 << 10);  // tiny: most steps load, and loads interleave
    BTree tree(cache, io, 4096, root);
    size_t finished = 0;
    for (uint64_t id = 0; id + 1 < kWorkers; ++id) {
      asio::co_spawn(ctx, worker(&tree, id, seed * 1000 + id, &idle, &outcomes[id]),
                     [&finished](std::exception_ptr e) {
                       if (e) std::rethrow_exception(e);
                       ++finished;
                     });
    }
    ctx.restart();
    ctx.run();
    REQUIRE(finished == kWorkers - 1);
    Model expected = idle;
    for (uint64_t id = 0; id + 1 < kWorkers; ++id) {
      CAPTURE(id);
      CHECK(outcomes[id].done);
      CHECK(outcomes[id].error == "");
      CHECK(outcomes[id].mismatches == 0);
      expected.insert(outcomes[id].model.begin(), outcomes[id].model.end());
    }
    CHECK(run(ctx, scan_all(&tree, 700)).value() == expected);
    const std::optional<BlockRef> after = run(ctx, tree.flush()).value();
    REQUIRE(after.has_value());
    CHECK(check_stored_tree(io, 4096, *after, -1, 0, std::nullopt) == expected.size());
    NodeCache fresh(24 << 10);
    BTree reopened(fresh, io, 4096, after);
    CHECK(run(ctx, scan_all(&reopened, 700)).value() == expected);
    CHECK(io.loads() > kWorkers);
  }
}

}  // namespace
}  // namespace splitarray::hostdriver::meta::meta_test
