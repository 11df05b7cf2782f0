// common/env_asio/asio_network.h
// Real TCP on Boost.Asio. Sockets get TCP_NODELAY (requests are latency-bound and already batched
// by the callers); asio error codes are converted to Result at this edge.
//
// Bulk sends: a write_all of at least kBulkSendBytesMin is copied into the kernel on a bulk-send
// thread (send_available), not on the event loop. On loopback and in VMs the send call itself
// does most of the work of delivering the bytes (the copy, the receiver's TCP processing in
// softirq, waking it): serving 1 MiB NFS READs, the event loop spent over half its time there and
// nothing else could run meanwhile. Measured through NFS (seq read, 1 MiB at qd 8, 2 cores, 2
// runs each): 552-626 -> 1,154-1,202 MB/s. Smaller writes stay on the loop: a hop costs two
// thread wake-ups, more than sending a small reply. The pool's queue needs no limit of its own:
// by invariant (1) each stream has at most one step queued.
// Invariants:
//   (1) Bytes leave in write_all order: a stream has at most one write_all outstanding, and a bulk
//       write finishes (or fails) before it returns.
//   (2) A bulk-send thread never blocks on a socket: it sends what the send buffer takes and comes
//       back; the loop waits for room (asio's reactor) and hands it the rest. A stalled peer so
//       holds no thread and cannot delay other streams' bulk writes.
//   (3) The thread sends on its own dup() of the descriptor, so a close() on the loop meanwhile
//       fails its send (the socket is shut down) instead of letting it reach a reused descriptor.
//   (4) While a step holds its dup, close() shuts the socket down but leaves the descriptor open
//       until the step is back (write_all then returns kCancelled, as a read does after close()).
//       asio assumes closing its descriptor removes it from epoll, which is true only once no
//       dup is left.
#pragma once

#include "common/env.h"

namespace splitarray {

class ThreadPoolCompute;

// Writes of at least this many bytes go through a bulk-send thread (when the network has them).
inline constexpr size_t kBulkSendBytesMin = 256 * 1024;

class AsioNetwork final : public Network {
 public:
  // bulk_send: threads for large writes; nullptr sends everything on the event loop.
  AsioNetwork(asio::io_context& io, ThreadPoolCompute* bulk_send)
      : io_(io), bulk_send_(bulk_send) {}
  Result<std::unique_ptr<Listener>> listen(const Address& address) override;
  Task<Result<std::unique_ptr<Stream>>> connect(const Address& address, Duration timeout) override;

 private:
  asio::io_context& io_;
  ThreadPoolCompute* bulk_send_;
};

}  // namespace splitarray
