// hostdriver/status/status_publisher.h
// StatusPublisher keeps a host's status record (host_status.h) fresh in the shelf register
// `hosts/<id>/status`: every `interval` it takes a snapshot through the owner's callback and
// compare-and-swaps it over the previous record. `arrayctl status` reads the records; a host whose
// record is older than kStaleIntervals of its interval is shown as stale.
//
// Writes: the publisher remembers the register version of its last write and swaps with it (one
// round trip a tick); when another writer got in between (the previous incarnation's record after
// a restart, a clashing host id) the reply carries the current version and the swap is retried,
// at most kCasAttemptsMax times a tick. The first successful write also adds the host's id to
// `hosts/directory`, so arrayctl finds hosts the shelf does not name (the shelf counts requests
// by NVRAM log id, not by host).
//
// Failure: errors (shelf down, timeouts, lost swaps) are logged and the next tick tries again
// over a fresh connection; they are never fatal. The one exception is kStale: a newer incarnation
// of this host swapped with a higher epoch, so this one is fenced and stops publishing.
//
// Invariants:
//   (1) One coroutine (in tasks_) does all the writing while running; stop() writes only after
//       joining it, so two writes of this publisher never race each other.
//   (2) A record written carries this publisher's host id, instance, interval and a published_at
//       taken just before the write; stop() leaves state kStopped as the last record when the
//       shelf is reachable.
//   (3) Bounded: one request in flight, kCasAttemptsMax swaps a tick, one connection.
// Threading: the Env's event loop. The owner calls start() once, and must co_await stop() before
// destroying a started publisher. Uses only the Env (clock, network, rng), so it runs under any.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/async/notify.h"
#include "common/async/task_group.h"
#include "common/env.h"
#include "hostdriver/status/host_status.h"
#include "protocol/shelf_client.h"

namespace splitarray::hostdriver::status {

inline constexpr Duration kPublishIntervalMin = std::chrono::milliseconds(10);
inline constexpr Duration kPublishRequestTimeoutDefault = std::chrono::seconds(5);
inline constexpr size_t kCasAttemptsMax = 4;
// While the shelf stays unreachable, a warning every this many failed ticks (and the first one).
inline constexpr uint64_t kFailureLogEvery = 30;

struct StatusPublisherConfig {
  Address shelf;
  HostId host{0};
  // The status register's epoch: a newer incarnation with a higher epoch fences older ones. The
  // directory register is always written with epoch 0 (it is shared by hosts of any epoch).
  Epoch epoch{0};
  Duration interval = kPublishIntervalDefault;  // >= kPublishIntervalMin
  Duration request_timeout = kPublishRequestTimeoutDefault;
};

struct StatusPublisherStats {
  uint64_t published = 0;     // records written
  uint64_t failures = 0;      // ticks that wrote nothing (logged)
  uint64_t conflicts = 0;     // swaps lost to another writer, then retried
  uint64_t last_version = 0;  // the register's version after the last write
  bool listed = false;        // the host id is in hosts/directory
  bool fenced = false;        // kStale: a newer incarnation took over; publishing stopped
  std::string last_error;     // of the last failed tick ("" after a success)
};

class StatusPublisher final {
 public:
  // Returns the host's current figures. The publisher overwrites host, instance, published_at and
  // publish_interval, and started_at when left zero (then: when the publisher was made).
  using Snapshot = UniqueFunction<HostStatus()>;

  StatusPublisher(Env& env, StatusPublisherConfig config, Snapshot snapshot);
  ~StatusPublisher();
  StatusPublisher(const StatusPublisher&) = delete;
  StatusPublisher& operator=(const StatusPublisher&) = delete;

  // Publishes at once, then every interval. Call once.
  void start();
  // Publishes at the next chance instead of at the end of the interval (e.g. the state changed).
  void publish_soon();
  // Stops the ticks, writes a last record with state kStopped (unless fenced or never started)
  // and closes the connection. Idempotent; at most one stop() may be waiting at a time.
  Task<void> stop();

  const StatusPublisherStats& stats() const { return stats_; }
  uint64_t instance() const { return instance_; }

 private:
  Task<void> run();
  HostStatus take_snapshot();
  Task<Result<void>> publish(HostStatus status);
  Task<Result<protocol::ShelfClient*>> client();
  Task<Result<uint64_t>> swap_record(protocol::ShelfClient& shelf, std::vector<uint8_t> value);
  Task<Result<void>> list_host(protocol::ShelfClient& shelf);
  void note_outcome(const Result<void>& outcome);
  Error failed(Error error);  // counts a failed tick

  Env& env_;
  const StatusPublisherConfig config_;
  Snapshot snapshot_;
  Logger log_;
  const uint64_t instance_;
  const WallTime created_at_;

  std::unique_ptr<protocol::ShelfClient> client_;
  uint64_t known_version_ = 0;  // the register's version after our last write (0: none yet)
  uint64_t failure_streak_ = 0;
  uint64_t directory_failures_ = 0;
  async::TaskGroup tasks_;
  async::Notify wake_;
  TimerId timer_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  StatusPublisherStats stats_;
};

}  // namespace splitarray::hostdriver::status
