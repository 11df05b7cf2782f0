#include "protocol/frame_io.h"

#include <array>

namespace splitarray::protocol {

Task<Result<Frame>> read_frame(Stream& stream, const FrameReadOptions& options) {
  HeaderBytes header_bytes{};
  CO_RETURN_IF_ERROR(co_await stream.read_exact(header_bytes));
  CO_ASSIGN_OR_RETURN(const FrameHeader header, decode_frame_header(header_bytes, options.limits));
  // Lengths are within limits now; only here do we allocate.
  Frame frame;
  frame.header = header;
  frame.body = kj::heapArray<capnp::word>(header.body_bytes / sizeof(capnp::word));
  frame.payload.resize(header.payload_bytes);

  TimerId stall_timer = 0;
  bool stalled = false;
  if (options.clock != nullptr && (header.body_bytes > 0 || header.payload_bytes > 0)) {
    stall_timer = options.clock->call_at(options.clock->now() + options.partial_frame_timeout,
                                         [&stream, &stalled] {
                                           stalled = true;
                                           // Reads stop; writes still work, so the caller can
                                           // send an error reply before closing.
                                           stream.shutdown_read();
                                         });
  }
  auto body_span = std::span<uint8_t>(reinterpret_cast<uint8_t*>(frame.body.begin()),
                                      frame.body.size() * sizeof(capnp::word));
  Result<void> body = co_await stream.read_exact(body_span);
  Result<void> payload = body.ok() ? co_await stream.read_exact(frame.payload) : ok_result();
  if (stall_timer != 0) options.clock->cancel(stall_timer);
  if (stalled) co_return make_error(Code::kTimeout, "peer stalled in the middle of a frame");
  CO_RETURN_IF_ERROR(std::move(body));
  CO_RETURN_IF_ERROR(std::move(payload));

  if (frame_data_crc(frame.body_bytes(), frame.payload) != header.data_crc) {
    co_return make_error(Code::kProtocol, "frame data CRC mismatch");
  }
  // A hostile segment table is a framing-level violation: reject it here, before dispatch.
  CO_RETURN_IF_ERROR(validate_segment_table(frame.body_words(), options.limits));
  co_return frame;
}

Task<Result<void>> write_frame(Stream& stream, const Frame& frame) {
  ASSERT(frame.header.body_bytes == frame.body.size() * sizeof(capnp::word));
  ASSERT(frame.header.payload_bytes == frame.payload.size());
  const HeaderBytes header = encode_frame_header(frame.header);
  const std::array<std::span<const uint8_t>, 3> buffers = {std::span<const uint8_t>(header),
                                                           frame.body_bytes(),
                                                           std::span<const uint8_t>(frame.payload)};
  co_return co_await stream.write_all(buffers);
}

}  // namespace splitarray::protocol
