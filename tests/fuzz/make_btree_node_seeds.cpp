// tests/fuzz/make_btree_node_seeds.cpp
// Writes the seed corpus of btree_node_fuzz (corpus/btree_node/): well-formed nodes of each shape
// (a one-entry leaf, a leaf with empty and max-size values, interior nodes low and high in the
// tree), each with mode byte 0 (as is) and 3 (patch CRC, fit size).
// usage: make_btree_node_seeds DIR
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "hostdriver/meta/btree_node.h"

namespace meta = splitarray::hostdriver::meta;

namespace {

meta::DecodedNode interior(uint8_t level, uint64_t children) {
  meta::DecodedNode node;
  node.level = level;
  for (uint64_t i = 0; i < children; ++i) {
    meta::ChildRef child;
    child.key = 1000 * i + 5;
    child.ref.fp.fill(static_cast<uint8_t>(0x40 + i));
    child.ref.location = {
        .container_id = 3 + i, .offset = static_cast<uint32_t>(512 * i), .length = 1500};
    node.children.push_back(child);
  }
  return node;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  std::vector<meta::DecodedNode> nodes(2);
  nodes[0].entries.push_back(meta::LeafEntry{42, {1, 2, 3, 4}});
  nodes[1].entries.push_back(meta::LeafEntry{0, {}});
  nodes[1].entries.push_back(meta::LeafEntry{9, std::vector<uint8_t>(40, 0x5a)});
  nodes[1].entries.push_back(
      meta::LeafEntry{UINT64_MAX, std::vector<uint8_t>(meta::kValueBytesMax, 0xc3)});
  nodes.push_back(interior(1, 3));
  nodes.push_back(interior(meta::kTreeLevelsMax, 2));
  int n = 0;
  for (const meta::DecodedNode& node : nodes) {
    for (uint8_t mode : {uint8_t{0}, uint8_t{3}}) {
      std::vector<uint8_t> bytes = meta::encode_node(node, meta::kNodeBytesMin);
      bytes.insert(bytes.begin(), mode);
      std::ofstream out(std::string(argv[1]) + "/seed-" + std::to_string(n++), std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
      if (!out) return 1;
    }
  }
  return 0;
}
