#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "common/crc32c.h"
#include "common/endian.h"
#include "protocol/frame.h"
#include "protocol/wire_code.h"

namespace splitarray::protocol {
namespace {

FrameHeader sample_header() {
  FrameHeader h;
  h.type = MessageType::kFragmentWrite;
  h.flags = 0;
  h.timeout_ms = 1500;
  h.request_id = 0x0123456789ABCDEFull;
  h.body_bytes = 64;
  h.payload_bytes = 1 << 20;
  h.data_crc = 0xDEADBEEF;
  return h;
}

// Re-seals the header CRC after a test tampers with a field, so the field check itself is hit.
void reseal(HeaderBytes& bytes) {
  put_u32(bytes, 36, crc32c(std::span<const uint8_t>(bytes).first(36)));
}

TEST_CASE("protocol/frame: header round trip") {
  const FrameHeader h = sample_header();
  HeaderBytes bytes = encode_frame_header(h);
  auto decoded = decode_frame_header(bytes, FrameLimits{});
  REQUIRE(decoded.ok());
  CHECK(decoded->type == h.type);
  CHECK(decoded->timeout_ms == h.timeout_ms);
  CHECK(decoded->request_id == h.request_id);
  CHECK(decoded->body_bytes == h.body_bytes);
  CHECK(decoded->payload_bytes == h.payload_bytes);
  CHECK(decoded->data_crc == h.data_crc);
  CHECK_FALSE(decoded->is_response());
}

TEST_CASE("protocol/frame: every malformed header field is a protocol error") {
  struct Case {
    const char* name;
    size_t offset;
    int width;
    uint64_t value;
  };
  const Case cases[] = {
      {"version", 4, 2, 2},
      {"unknown type", 6, 2, 999},
      {"type zero", 6, 2, 0},
      {"unknown flag", 8, 2, 0x8000},
      {"status in a request", 10, 2, 5},
      {"body not a multiple of 8", 24, 4, 65},
      {"body over limit", 24, 4, kBodyMaxBytes + 8},
      {"payload over limit", 28, 4, kPayloadMaxBytes + 1},
      {"payload huge", 28, 4, 0xFFFFFFFF},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    HeaderBytes bytes = encode_frame_header(sample_header());
    if (c.width == 2) put_u16(bytes, c.offset, static_cast<uint16_t>(c.value));
    if (c.width == 4) put_u32(bytes, c.offset, static_cast<uint32_t>(c.value));
    reseal(bytes);
    auto decoded = decode_frame_header(bytes, FrameLimits{});
    CHECK(decoded.code() == Code::kProtocol);
  }
}

TEST_CASE("protocol/frame: bad magic and a flipped header bit are rejected") {
  HeaderBytes bytes = encode_frame_header(sample_header());
  HeaderBytes bad_magic = bytes;
  bad_magic[0] ^= 1;
  CHECK(decode_frame_header(bad_magic, FrameLimits{}).error().message == "bad frame magic");
  for (size_t bit = 32; bit < 36 * 8; bit += 7) {  // every field after the magic
    HeaderBytes flipped = bytes;
    flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    CHECK(decode_frame_header(flipped, FrameLimits{}).code() == Code::kProtocol);
  }
}

TEST_CASE("protocol/frame: limits are the caller's, not the peer's") {
  FrameLimits small;
  small.body_max_bytes = 16;
  small.payload_max_bytes = 100;
  FrameHeader h = sample_header();
  h.body_bytes = 16;
  h.payload_bytes = 100;
  CHECK(decode_frame_header(encode_frame_header(h), small).ok());
  h.payload_bytes = 101;
  CHECK(decode_frame_header(encode_frame_header(h), small).code() == Code::kProtocol);
}

std::vector<capnp::word> words_from(const std::vector<uint32_t>& u32s) {
  std::vector<capnp::word> words((u32s.size() + 1) / 2);
  std::span<uint8_t> bytes(reinterpret_cast<uint8_t*>(words.data()), words.size() * 8);
  std::fill(bytes.begin(), bytes.end(), 0);
  for (size_t i = 0; i < u32s.size(); ++i) put_u32(bytes, 4 * i, u32s[i]);
  return words;
}

TEST_CASE("protocol/frame: segment table validation") {
  const FrameLimits limits;
  // One segment of 1 word: table word + 1 word.
  CHECK(validate_segment_table(words_from({0, 1, 7, 7}), limits).ok());
  // Segment count 0xFFFFFFFF + 1 wraps to 0 in 32 bits: must be rejected, not accepted.
  CHECK(validate_segment_table(words_from({0xFFFFFFFF, 1}), limits).code() == Code::kProtocol);
  // More segments than the limit.
  CHECK(validate_segment_table(words_from({kSegmentsMax, 1}), limits).code() == Code::kProtocol);
  // Declared size larger than the body.
  CHECK(validate_segment_table(words_from({0, 1000}), limits).code() == Code::kProtocol);
  // Declared sizes smaller than the body (trailing garbage).
  CHECK(validate_segment_table(words_from({0, 1, 7, 7, 7, 7}), limits).code() == Code::kProtocol);
  // Huge sizes that would overflow 32-bit sums.
  CHECK(validate_segment_table(words_from({1, 0xFFFFFFFF, 0xFFFFFFFF, 0}), limits).code() ==
        Code::kProtocol);
  // Table itself truncated: 5 segments need 3 table words.
  CHECK(validate_segment_table(words_from({4, 1}), limits).code() == Code::kProtocol);
  // Empty segment in a multi-segment message.
  CHECK(validate_segment_table(words_from({1, 0, 1, 0, 9, 9}), limits).code() == Code::kProtocol);
}

TEST_CASE("protocol/frame: seal_frame sets lengths and a CRC that covers body and payload") {
  Frame frame;
  frame.body = kj::heapArray<capnp::word>(2);
  std::memset(static_cast<void*>(frame.body.begin()), 0xAB, 16);
  frame.payload = {1, 2, 3};
  seal_frame(frame);
  CHECK(frame.header.body_bytes == 16);
  CHECK(frame.header.payload_bytes == 3);
  const uint32_t crc = frame.header.data_crc;
  frame.payload[1] ^= 1;
  CHECK(frame_data_crc(frame.body_bytes(), frame.payload) != crc);
}

TEST_CASE("protocol/wire_code: every code round-trips and unknown values are rejected") {
  for (int c = 1; c <= kCodeCount; ++c) {
    const Code code = static_cast<Code>(c);
    const uint16_t wire = to_wire_code(code);
    CHECK(wire != kWireOk);
    CHECK(from_wire_code(wire) == code);
  }
  CHECK_FALSE(from_wire_code(0).has_value());
  CHECK_FALSE(from_wire_code(4000).has_value());
}

}  // namespace
}  // namespace splitarray::protocol
