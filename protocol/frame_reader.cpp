#include "protocol/frame_reader.h"

#include <cstring>

namespace splitarray::protocol {

FrameReader::FrameReader(Stream& stream, FrameReadOptions options)
    : stream_(stream), options_(std::move(options)), buffer_(kReadBufferBytes) {}

Task<Result<void>> FrameReader::fill(size_t bytes) {
  ASSERT(bytes <= buffer_.size());
  if (buffered() >= bytes) co_return ok_result();
  if (begin_ + bytes > buffer_.size()) {  // not enough room after begin_: compact to the front
    std::memmove(buffer_.data(), buffer_.data() + begin_, buffered());
    end_ -= begin_;
    begin_ = 0;
  }
  while (buffered() < bytes) {
    CO_ASSIGN_OR_RETURN(const size_t received,
                        co_await stream_.read_some(std::span<uint8_t>(buffer_).subspan(end_)));
    end_ += received;
    ASSERT(end_ <= buffer_.size());
  }
  co_return ok_result();
}

Task<Result<void>> FrameReader::read_into(std::span<uint8_t> out) {
  const size_t from_buffer = std::min(out.size(), buffered());
  if (from_buffer > 0) std::memcpy(out.data(), buffer_.data() + begin_, from_buffer);
  begin_ += from_buffer;
  std::span<uint8_t> rest = out.subspan(from_buffer);
  if (rest.empty()) co_return ok_result();
  ASSERT(buffered() == 0);
  if (rest.size() >= buffer_.size() / 2) {
    co_return co_await stream_.read_exact(rest);  // large: skip the extra copy
  }
  begin_ = end_ = 0;
  CO_RETURN_IF_ERROR(co_await fill(rest.size()));
  std::memcpy(rest.data(), buffer_.data(), rest.size());
  begin_ += rest.size();
  co_return ok_result();
}

Task<Result<Frame>> FrameReader::next() {
  // Waiting for a header has no deadline: an idle connection is fine.
  CO_RETURN_IF_ERROR(co_await fill(kFrameHeaderSize));
  const std::span<const uint8_t, kFrameHeaderSize> header_bytes(buffer_.data() + begin_,
                                                                kFrameHeaderSize);
  CO_ASSIGN_OR_RETURN(const FrameHeader header, decode_frame_header(header_bytes, options_.limits));
  begin_ += kFrameHeaderSize;

  // Lengths are within limits now; only here do we allocate.
  Frame frame;
  frame.header = header;
  frame.body = kj::heapArray<capnp::word>(header.body_bytes / sizeof(capnp::word));
  frame.payload.resize(header.payload_bytes);

  const size_t rest_bytes = size_t{header.body_bytes} + header.payload_bytes;
  TimerId stall_timer = 0;
  bool stalled = false;
  if (options_.clock != nullptr && buffered() < rest_bytes) {
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
  Result<void> got = co_await read_into(body);
  if (got.ok()) got = co_await read_into(frame.payload);
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
