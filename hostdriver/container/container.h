// hostdriver/container/container.h
// The on-disk container format (DESIGN.md §2, §4, §6): a container is a sealed, immutable log
// segment whose payload is k data fragments of F bytes each, P = k * F bytes in all (default
// 8 x 1 MiB). Chunks are packed from offset 0; a footer listing every chunk ends the payload.
// Byte layout (README.md in this folder has the full tables):
//
//   payload  [0, chunks_end)            chunks back to back; zero padding up to a fragment
//                                       boundary wherever the next chunk would straddle one
//            [chunks_end, P - footer)   zero padding
//            [P - footer, P - 64)       n entries of 48 bytes, sorted by offset
//            [P - 64, P)                trailer: the last 64 bytes of data fragment k-1
//
//   entry    off size  field                      trailer  off size  field
//              0  32   fingerprint                           0   4   magic "SACF" (0x46434153)
//             32   4   offset in the payload                 4   2   format version (1)
//             36   4   stored bytes                          6   2   reserved, 0
//             40   4   logical bytes                         8   8   container id
//             44   1   encoding (1 raw, 2 zstd)             16   4   fragment payload bytes F
//             45   3   reserved, 0                          20   2   data fragments k
//                                                           22   2   reserved, 0
//                                                           24   4   chunk count n
//                                                           28   4   footer bytes (48 n + 64)
//                                                           32   4   chunks end
//                                                           36   4   CRC32C of the n entries
//                                                           40  20   reserved, 0
//                                                           60   4   CRC32C of bytes [0, 60)
//
// Invariants of every container this file accepts or builds:
//   (1) A chunk never straddles a data-fragment boundary: reading one chunk is one byte-range
//       read of one data fragment (DESIGN.md §6).
//   (2) Entries are sorted by offset and do not overlap; the last one ends at chunks_end, and
//       chunks_end <= P - footer bytes.
//   (3) 1 <= stored bytes <= logical bytes <= kChunkLogicalBytesMax; a raw chunk stores exactly
//       its logical bytes. So every valid chunk fits an empty fragment.
// The footer is what the fingerprint index is rebuilt from (DESIGN.md §5), so parse_footer
// validates every field of hostile input and never reads outside the span it is given.
// Pure and synchronous: no I/O. Every integer is little-endian via common/endian.h.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/result.h"
#include "common/units.h"
#include "protocol/fragment_header.h"
#include "protocol/shelf_messages.h"

namespace splitarray::hostdriver::container {

using protocol::Fingerprint;

// --- Limits ---------------------------------------------------------------------------------
inline constexpr uint32_t kDataFragmentsDefault = 8;
inline constexpr uint32_t kDataFragmentsMin = 1;
inline constexpr uint32_t kDataFragmentsMax = 32;
inline constexpr uint32_t kFragmentPayloadBytesDefault = 1 * kMiB;
inline constexpr uint32_t kFragmentPayloadBytesMin = 64 * kKiB;
inline constexpr uint32_t kFragmentPayloadBytesMax = protocol::kFragmentPayloadMaxBytes;
// Offsets stay below 2^24: the shelf index packs a chunk offset into 24 bits.
inline constexpr uint64_t kContainerPayloadBytesMax = 16 * kMiB;
// A chunk decodes to at most one block of the largest block size (DESIGN.md §2: 4-64 KiB).
inline constexpr uint32_t kChunkLogicalBytesMax = 64 * kKiB;
// Compression is kept only when it saves bytes, so a chunk never stores more than it decodes to.
inline constexpr uint32_t kChunkStoredBytesMax = kChunkLogicalBytesMax;
// Bounds the footer (and its parse) whatever the chunk sizes: 65536 x 48 bytes = 3 MiB.
inline constexpr uint32_t kContainerChunksMax = 65536;

// --- Format constants -----------------------------------------------------------------------
inline constexpr uint32_t kFooterMagic = 0x46434153;  // "SACF"
inline constexpr uint16_t kFooterFormatVersion = 1;
inline constexpr size_t kTrailerBytes = 64;
inline constexpr size_t kEntryBytes = 48;

inline constexpr uint64_t footer_bytes_for(uint64_t chunk_count) {
  return chunk_count * kEntryBytes + kTrailerBytes;
}
inline constexpr uint64_t kFooterBytesMax = footer_bytes_for(kContainerChunksMax);

static_assert(kEntryBytes == protocol::kFingerprintBytes + 4 + 4 + 4 + 1 + 3);
static_assert(kFragmentPayloadBytesMin <= kFragmentPayloadBytesDefault);
static_assert(kFragmentPayloadBytesDefault <= kFragmentPayloadBytesMax);
static_assert(kChunkStoredBytesMax <= kFragmentPayloadBytesMin,
              "every valid chunk must fit one empty data fragment");
static_assert(kContainerPayloadBytesMax <= uint64_t{1} << 24, "offsets fit the index's 24 bits");
static_assert(kContainerPayloadBytesMax <= UINT32_MAX, "offsets fit the footer's u32 fields");
static_assert(uint64_t{kDataFragmentsDefault} * kFragmentPayloadBytesDefault <=
              kContainerPayloadBytesMax);
static_assert(kFooterBytesMax <= UINT32_MAX);
static_assert(kDataFragmentsMax <= UINT16_MAX, "the trailer stores k in 16 bits");

// --- Geometry -------------------------------------------------------------------------------
// How a container's payload is cut into data fragments. Parity fragments are the EC layer's
// business; the container format only sees the k data fragments.
struct ContainerGeometry {
  uint32_t data_fragments = kDataFragmentsDefault;                 // k
  uint32_t fragment_payload_bytes = kFragmentPayloadBytesDefault;  // F

