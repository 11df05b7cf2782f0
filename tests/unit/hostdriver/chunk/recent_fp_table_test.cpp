// tests/unit/hostdriver/chunk/recent_fp_table_test.cpp
// RecentFpTable: hits after insert, the capacity bound, CLOCK's second chance, erase, heavy
// index collisions, and a randomized run against a model whose outcomes must not depend on the
// hash seed.
#include <doctest/doctest.h>

#include <map>

#include "hostdriver/chunk/recent_fp_table.h"
#include "tests/unit/hostdriver/chunk/chunk_test_util.h"

namespace splitarray::hostdriver::chunk::test {
namespace {

ChunkLocation location_of(uint64_t n) {
  return ChunkLocation{n, static_cast<uint32_t>(n * 7), static_cast<uint32_t>(n % 4096 + 1)};
}

// Distinct fps numbered n (byte 31 onwards carry n, so they differ where the hash does not look).
Fingerprint numbered_fp(uint64_t n, uint8_t prefix = 0) {
  Fingerprint fp{};
  fp[0] = prefix;
  for (size_t i = 0; i < 8; ++i) fp[31 - i] = static_cast<uint8_t>(n >> (8 * i));
  return fp;
}

TEST_CASE("hostdriver/chunk: recent table hits after insert and misses unknown fps") {
  RecentFpTable table(100, 1);
  CHECK(table.capacity() == 100);
  CHECK_FALSE(table.lookup(numbered_fp(1)).has_value());
  CHECK(table.insert(numbered_fp(1), location_of(1)));
  CHECK(table.lookup(numbered_fp(1)) == location_of(1));
  CHECK_FALSE(table.lookup(numbered_fp(2)).has_value());
  // Re-insert replaces the location (the chunk moved) without growing.
  CHECK_FALSE(table.insert(numbered_fp(1), location_of(9)));
  CHECK(table.lookup(numbered_fp(1)) == location_of(9));
  CHECK(table.size() == 1);
  CHECK(table.erase(numbered_fp(1)));
  CHECK_FALSE(table.erase(numbered_fp(1)));
  CHECK_FALSE(table.lookup(numbered_fp(1)).has_value());
  CHECK(table.size() == 0);
}

TEST_CASE("hostdriver/chunk: recent table never holds more than its capacity") {
  constexpr size_t kCapacity = 1000;
  RecentFpTable table(kCapacity, 2);
  for (uint64_t n = 0; n < 10 * kCapacity; ++n) {
    CHECK(table.insert(numbered_fp(n), location_of(n)));
    CHECK(table.size() == std::min<size_t>(n + 1, kCapacity));
    CHECK(table.lookup(numbered_fp(n)) == location_of(n));  // the newest is always present
  }
  CHECK(table.evictions() == 9 * kCapacity);
  size_t present = 0;
  for (uint64_t n = 0; n < 10 * kCapacity; ++n) {
    const auto hit = table.lookup(numbered_fp(n));
    if (hit) CHECK(*hit == location_of(n));
    present += hit ? 1 : 0;
  }
  CHECK(present == kCapacity);
}

TEST_CASE("hostdriver/chunk: CLOCK gives referenced entries a second chance") {
  constexpr size_t kCapacity = 64;
  constexpr size_t kHot = 16;
  RecentFpTable table(kCapacity, 3);
  for (uint64_t n = 0; n < kCapacity; ++n) table.insert(numbered_fp(n), location_of(n));
  for (uint64_t n = 0; n < kHot; ++n) REQUIRE(table.lookup(numbered_fp(n)).has_value());
  // New entries evict exactly the cold ones.
  for (uint64_t n = 1000; n < 1000 + kCapacity - kHot; ++n) {
    table.insert(numbered_fp(n), location_of(n));
  }
  for (uint64_t n = 0; n < kHot; ++n) CHECK(table.lookup(numbered_fp(n)) == location_of(n));
  for (uint64_t n = kHot; n < kCapacity; ++n) CHECK_FALSE(table.lookup(numbered_fp(n)));
  for (uint64_t n = 1000; n < 1000 + kCapacity - kHot; ++n) {
    CHECK(table.lookup(numbered_fp(n)) == location_of(n));
  }
  CHECK(table.evictions() == kCapacity - kHot);
}

TEST_CASE("hostdriver/chunk: an erased slot is reused before anything is evicted") {
  constexpr size_t kCapacity = 32;
  RecentFpTable table(kCapacity, 4);
  for (uint64_t n = 0; n < kCapacity; ++n) table.insert(numbered_fp(n), location_of(n));
  CHECK(table.erase(numbered_fp(5)));
  CHECK(table.insert(numbered_fp(100), location_of(100)));
  CHECK(table.evictions() == 0);
  for (uint64_t n = 0; n < kCapacity; ++n) {
    if (n != 5) CHECK(table.lookup(numbered_fp(n)) == location_of(n));
  }
  CHECK(table.lookup(numbered_fp(100)) == location_of(100));
}

TEST_CASE("hostdriver/chunk: recent table stays correct when every fp hashes alike") {
  // The index hashes the first 8 bytes only; these fps share them, so they form one probe run,
  // and erasing from its middle exercises backward-shift deletion.
  constexpr size_t kCapacity = 50;
  RecentFpTable table(kCapacity, 5);
  for (uint64_t n = 0; n < kCapacity; ++n) table.insert(numbered_fp(n, 0xEE), location_of(n));
  for (uint64_t n = 0; n < kCapacity; n += 3) CHECK(table.erase(numbered_fp(n, 0xEE)));
  for (uint64_t n = 0; n < kCapacity; ++n) {
    const auto hit = table.lookup(numbered_fp(n, 0xEE));
    if (n % 3 == 0) {
      CHECK_FALSE(hit.has_value());
    } else {
      CHECK(hit == location_of(n));
    }
  }
}

struct Step {
  int kind;  // 0 lookup, 1 insert, 2 erase
  Fingerprint fp;
  ChunkLocation location;
};

// Outcome of each step: lookup -> location or none, insert/erase -> returned bool.
std::vector<std::optional<ChunkLocation>> run(const std::vector<Step>& steps, size_t capacity,
                                              uint64_t hash_seed) {
  RecentFpTable table(capacity, hash_seed);
  std::map<Fingerprint, ChunkLocation> latest;  // the last inserted location of live fps
  std::vector<std::optional<ChunkLocation>> outcomes;
  for (const Step& step : steps) {
    if (step.kind == 0) {
      const auto hit = table.lookup(step.fp);
      auto it = latest.find(step.fp);
      if (hit) {
        REQUIRE(it != latest.end());
        CHECK(*hit == it->second);  // never stale
      }
      outcomes.push_back(hit);
    } else if (step.kind == 1) {
      const bool added = table.insert(step.fp, step.location);
      latest[step.fp] = step.location;
      CHECK(table.lookup(step.fp) == step.location);
      outcomes.push_back(added ? std::optional<ChunkLocation>(ChunkLocation{}) : std::nullopt);
    } else {
      const bool erased = table.erase(step.fp);
      latest.erase(step.fp);
      CHECK_FALSE(table.lookup(step.fp).has_value());
      outcomes.push_back(erased ? std::optional<ChunkLocation>(ChunkLocation{}) : std::nullopt);
    }
    CHECK(table.size() <= capacity);
  }
  return outcomes;
}

TEST_CASE("hostdriver/chunk: recent table outcomes are deterministic and seed-independent") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  constexpr size_t kCapacity = 200;
  // Keys from a small space, a quarter of them sharing their hashed bytes, so lookups hit,
  // entries get evicted and erased, and probe runs collide.
  std::vector<Step> steps(50'000);
  for (Step& step : steps) {
    const uint64_t n = rng.below(600);
    step.kind = static_cast<int>(rng.below(10) < 5 ? 0 : (rng.below(10) < 8 ? 1 : 2));
    step.fp = numbered_fp(n, n % 4 == 0 ? 0x11 : static_cast<uint8_t>(n));
    step.location = location_of(rng.below(1'000'000));
  }
  const auto first = run(steps, kCapacity, 1);
  CHECK(run(steps, kCapacity, 1) == first);
  CHECK(run(steps, kCapacity, 0xDEADBEEF) == first);
  size_t hits = 0;
  for (size_t i = 0; i < steps.size(); ++i) hits += steps[i].kind == 0 && first[i] ? 1 : 0;
  CHECK(hits > 1000);
}

}  // namespace
}  // namespace splitarray::hostdriver::chunk::test
