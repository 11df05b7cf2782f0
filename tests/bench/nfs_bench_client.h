// tests/bench/nfs_bench_client.h
// nfs_bench's NFS side: one libnfs context (NFS v3 over one TCP connection) driven through the
// async API by a poll() loop, and a Pipeline that keeps a fixed number of calls in flight on it,
// so "queue depth 16" means 16 RPCs outstanding on the wire, not 16 threads.
//
// Ownership: NfsSession owns the nfs_context; a Pipeline borrows the session and owns its slots;
// an async call's private_data is a Slot that outlives the call (the pipeline drains before it
// is destroyed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/bench/bench_report.h"

struct nfs_context;
struct nfsfh;

namespace splitarray::bench::nfs {

// A call that gets no reply for this long means the server is stuck: abort with a message
// rather than hang the benchmark script.
inline constexpr double kStallSecondsMax = 120;
inline constexpr size_t kQueueDepthMax = 64;

class NfsSession final {
 public:
  // Parses a libnfs URL (nfs://HOST/EXPORT?nfsport=N&mountport=M), mounts it (NFS v3) and turns
  // off libnfs's client-side caches (page cache, read-ahead, directory cache) so every call is
  // a server round trip. Fails (aborts) if the mount fails.
  explicit NfsSession(const std::string& url);
  ~NfsSession();
  NfsSession(const NfsSession&) = delete;
  NfsSession& operator=(const NfsSession&) = delete;

  nfs_context* context() { return nfs_; }
  // Services the connection until done() holds. Aborts if the connection fails or nothing
  // completes for kStallSecondsMax.
  void run_until(const std::function<bool()>& done);
  // Callbacks report every completion here (stall detection).
  void note_progress() { ++progress_; }
  std::string error() const;

 private:
  nfs_context* nfs_ = nullptr;
  uint64_t progress_ = 0;
};

// One operation in flight. Callbacks get it as private_data and finish it with
// Pipeline::complete(); multi-step operations (create, write, close) reuse it along the way.
struct Slot {
  class Pipeline* pipeline = nullptr;
  uint64_t index = 0;  // which operation (0, 1, 2, ...)
  BenchClock::time_point sent;
  nfsfh* fh = nullptr;  // an open file of a multi-step operation
  uint64_t offset = 0;
  void* row = nullptr;          // the row's shared state, for callbacks
  std::vector<uint8_t> buffer;  // bytes of a write (must live until its callback)
  std::string path;             // path of a namespace operation (libnfs copies it, kept for errors)
};

// Latency and throughput of a phase with a fixed operation count.
struct PhaseStats {
  uint64_t ops = 0;
  double seconds = 0;
  double per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
};

class Pipeline final {
 public:
  // issue(slot) queues the async call for slot.index (or aborts); its callback must end in
  // complete(slot). Operations are numbered 0..total-1; with a window, issuing also stops at the
  // window's end and only completions inside it are counted.
  using Issue = std::function<void(Slot&)>;

  Pipeline(NfsSession& session, size_t depth, Issue issue);
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Runs `total` operations, `depth` at a time; returns their rate and latency.
  PhaseStats run_count(uint64_t total);
  // Runs operations until window.measure_end (warmup first); returns the window's figures
  // (mbps counts payload_bytes per operation).
  RowResult run_window(Window window, size_t payload_bytes);

  // Called by the last callback of an operation; starts the next one if any.
  void complete(Slot& slot);
  NfsSession& session() { return session_; }

 private:
  void start(Slot& slot);
  bool may_issue(BenchClock::time_point now) const;

  NfsSession& session_;
  const Issue issue_;
  std::vector<std::unique_ptr<Slot>> slots_;
  uint64_t next_index_ = 0;
  uint64_t total_ = 0;
  size_t inflight_ = 0;
  std::optional<Window> window_;
  std::unique_ptr<RowRecorder> recorder_;  // window mode
  std::vector<int64_t> latencies_ns_;      // count mode
};

// Nearest-rank percentile (p in [0, 100]) of unsorted latencies, in microseconds.
double percentile_us(std::vector<int64_t> latencies_ns, double p);

// A failed libnfs call: "what failed (errno text): message", then abort. status is a negative
// errno, data libnfs's message (or empty: then the context's last error, which is where libnfs
// 4.0's multi-call WRITE leaves the server's nfsstat3).
[[noreturn]] void fail_call(const std::string& what, int status, void* data, nfs_context* nfs);

}  // namespace splitarray::bench::nfs
