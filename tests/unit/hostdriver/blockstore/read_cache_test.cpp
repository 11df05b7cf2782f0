// ReadCache (hostdriver/blockstore/read_cache.h), pure and synchronous: bytes come back as they
// went in, memory stays within its bound, and CLOCK keeps blocks that are read again over blocks
// read once.
#include <doctest/doctest.h>

#include <vector>

#include "hostdriver/blockstore/read_cache.h"

namespace splitarray::hostdriver::blockstore {
namespace {

constexpr uint32_t kBlock = 4096;

protocol::ChunkLocation at(uint64_t container, uint32_t offset) {
  protocol::ChunkLocation location;
  location.container_id = container;
  location.offset = offset;
  location.length = 100;  // stored length: not part of the key
  return location;
}

std::vector<uint8_t> block_of(uint8_t seed) {
  std::vector<uint8_t> block(kBlock);
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<uint8_t>(seed * 31 + i);
  return block;
}

bool holds(ReadCache& cache, const protocol::ChunkLocation& location, uint8_t seed) {
  std::vector<uint8_t> out(kBlock, 0xEE);
  if (!cache.lookup(location, out)) return false;
  CHECK(out == block_of(seed));
  return true;
}

TEST_CASE("hostdriver/blockstore: the read cache returns exactly the bytes cached per location") {
  ReadCache cache(8 * kBlock, kBlock);
  CHECK(cache.capacity_entries() == 8);
  cache.insert(at(1, 0), block_of(1));
  cache.insert(at(1, 4096), block_of(2));
  cache.insert(at(2, 0), block_of(3));
  CHECK(holds(cache, at(1, 0), 1));
  CHECK(holds(cache, at(1, 4096), 2));
  CHECK(holds(cache, at(2, 0), 3));
  CHECK(!holds(cache, at(2, 4096), 0));  // never inserted
  CHECK(!holds(cache, at(3, 0), 0));
  // A location already cached keeps its bytes (containers are immutable).
  cache.insert(at(1, 0), block_of(9));
  CHECK(holds(cache, at(1, 0), 1));
  CHECK(cache.entries() == 3);
  CHECK(cache.bytes() == 3 * kBlock);
}

TEST_CASE("hostdriver/blockstore: the read cache stays within its capacity") {
  ReadCache cache(5 * kBlock + kBlock / 2, kBlock);  // room for 5 whole blocks
  CHECK(cache.capacity_entries() == 5);
  for (uint32_t i = 0; i < 100; ++i) {
    cache.insert(at(7, i * kBlock), block_of(static_cast<uint8_t>(i)));
    CHECK(cache.bytes() <= 5 * kBlock);
  }
  CHECK(cache.entries() == 5);
  // Nothing was read again, so the 5 newest are what is left, each with its own bytes.
  for (uint32_t i = 95; i < 100; ++i)
    CHECK(holds(cache, at(7, i * kBlock), static_cast<uint8_t>(i)));
  for (uint32_t i = 0; i < 95; ++i) {
    std::vector<uint8_t> out(kBlock);
    CHECK(!cache.lookup(at(7, i * kBlock), out));
  }
  ReadCache none(kBlock - 1, kBlock);  // too small for one block: caches nothing
  none.insert(at(1, 0), block_of(1));
  CHECK(!holds(none, at(1, 0), 1));
  CHECK(none.bytes() == 0);
}

TEST_CASE("hostdriver/blockstore: blocks read again outlive a scan through the read cache") {
  ReadCache cache(16 * kBlock, kBlock);
  // A hot set of 4, read again and again while a scan of 1,000 blocks read once passes through.
  for (uint32_t h = 0; h < 4; ++h)
    cache.insert(at(1, h * kBlock), block_of(static_cast<uint8_t>(h)));
  for (uint32_t i = 0; i < 1000; ++i) {
    cache.insert(at(2, i * kBlock), block_of(static_cast<uint8_t>(100 + i)));
    if (i % 4 == 0) {
      for (uint32_t h = 0; h < 4; ++h) {
        CHECK_MESSAGE(holds(cache, at(1, h * kBlock), static_cast<uint8_t>(h)),
                      "hot block " << h << " evicted at scan step " << i);
      }
    }
  }
  CHECK(cache.entries() == 16);
}

}  // namespace
}  // namespace splitarray::hostdriver::blockstore
