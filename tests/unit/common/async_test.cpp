#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/async/compute.h"
#include "common/async/oneshot.h"
#include "common/async/task_group.h"
#include "common/async/yield.h"
#include "common/env_asio/asio_env.h"
#include "tests/support/run.h"

namespace splitarray {
namespace {

using testing::run_task;

Task<void> wait_and_record(async::Oneshot<int>& shot, std::vector<int>& out) {
  out.push_back(co_await shot.wait());
}

Task<void> set_later(async::Oneshot<int>& shot, int value) {
  shot.set(value);
  co_return;
}

Task<void> steps_with_yields(std::vector<std::string>& out, std::string name, int steps) {
  for (int i = 0; i < steps; ++i) {
    if (i > 0) co_await async::yield_to_loop();
    out.push_back(name + std::to_string(i));
  }
}

TEST_CASE("common/async: Oneshot delivers to a waiter that came first or second") {
  asio::io_context io;
  std::vector<int> out;
  async::Oneshot<int> early, late;
  late.set(2);  // value before waiter
  auto both = [&]() -> Task<void> {
    async::TaskGroup group;
    group.spawn(io.get_executor(), wait_and_record(early, out));
    group.spawn(io.get_executor(), set_later(early, 1));
    co_await group.join();
    co_await wait_and_record(late, out);
  };
  run_task(io, both());
  CHECK(out == std::vector<int>{1, 2});
}

Task<void> count_wakeups(async::Notify& notify, int& wakeups, int wanted) {
  while (wakeups < wanted) {
    co_await notify.wait();
    ++wakeups;
  }
}

TEST_CASE("common/async: yield_to_loop lets every ready coroutine run before going on") {
  asio::io_context io;
  std::vector<std::string> out;
  auto body = [&]() -> Task<void> {
    async::TaskGroup group;
    group.spawn(io.get_executor(), steps_with_yields(out, "a", 3));
    group.spawn(io.get_executor(), steps_with_yields(out, "b", 2));
    co_await group.join();
  };
  run_task(io, body());
  // Without the yields a would run all its steps before b started.
  CHECK(out == std::vector<std::string>{"a0", "b0", "a1", "b1", "a2"});
}

TEST_CASE("common/async: Notify keeps one permit and coalesces repeated notifies") {
  asio::io_context io;
  async::Notify notify;
  notify.notify();
  notify.notify();  // coalesced with the first
  int wakeups = 0;
  run_task(io, count_wakeups(notify, wakeups, 1));
  CHECK(wakeups == 1);
  CHECK_FALSE(notify.has_waiter());
}

Task<void> sleeper(Clock& clock, Duration d, std::vector<int>& order, int id) {
  co_await sleep_for(clock, d);
  order.push_back(id);
}

TEST_CASE("common/async: TaskGroup joins all tasks, timers fire in deadline order") {
  asio::io_context io;
  AsioEnv asio_env(io, AsioEnvOptions{.compute_threads = 2});
  Env& env = asio_env.env();
  std::vector<int> order;
  auto body = [&]() -> Task<void> {
    async::TaskGroup group;
    group.spawn(io.get_executor(), sleeper(env.clock, std::chrono::milliseconds(30), order, 3));
    group.spawn(io.get_executor(), sleeper(env.clock, std::chrono::milliseconds(10), order, 1));
    group.spawn(io.get_executor(), sleeper(env.clock, std::chrono::milliseconds(20), order, 2));
    CHECK(group.live() == 3);
    co_await group.join();
    CHECK(group.live() == 0);
  };
  const TimePoint start = env.clock.now();
  run_task(io, body());
  CHECK(order == std::vector<int>{1, 2, 3});
  CHECK(env.clock.now() - start >= std::chrono::milliseconds(30));
}

TEST_CASE("common/async: a cancelled timer never runs") {
  asio::io_context io;
  AsioEnv asio_env(io, AsioEnvOptions{});
  Env& env = asio_env.env();
  int fired = 0;
  const TimerId cancelled = env.clock.call_at(env.clock.now(), [&] { fired += 100; });
  env.clock.call_at(env.clock.now() + std::chrono::milliseconds(5), [&] { fired += 1; });
  env.clock.cancel(cancelled);
  env.clock.cancel(cancelled);  // idempotent
  io.run();
  CHECK(fired == 1);
}

TEST_CASE("common/async: run_compute runs work off the loop and resumes on it") {
  asio::io_context io;
  AsioEnv asio_env(io, AsioEnvOptions{.compute_threads = 2});
  Env& env = asio_env.env();
  auto body = [&]() -> Task<uint64_t> {
    uint64_t total = 0;
    for (uint64_t i = 1; i <= 100; ++i) {
      auto square = [i] { return i * i; };  // named: see README "GCC 12 coroutine rule"
      total += co_await async::run_compute(env.compute, std::move(square));
    }
    co_return total;
  };
  CHECK(run_task(io, body()) == 338350);
}

}  // namespace
}  // namespace splitarray
