// Tests of the container format's pure pieces: geometry limits, chunk shapes, locate() and the
// documented byte layout of the footer.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/endian.h"
#include "container_test_util.h"
#include "hostdriver/container/container.h"
#include "hostdriver/container/container_builder.h"

namespace splitarray::hostdriver::container {
namespace {

using namespace testing;  // NOLINT: test helpers

TEST_CASE("hostdriver/container: default geometry is 8 x 1 MiB = 8 MiB and valid") {
  const ContainerGeometry geometry;
  CHECK(geometry.data_fragments == 8);
  CHECK(geometry.fragment_payload_bytes == 1024 * 1024);
  CHECK(geometry.payload_bytes() == 8 * 1024 * 1024);
  CHECK(validate_geometry(geometry).ok());
}

TEST_CASE("hostdriver/container: geometry limits are enforced with kInvalidArgument") {
  const auto rejected = [](uint32_t k, uint32_t fragment_bytes) {
    const Result<void> result = validate_geometry(geometry_of(k, fragment_bytes));
    return !result.ok() && result.code() == Code::kInvalidArgument;
  };
  CHECK(rejected(0, kFragmentPayloadBytesDefault));
  CHECK(rejected(kDataFragmentsMax + 1, 64 * 1024));
  CHECK(rejected(4, kFragmentPayloadBytesMin - 1));
  CHECK(rejected(4, kFragmentPayloadBytesMax + 1));
  CHECK(rejected(16, kFragmentPayloadBytesMax));  // 32 MiB payload > kContainerPayloadBytesMax
  // One 64 KiB fragment cannot hold a largest chunk and its footer.
  CHECK(rejected(1, 64 * 1024));
  CHECK(validate_geometry(geometry_of(1, 64 * 1024 + footer_bytes_for(1))).ok());
  CHECK(validate_geometry(geometry_of(4, 64 * 1024)).ok());
  CHECK(validate_geometry(geometry_of(4, 2 * 1024 * 1024 - 64)).ok());
  CHECK(validate_geometry(geometry_of(8, kFragmentPayloadBytesMax)).ok());
  CHECK(validate_geometry(geometry_of(16, 1024 * 1024)).ok());
  CHECK(validate_geometry(geometry_of(kDataFragmentsMax, 64 * 1024)).ok());
}

TEST_CASE("hostdriver/container: chunk shapes: raw stores exactly, zstd never expands") {
  CHECK(validate_chunk_shape(ChunkEncoding::kRaw, 4096, 4096).ok());
  CHECK(validate_chunk_shape(ChunkEncoding::kZstd, 1, 4096).ok());
  CHECK(validate_chunk_shape(ChunkEncoding::kZstd, 65536, 65536).ok());
  CHECK(validate_chunk_shape(ChunkEncoding::kRaw, 1, 1).ok());
  const auto rejected = [](ChunkEncoding encoding, uint64_t stored, uint64_t logical) {
    const Result<void> result = validate_chunk_shape(encoding, stored, logical);
    return !result.ok() && result.code() == Code::kInvalidArgument;
  };
  CHECK(rejected(ChunkEncoding::kRaw, 4000, 4096));
  CHECK(rejected(ChunkEncoding::kZstd, 4097, 4096));
  CHECK(rejected(ChunkEncoding::kZstd, 0, 4096));
  CHECK(rejected(ChunkEncoding::kRaw, 0, 0));
  CHECK(rejected(ChunkEncoding::kRaw, 65537, 65537));
  CHECK(rejected(static_cast<ChunkEncoding>(0), 4096, 4096));
  CHECK(rejected(static_cast<ChunkEncoding>(3), 100, 4096));
  CHECK(encoding_name(ChunkEncoding::kRaw) == "raw");
  CHECK(encoding_name(ChunkEncoding::kZstd) == "zstd");
}

TEST_CASE("hostdriver/container: locate maps payload ranges to one fragment") {
  const ContainerGeometry geometry;  // 8 x 1 MiB
  const uint64_t fragment_bytes = geometry.fragment_payload_bytes;
  CHECK(locate(geometry, 0, 1) == ChunkPlacement{0, 1, 0, 0});
  CHECK(locate(geometry, fragment_bytes - 1, 1) ==
        ChunkPlacement{static_cast<uint32_t>(fragment_bytes - 1), 1, 0,
                       static_cast<uint32_t>(fragment_bytes - 1)});
  CHECK(locate(geometry, 3 * fragment_bytes + 100, 4096) ==
        ChunkPlacement{static_cast<uint32_t>(3 * fragment_bytes + 100), 4096, 3, 100});
  CHECK(locate(geometry, geometry.payload_bytes() - 4096, 4096).fragment_index == 7);
  CHECK(locate(geometry, 5 * fragment_bytes, fragment_bytes) ==
        ChunkPlacement{static_cast<uint32_t>(5 * fragment_bytes),
                       static_cast<uint32_t>(fragment_bytes), 5, 0});

  const ChunkPlacement placement = locate(geometry, 2 * fragment_bytes + 8, 512);
  CHECK(placement.location(ContainerId(77)) ==
        protocol::ChunkLocation{.container_id = 77,
                                .offset = static_cast<uint32_t>(2 * fragment_bytes + 8),
                                .length = 512});
}

TEST_CASE("hostdriver/container: locate_checked rejects straddling, empty and outside ranges") {
  const ContainerGeometry geometry = geometry_of(4, 64 * 1024);
  const uint64_t fragment_bytes = geometry.fragment_payload_bytes;
  const uint64_t payload_bytes = geometry.payload_bytes();
  const auto corrupt = [&](uint64_t offset, uint64_t length) {
    const Result<ChunkPlacement> result = locate_checked(geometry, offset, length);
    return !result.ok() && result.code() == Code::kCorruption;
  };
  CHECK(corrupt(fragment_bytes - 1, 2));
  CHECK(corrupt(0, fragment_bytes + 1));
  CHECK(corrupt(2 * fragment_bytes - 100, 4096));
  CHECK(corrupt(0, 0));
  CHECK(corrupt(payload_bytes, 1));
  CHECK(corrupt(payload_bytes - 1, 2));
  CHECK(corrupt(UINT64_MAX, 1));  // no overflow on hostile values
  CHECK(corrupt(1, UINT64_MAX));
  CHECK(corrupt(UINT64_MAX, UINT64_MAX));
  CHECK(locate_checked(geometry, payload_bytes - 1, 1).ok());
  const Result<ChunkPlacement> straddle = locate_checked(geometry, fragment_bytes - 1, 2);
  REQUIRE(!straddle.ok());
  CHECK(straddle.error().message.find("straddles data fragments 0 and 1") != std::string::npos);
}

TEST_CASE("hostdriver/container: footer bytes follow the documented layout") {
  const ContainerGeometry geometry = geometry_of(2, 64 * 1024);
  ContainerBuilder builder(geometry, ContainerId(0x1122334455667788));
  const std::vector<uint8_t> stored(300, 0xAB);
  REQUIRE(builder.add(fp_of(0x5A), ChunkEncoding::kZstd, stored, 4096).ok());
  SealedContainer sealed = builder.seal();
  const std::span<const uint8_t> payload = sealed.payload;

  const std::span<const uint8_t> trailer = payload.last(kTrailerBytes);
  CHECK(get_u32(trailer, kAtMagic) == 0x46434153);
  CHECK(trailer[0] == 'S');
  CHECK(trailer[1] == 'A');
  CHECK(trailer[2] == 'C');
  CHECK(trailer[3] == 'F');
  CHECK(get_u16(trailer, kAtVersion) == 1);
  CHECK(get_u64(trailer, kAtContainer) == 0x1122334455667788);
  CHECK(get_u32(trailer, kAtFragmentBytes) == 64 * 1024);
  CHECK(get_u16(trailer, kAtDataFragments) == 2);
  CHECK(get_u32(trailer, kAtChunkCount) == 1);
  CHECK(get_u32(trailer, kAtFooterBytes) == 48 + 64);
  CHECK(get_u32(trailer, kAtChunksEnd) == 300);
  for (size_t i = kAtReserved; i < kAtTrailerCrc; ++i) CHECK(trailer[i] == 0);

  const std::span<const uint8_t> entry = payload.last(48 + 64).first(48);
  CHECK(get_u32(trailer, kAtEntriesCrc) == crc32c(entry));
  CHECK(get_u32(trailer, kAtTrailerCrc) == crc32c(trailer.first(60)));
  for (size_t i = 0; i < 32; ++i) CHECK(entry[i] == 0x5A);
  CHECK(get_u32(entry, kAtEntryOffset) == 0);
  CHECK(get_u32(entry, kAtEntryStored) == 300);
  CHECK(get_u32(entry, kAtEntryLogical) == 4096);
  CHECK(entry[kAtEntryEncoding] == 2);
  CHECK(entry[kAtEntryReserved] == 0);
}

TEST_CASE("hostdriver/container: a container with zero chunks seals and parses") {
  for (const ContainerGeometry& geometry : {ContainerGeometry{}, geometry_of(4, 64 * 1024)}) {
    ContainerBuilder builder(geometry, ContainerId(9));
    CHECK(builder.chunk_count() == 0);
    CHECK(builder.bytes_used() == 0);
    CHECK(builder.footer_bytes() == kTrailerBytes);
    SealedContainer sealed = builder.seal();
    CHECK(builder.sealed());
    CHECK(sealed.chunk_count == 0);
    REQUIRE(sealed.payload.size() == geometry.payload_bytes());

    const Result<Footer> footer = parse_footer(geometry, ContainerId(9), sealed.payload);
    REQUIRE(footer.ok());
    CHECK(footer->chunks.empty());
    CHECK(footer->chunks_end == 0);
    CHECK(footer->container == ContainerId(9));
    CHECK(footer->geometry == geometry);
    // Everything but the trailer is zero padding.
    const auto body = std::span<const uint8_t>(sealed.payload).first(sealed.payload.size() - 64);
    CHECK(std::all_of(body.begin(), body.end(), [](uint8_t b) { return b == 0; }));
    // The trailer alone is enough.
    CHECK(
        parse_footer(geometry, ContainerId(9), sealed.fragment(geometry.data_fragments - 1)).ok());
    CHECK(parse_footer(geometry, ContainerId(9),
                       std::span<const uint8_t>(sealed.payload).last(kTrailerBytes))
              .ok());
  }
}

TEST_CASE("hostdriver/container: parse_trailer gives the footer's offset for a partial read") {
  const ContainerGeometry geometry = geometry_of(4, 64 * 1024);
  ContainerBuilder builder(geometry, ContainerId(5));
  std::vector<uint8_t> stored(2, 0x11);
  // 2000 two-byte chunks: a 96,064-byte footer spanning the last two data fragments.
  for (uint32_t i = 0; i < 2000; ++i) {
    REQUIRE(builder.add(fp_of(static_cast<uint8_t>(i)), ChunkEncoding::kZstd, stored, 4096).ok());
  }
  SealedContainer sealed = builder.seal();
  const auto last_fragment = sealed.fragment(3);
  const Result<Trailer> trailer = parse_trailer(geometry, ContainerId(5), last_fragment);
  REQUIRE(trailer.ok());
  CHECK(trailer->chunk_count == 2000);
  CHECK(trailer->footer_bytes == 2000 * 48 + 64);
  CHECK(trailer->chunks_end == 4000);
  CHECK(trailer->footer_offset() == geometry.payload_bytes() - trailer->footer_bytes);

  // The last fragment alone does not hold the footer: the caller is told to read more.
  const Result<Footer> partial = parse_footer(geometry, ContainerId(5), last_fragment);
  REQUIRE(!partial.ok());
  CHECK(partial.code() == Code::kInvalidArgument);
  CHECK(partial.error().message.find("read from payload offset " +
                                     std::to_string(trailer->footer_offset())) !=
        std::string::npos);

  const auto tail = std::span<const uint8_t>(sealed.payload).subspan(trailer->footer_offset());
  const Result<Footer> footer = parse_footer(geometry, ContainerId(5), tail);
  REQUIRE(footer.ok());
  CHECK(footer->chunks.size() == 2000);
  CHECK(footer.value() == parse_footer(geometry, ContainerId(5), sealed.payload).value());
}

}  // namespace
}  // namespace splitarray::hostdriver::container
