// Dedup, holes and accounting (DESIGN.md §3), and forced fingerprint collisions: identical
// blocks are stored once (also after a restart and across hosts, through the shelf's index), zero
// blocks are holes, compressible data shrinks and random data does not, and with fingerprints
// truncated to 8 bits verify-on-match keeps every read correct.
#include <doctest/doctest.h>

#include "tests/unit/hostdriver/blockstore/block_store_fixture.h"
// After the fixture (its first include orders <utility> before Asio).
#include "hostdriver/blockstore/block_store_impl.h"  // kReadBlocksBatchMax

namespace splitarray::hostdriver::blockstore::bs_test {
namespace {

inline constexpr size_t kBlocks = 64;
inline constexpr uint64_t kBytes = kBlocks * kBlockBytes;

std::vector<uint8_t> distinct_random_blocks(Prng& rng, size_t blocks) {
  return random_bytes(rng, blocks * kBlockBytes);
}

// Writes `data` at offset 0 of `inode` in 64 KiB calls.
Task<void> write_file(BlockStore& store, InodeId inode, const std::vector<uint8_t>& data,
                      Stability stability = Stability::kDataSync) {
  constexpr size_t kCall = 64 * 1024;
  for (size_t at = 0; at < data.size(); at += kCall) {
    const size_t n = std::min(kCall, data.size() - at);
    const std::vector<uint8_t> piece(data.begin() + static_cast<ptrdiff_t>(at),
                                     data.begin() + static_cast<ptrdiff_t>(at + n));
    co_await write_ok(store, inode, at, piece, stability);
  }
}

Task<void> check_file(BlockStore& store, InodeId inode, const std::vector<uint8_t>& want) {
  const std::vector<uint8_t> got =
      co_await read_ok(store, inode, 0, static_cast<uint32_t>(want.size()));
  CHECK_MESSAGE(got == want, "inode " << inode.value() << ": " << first_difference(got, want));
}

TEST_CASE("hostdriver/blockstore: duplicates, zero blocks and compression are accounted") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    Prng rng(kDefaultSeed);
    BlockStore* store = co_await s.open(s.config());
    const std::vector<uint8_t> data = distinct_random_blocks(rng, kBlocks);

    co_await write_file(*store, InodeId(1), data);
    const BlockStoreStats first = store->stats();
    CHECK(first.blocks_written == kBlocks);
    CHECK(first.dedup_hits == 0);
    CHECK(first.chunks_stored == kBlocks);
    CHECK(first.logical_bytes == kBytes);
    CHECK(first.unique_bytes == kBytes);
    // Random data does not compress: stored raw (compression ratio ~1.0).
    CHECK(first.compression_ratio() == doctest::Approx(1.0).epsilon(0.01));

    co_await write_file(*store, InodeId(2), data);
    const BlockStoreStats second = store->stats();
    CHECK(second.dedup_hits - first.dedup_hits == kBlocks);
    CHECK(second.chunks_stored == first.chunks_stored);
    CHECK(second.unique_bytes == first.unique_bytes);
    CHECK(second.stored_bytes == first.stored_bytes);
    CHECK(second.logical_bytes == 2 * kBytes);
    CHECK(second.dedup_ratio() == doctest::Approx(2.0).epsilon(0.001));
    co_await check_file(*store, InodeId(2), data);

    // Zero blocks are holes: counted, nothing stored, read as zeros.
    const std::vector<uint8_t> zeros(16 * kBlockBytes, 0);
    co_await write_ok(*store, InodeId(3), 0, zeros);
    const BlockStoreStats third = store->stats();
    CHECK(third.zero_blocks - second.zero_blocks == 16);
    CHECK(third.stored_bytes == second.stored_bytes);
    CHECK(third.unique_bytes == second.unique_bytes);
    CHECK(third.logical_bytes == second.logical_bytes);
    for (uint64_t b = 0; b < 16; ++b) {
      CHECK(failed_with(store->block_ref(InodeId(3), b), Code::kNotFound));
    }
    co_await check_file(*store, InodeId(3), zeros);
    // Overwriting a data block with zeros punches a hole: one block less of logical bytes.
    const std::vector<uint8_t> zero_block(kBlockBytes, 0);
    co_await write_ok(*store, InodeId(1), 5 * kBlockBytes, zero_block);
    CHECK(failed_with(store->block_ref(InodeId(1), 5), Code::kNotFound));
    CHECK(store->stats().logical_bytes == third.logical_bytes - kBlockBytes);
    std::vector<uint8_t> holed = data;
    std::fill_n(holed.begin() + 5 * kBlockBytes, kBlockBytes, uint8_t{0});
    co_await check_file(*store, InodeId(1), holed);

