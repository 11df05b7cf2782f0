// protocol/fragment_header.h
// The fragment header: 64 bytes the HOST writes in front of each fragment's payload when it seals
// a container (DESIGN.md §4), and the shelf verifies on write and again on every read. It carries
// the fragment's identity, so a misdirected write (bytes of fragment X in the slot of Y) or a stale
// fragment (an older generation of the same container/index) is detected, not returned.
//
//   off size field
//     0   4  magic "SAFG" (0x47464153 little-endian)
//     4   2  format version (1)
//     6   1  fragment index within the stripe (0..k-1 data, k..k+m-1 parity)
//     7   1  reserved, 0
//     8   8  container id
//    16   4  generation (bumped each time the fragment is rewritten, e.g. by a rebuild)
//    20   4  payload length in bytes (<= kFragmentPayloadMaxBytes)
//    24   4  CRC32C over the 64 header bytes with this field zeroed, then the payload
//    28  36  reserved, 0 (a nonzero byte is corruption in version 1)
//
// Pure and synchronous: no I/O, unit-testable. Every multi-byte field is little-endian
// (common/endian.h), never a memcpy of a struct.
#pragma once

#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/result.h"

namespace splitarray::protocol {

inline constexpr size_t kFragmentHeaderSize = 64;
inline constexpr uint32_t kFragmentMagic = 0x47464153;  // "SAFG"
inline constexpr uint16_t kFragmentFormatVersion = 1;
// A whole fragment (header + payload) must fit one frame payload (protocol/frame.h, 2 MiB).
inline constexpr uint32_t kFragmentPayloadMaxBytes = 2 * 1024 * 1024 - kFragmentHeaderSize;

// Identity of one fragment: which container, which piece of its stripe, which generation.
struct FragmentId {
  ContainerId container;
  uint8_t index = 0;
  uint32_t generation = 0;

  std::string to_string() const;
  friend bool operator==(const FragmentId&, const FragmentId&) = default;
  friend auto operator<=>(const FragmentId&, const FragmentId&) = default;
};

struct FragmentHeader {
  FragmentId id;
  uint32_t payload_length = 0;
  uint32_t crc32c = 0;  // over header (crc field zeroed) + payload
};

// Writes the header into out (exactly kFragmentHeaderSize bytes), crc32c field as given.
void encode_fragment_header(const FragmentHeader& header, std::span<uint8_t> out);

// Parses a header without checking its CRC (that needs the payload). kCorruption on a wrong size,
// bad magic, unknown version, nonzero reserved bytes or a payload length over the maximum.
Result<FragmentHeader> decode_fragment_header(std::span<const uint8_t> bytes);

// The CRC a header should carry: CRC32C of header bytes (crc field taken as zero) + payload.
uint32_t compute_fragment_crc(std::span<const uint8_t> header_bytes,
                              std::span<const uint8_t> payload);

// Checks a whole fragment (header + payload): decodes the header, checks that the payload length
// matches the bytes given and that the CRC matches. kCorruption otherwise. Returns the header.
Result<FragmentHeader> verify_fragment(std::span<const uint8_t> fragment);

// Host side: fills in the header in front of a payload already in place, i.e.
// fragment = [kFragmentHeaderSize bytes to overwrite][payload], computing the CRC.
void seal_fragment(const FragmentId& id, std::span<uint8_t> fragment);

// Convenience for tests and small callers: header + copy of payload, sealed.
std::vector<uint8_t> build_fragment(const FragmentId& id, std::span<const uint8_t> payload);

}  // namespace splitarray::protocol
