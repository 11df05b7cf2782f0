#include "netshelf/disk/disk_format.h"

#include <algorithm>

#include "common/crc32c.h"
#include "common/endian.h"

namespace splitarray::netshelf {
namespace {

constexpr uint64_t kSuperblockMagic = 0x4b53494454504c53;  // "SPLTDISK"
constexpr uint32_t kSuperblockVersion = 1;
constexpr size_t kSuperblockCrcOffset = kSuperblockSize - 4;

constexpr uint32_t kEntryMagic = 0x45544153;  // "SATE"
constexpr uint16_t kEntryVersion = 1;
constexpr size_t kEntryCrcOffset = kTableEntrySize - 4;

constexpr uint32_t kPageMagic = 0x50534153;  // "SASP"
constexpr uint16_t kPageVersion = 1;
constexpr size_t kPageCrcOffset = kSlotPageOwnBytes - 4;

uint64_t round_up(uint64_t value, uint64_t align) { return (value + align - 1) / align * align; }

bool all_zero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace

std::string_view disk_state_name(DiskState state) {
  switch (state) {
    case DiskState::kHealthy:
      return "healthy";
    case DiskState::kFailed:
      return "failed";
    case DiskState::kRebuilding:
      return "rebuilding";
  }
  return "unknown";
}

std::string DiskIdentity::to_string() const {
  return "cluster=" + std::to_string(cluster.value()) + " shelf=" + std::to_string(shelf.value()) +
         " disk=" + std::to_string(index.value());
}

// ---------------------------------------------------------------------------------------------
// Geometry.

uint64_t DiskGeometry::table_entry_offset(uint32_t slot) const {
  ASSERT(slot < slot_count);
  return kTableOffset + uint64_t{slot} * kTableEntrySize;
}

uint64_t DiskGeometry::slot_offset(uint32_t slot) const {
  ASSERT(slot < slot_count);
  return data_offset + uint64_t{slot} * slot_size_bytes;
}

DiskGeometry geometry_for(uint32_t slot_count, uint32_t slot_payload_max_bytes) {
  ASSERT(slot_payload_max_bytes >= kSlotPayloadMinBytes);
  ASSERT(slot_payload_max_bytes <= kSlotPayloadMaxBytes);
  ASSERT(slot_count <= kSlotCountMax);
  DiskGeometry g;
  g.slot_payload_max_bytes = slot_payload_max_bytes;
  g.slot_count = slot_count;
  g.slot_size_bytes = round_up(kSlotPageSize + slot_payload_max_bytes, kDiskAlignBytes);
  g.data_offset = round_up(kTableOffset + uint64_t{slot_count} * kTableEntrySize, kDiskAlignBytes);
  return g;
}

Result<DiskGeometry> plan_geometry(uint64_t capacity_bytes, uint32_t slot_payload_max_bytes) {
  if (slot_payload_max_bytes < kSlotPayloadMinBytes ||
      slot_payload_max_bytes > kSlotPayloadMaxBytes) {
    return make_error(Code::kInvalidArgument, "slot payload size out of range");
  }
  const uint64_t slot_size = round_up(kSlotPageSize + slot_payload_max_bytes, kDiskAlignBytes);
  if (capacity_bytes <= kTableOffset) {
    return make_error(Code::kInvalidArgument, "disk too small for a superblock and a table");
  }
  // Each slot costs its bytes plus one table entry; the table's rounding may cost one slot more.
  uint64_t count = (capacity_bytes - kTableOffset) / (slot_size + kTableEntrySize);
  count = std::min<uint64_t>(count, kSlotCountMax);
  while (count > 0 &&
         geometry_for(static_cast<uint32_t>(count), slot_payload_max_bytes).end_offset() >
             capacity_bytes) {
    --count;
  }
  if (count == 0) return make_error(Code::kInvalidArgument, "disk too small for one slot");
  DiskGeometry g = geometry_for(static_cast<uint32_t>(count), slot_payload_max_bytes);
  ASSERT(g.end_offset() <= capacity_bytes);
  return g;
}

// ---------------------------------------------------------------------------------------------
// Superblock.

std::array<uint8_t, kSuperblockSize> encode_superblock(const Superblock& sb) {
  ASSERT(sb.geometry.slot_count > 0);
  ASSERT(sb.geometry.end_offset() <= sb.capacity_bytes);
  std::array<uint8_t, kSuperblockSize> out{};
  std::span<uint8_t> b(out);
  put_u64(b, 0, kSuperblockMagic);
  put_u32(b, 8, kSuperblockVersion);
  b[12] = static_cast<uint8_t>(sb.state);
  put_u64(b, 16, sb.sequence);
  put_u64(b, 24, sb.identity.cluster.value());
  put_u32(b, 32, sb.identity.shelf.value());
  put_u16(b, 36, sb.identity.index.value());
  put_u32(b, 40, sb.disk_generation);
  put_u32(b, 44, sb.geometry.slot_payload_max_bytes);
  put_u32(b, 48, sb.geometry.slot_count);
  put_u32(b, 52, static_cast<uint32_t>(kTableEntrySize));
  put_u64(b, 56, sb.format_nonce);
  put_u64(b, 64, sb.capacity_bytes);
  put_u64(b, 72, sb.geometry.slot_size_bytes);
  put_u64(b, 80, sb.geometry.data_offset);
  put_u32(b, kSuperblockCrcOffset, crc32c(b.first(kSuperblockCrcOffset)));
  return out;
}

Result<Superblock> decode_superblock(std::span<const uint8_t> b) {
  if (b.size() != kSuperblockSize) return corruption_error("superblock has the wrong size");
  if (get_u64(b, 0) != kSuperblockMagic) return corruption_error("bad superblock magic");
  if (crc32c(b.first(kSuperblockCrcOffset)) != get_u32(b, kSuperblockCrcOffset)) {
    return corruption_error("superblock CRC32C mismatch");
  }
  if (get_u32(b, 8) != kSuperblockVersion) return corruption_error("unknown superblock version");
  if (b[12] > static_cast<uint8_t>(DiskState::kRebuilding)) {
    return corruption_error("unknown disk state in superblock");
  }
  Superblock sb;
  sb.state = static_cast<DiskState>(b[12]);
  sb.sequence = get_u64(b, 16);
  sb.identity = DiskIdentity{.cluster = ClusterId(get_u64(b, 24)),
                             .shelf = ShelfId(get_u32(b, 32)),
                             .index = DiskIndex(get_u16(b, 36))};
  sb.disk_generation = get_u32(b, 40);
  const uint32_t payload_max = get_u32(b, 44);
  const uint32_t slot_count = get_u32(b, 48);
  sb.format_nonce = get_u64(b, 56);
  sb.capacity_bytes = get_u64(b, 64);
  // Check every length before deriving offsets from it (invariant 3).
  if (get_u32(b, 52) != kTableEntrySize) return corruption_error("superblock table entry size");
  if (payload_max < kSlotPayloadMinBytes || payload_max > kSlotPayloadMaxBytes) {
    return corruption_error("superblock slot payload size out of range");
  }
  if (slot_count == 0 || slot_count > kSlotCountMax) {
    return corruption_error("superblock slot count out of range");
  }
  sb.geometry = geometry_for(slot_count, payload_max);
  if (sb.geometry.slot_size_bytes != get_u64(b, 72) || sb.geometry.data_offset != get_u64(b, 80) ||
      sb.geometry.end_offset() > sb.capacity_bytes) {
    return corruption_error("superblock geometry is inconsistent");
  }
  return sb;
}

// ---------------------------------------------------------------------------------------------
// Table entries.

void encode_table_entry(const TableEntry& e, std::span<uint8_t> out) {
  ASSERT(out.size() == kTableEntrySize);
  ASSERT(e.payload_length <= kSlotPayloadMaxBytes);
  std::fill(out.begin(), out.end(), uint8_t{0});
  put_u32(out, 0, kEntryMagic);
  put_u16(out, 4, kEntryVersion);
  out[6] = e.used ? 1 : 0;
  out[7] = e.id.index;
  put_u32(out, 8, e.slot);
  put_u32(out, 12, e.id.generation);
  put_u64(out, 16, e.format_nonce);
  put_u64(out, 24, e.sequence);
  put_u64(out, 32, e.id.container.value());
  put_u32(out, 40, e.payload_length);
  put_u32(out, 44, e.fragment_crc);
  put_u32(out, 48, e.page_crc);
  put_u32(out, kEntryCrcOffset, crc32c(out.first(kEntryCrcOffset)));
}

DecodedEntry decode_table_entry(std::span<const uint8_t> b, uint32_t expected_slot,
                                uint64_t format_nonce, uint32_t slot_payload_max_bytes) {
  ASSERT(b.size() == kTableEntrySize);
  DecodedEntry out;
  if (all_zero(b)) return out;  // never written since this file was created
  const bool intact = get_u32(b, 0) == kEntryMagic && get_u16(b, 4) == kEntryVersion &&
                      crc32c(b.first(kEntryCrcOffset)) == get_u32(b, kEntryCrcOffset);
  if (intact && get_u64(b, 16) != format_nonce) return out;  // an earlier format's leftover
  TableEntry& e = out.entry;
  e.used = b[6] == 1;
  e.id.index = b[7];
  e.slot = get_u32(b, 8);
  e.id.generation = get_u32(b, 12);
  e.format_nonce = get_u64(b, 16);
  e.sequence = get_u64(b, 24);
  e.id.container = ContainerId(get_u64(b, 32));
  e.payload_length = get_u32(b, 40);
  e.fragment_crc = get_u32(b, 44);
  e.page_crc = get_u32(b, 48);
  if (!intact || b[6] > 1 || e.slot != expected_slot || e.payload_length > slot_payload_max_bytes) {
    out.kind = EntryKind::kDamaged;
    return out;
  }
  out.kind = e.used ? EntryKind::kUsed : EntryKind::kFree;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Slot pages.

uint32_t encode_slot_page(const SlotPageKey& key, std::span<const uint8_t> payload,
                          std::span<uint8_t> out) {
  ASSERT(out.size() == kSlotPageOwnBytes);
  ASSERT(payload.size() == key.payload_length);
  ASSERT(key.payload_length <= kSlotPayloadMaxBytes);
  std::fill(out.begin(), out.end(), uint8_t{0});
  const uint32_t blocks = crc_block_count(key.payload_length);
  put_u32(out, 0, kPageMagic);
  put_u16(out, 4, kPageVersion);
  out[6] = key.id.index;
  put_u32(out, 8, key.slot);
  put_u32(out, 12, key.id.generation);
  put_u64(out, 16, key.format_nonce);
  put_u64(out, 24, key.id.container.value());
  put_u32(out, 32, key.payload_length);
  put_u32(out, 36, blocks);
  for (uint32_t i = 0; i < blocks; ++i) {
    const size_t begin = size_t{i} * kCrcBlockSize;
    const size_t length = std::min<size_t>(kCrcBlockSize, payload.size() - begin);
    put_u32(out, kSlotPageCrcsOffset + 4 * size_t{i}, crc32c(payload.subspan(begin, length)));
  }
  const uint32_t page_crc = crc32c(out.first(kPageCrcOffset));
  put_u32(out, kPageCrcOffset, page_crc);
  return page_crc;
}

Result<void> check_slot_page(std::span<const uint8_t> b, const SlotPageKey& key,
                             uint32_t page_crc) {
  ASSERT(b.size() == kSlotPageOwnBytes);
  const uint32_t stored = get_u32(b, kPageCrcOffset);
  if (crc32c(b.first(kPageCrcOffset)) != stored)
    return corruption_error("slot page CRC32C mismatch");
  // A valid page of another write (stale or misdirected) has a valid CRC of its own: compare it
  // with the CRC the table recorded for this slot's current occupant.
  if (stored != page_crc) return corruption_error("slot page is not the one the table points to");
  if (get_u32(b, 0) != kPageMagic || get_u16(b, 4) != kPageVersion) {
    return corruption_error("bad slot page magic");
  }
  const bool same =
      b[6] == key.id.index && get_u32(b, 8) == key.slot && get_u32(b, 12) == key.id.generation &&
      get_u64(b, 16) == key.format_nonce && get_u64(b, 24) == key.id.container.value() &&
      get_u32(b, 32) == key.payload_length && get_u32(b, 36) == crc_block_count(key.payload_length);
  if (!same) return corruption_error("slot page names another fragment");
  return ok_result();
}

uint32_t slot_page_block_crc(std::span<const uint8_t> page, uint32_t block) {
  ASSERT(page.size() == kSlotPageOwnBytes);
  ASSERT(block < get_u32(page, 36));
  return get_u32(page, kSlotPageCrcsOffset + 4 * size_t{block});
}

}  // namespace splitarray::netshelf
