// tests/fuzz/frame_decoder_fuzz.cpp
// libFuzzer target for the protocol frame decoder (protocol/frame.h, protocol/codec.h).
//
// Input: one mode byte, then a byte stream of frames, read the way protocol/frame_io.cpp reads
// them: 40-byte header, body, payload, data CRC. Mode bit 0 set: before each header is decoded,
// its data CRC (when the lengths fit in the rest of the stream) and its header CRC are patched to
// the right values, so mutations reach the body parsers instead of dying at a CRC check.
//
// Each frame that passes is decoded as EVERY struct in shelf.capnp with converters that read every
// field (tests/fuzz/shelf_plain.h), inside decode_body's try block. Oracles (__builtin_trap):
//   - every rejection is kProtocol, never another code;
//   - a header that decodes re-encodes to the same 40 bytes and decodes to the same fields;
//   - stricter limits never accept what the default limits reject;
//   - a body that decodes as struct S re-encodes (fill, encode_body) to a body that decodes to
//     the same plain value;
//   - error_from_frame maps the header status like from_wire_code.
// ASan/UBSan reports and ASSERT failures inside protocol/ or common/ are findings as well.
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "common/crc32c.h"
#include "common/endian.h"
#include "protocol/codec.h"
#include "protocol/frame.h"
#include "protocol/frame_writer.h"
#include "protocol/wire_code.h"
#include "shelf_plain.h"

