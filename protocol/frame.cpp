#include "protocol/frame.h"

#include <string>

#include "common/crc32c.h"
#include "common/endian.h"

namespace splitarray::protocol {
namespace {

constexpr size_t kHeaderCrcOffset = 36;

Error protocol_error(std::string message) {
  return make_error(Code::kProtocol, std::move(message));
}

}  // namespace

HeaderBytes encode_frame_header(const FrameHeader& header) {
  ASSERT(header.body_bytes % sizeof(capnp::word) == 0);
  HeaderBytes out{};
  std::span<uint8_t> bytes(out);
  put_u32(bytes, 0, kFrameMagic);
  put_u16(bytes, 4, kFrameVersion);
  put_u16(bytes, 6, static_cast<uint16_t>(header.type));
  put_u16(bytes, 8, header.flags);
  put_u16(bytes, 10, header.status);
  put_u32(bytes, 12, header.timeout_ms);
  put_u64(bytes, 16, header.request_id);
  put_u32(bytes, 24, header.body_bytes);
  put_u32(bytes, 28, header.payload_bytes);
  put_u32(bytes, 32, header.data_crc);
  put_u32(bytes, kHeaderCrcOffset, crc32c(bytes.first(kHeaderCrcOffset)));
  return out;
}

Result<FrameHeader> decode_frame_header(std::span<const uint8_t, kFrameHeaderSize> bytes,
                                        const FrameLimits& limits) {
  const std::span<const uint8_t> b(bytes.data(), bytes.size());
  if (get_u32(b, 0) != kFrameMagic) return protocol_error("bad frame magic");
  // The header CRC comes next: every other field is meaningless if it fails.
  if (get_u32(b, kHeaderCrcOffset) != crc32c(b.first(kHeaderCrcOffset))) {
    return protocol_error("frame header CRC mismatch");
  }
  const uint16_t version = get_u16(b, 4);
  if (version != kFrameVersion) {
    return protocol_error("unsupported frame version " + std::to_string(version));
  }
  const uint16_t type = get_u16(b, 6);
  if (!is_known_message_type(type)) {
    return protocol_error("unknown message type " + std::to_string(type));
  }
  FrameHeader header;
  header.type = static_cast<MessageType>(type);
  header.flags = get_u16(b, 8);
  if ((header.flags & ~kFlagResponse) != 0) return protocol_error("unknown frame flags");
  header.status = get_u16(b, 10);
  if (header.status != 0 && !header.is_response()) return protocol_error("status in a request");
  header.timeout_ms = get_u32(b, 12);
  header.request_id = get_u64(b, 16);
  header.body_bytes = get_u32(b, 24);
  header.payload_bytes = get_u32(b, 28);
  header.data_crc = get_u32(b, 32);
  if (header.body_bytes % sizeof(capnp::word) != 0) {
    return protocol_error("body length not a multiple of 8");
  }
  if (header.body_bytes > limits.body_max_bytes) {
    return protocol_error("body of " + std::to_string(header.body_bytes) + " bytes over limit " +
                          std::to_string(limits.body_max_bytes));
  }
  if (header.payload_bytes > limits.payload_max_bytes) {
    return protocol_error("payload of " + std::to_string(header.payload_bytes) +
                          " bytes over limit " + std::to_string(limits.payload_max_bytes));
  }
  return header;
}

uint32_t frame_data_crc(std::span<const uint8_t> body, std::span<const uint8_t> payload) {
  return crc32c(payload, crc32c(body));
}

Result<void> validate_segment_table(std::span<const capnp::word> body, const FrameLimits& limits) {
  if (body.empty()) return ok_result();  // an empty body is "no message"; decoders reject it
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(body.data()),
                                       body.size() * sizeof(capnp::word));
  // First u32 is (segment count - 1). Compute in 64 bits: 0xFFFFFFFF + 1 must not wrap to 0.
  const uint64_t segments = uint64_t{get_u32(bytes, 0)} + 1;
  if (segments > limits.segments_max) {
    return protocol_error("capnp segment count " + std::to_string(segments) + " over limit");
  }
  // Table: count word + one u32 per segment, padded to a whole word.
  const uint64_t table_words = (segments + 2) / 2;
  if (table_words > body.size()) return protocol_error("capnp segment table truncated");
  uint64_t total_words = table_words;
  for (uint64_t i = 0; i < segments; ++i) {
    const uint32_t words = get_u32(bytes, 4 + 4 * i);
    if (words == 0 && segments > 1) return protocol_error("empty capnp segment");
    total_words += words;
    if (total_words > body.size()) return protocol_error("capnp segments exceed body");
  }
  if (total_words != body.size()) return protocol_error("capnp segments do not fill body");
  return ok_result();
}

void seal_frame(Frame& frame) {
  const auto body = frame.body_bytes();
  ASSERT(body.size() <= UINT32_MAX);
  ASSERT(frame.payload.size() <= UINT32_MAX);
  frame.header.body_bytes = static_cast<uint32_t>(body.size());
  frame.header.payload_bytes = static_cast<uint32_t>(frame.payload.size());
  frame.header.data_crc = frame_data_crc(body, frame.payload);
}

}  // namespace splitarray::protocol
