// tests/unit/common/event_loop_test.cpp
// run_event_loop (common/env_asio/event_loop.h): with and without polling it runs every handler,
// in order, including ones that arrive from another thread or from a timer after the polling
// window, and returns exactly when the io_context stops (out of work, or stop()).
#include <doctest/doctest.h>

#include <utility>  // before Asio (STYLE.md)

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "common/env_asio/event_loop.h"

namespace splitarray {
namespace {

namespace asio = boost::asio;

const Duration kPolls[] = {Duration::zero(), std::chrono::microseconds(200)};

TEST_CASE("common/env_asio: the event loop runs chained handlers in order and returns when idle") {
  for (Duration poll : kPolls) {
    CAPTURE(poll.count());
    asio::io_context io;
    std::vector<int> ran;
    // Each handler posts the next: the loop must keep going through work that ready work makes.
    std::function<void(int)> step = [&](int n) {
      ran.push_back(n);
      if (n < 99) asio::post(io, [&step, n] { step(n + 1); });
    };
    asio::post(io, [&step] { step(0); });
    run_event_loop(io, poll);
    REQUIRE(ran.size() == 100);
    for (int i = 0; i < 100; ++i) CHECK(ran[static_cast<size_t>(i)] == i);
    CHECK(io.stopped());
  }
}

TEST_CASE("common/env_asio: the event loop wakes for a timer after the polling window") {
  for (Duration poll : kPolls) {
    CAPTURE(poll.count());
    asio::io_context io;
    asio::steady_timer timer(io);
    // 20 ms is far beyond the 200 us window: the loop has stopped polling and blocks.
    timer.expires_after(std::chrono::milliseconds(20));
    bool fired = false;
    timer.async_wait([&](const boost::system::error_code& error) { fired = !error; });
    const auto start = std::chrono::steady_clock::now();
    run_event_loop(io, poll);
    CHECK(fired);
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(20));
  }
}

TEST_CASE("common/env_asio: the event loop runs what another thread posts, then stops on stop()") {
  for (Duration poll : kPolls) {
    CAPTURE(poll.count());
    asio::io_context io;
    auto guard = asio::make_work_guard(io);  // work outstanding: only stop() ends the loop
    constexpr int kPosts = 1000;
    std::vector<int> ran;
    std::thread producer([&] {
      for (int i = 0; i < kPosts; ++i) asio::post(io, [&ran, i] { ran.push_back(i); });
      asio::post(io, [&io] { io.stop(); });
    });
    run_event_loop(io, poll);
    producer.join();
    CHECK(io.stopped());
    REQUIRE(ran.size() == kPosts);  // posts from one thread run in the order they were made
    for (int i = 0; i < kPosts; ++i) CHECK(ran[static_cast<size_t>(i)] == i);
  }
}

}  // namespace
}  // namespace splitarray
