// common/async/notify.h
// Notify: wakes one waiting coroutine; a notify() with no waiter leaves a single permit that the
// next wait() consumes at once (several notifies coalesce into one permit). Used for worker loops
// ("there is more in the queue") and for join points.
#pragma once

#include "common/async/erased_handler.h"

namespace splitarray::async {

class Notify {
 public:
  Notify() = default;
  Notify(const Notify&) = delete;
  Notify& operator=(const Notify&) = delete;

  void notify() {
    if (waiter_) {
      waiter_.complete(true);
    } else {
      permit_ = true;
    }
  }

  Task<void> wait() {
    ASSERT_MSG(!waiter_, "two waiters on one Notify");
    if (permit_) {
      permit_ = false;
      co_return;
    }
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(bool)>(
        [this](auto handler) { waiter_ = ErasedHandler<bool>(std::move(handler)); },
        asio::use_awaitable);
  }

  bool has_waiter() const { return static_cast<bool>(waiter_); }

 private:
  bool permit_ = false;
  ErasedHandler<bool> waiter_;
};

}  // namespace splitarray::async
