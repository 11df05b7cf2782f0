// netshelf/index/index_log.cpp
#include "netshelf/index/index_log.h"

#include <algorithm>

namespace splitarray::netshelf::index {

LogWriter::LogWriter(uint64_t next_sequence)
    : next_sequence_(next_sequence), durable_sequence_(next_sequence - 1) {
  ASSERT(next_sequence > 0);
}

LogWriter::~LogWriter() {
  ASSERT_MSG(!leader_active_, "LogWriter destroyed while a flush is in flight");
  ASSERT_MSG(waiters_.empty(), "LogWriter destroyed with waiters");
}

void LogWriter::switch_to(uint64_t generation, std::unique_ptr<File> file, uint64_t tail) {
  ASSERT(file != nullptr);
  ASSERT(files_.empty() || generation > files_.back().generation);
  files_.push_back(LogFile{.generation = generation, .file = std::move(file), .tail = tail});
}

uint64_t LogWriter::generation() const {
  ASSERT(!files_.empty());
  return files_.back().generation;
}

uint64_t LogWriter::tail() const {
  ASSERT(!files_.empty());
  return files_.back().tail;
}

const Error& LogWriter::failure() const {
  ASSERT(failure_.has_value());
  return *failure_;
}

std::vector<uint8_t>& LogWriter::open_segment() {
  ASSERT_MSG(!failure_, "append to a failed index log");
  ASSERT(!files_.empty());
  LogFile& current = files_.back();
  if (queue_.empty() || queue_.back().file != current.file.get()) {
    queue_.push_back(Segment{
        .file = current.file.get(), .offset = current.tail, .bytes = {}, .last_sequence = 0});
  }
  return queue_.back().bytes;
}

void LogWriter::appended(size_t bytes_before) {
  Segment& segment = queue_.back();
  ASSERT(segment.bytes.size() > bytes_before);
  const size_t added = segment.bytes.size() - bytes_before;
  ASSERT(segment.offset + segment.bytes.size() == files_.back().tail + added);
  files_.back().tail += added;
  pending_bytes_ += added;
  segment.last_sequence = next_sequence_++;
}

uint64_t LogWriter::append_insert(std::span<const IndexEntry> entries) {
  std::vector<uint8_t>& bytes = open_segment();
  const size_t before = bytes.size();
  append_insert_record(&bytes, next_sequence_, durable_sequence_, entries);
  appended(before);
  return next_sequence_ - 1;
}

uint64_t LogWriter::append_remove(std::span<const Fingerprint> fps) {
  std::vector<uint8_t>& bytes = open_segment();
  const size_t before = bytes.size();
  append_remove_record(&bytes, next_sequence_, durable_sequence_, fps);
  appended(before);
  return next_sequence_ - 1;
}

Task<Result<void>> LogWriter::wait_durable(uint64_t sequence) {
  ASSERT(sequence < next_sequence_);
  if (sequence <= durable_sequence_) co_return ok_result();
  if (failure_) co_return *failure_;
  if (leader_active_) {
    async::Oneshot<Result<void>> done;
    waiters_.push_back(Waiter{.sequence = sequence, .done = &done});
    co_return co_await done.wait();
  }
  // Leader: one write + one flush per round; what arrives meanwhile forms the next round.
  leader_active_ = true;
  while (!queue_.empty() && !failure_) {
    Segment segment = std::move(queue_.front());
    queue_.pop_front();
    ASSERT(pending_bytes_ >= segment.bytes.size());
    pending_bytes_ -= segment.bytes.size();
    in_flight_ = segment.file;
    Result<void> written = co_await segment.file->write_at(segment.offset, segment.bytes);
    if (written.ok()) written = co_await segment.file->flush();
    in_flight_ = nullptr;
    ++flushes_;
    if (!written.ok()) {
      fail(std::move(written).take_error());
      break;
    }
    ASSERT(segment.last_sequence > durable_sequence_);
    durable_sequence_ = segment.last_sequence;
    wake_durable();
  }
  leader_active_ = false;
  if (sequence <= durable_sequence_) co_return ok_result();
  ASSERT(failure_.has_value());
  co_return *failure_;
}

void LogWriter::wake_durable() {
  auto keep = std::stable_partition(waiters_.begin(), waiters_.end(), [this](const Waiter& w) {
    return w.sequence > durable_sequence_;
  });
  for (auto it = keep; it != waiters_.end(); ++it) it->done->set(ok_result());
  waiters_.erase(keep, waiters_.end());
}

void LogWriter::fail(Error error) {
  ASSERT(!failure_.has_value());
  failure_ = std::move(error);
  for (Waiter& w : waiters_) w.done->set(*failure_);
  waiters_.clear();
  queue_.clear();
  pending_bytes_ = 0;
}

void LogWriter::retire_below(uint64_t generation) {
  while (files_.size() > 1 && files_.front().generation < generation) {
    File* file = files_.front().file.get();
    ASSERT_MSG(in_flight_ != file, "retiring a log file the leader is using");
    for (const Segment& s : queue_) ASSERT_MSG(s.file != file, "retiring a log file with records");
    files_.pop_front();
  }
}

}  // namespace splitarray::netshelf::index
