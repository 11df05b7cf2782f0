// The B+tree node codec: round trips at every node size, limits, and every rejection of decode
// (each malformed node is built by editing a valid one, with its CRC recomputed so the check
// behind the CRC is what rejects it).
#include <doctest/doctest.h>

#include <string>

#include "common/endian.h"
#include "hostdriver/meta/btree_node.h"

namespace splitarray::hostdriver::meta {
namespace {

constexpr uint32_t kNodeBytes = 4096;

DecodedNode sample_leaf() {
  DecodedNode leaf;
  leaf.entries.push_back(LeafEntry{0, {}});
  leaf.entries.push_back(LeafEntry{7, {1, 2, 3}});
  leaf.entries.push_back(LeafEntry{UINT64_MAX, std::vector<uint8_t>(kValueBytesMax, 0xee)});
  return leaf;
}

DecodedNode sample_interior(uint8_t level) {
  DecodedNode node;
  node.level = level;
  for (uint64_t i = 0; i < 3; ++i) {
    ChildRef child;
    child.key = 100 * i;
    child.ref.fp.fill(static_cast<uint8_t>(i + 1));
    child.ref.location = {.container_id = 9 + i, .offset = 4096 * uint32_t(i), .length = 777};
    node.children.push_back(child);
  }
  return node;
}

void reseal(std::vector<uint8_t>& bytes) {
  std::span<uint8_t> out(bytes);
  put_u32(out, 16, node_crc(bytes, get_u32(bytes, 12)));
}

// decode must fail with kCorruption and a message naming `what`.
void check_rejects(const std::vector<uint8_t>& bytes, const std::string& what) {
  Result<DecodedNode> decoded = decode_node(bytes, kNodeBytes);
  REQUIRE_MESSAGE(!decoded.ok(), what);
  CHECK(decoded.code() == Code::kCorruption);
  CHECK_MESSAGE(decoded.error().message.find(what) != std::string::npos,
                decoded.error().message << " does not name " << what);
}

TEST_CASE("hostdriver/meta: node codec round trips leaves and interior nodes") {
  for (uint32_t node_bytes = kNodeBytesMin; node_bytes <= kNodeBytesMax; node_bytes *= 2) {
    CAPTURE(node_bytes);
    for (const DecodedNode& node : {sample_leaf(), sample_interior(1), sample_interior(24)}) {
      const std::vector<uint8_t> bytes = encode_node(node, node_bytes);
      REQUIRE(bytes.size() == node_bytes);
      Result<DecodedNode> decoded = decode_node(bytes, node_bytes);
      REQUIRE(decoded.ok());
      CHECK(decoded.value() == node);
      CHECK(encode_node(decoded.value(), node_bytes) == bytes);
    }
  }
}

TEST_CASE("hostdriver/meta: node limits hold at the smallest node") {
  DecodedNode leaf;
  for (uint64_t k = 0; k < 3; ++k) {
    leaf.entries.push_back(LeafEntry{k, std::vector<uint8_t>(kValueBytesMax, 1)});
  }
  CHECK(encoded_size(leaf) <= kNodeBytesMin);
  CHECK(decode_node(encode_node(leaf, kNodeBytesMin), kNodeBytesMin).ok());
  DecodedNode interior = sample_interior(1);
  while (encoded_size(interior) + kInteriorEntryBytes <= kNodeBytesMin) {
    ChildRef child = interior.children.back();
    child.key += 1;
    interior.children.push_back(child);
  }
  CHECK(interior.children.size() >= 8);
  CHECK(decode_node(encode_node(interior, kNodeBytesMin), kNodeBytesMin).ok());
  CHECK(valid_node_bytes(4096));
  CHECK(valid_node_bytes(65536));
  CHECK_FALSE(valid_node_bytes(2048));
  CHECK_FALSE(valid_node_bytes(131072));
  CHECK_FALSE(valid_node_bytes(12288));
}

TEST_CASE("hostdriver/meta: node decode rejects malformed headers") {
  const std::vector<uint8_t> good = encode_node(sample_leaf(), kNodeBytes);
  REQUIRE(decode_node(good, kNodeBytes).ok());
  auto edited = [&](size_t at, uint8_t byte, bool with_crc) {
    std::vector<uint8_t> bytes = good;
    bytes[at] = byte;
    if (with_crc) reseal(bytes);
    return bytes;
  };
  check_rejects(std::vector<uint8_t>(good.begin(), good.end() - 1), "size");
  check_rejects(std::vector<uint8_t>(kNodeBytes * 2, 0), "size");
  check_rejects(std::vector<uint8_t>(kNodeBytes, 0), "magic");
  check_rejects(edited(0, 0x00, false), "magic");
  std::vector<uint8_t> bad_used = good;
  put_u32(bad_used, 12, 23);
  check_rejects(bad_used, "used bytes");
  put_u32(bad_used, 12, kNodeBytes + 1);
  check_rejects(bad_used, "used bytes");
  check_rejects(edited(30, good[30] ^ 1, false), "CRC");  // a body byte
  check_rejects(edited(9, good[9] ^ 1, false), "CRC");    // a header byte
  check_rejects(edited(4, 2, true), "version");
  check_rejects(edited(20, 1, true), "reserved");
  check_rejects(edited(6, 3, true), "kind");
  check_rejects(edited(6, 0, true), "kind");
  check_rejects(edited(7, 1, true), "leaf with a nonzero level");
  std::vector<uint8_t> padding = good;
  padding.back() = 1;  // outside the CRC: only the padding check sees it
  check_rejects(padding, "padding");
}

TEST_CASE("hostdriver/meta: node decode rejects malformed leaves") {
  const std::vector<uint8_t> good = encode_node(sample_leaf(), kNodeBytes);
  const uint32_t used = get_u32(good, 12);
  auto with_u32 = [&](size_t at, uint32_t value) {
    std::vector<uint8_t> bytes = good;
    put_u32(bytes, at, value);
    reseal(bytes);
    return bytes;
  };
  check_rejects(with_u32(8, 0), "empty node");
  check_rejects(with_u32(8, 1u << 30), "count exceeds");
  check_rejects(with_u32(8, 4), "leaf entry truncated");
  check_rejects(with_u32(8, 2), "used bytes beyond the last entry");
  // Entries: 0 (no value) at 24, 7 (3 bytes) at 34, UINT64_MAX (1280 bytes) at 47.
  std::vector<uint8_t> bytes = good;
  put_u16(bytes, 24 + 8, uint16_t(kValueBytesMax + 1));
  reseal(bytes);
  check_rejects(bytes, "kValueBytesMax");
  bytes = good;
  put_u16(bytes, 47 + 8, uint16_t(kValueBytesMax));
  put_u32(bytes, 12, used - 1);  // the last value runs past the used bytes
  reseal(bytes);
  check_rejects(bytes, "value truncated");
  bytes = good;
  put_u64(bytes, 34, 0);  // equal to the first key
  reseal(bytes);
  check_rejects(bytes, "keys not increasing");
  bytes = good;
  put_u64(bytes, 47, 5);  // below the second key
  reseal(bytes);
  check_rejects(bytes, "keys not increasing");
}

TEST_CASE("hostdriver/meta: node decode rejects malformed interior nodes") {
  const std::vector<uint8_t> good = encode_node(sample_interior(2), kNodeBytes);
  REQUIRE(decode_node(good, kNodeBytes).ok());
  auto edit = [&](size_t at, uint64_t value, size_t width) {
    std::vector<uint8_t> bytes = good;
    if (width == 1) bytes[at] = static_cast<uint8_t>(value);
    if (width == 4) put_u32(bytes, at, static_cast<uint32_t>(value));
    if (width == 8) put_u64(bytes, at, value);
    reseal(bytes);
    return bytes;
  };
  check_rejects(edit(7, 0, 1), "interior node at level 0");
  check_rejects(edit(7, kTreeLevelsMax + 1, 1), "kTreeLevelsMax");
  check_rejects(edit(8, 0, 4), "empty node");
  check_rejects(edit(8, 2, 4), "child count");
  check_rejects(edit(8, 4, 4), "child count");
  check_rejects(edit(12, get_u32(good, 12) - 1, 4), "child count");
  check_rejects(edit(24 + 56 + 40, 0, 8), "child without a container");
  check_rejects(edit(24 + 56, 0, 8), "keys not increasing");    // equal to the first
  check_rejects(edit(24 + 112, 50, 8), "keys not increasing");  // below the second
}

}  // namespace
}  // namespace splitarray::hostdriver::meta
