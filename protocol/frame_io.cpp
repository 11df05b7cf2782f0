#include "protocol/frame_io.h"

#include <array>

namespace splitarray::protocol {

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
