// protocol/frame_io.h
// Reading and writing whole frames on an Env Stream.
#pragma once

#include <optional>

#include "common/env.h"
#include "protocol/frame.h"

namespace splitarray::protocol {

struct FrameReadOptions {
  FrameLimits limits;
  // Once a header has arrived, the rest of the frame must arrive within this time, or reading
  // stops (shutdown_read) and the read fails with kTimeout (a peer stalling mid-frame pins
  // buffers).
  // Requires `clock`.
  Duration partial_frame_timeout = std::chrono::seconds(10);
  Clock* clock = nullptr;
};

// Reads one frame: header checks, data CRC, and the capnp segment table of the body. Errors:
// kUnavailable/kCancelled (stream closed), kProtocol (malformed: the caller must close the stream,
// framing is lost), kTimeout (partial frame stalled).
Task<Result<Frame>> read_frame(Stream& stream, const FrameReadOptions& options);

// Writes a sealed frame (see seal_frame). At most one write may be outstanding per stream.
Task<Result<void>> write_frame(Stream& stream, const Frame& frame);

}  // namespace splitarray::protocol
