// sim/env/sim_process.h
// SimProcess: one incarnation of a simulated process (a shelf controller, a host driver, a
// client) — its own io_context and a complete Env bound to the simulated world: clock, network
// on its host, storage on its machine, inline compute, and the run's fault plan.
//
// Crash model: kill() severs the process from the world at that instant (kill -9): network
// connections reset, listeners close, storage refuses everything, so nothing it does afterwards
// can be observed. power_loss() is kill() plus the machine losing unflushed writes. The process's
// coroutines then unwind (every operation fails) and the owner destroys it once it is idle; a
// new incarnation on the same host and machine starts from what was durable.
//
// Lifetime: destroy the objects running on env() before the SimProcess.
#pragma once

#include <memory>
#include <string>

#include "common/async/task_group.h"
#include "common/env.h"
#include "sim/env/sim_clock.h"
#include "sim/env/sim_compute.h"
#include "sim/env/sim_faults.h"
#include "sim/env/sim_network.h"
#include "sim/env/sim_storage.h"

namespace splitarray::sim {

struct SimProcessOptions {
  std::string name;  // for logs and traces, e.g. "shelf#2"
  std::string host;  // network address of its host, e.g. "10.0.0.1"
  LogLevel log_level = LogLevel::kWarn;
};

class SimProcess final {
 public:
  SimProcess(SimWorld& world, SimFabric& fabric, SimMachine& machine, FaultPlan& plan,
             LogSink& log_sink, SimProcessOptions options);
  ~SimProcess();
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  Env& env() { return *env_; }
  ProcessId id() const { return id_; }
  const std::string& name() const { return options_.name; }

  // Runs `task` as one of the process's top-level coroutines.
  void spawn(Task<void> task) { tasks_.spawn(io_.get_executor(), std::move(task)); }
  // True when every spawned coroutine has finished.
  bool finished() const { return tasks_.live() == 0; }

  void kill();
  void power_loss();
  bool killed() const { return killed_; }

 private:
  const SimProcessOptions options_;
  SimWorld& world_;
  SimMachine& machine_;
  asio::io_context io_;  // before every part that refers to it
  const ProcessId id_;
  SimFaults faults_;
  SimClock clock_;
  SimNetwork network_;
  SimStorage storage_;
  SimCompute compute_;
  std::unique_ptr<Env> env_;
  async::TaskGroup tasks_;
  bool killed_ = false;
};

}  // namespace splitarray::sim
