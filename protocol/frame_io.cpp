#include "protocol/frame_io.h"

#include <vector>

namespace splitarray::protocol {

Task<Result<void>> write_frames(Stream& stream, std::span<const Frame> frames) {
  ASSERT(!frames.empty());
  std::vector<HeaderBytes> headers;
  std::vector<std::span<const uint8_t>> buffers;
  headers.reserve(frames.size());  // never reallocates: buffers point into it
  buffers.reserve(3 * frames.size());
  for (const Frame& frame : frames) {
    ASSERT(frame.header.body_bytes == frame.body.size() * sizeof(capnp::word));
    ASSERT(frame.header.payload_bytes == frame.payload.size());
    headers.push_back(encode_frame_header(frame.header));
    buffers.emplace_back(headers.back());
    buffers.push_back(frame.body_bytes());
    buffers.emplace_back(frame.payload);
  }
  co_return co_await stream.write_all(buffers);
}

}  // namespace splitarray::protocol
