// hostdriver/meta/btree_node.cpp
#include "hostdriver/meta/btree_node.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/assert.h"
#include "common/crc32c.h"
#include "common/endian.h"

namespace splitarray::hostdriver::meta {
namespace {

constexpr size_t kAtVersion = 4;
constexpr size_t kAtKind = 6;
constexpr size_t kAtLevel = 7;
constexpr size_t kAtCount = 8;
constexpr size_t kAtUsed = 12;
constexpr size_t kAtCrc = 16;
constexpr size_t kAtReserved = 20;

Error node_corrupt(const std::string& what) {
  return make_error(Code::kCorruption, "btree node: " + what);
}

// The ordering and size rules decode enforces, for encode's ASSERTs.
bool well_formed(const DecodedNode& node) {
  if (node.level > kTreeLevelsMax || node.count() == 0) return false;
  if (!node.is_leaf() && !node.entries.empty()) return false;
  if (node.is_leaf() && !node.children.empty()) return false;
  for (size_t i = 1; i < node.entries.size(); ++i) {
    if (node.entries[i - 1].key >= node.entries[i].key) return false;
  }
  for (size_t i = 1; i < node.children.size(); ++i) {
    if (node.children[i - 1].key >= node.children[i].key) return false;
  }
  for (const LeafEntry& entry : node.entries) {
    if (entry.value.size() > kValueBytesMax) return false;
  }
  for (const ChildRef& child : node.children) {
    if (child.ref.location.container_id == 0) return false;
  }
  return true;
}

Result<void> decode_leaf(std::span<const uint8_t> used, uint32_t count, DecodedNode& node) {
  if (count > (used.size() - kNodeHeaderBytes) / kLeafEntryHeaderBytes) {
    return node_corrupt("count exceeds the used bytes");
  }
  node.entries.resize(count);
  size_t at = kNodeHeaderBytes;
  for (uint32_t i = 0; i < count; ++i) {
    if (used.size() - at < kLeafEntryHeaderBytes) return node_corrupt("leaf entry truncated");
    LeafEntry& entry = node.entries[i];
    entry.key = get_u64(used, at);
    const size_t length = get_u16(used, at + 8);
    if (length > kValueBytesMax) return node_corrupt("value length over kValueBytesMax");
    at += kLeafEntryHeaderBytes;
    if (used.size() - at < length) return node_corrupt("value truncated");
    entry.value.assign(used.begin() + static_cast<ptrdiff_t>(at),
                       used.begin() + static_cast<ptrdiff_t>(at + length));
    at += length;
    if (i > 0 && node.entries[i - 1].key >= entry.key) return node_corrupt("keys not increasing");
  }
  if (at != used.size()) return node_corrupt("used bytes beyond the last entry");
  return ok_result();
}

Result<void> decode_interior(std::span<const uint8_t> used, uint32_t count, DecodedNode& node) {
  if (used.size() - kNodeHeaderBytes != size_t{count} * kInteriorEntryBytes) {
    return node_corrupt("used bytes do not match the child count");
  }
  node.children.resize(count);
  size_t at = kNodeHeaderBytes;
  for (uint32_t i = 0; i < count; ++i) {
    ChildRef& child = node.children[i];
    child.key = get_u64(used, at);
    std::memcpy(child.ref.fp.data(), used.data() + at + 8, child.ref.fp.size());
    child.ref.location = {.container_id = get_u64(used, at + 40),
                          .offset = get_u32(used, at + 48),
                          .length = get_u32(used, at + 52)};
    at += kInteriorEntryBytes;
    if (child.ref.location.container_id == 0) return node_corrupt("child without a container");
    if (i > 0 && node.children[i - 1].key >= child.key) return node_corrupt("keys not increasing");
  }
  return ok_result();
}

}  // namespace

bool valid_node_bytes(uint32_t node_bytes) {
  return node_bytes >= kNodeBytesMin && node_bytes <= kNodeBytesMax &&
         (node_bytes & (node_bytes - 1)) == 0;
}

size_t encoded_size(const DecodedNode& node) {
  size_t bytes = kNodeHeaderBytes + node.children.size() * kInteriorEntryBytes;
  for (const LeafEntry& entry : node.entries) bytes += leaf_entry_bytes(entry.value.size());
  return bytes;
}

uint32_t node_crc(std::span<const uint8_t> bytes, size_t used) {
  ASSERT(used >= kNodeHeaderBytes && used <= bytes.size());
  return crc32c(bytes.subspan(kNodeHeaderBytes, used - kNodeHeaderBytes),
                crc32c(bytes.first(kAtCrc)));
}

std::vector<uint8_t> encode_node(const DecodedNode& node, uint32_t node_bytes) {
  ASSERT(valid_node_bytes(node_bytes));
  ASSERT_MSG(well_formed(node), "encoding a malformed btree node");
  const size_t used = encoded_size(node);
  ASSERT_MSG(used <= node_bytes, "btree node does not fit: it should have been split");
  std::vector<uint8_t> out(node_bytes, 0);
  std::span<uint8_t> bytes(out);
  put_u32(bytes, 0, kNodeMagic);
  put_u16(bytes, kAtVersion, kNodeVersion);
  bytes[kAtKind] = static_cast<uint8_t>(node.is_leaf() ? NodeKind::kLeaf : NodeKind::kInterior);
  bytes[kAtLevel] = node.level;
  put_u32(bytes, kAtCount, static_cast<uint32_t>(node.count()));
  put_u32(bytes, kAtUsed, static_cast<uint32_t>(used));
  size_t at = kNodeHeaderBytes;
  for (const LeafEntry& entry : node.entries) {
    put_u64(bytes, at, entry.key);
    put_u16(bytes, at + 8, static_cast<uint16_t>(entry.value.size()));
    if (!entry.value.empty()) {
      std::memcpy(out.data() + at + kLeafEntryHeaderBytes, entry.value.data(), entry.value.size());
    }
    at += leaf_entry_bytes(entry.value.size());
  }
  for (const ChildRef& child : node.children) {
    put_u64(bytes, at, child.key);
    std::memcpy(out.data() + at + 8, child.ref.fp.data(), child.ref.fp.size());
    put_u64(bytes, at + 40, child.ref.location.container_id);
    put_u32(bytes, at + 48, child.ref.location.offset);
    put_u32(bytes, at + 52, child.ref.location.length);
    at += kInteriorEntryBytes;
  }
  ASSERT(at == used);
  put_u32(bytes, kAtCrc, node_crc(bytes, used));
  return out;
}

Result<DecodedNode> decode_node(std::span<const uint8_t> bytes, uint32_t node_bytes) {
  ASSERT(valid_node_bytes(node_bytes));
  if (bytes.size() != node_bytes) return node_corrupt("size is not node_bytes");
  if (get_u32(bytes, 0) != kNodeMagic) return node_corrupt("bad magic");
  const uint32_t used = get_u32(bytes, kAtUsed);
  if (used < kNodeHeaderBytes || used > node_bytes) return node_corrupt("bad used bytes");
  if (get_u32(bytes, kAtCrc) != node_crc(bytes, used)) return node_corrupt("bad CRC");
  if (get_u16(bytes, kAtVersion) != kNodeVersion) return node_corrupt("unknown version");
  if (get_u32(bytes, kAtReserved) != 0) return node_corrupt("reserved field not zero");
  const uint8_t kind = bytes[kAtKind];
  DecodedNode node;
  node.level = bytes[kAtLevel];
  if (kind == static_cast<uint8_t>(NodeKind::kLeaf)) {
    if (node.level != 0) return node_corrupt("leaf with a nonzero level");
  } else if (kind == static_cast<uint8_t>(NodeKind::kInterior)) {
    if (node.level == 0) return node_corrupt("interior node at level 0");
    if (node.level > kTreeLevelsMax) return node_corrupt("level over kTreeLevelsMax");
  } else {
    return node_corrupt("unknown kind");
  }
  const uint32_t count = get_u32(bytes, kAtCount);
  if (count == 0) return node_corrupt("empty node");  // empty nodes are removed, never stored
  const std::span<const uint8_t> used_bytes = bytes.first(used);
  Result<void> parsed = node.is_leaf() ? decode_leaf(used_bytes, count, node)
                                       : decode_interior(used_bytes, count, node);
  if (!parsed.ok()) return std::move(parsed).take_error();
  const auto padding = bytes.subspan(used);
  if (!std::all_of(padding.begin(), padding.end(), [](uint8_t b) { return b == 0; })) {
    return node_corrupt("nonzero padding");
  }
  ASSERT(node.count() == count);
  ASSERT(encoded_size(node) == used);
  return node;
}

}  // namespace splitarray::hostdriver::meta
