#include "tests/bench/datapath_shelf.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "common/env_asio/asio_env.h"
#include "protocol/shelf_client.h"
#include "tests/bench/bench_report.h"

namespace splitarray::bench {
namespace {

constexpr std::chrono::seconds kStartTimeout{20};
constexpr std::chrono::seconds kStopTimeout{60};
constexpr std::chrono::milliseconds kPollInterval{20};
constexpr int kStatUtimeField = 14;  // proc(5): utime and stime, in clock ticks
constexpr int kStatStimeField = 15;

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

pid_t spawn(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) fail(errno_text("open " + log_path));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) fail(errno_text("fork"));
  if (pid == 0) {  // child: async-signal-safe calls only
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  return pid;
}

// Exit status (128 + signal when killed), or -1 if still running at the deadline.
int wait_exit(pid_t pid, std::chrono::seconds timeout) {
  const auto give_up = BenchClock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t got = ::waitpid(pid, &status, WNOHANG);
    if (got == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
    }
    if (got < 0 && errno != EINTR) fail(errno_text("waitpid"));
    if (BenchClock::now() > give_up) return -1;
    std::this_thread::sleep_for(kPollInterval);
  }
}

uint16_t free_port() {
  asio::io_context io;
  AsioEnv asio_env(io, AsioEnvOptions{.log_level = LogLevel::kWarn, .component = "bench"});
  auto listener = asio_env.env().network.listen(Address{"127.0.0.1", 0});
  if (!listener.ok()) fail("listen: " + listener.error().to_string());
  return (*listener)->local_address().port;
}

std::string write_config(const std::string& dir, const ShelfLayout& layout, uint16_t port) {
  std::ostringstream disks;
  for (int d = 0; d < layout.disks; ++d) {
    disks << (d > 0 ? ", " : "") << R"({"path": ")" << dir << "/disk" << d
          << R"(.img", "size_bytes": )" << layout.disk_bytes << "}";
  }
  const std::string path = dir + "/shelf.json";
  std::ofstream out(path);
  out << R"({"cluster_id": 1, "shelf_id": 1, "listen": "127.0.0.1:)" << port << R"(", "disks": [)"
      << disks.str() << R"(], "nvram": {"path": ")" << dir << R"(/nvram.img", "size_bytes": )"
      << layout.nvram_bytes << R"(, "hosts_max": )" << layout.hosts_max << R"(}, "index_dir": ")"
      << dir << R"(/index", "registers_path": ")" << dir
      << R"(/registers.log", "log_level": "warn"})";
  out.close();
  if (!out) fail("cannot write " + path);
  return path;
}

// A benchmark killed from outside (a ctest timeout) leaves its state directory behind, which
// on tmpfs holds RAM: remove those whose process (named in the directory) no longer exists.
void remove_stale_state(const std::string& base_dir, const std::string& prefix) {
  ASSERT(!prefix.empty());
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(base_dir, error)) {
    const std::string name = entry.path().filename();
    if (name.rfind(prefix, 0) != 0 || !entry.is_directory()) continue;
    const std::string pid =
        name.substr(prefix.size(), name.find('-', prefix.size()) - prefix.size());
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (std::filesystem::exists("/proc/" + pid)) continue;
    std::fprintf(stderr, "bench: removing stale %s\n", entry.path().c_str());
    std::filesystem::remove_all(entry.path(), error);
  }
}

}  // namespace

ShelfProcess::ShelfProcess(const std::string& netshelf_binary, const std::string& base_dir,
                           const ShelfLayout& layout)
    : netshelf_(netshelf_binary) {
  ASSERT(layout.disks >= 1);
  ASSERT(layout.disk_bytes > 0 && layout.nvram_bytes > 0);
  remove_stale_state(base_dir, layout.state_prefix);
  std::string pattern =
      base_dir + "/" + layout.state_prefix + std::to_string(::getpid()) + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) fail(errno_text("mkdtemp " + pattern));
  dir_ = pattern;
  port_ = free_port();
  const std::string config = write_config(dir_, layout, port_);
  const std::string log = dir_ + "/netshelf.log";
  const pid_t format = spawn({netshelf_, "format", "--config", config}, log);
  if (wait_exit(format, kStopTimeout) != 0) fail("netshelf format failed (see " + log + ")");
  pid_ = spawn({netshelf_, "--config", config}, log);
}

