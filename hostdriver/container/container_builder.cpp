#include "hostdriver/container/container_builder.h"

#include <algorithm>
#include <string>
#include <utility>

namespace splitarray::hostdriver::container {

std::span<const uint8_t> SealedContainer::fragment(uint32_t index) const {
  ASSERT(index < geometry.data_fragments);
  ASSERT(payload.size() == geometry.payload_bytes());
  return std::span<const uint8_t>(payload).subspan(
      uint64_t{index} * geometry.fragment_payload_bytes, geometry.fragment_payload_bytes);
}

ContainerBuilder::ContainerBuilder(const ContainerGeometry& geometry, ContainerId container) {
  const Result<void> valid = validate_geometry(geometry);
  ASSERT_MSG(valid.ok(), "ContainerBuilder needs a geometry that passed validate_geometry");
  footer_.container = container;
  footer_.geometry = geometry;
  payload_.assign(geometry.payload_bytes(), 0);
  ASSERT(fits(kChunkStoredBytesMax));  // invariant (3)
}

uint64_t ContainerBuilder::next_offset(uint64_t stored_bytes) const {
  const uint64_t fragment_bytes = footer_.geometry.fragment_payload_bytes;
  ASSERT(stored_bytes >= 1);
  ASSERT(stored_bytes <= fragment_bytes);
  const uint64_t start = footer_.chunks_end;
  const uint64_t room_in_fragment = fragment_bytes - start % fragment_bytes;
  if (stored_bytes <= room_in_fragment) return start;
  return start + room_in_fragment;  // the next fragment boundary
}

bool ContainerBuilder::fits(uint64_t stored_bytes) const {
  ASSERT(!sealed_);
  ASSERT(stored_bytes >= 1);
  ASSERT(stored_bytes <= kChunkStoredBytesMax);
  if (footer_.chunks.size() >= kContainerChunksMax) return false;
  const uint64_t end = next_offset(stored_bytes) + stored_bytes;
  return end + footer_bytes_for(footer_.chunks.size() + 1) <= footer_.geometry.payload_bytes();
}

Result<ChunkPlacement> ContainerBuilder::add(const Fingerprint& fp, ChunkEncoding encoding,
                                             std::span<const uint8_t> stored,
                                             uint32_t logical_bytes) {
  ASSERT_MSG(!sealed_, "add() after seal()");
  RETURN_IF_ERROR(validate_chunk_shape(encoding, stored.size(), logical_bytes));
  if (!fits(stored.size())) {
    return make_error(Code::kNoSpace, "container " + std::to_string(footer_.container.value()) +
                                          " is full (" + std::to_string(chunk_count()) +
                                          " chunks, " + std::to_string(bytes_used()) +
                                          " bytes used)");
  }
  const uint64_t offset = next_offset(stored.size());
  const ChunkPlacement placement = locate(footer_.geometry, offset, stored.size());  // (1)
  std::copy(stored.begin(), stored.end(), payload_.begin() + static_cast<ptrdiff_t>(offset));
  footer_.chunks.push_back(ChunkEntry{.fp = fp,
                                      .offset = placement.offset,
                                      .stored_bytes = placement.length,
                                      .logical_bytes = logical_bytes,
                                      .encoding = encoding});
  footer_.chunks_end = static_cast<uint32_t>(offset + stored.size());
  ASSERT(bytes_used() + footer_bytes() <= footer_.geometry.payload_bytes());  // (2)
  return placement;
}

SealedContainer ContainerBuilder::seal() {
  ASSERT_MSG(!sealed_, "seal() twice");
  const uint64_t footer_bytes = this->footer_bytes();
  ASSERT(bytes_used() + footer_bytes <= payload_.size());
  encode_footer(footer_, std::span<uint8_t>(payload_).last(footer_bytes));

  // (4) A footer we just wrote that does not read back is a bug, not corruption.
  const Result<Footer> again = parse_footer(footer_.geometry, footer_.container, payload_);
  ASSERT_MSG(again.ok(), "a freshly sealed container footer does not parse");
  ASSERT_MSG(again.value() == footer_, "a freshly sealed container footer reads back different");

  sealed_ = true;
  SealedContainer sealed;
  sealed.container = footer_.container;
  sealed.geometry = footer_.geometry;
  sealed.chunk_count = chunk_count();
  sealed.payload = std::move(payload_);
  payload_.clear();
  return sealed;
}

}  // namespace splitarray::hostdriver::container
