// tests/fuzz/container_footer_fuzz.cpp
// libFuzzer target for the container footer parser (hostdriver/container/container.h): the
// footer is what the fingerprint index is rebuilt from, read from disks that may hold anything.
//
// Input: see container_footer_fuzz.h (one mode byte, then a payload tail). Oracles
// (__builtin_trap):
//   - every rejection is kCorruption, except kInvalidArgument exactly when the tail is longer
//     than the payload or shorter than the footer a valid trailer announces;
//   - parse_footer accepts only what parse_trailer accepts, with the same trailer fields;
//   - an accepted footer satisfies the format's invariants (sorted, non-overlapping chunks of a
//     valid shape, none straddling a fragment, the footer after chunks end), locate() agrees;
//   - an accepted footer re-encodes (encode_footer) to exactly the bytes it was parsed from.
// ASan/UBSan reports and ASSERT failures inside hostdriver/, protocol/ or common/ are findings.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "common/crc32c.h"
#include "common/endian.h"
#include "container_footer_fuzz.h"
#include "hostdriver/container/container.h"

namespace splitarray::fuzz {
namespace {

namespace hc = hostdriver::container;

// A failed oracle. __builtin_trap so libFuzzer records a crash with the input.
#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

// Trailer offsets (hostdriver/container/README.md).
constexpr size_t kAtFooterBytes = 28;
constexpr size_t kAtEntriesCrc = 36;
constexpr size_t kAtTrailerCrc = 60;

// Mode kModePatchCrcs: make the entries CRC (when the announced footer fits the tail) and the
// trailer CRC right.
void patch_crcs(std::span<uint8_t> tail) {
  if (tail.size() < hc::kTrailerBytes) return;
  const auto trailer = tail.last(hc::kTrailerBytes);
  const uint64_t footer_bytes = get_u32(trailer, kAtFooterBytes);
  if (footer_bytes >= hc::kTrailerBytes && footer_bytes <= tail.size()) {
    const auto entries = tail.last(footer_bytes).first(footer_bytes - hc::kTrailerBytes);
    put_u32(trailer, kAtEntriesCrc, crc32c(entries));
  }
  put_u32(trailer, kAtTrailerCrc, crc32c(trailer.first(kAtTrailerCrc)));
}

template <class T>
void check_rejection(const Result<T>& result, bool invalid_argument_allowed) {
  if (result.ok()) return;
  FUZZ_CHECK(result.code() == Code::kCorruption ||
             (invalid_argument_allowed && result.code() == Code::kInvalidArgument));
}

void check_invariants(const ContainerGeometry& geometry, const hc::Footer& footer) {
  FUZZ_CHECK(footer.geometry == geometry);
  FUZZ_CHECK(footer.chunks.size() <= hc::kContainerChunksMax);
  uint64_t prev_end = 0;
  for (const hc::ChunkEntry& entry : footer.chunks) {
    FUZZ_CHECK(entry.offset >= prev_end);
    FUZZ_CHECK(
        hc::validate_chunk_shape(entry.encoding, entry.stored_bytes, entry.logical_bytes).ok());
    const hc::ChunkPlacement placement = hc::locate(geometry, entry.offset, entry.stored_bytes);
    FUZZ_CHECK(placement.offset_in_fragment + uint64_t{placement.length} <=
               geometry.fragment_payload_bytes);
    FUZZ_CHECK(uint64_t{placement.fragment_index} * geometry.fragment_payload_bytes +
                   placement.offset_in_fragment ==
               entry.offset);
    prev_end = uint64_t{entry.offset} + entry.stored_bytes;
  }
  FUZZ_CHECK(prev_end == footer.chunks_end);
  FUZZ_CHECK(footer.chunks_end + hc::footer_bytes_for(footer.chunks.size()) <=
             geometry.payload_bytes());
}

void fuzz_tail(const ContainerGeometry& geometry, ContainerId id, std::span<const uint8_t> tail) {
  const bool too_long = tail.size() > geometry.payload_bytes();
  const Result<hc::Trailer> trailer = hc::parse_trailer(geometry, id, tail);
  check_rejection(trailer, too_long);
  const Result<hc::Footer> footer = hc::parse_footer(geometry, id, tail);
  const bool footer_too_short = trailer.ok() && trailer->footer_bytes > tail.size();
  check_rejection(footer, too_long || footer_too_short);
  if (!trailer.ok()) {
    FUZZ_CHECK(!footer.ok());
    FUZZ_CHECK(footer.code() == trailer.code());
    return;
  }
  if (!footer.ok()) return;
  FUZZ_CHECK(footer->container == id);
  FUZZ_CHECK(footer->container == trailer->container);
  FUZZ_CHECK(footer->chunks.size() == trailer->chunk_count);
  FUZZ_CHECK(footer->chunks_end == trailer->chunks_end);
  check_invariants(geometry, footer.value());

  std::vector<uint8_t> again(hc::footer_bytes_for(footer->chunks.size()));
  hc::encode_footer(footer.value(), again);
  const auto original = tail.last(again.size());
  FUZZ_CHECK(std::equal(again.begin(), again.end(), original.begin(), original.end()));
}

}  // namespace
}  // namespace splitarray::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace splitarray::fuzz;  // NOLINT: one entry point
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const ContainerGeometry& geometry = kFuzzGeometries[mode & kModeGeometryMask];
  const splitarray::ContainerId id((mode & kModeOtherId) != 0 ? kFuzzContainerId.value() + 1
                                                              : kFuzzContainerId.value());
  // A private copy: patching writes, and libFuzzer's buffer is read-only. Its exact size lets
  // ASan see any read past the tail.
  std::vector<uint8_t> tail(data + 1, data + size);
  if ((mode & kModePatchCrcs) != 0) patch_crcs(tail);
  fuzz_tail(geometry, id, tail);
  return 0;
}
