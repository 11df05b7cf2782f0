#include "protocol/frame_reader.h"

namespace splitarray::protocol {

FrameReader::FrameReader(Stream& stream, FrameReadOptions options)
    : stream_(stream), options_(std::move(options)), input_(stream, kReadBufferBytes) {}

Task<Result<Frame>> FrameReader::next() {
  // Waiting for a header has no deadline: an idle connection is fine.
  CO_RETURN_IF_ERROR(co_await input_.fill(kFrameHeaderSize));
  const auto header_bytes = input_.peek().first<kFrameHeaderSize>();
  CO_ASSIGN_OR_RETURN(const FrameHeader header, decode_frame_header(header_bytes, options_.limits));
  input_.consume(kFrameHeaderSize);

  // Lengths are within limits now; only here do we allocate.
  Frame frame;
  frame.header = header;
  frame.body = kj::heapArray<capnp::word>(header.body_bytes / sizeof(capnp::word));
  frame.payload.resize(header.payload_bytes);

  const size_t rest_bytes = size_t{header.body_bytes} + header.payload_bytes;
  TimerId stall_timer = 0;
  bool stalled = false;
  if (options_.clock != nullptr && input_.buffered() < rest_bytes) {
    stall_timer = options_.clock->call_at(options_.clock->now() + options_.partial_frame_timeout,
                                          [this, &stalled] {
                                            stalled = true;
                                            // Reads stop; writes still work, so the caller can send
                                            // an error reply.
                                            stream_.shutdown_read();
                                          });
  }
  auto body = std::span<uint8_t>(reinterpret_cast<uint8_t*>(frame.body.begin()),
                                 frame.body.size() * sizeof(capnp::word));
  Result<void> got = co_await input_.read_exact(body);
  if (got.ok()) got = co_await input_.read_exact(frame.payload);
  if (stall_timer != 0) options_.clock->cancel(stall_timer);
  if (stalled) co_return make_error(Code::kTimeout, "peer stalled in the middle of a frame");
  CO_RETURN_IF_ERROR(std::move(got));

  if (frame_data_crc(frame.body_bytes(), frame.payload) != header.data_crc) {
    co_return make_error(Code::kProtocol, "frame data CRC mismatch");
  }
  // A hostile segment table is a framing-level violation: reject it here, before dispatch.
  CO_RETURN_IF_ERROR(validate_segment_table(frame.body_words(), options_.limits));
  co_return frame;
}

}  // namespace splitarray::protocol
