// tests/fuzz/btree_node_fuzz.cpp
// libFuzzer target for the metadata B+tree node decoder (hostdriver/meta/btree_node.h): nodes
// come back from disk for every lookup of the file system's inode table, directories and block
// maps, and a decoder that crashed or misread one would corrupt the namespace.
//
// Input: byte 0 is a mode (bit 0: recompute the CRC before decoding, so mutations reach the
// field checks behind it; bit 1: zero-pad or cut the rest to the node size, so length-changing
// mutations still reach the parser); the rest is the node. The node size is 4096.
// Oracles (__builtin_trap): every rejection is kCorruption; an accepted node is non-empty, has
// strictly increasing keys, values within kValueBytesMax, and re-encodes to exactly the bytes it
// was decoded from.
#include <cstdint>
#include <span>
#include <vector>

#include "common/endian.h"
#include "hostdriver/meta/btree_node.h"

namespace splitarray::fuzz {
namespace {

namespace meta = hostdriver::meta;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

constexpr uint8_t kModePatchCrc = 0x01;
constexpr uint8_t kModeFitSize = 0x02;
constexpr uint32_t kFuzzNodeBytes = meta::kNodeBytesMin;
constexpr size_t kAtUsed = 12;
constexpr size_t kAtCrc = 16;

void patch_crc(std::vector<uint8_t>& bytes) {
  if (bytes.size() < meta::kNodeHeaderBytes) return;
  const uint32_t used = get_u32(bytes, kAtUsed);
  if (used < meta::kNodeHeaderBytes || used > bytes.size()) return;
  put_u32(std::span<uint8_t>(bytes), kAtCrc, meta::node_crc(bytes, used));
}

bool keys_increasing(const meta::DecodedNode& node) {
  for (size_t i = 1; i < node.entries.size(); ++i) {
    if (node.entries[i - 1].key >= node.entries[i].key) return false;
  }
  for (size_t i = 1; i < node.children.size(); ++i) {
    if (node.children[i - 1].key >= node.children[i].key) return false;
  }
  return true;
}

}  // namespace
}  // namespace splitarray::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace splitarray;
  using namespace splitarray::fuzz;
  if (size < 1) return 0;
  std::vector<uint8_t> bytes(data + 1, data + size);
  if (data[0] & kModeFitSize) bytes.resize(kFuzzNodeBytes, 0);
  if (data[0] & kModePatchCrc) patch_crc(bytes);
  auto decoded = meta::decode_node(bytes, kFuzzNodeBytes);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.code() == Code::kCorruption);
    return 0;
  }
  const meta::DecodedNode& node = decoded.value();
  FUZZ_CHECK(node.count() > 0);
  FUZZ_CHECK(node.level <= meta::kTreeLevelsMax);
  FUZZ_CHECK(node.is_leaf() ? node.children.empty() : node.entries.empty());
  FUZZ_CHECK(keys_increasing(node));
  for (const meta::LeafEntry& entry : node.entries) {
    FUZZ_CHECK(entry.value.size() <= meta::kValueBytesMax);
  }
  FUZZ_CHECK(meta::encoded_size(node) <= kFuzzNodeBytes);
  FUZZ_CHECK(meta::encode_node(node, kFuzzNodeBytes) == bytes);
  return 0;
}
