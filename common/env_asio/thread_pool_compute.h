// common/env_asio/thread_pool_compute.h
// ComputePool on an asio::thread_pool; completions are posted back to the event loop. Also used
// as the blocking-I/O pool for files.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include "common/env.h"

namespace splitarray {

class ThreadPoolCompute final : public ComputePool {
 public:
  ThreadPoolCompute(asio::io_context& io, size_t threads);
  ~ThreadPoolCompute() override;
  void submit(UniqueFunction<void()> work, UniqueFunction<void()> done) override;
  size_t threads() const override { return threads_; }
  // Waits for queued work to finish; later submits are a bug.
  void join();

 private:
  asio::io_context& io_;
  size_t threads_;
  asio::thread_pool pool_;
  bool joined_ = false;
};

}  // namespace splitarray