    // Compressible data: more than 1.5x; the ratio of what this write added.
    const BlockStoreStats before_text = store->stats();
    const std::vector<uint8_t> text = compressible_bytes(rng, kBytes);
    co_await write_file(*store, InodeId(4), text);
    const BlockStoreStats after_text = store->stats();
    const uint64_t text_unique = after_text.unique_bytes - before_text.unique_bytes;
    const uint64_t text_stored = after_text.stored_bytes - before_text.stored_bytes;
    CHECK(text_unique == kBytes);
    REQUIRE(text_stored > 0);
    MESSAGE("compressible data: " << double(text_unique) / double(text_stored) << "x");
    CHECK(double(text_unique) / double(text_stored) > 1.5);
    CHECK(after_text.compression_ratio() > first.compression_ratio());
    co_await check_file(*store, InodeId(4), text);
  });
}

TEST_CASE("hostdriver/blockstore: long reads across holes and partial blocks are exact") {
  // 600 blocks with a hole at 300: a read of all of them spans three groups of
  // kReadBlocksBatchMax (256) chunk reads, the middle one with the hole; an unaligned read has a
  // partial first and last block. Every byte must match, the hole as zeros.
  constexpr size_t kLongBlocks = 600;
  constexpr size_t kHole = 300;
  static_assert(kReadBlocksBatchMax == 256);
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    Prng rng(kDefaultSeed);
    BlockStore* store = co_await s.open(s.config());
    std::vector<uint8_t> data = distinct_random_blocks(rng, kLongBlocks);
    std::fill_n(data.begin() + kHole * kBlockBytes, kBlockBytes, uint8_t{0});
    co_await write_file(*store, InodeId(7), data);
    CHECK(failed_with(store->block_ref(InodeId(7), kHole), Code::kNotFound));
    co_await check_file(*store, InodeId(7), data);

    const uint64_t offset = 1000;
    const uint32_t length = 2 * 1024 * 1024 + 123;
    const std::vector<uint8_t> got = co_await read_ok(*store, InodeId(7), offset, length);
    const std::vector<uint8_t> want(data.begin() + offset, data.begin() + offset + length);
    CHECK_MESSAGE(got == want, first_difference(got, want));
    // A read of whole blocks starting after the hole.
    const std::vector<uint8_t> tail =
        co_await read_ok(*store, InodeId(7), (kHole + 1) * kBlockBytes, 100 * kBlockBytes);
    CHECK(std::equal(tail.begin(), tail.end(), data.begin() + (kHole + 1) * kBlockBytes));
  });
}

TEST_CASE("hostdriver/blockstore: dedup survives a restart and works across hosts") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    Prng rng(kDefaultSeed + 1);
    BlockStore* store = co_await s.open(s.config());
    const std::vector<uint8_t> data = distinct_random_blocks(rng, kBlocks);
    co_await write_file(*store, InodeId(1), data);
    auto destaged = co_await store->destage_all();  // the fps are in the shelf's index now
    REQUIRE_MESSAGE(destaged.ok(), why(destaged));

    store = co_await s.restart(store);
    const BlockStoreStats before = store->stats();
    co_await write_file(*store, InodeId(2), data);
    const BlockStoreStats after = store->stats();
    CHECK_MESSAGE(after.dedup_hits - before.dedup_hits == kBlocks, "after a restart");
    CHECK(after.stored_bytes == before.stored_bytes);
    CHECK(after.chunks_stored == before.chunks_stored);
    co_await check_file(*store, InodeId(2), data);

    // Another host finds host 1's chunks through the shelf's fingerprint index.
    BlockStore* other = co_await s.open(s.config(HostId(2), Epoch(1)));
    co_await write_file(*other, InodeId(7), data);
    const BlockStoreStats theirs = other->stats();
    CHECK_MESSAGE(theirs.dedup_hits == kBlocks,
                  "host 2 found " << theirs.dedup_hits << " of " << kBlocks << " blocks");
    CHECK(theirs.chunks_stored == 0);
    CHECK(theirs.stored_bytes == 0);
    CHECK(theirs.index_lookups >= 1);
    co_await check_file(*other, InodeId(7), data);
  });
}

