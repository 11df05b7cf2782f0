// hostdriver/blockstore/log_writer.h
// LogWriter: group commit of the block store's records into the host's NVRAM log on the shelf
// (DESIGN.md §3 step 6). Records are queued with a ticket (1, 2, 3, ... in queue order) and sent
// by one loop, many per append, with ONE append in flight: the shelf stores them in ticket order,
// which is what replay relies on (block_store.h invariant 2, container offsets).
// Invariants:
//   (1) durable_ticket() only grows; every record with a ticket <= it is in the shelf's log.
//   (2) queued_bytes() <= the limit the caller enforces through wait_for_room().
//   (3) A batch is retried as a whole until it is acknowledged (kBusy: after a trim or a delay;
//       a broken connection: after reconnecting), so tickets stay in order. A retried batch may
//       be stored twice; replaying a record twice is harmless (log_record.h).
//   (4) kStale (a newer owner fenced this host) is final: every waiter and every later call gets
//       it. So is a batch the shelf refuses, and a link that closed under the writer (the process
//       is going away: shelf_link.h): fenced() holds whichever ended the log.
// Threading: the Env's event loop.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "common/async/condition.h"
#include "common/async/notify.h"
#include "common/async/task_group.h"
#include "common/env.h"
#include "hostdriver/blockstore/block_store.h"
#include "hostdriver/blockstore/shelf_link.h"

namespace splitarray::hostdriver::blockstore {

inline constexpr Duration kBusyRetryDelay = std::chrono::milliseconds(5);
// The shelf's own cap on one append's payload (netshelf nvram_log.h append_max_bytes default).
inline constexpr size_t kShelfAppendBytesMax = 1 * kMiB;
// Ring bytes a record takes at the shelf: 64-byte header, 512-byte aligned (netshelf nvram).
inline constexpr size_t ring_footprint(size_t bytes) { return (64 + bytes + 511) / 512 * 512; }
inline constexpr double kClientShareOfRing = 0.75;
// The trimmer starts when untrimmed records take this share of the ring and trims down to
// kTrimKeepShare: trimming lazily means a live map entry is relogged about once per half lap of
// the ring instead of at every destage.
inline constexpr double kTrimStartShare = 0.5;
inline constexpr double kTrimKeepShare = 0.25;

struct LogWriterStats {
  uint64_t appends = 0;
  uint64_t records = 0;
  uint64_t busy_waits = 0;
  uint64_t retries = 0;
  uint64_t used_bytes = 0;      // from the last append reply
  uint64_t capacity_bytes = 0;  // from open (learn_capacity), then from each append reply
};

class LogWriter final {
 public:
  // `next_ticket` continues the numbering (after replay); `sequence_of_tickets` maps the tickets
  // replayed so far: ticket t <= next_ticket-1 has sequence first_sequence + (t - first_ticket).
  LogWriter(Env& env, ShelfLink& link, HostId host, Epoch epoch, uint64_t next_ticket,
            size_t queue_bytes_max);
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // The shelf takes at most min(1 MiB, a quarter of the host's ring) per append (netshelf
  // service/shelf.cpp); the writer learns the ring size from the first usage it sees and keeps
  // every batch, and so every record, within that. Records must fit record_bytes_max().
  void learn_capacity(uint64_t capacity_bytes);
  size_t record_bytes_max() const { return append_bytes_max_; }

  // Tells the writer that tickets [first_ticket, first_ticket + count) are log sequences
  // [first_sequence, ...): the records found in the log at open.
  void adopt_replayed(uint64_t first_ticket, uint64_t first_sequence,
                      const std::vector<size_t>& record_bytes);
  void start();
  // Stops after the queue drains (or at once if fenced or the link is closed).
  Task<void> stop();

  // Waits until a record of `bytes` fits the queue (backpressure). kStale if fenced.
  Task<Result<void>> wait_for_room(size_t bytes);
  // Client records (not relog records) are admitted only while every record not yet trimmed,
  // queued ones included, takes at most kClientShareOfRing of the ring: a container's records
  // must all be in the ring before it can be destaged and the log trimmed behind it, and the
  // rest of the ring is kept for relog records, so trimming can always make progress.
  bool has_client_room(size_t bytes) const;
  // The newest ticket whose trimming leaves at most keep_bytes of ring untrimmed (the trim point
  // that keeps the most recent records); trimmed_ticket() if nothing needs to go.
  uint64_t trim_point_keeping(size_t keep_bytes) const;
  size_t untrimmed_bytes() const { return untrimmed_bytes_; }
  // Ring bytes free at the shelf as far as this host knows: its own untrimmed records, or what
  // the shelf last reported if that is more (appends stored twice after lost replies).
  size_t ring_free_bytes() const {
    const uint64_t used = std::max<uint64_t>(untrimmed_bytes_, stats_.used_bytes);
    return used >= stats_.capacity_bytes ? 0 : static_cast<size_t>(stats_.capacity_bytes - used);
  }
  uint64_t capacity_bytes() const { return stats_.capacity_bytes; }
  // Resumes when durable, trimmed, fenced or stopped state changes.
  Task<void> wait_changed() { co_await changed_.wait(); }
  // Wakes wait_changed() callers so they re-check why they wait (the destager ran out of disk
  // space: writers waiting for ring space get kNoSpace instead).
  void wake_waiters() { changed_.notify_all(); }
  // Queues a record; returns its ticket. Synchronous, so the caller's order is the log's order.
  uint64_t enqueue(std::vector<uint8_t> record);
  // Waits until every record with a ticket <= `ticket` is durable. kStale if fenced;
  // kUnavailable if stopped first.
  Task<Result<void>> wait_durable(uint64_t ticket);
  // Trims the log through every record with a ticket <= `ticket` (which must be durable).
  Task<Result<void>> trim_through(uint64_t ticket);

  uint64_t last_ticket() const { return next_ticket_ - 1; }
  uint64_t durable_ticket() const { return durable_ticket_; }
  uint64_t trimmed_ticket() const { return trimmed_ticket_; }
  size_t queued_bytes() const { return queued_bytes_; }
  const std::optional<Error>& fenced() const { return fenced_; }
  const LogWriterStats& stats() const { return stats_; }

 private:
  struct Queued {
    uint64_t ticket = 0;
    std::vector<uint8_t> bytes;
  };
  struct SequenceSpan {
    uint64_t first_ticket = 0;
    uint64_t first_sequence = 0;
    uint64_t count = 0;
  };

  Task<void> run();
  // Appends queue_[0, count) until acknowledged, fenced or stopped.
  Task<Result<void>> append_batch(size_t count);
  std::optional<uint64_t> sequence_of(uint64_t ticket) const;

  Env& env_;
  ShelfLink& link_;
  const HostId host_;
  const Epoch epoch_;
  const size_t queue_bytes_max_;
  size_t append_bytes_max_ = kAppendBatchBytesMax;
  std::deque<Queued> queue_;
  size_t queued_bytes_ = 0;
  uint64_t next_ticket_;
  uint64_t durable_ticket_;
  uint64_t trimmed_ticket_;
  std::deque<SequenceSpan> sequences_;
  std::deque<std::pair<uint64_t, size_t>> footprints_;  // (ticket, ring bytes) not yet trimmed
  size_t untrimmed_bytes_ = 0;
  std::optional<Error> fenced_;
  bool stopping_ = false;
  bool stopped_ = false;
  async::Notify work_;
  async::Condition changed_;  // durable, trimmed, fenced or stopped moved
  async::TaskGroup tasks_;
  LogWriterStats stats_;
};

}  // namespace splitarray::hostdriver::blockstore
