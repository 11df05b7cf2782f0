// tests/unit/hostdriver/container/container_test_util.h
// Helpers shared by the container tests: seeds, random chunks, and re-sealing a hand-edited
// footer. The layout offsets below are written out again from README.md on purpose: the tests
// check the documented table, not only that encoder and parser agree with each other.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "common/crc32c.h"
#include "common/endian.h"
#include "common/prng.h"
#include "hostdriver/container/container.h"
#include "hostdriver/container/container_builder.h"

namespace splitarray::hostdriver::container::testing {

// Trailer offsets (README.md "Trailer").
inline constexpr size_t kAtMagic = 0;
inline constexpr size_t kAtVersion = 4;
inline constexpr size_t kAtContainer = 8;
inline constexpr size_t kAtFragmentBytes = 16;
inline constexpr size_t kAtDataFragments = 20;
inline constexpr size_t kAtChunkCount = 24;
inline constexpr size_t kAtFooterBytes = 28;
inline constexpr size_t kAtChunksEnd = 32;
inline constexpr size_t kAtEntriesCrc = 36;
inline constexpr size_t kAtReserved = 40;
inline constexpr size_t kAtTrailerCrc = 60;
// Entry offsets (README.md "Entry").
inline constexpr size_t kAtEntryOffset = 32;
inline constexpr size_t kAtEntryStored = 36;
inline constexpr size_t kAtEntryLogical = 40;
inline constexpr size_t kAtEntryEncoding = 44;
inline constexpr size_t kAtEntryReserved = 45;

inline uint64_t seed_from_env() {
  const char* text = std::getenv("SPLITARRAY_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 20260611;
}

inline Fingerprint random_fp(Prng& rng) {
  Fingerprint fp;
  rng.fill(fp);
  return fp;
}

inline Fingerprint fp_of(uint8_t value) {
  Fingerprint fp;
  fp.fill(value);
  return fp;
}

// A chunk as the host would produce it: a block of 4 KiB .. 64 KiB (sometimes odd sizes, as map
// nodes may be), stored raw or "compressed" (random bytes standing in for zstd output).
struct TestChunk {
  Fingerprint fp;
  ChunkEncoding encoding = ChunkEncoding::kRaw;
  uint32_t logical_bytes = 0;
  std::vector<uint8_t> stored;
};

inline TestChunk random_chunk(Prng& rng) {
  static constexpr uint32_t kBlockSizes[] = {4096, 8192, 16384, 65536};
  TestChunk chunk;
  chunk.fp = random_fp(rng);
  chunk.logical_bytes = rng.chance(0.2) ? static_cast<uint32_t>(rng.between(1, 65536))
                                        : kBlockSizes[rng.below(std::size(kBlockSizes))];
  chunk.encoding = rng.chance(0.5) ? ChunkEncoding::kRaw : ChunkEncoding::kZstd;
  const uint64_t stored_bytes = chunk.encoding == ChunkEncoding::kRaw
                                    ? chunk.logical_bytes
                                    : rng.between(1, chunk.logical_bytes);
  chunk.stored.resize(stored_bytes);
  rng.fill(chunk.stored);
  return chunk;
}

// The last footer_bytes bytes of a sealed payload.
inline std::span<uint8_t> footer_region(std::vector<uint8_t>& payload, uint64_t chunk_count) {
  return std::span<uint8_t>(payload).last(footer_bytes_for(chunk_count));
}

// Recomputes both CRCs of a footer (entries + trailer) after a test edited its fields, so the
// parser's field checks, not its CRC checks, are what rejects the edit.
inline void reseal_trailer(std::span<uint8_t> trailer) {
  put_u32(trailer, kAtTrailerCrc, crc32c(trailer.first(kAtTrailerCrc)));
}
inline void reseal_footer(std::span<uint8_t> footer) {
  const auto trailer = footer.last(kTrailerBytes);
  const auto entries = footer.first(footer.size() - kTrailerBytes);
  put_u32(trailer, kAtEntriesCrc, crc32c(entries));
  reseal_trailer(trailer);
}

// Re-encodes `footer` (possibly invalid, as long as encode_footer's own ASSERTs hold) at the end
// of a zeroed payload of its geometry.
inline std::vector<uint8_t> payload_with_footer(const Footer& footer) {
  std::vector<uint8_t> payload(footer.geometry.payload_bytes(), 0);
  encode_footer(footer, footer_region(payload, footer.chunks.size()));
  return payload;
}

// A geometry with k data fragments of `fragment_bytes` each (other fields default).
inline ContainerGeometry geometry_of(uint32_t k, uint32_t fragment_bytes) {
  return ContainerGeometry{.data_fragments = k, .fragment_payload_bytes = fragment_bytes};
}

}  // namespace splitarray::hostdriver::container::testing
