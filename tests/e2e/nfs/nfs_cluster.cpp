// tests/e2e/nfs/nfs_cluster.cpp
#include "tests/e2e/nfs/nfs_cluster.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace splitarray::e2e::nfs {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kDisks = 12;  // RS(8,2) stripes need 10 distinct disks
constexpr uint64_t kDiskBytes = uint64_t{256} << 20;
constexpr uint64_t kNvramBytes = uint64_t{64} << 20;
constexpr uint16_t kPortLow = 20000;  // below Linux's ephemeral range (32768-60999)
constexpr uint16_t kPortSpan = 12000;
constexpr int kHostStartAttempts = 3;  // a picked port can be taken by someone else meanwhile

std::atomic<uint32_t> g_port_sequence{0};
std::atomic<uint32_t> g_dir_sequence{0};

bool port_free(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return bound;
}

bool port_accepts(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return connected;
}

void pause_ms(int ms) { std::this_thread::sleep_for(milliseconds(ms)); }

std::string write_shelf_config(const std::string& dir, uint16_t port) {
  std::ostringstream disks;
  for (int d = 0; d < kDisks; ++d) {
    disks << (d > 0 ? ", " : "") << R"({"path": ")" << dir << "/disk" << d
          << R"(.img", "size_bytes": )" << kDiskBytes << "}";
  }
  const std::string path = dir + "/shelf.json";
  std::ofstream(path) << R"({"cluster_id": 1, "shelf_id": 1, "listen": "127.0.0.1:)" << port
                      << R"(", "disks": [)" << disks.str() << R"(],)"
                      << R"( "nvram": {"path": ")" << dir << R"(/nvram.img", "size_bytes": )"
                      << kNvramBytes << R"(, "hosts_max": 4}, "index_dir": ")" << dir
                      << R"(/index", "registers_path": ")" << dir
                      << R"(/registers.log", "log_level": "warn"})";
  return path;
}

// The first line of `text` that starts with `prefix`, or "".
std::string line_starting(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

Process::Process(const std::string& program, const std::vector<std::string>& args,
                 const std::string& log_path) {
  // Everything the child needs is prepared before fork(): after it, only async-signal-safe calls.
  std::vector<std::string> storage{program};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  REQUIRE_MESSAGE(log >= 0, "cannot open " << log_path);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the test died before prctl
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log);
  REQUIRE_MESSAGE(pid_ > 0, "fork failed");
}

Process::~Process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

void Process::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

