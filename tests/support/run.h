// tests/support/run.h
// Runs a coroutine to completion on an io_context from synchronous test code.
#pragma once

#include <exception>
#include <optional>

#include "common/asio.h"
#include "common/assert.h"

namespace splitarray::testing {

template <class T>
T run_task(asio::io_context& io, Task<T> task) {
  std::optional<T> out;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) out.emplace(std::move(value));
  });
  io.restart();
  io.run();
  if (error) std::rethrow_exception(error);
  ASSERT_MSG(out.has_value(), "task did not complete: the io_context ran out of work");
  return std::move(*out);
}

inline void run_task(asio::io_context& io, Task<void> task) {
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  io.restart();
  io.run();
  if (error) std::rethrow_exception(error);
  ASSERT_MSG(done, "task did not complete: the io_context ran out of work");
}

}  // namespace splitarray::testing
