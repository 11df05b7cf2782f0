// sim/world/sim_world.h
// SimWorld: the simulator's single thread of time. It owns the virtual clock, one event queue for
// every simulated process, the master PRNG and the trace hash.
//
// How a run advances: run every ready handler of every live process's io_context (in process-id
// order) until none is left, then pop the earliest event — ordered by (time, sequence) so ties
// break by scheduling order — move the clock to its time, fold it into the trace hash and run
// it. Events are how simulated devices, links and timers complete; they post completions to a
// process's io_context, so product code always resumes on its own event loop.
//
// Invariants:
//   (1) now() never decreases; an event is never scheduled in the past.
//   (2) Nothing here reads a real clock, thread or hash-ordered container: the same seed and the
//       same calls produce the same event order and the same trace hash.
//   (3) A process's events are dropped (never run) once it is removed, so a crashed process never
//       acts again.
// Threading: one thread; nothing is thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>

#include "common/asio.h"
#include "common/prng.h"
#include "common/unique_function.h"
#include "common/units.h"

namespace splitarray::sim {

// One incarnation of a simulated process (a restart gets a new id).
using ProcessId = uint32_t;
// Events of the world itself (fault schedules, harness steps) belong to no process.
inline constexpr ProcessId kWorldProcess = 0;
using EventId = uint64_t;

// What an event is, folded into the trace hash.
enum class EventKind : uint8_t {
  kTimer,
  kCompute,
  kDiskIo,
  kNetSegment,
  kNetConnect,
  kHarness,
};

// A run that makes no progress in simulated time for this many handler rounds is livelocked.
inline constexpr uint64_t kPollRoundsPerInstantMax = 1'000'000;

class SimWorld final {
 public:
  explicit SimWorld(uint64_t seed);
  ~SimWorld();
  SimWorld(const SimWorld&) = delete;
  SimWorld& operator=(const SimWorld&) = delete;

  TimePoint now() const { return now_; }
  uint64_t seed() const { return seed_; }
  // World-level randomness (fault schedules, link jitter). Components fork their own.
  Prng& rng() { return rng_; }

  // Registers a process's event loop; ids start at 1 and are never reused.
  ProcessId add_process(std::string name, asio::io_context& io);
  // Drops the process's pending events and stops polling its io_context.
  void remove_process(ProcessId process);
  bool alive(ProcessId process) const { return processes_.contains(process); }
  const std::string& process_name(ProcessId process) const;

  // Runs fn at `when` (>= now()). fn runs from the world loop, outside any io_context; to resume
  // product code it posts to the process's io_context.
  EventId schedule(TimePoint when, ProcessId process, EventKind kind, UniqueFunction<void()> fn);
  EventId schedule_after(Duration delay, ProcessId process, EventKind kind,
                         UniqueFunction<void()> fn) {
    return schedule(now_ + delay, process, kind, std::move(fn));
  }
  // Cancelling an event that ran or was cancelled is a no-op.
  void cancel(EventId id);

  // Runs until `done()` holds (checked whenever the loops are idle), no event is left, or the
  // next event lies after `limit`. Returns done().
  template <class Done>
  bool run_until(TimePoint limit, Done done) {
    for (;;) {
      poll_processes();
      if (done()) return true;
      if (!step(limit)) return done();
    }
  }
  // Runs every event up to and including `limit`, then sets now() to limit.
  void run_for(Duration duration);

  // Mixes a fact into the trace (components may add what they consider observable).
  void trace(uint64_t value);
  uint64_t trace_hash() const { return trace_hash_; }
  uint64_t events_run() const { return events_run_; }
  size_t events_pending() const { return queue_.size(); }

 private:
  struct Key {
    int64_t when_ns;
    EventId id;  // increasing: ties at one instant run in scheduling order
    friend auto operator<=>(const Key&, const Key&) = default;
  };
  struct Event {
    ProcessId process;
    EventKind kind;
    UniqueFunction<void()> fn;
  };
  struct Process {
    std::string name;
    asio::io_context* io;
  };

  // Runs ready handlers until every loop is idle.
  void poll_processes();
  // Runs the earliest event if it is due by `limit`; false when there is none.
  bool step(TimePoint limit);

  const uint64_t seed_;
  Prng rng_;
  TimePoint now_{};
  EventId next_event_id_ = 1;
  ProcessId next_process_id_ = 1;
  uint64_t trace_hash_;
  uint64_t events_run_ = 0;
  std::map<Key, Event> queue_;
  std::unordered_map<EventId, int64_t> when_by_id_;  // lookup only; never iterated
  std::map<ProcessId, Process> processes_;           // ordered: poll order is deterministic
};

}  // namespace splitarray::sim
