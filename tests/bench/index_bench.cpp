// tests/bench/index_bench.cpp
// Fingerprint index benchmark: fills a FingerprintIndex with N random fingerprints (default
// 100 million) in batches of 8192 (one wire batch), then measures RAM per entry as the RSS
// delta over the fill (not an estimate), batched lookup rates for hits and misses, and insert
// and remove rates at full size. Every lookup answer is verified.
//
// Fingerprints are random-access: fp(i) is derived from (seed, i) by splitmix64, so hits can
// be drawn in random order without keeping N fingerprints in memory.
//
// Output: a table, then one JSON object as the last line of stdout.
// Usage: index_bench [--entries N] [--quick]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common/prng.h"
#include "netshelf/index/fingerprint_index.h"
#include "tests/bench/bench_report.h"

namespace splitarray::bench {
namespace {

using netshelf::index::ChunkLocation;
using netshelf::index::Fingerprint;
using netshelf::index::FingerprintIndex;
using netshelf::index::IndexEntry;
using netshelf::index::InsertResult;
using netshelf::index::LookupResult;

constexpr uint64_t kDefaultEntries = 100'000'000;
constexpr uint64_t kQuickEntries = 1'000'000;
constexpr size_t kBatch = 8192;  // fps per wire request (protocol/frame.h)
constexpr uint64_t kLookupSamplesMax = 10'000'000;
constexpr uint64_t kFullSizeOpsMax = 2'000'000;  // inserts/removes measured at full size
constexpr uint64_t kSeed = 0x1D3B'0000'0000'0001;
constexpr uint64_t kMissSalt = 0xABCD'EF01'2345'6789;

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EB;
  return x ^ (x >> 31);
}

Fingerprint fp_of(uint64_t i, uint64_t salt) {
  Fingerprint fp;
  for (size_t w = 0; w < 4; ++w) {
    const uint64_t v = splitmix64(kSeed ^ salt ^ (i * 4 + w));
    std::memcpy(fp.bytes.data() + w * 8, &v, 8);
  }
  return fp;
}

ChunkLocation location_of(uint64_t i) {
  return ChunkLocation{.container = ContainerId(i / 2048),
                       .offset = static_cast<uint32_t>((i % 2048) * 4096),
                       .length = static_cast<uint32_t>(1 + (i * 7919) % 65536)};
}

uint64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0;
  uint64_t resident_pages = 0;
  statm >> size_pages >> resident_pages;
  if (!statm.good()) fail("cannot read /proc/self/statm");
  return resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

double seconds_since(BenchClock::time_point start) {
  return std::chrono::duration<double>(BenchClock::now() - start).count();
}

struct Options {
  uint64_t entries = kDefaultEntries;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      options.entries = kQuickEntries;
    } else if (std::strcmp(argv[i], "--entries") == 0 && i + 1 < argc) {
      char* end = nullptr;
      options.entries = std::strtoull(argv[++i], &end, 10);
      if (*end != '\0' || options.entries < kBatch) fail("--entries wants a number >= 8192");
    } else {
      std::fprintf(stderr, "usage: %s [--entries N] [--quick]\n", argv[0]);
      std::exit(2);
    }
  }
  return options;
}

// Inserts fps [first, first + count) of `salt`; returns seconds spent inside insert().
double insert_range(FingerprintIndex& index, uint64_t first, uint64_t count, uint64_t salt) {
  std::vector<IndexEntry> batch;
  std::vector<InsertResult> results(kBatch);
  double seconds = 0;
  for (uint64_t done = 0; done < count; done += batch.size()) {
    batch.resize(std::min<uint64_t>(kBatch, count - done));
    for (size_t k = 0; k < batch.size(); ++k) {
      const uint64_t i = first + done + k;
      batch[k] = IndexEntry{fp_of(i, salt), location_of(i)};
    }
    const auto start = BenchClock::now();
    auto inserted = index.insert(batch, std::span<InsertResult>(results).first(batch.size()));
    seconds += seconds_since(start);
    if (!inserted.ok()) fail("insert failed: " + inserted.error().to_string());
    for (size_t k = 0; k < batch.size(); ++k) {
      if (!results[k].inserted) fail("a fresh random fp was reported present");
    }
  }
  return seconds;
}

