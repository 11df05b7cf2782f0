// netshelf/disk/disk_format.h
// The on-disk format of one shelf disk, as pure encode/decode functions (no I/O): superblock,
// slot table entries, slot pages, and the geometry that places them. netshelf/disk/README.md
// draws the layout; disk.h drives it through Env storage.
//
//   [0, 4 KiB)        superblock copy A
//   [4 KiB, 8 KiB)    superblock copy B (same content; a torn write damages at most one copy)
//   [8 KiB, +T)       slot table: slot_count entries of 512 bytes (one sector each), T rounded
//                     up to 4 KiB; entry i describes slot i
//   [data_offset, ..) slot_count slots of slot_size bytes, each:
//                       [0, 4032)    slot page: identity + CRC32C of every 4 KiB payload block
//                       [4032, 4096) the fragment header (protocol/fragment_header.h)
//                       [4096, ..)   the payload, 4 KiB aligned
//
// Invariants:
//   (1) Every structure carries its own CRC32C and the disk's format nonce, so leftovers of an
//       earlier format of the same file are never mistaken for live data.
//   (2) A table entry and a slot page name their slot, so a misdirected write is detected.
//   (3) Decoders never trust a length before checking it against the named limits below.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/result.h"
#include "protocol/fragment_header.h"

namespace splitarray::netshelf {

using protocol::FragmentId;

// ---------------------------------------------------------------------------------------------
// Limits and fixed offsets.

inline constexpr uint64_t kDiskAlignBytes = 4096;
inline constexpr size_t kSuperblockSize = 4096;
inline constexpr uint64_t kSuperblockOffsetA = 0;
inline constexpr uint64_t kSuperblockOffsetB = kSuperblockSize;
inline constexpr uint64_t kTableOffset = 2 * kSuperblockSize;
// One sector: a torn write of one entry cannot damage its neighbours.
inline constexpr size_t kTableEntrySize = 512;
inline constexpr size_t kSlotPageSize = 4096;
inline constexpr size_t kSlotHeaderOffset = kSlotPageSize - protocol::kFragmentHeaderSize;
// The part of the slot page the shelf owns (the fragment header follows it).
inline constexpr size_t kSlotPageOwnBytes = kSlotHeaderOffset;
inline constexpr uint32_t kCrcBlockSize = 4096;
inline constexpr uint32_t kSlotPayloadMinBytes = 4096;
inline constexpr uint32_t kSlotPayloadMaxBytes = protocol::kFragmentPayloadMaxBytes;
inline constexpr uint32_t kCrcBlocksMax =
    (kSlotPayloadMaxBytes + kCrcBlockSize - 1) / kCrcBlockSize;
// 16 Mi slots: an 8 GiB table. Bounds the startup table scan and the in-memory slot array.
inline constexpr uint32_t kSlotCountMax = 16u * 1024 * 1024;

inline constexpr size_t kSlotPageCrcsOffset = 48;
static_assert(kSlotPageCrcsOffset + 4 * kCrcBlocksMax + 4 <= kSlotPageOwnBytes,
              "every block CRC of the largest payload fits the slot page");
static_assert(kSlotPageSize % kDiskAlignBytes == 0 && kTableEntrySize <= kDiskAlignBytes);

// ---------------------------------------------------------------------------------------------
// Identity and state.

enum class DiskState : uint8_t { kHealthy = 0, kFailed = 1, kRebuilding = 2 };
std::string_view disk_state_name(DiskState state);

struct DiskIdentity {
  ClusterId cluster;
  ShelfId shelf;
  DiskIndex index;

  std::string to_string() const;
  friend bool operator==(const DiskIdentity&, const DiskIdentity&) = default;
};

// ---------------------------------------------------------------------------------------------
// Geometry: where the table and the slots are, derived from capacity and slot payload size.

struct DiskGeometry {
  uint32_t slot_payload_max_bytes = 0;
  uint32_t slot_count = 0;
  uint64_t slot_size_bytes = 0;  // kSlotPageSize + payload max, rounded up to 4 KiB
  uint64_t data_offset = 0;      // first slot; 4 KiB aligned, after the table

