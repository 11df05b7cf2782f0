// tests/sim/env/sim_bed.h
// The test bed shared by the SimEnv tests: one world, one fabric, one machine and the processes a
// test adds, plus small helpers for printing outcomes. Outcome structs that the processes'
// coroutines write must be declared before the bed (they outlive it). Processes still running at
// the end are killed and unwound, so a failed check does not abort the binary.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "sim/env/sim_process.h"

namespace splitarray::sim::testing {

inline uint64_t seed_from_env() {
  const char* text = std::getenv("SPLITARRAY_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 20261122;
}

inline TimePoint at(Duration since_start) { return TimePoint(since_start); }

// The value an outcome holds before its coroutine ran.
inline Error not_run() { return make_error(Code::kCancelled, "not run"); }

template <class T>
Result<void> status(const Result<T>& result) {
  if (result.ok()) return ok_result();
  return result.error();
}

// "ok" or the error's code name, so a failed check prints what happened.
template <class T>
std::string outcome(const Result<T>& result) {
  return result.ok() ? "ok" : std::string(code_name(result.code()));
}

struct SimBed {
  explicit SimBed(uint64_t seed, LinkModel link = LinkModel{}) : world(seed), fabric(world, link) {}
  ~SimBed() {
    for (auto& p : processes) p->kill();
    world.run_until(world.now() + std::chrono::hours(1), [this] { return all_finished(); });
    processes.clear();
  }
  SimBed(const SimBed&) = delete;
  SimBed& operator=(const SimBed&) = delete;

  SimProcess& add(std::string name, std::string host = "10.0.0.1") {
    SimProcessOptions options{.name = std::move(name), .host = std::move(host)};
    processes.push_back(std::make_unique<SimProcess>(world, fabric, machine, plan, sink, options));
    return *processes.back();
  }
  void remove(SimProcess& process) {
    std::erase_if(processes, [&process](const auto& p) { return p.get() == &process; });
  }
  bool all_finished() const {
    for (const auto& p : processes) {
      if (!p->finished()) return false;
    }
    return true;
  }
  bool run(Duration limit) {
    return world.run_until(world.now() + limit, [this] { return all_finished(); });
  }
  bool run_until_finished(SimProcess& process, Duration limit) {
    return world.run_until(world.now() + limit, [&process] { return process.finished(); });
  }

  SimWorld world;
  SimFabric fabric;
  SimMachine machine{"m1", DiskModel{}};
  FaultPlan plan;
  MemoryLogSink sink;
  std::vector<std::unique_ptr<SimProcess>> processes;
};

}  // namespace splitarray::sim::testing
