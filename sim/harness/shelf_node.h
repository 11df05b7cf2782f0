// sim/harness/shelf_node.h
// ShelfNode: the real netshelf (Shelf + ShelfHandler + RpcServer, as netshelf/service/main.cpp
// wires them) running as a simulated process on its own machine, crashed and restarted at will.
//
// Each start() is a new incarnation (a new SimProcess) on the same machine and address. crash()
// kills the running incarnation (kill -9, or power loss that also drops unflushed writes); the
// dead incarnation's coroutines unwind on their own (every operation fails) and reap() destroys
// it once they have. At most one incarnation serves at a time.
//
// Persistence points: set_persist_hook() is called on the shelf's event loop each time a request
// that makes something durable (NVRAM append or trim, fragment write or delete, index insert or
// remove, register compare-and-swap) completes ok, before its reply is sent. The file-system
// harness counts them and crashes a host right after a chosen one (fs_sim.h).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "netshelf/config/shelf_config.h"
#include "protocol/rpc_server.h"
#include "sim/env/sim_process.h"

namespace splitarray::sim {

class ShelfNode final {
 public:
  ShelfNode(SimWorld& world, SimFabric& fabric, FaultPlan& plan, LogSink& log_sink,
            netshelf::ShelfConfig config, LogLevel log_level);
  ~ShelfNode();
  ShelfNode(const ShelfNode&) = delete;
  ShelfNode& operator=(const ShelfNode&) = delete;

  SimMachine& machine() { return machine_; }
  const netshelf::ShelfConfig& config() const { return config_; }
  Address address() const { return config_.listen; }

  // Starts a new incarnation (formatting the shelf first when `format`). Requires !running().
  void start(bool format);
  // An incarnation exists and has not been crashed (it may still be recovering).
  bool running() const { return current_ != nullptr; }
  // The current incarnation is listening.
  bool serving() const { return current_ != nullptr && current_->server != nullptr; }
  // The current incarnation gave up (open failed); its reason.
  bool gave_up() const { return current_ != nullptr && current_->process->finished(); }
  const std::string& last_failure() const { return last_failure_; }

  void crash(bool power_loss);
  // SIGTERM: stop accepting, finish in-flight requests, flush, exit.
  void stop();
  // Destroys dead incarnations whose coroutines have all finished; returns how many remain.
  size_t reap();
  uint64_t incarnations() const { return incarnations_; }

  using PersistHook = std::function<void(protocol::MessageType type, const Address& peer)>;
  // Applies to every incarnation (also the running one); an empty hook turns it off.
  void set_persist_hook(PersistHook hook) { persist_hook_ = std::move(hook); }

 private:
  struct Incarnation {
    std::unique_ptr<SimProcess> process;
    protocol::RpcServer* server = nullptr;  // set while serving
    bool stop_requested = false;
  };
  Task<void> serve(Incarnation& incarnation, bool format);

  SimWorld& world_;
  SimFabric& fabric_;
  FaultPlan& plan_;
  LogSink& log_sink_;
  const netshelf::ShelfConfig config_;
  const LogLevel log_level_;
  SimMachine machine_;
  std::unique_ptr<Incarnation> current_;
  std::vector<std::unique_ptr<Incarnation>> dead_;
  uint64_t incarnations_ = 0;
  std::string last_failure_;
  PersistHook persist_hook_;
};

}  // namespace splitarray::sim