// Looks up `samples` fps: hits are random fps of [0, entries), misses are fps never inserted.
double lookup_rate(const FingerprintIndex& index, uint64_t entries, uint64_t samples, bool hits) {
  Prng rng(hits ? 1 : 2);
  std::vector<Fingerprint> fps(kBatch);
  std::vector<uint64_t> ids(kBatch);
  std::vector<LookupResult> out(kBatch);
  double seconds = 0;
  for (uint64_t done = 0; done < samples; done += kBatch) {
    for (size_t k = 0; k < kBatch; ++k) {
      ids[k] = rng.below(entries);
      fps[k] = fp_of(ids[k], hits ? 0 : kMissSalt);
    }
    const auto start = BenchClock::now();
    index.lookup(fps, out);
    seconds += seconds_since(start);
    for (size_t k = 0; k < kBatch; ++k) {
      if (out[k].found != hits) fail(hits ? "an inserted fp was not found" : "a miss was found");
      if (hits && !(out[k].location == location_of(ids[k]))) fail("wrong location");
    }
  }
  return static_cast<double>((samples + kBatch - 1) / kBatch * kBatch) / seconds;
}

double remove_range(FingerprintIndex& index, uint64_t first, uint64_t count, uint64_t salt) {
  std::vector<Fingerprint> fps;
  std::vector<LookupResult> out(kBatch);
  double seconds = 0;
  for (uint64_t done = 0; done < count; done += fps.size()) {
    fps.resize(std::min<uint64_t>(kBatch, count - done));
    for (size_t k = 0; k < fps.size(); ++k) fps[k] = fp_of(first + done + k, salt);
    const auto start = BenchClock::now();
    index.remove(fps, std::span<LookupResult>(out).first(fps.size()));
    seconds += seconds_since(start);
    for (size_t k = 0; k < fps.size(); ++k) {
      if (!out[k].found) fail("remove did not find an inserted fp");
    }
  }
  return seconds;
}

int run(const Options& options) {
  const uint64_t n = options.entries;
  std::printf("fingerprint index: %llu entries, batches of %zu, 1 thread\n",
              static_cast<unsigned long long>(n), kBatch);
  std::fflush(stdout);
  const uint64_t rss_before = rss_bytes();
  FingerprintIndex index;
  const auto fill_start = BenchClock::now();
  const double fill_insert_s = insert_range(index, 0, n, 0);
  const double fill_wall_s = seconds_since(fill_start);
  const uint64_t rss_after = rss_bytes();
  if (index.size() != n) fail("size mismatch after fill");
  const double bytes_per_entry = static_cast<double>(rss_after - rss_before) / n;
  const double allocated_per_entry = static_cast<double>(index.allocated_bytes()) / n;

  const uint64_t samples = std::min(n, kLookupSamplesMax);
  const double hit_per_s = lookup_rate(index, n, samples, true);
  const double miss_per_s = lookup_rate(index, n, samples, false);

  const uint64_t extra = std::min<uint64_t>(std::max<uint64_t>(n / 50, kBatch), kFullSizeOpsMax);
  const double full_insert_s = insert_range(index, n, extra, 0);
  const double remove_s = remove_range(index, n, extra, 0);
  if (index.size() != n) fail("size mismatch after insert + remove at full size");

  const double fill_per_s = static_cast<double>(n) / fill_insert_s;
  const double full_insert_per_s = static_cast<double>(extra) / full_insert_s;
  const double remove_per_s = static_cast<double>(extra) / remove_s;
  std::printf("%-38s %14s\n", "measure", "value");
  std::printf("%-38s %14.2f\n", "RAM bytes/entry (RSS delta)", bytes_per_entry);
  std::printf("%-38s %14.2f\n", "RAM bytes/entry (allocated)", allocated_per_entry);
  std::printf("%-38s %14.0f\n", "fill inserts/s (empty -> N)", fill_per_s);
  std::printf("%-38s %14.1f\n", "fill wall seconds (incl. fp generation)", fill_wall_s);
  std::printf("%-38s %14.0f\n", "inserts/s at full size", full_insert_per_s);
  std::printf("%-38s %14.0f\n", "removes/s at full size", remove_per_s);
  std::printf("%-38s %14.0f\n", "lookups/s, hits", hit_per_s);
  std::printf("%-38s %14.0f\n", "lookups/s, misses", miss_per_s);

  JsonLine json;
  json.add("entries", static_cast<double>(n));
  json.add("bytes_per_entry", bytes_per_entry);
  json.add("allocated_bytes_per_entry", allocated_per_entry);
  json.add("insert_per_s", fill_per_s);
  json.add("insert_full_per_s", full_insert_per_s);
  json.add("remove_per_s", remove_per_s);
  json.add("lookup_hit_per_s", hit_per_s);
  json.add("lookup_miss_per_s", miss_per_s);
  std::printf("%s\n", json.str().c_str());
  return 0;
}

}  // namespace
}  // namespace splitarray::bench

int main(int argc, char** argv) {
  return splitarray::bench::run(splitarray::bench::parse(argc, argv));
}
