// common/async/compute.h
// run_compute(pool, fn): runs fn on the compute pool and resumes the caller on its event loop
// with fn's result. fn owns what it touches (capture by value or keep it alive across the await).
// GCC 12 destroys a capturing lambda temporary created inside a co_await expression twice, so
// always name the lambda first:  auto work = [..]{..}; co_await run_compute(pool, std::move(work));
#pragma once

#include <optional>
#include <type_traits>

#include "common/async/oneshot.h"
#include "common/env.h"

namespace splitarray::async {

template <class F>
Task<std::invoke_result_t<F>> run_compute(ComputePool& pool, F fn) {
  using R = std::invoke_result_t<F>;
  static_assert(!std::is_void_v<R>, "return a value (e.g. Result<void>) from compute work");
  std::optional<R> result;
  Oneshot<bool> done;
  pool.submit([&result, f = std::move(fn)]() mutable { result.emplace(f()); },
              [&done] { done.set(true); });
  co_await done.wait();
  ASSERT(result.has_value());
  co_return std::move(*result);
}

}  // namespace splitarray::async
