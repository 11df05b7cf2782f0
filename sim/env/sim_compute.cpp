#include "sim/env/sim_compute.h"

#include <algorithm>

namespace splitarray::sim {

void SimCompute::submit(UniqueFunction<void()> work, UniqueFunction<void()> done) {
  busy_until_ = std::max(busy_until_, world_.now()) + job_cost_;
  auto run = [&io = io_, work = std::move(work), done = std::move(done)]() mutable {
    work();
    asio::post(io, std::move(done));
  };
  world_.schedule(busy_until_, process_, EventKind::kCompute, std::move(run));
}

}  // namespace splitarray::sim
