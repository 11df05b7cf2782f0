#include "protocol/frame_writer.h"

#include "common/write_batch.h"
#include "protocol/codec.h"
#include "protocol/frame_io.h"
#include "protocol/wire_code.h"
#include "shelf.capnp.h"

namespace splitarray::protocol {

// Error messages are for humans; cap them so an error reply stays small.
constexpr size_t kErrorMessageMaxBytes = 1024;

Result<void> FrameWriter::send(Frame frame) {
  if (closing_ || broken_) return make_error(Code::kUnavailable, "connection closing");
  if (queued() >= queue_max_) return make_error(Code::kBusy, "send queue full");
  ASSERT(frame.header.body_bytes == frame.body.size() * sizeof(capnp::word));
  queue_.push_back(std::move(frame));
  wake_.notify();
  return ok_result();
}

Task<Result<void>> FrameWriter::run() {
  std::vector<Frame> batch;
  batch.reserve(kWriteBatchFramesMax);
  for (;;) {
    while (queue_.empty()) {
      if (closing_) co_return ok_result();
      co_await wake_.wait();
    }
    take_write_batch(queue_, batch,
                     {.messages_max = kWriteBatchFramesMax, .bytes_max = kWriteBatchBytesMax},
                     [](const Frame& frame) { return frame.wire_bytes(); });
    writing_ = batch.size();
    Result<void> written = co_await write_frames(stream_, batch);
    writing_ = 0;
    batch.clear();
    if (!written.ok()) {
      broken_ = true;
      queue_.clear();
      co_return written;
    }
  }
}

void FrameWriter::close() {
  closing_ = true;
  wake_.notify();
}

Frame make_error_frame(MessageType type, uint64_t request_id, const Error& error) {
  Frame frame;
  frame.header.type = type;
  frame.header.flags = kFlagResponse;
  frame.header.status = to_wire_code(error.code);
  frame.header.request_id = request_id;
  frame.body = encode_body<schema::ErrorReply>([&error](schema::ErrorReply::Builder reply) {
    reply.setCode(to_wire_code(error.code));
    const size_t length = std::min(error.message.size(), kErrorMessageMaxBytes);
    reply.setMessage(capnp::Text::Reader(error.message.data(), length));
  });
  seal_frame(frame);
  return frame;
}

Error error_from_frame(const Frame& frame, const FrameLimits& limits) {
  ASSERT(frame.header.status != kWireOk);
  const std::optional<Code> code = from_wire_code(frame.header.status);
  if (!code.has_value()) {
    return make_error(Code::kProtocol,
                      "unknown error code " + std::to_string(frame.header.status) + " from peer");
  }
  Result<std::string> message = decode_body<schema::ErrorReply>(
      frame.body_words(), limits,
      [](schema::ErrorReply::Reader reply) { return std::string(reply.getMessage().cStr()); });
  return make_error(*code, message.ok() ? std::move(message).value() : "(unreadable message)");
}

}  // namespace splitarray::protocol
