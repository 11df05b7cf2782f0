// protocol/rpc_client.h
// RpcClient: many requests in flight on one connection, each with a deadline, cancellable, with
// replies matched by request id (they may arrive in any order).
//
// Invariants:
//   (1) Every started request completes exactly once: reply, server error, kTimeout (deadline),
//       kCancelled (cancel()), or kUnavailable (connection lost or closing).
//   (2) inflight() <= options.inflight_max; beyond it start() answers kBusy (backpressure).
//   (3) A reply for a request that already completed (late after a timeout or cancel) is
//       dropped and counted, never delivered to a later request.
// Every id returned by start() must be passed to finish() exactly once.
// Threading: all methods run on the Env's event loop.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <utility>

#include "common/async/oneshot.h"
#include "common/async/task_group.h"
#include "common/env.h"
#include "protocol/frame_reader.h"
#include "protocol/frame_writer.h"

namespace splitarray::protocol {

inline constexpr size_t kClientInflightMax = 1024;
inline constexpr Duration kDefaultRequestTimeout = std::chrono::seconds(30);
// How long close() lets queued frames drain before cutting the connection.
inline constexpr Duration kCloseDrainTimeout = std::chrono::seconds(5);

struct RpcClientOptions {
  FrameReadOptions read;
  size_t inflight_max = kClientInflightMax;
  Duration default_timeout = kDefaultRequestTimeout;
};

struct RpcClientStats {
  uint64_t requests = 0;
  uint64_t timeouts = 0;
  uint64_t cancellations = 0;
  uint64_t late_replies = 0;  // replies after their request timed out or was cancelled
};

class RpcClient final {
 public:
  static Task<Result<std::unique_ptr<RpcClient>>> connect(Env& env, Address address,
                                                          RpcClientOptions options,
                                                          Duration connect_timeout);
  RpcClient(Env& env, std::unique_ptr<Stream> stream, RpcClientOptions options);
  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  // Sends a request. timeout 0 means options.default_timeout.
  Result<uint64_t> start(MessageType type, kj::Array<capnp::word> body,
                         std::vector<uint8_t> payload, Duration timeout = Duration::zero());
  // Waits for request `id` to complete (see invariant 1). A server error reply comes back as
  // its Error.
  Task<Result<Frame>> finish(uint64_t id);
  Task<Result<Frame>> call(MessageType type, kj::Array<capnp::word> body,
                           std::vector<uint8_t> payload, Duration timeout = Duration::zero());
  // Completes `id` with kCancelled now (if still in flight) and tells the server to abandon it.
  void cancel(uint64_t id);

  // Graceful close: new requests get kUnavailable, in-flight ones complete (they all have
  // deadlines), then the connection closes. Must be awaited before destruction.
  Task<void> close();
  // Gives the connection up now, from any callback: every in-flight request completes
  // kUnavailable at once, the stream closes, and broken() turns true. close() must still be
  // awaited (it then has nothing to wait for). For a peer that hangs: a graceful close would
  // wait out every request's deadline.
  void abort();

  size_t inflight() const { return uncompleted_; }
  bool broken() const { return broken_; }
  const RpcClientStats& stats() const { return stats_; }

 private:
  struct Pending {
    async::Oneshot<Result<Frame>> done;
    TimePoint deadline;
    bool completed = false;
  };

  Task<void> read_loop();
  Task<void> write_loop();
  void complete(uint64_t id, Result<Frame> outcome);
  void fail_all(const Error& error);
  void send_cancel(uint64_t id);
  // Deadlines share one timer, armed for the earliest: requests mostly carry the same timeout,
  // so a new request rarely moves the earliest deadline and costs no timer system call.
  void arm_deadline_timer();
  void on_deadline_timer();

  Env& env_;
  const RpcClientOptions options_;
  std::unique_ptr<Stream> stream_;
  FrameWriter writer_;
  async::TaskGroup tasks_;
  async::Notify drained_;
  async::Notify writer_done_;
  bool writer_finished_ = false;
  FrameReader reader_;
  // Ordered by id, so fail_all() completes requests in a deterministic order (sim).
  std::map<uint64_t, std::unique_ptr<Pending>> pending_;
  // (deadline, id) of every uncompleted request; the timer is armed for deadlines_.begin().
  std::set<std::pair<TimePoint, uint64_t>> deadlines_;
  TimerId deadline_timer_ = 0;
  TimePoint deadline_timer_at_;
  size_t uncompleted_ = 0;
  uint64_t next_id_ = 1;
  bool closing_ = false;
  bool broken_ = false;
  bool closed_ = false;
  RpcClientStats stats_;
};

}  // namespace splitarray::protocol
