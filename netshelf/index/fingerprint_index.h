// netshelf/index/fingerprint_index.h
// FingerprintIndex: the shelf's global fingerprint index in RAM (fp -> chunk location). Pure,
// synchronous and I/O-free; IndexStore (index_store.h) makes it crash-safe.
//
// Layout, chosen for bytes per entry (target <= 48 including slack, DESIGN.md §7):
//   - 2^16 partitions by the first two fp bytes, so a record stores only the other 30 bytes;
//   - a record is 30 key bytes + an 11-byte packed location = 41 bytes, unaligned, no padding;
//   - a partition is one logical array [main: sorted][buffer: sorted]; new records go into the
//     small buffer, which is merged into main when it holds buffer_target(main) records;
//   - the logical array lives in fixed-size segments of kSegmentRecords records, reached through
//     a per-partition directory. Every segment has the same size and comes from one SegmentPool
//     (1 MiB slabs + a free list), so growing partitions never fragment the heap: a first
//     version with one exactly-sized malloc'd array per partition measured 43 bytes/entry
//     allocated but 50 of RSS at 100 M, the difference being holes left by freed arrays.
//     Slack is the unused tail of each partition's last segment plus 8 bytes of directory per
//     segment: ~1.5 bytes/entry at 100 M entries.
//   - Lookups use interpolation: fps are uniformly distributed (SHA-256), so the record's rank
//     is predicted from its next 8 bytes, then found by galloping + binary search (1-3 cache
//     misses instead of ~11 for plain binary search).
// Invariants:
//   (1) main and buffer are each strictly increasing; no key is in both (first writer wins).
//   (2) main_count + buffer_count <= segments * kSegmentRecords, and fewer than one segment is
//       unused; buffer_count <= buffer_target(main_count).
//   (3) size() == sum of all partitions' counts <= entries_max().
// Decisions never depend on hash or pointer iteration order: everything is sorted.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/result.h"
#include "netshelf/index/index_types.h"

namespace splitarray::netshelf::index {

inline constexpr size_t kPartitionBits = 16;
inline constexpr size_t kPartitionCount = size_t{1} << kPartitionBits;
inline constexpr size_t kPartitionPrefixBytes = kPartitionBits / 8;
inline constexpr size_t kRecordKeyBytes = kFingerprintBytes - kPartitionPrefixBytes;
inline constexpr size_t kRecordBytes = kRecordKeyBytes + kPackedLocationBytes;
static_assert(kPartitionBits % 8 == 0, "the partition prefix must be whole bytes");
static_assert(kRecordBytes == 41);

// Per partition, so a hostile host that crafts fps into one partition gets kNoSpace, never a
// 32-bit overflow. Uniform fps put entries_max / 65536 in each.
inline constexpr uint64_t kPartitionEntriesMax = uint64_t{1} << 30;
// Default capacity: 4 billion entries (~176 GB of RAM at 44 bytes each).
inline constexpr uint64_t kIndexEntriesMaxDefault = uint64_t{1} << 32;

// Buffer sizing: a partition with n records in main merges its buffer once it holds
// clamp(n / kBufferDivisor) records. The buffer takes no reserved space, so this trades only
// insert time (shifting inside the buffer) against merge time (rewriting the partition).
inline constexpr uint32_t kBufferDivisor = 8;
inline constexpr uint32_t kBufferMin = 4;
inline constexpr uint32_t kBufferMax = 256;

// Records per segment: small, so the half-empty last segment of each partition costs little
// even when partitions are small (at 4 M entries a partition holds ~60 records).
inline constexpr size_t kSegmentRecords = 8;
inline constexpr size_t kSegmentBytes = kSegmentRecords * kRecordBytes;
inline constexpr size_t kSlabBytes = 1 << 20;
inline constexpr size_t kSegmentsPerSlab = kSlabBytes / kSegmentBytes;
static_assert(kSegmentBytes >= sizeof(void*), "a free segment holds the free-list link");

// Hands out kSegmentBytes blocks carved from kSlabBytes slabs; freed blocks are reused. Slabs
// are kept until the pool is cleared or destroyed (memory a GC frees stays ready for the next
// inserts).
class SegmentPool final {
 public:
  SegmentPool() = default;
  SegmentPool(const SegmentPool&) = delete;
  SegmentPool& operator=(const SegmentPool&) = delete;

