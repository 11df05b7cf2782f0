// tests/fuzz/container_footer_fuzz.h
// The input format of container_footer_fuzz, shared with make_container_footer_seeds:
//   byte 0: mode. Bits 0-1 pick the geometry the reader expects (kFuzzGeometries); bit 2 patches
//           both footer CRCs before parsing (so mutations reach the field and entry checks); bit
//           3 makes the reader expect another container id.
//   rest:   the tail of a container payload, handed to parse_trailer and parse_footer.
#pragma once

#include <array>
#include <cstdint>

#include "hostdriver/container/container.h"

namespace splitarray::fuzz {

using hostdriver::container::ContainerGeometry;

inline constexpr uint8_t kModeGeometryMask = 0x03;
inline constexpr uint8_t kModePatchCrcs = 0x04;
inline constexpr uint8_t kModeOtherId = 0x08;

// Small payloads so that offsets in short inputs hit every check; plus the default geometry.
inline constexpr std::array<ContainerGeometry, 4> kFuzzGeometries{{
    {.data_fragments = 2, .fragment_payload_bytes = 64 * 1024},
    {.data_fragments = 4, .fragment_payload_bytes = 64 * 1024},
    {.data_fragments = 1, .fragment_payload_bytes = 64 * 1024 + 112},
    {},  // 8 x 1 MiB
}};
static_assert(kFuzzGeometries.size() == kModeGeometryMask + 1);

inline constexpr ContainerId kFuzzContainerId(0x5EED0C0117A1);

}  // namespace splitarray::fuzz
