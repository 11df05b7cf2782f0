// protocol/frame_reader.h
// FrameReader reads whole frames from one Stream through a receive buffer, so a small frame
// (or several pipelined ones) costs one receive instead of one per header, body and payload.
// Large bodies and payloads bypass the buffer and are read straight into the frame.
//
// Checks, in order, before anything is trusted: header (magic, header CRC, version, type, flags,
// lengths within `limits`: only then is the frame allocated), data CRC, capnp segment table.
// Invariant: the buffered bytes always start at a frame boundary or inside the frame being read.
#pragma once

#include <vector>

#include "common/buffered_input.h"
#include "common/env.h"
#include "protocol/frame.h"

namespace splitarray::protocol {

// Receive buffer per connection: several small frames per receive, bounded memory.
inline constexpr size_t kReadBufferBytes = 64 * 1024;
static_assert(kReadBufferBytes >= 2 * kFrameHeaderSize);

struct FrameReadOptions {
  FrameLimits limits;
  // Once a header has arrived, the rest of the frame must arrive within this time, or reading
  // stops (shutdown_read) and the read fails with kTimeout: a peer stalling mid-frame would
  // otherwise pin the frame's buffers forever. Needs `clock`; without one there is no timeout.
  Duration partial_frame_timeout = std::chrono::seconds(10);
  Clock* clock = nullptr;
};

class FrameReader final {
 public:
  FrameReader(Stream& stream, FrameReadOptions options);
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  // The next frame. Errors: kUnavailable/kCancelled (stream closed), kProtocol (malformed; the
  // framing is lost, so the caller must close the stream), kTimeout (stalled mid-frame).
  Task<Result<Frame>> next();

 private:
  Stream& stream_;
  const FrameReadOptions options_;
  BufferedInput input_;
};

}  // namespace splitarray::protocol