  uint64_t table_entry_offset(uint32_t slot) const;
  uint64_t slot_offset(uint32_t slot) const;
  uint64_t end_offset() const { return data_offset + uint64_t{slot_count} * slot_size_bytes; }
};

// The most slots that fit `capacity_bytes` (capped at kSlotCountMax). kInvalidArgument if the
// payload size is out of range or not even one slot fits.
Result<DiskGeometry> plan_geometry(uint64_t capacity_bytes, uint32_t slot_payload_max_bytes);
// The geometry of exactly `slot_count` slots (used when reading a superblock back).
DiskGeometry geometry_for(uint32_t slot_count, uint32_t slot_payload_max_bytes);

// ---------------------------------------------------------------------------------------------
// Superblock.

struct Superblock {
  DiskIdentity identity;
  uint64_t sequence = 0;         // bumped on every rewrite; the valid copy with the higher one wins
  uint32_t disk_generation = 0;  // bumped when a disk is replaced
  DiskState state = DiskState::kHealthy;
  uint64_t format_nonce = 0;  // random per format; stamped on every entry and slot page
  uint64_t capacity_bytes = 0;
  DiskGeometry geometry;
};

std::array<uint8_t, kSuperblockSize> encode_superblock(const Superblock& sb);
// kCorruption on a bad magic, version, CRC or inconsistent geometry.
Result<Superblock> decode_superblock(std::span<const uint8_t> bytes);

// ---------------------------------------------------------------------------------------------
// Slot table entries. A used entry points slot -> fragment; a free entry is a durable tombstone.

struct TableEntry {
  bool used = false;
  uint32_t slot = 0;
  uint64_t format_nonce = 0;
  uint64_t sequence = 0;  // disk-wide write order; breaks ties between two entries of one id
  FragmentId id;
  uint32_t payload_length = 0;
  uint32_t fragment_crc = 0;  // the fragment header's CRC (header + payload)
  uint32_t page_crc = 0;      // CRC32C of the slot page's own bytes
};

void encode_table_entry(const TableEntry& entry, std::span<uint8_t> out);

enum class EntryKind : uint8_t { kUsed, kFree, kDamaged };
struct DecodedEntry {
  EntryKind kind = EntryKind::kFree;
  TableEntry entry;
};
// Never fails: an all-zero entry or one from another format (other nonce) is free; one with a
// bad CRC, magic, slot number or out-of-range length is damaged (counted and treated as free).
DecodedEntry decode_table_entry(std::span<const uint8_t> bytes, uint32_t expected_slot,
                                uint64_t format_nonce, uint32_t slot_payload_max_bytes);

// ---------------------------------------------------------------------------------------------
// Slot pages: identity of the slot's occupant and the CRC32C of each 4 KiB payload block, so a
// byte-range read verifies only the blocks it returns.

struct SlotPageKey {
  uint32_t slot = 0;
  uint64_t format_nonce = 0;
  FragmentId id;
  uint32_t payload_length = 0;
};

inline uint32_t crc_block_count(uint32_t payload_length) {
  return (payload_length + kCrcBlockSize - 1) / kCrcBlockSize;
}

// Fills out (kSlotPageOwnBytes) for `payload`; returns the page's CRC (kept in the table entry).
uint32_t encode_slot_page(const SlotPageKey& key, std::span<const uint8_t> payload,
                          std::span<uint8_t> out);
// kCorruption unless the page is intact, its CRC equals `page_crc` and it names `key`.
Result<void> check_slot_page(std::span<const uint8_t> page, const SlotPageKey& key,
                             uint32_t page_crc);
// The stored CRC of payload block `block` of a page that passed check_slot_page.
uint32_t slot_page_block_crc(std::span<const uint8_t> page, uint32_t block);

}  // namespace splitarray::netshelf