// The Bloom filter (summary vector) of a store opened on a non-empty index is filled from the
// index (bloom_loader.cpp): then new blocks skip the lookup round trip, known ones still dedup.
TEST_CASE("hostdriver/blockstore: the Bloom filter is loaded from the index at open") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    Prng rng(kDefaultSeed + 7);
    BlockStore* store = co_await s.open(s.config());
    CHECK(store->stats().bloom_trusted);  // the index was empty: nothing to load
    const std::vector<uint8_t> known = distinct_random_blocks(rng, kBlocks);
    co_await write_file(*store, InodeId(1), known);
    auto destaged = co_await store->destage_all();  // the fps are in the shelf's index now
    REQUIRE_MESSAGE(destaged.ok(), why(destaged));

    store = co_await s.restart(store);
    constexpr int kPollsMax = 5000;  // 1 ms each: the load is a few index pages
    for (int i = 0; i < kPollsMax && !store->stats().bloom_trusted; ++i) {
      co_await sleep_for(s.env().clock, std::chrono::milliseconds(1));
    }
    const BlockStoreStats loaded = store->stats();
    REQUIRE(loaded.bloom_trusted);
    CHECK(loaded.bloom_loaded_entries >= kBlocks);

    const std::vector<uint8_t> fresh = distinct_random_blocks(rng, kBlocks);
    co_await write_file(*store, InodeId(2), fresh);
    const BlockStoreStats after_fresh = store->stats();
    CHECK(after_fresh.chunks_stored - loaded.chunks_stored == kBlocks);
    // Each new block is a lookup skipped, bar the filter's false positives (1% configured).
    CHECK_MESSAGE(after_fresh.bloom_skips - loaded.bloom_skips >= kBlocks / 2,
                  "skipped " << after_fresh.bloom_skips - loaded.bloom_skips << " of " << kBlocks);

    co_await write_file(*store, InodeId(3), known);
    const BlockStoreStats after_known = store->stats();
    CHECK(after_known.dedup_hits - after_fresh.dedup_hits == kBlocks);
    CHECK(after_known.chunks_stored == after_fresh.chunks_stored);
    co_await check_file(*store, InodeId(2), fresh);
    co_await check_file(*store, InodeId(3), known);
  });
}

// Writes `blocks` distinct random blocks and counts reads that do not return them.
Task<size_t> write_and_count_wrong(BlockStore& store, Prng& rng, InodeId inode, size_t blocks,
                                   uint64_t first_block = 0) {
  std::vector<std::vector<uint8_t>> written;
  for (size_t b = 0; b < blocks; b += 8) {
    const std::vector<uint8_t> data = random_bytes(rng, 8 * kBlockBytes);
    co_await write_ok(store, inode, (first_block + b) * kBlockBytes, data);
    for (size_t i = 0; i < 8; ++i) {
      written.emplace_back(data.begin() + static_cast<ptrdiff_t>(i * kBlockBytes),
                           data.begin() + static_cast<ptrdiff_t>((i + 1) * kBlockBytes));
    }
  }
  size_t wrong = 0;
  for (size_t b = 0; b < written.size(); ++b) {
    auto got = co_await store.read(inode, (first_block + b) * kBlockBytes, kBlockBytes);
    if (!got.ok() || *got != written[b]) ++wrong;
  }
  co_return wrong;
}

// With 8-bit fingerprints, 512 distinct blocks share 256 fingerprints: nearly every new block
// "matches" an earlier one. Verify-on-match compares the bytes and stores the block anyway.
TEST_CASE("hostdriver/blockstore: verify-on-match keeps reads correct under forced collisions") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    Prng rng(kDefaultSeed + 2);
    BlockStoreConfig config = s.config();
    config.fingerprint_truncate_bits = 8;
    config.verify_on_match = true;
    BlockStore* store = co_await s.open(config);
    size_t wrong = co_await write_and_count_wrong(*store, rng, InodeId(1), 512);
    CHECK_MESSAGE(wrong == 0, wrong << " of 512 reads were wrong");
    CHECK(store->stats().verify_mismatches > 0);
    MESSAGE("verify mismatches: " << store->stats().verify_mismatches);

    // Destaged (the shelf's index now holds one location per 8-bit fp), restarted (memory
    // empty: a match must be verified against bytes read from the shelf), more blocks.
    auto destaged = co_await store->destage_all();
    REQUIRE_MESSAGE(destaged.ok(), why(destaged));
    store = co_await s.restart(store);
    wrong = co_await write_and_count_wrong(*store, rng, InodeId(1), 256, 512);
    CHECK_MESSAGE(wrong == 0, wrong << " of 256 reads after a restart were wrong");
    CHECK(store->stats().verify_mismatches > 0);
  });
}

// Why verify-on-match exists: with colliding fingerprints and no byte compare, a dedup "hit"
// points a block at another block's chunk, and the read-side fp check cannot notice (the fps
// are equal). Deterministic for a fixed seed; if this ever reads correctly, collisions are not
// being forced and the test above proves nothing.
TEST_CASE("hostdriver/blockstore: without verify-on-match forced collisions return wrong bytes") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    Prng rng(kDefaultSeed + 3);
    BlockStoreConfig config = s.config();
    config.fingerprint_truncate_bits = 8;
    config.verify_on_match = false;
    BlockStore* store = co_await s.open(config);
    const size_t wrong = co_await write_and_count_wrong(*store, rng, InodeId(1), 512);
    MESSAGE(wrong << " of 512 reads were wrong without verify-on-match");
    CHECK(wrong > 0);
    CHECK(store->stats().verify_mismatches == 0);
  });
}

}  // namespace
}  // namespace splitarray::hostdriver::blockstore::bs_test
