// hostdriver/blockstore/shelf_link.h
// ShelfLink: the block store's connection to the shelf, re-established after it breaks. Callers
// take the current client, make calls, and report connection-level failures with
// reset_if_broken(); the next client() reconnects (with a delay between failed attempts).
// A request whose connection broke may or may not have been executed by the shelf: callers
// retry only idempotent requests, or requests whose replay is harmless (block_store.h).
// Threading: the Env's event loop.
#pragma once

#include <memory>

#include "common/async/task_group.h"
#include "common/env.h"
#include "protocol/shelf_client.h"

namespace splitarray::hostdriver::blockstore {

inline constexpr Duration kReconnectDelay = std::chrono::milliseconds(100);
inline constexpr Duration kConnectTimeout = std::chrono::seconds(5);

// Errors after which the connection is unusable and the request's outcome unknown.
bool is_connection_error(const Error& error);

class ShelfLink final {
 public:
  ShelfLink(Env& env, Address address, Duration request_timeout);
  ~ShelfLink();
  ShelfLink(const ShelfLink&) = delete;
  ShelfLink& operator=(const ShelfLink&) = delete;

  // The connected client (connecting if needed). kUnavailable if the connect failed or the link
  // is closed. A connect that fails kCancelled (the process is going away) closes the link. The
  // pointer stays valid until the next co_await on this link's close().
  Task<Result<protocol::ShelfClient*>> client();
  // Drops the connection if `error` says it broke (the client is closed in the background).
  void reset_if_broken(const Error& error);
  // Closes the connection; later client() calls fail. Idempotent.
  Task<void> close();
  // Gives the shelf up now, from any callback: later client() calls fail and the connection's
  // calls in flight fail at once (RpcClient::abort), so every retry loop above stops at its next
  // turn. The client object stays until close() (callers may hold its pointer across a wait),
  // which must still be awaited.
  void abandon();
  bool closed() const { return closed_; }

 private:
  Task<void> close_client(std::unique_ptr<protocol::ShelfClient> client);

  Env& env_;
  const Address address_;
  const Duration request_timeout_;
  std::unique_ptr<protocol::ShelfClient> client_;
  async::TaskGroup closing_;
  TimePoint next_attempt_{};
  bool connecting_ = false;
  bool closed_ = false;
};

}  // namespace splitarray::hostdriver::blockstore
