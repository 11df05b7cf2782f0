// hostdriver/meta/btree_node.h
// The on-disk node of the metadata B+tree (DESIGN.md §5): a leaf holds sorted (u64 key, value
// bytes); an interior node holds sorted (u64 key, child BlockRef), where a child's key is a lower
// bound of every key below it and the next child's key an upper bound (exclusive). A node is
// exactly node_bytes bytes (the datastore block size), stored as one content-addressed chunk.
//
//   header (24 bytes)                        leaf entry (10 + n bytes)   interior entry (56 bytes)
//     0  4  magic "SAMT" (0x544d4153)           0  8  key                  0  8  key
//     4  2  version (1)                         8  2  value length n      8 32  child fp
//     6  1  kind (1 leaf, 2 interior)          10  n  value               40  8  container id
//     7  1  level (leaf 0, interior 1..)                                  48  4  offset
//     8  4  count (entries or children)                                   52  4  stored length
//    12  4  used bytes (header + entries)
//    16  4  CRC32C of bytes [0, 16) then [24, used)
//    20  4  reserved, zero
//   [used, node_bytes) is zero padding.
//
// Pure and synchronous. decode_node parses bytes that came from disk: it validates every field
// and returns kCorruption naming it; encode_node of a node that breaks a rule is a bug (ASSERT).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "hostdriver/blockstore/block_store.h"

namespace splitarray::hostdriver::meta {

// --- Format and limits -------------------------------------------------------------------------
inline constexpr uint32_t kNodeMagic = 0x544d4153;  // "SAMT"
inline constexpr uint16_t kNodeVersion = 1;
inline constexpr size_t kNodeHeaderBytes = 24;
inline constexpr size_t kLeafEntryHeaderBytes = 10;  // key + value length
inline constexpr size_t kInteriorEntryBytes = 56;
// Node sizes are the valid datastore block sizes.
inline constexpr uint32_t kNodeBytesMin = 4096;
inline constexpr uint32_t kNodeBytesMax = 65536;
// A value: a symlink target of up to 1024 bytes plus its inode record must fit.
inline constexpr size_t kValueBytesMax = 1280;
// Height bound: with >= 36 children per interior node (4 KiB) 24 levels is far beyond any tree;
// decode rejects deeper nodes so a corrupt level cannot make the tree recurse without end.
inline constexpr uint8_t kTreeLevelsMax = 24;

inline constexpr size_t leaf_entry_bytes(size_t value_bytes) {
  return kLeafEntryHeaderBytes + value_bytes;
}
// Splits by bytes leave each half at most half a node plus one entry (see btree.cpp), which fits
// only if a node holds three max-size entries; an interior node must branch usefully.
static_assert(kNodeHeaderBytes + 3 * leaf_entry_bytes(kValueBytesMax) <= kNodeBytesMin);
static_assert(kNodeHeaderBytes + 8 * kInteriorEntryBytes <= kNodeBytesMin);
static_assert(kValueBytesMax <= UINT16_MAX, "value length is a u16");

enum class NodeKind : uint8_t { kLeaf = 1, kInterior = 2 };

struct LeafEntry {
  uint64_t key = 0;
  std::vector<uint8_t> value;
  friend bool operator==(const LeafEntry&, const LeafEntry&) = default;
};

struct ChildRef {
  uint64_t key = 0;  // every key under ref is >= key (and < the next child's key)
  blockstore::BlockRef ref{};
  friend bool operator==(const ChildRef&, const ChildRef&) = default;
};

// A node in memory: a leaf (level 0) uses entries, an interior node (level >= 1) children.
struct DecodedNode {
  uint8_t level = 0;
  std::vector<LeafEntry> entries;
  std::vector<ChildRef> children;

  bool is_leaf() const { return level == 0; }
  size_t count() const { return is_leaf() ? entries.size() : children.size(); }
  friend bool operator==(const DecodedNode&, const DecodedNode&) = default;
};

// 4096..65536 and a power of two.
bool valid_node_bytes(uint32_t node_bytes);
// Header plus entries: the node fits iff encoded_size(node) <= node_bytes.
size_t encoded_size(const DecodedNode& node);
// Exactly node_bytes bytes, zero padded. ASSERTs the node is well formed and fits.
std::vector<uint8_t> encode_node(const DecodedNode& node, uint32_t node_bytes);
// kCorruption naming the field for anything but one well-formed node of exactly node_bytes.
Result<DecodedNode> decode_node(std::span<const uint8_t> bytes, uint32_t node_bytes);
// The CRC32C stored at offset 16 for a node whose used-bytes field is `used`.
uint32_t node_crc(std::span<const uint8_t> bytes, size_t used);

}  // namespace splitarray::hostdriver::meta
