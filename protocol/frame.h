// protocol/frame.h
// The frame: a fixed 40-byte header, then a Cap'n Proto body (flat, with its segment table), then
// an opaque bulk payload (fragments, NVRAM records) that capnp never copies.
//
//   off size field
//     0   4  magic "SAF1" (0x31464153 little-endian)
//     4   2  version (1)
//     6   2  message type (message_type.h); unknown values are rejected
//     8   2  flags: bit 0 = response; other bits must be 0
//    10   2  status: wire error code (wire_code.h), 0 = ok; nonzero only in responses
//    12   4  timeout_ms: the requester's remaining budget (0 = none); the server may give up after
//    16   8  request id (echoed in the response)
//    24   4  body length in bytes (multiple of 8, <= limits.body_max_bytes)
//    28   4  payload length in bytes (<= limits.payload_max_bytes)
//    32   4  data CRC32C over body then payload
//    36   4  header CRC32C over bytes 0..35
//
// Invariant: decode_frame_header() checks magic, version, type, flags, both lengths and the
// header CRC before the caller allocates anything, so a hostile or corrupt header can never make
// the reader allocate more than the limits.
#pragma once

#include <capnp/common.h>

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include <kj/array.h>

#include "common/result.h"
#include "common/units.h"
#include "protocol/message_type.h"

namespace splitarray::protocol {

inline constexpr size_t kFrameHeaderSize = 40;
inline constexpr uint32_t kFrameMagic = 0x31464153;  // "SAF1"
inline constexpr uint16_t kFrameVersion = 1;
inline constexpr uint16_t kFlagResponse = 1;

// Defaults. A 1 MiB fragment plus its header, or a batch of NVRAM records, fits the payload; an
// index batch of 8192 fingerprints fits the body.
inline constexpr uint32_t kBodyMaxBytes = 1 * 1024 * 1024;
inline constexpr uint32_t kPayloadMaxBytes = 2 * 1024 * 1024;
inline constexpr uint32_t kSegmentsMax = 64;
inline constexpr int kNestingLimit = 16;
static_assert(kBodyMaxBytes % 8 == 0);

struct FrameLimits {
  uint32_t body_max_bytes = kBodyMaxBytes;
  uint32_t payload_max_bytes = kPayloadMaxBytes;
  uint32_t segments_max = kSegmentsMax;
};

struct FrameHeader {
  MessageType type = MessageType::kEcho;
  uint16_t flags = 0;
  uint16_t status = 0;
  uint32_t timeout_ms = 0;
  uint64_t request_id = 0;
  uint32_t body_bytes = 0;
  uint32_t payload_bytes = 0;
  uint32_t data_crc = 0;

  bool is_response() const { return (flags & kFlagResponse) != 0; }
};

using HeaderBytes = std::array<uint8_t, kFrameHeaderSize>;

// Writes the header (computing its header CRC). data_crc and lengths must already be set.
HeaderBytes encode_frame_header(const FrameHeader& header);
// Checks everything that can be checked from the header alone; kProtocol otherwise.
Result<FrameHeader> decode_frame_header(std::span<const uint8_t, kFrameHeaderSize> bytes,
                                        const FrameLimits& limits);

uint32_t frame_data_crc(std::span<const uint8_t> body, std::span<const uint8_t> payload);

// Validates the capnp segment table at the start of `body` (count <= segments_max, and the
// declared segment sizes plus the table fill the body exactly) before capnp reads it.
Result<void> validate_segment_table(std::span<const capnp::word> body, const FrameLimits& limits);

// A whole frame in memory.
struct Frame {
  FrameHeader header;
  kj::Array<capnp::word> body;
  std::vector<uint8_t> payload;

  std::span<const capnp::word> body_words() const { return {body.begin(), body.size()}; }
  std::span<const uint8_t> body_bytes() const {
    return {reinterpret_cast<const uint8_t*>(body.begin()), body.size() * sizeof(capnp::word)};
  }
  // Bytes this frame takes on the wire: header, body and payload.
  size_t wire_bytes() const {
    return kFrameHeaderSize + body.size() * sizeof(capnp::word) + payload.size();
  }
};

// Sets lengths and data CRC from body and payload.
void seal_frame(Frame& frame);

}  // namespace splitarray::protocol
