// common/env_asio/asio_env.h
// The production Env: Boost.Asio event loop, steady clock, real TCP, real files (pread/pwrite +
// fdatasync on a blocking-I/O thread pool), a thread-pool compute pool, logs to stderr.
//
// Lifetime: construct on the thread that runs `io`; destroy after io.run() has returned. The
// destructor joins the pools first, so no work finishes into a destroyed coroutine frame.
#pragma once

#include <memory>
#include <optional>

#include "common/env.h"

namespace splitarray {

struct AsioEnvOptions {
  size_t compute_threads = 0;      // 0: one per core, at least 1
  size_t blocking_io_threads = 4;  // pread/pwrite/fdatasync run here
  // Large socket writes are copied into the kernel here (asio_network.h); 0: all on the loop.
  size_t bulk_send_threads = 2;
  LogLevel log_level = LogLevel::kInfo;
  std::string component = "";
  std::optional<uint64_t> seed = std::nullopt;  // default: from the OS
};

class AsioEnv final {
 public:
  AsioEnv(asio::io_context& io, AsioEnvOptions options);
  ~AsioEnv();
  AsioEnv(const AsioEnv&) = delete;
  AsioEnv& operator=(const AsioEnv&) = delete;

  Env& env() { return *env_; }

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
  std::unique_ptr<Env> env_;
};

}  // namespace splitarray
