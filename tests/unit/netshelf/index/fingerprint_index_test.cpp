// Tests of the in-RAM fingerprint index: first-writer-wins semantics, packing limits, a
// randomized model test against std::map (seed: SPLITARRAY_SEED, printed on every run), the
// snapshot-order iteration and sorted load, and measured bytes per entry.
#include <doctest/doctest.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "common/prng.h"
#include "netshelf/index/fingerprint_index.h"

namespace splitarray::netshelf::index {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

uint64_t seed_from_env() {
  const char* text = std::getenv("SPLITARRAY_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 20261121;
}

Fingerprint random_fp(Prng& rng) {
  Fingerprint fp;
  rng.fill(fp.bytes);
  return fp;
}

Fingerprint fp_of(uint8_t value) {
  Fingerprint fp;
  fp.bytes.fill(value);
  return fp;
}

ChunkLocation location_of(uint64_t container, uint32_t offset, uint32_t length) {
  return ChunkLocation{.container = ContainerId(container), .offset = offset, .length = length};
}

ChunkLocation random_location(Prng& rng) {
  return location_of(rng.below(kContainerIdMax + 1), static_cast<uint32_t>(rng.below(8 << 20)),
                     static_cast<uint32_t>(rng.between(1, 65536 + 64)));
}

TEST_CASE("netshelf/index: lookup, insert, remove, first writer wins, also within a batch") {
  FingerprintIndex index;
  const ChunkLocation l1 = location_of(1, 0, 4096);
  const ChunkLocation l2 = location_of(2, 4096, 100);
  CHECK_FALSE(index.lookup(fp_of(0xA1)).found);

  auto first = index.insert(std::vector<IndexEntry>{{fp_of(0xA1), l1}});
  REQUIRE(first.ok());
  CHECK(first.value()[0].inserted);
  auto second = index.insert(std::vector<IndexEntry>{{fp_of(0xA1), l2}});
  REQUIRE(second.ok());
  CHECK_FALSE(second.value()[0].inserted);
  CHECK(second.value()[0].existing == l1);
  CHECK(index.lookup(fp_of(0xA1)).location == l1);

  // Duplicates inside one batch: the earlier entry is the first writer.
  auto batch = index.insert(std::vector<IndexEntry>{
      {fp_of(0xB2), location_of(3, 0, 1)},
      {fp_of(0xB2), location_of(4, 0, 1)},
      {fp_of(0xC3), location_of(5, 0, 1)},
  });
  REQUIRE(batch.ok());
  CHECK(batch.value()[0].inserted);
  CHECK_FALSE(batch.value()[1].inserted);
  CHECK(batch.value()[1].existing == location_of(3, 0, 1));
  CHECK(batch.value()[2].inserted);
  CHECK(index.size() == 3);

  std::vector<LookupResult> found(3);
  const std::vector<Fingerprint> fps{fp_of(0xB2), fp_of(0xD4), fp_of(0xC3)};
  index.lookup(fps, found);
  CHECK(found[0].found);
  CHECK(found[0].location == location_of(3, 0, 1));
  CHECK_FALSE(found[1].found);
  CHECK(found[2].location == location_of(5, 0, 1));

  // Remove reports what was there; a second remove finds nothing; then the fp is free again.
  auto removed = index.remove(std::vector<Fingerprint>{fp_of(0xA1), fp_of(0xA1), fp_of(0xEE)});
  CHECK(removed[0].found);
  CHECK(removed[0].location == l1);
  CHECK_FALSE(removed[1].found);
  CHECK_FALSE(removed[2].found);
  CHECK_FALSE(index.lookup(fp_of(0xA1)).found);
  auto again = index.insert(std::vector<IndexEntry>{{fp_of(0xA1), l2}});
  REQUIRE(again.ok());
  CHECK(again.value()[0].inserted);
  CHECK(index.lookup(fp_of(0xA1)).location == l2);
  CHECK(index.size() == 3);
}

TEST_CASE("netshelf/index: locations that do not fit the packed form are rejected, not cut") {
  FingerprintIndex index;
  const ChunkLocation widest = location_of(kContainerIdMax, kOffsetMax, kLengthMax);
  REQUIRE(index.insert(std::vector<IndexEntry>{{fp_of(1), widest}}).ok());
  CHECK(index.lookup(fp_of(1)).location == widest);

  const ChunkLocation bad[] = {
      location_of(kContainerIdMax + 1, 0, 1),
      location_of(0, kOffsetMax + 1, 1),
      location_of(0, 0, kLengthMax + 1),
      location_of(0, 0, 0),
  };
  for (const ChunkLocation& location : bad) {
    // One bad entry rejects the whole batch: nothing is applied.
    auto result = index.insert(
        std::vector<IndexEntry>{{fp_of(2), location_of(7, 0, 1)}, {fp_of(3), location}});
    REQUIRE_FALSE(result.ok());
    CHECK(result.code() == Code::kInvalidArgument);
    CHECK_FALSE(index.lookup(fp_of(2)).found);
  }
  CHECK(index.size() == 1);

  uint8_t packed[kPackedLocationBytes];
  pack_location(widest, packed);
  CHECK(unpack_location(packed) == widest);
  pack_location(location_of(0x0102030405, 0x060708, 0x090A0B), packed);
  CHECK(unpack_location(packed) == location_of(0x0102030405, 0x060708, 0x090A0B));
}

TEST_CASE("netshelf/index: entries_max answers kNoSpace for the whole batch") {
  FingerprintIndex index(3);
  REQUIRE(index
              .insert(std::vector<IndexEntry>{{fp_of(1), location_of(1, 0, 1)},
                                              {fp_of(2), location_of(1, 0, 1)}})
              .ok());
  auto over = index.insert(
      std::vector<IndexEntry>{{fp_of(3), location_of(1, 0, 1)}, {fp_of(4), location_of(1, 0, 1)}});
  CHECK(over.code() == Code::kNoSpace);
  CHECK(index.size() == 2);
  CHECK(index.insert(std::vector<IndexEntry>{{fp_of(3), location_of(1, 0, 1)}}).ok());
  CHECK(index.size() == 3);
}

TEST_CASE("netshelf/index: randomized inserts, removes and lookups match a std::map model") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  // A pool of fps: half crowd four partitions (deep arrays, many merges), half spread out.
  std::vector<Fingerprint> pool(6000);
  for (size_t i = 0; i < pool.size(); ++i) {
    pool[i] = random_fp(rng);
    if (i % 2 == 0) {
      pool[i].bytes[0] = 0x42;
      pool[i].bytes[1] = static_cast<uint8_t>(i % 8 < 4 ? i % 8 : 0);
    }
  }
  FingerprintIndex index;
  std::map<Fingerprint, ChunkLocation> model;
  for (int step = 0; step < 4000; ++step) {
    const size_t batch = rng.between(1, 64);
    const uint64_t dice = rng.below(10);
    if (dice < 6) {
      std::vector<IndexEntry> entries(batch);
      for (IndexEntry& e : entries) e = {pool[rng.below(pool.size())], random_location(rng)};
      auto result = index.insert(entries);
      REQUIRE(result.ok());
      for (size_t i = 0; i < batch; ++i) {
        auto [it, inserted] = model.emplace(entries[i].fp, entries[i].location);
        REQUIRE(result.value()[i].inserted == inserted);
        if (!inserted) REQUIRE(result.value()[i].existing == it->second);
      }
    } else if (dice < 8) {
      std::vector<Fingerprint> fps(batch);
      for (Fingerprint& fp : fps) fp = pool[rng.below(pool.size())];
      auto was = index.remove(fps);
      for (size_t i = 0; i < batch; ++i) {
        auto it = model.find(fps[i]);
        REQUIRE(was[i].found == (it != model.end()));
        if (it != model.end()) {
          REQUIRE(was[i].location == it->second);
          model.erase(it);
        }
      }
    } else {
      std::vector<Fingerprint> fps(batch);
      for (Fingerprint& fp : fps)
        fp = rng.chance(0.9) ? pool[rng.below(pool.size())] : random_fp(rng);
      std::vector<LookupResult> out(batch);
      index.lookup(fps, out);
      for (size_t i = 0; i < batch; ++i) {
        auto it = model.find(fps[i]);
        REQUIRE(out[i].found == (it != model.end()));
        if (it != model.end()) REQUIRE(out[i].location == it->second);
      }
    }
    REQUIRE(index.size() == model.size());
  }
  // The snapshot order (partition by partition, sorted) is exactly the model's order.
  std::vector<IndexEntry> all;
  for (size_t p = 0; p < kPartitionCount; ++p) index.collect_partition(p, &all);
  REQUIRE(all.size() == model.size());
  size_t i = 0;
  for (const auto& [fp, location] : model) {
    REQUIRE(all[i].fp == fp);
    REQUIRE(all[i].location == location);
    ++i;
  }
}

TEST_CASE("netshelf/index: sorted bulk load answers like the index it was taken from") {
  Prng rng(7);
  FingerprintIndex source;
  std::vector<IndexEntry> entries(20000);
  for (IndexEntry& e : entries) e = {random_fp(rng), random_location(rng)};
  REQUIRE(source.insert(entries).ok());
  FingerprintIndex loaded;
  std::vector<IndexEntry> part;
  for (size_t p = 0; p < kPartitionCount; ++p) {
    part.clear();
    source.collect_partition(p, &part);
    CHECK(part.size() == source.partition_size(p));
    loaded.reserve_partition(p, part.size());
    for (const IndexEntry& e : part) loaded.append_sorted(e);
  }
  CHECK(loaded.size() == source.size());
  for (const IndexEntry& e : entries) CHECK(loaded.lookup(e.fp).location == e.location);
  // A loaded partition keeps working: insert into it, remove from it.
  auto more = loaded.insert(std::vector<IndexEntry>{{random_fp(rng), location_of(9, 0, 9)}});
  REQUIRE(more.ok());
  CHECK(more.value()[0].inserted);
  CHECK(loaded.remove(std::vector<Fingerprint>{entries[0].fp})[0].found);
}

uint64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0;
  uint64_t resident_pages = 0;
  statm >> size_pages >> resident_pages;
  REQUIRE(statm.good());
  return resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

uint64_t malloc_bytes() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

TEST_CASE("netshelf/index: millions of entries take at most 48 bytes of RAM each") {
  // Fewer under AddressSanitizer, where only the own accounting is checked (< 20 s there).
  constexpr uint64_t kEntries = kAsan ? 3'000'000 : 4'000'000;
  constexpr double kBytesPerEntryMax = 48;
  Prng rng(11);
  std::vector<IndexEntry> batch(8192);
  const uint64_t rss_before = rss_bytes();
  const uint64_t malloc_before = malloc_bytes();
  auto index = std::make_unique<FingerprintIndex>();
  for (uint64_t done = 0; done < kEntries; done += batch.size()) {
    batch.resize(std::min<uint64_t>(batch.size(), kEntries - done));
    for (IndexEntry& e : batch) e = {random_fp(rng), random_location(rng)};
    REQUIRE(index->insert(batch).ok());
  }
  REQUIRE(index->size() == kEntries);
  const double accounted = static_cast<double>(index->allocated_bytes()) / kEntries;
  MESSAGE("allocated (own accounting): " << accounted << " bytes/entry");
  CHECK(accounted <= kBytesPerEntryMax);
  if (kAsan) {
    MESSAGE("AddressSanitizer build: RSS and malloc figures include redzones; not checked");
    return;
  }
  const double rss = static_cast<double>(rss_bytes() - rss_before) / kEntries;
  const double malloced = static_cast<double>(malloc_bytes() - malloc_before) / kEntries;
  MESSAGE("RSS delta: " << rss << " bytes/entry; malloc delta: " << malloced << " bytes/entry");
  CHECK(rss <= kBytesPerEntryMax);
  CHECK(malloced <= kBytesPerEntryMax);
}

}  // namespace
}  // namespace splitarray::netshelf::index

