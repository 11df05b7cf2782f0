// netshelf/disk/disk_format: pure encode/decode of superblock, table entries and slot pages.
#include <doctest/doctest.h>

#include <vector>

#include "common/prng.h"
#include "netshelf/disk/disk_format.h"

namespace splitarray::netshelf {
namespace {

Superblock sample_superblock() {
  Superblock sb;
  sb.identity = DiskIdentity{.cluster = ClusterId(11), .shelf = ShelfId(2), .index = DiskIndex(5)};
  sb.sequence = 3;
  sb.disk_generation = 2;
  sb.state = DiskState::kRebuilding;
  sb.format_nonce = 0xABCDEF;
  sb.capacity_bytes = 64 * 1024 * 1024;
  sb.geometry = plan_geometry(sb.capacity_bytes, 1024 * 1024).value();
  return sb;
}

TEST_CASE("netshelf/disk_format: superblock round trip, every single bit flip is kCorruption") {
  const Superblock sb = sample_superblock();
  const auto bytes = encode_superblock(sb);
  auto back = decode_superblock(bytes);
  REQUIRE(back.ok());
  CHECK(back->identity == sb.identity);
  CHECK(back->sequence == 3);
  CHECK(back->disk_generation == 2);
  CHECK(back->state == DiskState::kRebuilding);
  CHECK(back->format_nonce == 0xABCDEF);
  CHECK(back->geometry.slot_count == sb.geometry.slot_count);
  CHECK(back->geometry.data_offset == sb.geometry.data_offset);
  for (size_t byte = 0; byte < bytes.size(); ++byte) {
    auto bad = bytes;
    bad[byte] ^= 0x10;
    CHECK(decode_superblock(bad).code() == Code::kCorruption);
  }
  CHECK(decode_superblock(std::span<const uint8_t>(bytes).first(100)).code() == Code::kCorruption);
}

TEST_CASE("netshelf/disk_format: geometry fits the capacity and rejects impossible sizes") {
  for (const uint64_t capacity : {uint64_t{3} << 20, uint64_t{100} << 20, uint64_t{1} << 34}) {
    auto g = plan_geometry(capacity, 1024 * 1024);
    REQUIRE(g.ok());
    CHECK(g->end_offset() <= capacity);
    CHECK(g->slot_size_bytes == 1024 * 1024 + 4096);
    CHECK(g->data_offset % kDiskAlignBytes == 0);
    CHECK(g->data_offset >= kTableOffset + uint64_t{g->slot_count} * kTableEntrySize);
    // Maximal: one more slot would not fit.
    CHECK(geometry_for(g->slot_count + 1, 1024 * 1024).end_offset() > capacity);
  }
  CHECK(plan_geometry(4096, 1024 * 1024).code() == Code::kInvalidArgument);
  CHECK(plan_geometry(1 << 20, 1024 * 1024).code() == Code::kInvalidArgument);  // < 1 slot
  CHECK(plan_geometry(1 << 30, 100).code() == Code::kInvalidArgument);
  CHECK(plan_geometry(1 << 30, kSlotPayloadMaxBytes + 1).code() == Code::kInvalidArgument);
}

TEST_CASE("netshelf/disk_format: table entries: used, tombstone, zero, foreign, damaged") {
  TableEntry e{.used = true,
               .slot = 17,
               .format_nonce = 99,
               .sequence = 1234,
               .id = FragmentId{.container = ContainerId(5), .index = 3, .generation = 8},
               .payload_length = 4000,
               .fragment_crc = 0x1111,
               .page_crc = 0x2222};
  std::vector<uint8_t> bytes(kTableEntrySize);
  encode_table_entry(e, bytes);
  auto d = decode_table_entry(bytes, 17, 99, 65536);
  REQUIRE(d.kind == EntryKind::kUsed);
  CHECK(d.entry.id == e.id);
  CHECK(d.entry.sequence == 1234);
  CHECK(d.entry.page_crc == 0x2222);
  CHECK(decode_table_entry(bytes, 18, 99, 65536).kind == EntryKind::kDamaged);  // misdirected
  CHECK(decode_table_entry(bytes, 17, 98, 65536).kind == EntryKind::kFree);     // old format
  CHECK(decode_table_entry(bytes, 17, 99, 1000).kind == EntryKind::kDamaged);   // length
  for (size_t byte = 0; byte < bytes.size(); ++byte) {
    auto bad = bytes;
    bad[byte] ^= 0x01;
    CHECK(decode_table_entry(bad, 17, 99, 65536).kind == EntryKind::kDamaged);
  }
  // A torn write: the first half is new, the rest is the old (zero) sector.
  std::vector<uint8_t> torn(kTableEntrySize, 0);
  std::copy(bytes.begin(), bytes.begin() + 256, torn.begin());
  CHECK(decode_table_entry(torn, 17, 99, 65536).kind == EntryKind::kDamaged);
  CHECK(decode_table_entry(std::vector<uint8_t>(kTableEntrySize, 0), 17, 99, 65536).kind ==
        EntryKind::kFree);
  e.used = false;
  encode_table_entry(e, bytes);
  CHECK(decode_table_entry(bytes, 17, 99, 65536).kind == EntryKind::kFree);
}

TEST_CASE("netshelf/disk_format: slot page binds identity, slot, nonce and block CRCs") {
  Prng prng(1);
  std::vector<uint8_t> payload(3 * kCrcBlockSize + 100);
  prng.fill(payload);
  const SlotPageKey key{.slot = 4,
                        .format_nonce = 77,
                        .id = FragmentId{.container = ContainerId(9), .index = 1, .generation = 2},
                        .payload_length = static_cast<uint32_t>(payload.size())};
  std::vector<uint8_t> page(kSlotPageOwnBytes);
  const uint32_t page_crc = encode_slot_page(key, payload, page);
  REQUIRE(check_slot_page(page, key, page_crc).ok());
  CHECK(slot_page_block_crc(page, 3) != 0);
  CHECK(check_slot_page(page, key, page_crc + 1).code() == Code::kCorruption);
  SlotPageKey other = key;
  other.slot = 5;
  CHECK(check_slot_page(page, other, page_crc).code() == Code::kCorruption);
  other = key;
  other.id.generation = 3;
  CHECK(check_slot_page(page, other, page_crc).code() == Code::kCorruption);
  other = key;
  other.format_nonce = 78;
  CHECK(check_slot_page(page, other, page_crc).code() == Code::kCorruption);
  auto bad = page;
  bad[60] ^= 0x80;
  CHECK(check_slot_page(bad, key, page_crc).code() == Code::kCorruption);
}

}  // namespace
}  // namespace splitarray::netshelf
