// Tests that parse_footer rejects damaged and hostile footers: every single-bit flip of a small
// container's footer (exhaustive), short/truncated/oversized inputs, another container's id or
// geometry, absurd counts and lengths behind valid CRCs, forged entries, and random mutations.
// Randomized parts print their seed and take SPLITARRAY_SEED.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "container_test_util.h"
#include "hostdriver/container/container.h"
#include "hostdriver/container/container_builder.h"

namespace splitarray::hostdriver::container {
namespace {

using namespace testing;  // NOLINT: test helpers

constexpr ContainerGeometry kSmall{.data_fragments = 2, .fragment_payload_bytes = 64 * 1024};
constexpr ContainerId kId(0xC0FFEE);

struct Built {
  SealedContainer sealed;
  Footer footer;
};

// A small sealed container with `count` random chunks (the footer spans both fragments' ends
// only if count is large; 12 chunks give a 640-byte footer).
Built build_small(Prng& rng, size_t count) {
  ContainerBuilder builder(kSmall, kId);
  for (size_t i = 0; i < count; ++i) {
    TestChunk chunk = random_chunk(rng);
    chunk.encoding = ChunkEncoding::kZstd;
    chunk.stored.resize(rng.between(1, 6000) % chunk.logical_bytes + 1);
    REQUIRE(builder.add(chunk.fp, chunk.encoding, chunk.stored, chunk.logical_bytes).ok());
  }
  Built built{builder.seal(), {}};
  const Result<Footer> footer = parse_footer(kSmall, kId, built.sealed.payload);
  REQUIRE(footer.ok());
  built.footer = footer.value();
  return built;
}

bool has_message(const Error& error, const std::string& text) {
  return error.message.find(text) != std::string::npos;
}

// Expect kCorruption whose message contains `text`.
void check_corrupt(std::span<const uint8_t> tail, const std::string& text) {
  const Result<Footer> result = parse_footer(kSmall, kId, tail);
  REQUIRE(!result.ok());
  CHECK(result.code() == Code::kCorruption);
  CHECK_MESSAGE(has_message(result.error(), text), result.error().message);
}

TEST_CASE("hostdriver/container: every single-bit flip in the footer is detected") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  Built built = build_small(rng, 12);
  std::vector<uint8_t>& payload = built.sealed.payload;
  const std::span<uint8_t> footer = footer_region(payload, 12);
  REQUIRE(footer.size() == 12 * 48 + 64);

  size_t flips = 0;
  size_t detected = 0;
  size_t trailer_flips_detected_by_trailer = 0;
  for (size_t byte = 0; byte < footer.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      footer[byte] ^= static_cast<uint8_t>(1u << bit);
      ++flips;
      const Result<Footer> whole = parse_footer(kSmall, kId, payload);
      const Result<Footer> tail_only = parse_footer(kSmall, kId, footer);
      if (!whole.ok() && whole.code() == Code::kCorruption && !tail_only.ok() &&
          tail_only.code() == Code::kCorruption) {
        ++detected;
      }
      const bool in_trailer = byte >= footer.size() - kTrailerBytes;
      if (in_trailer && !parse_trailer(kSmall, kId, payload).ok()) {
        ++trailer_flips_detected_by_trailer;
      }
      footer[byte] ^= static_cast<uint8_t>(1u << bit);
    }
  }
  CHECK(flips == footer.size() * 8);
  CHECK(detected == flips);
  CHECK(trailer_flips_detected_by_trailer == kTrailerBytes * 8);
  // Restored: parses to the same footer again.
  CHECK(parse_footer(kSmall, kId, payload).value() == built.footer);
}

TEST_CASE("hostdriver/container: bit flips outside the footer do not change what it lists") {
  // Chunk bytes and padding are covered by the fingerprint and the fragment CRC, not the footer.
  Prng rng(seed_from_env());
  Built built = build_small(rng, 12);
  std::vector<uint8_t>& payload = built.sealed.payload;
  const uint64_t footer_offset = payload.size() - footer_bytes_for(12);
  const uint64_t ranges[][2] = {{0, 256}, {footer_offset - 256, footer_offset}};
  for (const auto& range : ranges) {
    for (uint64_t byte = range[0]; byte < range[1]; ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        payload[byte] ^= static_cast<uint8_t>(1u << bit);
        const Result<Footer> footer = parse_footer(kSmall, kId, payload);
        REQUIRE(footer.ok());
        CHECK(footer.value() == built.footer);
        payload[byte] ^= static_cast<uint8_t>(1u << bit);
      }
    }
  }
}