namespace splitarray::fuzz {
namespace {

using protocol::FrameHeader;
using protocol::FrameLimits;
using protocol::kFrameHeaderSize;

constexpr uint8_t kModePatchCrcs = 1;
constexpr FrameLimits kDefaultLimits{};
// Small enough that seeds cross every limit: bodies of a few structs, tiny payloads, two segments.
constexpr FrameLimits kSmallLimits{
    .body_max_bytes = 64, .payload_max_bytes = 16, .segments_max = 2};
static_assert(kSmallLimits.body_max_bytes <= kDefaultLimits.body_max_bytes);
static_assert(kSmallLimits.payload_max_bytes <= kDefaultLimits.payload_max_bytes);
static_assert(kSmallLimits.segments_max <= kDefaultLimits.segments_max);

// A failed oracle. __builtin_trap so libFuzzer records a crash with the input.
#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

template <class T>
void check_rejection(const Result<T>& result) {
  if (!result.ok()) FUZZ_CHECK(result.code() == Code::kProtocol);
}

bool same_header(const FrameHeader& a, const FrameHeader& b) {
  return a.type == b.type && a.flags == b.flags && a.status == b.status &&
         a.timeout_ms == b.timeout_ms && a.request_id == b.request_id &&
         a.body_bytes == b.body_bytes && a.payload_bytes == b.payload_bytes &&
         a.data_crc == b.data_crc;
}

// Mode kModePatchCrcs: make the data CRC and header CRC at the start of `rest` correct.
void patch_crcs(std::span<uint8_t> rest) {
  const uint64_t body_bytes = get_u32(rest, 24);
  const uint64_t payload_bytes = get_u32(rest, 28);
  if (body_bytes + payload_bytes <= rest.size() - kFrameHeaderSize) {
    const auto body = rest.subspan(kFrameHeaderSize, body_bytes);
    const auto payload = rest.subspan(kFrameHeaderSize + body_bytes, payload_bytes);
    put_u32(rest, 32, protocol::frame_data_crc(body, payload));
  }
  put_u32(rest, 36, crc32c(rest.first(36)));
}

void check_header_round_trip(const protocol::HeaderBytes& bytes, const FrameHeader& header) {
  const protocol::HeaderBytes again = protocol::encode_frame_header(header);
  // All 40 bytes are fields or CRCs: an accepted header has exactly one encoding.
  FUZZ_CHECK(std::memcmp(again.data(), bytes.data(), kFrameHeaderSize) == 0);
  Result<FrameHeader> redecoded = protocol::decode_frame_header(again, kDefaultLimits);
  FUZZ_CHECK(redecoded.ok());
  FUZZ_CHECK(same_header(*redecoded, header));
}

// Decodes `body` as Schema; if that works, checks decode(encode(value)) == value.
template <class Schema>
void decode_as(std::span<const capnp::word> body, const FrameLimits& limits) {
  auto convert = [](typename Schema::Reader reader) { return from(reader); };
  auto decoded = protocol::decode_body<Schema>(body, limits, convert);
  check_rejection(decoded);
  if (!decoded.ok()) return;
  const kj::Array<capnp::word> again = protocol::encode_body<Schema>(
      [&decoded](typename Schema::Builder builder) { fill(builder, decoded.value()); });
  auto redecoded =
      protocol::decode_body<Schema>({again.begin(), again.size()}, kDefaultLimits, convert);
  FUZZ_CHECK(redecoded.ok());
  FUZZ_CHECK(redecoded.value() == decoded.value());
}

template <class... Schemas>
void decode_as_each(std::span<const capnp::word> body, const FrameLimits& limits) {
  (decode_as<Schemas>(body, limits), ...);
}

void decode_as_every_struct(std::span<const capnp::word> body) {
  decode_as_each<
      schema::ErrorReply, schema::EchoRequest, schema::EchoReply, schema::NvramAppendRequest,
      schema::NvramAppendReply, schema::NvramReadRequest, schema::NvramReadReply,
      schema::NvramTrimRequest, schema::NvramUsage, schema::FragmentId,
      schema::FragmentWriteRequest, schema::FragmentReadRequest, schema::FragmentReadReply,
      schema::FragmentDeleteRequest, schema::FragmentListRequest, schema::ListedFragment,
      schema::FragmentListReply, schema::DiskInfo, schema::DiskAdminRequest, schema::ChunkLocation,
      schema::IndexLookupRequest, schema::IndexLookupReply, schema::IndexInsertRequest,
      schema::IndexInsertReply, schema::IndexRemoveRequest, schema::IndexRebuildRequest,
      schema::IndexRebuildReply, schema::IndexListRequest, schema::IndexListReply,
      schema::RegisterGetRequest, schema::RegisterValue, schema::RegisterCasRequest,
      schema::RegisterCasReply, schema::HostStats, schema::IndexStatus, schema::StatusReply>(
      body, kDefaultLimits);
}

// A frame whose header and data CRC passed, as read_frame would return it.
void decode_frame_contents(const protocol::Frame& frame) {
  const auto body = frame.body_words();
  const Result<void> table = protocol::validate_segment_table(body, kDefaultLimits);
  const Result<void> small_table = protocol::validate_segment_table(body, kSmallLimits);
  check_rejection(table);
  check_rejection(small_table);
  FUZZ_CHECK(table.ok() || !small_table.ok());

  decode_as_every_struct(body);
  // The segment-count limit inside decode_body, and the biggest struct under it.
  decode_as_each<schema::StatusReply, schema::IndexInsertRequest>(body, kSmallLimits);

  if (frame.header.status != protocol::kWireOk) {
    const Error error = protocol::error_from_frame(frame, kDefaultLimits);
    const std::optional<Code> code = protocol::from_wire_code(frame.header.status);
    FUZZ_CHECK(error.code == (code.has_value() ? *code : Code::kProtocol));
  }
}

void fuzz_stream(std::span<uint8_t> stream, bool patch) {
  size_t pos = 0;
  while (stream.size() - pos >= kFrameHeaderSize) {
    const std::span<uint8_t> rest = stream.subspan(pos);
    if (patch) patch_crcs(rest);
    protocol::HeaderBytes header_bytes;
    std::memcpy(header_bytes.data(), rest.data(), kFrameHeaderSize);

    Result<FrameHeader> header = protocol::decode_frame_header(header_bytes, kDefaultLimits);
    const Result<FrameHeader> small = protocol::decode_frame_header(header_bytes, kSmallLimits);
    check_rejection(header);
    check_rejection(small);
    FUZZ_CHECK(header.ok() || !small.ok());
    if (!header.ok()) return;  // framing is lost: the reader closes the stream
    check_header_round_trip(header_bytes, *header);

    const uint64_t frame_bytes =
        uint64_t{kFrameHeaderSize} + header->body_bytes + header->payload_bytes;
    if (frame_bytes > rest.size()) return;  // truncated: the reader would still be waiting
    protocol::Frame frame;
    frame.header = *header;
    frame.body = kj::heapArray<capnp::word>(header->body_bytes / sizeof(capnp::word));
    // Copy into word-aligned storage, as read_frame does; capnp requires aligned segments.
    if (header->body_bytes > 0) {
      std::memcpy(frame.body.begin(), rest.data() + kFrameHeaderSize, header->body_bytes);
    }
    const uint8_t* payload = rest.data() + kFrameHeaderSize + header->body_bytes;
    frame.payload.assign(payload, payload + header->payload_bytes);
    pos += frame_bytes;

    if (protocol::frame_data_crc(frame.body_bytes(), frame.payload) != header->data_crc) return;
    decode_frame_contents(frame);
  }
}

}  // namespace
}  // namespace splitarray::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool patch = (data[0] & splitarray::fuzz::kModePatchCrcs) != 0;
  // A private copy: patching writes, and libFuzzer's buffer is read-only.
  std::vector<uint8_t> stream(data + 1, data + size);
  splitarray::fuzz::fuzz_stream(stream, patch);
  return 0;
}
