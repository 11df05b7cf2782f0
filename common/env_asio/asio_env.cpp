#include "common/env_asio/asio_env.h"

#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "common/env_asio/asio_clock.h"
#include "common/env_asio/asio_network.h"
#include "common/env_asio/posix_storage.h"
#include "common/env_asio/thread_pool_compute.h"

namespace splitarray {
namespace {

class StderrLogSink final : public LogSink {
 public:
  void write(LogLevel /*level*/, std::string_view line) override {
    std::lock_guard<std::mutex> lock(mutex_);  // several event-loop threads may share stderr
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  std::mutex mutex_;
};

size_t default_compute_threads() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

}  // namespace

struct AsioEnv::Parts {
  Parts(asio::io_context& io, const AsioEnvOptions& options)
      : clock(io),
        bulk_send(options.bulk_send_threads > 0
                      ? std::make_unique<ThreadPoolCompute>(io, options.bulk_send_threads)
                      : nullptr),
        network(io, bulk_send.get()),
        blocking_io(io, options.blocking_io_threads),
        storage(blocking_io),
        compute(io, options.compute_threads > 0 ? options.compute_threads
                                                : default_compute_threads()) {}
  AsioClock clock;
  std::unique_ptr<ThreadPoolCompute> bulk_send;  // before network, which keeps a pointer to it
  AsioNetwork network;
  ThreadPoolCompute blocking_io;
  PosixStorage storage;
  ThreadPoolCompute compute;
  NoFaults faults;
  StderrLogSink sink;
};

AsioEnv::AsioEnv(asio::io_context& io, AsioEnvOptions options)
    : parts_(std::make_unique<Parts>(io, options)) {
  const uint64_t seed =
      options.seed.has_value()
          ? *options.seed
          : (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  env_ = std::unique_ptr<Env>(new Env{
      io, parts_->clock, parts_->network, parts_->storage, parts_->compute, parts_->faults,
      Logger(&parts_->clock, parts_->sink, options.log_level, options.component), Prng(seed)});
}

AsioEnv::~AsioEnv() {
  parts_->compute.join();
  parts_->blocking_io.join();
  if (parts_->bulk_send) parts_->bulk_send->join();
}

}  // namespace splitarray