TEST_CASE("hostdriver/container: short, truncated and oversized inputs are rejected") {
  Prng rng(seed_from_env());
  Built built = build_small(rng, 12);
  const std::span<const uint8_t> payload = built.sealed.payload;
  for (size_t size = 0; size < kTrailerBytes; ++size) {
    check_corrupt(payload.last(size), "shorter than the 64-byte trailer");
  }
  // Cut at the end: the trailer is no longer where it should be.
  check_corrupt(payload.first(payload.size() - 1), "magic");
  check_corrupt(payload.first(payload.size() - 64), "magic");
  check_corrupt(payload.first(payload.size() / 2), "magic");
  // Cut at the front: still a suffix of the payload, still the same footer.
  CHECK(parse_footer(kSmall, kId, payload.subspan(1)).value() == built.footer);
  // A suffix that holds the trailer but not the whole footer: read more.
  const Result<Footer> partial = parse_footer(kSmall, kId, payload.last(footer_bytes_for(12) - 1));
  REQUIRE(!partial.ok());
  CHECK(partial.code() == Code::kInvalidArgument);
  // More bytes than a payload holds is the caller's mistake.
  std::vector<uint8_t> oversized(payload.begin(), payload.end());
  oversized.insert(oversized.begin(), 0);
  const Result<Footer> too_long = parse_footer(kSmall, kId, oversized);
  REQUIRE(!too_long.ok());
  CHECK(too_long.code() == Code::kInvalidArgument);
  // All zeros (a never-written slot) and random bytes are not a footer.
  const std::vector<uint8_t> zeros(payload.size(), 0);
  check_corrupt(zeros, "magic");
  std::vector<uint8_t> noise(payload.size());
  rng.fill(noise);
  check_corrupt(noise, "magic");
}

TEST_CASE("hostdriver/container: another container's id or geometry is rejected") {
  Prng rng(seed_from_env());
  Built built = build_small(rng, 3);
  const std::span<const uint8_t> payload = built.sealed.payload;
  const Result<Footer> other_id = parse_footer(kSmall, ContainerId(kId.value() + 1), payload);
  REQUIRE(!other_id.ok());
  CHECK(other_id.code() == Code::kCorruption);
  CHECK(has_message(other_id.error(), "trailer names container " + std::to_string(kId.value())));

  const ContainerGeometry wider{.data_fragments = 4, .fragment_payload_bytes = 64 * 1024};
  const Result<Footer> other_geometry = parse_footer(wider, kId, payload);
  REQUIRE(!other_geometry.ok());
  CHECK(other_geometry.code() == Code::kCorruption);
  CHECK(has_message(other_geometry.error(), "geometry k=2 fragment_payload_bytes=65536"));
}

// Edits one trailer field of a copy, re-seals both CRCs and expects a kCorruption naming it.
template <class Edit>
void check_trailer_edit(const std::vector<uint8_t>& good, uint64_t chunk_count, Edit edit,
                        const std::string& text) {
  std::vector<uint8_t> payload = good;
  const std::span<uint8_t> footer = footer_region(payload, chunk_count);
  edit(footer.last(kTrailerBytes));
  reseal_footer(footer);
  check_corrupt(payload, text);
}

