#include "hostdriver/container/container.h"

#include <algorithm>
#include <string>

#include "common/crc32c.h"
#include "common/endian.h"

namespace splitarray::hostdriver::container {
namespace {

// Trailer field offsets (container.h and README.md have the table).
constexpr size_t kTrailerMagicAt = 0;
constexpr size_t kTrailerVersionAt = 4;
constexpr size_t kTrailerReservedAAt = 6;
constexpr size_t kTrailerContainerAt = 8;
constexpr size_t kTrailerFragmentBytesAt = 16;
constexpr size_t kTrailerDataFragmentsAt = 20;
constexpr size_t kTrailerReservedBAt = 22;
constexpr size_t kTrailerChunkCountAt = 24;
constexpr size_t kTrailerFooterBytesAt = 28;
constexpr size_t kTrailerChunksEndAt = 32;
constexpr size_t kTrailerEntriesCrcAt = 36;
constexpr size_t kTrailerReservedCAt = 40;
constexpr size_t kTrailerReservedCBytes = 20;
constexpr size_t kTrailerCrcAt = 60;
static_assert(kTrailerReservedCAt + kTrailerReservedCBytes == kTrailerCrcAt);
static_assert(kTrailerCrcAt + 4 == kTrailerBytes);

// Entry field offsets.
constexpr size_t kEntryFpAt = 0;
constexpr size_t kEntryOffsetAt = 32;
constexpr size_t kEntryStoredAt = 36;
constexpr size_t kEntryLogicalAt = 40;
constexpr size_t kEntryEncodingAt = 44;
constexpr size_t kEntryReservedAt = 45;
static_assert(kEntryFpAt + protocol::kFingerprintBytes == kEntryOffsetAt);
static_assert(kEntryReservedAt + 3 == kEntryBytes);

Error corruption(ContainerId container, const std::string& message) {
  return make_error(Code::kCorruption,
                    "container " + std::to_string(container.value()) + ": " + message);
}

bool all_zero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

bool known_encoding(uint8_t value) {
  return value == static_cast<uint8_t>(ChunkEncoding::kRaw) ||
         value == static_cast<uint8_t>(ChunkEncoding::kZstd);
}

// Magic, version, CRC and reserved bytes: is this a version-1 trailer at all?
Result<void> check_trailer_frame(ContainerId container, std::span<const uint8_t> t) {
  ASSERT(t.size() == kTrailerBytes);
  if (get_u32(t, kTrailerMagicAt) != kFooterMagic) {
    return corruption(container, "trailer magic is not SACF (not a container footer)");
  }
  if (get_u16(t, kTrailerVersionAt) != kFooterFormatVersion) {
    return corruption(container, "trailer format version " +
                                     std::to_string(get_u16(t, kTrailerVersionAt)) + " is not 1");
  }
  if (get_u32(t, kTrailerCrcAt) != crc32c(t.first(kTrailerCrcAt))) {
    return corruption(container, "trailer CRC32C mismatch");
  }
  if (get_u16(t, kTrailerReservedAAt) != 0 || get_u16(t, kTrailerReservedBAt) != 0 ||
      !all_zero(t.subspan(kTrailerReservedCAt, kTrailerReservedCBytes))) {
    return corruption(container, "trailer reserved bytes are not zero");
  }
  return ok_result();
}

// Counts, lengths and geometry of a trailer whose frame is good.
Result<void> check_trailer_fields(const ContainerGeometry& geometry, ContainerId container,
                                  const Trailer& trailer) {
  if (trailer.container != container) {
    return corruption(container,
                      "trailer names container " + std::to_string(trailer.container.value()));
  }
  if (trailer.geometry != geometry) {
    return corruption(
        container,
        "trailer geometry k=" + std::to_string(trailer.geometry.data_fragments) +
            " fragment_payload_bytes=" + std::to_string(trailer.geometry.fragment_payload_bytes) +
            " is not the expected one");
  }
  if (trailer.chunk_count > kContainerChunksMax) {
    return corruption(container, "chunk count " + std::to_string(trailer.chunk_count) +
                                     " is over kContainerChunksMax");
  }
  if (trailer.footer_bytes != footer_bytes_for(trailer.chunk_count)) {
    return corruption(container, "footer bytes " + std::to_string(trailer.footer_bytes) +
                                     " do not match chunk count " +
                                     std::to_string(trailer.chunk_count));
  }
  const uint64_t payload_bytes = geometry.payload_bytes();
  if (trailer.footer_bytes > payload_bytes) {
    return corruption(
        container, "footer bytes " + std::to_string(trailer.footer_bytes) + " exceed the payload");
  }
  if (trailer.chunks_end > payload_bytes - trailer.footer_bytes) {
    return corruption(container,
                      "chunks end " + std::to_string(trailer.chunks_end) + " overlaps the footer");
  }
  // Every chunk stores at least one byte.
  if (trailer.chunk_count > trailer.chunks_end ||
      (trailer.chunk_count == 0) != (trailer.chunks_end == 0)) {
    return corruption(container, "chunks end " + std::to_string(trailer.chunks_end) +
                                     " cannot hold " + std::to_string(trailer.chunk_count) +
                                     " chunks");
  }
  return ok_result();
}

ChunkEntry decode_entry(std::span<const uint8_t> e) {
  ASSERT(e.size() == kEntryBytes);
  ChunkEntry entry;
  std::copy_n(e.begin() + kEntryFpAt, entry.fp.size(), entry.fp.begin());
  entry.offset = get_u32(e, kEntryOffsetAt);
  entry.stored_bytes = get_u32(e, kEntryStoredAt);
  entry.logical_bytes = get_u32(e, kEntryLogicalAt);
  entry.encoding = static_cast<ChunkEncoding>(e[kEntryEncodingAt]);  // checked by the caller
  return entry;
}

// Entry `index` of a footer whose entries CRC matched. prev_end: where the previous chunk ended.
Result<ChunkEntry> check_entry(const Trailer& trailer, std::span<const uint8_t> e, size_t index,
                               uint64_t prev_end) {
  const ContainerId container = trailer.container;
  const std::string name = "chunk " + std::to_string(index);
  if (!known_encoding(e[kEntryEncodingAt])) {
    return corruption(container,
                      name + " has unknown encoding " + std::to_string(e[kEntryEncodingAt]));
  }
  if (!all_zero(e.subspan(kEntryReservedAt))) {
    return corruption(container, name + " reserved bytes are not zero");
  }
  const ChunkEntry entry = decode_entry(e);
  const Result<void> shape =
      validate_chunk_shape(entry.encoding, entry.stored_bytes, entry.logical_bytes);
  if (!shape.ok()) return corruption(container, name + ": " + shape.error().message);
  if (entry.offset < prev_end) {
    return corruption(container, name + " offset " + std::to_string(entry.offset) +
                                     " is before the previous chunk's end " +
                                     std::to_string(prev_end) + " (unsorted or overlapping)");
  }
  const uint64_t end = uint64_t{entry.offset} + entry.stored_bytes;
  if (end > trailer.chunks_end) {
    return corruption(container, name + " ends at " + std::to_string(end) + ", past chunks end " +
                                     std::to_string(trailer.chunks_end));
  }
  const Result<ChunkPlacement> placement =
      locate_checked(trailer.geometry, entry.offset, entry.stored_bytes);
  if (!placement.ok()) return corruption(container, name + ": " + placement.error().message);
  return entry;
}

void encode_entry(const ChunkEntry& entry, std::span<uint8_t> e) {
  ASSERT(e.size() == kEntryBytes);
  std::copy(entry.fp.begin(), entry.fp.end(), e.begin() + kEntryFpAt);
  put_u32(e, kEntryOffsetAt, entry.offset);
  put_u32(e, kEntryStoredAt, entry.stored_bytes);
  put_u32(e, kEntryLogicalAt, entry.logical_bytes);
  e[kEntryEncodingAt] = static_cast<uint8_t>(entry.encoding);
  std::fill(e.begin() + kEntryReservedAt, e.end(), uint8_t{0});
}

}  // namespace

Result<void> validate_geometry(const ContainerGeometry& geometry) {
  const auto invalid = [](const std::string& message) {
    return make_error(Code::kInvalidArgument, "container geometry: " + message);
  };
  if (geometry.data_fragments < kDataFragmentsMin || geometry.data_fragments > kDataFragmentsMax) {
    return invalid("data fragments " + std::to_string(geometry.data_fragments) +
                   " outside [kDataFragmentsMin, kDataFragmentsMax]");
  }
  if (geometry.fragment_payload_bytes < kFragmentPayloadBytesMin ||
      geometry.fragment_payload_bytes > kFragmentPayloadBytesMax) {
    return invalid("fragment payload bytes " + std::to_string(geometry.fragment_payload_bytes) +
                   " outside [kFragmentPayloadBytesMin, kFragmentPayloadBytesMax]");
  }
  if (geometry.payload_bytes() > kContainerPayloadBytesMax) {
    return invalid("payload bytes " + std::to_string(geometry.payload_bytes()) +
                   " over kContainerPayloadBytesMax");
  }
  // An empty container must accept any valid chunk, or a writer would seal empty containers
  // forever.
  if (geometry.payload_bytes() < kChunkStoredBytesMax + footer_bytes_for(1)) {
    return invalid("payload cannot hold one largest chunk and its footer");
  }
  return ok_result();
}

std::string_view encoding_name(ChunkEncoding encoding) {
  switch (encoding) {
    case ChunkEncoding::kRaw:
      return "raw";
    case ChunkEncoding::kZstd:
      return "zstd";
  }
  return "unknown";
}

Result<void> validate_chunk_shape(ChunkEncoding encoding, uint64_t stored_bytes,
                                  uint64_t logical_bytes) {
  const auto invalid = [](const std::string& message) {
    return make_error(Code::kInvalidArgument, message);
  };
  if (!known_encoding(static_cast<uint8_t>(encoding))) return invalid("unknown chunk encoding");
  if (logical_bytes == 0 || logical_bytes > kChunkLogicalBytesMax) {
    return invalid("logical bytes " + std::to_string(logical_bytes) +
                   " outside [1, kChunkLogicalBytesMax]");
  }
  if (stored_bytes == 0 || stored_bytes > logical_bytes) {
    return invalid("stored bytes " + std::to_string(stored_bytes) + " outside [1, logical bytes " +
                   std::to_string(logical_bytes) + "]");
  }
  if (encoding == ChunkEncoding::kRaw && stored_bytes != logical_bytes) {
    return invalid("raw chunk stores " + std::to_string(stored_bytes) + " bytes but decodes to " +
                   std::to_string(logical_bytes));
  }
  ASSERT(stored_bytes <= kChunkStoredBytesMax);
  return ok_result();
}

Result<ChunkPlacement> locate_checked(const ContainerGeometry& geometry, uint64_t offset,
                                      uint64_t length) {
  ASSERT(validate_geometry(geometry).ok());
  const uint64_t payload_bytes = geometry.payload_bytes();
  const auto bad = [&](const std::string& what) {
    return make_error(Code::kCorruption, "chunk range [" + std::to_string(offset) + ", +" +
                                             std::to_string(length) + ") " + what);
  };
  if (length == 0) return bad("is empty");
  if (offset >= payload_bytes || length > payload_bytes - offset) {
    return bad("runs past the " + std::to_string(payload_bytes) + "-byte payload");
  }
  const uint64_t fragment_bytes = geometry.fragment_payload_bytes;
  const uint64_t first = offset / fragment_bytes;
  const uint64_t last = (offset + length - 1) / fragment_bytes;
  if (first != last) {
    return bad("straddles data fragments " + std::to_string(first) + " and " +
               std::to_string(last));
  }
  ChunkPlacement placement;
  placement.offset = static_cast<uint32_t>(offset);
  placement.length = static_cast<uint32_t>(length);
  placement.fragment_index = static_cast<uint32_t>(first);
  placement.offset_in_fragment = static_cast<uint32_t>(offset - first * fragment_bytes);
  ASSERT(placement.offset_in_fragment + uint64_t{placement.length} <= fragment_bytes);
  return placement;
}

ChunkPlacement locate(const ContainerGeometry& geometry, uint64_t offset, uint64_t length) {
  Result<ChunkPlacement> placement = locate_checked(geometry, offset, length);
  ASSERT_MSG(placement.ok(), "a trusted chunk location straddles a fragment or leaves the payload");
  return placement.value();
}

Result<Trailer> parse_trailer(const ContainerGeometry& geometry, ContainerId container,
                              std::span<const uint8_t> payload_tail) {
  ASSERT(validate_geometry(geometry).ok());
  if (payload_tail.size() > geometry.payload_bytes()) {
    return make_error(Code::kInvalidArgument,
                      "container " + std::to_string(container.value()) + ": tail of " +
                          std::to_string(payload_tail.size()) + " bytes is longer than the " +
                          std::to_string(geometry.payload_bytes()) + "-byte payload");
  }
  if (payload_tail.size() < kTrailerBytes) {
    return corruption(container, "only " + std::to_string(payload_tail.size()) +
                                     " bytes, shorter than the 64-byte trailer");
  }
  const std::span<const uint8_t> t = payload_tail.last(kTrailerBytes);
  RETURN_IF_ERROR(check_trailer_frame(container, t));
  Trailer trailer;
  trailer.container = ContainerId(get_u64(t, kTrailerContainerAt));
  trailer.geometry.fragment_payload_bytes = get_u32(t, kTrailerFragmentBytesAt);
  trailer.geometry.data_fragments = get_u16(t, kTrailerDataFragmentsAt);
  trailer.chunk_count = get_u32(t, kTrailerChunkCountAt);
  trailer.footer_bytes = get_u32(t, kTrailerFooterBytesAt);
  trailer.chunks_end = get_u32(t, kTrailerChunksEndAt);
  trailer.entries_crc = get_u32(t, kTrailerEntriesCrcAt);
  RETURN_IF_ERROR(check_trailer_fields(geometry, container, trailer));
  ASSERT(trailer.footer_offset() >= trailer.chunks_end);
  return trailer;
}

Result<Footer> parse_footer(const ContainerGeometry& geometry, ContainerId container,
                            std::span<const uint8_t> payload_tail) {
  ASSIGN_OR_RETURN(const Trailer trailer, parse_trailer(geometry, container, payload_tail));
  if (payload_tail.size() < trailer.footer_bytes) {
    return make_error(Code::kInvalidArgument,
                      "container " + std::to_string(container.value()) + ": tail of " +
                          std::to_string(payload_tail.size()) + " bytes does not hold the " +
                          std::to_string(trailer.footer_bytes) +
                          "-byte footer; read from payload offset " +
                          std::to_string(trailer.footer_offset()));
  }
  const std::span<const uint8_t> entries =
      payload_tail.last(trailer.footer_bytes).first(trailer.footer_bytes - kTrailerBytes);
  ASSERT(entries.size() == uint64_t{trailer.chunk_count} * kEntryBytes);
  if (crc32c(entries) != trailer.entries_crc) {
    return corruption(container, "footer entries CRC32C mismatch");
  }
  Footer footer;
  footer.container = trailer.container;
  footer.geometry = trailer.geometry;
  footer.chunks_end = trailer.chunks_end;
  footer.chunks.reserve(trailer.chunk_count);
  uint64_t prev_end = 0;
  for (size_t i = 0; i < trailer.chunk_count; ++i) {
    ASSIGN_OR_RETURN(
        ChunkEntry entry,
        check_entry(trailer, entries.subspan(i * kEntryBytes, kEntryBytes), i, prev_end));
    prev_end = uint64_t{entry.offset} + entry.stored_bytes;
    footer.chunks.push_back(entry);
  }
  if (prev_end != trailer.chunks_end) {
    return corruption(container, "last chunk ends at " + std::to_string(prev_end) +
                                     ", not at chunks end " + std::to_string(trailer.chunks_end));
  }
  return footer;
}

void encode_footer(const Footer& footer, std::span<uint8_t> out) {
  ASSERT(footer.chunks.size() <= kContainerChunksMax);
  ASSERT(out.size() == footer_bytes_for(footer.chunks.size()));
  ASSERT(footer.chunks_end <= footer.geometry.payload_bytes() - out.size());
  const std::span<uint8_t> entries = out.first(out.size() - kTrailerBytes);
  for (size_t i = 0; i < footer.chunks.size(); ++i) {
    encode_entry(footer.chunks[i], entries.subspan(i * kEntryBytes, kEntryBytes));
  }
  const std::span<uint8_t> t = out.last(kTrailerBytes);
  std::fill(t.begin(), t.end(), uint8_t{0});
  put_u32(t, kTrailerMagicAt, kFooterMagic);
  put_u16(t, kTrailerVersionAt, kFooterFormatVersion);
  put_u64(t, kTrailerContainerAt, footer.container.value());
  put_u32(t, kTrailerFragmentBytesAt, footer.geometry.fragment_payload_bytes);
  put_u16(t, kTrailerDataFragmentsAt, static_cast<uint16_t>(footer.geometry.data_fragments));
  put_u32(t, kTrailerChunkCountAt, static_cast<uint32_t>(footer.chunks.size()));
  put_u32(t, kTrailerFooterBytesAt, static_cast<uint32_t>(out.size()));
  put_u32(t, kTrailerChunksEndAt, footer.chunks_end);
  put_u32(t, kTrailerEntriesCrcAt, crc32c(entries));
  put_u32(t, kTrailerCrcAt, crc32c(t.first(kTrailerCrcAt)));
}

}  // namespace splitarray::hostdriver::container
