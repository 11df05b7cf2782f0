// hostdriver/blockstore/log_writer.cpp
#include "hostdriver/blockstore/log_writer.h"

#include <algorithm>
#include <utility>

#include "hostdriver/blockstore/block_store.h"

namespace splitarray::hostdriver::blockstore {

LogWriter::LogWriter(Env& env, ShelfLink& link, HostId host, Epoch epoch, uint64_t next_ticket,
                     size_t queue_bytes_max)
    : env_(env),
      link_(link),
      host_(host),
      epoch_(epoch),
      queue_bytes_max_(queue_bytes_max),
      next_ticket_(next_ticket),
      durable_ticket_(next_ticket - 1),
      trimmed_ticket_(next_ticket - 1) {
  ASSERT(next_ticket >= 1);
  ASSERT(queue_bytes_max >= kAppendBatchBytesMax);
}

LogWriter::~LogWriter() { ASSERT_MSG(tasks_.live() == 0, "LogWriter destroyed running"); }

void LogWriter::learn_capacity(uint64_t capacity_bytes) {
  // Known from open on, so client admission (has_client_room) holds before the first append.
  stats_.capacity_bytes = capacity_bytes;
  const uint64_t limit = std::min<uint64_t>(kShelfAppendBytesMax, capacity_bytes / 4);
  append_bytes_max_ = std::min<size_t>(kAppendBatchBytesMax, limit);
}

void LogWriter::adopt_replayed(uint64_t first_ticket, uint64_t first_sequence,
                               const std::vector<size_t>& record_bytes) {
  const uint64_t count = record_bytes.size();
  ASSERT(first_ticket + count <= next_ticket_);
  if (count == 0) return;
  for (uint64_t i = 0; i < count; ++i) {
    footprints_.emplace_back(first_ticket + i, ring_footprint(record_bytes[i]));
    untrimmed_bytes_ += footprints_.back().second;
  }
  sequences_.push_back(SequenceSpan{first_ticket, first_sequence, count});
  trimmed_ticket_ = std::min(trimmed_ticket_, first_ticket - 1);
}

void LogWriter::start() { tasks_.spawn(env_.executor(), run()); }

Task<void> LogWriter::stop() {
  stopping_ = true;
  work_.notify();
  co_await tasks_.join();
  stopped_ = true;
  changed_.notify_all();
}

bool LogWriter::has_client_room(size_t bytes) const {
  if (stats_.capacity_bytes == 0) return true;
  const auto share = static_cast<size_t>(kClientShareOfRing * double(stats_.capacity_bytes));
  // An empty log admits any one record (it fits a quarter of the ring by record_bytes_max()).
  return untrimmed_bytes_ == 0 || untrimmed_bytes_ + ring_footprint(bytes) <= share;
}

uint64_t LogWriter::trim_point_keeping(size_t keep_bytes) const {
  size_t remaining = untrimmed_bytes_;
  uint64_t point = trimmed_ticket_;
  for (const auto& [ticket, bytes] : footprints_) {
    if (remaining <= keep_bytes) break;
    remaining -= bytes;
    point = ticket;
  }
  return point;
}

Task<Result<void>> LogWriter::wait_for_room(size_t bytes) {
  while (true) {
    if (fenced_) co_return *fenced_;
    if (stopping_ || stopped_) co_return make_error(Code::kUnavailable, "block store closing");
    // A record larger than the whole queue limit still goes alone into an empty queue.
    if (queued_bytes_ == 0 || queued_bytes_ + bytes <= queue_bytes_max_) co_return ok_result();
    co_await changed_.wait();
  }
}

uint64_t LogWriter::enqueue(std::vector<uint8_t> record) {
  ASSERT(!record.empty());
  ASSERT(record.size() <= append_bytes_max_);
  ASSERT(!stopped_);
  const uint64_t ticket = next_ticket_++;
  queued_bytes_ += record.size();
  footprints_.emplace_back(ticket, ring_footprint(record.size()));
  untrimmed_bytes_ += footprints_.back().second;
  queue_.push_back(Queued{ticket, std::move(record)});
  work_.notify();
  return ticket;
}

Task<Result<void>> LogWriter::wait_durable(uint64_t ticket) {
  ASSERT(ticket < next_ticket_);
  while (durable_ticket_ < ticket) {
    if (fenced_) co_return *fenced_;
    if (stopped_) co_return make_error(Code::kUnavailable, "block store closed");
    co_await changed_.wait();
  }
  co_return ok_result();
}

Task<void> LogWriter::run() {
  while (true) {
    if (queue_.empty()) {
      if (stopping_ || fenced_) break;
      co_await work_.wait();
      continue;
    }
    // One batch: as many queued records as fit one append, counted by the ring space they take
    // (at least 512 bytes each), not by their bytes: 1,024 small records fit one append's bytes
    // but take 512 KiB of ring, more than a small ring holds, and a batch the ring cannot hold
    // is refused as busy however often it is sent. Footprint >= bytes, so the shelf's cap on an
    // append's bytes holds too.
    size_t count = 0;
    size_t footprint = 0;
    while (count < queue_.size() && count < protocol::kNvramRecordsPerAppendDefault) {
      const size_t next = ring_footprint(queue_[count].bytes.size());
      if (count > 0 && footprint + next > append_bytes_max_) break;
      footprint += next;
      ++count;
    }
    auto appended = co_await append_batch(count);
    if (!appended.ok()) break;  // fenced or stopping: waiters see it
  }
  changed_.notify_all();
}

Task<Result<void>> LogWriter::append_batch(size_t count) {
  std::vector<std::vector<uint8_t>> records;
  records.reserve(count);
  for (size_t i = 0; i < count; ++i) records.push_back(queue_[i].bytes);
  while (true) {
    auto client = co_await link_.client();
    if (!client.ok()) {
      if (link_.closed()) {
        // Nothing can make these records durable any more: waiters must not wait for them.
        fenced_ = client.error();
        changed_.notify_all();
        co_return client.error();
      }
      ++stats_.retries;
      co_await sleep_for(env_.clock, kReconnectDelay);
      continue;
    }
    auto appended = co_await (*client)->nvram_append(host_, epoch_, records);
    if (appended.ok()) {
      const uint64_t first_ticket = queue_.front().ticket;
      sequences_.push_back(SequenceSpan{first_ticket, appended->first_sequence, count});
      stats_.used_bytes = appended->used_bytes;
      stats_.capacity_bytes = appended->capacity_bytes;
      ++stats_.appends;
      stats_.records += count;
      for (size_t i = 0; i < count; ++i) {
        queued_bytes_ -= queue_.front().bytes.size();
        queue_.pop_front();
      }
      durable_ticket_ = first_ticket + count - 1;
      changed_.notify_all();
      co_return ok_result();
    }
    const Error& error = appended.error();
    if (error.code == Code::kStale) {
      fenced_ = error;
      changed_.notify_all();
      co_return error;
    }
    if (error.code == Code::kBusy) {
      // The ring is full: the destage loop trims it. Wait for that (or a short delay).
      ++stats_.busy_waits;
      stats_.used_bytes = std::max(stats_.used_bytes, stats_.capacity_bytes);
      co_await sleep_for(env_.clock, kBusyRetryDelay);
      continue;
    }
    link_.reset_if_broken(error);
    if (!is_connection_error(error)) {
      // The shelf refused the batch itself (kInvalidArgument, kCorruption, kNoSpace, kIo): a
      // retry cannot succeed, and skipping it would break the log's order. Stop the store.
      env_.log.error("blockstore.append_refused", {{"error", error.to_string()}});
      fenced_ = error;
      changed_.notify_all();
      co_return error;
    }
    ++stats_.retries;
    env_.log.warn("nvram append failed, retrying: " + error.to_string());
    co_await sleep_for(env_.clock, kReconnectDelay);
  }
}

std::optional<uint64_t> LogWriter::sequence_of(uint64_t ticket) const {
  for (const SequenceSpan& span : sequences_) {
    if (ticket >= span.first_ticket && ticket < span.first_ticket + span.count) {
      return span.first_sequence + (ticket - span.first_ticket);
    }
  }
  return std::nullopt;
}

Task<Result<void>> LogWriter::trim_through(uint64_t ticket) {
  ASSERT(ticket <= durable_ticket_);
  if (ticket <= trimmed_ticket_) co_return ok_result();
  // The newest ticket <= `ticket` that has a sequence (tickets of records written before a
  // restart and already trimmed have none).
  std::optional<uint64_t> sequence;
  for (const SequenceSpan& span : sequences_) {
    if (span.first_ticket > ticket) break;
    sequence = sequence_of(std::min(ticket, span.first_ticket + span.count - 1));
  }
  if (!sequence) {
    trimmed_ticket_ = ticket;
    while (!footprints_.empty() && footprints_.front().first <= ticket) {
      untrimmed_bytes_ -= footprints_.front().second;
      footprints_.pop_front();
    }
    changed_.notify_all();
    co_return ok_result();
  }
  while (true) {
    if (fenced_) co_return *fenced_;
    auto client = co_await link_.client();
    if (!client.ok()) co_return client.error();
    auto trimmed = co_await (*client)->nvram_trim(host_, epoch_, *sequence);
    if (trimmed.ok()) break;
    if (trimmed.code() == Code::kStale) {
      fenced_ = trimmed.error();
      changed_.notify_all();
      co_return trimmed.error();
    }
    link_.reset_if_broken(trimmed.error());
    co_return trimmed.error();
  }
  trimmed_ticket_ = ticket;
  while (!footprints_.empty() && footprints_.front().first <= ticket) {
    untrimmed_bytes_ -= footprints_.front().second;
    footprints_.pop_front();
  }
  while (!sequences_.empty() &&
         sequences_.front().first_ticket + sequences_.front().count - 1 <= ticket) {
    sequences_.pop_front();
  }
  // Refresh the usage the nearly-full test reads.
  auto client = co_await link_.client();
  if (client.ok()) {
    auto usage = co_await (*client)->nvram_usage(host_);
    if (usage.ok()) {
      stats_.used_bytes = usage->used_bytes;
      stats_.capacity_bytes = usage->capacity_bytes;
    }
  }
  changed_.notify_all();
  co_return ok_result();
}

}  // namespace splitarray::hostdriver::blockstore
