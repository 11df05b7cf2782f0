#include "protocol/rpc_client.h"

#include <limits>

#include "protocol/wire_code.h"

namespace splitarray::protocol {
namespace {

uint32_t timeout_to_wire_ms(Duration timeout) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  if (ms <= 0) return 1;
  return ms > std::numeric_limits<uint32_t>::max() ? std::numeric_limits<uint32_t>::max()
                                                   : static_cast<uint32_t>(ms);
}

}  // namespace

Task<Result<std::unique_ptr<RpcClient>>> RpcClient::connect(Env& env, Address address,
                                                            RpcClientOptions options,
                                                            Duration connect_timeout) {
  CO_ASSIGN_OR_RETURN(std::unique_ptr<Stream> stream,
                      co_await env.network.connect(address, connect_timeout));
  co_return std::make_unique<RpcClient>(env, std::move(stream), std::move(options));
}

RpcClient::RpcClient(Env& env, std::unique_ptr<Stream> stream, RpcClientOptions options)
    : env_(env),
      options_(std::move(options)),
      stream_(std::move(stream)),
      // Requests plus one cancel notice per request bound what can be queued.
      writer_(*stream_, 2 * options_.inflight_max),
      reader_(*stream_, [this] {
        FrameReadOptions read = options_.read;
        read.clock = &env_.clock;
        return read;
      }()) {
  ASSERT(stream_ != nullptr);
  ASSERT(options_.inflight_max > 0);
  tasks_.spawn(env_.executor(), read_loop());
  tasks_.spawn(env_.executor(), write_loop());
}

RpcClient::~RpcClient() { ASSERT_MSG(closed_, "RpcClient destroyed without co_await close()"); }

Result<uint64_t> RpcClient::start(MessageType type, kj::Array<capnp::word> body,
                                  std::vector<uint8_t> payload, Duration timeout) {
  if (closing_ || broken_) return make_error(Code::kUnavailable, "connection closed");
  if (uncompleted_ >= options_.inflight_max) {
    return make_error(Code::kBusy, "too many requests in flight");
  }
  if (payload.size() > options_.read.limits.payload_max_bytes) {
    return make_error(Code::kInvalidArgument, "payload over the frame limit");
  }
  if (timeout <= Duration::zero()) timeout = options_.default_timeout;
  const uint64_t id = next_id_++;
  Frame frame;
  frame.header.type = type;
  frame.header.request_id = id;
  frame.header.timeout_ms = timeout_to_wire_ms(timeout);
  frame.body = std::move(body);
  frame.payload = std::move(payload);
  seal_frame(frame);
  RETURN_IF_ERROR(writer_.send(std::move(frame)));

  auto pending = std::make_unique<Pending>();
  pending->deadline = env_.clock.now() + timeout;
  deadlines_.emplace(pending->deadline, id);
  pending_.emplace(id, std::move(pending));
  arm_deadline_timer();
  ++uncompleted_;
  ++stats_.requests;
  return id;
}

Task<Result<Frame>> RpcClient::finish(uint64_t id) {
  auto it = pending_.find(id);
  ASSERT_MSG(it != pending_.end(), "finish() of an unknown or already finished request");
  Result<Frame> outcome = co_await it->second->done.wait();
  pending_.erase(id);  // `it` may be invalid after the await; erase by key
  if (outcome.ok() && outcome->header.status != kWireOk) {
    co_return error_from_frame(*outcome, options_.read.limits);
  }
  co_return outcome;
}

Task<Result<Frame>> RpcClient::call(MessageType type, kj::Array<capnp::word> body,
                                    std::vector<uint8_t> payload, Duration timeout) {
  CO_ASSIGN_OR_RETURN(const uint64_t id, start(type, std::move(body), std::move(payload), timeout));
  co_return co_await finish(id);
}

void RpcClient::cancel(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second->completed) return;
  ++stats_.cancellations;
  complete(id, make_error(Code::kCancelled, "cancelled by caller"));
  send_cancel(id);
}

