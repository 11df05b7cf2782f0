// netshelf/nvram/async_gate.h
// AsyncGate: mutual exclusion between coroutines on one event loop (no threads, no locks), FIFO.
// Used to serialize region-header updates of one host (fence raises and trims) and region claims.
// Invariants: at most one holder; unlock() hands the gate straight to the oldest waiter.
#pragma once

#include <deque>

#include "common/async/oneshot.h"

namespace splitarray::netshelf::nvram {

class AsyncGate {
 public:
  AsyncGate() = default;
  AsyncGate(const AsyncGate&) = delete;
  AsyncGate& operator=(const AsyncGate&) = delete;
  ~AsyncGate() { ASSERT_MSG(!held_ && waiters_.empty(), "AsyncGate destroyed while in use"); }

  Task<void> lock() {
    if (!held_) {
      held_ = true;
      co_return;
    }
    async::Oneshot<bool> turn;
    waiters_.push_back(&turn);
    const bool granted = co_await turn.wait();
    ASSERT(granted && held_);
  }

  void unlock() {
    ASSERT(held_);
    if (waiters_.empty()) {
      held_ = false;
      return;
    }
    async::Oneshot<bool>* next = waiters_.front();
    waiters_.pop_front();
    next->set(true);  // held_ stays true: ownership passes to `next`
  }

 private:
  bool held_ = false;
  std::deque<async::Oneshot<bool>*> waiters_;
};

}  // namespace splitarray::netshelf::nvram
