#include "common/env_asio/posix_storage.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/async/compute.h"

namespace splitarray {
namespace {

Error errno_error(Code code, std::string_view what, const std::string& path, int err) {
  return make_error(code, std::string(what) + " " + path + ": " + std::strerror(err));
}

std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Makes a directory entry change durable. Runs on the blocking-I/O pool.
Result<void> sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error(Code::kIo, "open dir", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return errno_error(Code::kIo, "fsync dir", dir, err);
  return ok_result();
}

class PosixFile final : public File {
 public:
  PosixFile(ThreadPoolCompute& pool, int fd, std::string path)
      : pool_(pool), fd_(fd), path_(std::move(path)) {
    ASSERT(fd_ >= 0);
  }
  ~PosixFile() override { ::close(fd_); }

  Task<Result<void>> read_at(uint64_t offset, std::span<uint8_t> out) override {
    if (failed_) co_return failed_error();
    const int fd = fd_;
    const std::string& path = path_;
    auto work = [fd, offset, out, &path]() -> Result<void> {
      size_t done = 0;
      while (done < out.size()) {
        const ssize_t n =
            ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_error(Code::kIo, "pread", path, errno);
        if (n == 0) return make_error(Code::kIo, "short read (past end) in " + path);
        done += static_cast<size_t>(n);
      }
      return ok_result();
    };
    co_return co_await async::run_compute(pool_, std::move(work));
  }

  Task<Result<void>> write_at(uint64_t offset, std::span<const uint8_t> data) override {
    if (failed_) co_return failed_error();
    const int fd = fd_;
    const std::string& path = path_;
    auto work = [fd, offset, data, &path]() -> Result<void> {
      size_t done = 0;
      while (done < data.size()) {
        const ssize_t n =
            ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
          return errno_error(errno == ENOSPC ? Code::kNoSpace : Code::kIo, "pwrite", path, errno);
        done += static_cast<size_t>(n);
      }
      return ok_result();
    };
    co_return co_await async::run_compute(pool_, std::move(work));
  }

  Task<Result<void>> flush() override {
    if (failed_) co_return failed_error();
    const int fd = fd_;
    const std::string& path = path_;
    auto work = [fd, &path]() -> Result<void> {
      if (::fdatasync(fd) != 0) return errno_error(Code::kIo, "fdatasync", path, errno);
      return ok_result();
    };
    Result<void> result = co_await async::run_compute(pool_, std::move(work));
    if (!result.ok()) failed_ = true;  // never retry-and-trust an fsync
    co_return result;
  }

  Result<uint64_t> size() const override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return errno_error(Code::kIo, "fstat", path_, errno);
    if (S_ISBLK(st.st_mode)) {
      uint64_t bytes = 0;
      if (::ioctl(fd_, BLKGETSIZE64, &bytes) != 0) {
        return errno_error(Code::kIo, "BLKGETSIZE64", path_, errno);
      }
      return bytes;
    }
    return static_cast<uint64_t>(st.st_size);
  }

  bool failed() const override { return failed_; }
  const std::string& path() const override { return path_; }

 private:
  Error failed_error() const {
    return make_error(Code::kIo, path_ + " failed an earlier flush; its contents are not trusted");
  }

  ThreadPoolCompute& pool_;
  const int fd_;
  const std::string path_;
  bool failed_ = false;
};

}  // namespace

Task<Result<std::unique_ptr<File>>> PosixStorage::open(const std::string& path,
                                                       FileOptions options) {
  struct Opened {
    int fd = -1;
  };
  auto work = [path, options]() -> Result<Opened> {
    int flags = O_RDWR | O_CLOEXEC;
    if (options.create) flags |= O_CREAT;
    const int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) {
      return errno_error(errno == ENOENT ? Code::kNotFound : Code::kIo, "open", path, errno);
    }
    if (options.create && options.create_size_bytes > 0) {
      struct stat st {};
      if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
          static_cast<uint64_t>(st.st_size) < options.create_size_bytes &&
          ::ftruncate(fd, static_cast<off_t>(options.create_size_bytes)) != 0) {
        const int err = errno;
        ::close(fd);
        return errno_error(Code::kIo, "ftruncate", path, err);
      }
    }
    if (options.create) {
      if (::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        return errno_error(Code::kIo, "fsync", path, err);
      }
      Result<void> dir = sync_dir(parent_dir(path));
      if (!dir.ok()) {
        ::close(fd);
        return std::move(dir).take_error();
      }
    }
    return Opened{fd};
  };
  Result<Opened> opened = co_await async::run_compute(blocking_io_, std::move(work));
  if (!opened.ok()) co_return std::move(opened).take_error();
  co_return std::unique_ptr<File>(std::make_unique<PosixFile>(blocking_io_, opened->fd, path));
}

Task<Result<void>> PosixStorage::rename(const std::string& from, const std::string& to) {
  auto work = [from, to]() -> Result<void> {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return errno_error(errno == ENOENT ? Code::kNotFound : Code::kIo, "rename", from, errno);
    }
    RETURN_IF_ERROR(sync_dir(parent_dir(to)));
    if (parent_dir(from) != parent_dir(to)) RETURN_IF_ERROR(sync_dir(parent_dir(from)));
    return ok_result();
  };
  co_return co_await async::run_compute(blocking_io_, std::move(work));
}

Task<Result<void>> PosixStorage::remove(const std::string& path) {
  auto work = [path]() -> Result<void> {
    if (::unlink(path.c_str()) != 0) {
      return errno_error(errno == ENOENT ? Code::kNotFound : Code::kIo, "unlink", path, errno);
    }
    return sync_dir(parent_dir(path));
  };
  co_return co_await async::run_compute(blocking_io_, std::move(work));
}

Task<Result<void>> PosixStorage::make_directory(const std::string& path) {
  auto work = [path]() -> Result<void> {
    // Create each missing component, syncing its parent so the new entry is durable.
    for (size_t at = 1; at <= path.size(); ++at) {
      if (at != path.size() && path[at] != '/') continue;
      const std::string prefix = path.substr(0, at);
      if (::mkdir(prefix.c_str(), 0755) == 0) {
        RETURN_IF_ERROR(sync_dir(parent_dir(prefix)));
      } else if (errno != EEXIST) {
        return errno_error(Code::kIo, "mkdir", prefix, errno);
      }
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return make_error(Code::kInvalidArgument, path + " exists and is not a directory");
    }
    return ok_result();
  };
  co_return co_await async::run_compute(blocking_io_, std::move(work));
}

}  // namespace splitarray
