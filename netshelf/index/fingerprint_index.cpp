// netshelf/index/fingerprint_index.cpp
#include "netshelf/index/fingerprint_index.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace splitarray::netshelf::index {
namespace {

static_assert(std::endian::native == std::endian::little, "load_be64 assumes little-endian");

inline uint64_t load_be64(const uint8_t* p) {
  uint64_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return __builtin_bswap64(v);
}

// Record keys compare as big-endian byte strings, i.e. in fp order.
inline int compare_key(const uint8_t* a, const uint8_t* b) {
  const uint64_t x = load_be64(a);
  const uint64_t y = load_be64(b);
  if (x != y) return x < y ? -1 : 1;
  return std::memcmp(a + 8, b + 8, kRecordKeyBytes - 8);
}

inline const uint8_t* key_of(const Fingerprint& fp) {
  return fp.bytes.data() + kPartitionPrefixBytes;
}

// Where a uniformly distributed key should sit among n sorted ones.
inline size_t interpolate(const uint8_t* key, size_t n) {
  return static_cast<size_t>(((load_be64(key) >> 32) * static_cast<uint64_t>(n)) >> 32);
}

inline uint32_t buffer_target(uint64_t n) {
  return static_cast<uint32_t>(
      std::clamp<uint64_t>(n / kBufferDivisor, uint64_t{kBufferMin}, uint64_t{kBufferMax}));
}

// Record i of a partition's logical array.
inline uint8_t* record(const std::vector<uint8_t*>& segments, size_t i) {
  return segments[i / kSegmentRecords] + (i % kSegmentRecords) * kRecordBytes;
}

// First i in [first, first + n) with record(i) >= key, or first + n. Gallops outward from
// first + guess, then bisects.
size_t lower_bound(const std::vector<uint8_t*>& segs, size_t first, size_t n, const uint8_t* key,
                   size_t guess) {
  if (n == 0) return first;
  auto less = [&](size_t i) { return compare_key(record(segs, first + i), key) < 0; };
  guess = std::min(guess, n - 1);
  size_t lo = 0;  // the answer is in [lo, hi]
  size_t hi = n;
  size_t step = 1;
  if (less(guess)) {
    lo = guess + 1;
    for (;;) {
      const size_t probe = lo + step - 1;
      if (probe >= n) break;
      if (!less(probe)) {
        hi = probe;
        break;
      }
      lo = probe + 1;
      step *= 2;
    }
  } else {
    hi = guess;
    for (;;) {
      if (hi < step) break;
      const size_t probe = hi - step;
      if (less(probe)) {
        lo = probe + 1;
        break;
      }
      hi = probe;
      step *= 2;
    }
  }
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (less(mid)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return first + lo;
}

// Moves records [from, to) to [from + 1, to + 1); slot `to` must exist.
void shift_right(const std::vector<uint8_t*>& segs, size_t from, size_t to) {
  ASSERT(to < segs.size() * kSegmentRecords);
  size_t end = to;
  while (end > from) {
    const size_t seg = (end - 1) / kSegmentRecords;
    const size_t seg_first = seg * kSegmentRecords;
    const size_t start = std::max(seg_first, from);
    size_t lo = start - seg_first;
    size_t hi = end - seg_first;
    uint8_t* base = segs[seg];
    if (hi == kSegmentRecords) {  // the segment's last record moves to the next segment
      std::memcpy(segs[seg + 1], base + (kSegmentRecords - 1) * kRecordBytes, kRecordBytes);
      --hi;
    }
    if (hi > lo) {
      std::memmove(base + (lo + 1) * kRecordBytes, base + lo * kRecordBytes,
                   (hi - lo) * kRecordBytes);
    }
    end = start;
  }
}

// Moves records [from, to) to [from - 1, to - 1); from >= 1.
void shift_left(const std::vector<uint8_t*>& segs, size_t from, size_t to) {
  ASSERT(from >= 1);
  size_t start = from;
  while (start < to) {
    const size_t seg = start / kSegmentRecords;
    const size_t seg_first = seg * kSegmentRecords;
    const size_t end = std::min(seg_first + kSegmentRecords, to);
    size_t lo = start - seg_first;
    const size_t hi = end - seg_first;
    uint8_t* base = segs[seg];
    if (lo == 0) {  // the segment's first record moves to the previous segment's last slot
      std::memcpy(segs[seg - 1] + (kSegmentRecords - 1) * kRecordBytes, base, kRecordBytes);
      lo = 1;
    }
    if (hi > lo) {
      std::memmove(base + (lo - 1) * kRecordBytes, base + lo * kRecordBytes,
                   (hi - lo) * kRecordBytes);
    }
    start = end;
  }
}

inline void write_record(uint8_t* rec, const IndexEntry& entry) {
  std::memcpy(rec, key_of(entry.fp), kRecordKeyBytes);
  pack_location(entry.location, rec + kRecordKeyBytes);
}

inline IndexEntry read_record(size_t partition, const uint8_t* rec) {
  IndexEntry entry;
  entry.fp.bytes[0] = static_cast<uint8_t>(partition >> 8);
  entry.fp.bytes[1] = static_cast<uint8_t>(partition);
  std::memcpy(entry.fp.bytes.data() + kPartitionPrefixBytes, rec, kRecordKeyBytes);
  entry.location = unpack_location(rec + kRecordKeyBytes);
  return entry;
}

inline ChunkLocation location_at(const uint8_t* rec) {
  return unpack_location(rec + kRecordKeyBytes);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

uint8_t* SegmentPool::get() {
  if (free_ != nullptr) {
    uint8_t* segment = free_;
    std::memcpy(&free_, segment, sizeof(free_));
    return segment;
  }
  if (carved_ == kSegmentsPerSlab) {
    slabs_.push_back(std::unique_ptr<uint8_t[]>(new uint8_t[kSlabBytes]));
    carved_ = 0;
  }
  ASSERT(carved_ < kSegmentsPerSlab);
  return slabs_.back().get() + kSegmentBytes * carved_++;
}

void SegmentPool::put(uint8_t* segment) {
  ASSERT(segment != nullptr);
  std::memcpy(segment, &free_, sizeof(free_));
  free_ = segment;
}

void SegmentPool::clear() {
  slabs_.clear();
  free_ = nullptr;
  carved_ = kSegmentsPerSlab;
}

// ---------------------------------------------------------------------------------------------

FingerprintIndex::FingerprintIndex(uint64_t entries_max)
    : partitions_(kPartitionCount), entries_max_(entries_max) {
  ASSERT(entries_max > 0);
  ASSERT(partitions_.size() == kPartitionCount);
}

LookupResult FingerprintIndex::lookup(const Fingerprint& fp) const {
  const Partition& part = partitions_[partition_of(fp)];
  const uint8_t* key = key_of(fp);
  const size_t i =
      lower_bound(part.segments, 0, part.main_count, key, interpolate(key, part.main_count));
  if (i < part.main_count && compare_key(record(part.segments, i), key) == 0) {
    return LookupResult{.found = true, .location = location_at(record(part.segments, i))};
  }
  const size_t j =
      lower_bound(part.segments, part.main_count, part.buffer_count, key, part.buffer_count / 2);
  if (j < size_t{part.main_count} + part.buffer_count &&
      compare_key(record(part.segments, j), key) == 0) {
    return LookupResult{.found = true, .location = location_at(record(part.segments, j))};
  }
  return LookupResult{};
}

void FingerprintIndex::lookup(std::span<const Fingerprint> fps, std::span<LookupResult> out) const {
  ASSERT(out.size() == fps.size());
  // Batches are answered with the likely record of a later fp already on its way from DRAM:
  // first its directory slot, a few fps later the record itself.
  constexpr size_t kPrefetchRecord = 8;
  constexpr size_t kPrefetchDirectory = 16;
  for (size_t i = 0; i < fps.size(); ++i) {
    if (i + kPrefetchDirectory < fps.size()) {
      const Fingerprint& ahead = fps[i + kPrefetchDirectory];
      const Partition& part = partitions_[partition_of(ahead)];
      const size_t guess = interpolate(key_of(ahead), part.main_count);
      if (part.main_count > 0) __builtin_prefetch(&part.segments[guess / kSegmentRecords]);
    }
    if (i + kPrefetchRecord < fps.size()) {
      const Fingerprint& ahead = fps[i + kPrefetchRecord];
      const Partition& part = partitions_[partition_of(ahead)];
      if (part.main_count > 0) {
        __builtin_prefetch(record(part.segments, interpolate(key_of(ahead), part.main_count)));
      }
    }
    out[i] = lookup(fps[i]);
  }
}

Result<void> FingerprintIndex::insert(std::span<const IndexEntry> entries,
                                      std::span<InsertResult> out) {
  ASSERT(out.size() == entries.size());
  for (const IndexEntry& entry : entries) RETURN_IF_ERROR(validate_location(entry.location));
  if (entries.size() > entries_max_ - size_) {
    return make_error(Code::kNoSpace, "index: full (entries_max reached)");
  }
  for (const IndexEntry& entry : entries) {
    const Partition& part = partitions_[partition_of(entry.fp)];
    if (uint64_t{part.main_count} + part.buffer_count + entries.size() > kPartitionEntriesMax) {
      return make_error(Code::kNoSpace, "index: partition full (kPartitionEntriesMax)");
    }
  }
  for (size_t i = 0; i < entries.size(); ++i) out[i] = insert_one(entries[i]);
  ASSERT(size_ <= entries_max_);
  return ok_result();
}

Result<std::vector<InsertResult>> FingerprintIndex::insert(std::span<const IndexEntry> entries) {
  std::vector<InsertResult> out(entries.size());
  RETURN_IF_ERROR(insert(entries, std::span<InsertResult>(out)));
  return out;
}

InsertResult FingerprintIndex::insert_one(const IndexEntry& entry) {
  Partition& part = partitions_[partition_of(entry.fp)];
  const uint8_t* key = key_of(entry.fp);
  const size_t i =
      lower_bound(part.segments, 0, part.main_count, key, interpolate(key, part.main_count));
  if (i < part.main_count && compare_key(record(part.segments, i), key) == 0) {
    return InsertResult{.inserted = false, .existing = location_at(record(part.segments, i))};
  }
  size_t total = size_t{part.main_count} + part.buffer_count;
  size_t j =
      lower_bound(part.segments, part.main_count, part.buffer_count, key, part.buffer_count / 2);
  if (j < total && compare_key(record(part.segments, j), key) == 0) {
    return InsertResult{.inserted = false, .existing = location_at(record(part.segments, j))};
  }
  if (part.buffer_count >= buffer_target(part.main_count)) {
    merge_buffer(part);  // the buffer is now empty, so the new record goes first in it
    j = total;
  }
  if (total == part.segments.size() * kSegmentRecords) add_segment(part);
  shift_right(part.segments, j, total);
  write_record(record(part.segments, j), entry);
  ++part.buffer_count;
  ++size_;
  ++total;
  ASSERT(total <= part.segments.size() * kSegmentRecords);
  return InsertResult{.inserted = true, .existing = {}};
}

void FingerprintIndex::remove(std::span<const Fingerprint> fps, std::span<LookupResult> out) {
  ASSERT(out.size() == fps.size());
  for (size_t i = 0; i < fps.size(); ++i) out[i] = remove_one(fps[i]);
}

std::vector<LookupResult> FingerprintIndex::remove(std::span<const Fingerprint> fps) {
  std::vector<LookupResult> out(fps.size());
  remove(fps, std::span<LookupResult>(out));
  return out;
}

LookupResult FingerprintIndex::remove_one(const Fingerprint& fp) {
  Partition& part = partitions_[partition_of(fp)];
  const uint8_t* key = key_of(fp);
  const size_t total = size_t{part.main_count} + part.buffer_count;
  size_t at = total;  // position of the record in [0, total), total if absent
  const size_t i =
      lower_bound(part.segments, 0, part.main_count, key, interpolate(key, part.main_count));
  if (i < part.main_count && compare_key(record(part.segments, i), key) == 0) {
    at = i;
    --part.main_count;
  } else {
    const size_t j =
        lower_bound(part.segments, part.main_count, part.buffer_count, key, part.buffer_count / 2);
    if (j < total && compare_key(record(part.segments, j), key) == 0) {
      at = j;
      --part.buffer_count;
    }
  }
  if (at == total) return LookupResult{};
  const LookupResult was{.found = true, .location = location_at(record(part.segments, at))};
  // Main shrinks by one and the buffer slides down with it: both stay sorted (invariant 1).
  shift_left(part.segments, at + 1, total);
  ASSERT(size_ > 0);
  --size_;
  release_tail_segments(part);
  return was;
}

void FingerprintIndex::add_segment(Partition& part) {
  ASSERT(part.segments.size() * kSegmentRecords <= kPartitionEntriesMax);
  if (part.segments.size() == part.segments.capacity()) {
    // Grow the directory by a quarter, not double: it is ~2.5% of the RAM at 8 records each.
    part.segments.reserve(part.segments.size() + part.segments.size() / 4 + 2);
  }
  part.segments.push_back(pool_.get());
}

void FingerprintIndex::release_tail_segments(Partition& part) {
  const size_t total = size_t{part.main_count} + part.buffer_count;
  const size_t needed = (total + kSegmentRecords - 1) / kSegmentRecords;
  while (part.segments.size() > needed) {
    pool_.put(part.segments.back());
    part.segments.pop_back();
  }
  if (part.segments.capacity() > 2 * part.segments.size() + 8) part.segments.shrink_to_fit();
}

void FingerprintIndex::merge_buffer(Partition& part) {
  const size_t main = part.main_count;
  const size_t total = main + part.buffer_count;
  ASSERT(total <= kPartitionEntriesMax);
  if (scratch_.size() < total * kRecordBytes) scratch_.resize(total * kRecordBytes);
  for (size_t seg = 0; seg * kSegmentRecords < total; ++seg) {
    const size_t n = std::min(kSegmentRecords, total - seg * kSegmentRecords);
    std::memcpy(scratch_.data() + seg * kSegmentBytes, part.segments[seg], n * kRecordBytes);
  }
  const uint8_t* a = scratch_.data();
  const uint8_t* b = scratch_.data() + main * kRecordBytes;
  const uint8_t* const a_end = b;
  const uint8_t* const b_end = scratch_.data() + total * kRecordBytes;
  for (size_t k = 0; k < total; ++k) {
    const uint8_t* src = nullptr;
    if (b == b_end || (a != a_end && compare_key(a, b) < 0)) {
      src = a;
      a += kRecordBytes;
    } else {
      ASSERT_MSG(a == a_end || compare_key(a, b) != 0, "a key in both main and buffer");
      src = b;
      b += kRecordBytes;
    }
    std::memcpy(record(part.segments, k), src, kRecordBytes);
  }
  ASSERT(a == a_end && b == b_end);
  part.main_count = static_cast<uint32_t>(total);
  part.buffer_count = 0;
}

uint64_t FingerprintIndex::partition_size(size_t partition) const {
  ASSERT(partition < kPartitionCount);
  const Partition& part = partitions_[partition];
  return uint64_t{part.main_count} + part.buffer_count;
}

void FingerprintIndex::collect_partition(size_t partition, std::vector<IndexEntry>* out) const {
  ASSERT(partition < kPartitionCount);
  const Partition& part = partitions_[partition];
  const size_t total = size_t{part.main_count} + part.buffer_count;
  size_t a = 0;
  size_t b = part.main_count;
  while (a < part.main_count || b < total) {
    const bool take_main =
        b == total || (a < part.main_count &&
                       compare_key(record(part.segments, a), record(part.segments, b)) < 0);
    const size_t k = take_main ? a++ : b++;
    out->push_back(read_record(partition, record(part.segments, k)));
  }
}

FingerprintIndex::ListPage FingerprintIndex::list_from(const Fingerprint& from, size_t max) const {
  ASSERT(max >= 1);
  ListPage page;
  for (size_t p = partition_of(from); p < kPartitionCount; ++p) {
    const Partition& part = partitions_[p];
    const size_t main_end = part.main_count;
    const size_t total = main_end + part.buffer_count;
    if (total == 0) continue;
    // Main and buffer are each sorted: start both at the cursor (the whole partition after the
    // cursor's own) and merge.
    size_t a = 0;
    size_t b = main_end;
    if (p == partition_of(from)) {
      const uint8_t* key = key_of(from);
      a = lower_bound(part.segments, 0, main_end, key, interpolate(key, main_end));
      b = lower_bound(part.segments, main_end, part.buffer_count, key,
                      interpolate(key, part.buffer_count));
    }
    while (a < main_end || b < total) {
      const bool take_main =
          b == total ||
          (a < main_end && compare_key(record(part.segments, a), record(part.segments, b)) < 0);
      const uint8_t* rec = record(part.segments, take_main ? a : b);
      const Fingerprint fp = read_record(p, rec).fp;
      if (page.fps.size() == max) {
        page.next = fp;
        return page;
      }
      page.fps.push_back(fp);
      if (take_main) {
        ++a;
      } else {
        ++b;
      }
    }
  }
  return page;
}

void FingerprintIndex::clear() {
  // The directories point into the pool's slabs: drop them first.
  for (Partition& part : partitions_) part = Partition{};
  pool_.clear();
  scratch_ = std::vector<uint8_t>();
  size_ = 0;
  ASSERT(partitions_.size() == kPartitionCount);
  ASSERT(pool_.allocated_bytes() == 0);
}

void FingerprintIndex::reserve_partition(size_t partition, uint64_t count) {
  ASSERT(partition < kPartitionCount);
  Partition& part = partitions_[partition];
  ASSERT_MSG(part.main_count == 0 && part.buffer_count == 0, "reserve on a non-empty partition");
  ASSERT(count <= kPartitionEntriesMax);
  const size_t needed = static_cast<size_t>((count + kSegmentRecords - 1) / kSegmentRecords);
  part.segments.reserve(needed);
  while (part.segments.size() < needed) part.segments.push_back(pool_.get());
}

void FingerprintIndex::append_sorted(const IndexEntry& entry) {
  Partition& part = partitions_[partition_of(entry.fp)];
  ASSERT_MSG(part.buffer_count == 0, "append_sorted after insert");
  ASSERT_MSG(part.main_count < part.segments.size() * kSegmentRecords,
             "append_sorted beyond reserve_partition");
  ASSERT(size_ < entries_max_);
  if (part.main_count > 0) {
    ASSERT_MSG(compare_key(record(part.segments, part.main_count - 1), key_of(entry.fp)) < 0,
               "append_sorted out of order");
  }
  write_record(record(part.segments, part.main_count), entry);
  ++part.main_count;
  ++size_;
}

uint64_t FingerprintIndex::allocated_bytes() const {
  uint64_t directories = 0;
  for (const Partition& part : partitions_)
    directories += part.segments.capacity() * sizeof(uint8_t*);
  return pool_.allocated_bytes() + directories + partitions_.capacity() * sizeof(Partition) +
         scratch_.capacity();
}

}  // namespace splitarray::netshelf::index
