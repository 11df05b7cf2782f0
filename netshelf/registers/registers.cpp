#include "netshelf/registers/registers.h"

#include <algorithm>

namespace splitarray::netshelf {
namespace {

RegisterValue to_value(const StoredRegister* state) {
  if (state == nullptr) return RegisterValue{};
  return RegisterValue{
      .exists = true, .value = state->value, .version = state->version, .epoch = state->epoch};
}

Result<void> validate(const RegisterStoreConfig& c) {
  const auto bad = [](const char* what) {
    return make_error(Code::kInvalidArgument, std::string("register store config: ") + what);
  };
  if (c.path.empty()) return bad("empty path");
  if (c.name_bytes_max == 0 || c.name_bytes_max > kLogNameBytesCeiling) return bad("name max");
  if (c.count_max == 0 || c.inflight_max == 0) return bad("zero count or inflight limit");
  if (c.live_bytes_max < c.name_bytes_max + c.value_bytes_max) return bad("live bytes max");
  const size_t record_max = encoded_record_bytes(c.name_bytes_max, c.value_bytes_max);
  if (c.batch_bytes_max < record_max || c.batch_bytes_max > kLogBatchBodyBytesCeiling) {
    return bad("batch_bytes_max must hold one largest record");
  }
  return ok_result();
}

}  // namespace

RegisterStore::RegisterStore(Env& env, RegisterStoreConfig config)
    : env_(env), config_(std::move(config)) {}

RegisterStore::~RegisterStore() {
  ASSERT_MSG(!flushing_, "RegisterStore destroyed during a flush; close() first");
  ASSERT(waiters_.empty());
}

Task<Result<std::unique_ptr<RegisterStore>>> RegisterStore::open(Env& env,
                                                                 RegisterStoreConfig config) {
  CO_RETURN_IF_ERROR(validate(config));
  std::unique_ptr<RegisterStore> store(new RegisterStore(env, std::move(config)));
  CO_RETURN_IF_ERROR(co_await store->recover());
  ASSERT(store->file_ != nullptr);
  co_return store;
}

Task<Result<void>> RegisterStore::recover() {
  auto opened = co_await env_.storage.open(config_.path, {});
  if (!opened.ok() && opened.code() == Code::kNotFound) {
    // Never created (creation is write-scratch-then-rename, so a crash leaves no half file).
    co_return co_await compact();
  }
  if (!opened.ok()) co_return std::move(opened).take_error();
  std::unique_ptr<File> file = std::move(opened).value();
  CO_ASSIGN_OR_RETURN(const uint64_t size, file->size());
  // What is read may be only in the page cache: a predecessor killed between writing a batch and
  // flushing it. Make it durable before serving it, or a power loss could take back a value a
  // host already read (as the index log learned the hard way, netshelf/index).
  CO_RETURN_IF_ERROR(co_await file->flush());
  std::vector<uint8_t> image(size);
  CO_RETURN_IF_ERROR(co_await file->read_at(0, image));
  CO_ASSIGN_OR_RETURN(RecoveredLog log, recover_log(image));
  image = {};
  durable_ = std::move(log.registers);
  for (const auto& [name, reg] : durable_) {
    durable_record_bytes_ += encoded_record_bytes(name.size(), reg.value.size());
    latest_live_bytes_ += name.size() + reg.value.size();
  }
  latest_count_ = durable_.size();
  stats_.torn_tail_bytes_dropped = log.torn_tail_bytes;
  file_ = std::move(file);
  salt_ = log.salt;
  file_batches_ = log.batches;
  log_bytes_ = log.valid_bytes;
  env_.log.info("registers.recovered", {{"path", config_.path},
                                        {"registers", durable_.size()},
                                        {"batches", log.batches},
                                        {"torn_tail_bytes", log.torn_tail_bytes}});
  // The File interface has no truncate: a torn tail is dropped by rewriting the live state
  // into a fresh file, so later appends never sit in front of stale bytes.
  if (log.torn_tail_bytes > 0 || should_compact()) {
    CO_RETURN_IF_ERROR(co_await compact());
    ++stats_.compactions;
  }
  co_return ok_result();
}

bool RegisterStore::should_compact() const {
  const uint64_t live =
      kLogFileHeaderBytes + durable_record_bytes_ +
      kLogBatchHeaderBytes * (1 + durable_record_bytes_ / config_.batch_bytes_max);
  return log_bytes_ > std::max<uint64_t>(config_.compact_min_bytes, compact_floor_bytes_) &&
         log_bytes_ > 2 * live;
}

// Writes durable_ into a fresh scratch file, flushes it, renames it over the log and reopens the
// log. An error before the rename leaves the old file in charge (returned, store not failed); an
// error at or after the rename fails the store, since which inode the path names is then unknown.
Task<Result<void>> RegisterStore::compact() {
  const std::string scratch = config_.path + ".compact";
  auto removed = co_await env_.storage.remove(scratch);
  if (!removed.ok() && removed.code() != Code::kNotFound) co_return std::move(removed).take_error();
  const uint64_t salt = env_.rng.next_u64();
  std::vector<uint8_t> image = encode_file_header(salt);
  uint64_t batches = 0;
  std::vector<LogRecord> chunk;
  size_t chunk_bytes = 0;
  for (const auto& [name, reg] : durable_) {
    const size_t bytes = encoded_record_bytes(name.size(), reg.value.size());
    if (!chunk.empty() && chunk_bytes + bytes > config_.batch_bytes_max) {
      encode_batch(salt, ++batches, chunk, image);
      chunk.clear();
      chunk_bytes = 0;
    }
    chunk.push_back(LogRecord{.name = name, .state = reg});
    chunk_bytes += bytes;
  }
  if (!chunk.empty()) encode_batch(salt, ++batches, chunk, image);
  chunk = {};
  {
    CO_ASSIGN_OR_RETURN(std::unique_ptr<File> out,
                        co_await env_.storage.open(scratch, {.create = true}));
    CO_RETURN_IF_ERROR(co_await out->write_at(0, image));
    CO_RETURN_IF_ERROR(co_await out->flush());
  }
  auto renamed = co_await env_.storage.rename(scratch, config_.path);
  if (!renamed.ok()) {
    fail(renamed.error());
    co_return std::move(renamed).take_error();
  }
  auto reopened = co_await env_.storage.open(config_.path, {});
  if (!reopened.ok()) {
    fail(reopened.error());
    co_return std::move(reopened).take_error();
  }
  file_ = std::move(reopened).value();
  salt_ = salt;
  file_batches_ = batches;
  log_bytes_ = image.size();
  compact_floor_bytes_ = 0;
  ASSERT(!should_compact() || durable_.empty());
  co_return ok_result();
}

// Takes a prefix of the queue (one record at least, batch_bytes_max at most), appends it as one
// batch with one write and one flush, then publishes it: durable_ and durable_seq_ advance and
// the waiters it satisfies are completed.
Task<Result<void>> RegisterStore::write_batch() {
  ASSERT(!queue_.empty());
  std::vector<LogRecord> records;
  size_t bytes = 0;
  uint64_t last_seq = 0;
  while (!queue_.empty()) {
    auto& [seq, record] = queue_.front();
    const size_t size = encoded_record_bytes(record.name.size(), record.state.value.size());
    if (!records.empty() && bytes + size > config_.batch_bytes_max) break;
    ASSERT(seq > last_seq);
    last_seq = seq;
    bytes += size;
    records.push_back(std::move(record));
    queue_.pop_front();
  }
  std::vector<uint8_t> batch;
  batch.reserve(kLogBatchHeaderBytes + bytes);
  encode_batch(salt_, file_batches_ + 1, records, batch);
  CO_RETURN_IF_ERROR(co_await file_->write_at(log_bytes_, batch));
  CO_RETURN_IF_ERROR(co_await file_->flush());
  ++file_batches_;
  log_bytes_ += batch.size();
  ++stats_.batches;
  ASSERT(last_seq > durable_seq_);
  durable_seq_ = last_seq;
  for (LogRecord& record : records) apply_durable(std::move(record));
  complete_waiters();
  co_return ok_result();
}

void RegisterStore::apply_durable(LogRecord record) {
  // A batch may hold several records of one register; the first of them already erased the
  // pending entry if the last one is in this batch too.
  auto pending = pending_state_.find(record.name);
  if (pending != pending_state_.end() && pending->second.seq <= durable_seq_) {
    pending_state_.erase(pending);
  }
  StoredRegister& slot = durable_[record.name];
  ASSERT(record.state.version > slot.version);
  if (slot.version > 0) {
    durable_record_bytes_ -= encoded_record_bytes(record.name.size(), slot.value.size());
  }
  durable_record_bytes_ += encoded_record_bytes(record.name.size(), record.state.value.size());
  slot = std::move(record.state);
}

void RegisterStore::complete_waiters() {
  while (!waiters_.empty() && waiters_.begin()->first <= durable_seq_) {
    waiters_.begin()->second->done.set(false);
    waiters_.erase(waiters_.begin());
  }
}

void RegisterStore::fail(Error error) {
  if (failed_) return;
  env_.log.error("registers.failed", {{"path", config_.path}, {"error", error.to_string()}});
  failed_ = make_error(Code::kIo, "register store failed: " + error.to_string());
  for (auto& [seq, waiter] : waiters_) waiter->done.set(*failed_);
  waiters_.clear();
  queue_.clear();
}

// Resolves once change `seq` is durable. If nobody is flushing, the caller becomes the leader.
Task<Result<void>> RegisterStore::wait_durable(uint64_t seq) {
  if (seq <= durable_seq_) co_return ok_result();
  if (failed_) co_return *failed_;
  ASSERT(seq <= decided_seq_);
  if (flushing_) {
    Waiter waiter;
    waiters_.emplace(seq, &waiter);
    Result<bool> woken = co_await waiter.done.wait();
    if (!woken.ok()) co_return std::move(woken).take_error();
    if (!*woken) co_return ok_result();
    ASSERT(flushing_);  // promoted: the previous leader left flushing_ set for us
  } else {
    flushing_ = true;
  }
  co_return co_await lead(seq);
}

// Writes batches until change `seq` is durable (compacting when the log has grown), then hands
// leadership to the oldest remaining waiter; its change is queued, since everything durable has
// been completed. With no waiter left, flushing stops.
Task<Result<void>> RegisterStore::lead(uint64_t seq) {
  ASSERT(flushing_);
  Result<void> result = ok_result();
  while (durable_seq_ < seq) {
    if (failed_) {
      result = *failed_;
      break;
    }
    ASSERT(!queue_.empty());
    auto written = co_await write_batch();
    if (!written.ok()) {
      fail(written.error());
      result = *failed_;
      break;
    }
    if (!should_compact()) continue;
    auto compacted = co_await compact();
    if (compacted.ok()) ++stats_.compactions;
    if (!compacted.ok() && !failed_) {
      // The old log is intact and still in charge; retry once it has doubled again.
      env_.log.warn("registers.compaction_failed", {{"error", compacted.error().to_string()}});
      compact_floor_bytes_ = 2 * log_bytes_;
    }
  }
  if (!waiters_.empty()) {
    ASSERT(!failed_);
    ASSERT(!queue_.empty());
    Waiter* next = waiters_.begin()->second;
    waiters_.erase(waiters_.begin());
    next->done.set(true);
  } else {
    flushing_ = false;
    idle_.notify();
  }
  co_return result;
}

RegisterStore::View RegisterStore::view(const std::string& name) const {
  if (auto it = pending_state_.find(name); it != pending_state_.end()) {
    return View{.state = &it->second.state, .seq = it->second.seq};
  }
  if (auto it = durable_.find(name); it != durable_.end())
    return View{.state = &it->second, .seq = 0};
  return View{.state = nullptr, .seq = 0};
}

Result<void> RegisterStore::admit(const std::string& name, size_t value_bytes) const {
  if (name.empty() || name.size() > config_.name_bytes_max) {
    return make_error(Code::kInvalidArgument, "register name must be 1.." +
                                                  std::to_string(config_.name_bytes_max) +
                                                  " bytes, got " + std::to_string(name.size()));
  }
  if (value_bytes > config_.value_bytes_max) {
    return make_error(Code::kInvalidArgument, "register value over " +
                                                  std::to_string(config_.value_bytes_max) +
                                                  " bytes: " + std::to_string(value_bytes));
  }
  if (failed_) return *failed_;
  if (closing_) return make_error(Code::kUnavailable, "register store is closing");
  // The leader counts too: it is waiting for its own flush.
  if (waiters_.size() + (flushing_ ? 1 : 0) >= config_.inflight_max) {
    return make_error(Code::kBusy, "register store: too many requests waiting for a flush");
  }
  return ok_result();
}

Task<Result<RegisterValue>> RegisterStore::get(std::string name) {
  CO_RETURN_IF_ERROR(admit(name, 0));
  const View current = view(name);
  RegisterValue out = to_value(current.state);
  // Report only durable state: if the latest change is still being flushed, answer after it is.
  CO_RETURN_IF_ERROR(co_await wait_durable(current.seq));
  co_return out;
}

Task<Result<CasOutcome>> RegisterStore::compare_and_swap(std::string name,
                                                         uint64_t expected_version,
                                                         std::vector<uint8_t> new_value,
                                                         Epoch epoch) {
  CO_RETURN_IF_ERROR(admit(name, new_value.size()));
  // Everything up to the enqueue below runs without suspending: decisions are made in call order.
  const View current = view(name);
  if (current.state != nullptr && epoch < current.state->epoch) {
    const std::string message = "register " + name + ": epoch " + std::to_string(epoch.value()) +
                                " older than " + std::to_string(current.state->epoch.value());
    CO_RETURN_IF_ERROR(co_await wait_durable(current.seq));  // the fencing epoch is durable
    co_return make_error(Code::kStale, message);
  }
  const uint64_t current_version = current.state ? current.state->version : 0;
  if (expected_version != current_version) {
    CasOutcome mismatch{.swapped = false, .current = to_value(current.state)};
    CO_RETURN_IF_ERROR(co_await wait_durable(current.seq));
    co_return mismatch;
  }
  const size_t old_bytes = current.state ? name.size() + current.state->value.size() : 0;
  if (current.state == nullptr && latest_count_ >= config_.count_max) {
    co_return make_error(Code::kNoSpace, "register count limit reached");
  }
  if (latest_live_bytes_ - old_bytes + name.size() + new_value.size() > config_.live_bytes_max) {
    co_return make_error(Code::kNoSpace, "register live bytes limit reached");
  }
  StoredRegister next{.value = std::move(new_value),
                      .version = current_version + 1,
                      .epoch = current.state ? std::max(epoch, current.state->epoch) : epoch};
  if (current.state == nullptr) ++latest_count_;
  latest_live_bytes_ = latest_live_bytes_ - old_bytes + name.size() + next.value.size();
  const uint64_t seq = ++decided_seq_;
  CasOutcome swapped{.swapped = true, .current = to_value(&next)};
  pending_state_.insert_or_assign(name, Latest{.state = next, .seq = seq});
  queue_.emplace_back(seq, LogRecord{.name = std::move(name), .state = std::move(next)});
  CO_RETURN_IF_ERROR(co_await wait_durable(seq));
  ++stats_.swaps;
  co_return swapped;
}

Task<void> RegisterStore::close() {
  closing_ = true;
  while (flushing_) co_await idle_.wait();
  ASSERT(queue_.empty());
  ASSERT(waiters_.empty());
}

RegisterStoreStats RegisterStore::stats() const {
  RegisterStoreStats out = stats_;
  out.registers = latest_count_;
  out.live_bytes = latest_live_bytes_;
  out.log_bytes = log_bytes_;
  return out;
}

}  // namespace splitarray::netshelf
