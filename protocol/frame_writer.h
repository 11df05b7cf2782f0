// protocol/frame_writer.h
// FrameWriter serializes frames from many coroutines onto one stream: send() queues, the run()
// loop writes them in order, one at a time (a stream allows one outstanding write).
// Invariants: frames leave in send() order; after close() or a write failure, send() fails with
// kUnavailable; queued() <= queue_max (callers bound their in-flight requests below it).
#pragma once

#include <deque>

#include "common/async/notify.h"
#include "common/env.h"
#include "protocol/frame.h"

namespace splitarray::protocol {

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
  size_t queued() const { return queue_.size(); }
  bool broken() const { return broken_; }

 private:
  Stream& stream_;
  const size_t queue_max_;
  std::deque<Frame> queue_;
  async::Notify wake_;
  bool closing_ = false;
  bool broken_ = false;
};

// Builds an error response frame for `request_id` (ErrorReply body).
Frame make_error_frame(MessageType type, uint64_t request_id, const Error& error);
// Converts a response frame with nonzero status into the Error it carries.
Error error_from_frame(const Frame& frame, const FrameLimits& limits);

}  // namespace splitarray::protocol