namespace splitarray::netshelf::index {
namespace {

// Every fp of the index, in order, by following list_from's pages from `from`.
std::vector<Fingerprint> list_all(const FingerprintIndex& index, Fingerprint from, size_t max,
                                  size_t* pages) {
  std::vector<Fingerprint> out;
  *pages = 0;
  for (;;) {
    REQUIRE(*pages < 100000);  // bounds the loop: every page makes progress
    const FingerprintIndex::ListPage page = index.list_from(from, max);
    ++*pages;
    CHECK(page.fps.size() <= max);
    for (const Fingerprint& fp : page.fps) {
      CHECK(fp >= from);
      if (!out.empty()) CHECK(out.back() < fp);
      out.push_back(fp);
    }
    if (!page.next) return out;
    CHECK(page.fps.size() == max);  // only a full page has a next
    CHECK(out.back() < *page.next);
    from = *page.next;
  }
}

TEST_CASE("netshelf/index: list_from pages through every fp in order, main and buffer merged") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  FingerprintIndex index;
  std::set<Fingerprint> model;
  // Crowded partitions (merged mains plus buffers) and spread ones; inserted in small batches so
  // some entries are still in buffers, then some removed.
  for (int batch = 0; batch < 300; ++batch) {
    std::vector<IndexEntry> entries(rng.between(1, 20));
    for (IndexEntry& e : entries) {
      e.fp = random_fp(rng);
      if (rng.below(2) == 0) e.fp.bytes[0] = e.fp.bytes[1] = 0x7f;
      e.location = random_location(rng);
      model.insert(e.fp);
    }
    REQUIRE(index.insert(entries).ok());
  }
  std::vector<Fingerprint> gone(model.begin(), model.end());
  gone.resize(gone.size() / 10);
  index.remove(gone);
  for (const Fingerprint& fp : gone) model.erase(fp);
  const std::vector<Fingerprint> expected(model.begin(), model.end());
  for (size_t max : {size_t{1}, size_t{7}, size_t{64}, expected.size(), expected.size() + 5}) {
    CAPTURE(max);
    size_t pages = 0;
    CHECK(list_all(index, Fingerprint{}, max, &pages) == expected);
    CHECK(pages == (expected.size() + max - 1) / max);
  }
  // From the middle (an fp in the index, and one that is not): exactly the fps at or after it.
  const Fingerprint middle = expected[expected.size() / 2];
  size_t pages = 0;
  CHECK(list_all(index, middle, 50, &pages) ==
        std::vector<Fingerprint>(expected.begin() + static_cast<ptrdiff_t>(expected.size() / 2),
                                 expected.end()));
  Fingerprint between = middle;
  between.bytes[31] ^= 1;
  const auto at = model.lower_bound(between);
  CHECK(list_all(index, between, 50, &pages) == std::vector<Fingerprint>(at, model.end()));
  // Past the last: nothing, and the listing is complete.
  Fingerprint last;
  last.bytes.fill(0xff);
  const FingerprintIndex::ListPage tail = index.list_from(last, 10);
  CHECK(tail.fps.size() == (model.count(last) ? 1u : 0u));
  CHECK(!tail.next.has_value());
  FingerprintIndex empty;
  CHECK(empty.list_from(Fingerprint{}, 10).fps.empty());
  CHECK(!empty.list_from(Fingerprint{}, 10).next.has_value());
}

}  // namespace
}  // namespace splitarray::netshelf::index
