// protocol/frame_writer.h
// FrameWriter serializes frames from many coroutines onto one stream: send() queues, the run()
// loop writes them in order (a stream allows one outstanding write). Frames queued while a write
// is in progress leave together in the next one: one system call and one wake-up of the peer for
// many small frames (NVRAM appends, index lookups, their replies), which at high request rates
// was a large share of both processes' CPU.
// Invariants: frames leave in send() order; after close() or a write failure, send() fails with
// kUnavailable; queued() <= queue_max (callers bound their in-flight requests below it).
#pragma once

#include <deque>
#include <vector>

#include "common/async/notify.h"
#include "common/env.h"
#include "protocol/frame.h"

namespace splitarray::protocol {

// A gathered write holds at most this many frames, and more than one only while their wire bytes
// stay within kWriteBatchBytesMax (a 1 MiB fragment goes alone). 16 frames x 3 buffers stays
// under the 64 buffers Asio passes to one sendmsg.
inline constexpr size_t kWriteBatchFramesMax = 16;
inline constexpr size_t kWriteBatchBytesMax = 256 * 1024;

class FrameWriter final {
 public:
  FrameWriter(Stream& stream, size_t queue_max) : stream_(stream), queue_max_(queue_max) {}
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;

  // Queues a sealed frame. kUnavailable when closed or broken; kBusy when queue_max is reached.
  Result<void> send(Frame frame);
  // The write loop: returns once close() was called and the queue drained, or a write failed.
  Task<Result<void>> run();
  // Finish writing what is queued, then let run() return.
  void close();
  // Frames queued or being written (the batch in progress counts until its write completes).
  size_t queued() const { return queue_.size() + writing_; }
  bool broken() const { return broken_; }

 private:
  Stream& stream_;
  const size_t queue_max_;
  std::deque<Frame> queue_;
  size_t writing_ = 0;  // frames in the write in progress
  async::Notify wake_;
  bool closing_ = false;
  bool broken_ = false;
};

// Builds an error response frame for `request_id` (ErrorReply body).
Frame make_error_frame(MessageType type, uint64_t request_id, const Error& error);
// Converts a response frame with nonzero status into the Error it carries.
Error error_from_frame(const Frame& frame, const FrameLimits& limits);

}  // namespace splitarray::protocol
