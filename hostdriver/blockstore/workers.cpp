// hostdriver/blockstore/workers.cpp
#include "hostdriver/blockstore/workers.h"

namespace splitarray::hostdriver::blockstore {
namespace {

std::unique_ptr<Worker> make_worker(const chunk::FingerprinterOptions& options, int k, int m) {
  auto code = ec::ErasureCode::create(k, m);
  ASSERT_MSG(code.ok(), "erasure code parameters are validated with the config");
  return std::make_unique<Worker>(options, std::move(code).value());
}

}  // namespace

Workers::Workers(size_t count, const chunk::FingerprinterOptions& options, int k, int m) {
  ASSERT(count >= 1);
  for (size_t i = 0; i < count; ++i) {
    all_.push_back(make_worker(options, k, m));
    free_.push_back(all_.back().get());
  }
  inline_ = make_worker(options, k, m);
}

Task<Worker*> Workers::acquire() {
  while (free_.empty()) co_await released_.wait();
  Worker* worker = free_.back();
  free_.pop_back();
  co_return worker;
}

void Workers::release(Worker* worker) {
  ASSERT(worker != nullptr);
  free_.push_back(worker);
  ASSERT(free_.size() <= all_.size());
  released_.notify_all();
}

}  // namespace splitarray::hostdriver::blockstore
