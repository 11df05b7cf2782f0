// netshelf/service/shelf_handler.h
// ShelfHandler turns protocol requests into Shelf operations: decode the validated request value
// (protocol/shelf_messages.h), check the fence for mutations, call the component, encode the
// reply. It also accounts every request to its host (HostStats) for the status request.
// Hosts are identified by the host id of their mutating requests; a connection's reads are
// charged to the host last seen on that connection (host 0 until one is seen).
#pragma once

#include <map>

#include "netshelf/service/host_stats.h"
#include "netshelf/service/shelf.h"
#include "protocol/rpc_server.h"

namespace splitarray::netshelf {

class ShelfHandler final : public protocol::RequestHandler {
 public:
  ShelfHandler(Env& env, Shelf& shelf) : env_(env), shelf_(shelf) {}

  Task<Result<protocol::Reply>> handle(protocol::RequestContext& context,
                                       protocol::Frame request) override;

  const HostStats& stats() const { return stats_; }

 private:
  using Reply = protocol::Reply;
  Task<Result<Reply>> dispatch(protocol::RequestContext& context, protocol::Frame& request,
                               HostId& host);
  Task<Result<Reply>> nvram_append(protocol::Frame& request, HostId& host);
  Task<Result<Reply>> nvram_read(protocol::Frame& request, HostId& host);
  Task<Result<Reply>> nvram_trim(protocol::Frame& request, HostId& host);
  Task<Result<Reply>> fragment_write(protocol::Frame& request, HostId& host);
  Task<Result<Reply>> fragment_read(protocol::Frame& request);
  Task<Result<Reply>> fragment_delete(protocol::Frame& request, HostId& host);
  Task<Result<Reply>> disk_admin(protocol::Frame& request);
  Task<Result<Reply>> index_lookup(protocol::Frame& request);
  Task<Result<Reply>> index_insert(protocol::Frame& request, HostId& host);
  Task<Result<Reply>> index_remove(protocol::Frame& request, HostId& host);
  Task<Result<Reply>> index_rebuild(protocol::Frame& request, HostId& host);
  // Keeps recovery short: snapshots the index when its log has grown (one at a time).
  Task<void> maybe_snapshot_index();
  Task<Result<Reply>> register_get(protocol::Frame& request);
  Task<Result<Reply>> register_cas(protocol::Frame& request);
  Result<Reply> nvram_usage(protocol::Frame& request);
  Result<Reply> fragment_list(protocol::Frame& request);
  Result<Reply> index_list(protocol::Frame& request);
  Result<Reply> status();

  Env& env_;
  Shelf& shelf_;
  HostStats stats_;
  std::map<uint64_t, HostId> connection_host_;  // connection id -> last host id seen on it
  bool snapshotting_ = false;
};

}  // namespace splitarray::netshelf