void RpcClient::send_cancel(uint64_t id) {
  Frame frame;
  frame.header.type = MessageType::kCancel;
  frame.header.request_id = id;
  frame.body = kj::heapArray<capnp::word>(0);
  seal_frame(frame);
  // Best effort: if the connection is going away the server drops the request anyway.
  ignore_result(writer_.send(std::move(frame)), "cancel notice is advisory");
}

void RpcClient::complete(uint64_t id, Result<Frame> outcome) {
  auto it = pending_.find(id);
  ASSERT(it != pending_.end());
  Pending& pending = *it->second;
  ASSERT(!pending.completed);
  pending.completed = true;
  // The shared timer stays armed; when it fires early it simply re-arms for what is left.
  deadlines_.erase({pending.deadline, id});
  pending.done.set(std::move(outcome));
  ASSERT(uncompleted_ > 0);
  if (--uncompleted_ == 0) drained_.notify();
}

void RpcClient::arm_deadline_timer() {
  if (deadlines_.empty()) return;
  const TimePoint earliest = deadlines_.begin()->first;
  if (deadline_timer_ != 0 && deadline_timer_at_ <= earliest) return;
  if (deadline_timer_ != 0) env_.clock.cancel(deadline_timer_);
  deadline_timer_at_ = earliest;
  deadline_timer_ = env_.clock.call_at(earliest, [this] { on_deadline_timer(); });
}

void RpcClient::on_deadline_timer() {
  deadline_timer_ = 0;
  const TimePoint now = env_.clock.now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const uint64_t id = deadlines_.begin()->second;
    ++stats_.timeouts;
    complete(id, make_error(Code::kTimeout, "no reply before the deadline"));  // erases it
    send_cancel(id);
  }
  arm_deadline_timer();
}

void RpcClient::fail_all(const Error& error) {
  for (auto& [id, pending] : pending_) {
    if (!pending->completed) complete(id, error);
  }
}

Task<void> RpcClient::read_loop() {
  for (;;) {
    Result<Frame> frame = co_await reader_.next();
    if (!frame.ok()) {
      broken_ = true;
      // After close() the stream error is expected; anything else loses in-flight requests.
      fail_all(make_error(Code::kUnavailable, "connection lost: " + frame.error().to_string()));
      break;
    }
    if (!frame->header.is_response()) {
      broken_ = true;
      fail_all(make_error(Code::kProtocol, "server sent a request frame"));
      break;
    }
    auto it = pending_.find(frame->header.request_id);
    if (it == pending_.end() || it->second->completed) {
      ++stats_.late_replies;
      continue;
    }
    complete(frame->header.request_id, std::move(frame));
  }
  writer_.close();
  stream_->close();
}

Task<void> RpcClient::write_loop() {
  Result<void> written = co_await writer_.run();
  if (!written.ok()) {
    broken_ = true;
    fail_all(make_error(Code::kUnavailable, "connection lost: " + written.error().to_string()));
    stream_->close();  // wakes read_loop
  }
  writer_finished_ = true;
  writer_done_.notify();
}

void RpcClient::abort() {
  if (closed_) return;
  broken_ = true;
  fail_all(make_error(Code::kUnavailable, "connection abandoned"));
  stream_->close();  // wakes the read and write loops
}

Task<void> RpcClient::close() {
  ASSERT_MSG(!closed_, "close() twice");
  closing_ = true;
  while (uncompleted_ > 0) co_await drained_.wait();
  // Let queued cancel notices drain, but never wait on a peer that stopped reading for longer
  // than kCloseDrainTimeout.
  writer_.close();
  const TimerId drain_timer =
      env_.clock.call_at(env_.clock.now() + kCloseDrainTimeout, [this] { stream_->close(); });
  while (!writer_finished_) co_await writer_done_.wait();
  env_.clock.cancel(drain_timer);
  if (deadline_timer_ != 0) env_.clock.cancel(deadline_timer_);
  deadline_timer_ = 0;
  stream_->close();
  co_await tasks_.join();
  closed_ = true;
}

}  // namespace splitarray::protocol
