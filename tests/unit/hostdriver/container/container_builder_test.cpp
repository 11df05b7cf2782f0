// Tests of ContainerBuilder: packing random chunks until kNoSpace over several geometries, the
// exact packing rule at fragment boundaries and at the footer, the chunk-count limit, and that
// every chunk's bytes are found at its placement inside one data fragment.
// Randomized parts print their seed and take SPLITARRAY_SEED.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "container_test_util.h"
#include "hostdriver/container/container.h"
#include "hostdriver/container/container_builder.h"

namespace splitarray::hostdriver::container {
namespace {

using namespace testing;  // NOLINT: test helpers

constexpr uint32_t kKiB32 = 1024;

// Checks a sealed container against the chunks added: the footer lists exactly them, each
// chunk's bytes are at its placement within one fragment, and every other byte before the
// footer is zero padding.
void check_sealed(const SealedContainer& sealed, ContainerId id,
                  const std::vector<TestChunk>& added,
                  const std::vector<ChunkPlacement>& placements) {
  const ContainerGeometry& geometry = sealed.geometry;
  REQUIRE(sealed.payload.size() == geometry.payload_bytes());
  const Result<Footer> footer = parse_footer(geometry, id, sealed.payload);
  REQUIRE(footer.ok());
  REQUIRE(footer->chunks.size() == added.size());
  CHECK(sealed.chunk_count == added.size());

  std::vector<bool> covered(sealed.payload.size(), false);
  for (size_t i = 0; i < added.size(); ++i) {
    const ChunkEntry& entry = footer->chunks[i];
    CHECK(entry.fp == added[i].fp);
    CHECK(entry.encoding == added[i].encoding);
    CHECK(entry.logical_bytes == added[i].logical_bytes);
    CHECK(entry.stored_bytes == added[i].stored.size());
    CHECK(entry.offset == placements[i].offset);

    const ChunkPlacement placement = locate(geometry, entry.offset, entry.stored_bytes);
    CHECK(placement == placements[i]);
    REQUIRE(placement.offset_in_fragment + placement.length <= geometry.fragment_payload_bytes);
    const auto bytes = sealed.fragment(placement.fragment_index)
                           .subspan(placement.offset_in_fragment, placement.length);
    CHECK(std::equal(bytes.begin(), bytes.end(), added[i].stored.begin(), added[i].stored.end()));
    std::fill_n(covered.begin() + entry.offset, entry.stored_bytes, true);
  }
  const uint64_t footer_offset = geometry.payload_bytes() - footer_bytes_for(added.size());
  size_t nonzero_padding = 0;
  for (uint64_t i = 0; i < footer_offset; ++i) {
    if (!covered[i] && sealed.payload[i] != 0) ++nonzero_padding;
  }
  CHECK(nonzero_padding == 0);
}

// Invariant (1) of the builder: each chunk starts at the previous end, or at the next fragment
// boundary when it would otherwise straddle it.
uint64_t expected_offset(const ContainerGeometry& geometry, uint64_t prev_end, uint64_t length) {
  const uint64_t fragment_bytes = geometry.fragment_payload_bytes;
  const uint64_t room = fragment_bytes - prev_end % fragment_bytes;
  return length <= room ? prev_end : prev_end + room;
}

void pack_until_full(const ContainerGeometry& geometry, Prng& rng) {
  const ContainerId id(rng.next_u64());
  ContainerBuilder builder(geometry, id);
  std::vector<TestChunk> added;
  std::vector<ChunkPlacement> placements;
  uint64_t prev_end = 0;
  for (;;) {
    TestChunk chunk = random_chunk(rng);
    const Result<ChunkPlacement> placement =
        builder.add(chunk.fp, chunk.encoding, chunk.stored, chunk.logical_bytes);
    const uint64_t offset = expected_offset(geometry, prev_end, chunk.stored.size());
    const uint64_t end = offset + chunk.stored.size();
    if (!placement.ok()) {
      // kNoSpace exactly when the chunk and a footer with one more entry do not fit.
      REQUIRE(placement.code() == Code::kNoSpace);
      CHECK(end + footer_bytes_for(added.size() + 1) > geometry.payload_bytes());
      CHECK(!builder.fits(chunk.stored.size()));
      CHECK(builder.chunk_count() == added.size());  // nothing changed
      CHECK(builder.bytes_used() == prev_end);
      break;
    }
    CHECK(placement->offset == offset);
    CHECK(placement->length == chunk.stored.size());
    prev_end = end;
    CHECK(builder.bytes_used() == prev_end);
    CHECK(builder.chunk_count() == added.size() + 1);
    CHECK(builder.footer_bytes() == footer_bytes_for(added.size() + 1));
    added.push_back(std::move(chunk));
    placements.push_back(placement.value());
  }
  // Full means full: at most one largest chunk's worth (plus boundary padding and one entry)
  // is left unused.
  CHECK(builder.bytes_used() + builder.footer_bytes() + 2 * kChunkStoredBytesMax + kEntryBytes >=
        geometry.payload_bytes());
  SealedContainer sealed = builder.seal();
  CHECK(sealed.container == id);
  CHECK(sealed.geometry == geometry);
  check_sealed(sealed, id, added, placements);
}

TEST_CASE("hostdriver/container: pack random chunks until kNoSpace, seal, read every chunk back") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  const ContainerGeometry geometries[] = {
      ContainerGeometry{},                          // 8 x 1 MiB
      geometry_of(4, 64 * kKiB32),                  // smallest fragments
      geometry_of(4, 128 * kKiB32),                 //
      geometry_of(4, 256 * kKiB32 + 4000),          // not a power of two
      geometry_of(4, 1024 * kKiB32),                //
      geometry_of(4, 2 * 1024 * kKiB32 - 64),       // the protocol's largest fragment
      geometry_of(8, kFragmentPayloadBytesMax),     // 16 MiB - 512: the largest container
      geometry_of(1, 64 * kKiB32 + 112),            // the smallest container
      geometry_of(2, 64 * kKiB32),                  //
      geometry_of(kDataFragmentsMax, 64 * kKiB32),  //
  };
  for (const ContainerGeometry& geometry : geometries) {
    CAPTURE(geometry.data_fragments);
    CAPTURE(geometry.fragment_payload_bytes);
    REQUIRE(validate_geometry(geometry).ok());
    for (int round = 0; round < 3; ++round) pack_until_full(geometry, rng);
  }
}

TEST_CASE("hostdriver/container: chunks pad to the next fragment instead of straddling") {
  const ContainerGeometry geometry = geometry_of(2, 64 * kKiB32);  // P = 131072
  ContainerBuilder builder(geometry, ContainerId(3));
  const auto add = [&](uint32_t stored_bytes, uint32_t logical_bytes, uint8_t fill) {
    const std::vector<uint8_t> stored(stored_bytes, fill);
    const ChunkEncoding encoding =
        stored_bytes == logical_bytes ? ChunkEncoding::kRaw : ChunkEncoding::kZstd;
    return builder.add(fp_of(fill), encoding, stored, logical_bytes);
  };
  CHECK(add(60 * kKiB32, 60 * kKiB32, 1).value() == ChunkPlacement{0, 60 * kKiB32, 0, 0});
  // 8 KiB does not fit the 4 KiB left in fragment 0: it starts fragment 1.
  CHECK(add(8 * kKiB32, 8 * kKiB32, 2).value() == ChunkPlacement{64 * kKiB32, 8 * kKiB32, 1, 0});
  CHECK(add(4 * kKiB32, 4 * kKiB32, 3).value() ==
        ChunkPlacement{72 * kKiB32, 4 * kKiB32, 1, 8 * kKiB32});
  // 52 KiB would end exactly at P, leaving no room for a 4-entry footer.
  const Result<ChunkPlacement> too_big = add(52 * kKiB32, 52 * kKiB32, 4);
  REQUIRE(!too_big.ok());
  CHECK(too_big.code() == Code::kNoSpace);
  CHECK(add(32 * kKiB32, 32 * kKiB32, 5).ok());
  CHECK(builder.bytes_used() == 108 * kKiB32);
  // Exactly fills the payload with a 5-entry footer (304 bytes).
  CHECK(!builder.fits(20 * kKiB32 - 303));
  CHECK(builder.fits(20 * kKiB32 - 304));
  CHECK(add(20 * kKiB32 - 304, 20 * kKiB32, 6).ok());
  CHECK(builder.bytes_used() + builder.footer_bytes() == geometry.payload_bytes());
  CHECK(add(1, 4096, 7).code() == Code::kNoSpace);

  SealedContainer sealed = builder.seal();
  const Result<Footer> footer = parse_footer(geometry, ContainerId(3), sealed.payload);
  REQUIRE(footer.ok());
  REQUIRE(footer->chunks.size() == 5);
  CHECK(footer->chunks_end == geometry.payload_bytes() - 304);
  // The 4 KiB of padding at the end of fragment 0 is zero.
  const auto padding = sealed.fragment(0).subspan(60 * kKiB32);
  CHECK(std::all_of(padding.begin(), padding.end(), [](uint8_t b) { return b == 0; }));
}

TEST_CASE("hostdriver/container: add rejects malformed chunks with kInvalidArgument") {
  ContainerBuilder builder(ContainerGeometry{}, ContainerId(1));
  const std::vector<uint8_t> bytes(5000, 1);
  CHECK(builder.add(fp_of(1), ChunkEncoding::kRaw, bytes, 4096).code() == Code::kInvalidArgument);
  CHECK(builder.add(fp_of(1), ChunkEncoding::kZstd, bytes, 4096).code() == Code::kInvalidArgument);
  CHECK(builder.add(fp_of(1), ChunkEncoding::kZstd, {}, 4096).code() == Code::kInvalidArgument);
  const std::vector<uint8_t> huge(kChunkLogicalBytesMax + 1, 1);
  CHECK(builder.add(fp_of(1), ChunkEncoding::kRaw, huge, kChunkLogicalBytesMax + 1).code() ==
        Code::kInvalidArgument);
  CHECK(builder.add(fp_of(1), static_cast<ChunkEncoding>(9), bytes, 8192).code() ==
        Code::kInvalidArgument);
  CHECK(builder.chunk_count() == 0);
  CHECK(builder.bytes_used() == 0);
  // The largest valid chunk fits an empty container, whatever the geometry.
  const std::vector<uint8_t> largest(kChunkStoredBytesMax, 2);
  for (const ContainerGeometry& geometry :
       {geometry_of(1, 64 * kKiB32 + 112), geometry_of(2, 64 * kKiB32), ContainerGeometry{}}) {
    ContainerBuilder empty(geometry, ContainerId(2));
    CHECK(empty.add(fp_of(2), ChunkEncoding::kRaw, largest, kChunkLogicalBytesMax).ok());
  }
}

TEST_CASE("hostdriver/container: kContainerChunksMax bounds the footer even with room left") {
  const ContainerGeometry geometry;  // 8 MiB: room for far more 1-byte chunks
  ContainerBuilder builder(geometry, ContainerId(4));
  const std::vector<uint8_t> one(1, 0xEE);
  Fingerprint fp{};
  for (uint32_t i = 0; i < kContainerChunksMax; ++i) {
    fp[0] = static_cast<uint8_t>(i);
    fp[1] = static_cast<uint8_t>(i >> 8);
    REQUIRE(builder.add(fp, ChunkEncoding::kZstd, one, 4096).ok());
  }
  CHECK(builder.bytes_used() + builder.footer_bytes() < geometry.payload_bytes() / 2);
  const Result<ChunkPlacement> over = builder.add(fp, ChunkEncoding::kZstd, one, 4096);
  REQUIRE(!over.ok());
  CHECK(over.code() == Code::kNoSpace);
  SealedContainer sealed = builder.seal();
  const Result<Footer> footer = parse_footer(geometry, ContainerId(4), sealed.payload);
  REQUIRE(footer.ok());
  CHECK(footer->chunks.size() == kContainerChunksMax);
  CHECK(footer->chunks.back().offset == kContainerChunksMax - 1);
  CHECK(footer->chunks.back().fp[1] == 0xFF);
}

}  // namespace
}  // namespace splitarray::hostdriver::container