TEST_CASE("hostdriver/container: absurd counts and lengths behind valid CRCs are rejected") {
  Prng rng(seed_from_env());
  Built built = build_small(rng, 12);
  const std::vector<uint8_t>& good = built.sealed.payload;
  const uint32_t payload_bytes = static_cast<uint32_t>(kSmall.payload_bytes());
  const auto set_u32 = [](size_t at, uint32_t value) {
    return [at, value](std::span<uint8_t> t) { put_u32(t, at, value); };
  };
  check_trailer_edit(good, 12, set_u32(kAtChunkCount, UINT32_MAX), "over kContainerChunksMax");
  check_trailer_edit(good, 12, set_u32(kAtChunkCount, kContainerChunksMax + 1),
                     "over kContainerChunksMax");
  check_trailer_edit(good, 12, set_u32(kAtChunkCount, 13), "do not match chunk count 13");
  check_trailer_edit(good, 12, set_u32(kAtChunkCount, 0), "do not match chunk count 0");
  check_trailer_edit(good, 12, set_u32(kAtFooterBytes, UINT32_MAX), "do not match");
  check_trailer_edit(good, 12, set_u32(kAtFooterBytes, 0), "do not match");
  check_trailer_edit(
      good, 12,
      [](std::span<uint8_t> t) {
        put_u32(t, kAtChunkCount, 3000);
        put_u32(t, kAtFooterBytes, 3000 * 48 + 64);
      },
      "exceed the payload");
  check_trailer_edit(good, 12, set_u32(kAtChunksEnd, payload_bytes), "overlaps the footer");
  check_trailer_edit(good, 12, set_u32(kAtChunksEnd, UINT32_MAX), "overlaps the footer");
  check_trailer_edit(good, 12, set_u32(kAtChunksEnd, 0), "cannot hold 12 chunks");
  check_trailer_edit(good, 12, set_u32(kAtChunksEnd, 11), "cannot hold 12 chunks");
  check_trailer_edit(good, 12, set_u32(kAtChunksEnd, built.footer.chunks_end + 1),
                     "not at chunks end");
  // A wrong entries CRC behind a valid trailer CRC.
  std::vector<uint8_t> bad_entries_crc = good;
  const std::span<uint8_t> trailer = footer_region(bad_entries_crc, 12).last(kTrailerBytes);
  put_u32(trailer, kAtEntriesCrc, get_u32(trailer, kAtEntriesCrc) ^ 0x10);
  reseal_trailer(trailer);
  check_corrupt(bad_entries_crc, "entries CRC32C mismatch");
  check_trailer_edit(good, 12, set_u32(kAtMagic, 0x46434154), "magic");
  check_trailer_edit(
      good, 12, [](std::span<uint8_t> t) { put_u16(t, kAtVersion, 2); }, "format version 2");
  check_trailer_edit(
      good, 12, [](std::span<uint8_t> t) { t[kAtReserved + 7] = 1; }, "reserved");
  check_trailer_edit(
      good, 12, [](std::span<uint8_t> t) { t[6] = 1; }, "reserved");
  check_trailer_edit(
      good, 12, [](std::span<uint8_t> t) { t[22] = 1; }, "reserved");
  check_trailer_edit(
      good, 12, [](std::span<uint8_t> t) { put_u16(t, kAtDataFragments, 0); }, "geometry k=0");
  check_trailer_edit(good, 12, set_u32(kAtFragmentBytes, UINT32_MAX), "geometry");
  check_trailer_edit(
      good, 12, [](std::span<uint8_t> t) { put_u64(t, kAtContainer, UINT64_MAX); },
      "trailer names container");
  // The trailer CRC itself.
  std::vector<uint8_t> bad_crc = good;
  put_u32(bad_crc, bad_crc.size() - 4, get_u32(bad_crc, bad_crc.size() - 4) + 1);
  check_corrupt(bad_crc, "trailer CRC32C mismatch");
}

// A hand-made valid footer for the entry forgeries: chunks at [0, 4096), [4096, 5096) and
// [65536, 73728) of kSmall (the third starts fragment 1).
Footer hand_footer() {
  Footer footer;
  footer.container = kId;
  footer.geometry = kSmall;
  footer.chunks = {
      {.fp = fp_of(1), .offset = 0, .stored_bytes = 4096, .logical_bytes = 4096},
      {.fp = fp_of(2),
       .offset = 4096,
       .stored_bytes = 1000,
       .logical_bytes = 4096,
       .encoding = ChunkEncoding::kZstd},
      {.fp = fp_of(3), .offset = 65536, .stored_bytes = 8192, .logical_bytes = 8192},
  };
  footer.chunks_end = 73728;
  return footer;
}

template <class Edit>
void check_forgery(Edit edit, const std::string& text) {
  Footer forged = hand_footer();
  edit(forged);
  check_corrupt(payload_with_footer(forged), text);
}

