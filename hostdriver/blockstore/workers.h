// hostdriver/blockstore/workers.h
// Workers: the state CPU work needs (a Fingerprinter, a ChunkCodec and an ErasureCode each own
// contexts that must not be shared between threads). kWorkersPerComputeThread per compute thread
// (block_store_impl.h says why several) plus one for work done inline on the event loop. A job
// takes a worker before it is submitted and gives it back when it completes, so no two threads
// ever use one worker at once. Threading: acquire/release on the event loop.
#pragma once

#include <memory>
#include <vector>

#include "common/async/condition.h"
#include "hostdriver/chunk/chunk_codec.h"
#include "hostdriver/chunk/fingerprinter.h"
#include "hostdriver/ec/erasure_code.h"

namespace splitarray::hostdriver::blockstore {

struct Worker {
  Worker(const chunk::FingerprinterOptions& options, ec::ErasureCode code)
      : fingerprinter(options), erasure(std::move(code)) {}
  chunk::Fingerprinter fingerprinter;
  chunk::ChunkCodec codec;
  ec::ErasureCode erasure;
};

class Workers final {
 public:
  Workers(size_t count, const chunk::FingerprinterOptions& options, int k, int m);
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  // A worker for a compute job (waits while all are busy).
  Task<Worker*> acquire();
  void release(Worker* worker);
  // The event loop's own worker, for small jobs done inline.
  Worker& inline_worker() { return *inline_; }

 private:
  std::vector<std::unique_ptr<Worker>> all_;
  std::vector<Worker*> free_;
  std::unique_ptr<Worker> inline_;
  async::Condition released_;
};

}  // namespace splitarray::hostdriver::blockstore
