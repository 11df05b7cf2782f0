#include "tests/bench/nfs_bench_client.h"

#include <nfsc/libnfs.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "common/assert.h"

namespace splitarray::bench::nfs {
namespace {

constexpr int kPollTimeoutMs = 100;  // also how often libnfs gets a chance to run its timers

double seconds_between(BenchClock::time_point a, BenchClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

NfsSession::NfsSession(const std::string& url) {
  nfs_ = nfs_init_context();
  if (nfs_ == nullptr) fail("nfs_init_context failed");
  nfs_url* parsed = nfs_parse_url_dir(nfs_, url.c_str());
  if (parsed == nullptr) fail("cannot parse URL " + url + ": " + error());
  // Every call must reach the server: no client-side caching of data or directories.
  nfs_set_pagecache(nfs_, 0);
  nfs_set_readahead(nfs_, 0);
  nfs_set_dircache(nfs_, 0);
  if (nfs_set_version(nfs_, 3) != 0) fail("nfs_set_version(3): " + error());
  // The sync mount is setup, not measurement.
  const int status = nfs_mount(nfs_, parsed->server, parsed->path);
  const std::string server = parsed->server;
  const std::string path = parsed->path;
  nfs_destroy_url(parsed);
  if (status != 0) fail("mount " + server + ":" + path + ": " + error());
}

NfsSession::~NfsSession() {
  // nfs_destroy_context closes the connection; UMNT is a courtesy a benchmark can skip.
  if (nfs_ != nullptr) nfs_destroy_context(nfs_);
}

std::string NfsSession::error() const {
  const char* message = nfs_get_error(nfs_);
  return message != nullptr ? message : "(no libnfs error)";
}

void NfsSession::run_until(const std::function<bool()>& done) {
  uint64_t seen = progress_;
  BenchClock::time_point last_progress = BenchClock::now();
  while (!done()) {
    pollfd pfd{};
    pfd.fd = nfs_get_fd(nfs_);
    pfd.events = static_cast<short>(nfs_which_events(nfs_));
    if (pfd.fd < 0) fail("libnfs has no connection: " + error());
    const int ready = ::poll(&pfd, 1, kPollTimeoutMs);
    if (ready < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
    if (nfs_service(nfs_, ready > 0 ? pfd.revents : 0) < 0) {
      fail("nfs_service: connection failed: " + error());
    }
    const BenchClock::time_point now = BenchClock::now();
    if (progress_ != seen) {
      seen = progress_;
      last_progress = now;
    } else if (seconds_between(last_progress, now) > kStallSecondsMax) {
      fail("no NFS reply for " + std::to_string(static_cast<int>(kStallSecondsMax)) + " s (" +
           std::to_string(nfs_queue_length(nfs_)) + " calls queued)");
    }
  }
}

Pipeline::Pipeline(NfsSession& session, size_t depth, Issue issue)
    : session_(session), issue_(std::move(issue)) {
  ASSERT(depth >= 1);
  ASSERT(depth <= kQueueDepthMax);
  for (size_t i = 0; i < depth; ++i) {
    slots_.push_back(std::make_unique<Slot>());
    slots_.back()->pipeline = this;
  }
}

bool Pipeline::may_issue(BenchClock::time_point now) const {
  if (window_) return !window_->over(now);
  return next_index_ < total_;
}

void Pipeline::start(Slot& slot) {
  ASSERT(slot.pipeline == this);
  slot.index = next_index_++;
  slot.fh = nullptr;
  slot.sent = BenchClock::now();
  ++inflight_;
  issue_(slot);
}

void Pipeline::complete(Slot& slot) {
  ASSERT(inflight_ > 0);
  const BenchClock::time_point done = BenchClock::now();
  --inflight_;
  session_.note_progress();
  if (recorder_) {
    recorder_->record(slot.sent, done);
  } else {
    latencies_ns_.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(done - slot.sent).count());
  }
  // Start the next operation from inside the callback: libnfs queues it at once, so the queue
  // depth stays full without waiting for the poll loop.
  if (may_issue(done)) start(slot);
}

PhaseStats Pipeline::run_count(uint64_t total) {
  ASSERT(inflight_ == 0);
  ASSERT(total > 0);
  total_ = total;
  next_index_ = 0;
  window_.reset();
  recorder_.reset();
  latencies_ns_.clear();
  latencies_ns_.reserve(total);
  const BenchClock::time_point begin = BenchClock::now();
  for (auto& slot : slots_) {
    if (!may_issue(begin)) break;
    start(*slot);
  }
  session_.run_until([this] { return inflight_ == 0; });
  const BenchClock::time_point end = BenchClock::now();
  ASSERT(latencies_ns_.size() == total);
  PhaseStats stats;
  stats.ops = total;
  stats.seconds = seconds_between(begin, end);
  stats.per_s = static_cast<double>(total) / stats.seconds;
  stats.p50_us = percentile_us(latencies_ns_, 50);
  stats.p99_us = percentile_us(latencies_ns_, 99);
  return stats;
}

RowResult Pipeline::run_window(Window window, size_t payload_bytes) {
  ASSERT(inflight_ == 0);
  next_index_ = 0;
  window_ = window;
  recorder_ = std::make_unique<RowRecorder>(window, payload_bytes);
  const BenchClock::time_point begin = BenchClock::now();
  for (auto& slot : slots_) {
    if (!may_issue(begin)) break;
    start(*slot);
  }
  // Issuing stops at the window's end; the calls still in flight drain (uncounted).
  session_.run_until([this] { return inflight_ == 0; });
  RowResult result = recorder_->result();
  recorder_.reset();
  window_.reset();
  return result;
}

double percentile_us(std::vector<int64_t> latencies_ns, double p) {
  ASSERT(!latencies_ns.empty());
  ASSERT(p >= 0 && p <= 100);
  std::sort(latencies_ns.begin(), latencies_ns.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(latencies_ns.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return static_cast<double>(latencies_ns[std::min(index, latencies_ns.size() - 1)]) / 1e3;
}

void fail_call(const std::string& what, int status, void* data, nfs_context* nfs) {
  std::string message = what + " failed (" + std::strerror(-status) + ")";
  // On an error libnfs passes its error string as data.
  const char* text = static_cast<const char*>(data);
  if (text == nullptr || text[0] == '\0') text = nfs_get_error(nfs);
  if (text != nullptr && text[0] != '\0') message += ": " + std::string(text);
  fail(message);
}

}  // namespace splitarray::bench::nfs
