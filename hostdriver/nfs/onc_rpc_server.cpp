// hostdriver/nfs/onc_rpc_server.cpp
#include "hostdriver/nfs/onc_rpc_server.h"

#include "hostdriver/nfs/rpc_connection.h"

namespace splitarray::hostdriver::nfs {

OncRpcServer::OncRpcServer(Env& env, OncRpcServerOptions options)
    : env_(env), options_(options), drc_(options.drc_entries_max) {
  ASSERT(options_.inflight_per_connection_max > 0);
  ASSERT(options_.connections_max > 0);
}

OncRpcServer::~OncRpcServer() {
  ASSERT_MSG(connections_.empty(), "OncRpcServer destroyed while serving");
}

void OncRpcServer::add_program(RpcProgram& program) {
  ASSERT_MSG(find_program(program.program()) == nullptr, "program added twice");
  ASSERT(programs_.size() < kRpcProgramsMax);
  ASSERT(program.version_min() <= program.version_max());
  programs_.push_back(&program);
}

RpcProgram* OncRpcServer::find_program(uint32_t number) const {
  for (RpcProgram* program : programs_) {
    if (program->program() == number) return program;
  }
  return nullptr;
}

Result<Address> OncRpcServer::listen(const Address& address) {
  ASSIGN_OR_RETURN(auto listener, env_.network.listen(address));
  const Address bound = listener->local_address();
  listeners_.push_back(std::move(listener));
  return bound;
}

Task<void> OncRpcServer::serve() {
  ASSERT_MSG(!listeners_.empty(), "serve() before listen()");
  for (auto& listener : listeners_) accept_tasks_.spawn(env_.executor(), accept_loop(*listener));
  co_await accept_tasks_.join();
  co_await connection_tasks_.join();
  ASSERT(connections_.empty());
}

Task<void> OncRpcServer::accept_loop(Listener& listener) {
  while (!stopping_) {
    Result<std::unique_ptr<Stream>> stream = co_await listener.accept();
    if (!stream.ok()) {
      if (!stopping_)
        env_.log.error("nfs.rpc.accept_failed", {{"error", stream.error().to_string()}});
      break;
    }
    if (stopping_) break;
    if (connections_.size() >= options_.connections_max) {
      ++stats_.connections_refused;
      env_.log.warn("nfs.rpc.connection_refused", {{"limit", options_.connections_max}});
      (*stream)->close();
      continue;
    }
    ++stats_.connections_accepted;
    const uint64_t id = next_connection_id_++;
    connections_.emplace(id, std::make_unique<RpcConnection>(*this, id, std::move(stream).value()));
    connection_tasks_.spawn(env_.executor(), run_connection(id));
  }
  listener.close();
}

Task<void> OncRpcServer::run_connection(uint64_t id) {
  auto it = connections_.find(id);
  ASSERT(it != connections_.end());
  RpcConnection& connection = *it->second;
  if (stopping_) connection.stop();
  co_await connection.run();
  connections_.erase(id);  // run() has returned: nothing of the connection still executes
}

void OncRpcServer::stop() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& listener : listeners_) listener->close();
  for (auto& [id, connection] : connections_) connection->stop();
}

OncRpcServerStats OncRpcServer::stats() const {
  OncRpcServerStats stats = stats_;
  stats.drc = drc_.stats();
  return stats;
}

}  // namespace splitarray::hostdriver::nfs
