// hostdriver/nfs/onc_rpc_server.h
// OncRpcServer serves ONC RPC programs (NFS v3, MOUNT v3, the portmapper) over TCP with record
// marking: many calls in flight per connection, replies sent as each finishes (out of order),
// any number of listening addresses (the NFS and MOUNT ports), every program on each.
//
// Invariants:
//   (1) Per connection, calls executing <= inflight_per_connection_max; at the limit the server
//       stops reading that connection (TCP backpressure; NFS has no "busy" reply).
//   (2) connections <= connections_max; beyond it new connections are closed on accept.
//   (3) A record over kRecordBytesMax, a record that is not a call, or a peer that stalls inside
//       a record for partial_record_timeout closes that connection only. Calls already executing
//       still finish; their replies are dropped if the connection is gone.
//   (4) A connection idle (nothing in flight, no new record) for idle_timeout is closed.
//   (5) Non-idempotent calls pass through the duplicate request cache.
//   (6) stop(): no new connections or calls; executing calls finish and reply; serve() returns.
// Threading: the Env's event loop.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "common/async/task_group.h"
#include "common/env.h"
#include "hostdriver/nfs/duplicate_request_cache.h"
#include "hostdriver/nfs/rpc_program.h"

namespace splitarray::hostdriver::nfs {

inline constexpr size_t kRpcInflightPerConnectionMax = 128;
inline constexpr size_t kRpcConnectionsMax = 256;
inline constexpr Duration kRpcIdleTimeout = std::chrono::minutes(15);
inline constexpr Duration kRpcPartialRecordTimeout = std::chrono::seconds(30);
inline constexpr size_t kRpcProgramsMax = 8;

struct OncRpcServerOptions {
  size_t inflight_per_connection_max = kRpcInflightPerConnectionMax;
  size_t connections_max = kRpcConnectionsMax;
  Duration idle_timeout = kRpcIdleTimeout;
  Duration partial_record_timeout = kRpcPartialRecordTimeout;
  size_t drc_entries_max = kDrcEntriesMax;
};

struct OncRpcServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;
  uint64_t connections_closed_for_errors = 0;  // oversized, not a call, stalled
  uint64_t idle_closes = 0;
  uint64_t calls = 0;
  uint64_t garbage_args = 0;
  uint64_t unavailable = 0;      // PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL
  uint64_t auth_errors = 0;      // RPC_MISMATCH and AUTH_ERROR replies
  uint64_t replies_dropped = 0;  // the connection closed before the reply was sent
  DrcStats drc;
};

class RpcConnection;

class OncRpcServer final {
 public:
  OncRpcServer(Env& env, OncRpcServerOptions options);
  ~OncRpcServer();
  OncRpcServer(const OncRpcServer&) = delete;
  OncRpcServer& operator=(const OncRpcServer&) = delete;

  // Before serve(). The program must outlive the server.
  void add_program(RpcProgram& program);
  // Binds another address (port 0 picks one) and returns it. Before serve().
  Result<Address> listen(const Address& address);
  // Accepts on every listener and serves until stop(); returns when every connection closed.
  Task<void> serve();
  void stop();

  size_t connections() const { return connections_.size(); }
  OncRpcServerStats stats() const;

 private:
  friend class RpcConnection;
  Task<void> accept_loop(Listener& listener);
  Task<void> run_connection(uint64_t id);
  RpcProgram* find_program(uint32_t program) const;

  Env& env_;
  const OncRpcServerOptions options_;
  std::vector<RpcProgram*> programs_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  async::TaskGroup accept_tasks_;
  async::TaskGroup connection_tasks_;
  std::map<uint64_t, std::unique_ptr<RpcConnection>> connections_;
  uint64_t next_connection_id_ = 1;
  bool stopping_ = false;
  DuplicateRequestCache drc_;
  OncRpcServerStats stats_;
};

}  // namespace splitarray::hostdriver::nfs
