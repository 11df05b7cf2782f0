// tests/bench/datapath_shelf.h
// The real `netshelf` process the datapath and meta benchmarks write to: formatted fresh in a
// temporary state directory BASE/<state_prefix>PID-XXXXXX (sa-datapath-..., sa-meta-...; disks are
// sparse files), started with fork + exec
// on a free loopback port and stopped with SIGTERM (it must exit 0). PR_SET_PDEATHSIG kills it if
// the benchmark aborts. A failed run leaves its directory for inspection; the next run removes
// such directories once their process is gone (on tmpfs they hold RAM).
// Its CPU time is read from /proc/PID/stat, so the benchmark can report the shelf's CPU
// separately from its own (getrusage of the benchmark process does not include it).
// Benchmarks may use processes, files and clocks directly (bench_report.h).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/env.h"

namespace splitarray::bench {

struct ShelfLayout {
  int disks = 12;            // RS(8,2) needs at least 10 distinct disks
  uint64_t disk_bytes = 0;   // each, sparse
  uint64_t nvram_bytes = 0;  // the whole NVRAM file
  uint32_t hosts_max = 2;    // so each host's log ring is nvram_bytes / hosts_max
  // The state directory's name starts with this (then PID-XXXXXX); stale directories of this
  // prefix whose process is gone are removed at start.
  std::string state_prefix = "sa-datapath-";
};

class ShelfProcess final {
 public:
  // Formats and starts a shelf in a new directory under base_dir; aborts the benchmark on error.
  ShelfProcess(const std::string& netshelf_binary, const std::string& base_dir,
               const ShelfLayout& layout);
  // Kills a shelf that was not stopped (the benchmark failed) and leaves its directory.
  ~ShelfProcess();
  ShelfProcess(const ShelfProcess&) = delete;
  ShelfProcess& operator=(const ShelfProcess&) = delete;

  // Resumes once the shelf accepts connections (at most 20 s).
  Task<void> wait_ready(Env& env);
  // SIGTERM, waits for exit status 0, removes the state directory.
  void stop();

  Address address() const { return Address{"127.0.0.1", port_}; }
  const std::string& dir() const { return dir_; }
  // User + system CPU seconds the shelf process has used so far.
  double cpu_seconds() const;

 private:
  const std::string netshelf_;
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// Where the shelf's state goes when the user names no directory: /dev/shm (tmpfs) when it has
// need_bytes free, so that the shelf's NVRAM and disks are RAM, as a real shelf's NVRAM is fast,
// and ingest measures the host side rather than this VM's virtual disk; else the temp directory.
std::string default_state_base(uint64_t need_bytes);
// True if `dir` is on tmpfs.
bool is_tmpfs(const std::string& dir);

// The device under the shelf's files: sequential 1 MiB pwrite + fdatasync at queue depth 1 to a
// fresh file in `dir` for `seconds`, in MB/s (10^6 bytes/s). The shelf writes every logged byte
// twice (NVRAM log, then fragments with parity), so this bounds ingest on this machine.
double device_write_mbps(const std::string& dir, double seconds);

}  // namespace splitarray::bench
