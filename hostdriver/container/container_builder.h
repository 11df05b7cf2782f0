// hostdriver/container/container_builder.h
// ContainerBuilder packs chunks into one container payload in memory (DESIGN.md §4) and seals it
// into k data fragments with the footer in place (format: container.h, README.md).
// Invariants:
//   (1) Chunks are placed in the order added, each at the lowest offset >= the previous chunk's
//       end that does not straddle a data-fragment boundary; the skipped bytes stay zero.
//   (2) chunks_end + footer_bytes_for(chunk_count) <= P at all times, so seal() always fits.
//   (3) An empty builder accepts any chunk that passes validate_chunk_shape (validate_geometry
//       guarantees the room), so a writer that seals on kNoSpace and retries never loops.
//   (4) seal() re-parses the footer it wrote and ASSERTs it reads back the chunks added.
// Memory: one P-byte buffer (8 MiB by default), allocated zeroed at construction and handed to
// the caller by seal(). Pure and synchronous; one owner, no locks.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/ids.h"
#include "common/result.h"
#include "hostdriver/container/container.h"

namespace splitarray::hostdriver::container {

// A sealed container: the payload of its k data fragments, back to back, ready for the erasure
// coder (parity) and for protocol::seal_fragment (one fragment header each).
struct SealedContainer {
  ContainerId container{};
  ContainerGeometry geometry{};
  uint32_t chunk_count = 0;
  std::vector<uint8_t> payload;  // geometry.payload_bytes() bytes

  // Data fragment `index` (< k): payload bytes [index * F, (index + 1) * F).
  std::span<const uint8_t> fragment(uint32_t index) const;
};

class ContainerBuilder final {
 public:
  // `geometry` must pass validate_geometry (validate configuration before building).
  ContainerBuilder(const ContainerGeometry& geometry, ContainerId container);
  ContainerBuilder(const ContainerBuilder&) = delete;
  ContainerBuilder& operator=(const ContainerBuilder&) = delete;

  // Appends one chunk: `stored` holds its bytes as they go to disk (`encoding` says how they
  // decode to logical_bytes bytes). Returns where it went. kInvalidArgument if the chunk's shape
  // is invalid (validate_chunk_shape); kNoSpace if the chunk plus the grown footer would not fit
  // or the container holds kContainerChunksMax chunks: seal this one and add to a new one.
  // Nothing changes on error. Not after seal().
  Result<ChunkPlacement> add(const Fingerprint& fp, ChunkEncoding encoding,
                             std::span<const uint8_t> stored, uint32_t logical_bytes);

  // Would add() accept a chunk of `stored_bytes` (whose shape is valid) now?
  bool fits(uint64_t stored_bytes) const;

  // Writes the footer and hands over the payload. Zero chunks is fine. Exactly once.
  SealedContainer seal();

  const ContainerGeometry& geometry() const { return footer_.geometry; }
  ContainerId container() const { return footer_.container; }
  bool sealed() const { return sealed_; }
  uint32_t chunk_count() const { return static_cast<uint32_t>(footer_.chunks.size()); }
  // Payload bytes taken by chunks, including the padding before fragment boundaries.
  uint64_t bytes_used() const { return footer_.chunks_end; }
  // Bytes the footer takes if sealed now.
  uint64_t footer_bytes() const { return footer_bytes_for(footer_.chunks.size()); }
  const std::vector<ChunkEntry>& chunks() const { return footer_.chunks; }
  // The payload as built so far (chunks at their offsets): reads of chunks not yet destaged are
  // served from here. Not after seal().
  std::span<const uint8_t> payload() const { return payload_; }

 private:
  // Where a chunk of stored_bytes (<= F) would start: chunks_end, or the next fragment boundary
  // if it would straddle one.
  uint64_t next_offset(uint64_t stored_bytes) const;

  Footer footer_;  // the chunks added so far; geometry and id fixed at construction
  std::vector<uint8_t> payload_;
  bool sealed_ = false;
};

}  // namespace splitarray::hostdriver::container