bool Process::exited() {
  if (pid_ <= 0) return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
  pid_ = -1;
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

int Process::wait(std::chrono::milliseconds deadline) {
  const auto give_up = Clock::now() + deadline;
  while (!exited()) {
    if (Clock::now() > give_up) return -1;
    pause_ms(2);
  }
  return status_;
}

int run_tool(const std::string& program, const std::vector<std::string>& args,
             const std::string& log_path, std::chrono::milliseconds deadline) {
  Process tool(program, args, log_path);
  return tool.wait(deadline);  // the destructor kills it if it overran
}

uint16_t pick_port(const std::vector<uint16_t>& avoid) {
  const uint32_t start = static_cast<uint32_t>(::getpid()) * 7919u + g_port_sequence++ * 104729u;
  for (uint32_t i = 0; i < kPortSpan; ++i) {
    const auto port = static_cast<uint16_t>(kPortLow + (start + i * 7u) % kPortSpan);
    if (std::find(avoid.begin(), avoid.end(), port) != avoid.end()) continue;
    if (port == 20048 || port == 20490) continue;  // the defaults scripts/run and others use
    if (port_free(port)) return port;
  }
  FAIL("no free port in [" << kPortLow << ", " << kPortLow + kPortSpan << ")");
  return 0;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

std::vector<uint8_t> pattern(uint64_t seed, uint64_t offset, size_t size) {
  std::vector<uint8_t> out(size);
  uint64_t word_index = ~uint64_t{0};
  uint64_t word = 0;
  for (size_t i = 0; i < size; ++i) {
    const uint64_t position = offset + i;
    if (position / 8 != word_index) {
      word_index = position / 8;
      word = splitmix(seed * 0x2545F4914F6CDD1DULL ^ word_index);
    }
    out[i] = static_cast<uint8_t>(word >> (8 * (position % 8)));
  }
  return out;
}

NfsCluster::NfsCluster(const std::string& name, const HostOptions& options) {
  dir_ = (std::filesystem::temp_directory_path() /
          ("sa-nfs-" + name + "-" + std::to_string(::getpid()) + "-" +
           std::to_string(g_dir_sequence++)))
             .string();
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  try {
    start_shelf();
    const std::string log = dir_ + "/safs.log";
    const int formatted =
        run_tool(SAFS_BINARY, {"format", "--shelf", "127.0.0.1:" + std::to_string(shelf_port_)},
                 log, kToolDeadline);
    REQUIRE_MESSAGE(formatted == 0, "safs format failed: " << slurp(log));
    start_host(options);
  } catch (...) {
    host_.reset();
    shelf_.reset();
    std::filesystem::remove_all(dir_);
    throw;
  }
}

NfsCluster::~NfsCluster() {
  host_.reset();  // SIGKILL and reap
  shelf_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void NfsCluster::start_shelf() {
  shelf_port_ = pick_port();
  shelf_config_ = write_shelf_config(dir_, shelf_port_);
  const std::string log = dir_ + "/netshelf.log";
  REQUIRE_MESSAGE(
      run_tool(NETSHELF_BINARY, {"format", "--config", shelf_config_}, log, kToolDeadline) == 0,
      "netshelf format failed: " << slurp(log));
  run_shelf();
}

void NfsCluster::run_shelf() {
  const std::string log = dir_ + "/netshelf.log";
  shelf_ = std::make_unique<Process>(NETSHELF_BINARY,
                                     std::vector<std::string>{"--config", shelf_config_}, log);
  const auto give_up = Clock::now() + kStartDeadline;
  while (!port_accepts(shelf_port_)) {
    REQUIRE_MESSAGE(!shelf_->exited(), "netshelf exited: " << slurp(log));
    REQUIRE_MESSAGE(Clock::now() < give_up, "netshelf did not listen: " << slurp(log));
    pause_ms(5);
  }
}

void NfsCluster::start_host(const HostOptions& options) {
  REQUIRE(host_ == nullptr);
  const bool first = nfs_port_ == 0;
  for (int attempt = 0;; ++attempt) {
    if (first) {
      nfs_port_ = pick_port({shelf_port_});
      mount_port_ = pick_port({shelf_port_, nfs_port_});
    }
    const std::string log = dir_ + "/hostdriver-" + std::to_string(host_starts_++) + ".log";
    std::vector<std::string> args{"--shelf",      "127.0.0.1:" + std::to_string(shelf_port_),
                                  "--datastore",  "default",
                                  "--listen",     "127.0.0.1",
                                  "--nfs-port",   std::to_string(nfs_port_),
                                  "--mount-port", std::to_string(mount_port_),
                                  "--export",     "/default",
                                  "--clients",    options.clients};
    if (!options.root_squash) args.push_back("--no-root-squash");
    if (options.read_only) args.push_back("--read-only");
    if (options.close_timeout_s > 0) {
      args.push_back("--close-timeout");
      args.push_back(std::to_string(options.close_timeout_s));
    }
    host_ = std::make_unique<Process>(HOSTDRIVER_BINARY, args, log);
    const auto give_up = Clock::now() + kStartDeadline;
    std::string url;
    bool exited = false;
    while (url.empty()) {
      url = line_starting(slurp(log), "nfs://");
      if (!url.empty()) break;
      if (host_->exited()) {
        exited = true;
        break;
      }
      if (Clock::now() > give_up) {
        host_.reset();
        FAIL("hostdriver did not serve within " << kStartDeadline.count() << " s:\n" << slurp(log));
      }
      pause_ms(5);
    }
    if (!exited) {
      url_ = url;
      const std::string expected = "nfs://127.0.0.1/default?nfsport=" + std::to_string(nfs_port_) +
                                   "&mountport=" + std::to_string(mount_port_);
      CHECK_MESSAGE(url_ == expected, "hostdriver printed " << url_);
      return;
    }
    host_.reset();
    // A port picked for the first start may have been taken meanwhile: try others.
    REQUIRE_MESSAGE((first && attempt + 1 < kHostStartAttempts),
                    "hostdriver exited before serving:\n"
                        << slurp(log));
  }
}

int NfsCluster::stop_host(int sig) {
  REQUIRE(host_ != nullptr);
  host_->signal(sig);
  const int status = host_->wait(std::chrono::duration_cast<milliseconds>(kStartDeadline));
  host_.reset();
  REQUIRE_MESSAGE(status != -1, "hostdriver did not exit after signal " << sig);
  return status;
}

int NfsCluster::stop_shelf(int sig) {
  REQUIRE(shelf_ != nullptr);
  shelf_->signal(sig);
  const int status = shelf_->wait(std::chrono::duration_cast<milliseconds>(kStartDeadline));
  shelf_.reset();
  REQUIRE_MESSAGE(status != -1, "netshelf did not exit after signal " << sig);
  return status;
}

void NfsCluster::signal_shelf(int sig) {
  REQUIRE(shelf_ != nullptr);
  shelf_->signal(sig);
}

void NfsCluster::restart_shelf() {
  REQUIRE(shelf_ == nullptr);
  run_shelf();
}

std::string NfsCluster::host_log() const {
  std::string all;
  for (int i = 0; i < host_starts_; ++i) {
    all += "--- hostdriver-" + std::to_string(i) + ".log\n" +
           slurp(dir_ + "/hostdriver-" + std::to_string(i) + ".log");
  }
  return all;
}

std::unique_ptr<NfsClient> NfsCluster::client() {
  std::string error;
  auto client = NfsClient::connect(nfs_port_, &error);
  REQUIRE_MESSAGE(client != nullptr, error);
  return client;
}

std::unique_ptr<MountClient> NfsCluster::mount_client() {
  std::string error;
  auto client = MountClient::connect(mount_port_, &error);
  REQUIRE_MESSAGE(client != nullptr, error);
  return client;
}

Fh NfsCluster::mount_root() {
  auto mount = mount_client();
  const MntRes res = mount->mnt("/default");
  REQUIRE_MESSAGE(res.ok(), "MNT /default: " << describe(res));
  REQUIRE(!res.root.empty());
  return res.root;
}

}  // namespace splitarray::e2e::nfs
