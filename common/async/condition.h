// common/async/condition.h
// Condition: a coroutine condition variable. wait() suspends until the next notify_all(); every
// waiter present at that moment resumes (in the order it started waiting). Waiters re-check
// their predicate in a loop, so spurious wake-ups are harmless:
//   while (!ready()) co_await condition.wait();
// Unlike Notify there is no permit: a notify_all() with no waiters is lost, which is what a
// predicate loop wants. Single-threaded: every call on the owning event loop.
#pragma once

#include <utility>
#include <vector>

#include "common/async/erased_handler.h"

namespace splitarray::async {

class Condition {
 public:
  Condition() = default;
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;
  ~Condition() { ASSERT_MSG(waiters_.empty(), "Condition destroyed with waiters"); }

  Task<void> wait() {
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(bool)>(
        [this](auto handler) { waiters_.emplace_back(std::move(handler)); }, asio::use_awaitable);
  }

  // Resumes every current waiter (posted, never inline).
  void notify_all() {
    std::vector<ErasedHandler<bool>> waking = std::exchange(waiters_, {});
    for (auto& waiter : waking) waiter.complete(true);
  }

  size_t waiters() const { return waiters_.size(); }

 private:
  std::vector<ErasedHandler<bool>> waiters_;
};

}  // namespace splitarray::async
