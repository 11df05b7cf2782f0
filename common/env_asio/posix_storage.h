// common/env_asio/posix_storage.h
// Files and block devices with POSIX pread/pwrite/fdatasync, run on a blocking-I/O thread pool so
// the event loop never blocks on a disk. Durability rules:
//   - flush() is fdatasync; a failed flush marks the File failed for good (after an fsync error
//     Linux may have dropped the dirty pages and clears the error, so retrying proves nothing).
//   - creating, renaming or removing a file also fsyncs its directory.
#pragma once

#include "common/env.h"
#include "common/env_asio/thread_pool_compute.h"

namespace splitarray {

class PosixStorage final : public Storage {
 public:
  explicit PosixStorage(ThreadPoolCompute& blocking_io) : blocking_io_(blocking_io) {}
  Task<Result<std::unique_ptr<File>>> open(const std::string& path, FileOptions options) override;
  Task<Result<void>> rename(const std::string& from, const std::string& to) override;
  Task<Result<void>> remove(const std::string& path) override;
  Task<Result<void>> make_directory(const std::string& path) override;

 private:
  ThreadPoolCompute& blocking_io_;
};

}  // namespace splitarray
