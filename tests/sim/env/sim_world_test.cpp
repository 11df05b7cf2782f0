// Tests of the simulator's world (sim/world) and the Env parts bound directly to it (clock,
// compute): event order, cancellation, virtual timers, the trace hash's determinism, and that a
// removed process never acts again. The randomized workload takes SPLITARRAY_SEED (printed).
#include <doctest/doctest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/async/compute.h"
#include "common/async/task_group.h"
#include "sim/world/sim_world.h"
#include "tests/sim/env/sim_bed.h"

namespace splitarray::sim {
namespace {

using namespace testing;
using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

int64_t ms_of(TimePoint t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

using Bed = testing::SimBed;

// ---------------------------------------------------------------------------------------------
// The event queue.

TEST_CASE("sim/world: events run in (time, sequence) order and move the clock to each") {
  SimWorld world(1);
  std::vector<std::pair<int64_t, int>> ran;  // (ms, tag)
  auto record = [&world, &ran](int tag) {
    return [&world, &ran, tag] { ran.emplace_back(ms_of(world.now()), tag); };
  };
  world.schedule(at(seconds(3)), kWorldProcess, EventKind::kHarness, record(1));
  world.schedule(at(seconds(1)), kWorldProcess, EventKind::kHarness, record(2));
  world.schedule(at(seconds(2)), kWorldProcess, EventKind::kHarness, record(3));
  world.schedule(at(seconds(1)), kWorldProcess, EventKind::kHarness, record(4));
  world.schedule(at(seconds(3)), kWorldProcess, EventKind::kHarness, record(5));
  // An event scheduled at the current instant runs after everything already queued there.
  world.schedule(at(seconds(1)), kWorldProcess, EventKind::kHarness, [&world, &ran, record] {
    ran.emplace_back(ms_of(world.now()), 6);
    world.schedule_after(Duration::zero(), kWorldProcess, EventKind::kHarness, record(7));
  });
  CHECK(world.events_pending() == 6);

  CHECK_FALSE(world.run_until(at(seconds(10)), [] { return false; }));
  const std::vector<std::pair<int64_t, int>> expected{{1000, 2}, {1000, 4}, {1000, 6}, {1000, 7},
                                                      {2000, 3}, {3000, 1}, {3000, 5}};
  CHECK(ran == expected);
  CHECK(world.events_run() == 7);
  CHECK(world.events_pending() == 0);
  CHECK(world.now() == at(seconds(3)));  // run_until does not move past the last event
}

TEST_CASE("sim/world: run_until stops at its limit or when done, run_for lands on its limit") {
  SimWorld world(2);
  int ran = 0;
  auto count = [&ran] { ++ran; };
  world.schedule(at(seconds(1)), kWorldProcess, EventKind::kHarness, count);
  world.schedule(at(seconds(2)), kWorldProcess, EventKind::kHarness, count);
  world.schedule(at(seconds(5)), kWorldProcess, EventKind::kHarness, count);

  CHECK_FALSE(world.run_until(at(milliseconds(1500)), [] { return false; }));
  CHECK(ran == 1);
  CHECK(world.now() == at(seconds(1)));

  CHECK(world.run_until(at(seconds(10)), [&ran] { return ran == 2; }));
  CHECK(world.now() == at(seconds(2)));

  world.run_for(seconds(1));  // nothing due: the clock still moves to the limit
  CHECK(ran == 2);
  CHECK(world.now() == at(seconds(3)));
  world.run_for(seconds(2));  // the event exactly at the limit runs
  CHECK(ran == 3);
  CHECK(world.now() == at(seconds(5)));
}

TEST_CASE("sim/world: a cancelled event never runs, cancelling twice or after it ran is a no-op") {
  SimWorld world(3);
  std::vector<int> ran;
  const EventId a = world.schedule(at(seconds(1)), kWorldProcess, EventKind::kHarness,
                                   [&ran] { ran.push_back(1); });
  const EventId b = world.schedule(at(seconds(2)), kWorldProcess, EventKind::kHarness,
                                   [&ran] { ran.push_back(2); });
  EventId c = 0;
  // An event may cancel a later one at the same instant.
  world.schedule(at(seconds(3)), kWorldProcess, EventKind::kHarness, [&world, &ran, &c] {
    ran.push_back(3);
    world.cancel(c);
  });
  c = world.schedule(at(seconds(3)), kWorldProcess, EventKind::kHarness,
                     [&ran] { ran.push_back(4); });
  world.schedule(at(seconds(4)), kWorldProcess, EventKind::kHarness, [&ran] { ran.push_back(5); });

  world.cancel(b);
  world.cancel(b);
  CHECK(world.events_pending() == 4);
  world.run_for(seconds(1));
  world.cancel(a);  // already ran
  world.run_for(seconds(10));
  CHECK(ran == std::vector<int>{1, 3, 5});
  CHECK(world.events_run() == 3);
  CHECK(world.events_pending() == 0);
}

TEST_CASE("sim/world: a removed process's events never run and its id is never reused") {
  SimWorld world(4);
  asio::io_context io_a;
  asio::io_context io_b;
  const ProcessId a = world.add_process("a", io_a);
  const ProcessId b = world.add_process("b", io_b);
  CHECK(a != b);
  CHECK(world.process_name(b) == "b");
  int ran_a = 0;
  int ran_b = 0;
  for (int i = 1; i <= 3; ++i) {
    world.schedule(at(seconds(i)), a, EventKind::kTimer, [&ran_a] { ++ran_a; });
    world.schedule(at(seconds(i)), b, EventKind::kTimer, [&ran_b] { ++ran_b; });
  }
  world.run_for(milliseconds(1500));
  CHECK(ran_a == 1);
  CHECK(ran_b == 1);

  world.remove_process(a);
  CHECK_FALSE(world.alive(a));
  CHECK(world.alive(b));
  CHECK(world.events_pending() == 2);  // only b's
  world.run_for(seconds(10));
  CHECK(ran_a == 1);
  CHECK(ran_b == 3);

  asio::io_context io_c;
  const ProcessId c = world.add_process("c", io_c);
  CHECK(c != a);
  CHECK(c != b);
  world.remove_process(b);
  world.remove_process(c);
}

TEST_CASE("sim/world: a destroyed SimProcess's pending timers never fire") {
  Bed bed(5);
  SimProcess& p = bed.add("a", "10.0.0.1");
  int fired = 0;
  p.env().clock.call_at(at(seconds(1)), [&fired] { ++fired; });
  p.env().clock.call_at(at(seconds(2)), [&fired] { ++fired; });
  bed.world.run_for(milliseconds(1500));
  CHECK(fired == 1);
  bed.processes.clear();
  CHECK(bed.world.events_pending() == 0);
  bed.world.run_for(seconds(5));
  CHECK(fired == 1);
}

// ---------------------------------------------------------------------------------------------
// Timers and compute on the virtual clock.

struct Wake {
  int tag;
  TimePoint slept_from;
  TimePoint woke_at;
  friend bool operator==(const Wake&, const Wake&) = default;
};

Task<void> sleeper(Env& env, Duration duration, int tag, std::vector<Wake>& woke) {
  const TimePoint from = env.clock.now();
  co_await sleep_for(env.clock, duration);
  woke.push_back(Wake{tag, from, env.clock.now()});
}

TEST_CASE(
    "sim/world: sleep_for advances virtual time exactly, in deadline order across processes") {
  Bed bed(6);
  SimProcess& a = bed.add("a", "10.0.0.1");
  SimProcess& b = bed.add("b", "10.0.0.2");
  std::vector<Wake> woke;
  a.spawn(sleeper(a.env(), seconds(5), 1, woke));
  a.spawn(sleeper(a.env(), seconds(2), 2, woke));
  b.spawn(sleeper(b.env(), seconds(3), 3, woke));
  a.spawn(sleeper(a.env(), seconds(5), 4, woke));  // same deadline as tag 1: runs after it
  b.spawn(sleeper(b.env(), Duration::zero(), 5, woke));

  REQUIRE(bed.run(hours(1)));
  const TimePoint zero = at(Duration::zero());
  const std::vector<Wake> expected{{5, zero, zero},
                                   {2, zero, at(seconds(2))},
                                   {3, zero, at(seconds(3))},
                                   {1, zero, at(seconds(5))},
                                   {4, zero, at(seconds(5))}};
  CHECK(woke == expected);
  CHECK(bed.world.now() == at(seconds(5)));
  CHECK(bed.world.events_run() == 5);  // one timer event per sleep: no polling, no busy waiting
}

TEST_CASE("sim/world: an hour of virtual sleep completes at once, without waiting on wall time") {
  // A sleep on wall time would outlast this test's CTest timeout (120 s) thirty times over.
  Bed bed(7);
  SimProcess& p = bed.add("a", "10.0.0.1");
  std::vector<Wake> woke;
  p.spawn(sleeper(p.env(), hours(1), 1, woke));
  REQUIRE(bed.run(hours(2)));
  REQUIRE(woke.size() == 1);
  CHECK(woke[0].woke_at == at(hours(1)));
  CHECK(bed.world.now() == at(hours(1)));
}

TEST_CASE("sim/world: Clock::call_at fires at its deadline (a past one at once) unless cancelled") {
  Bed bed(8);
  SimProcess& p = bed.add("a", "10.0.0.1");
  Clock& clock = p.env().clock;
  bed.world.run_for(seconds(10));
  std::vector<std::pair<int, int64_t>> fired;  // (tag, ms)
  auto record = [&fired, &clock](int tag) {
    return [&fired, &clock, tag] { fired.emplace_back(tag, ms_of(clock.now())); };
  };
  clock.call_at(at(seconds(1)), record(1));  // in the past
  const TimerId cancelled = clock.call_at(at(seconds(12)), record(2));
  const TimerId later = clock.call_at(at(seconds(11)), record(3));
  CHECK(cancelled != later);
  clock.cancel(cancelled);
  bed.world.run_for(seconds(5));
  clock.cancel(later);  // already fired: no-op
  const std::vector<std::pair<int, int64_t>> expected{{1, 10000}, {3, 11000}};
  CHECK(fired == expected);
}

Task<void> compute_twice(Env& env, std::vector<std::pair<int, TimePoint>>& done) {
  for (int i = 0; i < 2; ++i) {
    auto work = [i] { return i * 10; };
    const int value = co_await async::run_compute(env.compute, std::move(work));
    done.emplace_back(value, env.clock.now());
  }
}

TEST_CASE("sim/world: compute jobs run one at a time, each charged its simulated cost") {
  Bed bed(9);
  SimProcess& p = bed.add("a", "10.0.0.1");
  std::vector<std::pair<int, TimePoint>> first;
  std::vector<std::pair<int, TimePoint>> second;
  p.spawn(compute_twice(p.env(), first));
  p.spawn(compute_twice(p.env(), second));
  REQUIRE(bed.run(seconds(1)));
  const Duration cost = kComputeJobCostDefault;
  // Both coroutines submit at 0: one core serves 0+1, 1+1, then their second jobs.
  const std::vector<std::pair<int, TimePoint>> expected_first{{0, at(cost)}, {10, at(3 * cost)}};
  const std::vector<std::pair<int, TimePoint>> expected_second{{0, at(2 * cost)},
                                                               {10, at(4 * cost)}};
  CHECK(first == expected_first);
  CHECK(second == expected_second);
  CHECK(p.env().compute.threads() == 1);
}

// ---------------------------------------------------------------------------------------------
// Fault plan and determinism.

TEST_CASE("sim/world: FaultPlan fires at its probability, counts by site, and stops once healed") {
  Bed bed(10);
  SimProcess& p = bed.add("a", "10.0.0.1");
  FaultPoints& faults = p.env().faults;
  bed.plan.at(FaultSite::kProcessCrash) = 1.0;
  bed.plan.at(FaultSite::kDiskBitRot) = 0.25;
  int bit_rot = 0;
  for (int i = 0; i < 4000; ++i) {
    CHECK(faults.fire(FaultSite::kProcessCrash));
    CHECK_FALSE(faults.fire(FaultSite::kNetDrop));  // off
    if (faults.fire(FaultSite::kDiskBitRot)) ++bit_rot;
  }
  CHECK(bit_rot > 800);
  CHECK(bit_rot < 1200);
  CHECK(bed.plan.fired_count(FaultSite::kProcessCrash) == 4000);
  CHECK(bed.plan.fired_count(FaultSite::kDiskBitRot) == static_cast<uint64_t>(bit_rot));
  CHECK(bed.plan.fired_count(FaultSite::kNetDrop) == 0);
  CHECK(bed.plan.fired_total() == 4000 + static_cast<uint64_t>(bit_rot));
  CHECK(bed.plan.fired_summary() ==
        "disk_bit_rot=" + std::to_string(bit_rot) + " process_crash=4000");
  bed.plan.healed = true;
  CHECK_FALSE(faults.fire(FaultSite::kProcessCrash));
  CHECK(bed.plan.fired_count(FaultSite::kProcessCrash) == 4000);
}

struct WorkloadOutcome {
  uint64_t trace_hash = 0;
  uint64_t events_run = 0;
  TimePoint finished_at{};
  uint64_t bytes_received = 0;
  uint64_t checksum = 0;  // of everything the server received and the client read back
};

Task<void> workload_server(Env& env, WorkloadOutcome& out) {
  const Address address{"10.0.0.2", 7000};
  Result<std::unique_ptr<Listener>> listener = env.network.listen(address);
  if (!listener.ok()) co_return;
  Result<std::unique_ptr<Stream>> stream = co_await (*listener)->accept();
  if (!stream.ok()) co_return;
  std::vector<uint8_t> buffer(256 * 1024);
  for (;;) {
    const size_t want = 1 + env.rng.below(buffer.size());
    const std::span<uint8_t> chunk(buffer.data(), want);
    Result<size_t> n = co_await (*stream)->read_some(chunk);
    if (!n.ok()) break;
    out.bytes_received += *n;
    for (size_t i = 0; i < *n; ++i) out.checksum = out.checksum * 31 + buffer[i];
  }
}

Task<void> workload_client(Env& env, WorkloadOutcome& out) {
  co_await sleep_for(env.clock, microseconds(env.rng.below(5000)));
  const Address server{"10.0.0.2", 7000};
  Result<std::unique_ptr<Stream>> stream = co_await env.network.connect(server, seconds(10));
  if (!stream.ok()) co_return;
  const FileOptions create{.create = true};
  Result<std::unique_ptr<File>> file = co_await env.storage.open("/log", create);
  if (!file.ok()) co_return;
  uint64_t offset = 0;
  for (int i = 0; i < 8; ++i) {
    std::vector<uint8_t> bytes(1 + env.rng.below(512 * 1024));
    env.rng.fill(bytes);
    const std::array<std::span<const uint8_t>, 1> buffers{std::span<const uint8_t>(bytes)};
    if (!(co_await (*stream)->write_all(buffers)).ok()) co_return;
    if (!(co_await (*file)->write_at(offset, bytes)).ok()) co_return;
    offset += bytes.size();
    co_await sleep_for(env.clock, microseconds(env.rng.below(2000)));
  }
  if (!(co_await (*file)->flush()).ok()) co_return;
  std::vector<uint8_t> back(offset);
  if (!(co_await (*file)->read_at(0, back)).ok()) co_return;
  for (uint8_t byte : back) out.checksum = out.checksum * 31 + byte;
}

WorkloadOutcome run_workload(uint64_t seed) {
  WorkloadOutcome out;
  Bed bed(seed);
  bed.plan.at(FaultSite::kNetDrop) = 0.05;
  bed.plan.at(FaultSite::kNetReorder) = 0.2;
  bed.plan.at(FaultSite::kNetDuplicate) = 0.05;
  bed.plan.at(FaultSite::kNetDelay) = 0.02;
  bed.plan.at(FaultSite::kDiskHang) = 0.05;
  SimProcess& server = bed.add("server", "10.0.0.2");
  SimProcess& client = bed.add("client", "10.0.0.1");
  server.spawn(workload_server(server.env(), out));
  client.spawn(workload_client(client.env(), out));
  // The server reads until the client's stream closes (client finished and destroyed it).
  const bool finished = bed.run(seconds(60));
  CHECK(finished);
  out.finished_at = bed.world.now();
  out.trace_hash = bed.world.trace_hash();
  out.events_run = bed.world.events_run();
  return out;
}

// The hash of a world that ran one event of `kind` at `when`.
uint64_t hash_of_one_event(Duration when, EventKind kind) {
  SimWorld world(42);
  world.schedule(at(when), kWorldProcess, kind, [] {});
  world.run_for(seconds(10));
  return world.trace_hash();
}

TEST_CASE("sim/world: the trace hash records when and what ran, not only the seed") {
  const uint64_t base = hash_of_one_event(seconds(1), EventKind::kHarness);
  CHECK(base == hash_of_one_event(seconds(1), EventKind::kHarness));
  CHECK(base != hash_of_one_event(seconds(2), EventKind::kHarness));
  CHECK(base != hash_of_one_event(seconds(1), EventKind::kTimer));
  SimWorld idle(42);
  idle.run_for(seconds(10));
  CHECK(base != idle.trace_hash());
}

TEST_CASE("sim/world: the same seed replays the same trace, another seed diverges") {
  const uint64_t seed = seed_from_env();
  MESSAGE("seed " << seed << " (set SPLITARRAY_SEED to replay)");
  const WorkloadOutcome first = run_workload(seed);
  const WorkloadOutcome again = run_workload(seed);
  CHECK(first.bytes_received > 0);
  CHECK(first.trace_hash == again.trace_hash);
  CHECK(first.events_run == again.events_run);
  CHECK(first.finished_at == again.finished_at);
  CHECK(first.bytes_received == again.bytes_received);
  CHECK(first.checksum == again.checksum);

  const WorkloadOutcome other = run_workload(seed + 1);
  CHECK(other.trace_hash != first.trace_hash);
  CHECK(other.bytes_received != first.bytes_received);  // random sizes: equal almost never
}

}  // namespace
}  // namespace splitarray::sim
