// netshelf/index/index_log.h
// LogWriter: the index log's group commit. Records are appended synchronously (in memory, in
// the order the index applied them) and made durable by whichever caller waits first: that
// caller becomes the leader and writes + flushes everything queued, while later callers wait on
// the same flush (many batches, one fdatasync).
//
// The log may span several files (generations): a snapshot switches appends to a new file, and
// the leader finishes the older file (write + flush) before it touches the newer one, so
// "sequence s is durable" always implies every record before s is durable too.
// Invariants:
//   (1) durable_sequence() < next_sequence(); records are numbered consecutively from 1.
//   (2) a record is acknowledged (wait_durable returns ok) only after the flush covering it.
//   (3) after a failed write or flush the writer is failed for good (the File is too): every
//       waiter and every later wait gets the error; nothing more is written.
// Threading: the Env's event loop only.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/async/oneshot.h"
#include "common/env.h"
#include "netshelf/index/index_format.h"

namespace splitarray::netshelf::index {

class LogWriter final {
 public:
  // `next_sequence` continues the recovered log; everything before it is durable.
  explicit LogWriter(uint64_t next_sequence);
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;
  ~LogWriter();

  // Records appended from now on go to `file`, starting at byte `tail`.
  void switch_to(uint64_t generation, std::unique_ptr<File> file, uint64_t tail);
  uint64_t generation() const;
  uint64_t tail() const;  // bytes of the current file, including appended-but-unwritten ones

  // Both return the record's sequence. Not allowed once failed().
  uint64_t append_insert(std::span<const IndexEntry> entries);
  uint64_t append_remove(std::span<const Fingerprint> fps);

  // Resumes once every record up to `sequence` is durable, or with the write/flush error.
  Task<Result<void>> wait_durable(uint64_t sequence);

  // Closes the files of generations below `generation`; their records must all be durable.
  void retire_below(uint64_t generation);

  uint64_t next_sequence() const { return next_sequence_; }
  uint64_t durable_sequence() const { return durable_sequence_; }
  uint64_t pending_bytes() const { return pending_bytes_; }
  uint64_t flushes() const { return flushes_; }
  bool failed() const { return failure_.has_value(); }
  const Error& failure() const;

 private:
  struct LogFile {
    uint64_t generation = 0;
    std::unique_ptr<File> file;
    uint64_t tail = 0;
  };
  // Consecutive records for one file, not yet handed to the leader.
  struct Segment {
    File* file = nullptr;
    uint64_t offset = 0;
    std::vector<uint8_t> bytes;
    uint64_t last_sequence = 0;
  };
  struct Waiter {
    uint64_t sequence = 0;
    async::Oneshot<Result<void>>* done = nullptr;
  };

  std::vector<uint8_t>& open_segment();  // the segment to append the next record to
  void appended(size_t bytes_before);
  void fail(Error error);
  void wake_durable();

  std::deque<LogFile> files_;  // oldest first; back() is current
  std::deque<Segment> queue_;
  std::vector<Waiter> waiters_;
  uint64_t next_sequence_;
  uint64_t durable_sequence_;
  uint64_t pending_bytes_ = 0;
  uint64_t flushes_ = 0;
  bool leader_active_ = false;
  File* in_flight_ = nullptr;  // the file the leader is writing or flushing
  std::optional<Error> failure_;
};

}  // namespace splitarray::netshelf::index
