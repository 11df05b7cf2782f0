// tests/unit/netshelf/nvram/nvram_format_test.cpp
// The pure layer: header encodings and the ring scan's recovery rules on hand-built rings.
#include <doctest/doctest.h>

#include <vector>

#include "common/crc32c.h"
#include "netshelf/nvram/nvram_format.h"
#include "netshelf/nvram/ring_scan.h"

namespace splitarray::netshelf::nvram {
namespace {

constexpr uint64_t kIncarnation = 0xABCDEF;

// Writes records into a ring as NvramLog would, chaining prev_crc.
struct RingBuilder {
  explicit RingBuilder(uint64_t ring_bytes) : ring(ring_bytes, 0) {}

  // Returns the ring offset of the record.
  uint64_t put(uint64_t sequence, uint32_t length, uint64_t committed_through) {
    const uint64_t at = pos;
    std::vector<uint8_t> payload(length, static_cast<uint8_t>(sequence));
    RecordHeader header;
    header.host = HostId(1);
    header.length = length;
    header.sequence = sequence;
    header.incarnation = kIncarnation;
    header.committed_through = committed_through;
    header.prev_crc = prev_crc;
    header.crc = record_crc(header, crc32c(payload));
    std::vector<uint8_t> bytes(record_footprint(length), 0);
    encode_record_header(header, bytes);
    std::copy(payload.begin(), payload.end(), bytes.begin() + kRecordHeaderBytes);
    for (size_t i = 0; i < bytes.size(); ++i) ring[(pos + i) % ring.size()] = bytes[i];
    pos = (pos + bytes.size()) % ring.size();
    prev_crc = header.crc;
    return at;
  }

  ScanParams params(uint64_t head = 0, uint64_t first = 1, uint32_t head_prev_crc = 0) const {
    return ScanParams{.host = HostId(1),
                      .incarnation = kIncarnation,
                      .head_offset = head,
                      .first_sequence = first,
                      .head_prev_crc = head_prev_crc,
                      .record_max_bytes = 64 * 1024};
  }

  std::vector<uint8_t> ring;
  uint64_t pos = 0;
  uint32_t prev_crc = 0;
};

TEST_CASE("netshelf/nvram: file and region headers round trip, damage is detected") {
  auto geometry = plan_geometry(1 << 20, 4, 42);
  REQUIRE(geometry.ok());
  CHECK(geometry->region_offset(4) <= (1u << 20));
  std::vector<uint8_t> block(kFileHeaderBytes);
  encode_file_header(*geometry, block);
  auto back = decode_file_header(block, 1 << 20);
  REQUIRE(back.ok());
  CHECK(back->region_bytes == geometry->region_bytes);
  CHECK(back->incarnation == 42);
  CHECK(decode_file_header(block, (1 << 20) - 1).code() == Code::kCorruption);  // file shrank
  block[30] ^= 1;
  CHECK(decode_file_header(block, 1 << 20).code() == Code::kCorruption);
  CHECK(plan_geometry(1 << 20, 64, 1).code() == Code::kInvalidArgument);  // rings too small
  CHECK(plan_geometry(1 << 20, 0, 1).code() == Code::kInvalidArgument);

  RegionHeader region;
  region.generation = 7;
  region.in_use = true;
  region.host = HostId(9);
  region.fence = Epoch(3);
  region.trimmed_through = 100;
  region.head_offset = 4096;
  region.head_prev_crc = 0xDEADBEEF;
  std::vector<uint8_t> slot(kBlockBytes);
  encode_region_header(region, slot);
  auto decoded = decode_region_header(slot, geometry->ring_bytes());
  REQUIRE(decoded.has_value());
  CHECK(decoded->host == HostId(9));
  CHECK(decoded->head_prev_crc == 0xDEADBEEF);
  CHECK_FALSE(decode_region_header(slot, 4096).has_value());  // head beyond the ring
  slot[40] ^= 0x80;
  CHECK_FALSE(decode_region_header(slot, geometry->ring_bytes()).has_value());
}

TEST_CASE("netshelf/nvram: ring scan follows the chain, wraps, and stops at older laps") {
  RingBuilder b(64 * 1024);
  // Lap 1 fills most of the ring; lap 2 starts again at 40 KiB after a trim and wraps.
  for (uint64_t s = 1; s <= 30; ++s) b.put(s, 1000, s - 1);
  b.pos = 40 * 1024;
  uint32_t anchor = 0x1234;  // pretend record 30's crc was 0x1234 for lap 2's chain
  b.prev_crc = anchor;
  for (uint64_t s = 31; s <= 50; ++s) b.put(s, 1500, s - 1);  // 2 KiB each: wraps past 64 KiB
  auto scan = scan_ring(b.ring, b.params(40 * 1024, 31, anchor));
  CHECK(scan.records.size() == 20);
  CHECK(scan.records.back().sequence == 50);
  CHECK(scan.used_bytes == 20 * 2048);
  CHECK(scan.tail_offset == (40 * 1024 + 20 * 2048) % (64 * 1024));
  CHECK_FALSE(scan.damage.has_value());
  CHECK(scan.torn_discarded == 0);
  // A wrong anchor breaks the chain at once: nothing of lap 2 can be taken for the log.
  CHECK(scan_ring(b.ring, b.params(40 * 1024, 31, anchor + 1)).records.empty());
}

TEST_CASE("netshelf/nvram: ring scan tells a torn commit from a damaged durable record") {
  RingBuilder b(64 * 1024);
  b.put(1, 100, 0);
  b.put(2, 100, 1);
  const uint64_t third = b.put(3, 100, 2);
  b.put(4, 100, 2);  // same group commit as 3: says only 2 was durable
  SUBCASE("no later record proves 3 durable: torn tail, truncated") {
    b.ring[third + 100] ^= 1;
    auto scan = scan_ring(b.ring, b.params());
    CHECK(scan.records.size() == 2);
    CHECK_FALSE(scan.damage.has_value());
    CHECK(scan.torn_discarded == 1);
    CHECK(scan.tail_offset == third);
  }
  SUBCASE("a later record says 3 was durable: damage, later records kept") {
    b.put(5, 100, 4);
    b.put(6, 100, 5);
    b.ring[third + 100] ^= 1;
    auto scan = scan_ring(b.ring, b.params());
    CHECK(scan.records.size() == 2);
    REQUIRE(scan.damage.has_value());
    CHECK(scan.damage->sequence == 3);
    CHECK(scan.damage->offset == third);
    CHECK(scan.damage->evidence_sequence == 5);
    REQUIRE(scan.after_damage.size() == 3);
    CHECK(scan.after_damage.front().sequence == 4);
    CHECK(scan.after_damage.back().sequence == 6);
  }
}

}  // namespace
}  // namespace splitarray::netshelf::nvram
