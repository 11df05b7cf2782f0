#include "protocol/rpc_server.h"

#include "protocol/frame_writer.h"
#include "protocol/wire_code.h"

namespace splitarray::protocol {

// One connection: a read loop dispatching requests to handler tasks, and a writer for replies.
class ServerSession final {
 public:
  ServerSession(RpcServer& server, uint64_t id, std::unique_ptr<Stream> stream)
      : server_(server),
        id_(id),
        stream_(std::move(stream)),
        // Replies for every in-flight request plus one error reply.
        // Room for a reply to every request in flight plus as many "busy" replies: a real reply
        // must never be dropped for want of queue space (its requester would wait out its
        // deadline), so busy replies may take only the second half.
        writer_(*stream_, 2 * server.options_.inflight_per_connection_max + 1) {}

  Task<void> run() {
    Env& env = server_.env_;
    writer_task_.spawn(env.executor(), write_loop());
    co_await read_loop();
    co_await handlers_.join();
    writer_.close();
    co_await writer_task_.join();
    stream_->close();
  }

  // Graceful: stop reading new requests; in-flight ones finish and reply.
  void stop() { stream_->shutdown_read(); }

 private:
  Task<void> write_loop() {
    Result<void> written = co_await writer_.run();
    if (!written.ok()) stream_->close();  // peer gone: wake the read loop
  }

  Task<void> read_loop() {
    FrameReadOptions read = server_.options_.read;
    read.clock = &server_.env_.clock;
    FrameReader reader(*stream_, read);
    for (;;) {
      Result<Frame> frame = co_await reader.next();
      if (!frame.ok()) {
        if (frame.code() == Code::kProtocol || frame.code() == Code::kTimeout) {
          reject_connection(frame.error());
        }
        co_return;
      }
      Result<void> dispatched = dispatch(std::move(frame).value());
      if (!dispatched.ok()) {
        reject_connection(dispatched.error());
        co_return;
      }
    }
  }

  // Invariant (1): answer once with the protocol error, then stop reading this connection.
  void reject_connection(const Error& error) {
    ++server_.stats_.protocol_errors;
    server_.env_.log.warn("rpc.protocol_error", {{"conn", id_},
                                                 {"peer", stream_->peer_address().to_string()},
                                                 {"error", error.to_string()}});
    ignore_result(writer_.send(make_error_frame(MessageType::kEcho, 0, error)),
                  "connection is being closed anyway");
  }

  Result<void> dispatch(Frame frame) {
    const FrameHeader& header = frame.header;
    if (header.is_response()) return make_error(Code::kProtocol, "response frame sent to server");
    if (header.type == MessageType::kCancel) {
      auto it = inflight_.find(header.request_id);
      if (it != inflight_.end() && !it->second->cancelled) {
        it->second->cancelled = true;
        ++server_.stats_.cancelled;
      }
      return ok_result();
    }
    if (inflight_.contains(header.request_id)) {
      return make_error(Code::kProtocol, "request id already in flight");
    }
    ++server_.stats_.requests;
    if (inflight_.size() >= server_.options_.inflight_per_connection_max) {
      if (writer_.queued() >= server_.options_.inflight_per_connection_max) {
        // The peer keeps sending while its busy replies pile up unread: it ignores backpressure.
        return make_error(Code::kProtocol, "peer floods past its busy replies");
      }
      ++server_.stats_.busy_replies;
      return writer_.send(make_error_frame(header.type, header.request_id,
                                           make_error(Code::kBusy, "too many requests in flight")));
    }
    auto context = std::make_unique<RequestContext>();
    context->connection_id = id_;
    context->peer = stream_->peer_address();
    context->request_id = header.request_id;
    context->type = header.type;
    context->deadline = header.timeout_ms == 0 ? TimePoint::max()
                                               : server_.env_.clock.now() +
                                                     std::chrono::milliseconds(header.timeout_ms);
    RequestContext& ref = *context;
    inflight_.emplace(header.request_id, std::move(context));
    handlers_.spawn(server_.env_.executor(), handle(ref, std::move(frame)));
    return ok_result();
  }

  Task<void> handle(RequestContext& context, Frame request) {
    const uint64_t request_id = context.request_id;
    const MessageType type = context.type;
    Result<Reply> reply = co_await server_.handler_.handle(context, std::move(request));
    const bool cancelled = context.cancelled;
    inflight_.erase(request_id);  // `context` dies here
    if (cancelled) co_return;     // the requester already gave up
    Frame frame;
    if (reply.ok()) {
      frame.header.type = type;
      frame.header.flags = kFlagResponse;
      frame.header.request_id = request_id;
      frame.body = std::move(reply->body);
      frame.payload = std::move(reply->payload);
      seal_frame(frame);
    } else {
      frame = make_error_frame(type, request_id, reply.error());
    }
    ignore_result(writer_.send(std::move(frame)), "a failed writer means the peer is gone");
    // Invariant (1) also covers bodies that only the handler can reject (capnp garbage behind
    // a valid segment table): the peer is broken or hostile, so stop reading from it.
    if (!reply.ok() && reply.code() == Code::kProtocol) {
      ++server_.stats_.protocol_errors;
      stream_->shutdown_read();
    }
  }

  RpcServer& server_;
  const uint64_t id_;
  std::unique_ptr<Stream> stream_;
  FrameWriter writer_;
  async::TaskGroup handlers_;
  async::TaskGroup writer_task_;
  std::map<uint64_t, std::unique_ptr<RequestContext>> inflight_;
};

RpcServer::RpcServer(Env& env, RequestHandler& handler, RpcServerOptions options)
    : env_(env), handler_(handler), options_(std::move(options)) {
  ASSERT(options_.inflight_per_connection_max > 0);
  ASSERT(options_.connections_max > 0);
}

RpcServer::~RpcServer() { ASSERT_MSG(sessions_.empty(), "RpcServer destroyed while serving"); }

Result<Address> RpcServer::listen(const Address& address) {
  ASSERT_MSG(listener_ == nullptr, "listen() twice");
  ASSIGN_OR_RETURN(listener_, env_.network.listen(address));
  return listener_->local_address();
}

Task<void> RpcServer::serve() {
  ASSERT_MSG(listener_ != nullptr, "serve() before listen()");
  while (!stopping_) {
    Result<std::unique_ptr<Stream>> stream = co_await listener_->accept();
    if (!stream.ok()) {
      if (!stopping_) env_.log.error("rpc.accept_failed", {{"error", stream.error().to_string()}});
      break;
    }
    if (stopping_) break;
    if (sessions_.size() >= options_.connections_max) {
      ++stats_.connections_refused;
      env_.log.warn("rpc.connection_refused", {{"limit", options_.connections_max}});
      (*stream)->close();
      continue;
    }
    ++stats_.connections_accepted;
    const uint64_t id = next_session_id_++;
    sessions_.emplace(id, std::make_unique<ServerSession>(*this, id, std::move(stream).value()));
    session_tasks_.spawn(env_.executor(), run_session(id));
  }
  listener_->close();
  co_await session_tasks_.join();
  ASSERT(sessions_.empty());
}

Task<void> RpcServer::run_session(uint64_t id) {
  auto it = sessions_.find(id);
  ASSERT(it != sessions_.end());
  ServerSession& session = *it->second;
  if (stopping_) session.stop();
  co_await session.run();
  sessions_.erase(id);  // run() has returned, so nothing of the session is still executing
}

void RpcServer::stop() {
  if (stopping_) return;
  stopping_ = true;
  if (listener_ != nullptr) listener_->close();
  for (auto& [id, session] : sessions_) session->stop();
}

}  // namespace splitarray::protocol
