#include "sim/env/sim_process.h"

namespace splitarray::sim {

SimProcess::SimProcess(SimWorld& world, SimFabric& fabric, SimMachine& machine, FaultPlan& plan,
                       LogSink& log_sink, SimProcessOptions options)
    : options_(std::move(options)),
      world_(world),
      machine_(machine),
      id_(world.add_process(options_.name, io_)),
      faults_(plan, world.rng().fork()),
      clock_(world, id_, io_),
      network_(fabric, id_, options_.host, faults_, world.rng().fork()),
      storage_(world, id_, machine, faults_, world.rng().fork()),
      compute_(world, id_, io_) {
  env_ = std::unique_ptr<Env>(new Env{io_, clock_, network_, storage_, compute_, faults_,
                                      Logger(&clock_, log_sink, options_.log_level, options_.name),
                                      world.rng().fork()});
}

SimProcess::~SimProcess() {
  ASSERT_MSG(finished(), "SimProcess destroyed with running coroutines");
  world_.remove_process(id_);
  // Handlers still queued (completions nobody awaits any more) go with the io_context.
}

void SimProcess::kill() {
  if (killed_) return;
  killed_ = true;
  world_.trace(0xC0FFEE00ULL + id_);
  network_.sever();
  storage_.sever();
}

void SimProcess::power_loss() {
  kill();
  Prng rng = world_.rng().fork();
  machine_.crash(rng, faults_);
}

}  // namespace splitarray::sim
