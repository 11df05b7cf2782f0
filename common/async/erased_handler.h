// common/async/erased_handler.h
// Type-erased, move-only storage for one Asio completion handler (Boost 1.74 has no
// any_completion_handler). complete() never runs the handler inline: it posts it to the handler's
// associated executor, so whoever completes an operation is never re-entered by its waiter.
#pragma once

#include <memory>
#include <tuple>
#include <utility>

#include "common/asio.h"
#include "common/assert.h"

namespace splitarray::async {

template <class... Args>
class ErasedHandler {
 public:
  ErasedHandler() = default;
  template <class Handler>
  explicit ErasedHandler(Handler&& handler)
      : impl_(std::make_unique<Impl<std::decay_t<Handler>>>(std::forward<Handler>(handler))) {}

  explicit operator bool() const { return impl_ != nullptr; }

  // Posts the handler with args; afterwards this object is empty.
  void complete(Args... args) {
    ASSERT_MSG(impl_ != nullptr, "completing an empty handler");
    std::unique_ptr<Base> impl = std::move(impl_);
    impl->post(std::move(args)...);
  }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void post(Args... args) = 0;
  };
  template <class Handler>
  struct Impl final : Base {
    explicit Impl(Handler&& h) : handler(std::move(h)) {}
    void post(Args... args) override {
      auto executor = asio::get_associated_executor(handler);
      asio::post(executor, [h = std::move(handler), ... a = std::move(args)]() mutable {
        std::move(h)(std::move(a)...);
      });
    }
    Handler handler;
  };
  std::unique_ptr<Base> impl_;
};

}  // namespace splitarray::async
