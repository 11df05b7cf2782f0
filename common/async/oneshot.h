// common/async/oneshot.h
// Oneshot<T>: a value delivered once to at most one waiting coroutine. The building block for
// request completion, timers and compute results. Single-threaded: set() and wait() run on the
// owning executor (results from other threads are posted there first).
// Invariants: set() is called at most once; at most one wait() is outstanding.
#pragma once

#include <optional>
#include <utility>

#include "common/async/erased_handler.h"

namespace splitarray::async {

template <class T>
class Oneshot {
 public:
  Oneshot() = default;
  Oneshot(const Oneshot&) = delete;
  Oneshot& operator=(const Oneshot&) = delete;

  bool is_set() const { return set_; }

  void set(T value) {
    ASSERT_MSG(!set_, "Oneshot set twice");
    set_ = true;
    if (waiter_) {
      waiter_.complete(std::move(value));
    } else {
      value_.emplace(std::move(value));
    }
  }

  // Resumes with the value once set (immediately, via post, if already set).
  Task<T> wait() {
    ASSERT_MSG(!waiting_, "two waiters on one Oneshot");
    waiting_ = true;
    if (value_.has_value()) {
      T v = std::move(*value_);
      value_.reset();
      co_return v;
    }
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
        [this](auto handler) { waiter_ = ErasedHandler<T>(std::move(handler)); },
        asio::use_awaitable);
  }

 private:
  bool set_ = false;
  bool waiting_ = false;
  std::optional<T> value_;
  ErasedHandler<T> waiter_;
};

}  // namespace splitarray::async