TEST_CASE("hostdriver/container: forged entries behind valid CRCs are rejected") {
  REQUIRE(parse_footer(kSmall, kId, payload_with_footer(hand_footer())).value() == hand_footer());
  check_forgery([](Footer& f) { std::swap(f.chunks[0], f.chunks[1]); }, "chunk 1 offset 0");
  check_forgery([](Footer& f) { f.chunks[1].offset = 4095; }, "(unsorted or overlapping)");
  check_forgery([](Footer& f) { f.chunks[1].offset = 0; }, "chunk 1 offset 0 is before");
  check_forgery(
      [](Footer& f) {
        f.chunks[1].offset = 65536 - 500;  // [65036, 66036) straddles fragments 0 and 1
        f.chunks[2].offset = 66036;
        f.chunks_end = 66036 + 8192;
      },
      "chunk 1: chunk range [65036, +1000) straddles data fragments 0 and 1");
  check_forgery(
      [](Footer& f) {
        f.chunks[2].stored_bytes = 8193;
        f.chunks[2].logical_bytes = 8193;
      },
      "chunk 2 ends at 73729, past chunks end 73728");
  check_forgery([](Footer& f) { f.chunks_end = 73729; }, "not at chunks end 73729");
  check_forgery([](Footer& f) { f.chunks[0].stored_bytes = 4000; }, "raw chunk stores 4000");
  check_forgery([](Footer& f) { f.chunks[1].stored_bytes = 4097; }, "chunk 1: stored bytes 4097");
  check_forgery([](Footer& f) { f.chunks[1].stored_bytes = 0; }, "chunk 1: stored bytes 0");
  check_forgery([](Footer& f) { f.chunks[1].logical_bytes = 0; }, "chunk 1: logical bytes 0");
  check_forgery([](Footer& f) { f.chunks[1].logical_bytes = 65537; }, "logical bytes 65537");
  check_forgery([](Footer& f) { f.chunks[2].offset = 200000; }, "chunk 2 ends at");
  check_forgery([](Footer& f) { f.chunks[0].encoding = static_cast<ChunkEncoding>(0); },
                "chunk 0 has unknown encoding 0");
  check_forgery([](Footer& f) { f.chunks[2].encoding = static_cast<ChunkEncoding>(255); },
                "chunk 2 has unknown encoding 255");

  // Reserved entry bytes: patched in place, CRCs re-sealed.
  for (size_t reserved = 0; reserved < 3; ++reserved) {
    std::vector<uint8_t> payload = payload_with_footer(hand_footer());
    const std::span<uint8_t> footer = footer_region(payload, 3);
    footer[kEntryBytes + kAtEntryReserved + reserved] = 0x80;
    reseal_footer(footer);
    check_corrupt(payload, "chunk 1 reserved bytes are not zero");
  }
}

// Every accepted footer satisfies the invariants, whatever it was mutated from.
void check_invariants(const Footer& footer) {
  uint64_t prev_end = 0;
  for (const ChunkEntry& entry : footer.chunks) {
    CHECK(entry.offset >= prev_end);
    CHECK(validate_chunk_shape(entry.encoding, entry.stored_bytes, entry.logical_bytes).ok());
    CHECK(locate_checked(footer.geometry, entry.offset, entry.stored_bytes).ok());
    prev_end = uint64_t{entry.offset} + entry.stored_bytes;
  }
  CHECK(prev_end == footer.chunks_end);
  CHECK(footer.chunks_end + footer_bytes_for(footer.chunks.size()) <=
        footer.geometry.payload_bytes());
}

TEST_CASE("hostdriver/container: random mutations are rejected or yield a valid footer") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  Built built = build_small(rng, 12);
  const std::span<uint8_t> good_footer = footer_region(built.sealed.payload, 12);
  const std::vector<uint8_t> good(good_footer.begin(), good_footer.end());
  size_t accepted = 0;
  constexpr int kRounds = 20000;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<uint8_t> footer = good;
    const uint64_t edits = rng.between(1, 8);
    for (uint64_t i = 0; i < edits; ++i) {
      footer[rng.below(footer.size())] = static_cast<uint8_t>(rng.next_u64());
    }
    const bool resealed = rng.chance(0.75);
    if (resealed) reseal_footer(footer);
    const Result<Footer> parsed = parse_footer(kSmall, kId, footer);
    if (!parsed.ok()) {
      if (parsed.code() == Code::kInvalidArgument) {
        // Only for a (re-sealed) trailer that claims more entries than the 640 bytes given.
        const Result<Trailer> trailer = parse_trailer(kSmall, kId, footer);
        REQUIRE(trailer.ok());
        CHECK(trailer->footer_bytes > footer.size());
      } else {
        CHECK(parsed.code() == Code::kCorruption);
      }
      continue;
    }
    // Without re-sealing, no change may pass the CRCs.
    CHECK((resealed || footer == good));
    check_invariants(parsed.value());
    ++accepted;
  }
  MESSAGE("accepted " << accepted << " of " << kRounds << " mutated footers");
}

}  // namespace
}  // namespace splitarray::hostdriver::container