ShelfProcess::~ShelfProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    (void)wait_exit(pid_, kStopTimeout);  // dropped on purpose: we are failing anyway
  }
}

Task<void> ShelfProcess::wait_ready(Env& env) {
  ASSERT(pid_ > 0);
  const auto give_up = BenchClock::now() + kStartTimeout;
  const Address shelf = address();
  const protocol::RpcClientOptions options;  // named: no temporaries inside co_await (GCC 12)
  for (;;) {
    auto client = co_await protocol::ShelfClient::connect(env, shelf, options);
    if (client.ok()) {
      co_await (*client)->close();
      co_return;
    }
    if (wait_exit(pid_, std::chrono::seconds(0)) >= 0) fail("netshelf exited during startup");
    if (BenchClock::now() > give_up) {
      fail("netshelf did not come up: " + client.error().to_string());
    }
    co_await sleep_for(env.clock, kPollInterval);
  }
}

void ShelfProcess::stop() {
  ASSERT(pid_ > 0);
  ::kill(pid_, SIGTERM);
  const int status = wait_exit(pid_, kStopTimeout);
  if (status != 0) fail("netshelf did not exit 0 on SIGTERM: " + std::to_string(status));
  pid_ = -1;
  std::filesystem::remove_all(dir_);
}

std::string default_state_base(uint64_t need_bytes) {
  const std::string shm = "/dev/shm";
  struct statvfs fs {};
  if (::statvfs(shm.c_str(), &fs) == 0 && is_tmpfs(shm) &&
      static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize >= need_bytes) {
    return shm;
  }
  return std::filesystem::temp_directory_path();
}

bool is_tmpfs(const std::string& dir) {
  struct statfs fs {};
  return ::statfs(dir.c_str(), &fs) == 0 && fs.f_type == TMPFS_MAGIC;
}

double device_write_mbps(const std::string& dir, double seconds) {
  constexpr size_t kWriteBytes = 1 * kMiB;
  constexpr uint64_t kFileBytesMax = 1 * kGiB;  // wraps here
  const std::string path = dir + "/sa-datapath-device.img";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(errno_text("open " + path));
  std::vector<uint8_t> block(kWriteBytes, 0x5A);
  uint64_t written = 0;
  const auto start = BenchClock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    const auto offset = static_cast<off_t>(written % kFileBytesMax);
    block[0] = static_cast<uint8_t>(written / kWriteBytes);  // not all pages identical
    if (::pwrite(fd, block.data(), block.size(), offset) != static_cast<ssize_t>(block.size())) {
      fail(errno_text("pwrite " + path));
    }
    if (::fdatasync(fd) != 0) fail(errno_text("fdatasync " + path));
    written += kWriteBytes;
    elapsed = std::chrono::duration<double>(BenchClock::now() - start).count();
  }
  ::close(fd);
  std::filesystem::remove(path);
  return static_cast<double>(written) / elapsed / 1e6;
}

double ShelfProcess::cpu_seconds() const {
  ASSERT(pid_ > 0);
  std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Field 2 (comm) is in parentheses and may hold spaces: count fields after the last ')'.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) fail("cannot parse /proc/" + std::to_string(pid_) + "/stat");
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  double ticks = 0;
  for (int index = 3; fields >> field; ++index) {
    if (index == kStatUtimeField || index == kStatStimeField) ticks += std::stod(field);
    if (index == kStatStimeField) break;
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace splitarray::bench
