#include "common/env_asio/thread_pool_compute.h"

#include <memory>

namespace splitarray {

ThreadPoolCompute::ThreadPoolCompute(asio::io_context& io, size_t threads)
    : io_(io), threads_(threads), pool_(threads) {
  ASSERT(threads > 0);
}

ThreadPoolCompute::~ThreadPoolCompute() { join(); }

void ThreadPoolCompute::join() {
  if (joined_) return;
  joined_ = true;
  pool_.join();
}

void ThreadPoolCompute::submit(UniqueFunction<void()> work, UniqueFunction<void()> done) {
  ASSERT_MSG(!joined_, "submit after join");
  // asio::post copies handlers in 1.74, so carry the move-only functions in a shared box.
  struct Job {
    UniqueFunction<void()> work;
    UniqueFunction<void()> done;
  };
  auto job = std::make_shared<Job>(Job{std::move(work), std::move(done)});
  asio::post(pool_, [job, executor = io_.get_executor()] {
    job->work();
    asio::post(executor, [job] { job->done(); });
  });
}

}  // namespace splitarray
