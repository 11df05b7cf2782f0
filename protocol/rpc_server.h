// protocol/rpc_server.h
// RpcServer accepts connections and runs each request through a RequestHandler, many at once per
// connection, replying as each finishes (out of order).
//
// Invariants:
//   (1) A malformed frame (bad magic, CRC, limits, type, segment table, or a body the handler
//       rejects as kProtocol) gets one kProtocol error reply and closes that connection only;
//       other connections are untouched.
//   (2) Per connection, in-flight requests <= inflight_per_connection_max; beyond it the request
//       is answered kBusy at once (backpressure, no unbounded queue).
//   (3) connections <= connections_max; beyond it new connections are closed on accept.
//   (4) stop(): no new connections or requests; in-flight requests finish and their replies are
//       sent; then serve() returns.
// Threading: all methods run on the Env's event loop.
#pragma once

#include <map>
#include <memory>

#include "common/async/task_group.h"
#include "common/env.h"
#include "protocol/frame_reader.h"

namespace splitarray::protocol {

inline constexpr size_t kServerInflightPerConnectionMax = 256;
inline constexpr size_t kServerConnectionsMax = 1024;

struct RequestContext {
  uint64_t connection_id = 0;
  Address peer;
  uint64_t request_id = 0;
  MessageType type = MessageType::kEcho;
  TimePoint deadline;      // from the requester's timeout_ms; TimePoint::max() if none
  bool cancelled = false;  // set when the requester sent a cancel notice; the reply is dropped
};

struct Reply {
  kj::Array<capnp::word> body;
  std::vector<uint8_t> payload;
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // `context` stays valid until the returned task completes.
  virtual Task<Result<Reply>> handle(RequestContext& context, Frame request) = 0;
};

struct RpcServerOptions {
  FrameReadOptions read;
  size_t inflight_per_connection_max = kServerInflightPerConnectionMax;
  size_t connections_max = kServerConnectionsMax;
};

struct RpcServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;
  uint64_t requests = 0;
  uint64_t protocol_errors = 0;
  uint64_t busy_replies = 0;
  uint64_t cancelled = 0;
};

class ServerSession;

class RpcServer final {
 public:
  RpcServer(Env& env, RequestHandler& handler, RpcServerOptions options);
  ~RpcServer();
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  // Binds; returns the bound address (port 0 picks one).
  Result<Address> listen(const Address& address);
  // Accepts and serves until stop(); returns when every connection has closed.
  Task<void> serve();
  void stop();

  size_t connections() const { return sessions_.size(); }
  const RpcServerStats& stats() const { return stats_; }

 private:
  friend class ServerSession;
  Task<void> run_session(uint64_t id);

  Env& env_;
  RequestHandler& handler_;
  const RpcServerOptions options_;
  std::unique_ptr<Listener> listener_;
  async::TaskGroup session_tasks_;
  std::map<uint64_t, std::unique_ptr<ServerSession>> sessions_;
  uint64_t next_session_id_ = 1;
  bool stopping_ = false;
  RpcServerStats stats_;
};

}  // namespace splitarray::protocol
