// common/async/yield.h
// yield_to_loop(): lets every other ready coroutine of the event loop run before the caller goes
// on (the caller is queued behind them, FIFO). For long synchronous work on the loop, split into
// steps with a yield between them, so that calls waiting on the loop are not held up for the
// whole of it.
#pragma once

#include "common/asio.h"

namespace splitarray::async {

inline Task<void> yield_to_loop() {
  auto executor = co_await asio::this_coro::executor;
  co_await asio::post(executor, asio::use_awaitable);
}

}  // namespace splitarray::async
