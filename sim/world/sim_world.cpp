#include "sim/world/sim_world.h"

#include "common/assert.h"

namespace splitarray::sim {
namespace {

// splitmix64's finaliser: a cheap, well-mixed 64-bit step for the running trace hash.
uint64_t mix(uint64_t h, uint64_t v) {
  uint64_t z = h ^ (v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2));
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

SimWorld::SimWorld(uint64_t seed) : seed_(seed), rng_(seed), trace_hash_(mix(0, seed)) {}

SimWorld::~SimWorld() {
  ASSERT_MSG(processes_.empty(), "SimWorld destroyed while processes are registered");
}

ProcessId SimWorld::add_process(std::string name, asio::io_context& io) {
  const ProcessId id = next_process_id_++;
  processes_.emplace(id, Process{std::move(name), &io});
  trace(0xA000'0000ULL + id);
  return id;
}

void SimWorld::remove_process(ProcessId process) {
  ASSERT(process != kWorldProcess);
  ASSERT(processes_.erase(process) == 1);
  // Dropping a callback destroys it without running it; callbacks only reference the process's
  // own objects, which the process's owner destroys after this.
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->second.process == process) {
      when_by_id_.erase(it->first.id);
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  trace(0xB000'0000ULL + process);
}

const std::string& SimWorld::process_name(ProcessId process) const {
  auto it = processes_.find(process);
  ASSERT(it != processes_.end());
  return it->second.name;
}

EventId SimWorld::schedule(TimePoint when, ProcessId process, EventKind kind,
                           UniqueFunction<void()> fn) {
  ASSERT_MSG(when >= now_, "event scheduled in the past");
  ASSERT(process == kWorldProcess || processes_.contains(process));
  const EventId id = next_event_id_++;
  const int64_t when_ns = when.time_since_epoch().count();
  queue_.emplace(Key{when_ns, id}, Event{process, kind, std::move(fn)});
  when_by_id_.emplace(id, when_ns);
  return id;
}

void SimWorld::cancel(EventId id) {
  auto it = when_by_id_.find(id);
  if (it == when_by_id_.end()) return;
  ASSERT(queue_.erase(Key{it->second, id}) == 1);
  when_by_id_.erase(it);
}

void SimWorld::poll_processes() {
  for (uint64_t round = 0;; ++round) {
    ASSERT_MSG(round < kPollRoundsPerInstantMax, "livelock: handlers keep running at one instant");
    size_t ran = 0;
    // A handler may add or remove processes (a harness restarting one): iterate by id.
    for (ProcessId id = 1; id < next_process_id_; ++id) {
      auto it = processes_.find(id);
      if (it == processes_.end()) continue;
      asio::io_context& io = *it->second.io;
      io.restart();
      ran += io.poll();
    }
    if (ran == 0) return;
  }
}

bool SimWorld::step(TimePoint limit) {
  if (queue_.empty()) return false;
  auto it = queue_.begin();
  if (it->first.when_ns > limit.time_since_epoch().count()) return false;
  Event event = std::move(it->second);
  const Key key = it->first;
  queue_.erase(it);
  when_by_id_.erase(key.id);
  ASSERT(key.when_ns >= now_.time_since_epoch().count());
  now_ = TimePoint(Duration(key.when_ns));
  trace(static_cast<uint64_t>(key.when_ns));
  trace((static_cast<uint64_t>(event.process) << 8) | static_cast<uint64_t>(event.kind));
  ++events_run_;
  event.fn();
  return true;
}

void SimWorld::run_for(Duration duration) {
  const TimePoint limit = now_ + duration;
  run_until(limit, [] { return false; });
  ASSERT(now_ <= limit);
  now_ = limit;
}

void SimWorld::trace(uint64_t value) { trace_hash_ = mix(trace_hash_, value); }

}  // namespace splitarray::sim
