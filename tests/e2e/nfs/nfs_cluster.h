// tests/e2e/nfs/nfs_cluster.h
// The system under test for the NFS conformance suite, as real processes in a temporary
// directory: one netshelf with file-backed disks, the datastore "default" formatted with safs,
// and a hostdriver serving it as /default on 127.0.0.1. The hostdriver can be killed (SIGKILL)
// or stopped (SIGTERM) and started again on the same ports, with other export options.
//
// Every wait is bounded (kStartDeadline); the destructor kills what is still running and removes
// the directory, also when the test failed. Binaries come from compile definitions
// (NETSHELF_BINARY, SAFS_BINARY, HOSTDRIVER_BINARY).
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/nfs/nfs_raw_client.h"

namespace splitarray::e2e::nfs {

inline constexpr auto kStartDeadline = std::chrono::seconds(60);
inline constexpr auto kToolDeadline = std::chrono::seconds(60);  // netshelf format, safs format

// A child process whose output goes to a log file. It dies with the test process (Linux
// PR_SET_PDEATHSIG), so a test killed by ctest's timeout leaves no servers behind; the
// destructor kills (SIGKILL) and reaps it if it still runs.
class Process final {
 public:
  Process(const std::string& program, const std::vector<std::string>& args,
          const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  void signal(int sig);
  // Exit status (128 + signal number when killed); -1 if it did not exit within `deadline`.
  int wait(std::chrono::milliseconds deadline);
  bool exited();  // reaps it if it exited

 private:
  int pid_ = -1;
  int status_ = -1;
};

// Runs a program to completion within `deadline` (killed after it); returns its exit status.
int run_tool(const std::string& program, const std::vector<std::string>& args,
             const std::string& log_path, std::chrono::milliseconds deadline);

struct HostOptions {
  bool root_squash = false;  // the suite runs as root; ESXi-style exports do not squash
  bool read_only = false;
  std::string clients = "127.0.0.1";
  int close_timeout_s = 0;  // > 0: --close-timeout
};

class NfsCluster final {
 public:
  // Formats and starts the shelf, formats the datastore and starts the hostdriver.
  explicit NfsCluster(const std::string& name, const HostOptions& options = {});
  ~NfsCluster();
  NfsCluster(const NfsCluster&) = delete;
  NfsCluster& operator=(const NfsCluster&) = delete;

  // Starts the hostdriver (on the same ports as before, if it ran before) and waits until it
  // prints its URL. REQUIREs that it serves within kStartDeadline.
  void start_host(const HostOptions& options = {});
  // Sends `sig` (SIGKILL or SIGTERM) and reaps it; returns the exit status (128 + signal).
  int stop_host(int sig);
  // The same for the netshelf, and starting it again on its state (no format).
  int stop_shelf(int sig);
  void signal_shelf(int sig);  // SIGSTOP / SIGCONT: a shelf that hangs, then resumes
  void restart_shelf();
  bool host_running() const { return host_ != nullptr; }

  uint16_t nfs_port() const { return nfs_port_; }
  uint16_t mount_port() const { return mount_port_; }
  // HOST:PORT of the netshelf (for a second hostdriver or safs on the same shelf).
  std::string shelf_address() const { return "127.0.0.1:" + std::to_string(shelf_port_); }
  const std::string& url() const { return url_; }
  const std::string& dir() const { return dir_; }
  std::string host_log() const;  // everything every hostdriver incarnation printed

  // New connections; REQUIRE that they connect.
  std::unique_ptr<NfsClient> client();
  std::unique_ptr<MountClient> mount_client();
  // MNT /default on a fresh connection; REQUIREs success.
  Fh mount_root();

 private:
  void start_shelf();
  // Starts the formatted shelf on shelf_port_ and waits until it listens.
  void run_shelf();

  std::string dir_;
  std::string shelf_config_;
  uint16_t shelf_port_ = 0;
  uint16_t nfs_port_ = 0;
  uint16_t mount_port_ = 0;
  std::string url_;
  int host_starts_ = 0;
  std::unique_ptr<Process> shelf_;
  std::unique_ptr<Process> host_;
};

// A port on 127.0.0.1 nobody listens on, below the ephemeral range (so a client's own source
// port can never be the server's while it restarts). Bind-tested; `avoid` is skipped.
uint16_t pick_port(const std::vector<uint16_t>& avoid = {});

// The whole file as text ("" if missing).
std::string slurp(const std::string& path);

// Deterministic bytes: the same (seed, offset) always give the same byte.
std::vector<uint8_t> pattern(uint64_t seed, uint64_t offset, size_t size);

}  // namespace splitarray::e2e::nfs