  uint8_t* get();
  void put(uint8_t* segment);
  // Frees every slab; every segment handed out becomes invalid.
  void clear();
  uint64_t allocated_bytes() const { return slabs_.size() * kSlabBytes; }

 private:
  std::vector<std::unique_ptr<uint8_t[]>> slabs_;
  uint8_t* free_ = nullptr;           // list linked through each free segment's first bytes
  size_t carved_ = kSegmentsPerSlab;  // segments handed out from slabs_.back()
};

class FingerprintIndex final {
 public:
  explicit FingerprintIndex(uint64_t entries_max = kIndexEntriesMaxDefault);
  FingerprintIndex(const FingerprintIndex&) = delete;
  FingerprintIndex& operator=(const FingerprintIndex&) = delete;

  uint64_t size() const { return size_; }
  uint64_t entries_max() const { return entries_max_; }

  LookupResult lookup(const Fingerprint& fp) const;
  // out.size() == fps.size(); out[i] answers fps[i].
  void lookup(std::span<const Fingerprint> fps, std::span<LookupResult> out) const;

  // Inserts in order; an fp already present (also from an earlier entry of this batch) keeps
  // its location and out[i] says so. All-or-nothing on error: kInvalidArgument if a location
  // does not fit the packed form, kNoSpace if the batch could exceed entries_max() or the
  // partition limit (checked before anything is applied).
  Result<void> insert(std::span<const IndexEntry> entries, std::span<InsertResult> out);
  Result<std::vector<InsertResult>> insert(std::span<const IndexEntry> entries);

  // Removes each fp; out[i] is what was there. Missing fps are not an error.
  void remove(std::span<const Fingerprint> fps, std::span<LookupResult> out);
  std::vector<LookupResult> remove(std::span<const Fingerprint> fps);
  // Removes everything and returns the memory (an index rebuild starts from empty).
  void clear();

  // One page of a listing in increasing fp order: the fps >= from, at most max (>= 1), and the
  // next fp stored after the last one listed (nullopt: none, the listing is complete). Costs
  // O(max + log n) plus a scan over empty partitions; never copies a partition.
  struct ListPage {
    std::vector<Fingerprint> fps;
    std::optional<Fingerprint> next;
  };
  ListPage list_from(const Fingerprint& from, size_t max) const;

  // --- snapshots and bulk load ---------------------------------------------------------------
  static size_t partition_of(const Fingerprint& fp) {
    return (size_t{fp.bytes[0]} << 8) | fp.bytes[1];
  }
  uint64_t partition_size(size_t partition) const;
  // Appends partition `partition`'s entries to *out in increasing fp order.
  void collect_partition(size_t partition, std::vector<IndexEntry>* out) const;
  // Loading a snapshot: reserve_partition(p, n) on an empty partition, then exactly n
  // append_sorted() calls in strictly increasing fp order (the loader checks order first).
  void reserve_partition(size_t partition, uint64_t count);
  void append_sorted(const IndexEntry& entry);

  // Bytes this object allocated (record arrays + partition table), by its own accounting.
  // Benchmarks measure RSS instead; this is for tests under sanitizers and for status.
  uint64_t allocated_bytes() const;

 private:
  struct Partition {
    std::vector<uint8_t*> segments;  // the directory; each entry holds kSegmentRecords records
    uint32_t main_count = 0;
    uint32_t buffer_count = 0;
  };

  InsertResult insert_one(const IndexEntry& entry);
  LookupResult remove_one(const Fingerprint& fp);
  // Merges the buffer into main, in place (through scratch_).
  void merge_buffer(Partition& part);
  void add_segment(Partition& part);
  void release_tail_segments(Partition& part);

  std::vector<Partition> partitions_;
  SegmentPool pool_;
  std::vector<uint8_t> scratch_;  // merge space, as large as the largest partition merged
  uint64_t size_ = 0;
  const uint64_t entries_max_;
};

}  // namespace splitarray::netshelf::index
