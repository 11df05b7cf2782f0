// tests/e2e/local_cluster.h
// A local cluster of real processes for end-to-end tests, like the one `scripts/run` starts: a
// netshelf with file-backed disks and NVRAM in a temp directory, a datastore formatted with safs,
// and a hostdriver serving it over NFS v3 on free loopback ports. Every wait is bounded; the
// destructor kills whatever still runs and removes the directory.
//
// The test's CMake target defines NETSHELF_BINARY, SAFS_BINARY and HOSTDRIVER_BINARY.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/env_asio/asio_env.h"
#include "tests/e2e/support_process.h"
#include "tests/support/run.h"
#include "tests/support/temp_dir.h"

namespace splitarray::testing {

inline constexpr auto kHostStartTimeout = std::chrono::seconds(60);

struct LocalClusterOptions {
  int disks = 10;
  uint64_t disk_bytes = 512 * kMiB;  // sparse files
  uint64_t nvram_bytes = 64 * kMiB;
  // Extra hostdriver options, e.g. {"--no-root-squash"} or {"--read-only"}.
  std::vector<std::string> host_args;
};

// A loopback port nobody listens on right now (the OS's choice).
inline uint16_t free_loopback_port() {
  asio::io_context io;
  AsioEnv env(io, AsioEnvOptions{.log_level = LogLevel::kError});
  auto listener = env.env().network.listen(Address{"127.0.0.1", 0});
  REQUIRE(listener.ok());
  return (*listener)->local_address().port;
}

inline Task<bool> try_connect(Env& env, uint16_t port) {
  const Address address{"127.0.0.1", port};
  auto stream = co_await env.network.connect(address, std::chrono::seconds(1));
  if (stream.ok()) (*stream)->close();
  co_return stream.ok();
}

// Waits (bounded) until something accepts connections on the loopback port.
inline bool wait_until_listening(uint16_t port, std::chrono::seconds timeout) {
  asio::io_context io;
  AsioEnv env(io, AsioEnvOptions{.log_level = LogLevel::kError});
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (run_task(io, try_connect(env.env(), port))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

class LocalCluster {
 public:
  explicit LocalCluster(LocalClusterOptions options = {})
      : options_(std::move(options)),
        shelf_port_(free_loopback_port()),
        nfs_port_(free_loopback_port()),
        mount_port_(free_loopback_port()) {
    const std::string config = write_shelf_config();
    REQUIRE(run_program(NETSHELF_BINARY, {"format", "--config", config}, log("shelf")) == 0);
    shelf_ = std::make_unique<ChildProcess>(
        NETSHELF_BINARY, std::vector<std::string>{"--config", config}, log("shelf"));
    REQUIRE_MESSAGE(wait_until_listening(shelf_port_, kHostStartTimeout), read_file(log("shelf")));
    REQUIRE_MESSAGE(
        run_program(SAFS_BINARY, {"format", "--shelf", shelf_address()}, log("safs")) == 0,
        read_file(log("safs")));
    start_host();
  }
  ~LocalCluster() {
    host_.reset();
    shelf_.reset();
  }
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // Starts the host driver and waits until it prints the export URL (it opens the datastore
  // first: replay and checkpoint).
  void start_host() {
    REQUIRE(host_ == nullptr);
    const std::string out = log("host-" + std::to_string(++host_starts_));
    std::vector<std::string> args = {"--shelf",      shelf_address(),
                                     "--nfs-port",   std::to_string(nfs_port_),
                                     "--mount-port", std::to_string(mount_port_),
                                     "--export",     "/default",
                                     "--clients",    "127.0.0.1"};
    args.insert(args.end(), options_.host_args.begin(), options_.host_args.end());
    host_ = std::make_unique<ChildProcess>(HOSTDRIVER_BINARY, args, out);
    const auto deadline = std::chrono::steady_clock::now() + kHostStartTimeout;
    while (read_file(out).find("\nnfs://") == std::string::npos) {
      REQUIRE_MESSAGE(!host_->exited(), "hostdriver exited: " << read_file(out));
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                      "hostdriver did not start: " << read_file(out));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // SIGKILL (a crash) or SIGTERM (a clean stop); returns the exit status.
  int stop_host(int sig) {
    REQUIRE(host_ != nullptr);
    host_->signal(sig);
    const int status = host_->wait();
    host_.reset();
    return status;
  }
  bool host_alive() { return host_ != nullptr && !host_->exited(); }

  std::string url(const std::string& path = "") const {
    return "nfs://127.0.0.1/default" + path + "?nfsport=" + std::to_string(nfs_port_) +
           "&mountport=" + std::to_string(mount_port_);
  }
  std::string shelf_address() const { return "127.0.0.1:" + std::to_string(shelf_port_); }
  uint16_t nfs_port() const { return nfs_port_; }
  uint16_t mount_port() const { return mount_port_; }
  const std::string& dir() const { return dir_.path; }
  std::string log(const std::string& name) const { return dir_.path + "/" + name + ".log"; }
  std::string host_log() const { return log("host-" + std::to_string(host_starts_)); }

 private:
  std::string write_shelf_config() const {
    std::ostringstream disks;
    for (int d = 0; d < options_.disks; ++d) {
      disks << (d > 0 ? ", " : "") << R"({"path": ")" << dir_.path << "/disk" << d
            << R"(.img", "size_bytes": )" << options_.disk_bytes << "}";
    }
    const std::string path = dir_.path + "/shelf.json";
    std::ofstream(path) << R"({"cluster_id": 1, "shelf_id": 1, "listen": "127.0.0.1:)"
                        << shelf_port_ << R"(", "disks": [)" << disks.str() << R"(],)"
                        << R"( "nvram": {"path": ")" << dir_.path
                        << R"(/nvram.img", "size_bytes": )" << options_.nvram_bytes
                        << R"(, "hosts_max": 8}, "index_dir": ")" << dir_.path
                        << R"(/index", "registers_path": ")" << dir_.path
                        << R"(/registers.log", "log_level": "warn"})";
    return path;
  }

  TempDir dir_{"sa-cluster"};
  LocalClusterOptions options_;
  uint16_t shelf_port_;
  uint16_t nfs_port_;
  uint16_t mount_port_;
  int host_starts_ = 0;
  std::unique_ptr<ChildProcess> shelf_;
  std::unique_ptr<ChildProcess> host_;
};

}  // namespace splitarray::testing