  uint64_t payload_bytes() const { return uint64_t{data_fragments} * fragment_payload_bytes; }
  friend bool operator==(const ContainerGeometry&, const ContainerGeometry&) = default;
};

// kInvalidArgument unless kDataFragmentsMin <= k <= kDataFragmentsMax,
// kFragmentPayloadBytesMin <= F <= kFragmentPayloadBytesMax, P <= kContainerPayloadBytesMax and
// an empty container holds a largest chunk plus its one-entry footer.
Result<void> validate_geometry(const ContainerGeometry& geometry);

// --- Chunks ---------------------------------------------------------------------------------
enum class ChunkEncoding : uint8_t { kRaw = 1, kZstd = 2 };

std::string_view encoding_name(ChunkEncoding encoding);

// One footer entry: the chunk with fingerprint `fp` is stored in payload bytes
// [offset, offset + stored_bytes) and decodes to logical_bytes bytes.
struct ChunkEntry {
  Fingerprint fp{};
  uint32_t offset = 0;
  uint32_t stored_bytes = 0;
  uint32_t logical_bytes = 0;
  ChunkEncoding encoding = ChunkEncoding::kRaw;

  friend bool operator==(const ChunkEntry&, const ChunkEntry&) = default;
};

// Checks invariant (3) for one chunk's shape (not its position). kInvalidArgument, naming the
// field; parse_footer reports the same problems as kCorruption.
Result<void> validate_chunk_shape(ChunkEncoding encoding, uint64_t stored_bytes,
                                  uint64_t logical_bytes);

// Where a chunk's bytes are: payload range [offset, offset + length), which is
// [offset_in_fragment, offset_in_fragment + length) of data fragment fragment_index.
struct ChunkPlacement {
  uint32_t offset = 0;
  uint32_t length = 0;
  uint32_t fragment_index = 0;
  uint32_t offset_in_fragment = 0;

  protocol::ChunkLocation location(ContainerId container) const {
    return {.container_id = container.value(), .offset = offset, .length = length};
  }
  friend bool operator==(const ChunkPlacement&, const ChunkPlacement&) = default;
};

// For a location that came from outside (an index lookup, a block-map hint): kCorruption if the
// range is empty, runs past the payload or straddles a data-fragment boundary.
// `geometry` must be valid.
Result<ChunkPlacement> locate_checked(const ContainerGeometry& geometry, uint64_t offset,
                                      uint64_t length);

// For a location taken from a footer that parse_footer accepted or a builder produced: the
// non-straddling invariant (1) holds, so a violation is a bug and ASSERTs.
ChunkPlacement locate(const ContainerGeometry& geometry, uint64_t offset, uint64_t length);

// --- Footer ---------------------------------------------------------------------------------
// The decoded trailer: enough to know where the footer starts before reading all of it.
struct Trailer {
  ContainerId container{};
  ContainerGeometry geometry{};
  uint32_t chunk_count = 0;
  uint32_t footer_bytes = 0;  // entries + trailer
  uint32_t chunks_end = 0;
  uint32_t entries_crc = 0;

  // Payload offset of the first footer byte: P - footer_bytes.
  uint64_t footer_offset() const { return geometry.payload_bytes() - footer_bytes; }
  friend bool operator==(const Trailer&, const Trailer&) = default;
};

struct Footer {
  ContainerId container{};
  ContainerGeometry geometry{};
  uint32_t chunks_end = 0;         // payload offset just past the last chunk; 0 when empty
  std::vector<ChunkEntry> chunks;  // sorted by offset

  friend bool operator==(const Footer&, const Footer&) = default;
};

// Reading the footer. `payload_tail` is the last N bytes of the container payload for any N in
// [kTrailerBytes, P]: the whole payload (k fragments concatenated), the last data fragment, or
// just the last trailer.footer_bytes bytes. A reader that fetches only the end of fragment k-1
// calls parse_trailer on it, then fetches footer_offset() onwards if it needs more.
//
// Both return kCorruption, with a message naming the field, for: a tail shorter than the
// trailer, bad magic, unknown version, bad trailer CRC, nonzero reserved bytes, another
// container id, a geometry other than `geometry`, a chunk count over kContainerChunksMax, a
// footer length that does not match the count, or a footer that overlaps the chunks.
// kInvalidArgument if the tail is longer than P (the caller's mistake). `geometry` must be valid.
Result<Trailer> parse_trailer(const ContainerGeometry& geometry, ContainerId container,
                              std::span<const uint8_t> payload_tail);

// As parse_trailer, then kInvalidArgument if the tail holds fewer than footer_bytes bytes (read
// trailer.footer_offset() onwards and call again), then kCorruption for a bad entries CRC and
// for any entry that breaks invariants (1)-(3).
Result<Footer> parse_footer(const ContainerGeometry& geometry, ContainerId container,
                            std::span<const uint8_t> payload_tail);

// Writes the footer (entries and trailer) into `out`, which must be exactly
// footer_bytes_for(footer.chunks.size()) bytes: the end of the payload. `footer` must satisfy
// the invariants above (ASSERTed where cheap; the builder re-parses what it wrote).
void encode_footer(const Footer& footer, std::span<uint8_t> out);

}  // namespace splitarray::hostdriver::container
