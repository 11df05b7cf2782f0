// netshelf/nvram/nvram_log.cpp
// Append (group commit), read, trim and fencing. Format, open and recovery: nvram_open.cpp.
#include "netshelf/nvram/nvram_log.h"

#include <algorithm>
#include <string>

#include "common/crc32c.h"
#include "netshelf/nvram/nvram_log_internal.h"

namespace splitarray::netshelf::nvram {
namespace {

std::string host_name(HostId host) { return "host " + std::to_string(host.value()); }

// Counts a public call in flight so the destructor can assert that none outlives the log.
class CallGuard {
 public:
  explicit CallGuard(uint64_t& counter) : counter_(counter) { ++counter_; }
  ~CallGuard() { --counter_; }
  CallGuard(const CallGuard&) = delete;
  CallGuard& operator=(const CallGuard&) = delete;

 private:
  uint64_t& counter_;
};

}  // namespace

NvramLog::~NvramLog() {
  ASSERT_MSG(calls_inflight_ == 0, "NvramLog destroyed with calls in flight");
  ASSERT(staged_.empty());
}

Error NvramLog::fail(std::string_view what, const Error& cause) {
  if (!failed_) {
    failed_ = make_error(Code::kIo, "nvram failed (" + std::string(what) + "): " + cause.message);
    log_.error("nvram.failed", {{"what", what}, {"cause", cause.message}});
  }
  return *failed_;
}

Error NvramLog::damage_error(const HostLog& log) const {
  ASSERT(log.damage.has_value());
  const Damage& d = *log.damage;
  return make_error(Code::kCorruption,
                    "nvram: " + host_name(log.host) + " record " + std::to_string(d.sequence) +
                        " at file offset " +
                        std::to_string(geometry_.ring_offset(log.region) + d.offset) +
                        " is corrupt; record " + std::to_string(d.evidence_sequence) +
                        " (committed through " + std::to_string(d.evidence_committed_through) +
                        ") proves it was durable; the log is read-only");
}

// --- Host logs, headers and fencing ------------------------------------------------------------

Task<Result<void>> NvramLog::write_header_slot(uint32_t region, const RegionHeader& next) {
  std::vector<uint8_t> block(kBlockBytes, 0);
  encode_region_header(next, block);
  const uint64_t slot = next.generation % kRegionHeaderSlots;
  const uint64_t offset = geometry_.region_offset(region) + slot * kBlockBytes;
  auto wrote = co_await device_->write_at(offset, block);
  if (!wrote.ok()) co_return fail("region header write", wrote.error());
  ++stats_.header_flushes;
  auto flushed = co_await device_->flush();
  if (!flushed.ok()) co_return fail("region header flush", flushed.error());
  co_return ok_result();
}

// Caller holds log.header_gate. On success log.header == next.
Task<Result<void>> NvramLog::write_region_header(HostLog& log, const RegionHeader& next) {
  ASSERT(next.generation == log.header.generation + 1);
  ASSERT(next.fence >= log.header.fence);
  ASSERT(next.trimmed_through >= log.header.trimmed_through);
  if (failed_) co_return *failed_;
  CO_RETURN_IF_ERROR(co_await write_header_slot(log.region, next));
  log.header = next;
  co_return ok_result();
}

Task<Result<NvramLog::HostLog*>> NvramLog::find_or_claim(HostId host, Epoch epoch) {
  if (auto it = hosts_.find(host); it != hosts_.end()) co_return it->second.get();
  co_await claim_gate_.lock();
  // Re-check under the gate: a concurrent append of the same host may have claimed meanwhile.
  if (auto it = hosts_.find(host); it != hosts_.end()) {
    claim_gate_.unlock();
    co_return it->second.get();
  }
  if (free_regions_.empty() || failed_) {
    claim_gate_.unlock();
    if (failed_) co_return *failed_;
    co_return make_error(Code::kNoSpace, "nvram: no free host region for " + host_name(host));
  }
  const auto [region, generation] = *free_regions_.begin();
  RegionHeader next;
  next.generation = generation + 1;
  next.in_use = true;
  next.host = host;
  next.fence = epoch;
  auto wrote = co_await write_header_slot(region, next);
  if (!wrote.ok()) {
    claim_gate_.unlock();
    co_return std::move(wrote).take_error();
  }
  free_regions_.erase(region);
  auto log = std::make_unique<HostLog>();
  log->region = region;
  log->host = host;
  log->header = next;
  log->fence_target = epoch;
  HostLog* raw = log.get();
  hosts_.emplace(host, std::move(log));
  claim_gate_.unlock();
  log_.info("nvram.host_claimed", {{"host", host.value()}, {"region", region}});
  co_return raw;
}

Task<Result<void>> NvramLog::admit(HostLog& log, Epoch epoch) {
  if (epoch < log.fence_target) {
    co_return make_error(Code::kStale, "nvram: " + host_name(log.host) + " epoch " +
                                           std::to_string(epoch.value()) + " < fence " +
                                           std::to_string(log.fence_target.value()));
  }
  log.fence_target = epoch;
  if (log.header.fence < epoch) {
    co_await log.header_gate.lock();
    Result<void> raised = ok_result();
    if (log.header.fence < epoch) {
      RegionHeader next = log.header;
      ++next.generation;
      next.fence = log.fence_target;  // >= epoch: persists the newest admitted epoch
      raised = co_await write_region_header(log, next);
    }
    log.header_gate.unlock();
    CO_RETURN_IF_ERROR(std::move(raised));
  }
  ASSERT(log.header.fence >= epoch);
  co_return ok_result();
}

// --- Append and group commit -----------------------------------------------------------------

Result<void> NvramLog::check_reservation(const HostLog& log, Epoch epoch,
                                         std::span<const std::span<const uint8_t>> records) const {
  if (failed_) return *failed_;
  // A newer epoch may have been admitted while this request waited for its fence write.
  if (epoch < log.fence_target) {
    return make_error(Code::kStale, "nvram: " + host_name(log.host) + " fenced by epoch " +
                                        std::to_string(log.fence_target.value()));
  }
  if (log.damage) return damage_error(log);
  uint64_t footprint = 0;
  for (const auto& record : records) footprint += record_footprint(record.size());
  const uint64_t capacity = geometry_.ring_bytes();
  if (log.used_bytes + footprint > capacity) {
    return make_error(Code::kBusy, "nvram: " + host_name(log.host) + " log full (" +
                                       std::to_string(log.used_bytes) + " of " +
                                       std::to_string(capacity) + " bytes used); trim first");
  }
  return ok_result();
}

// Synchronous: sequences, ring space and the staged bytes are taken in one step, so batches of a
// host occupy the ring in sequence order.
void NvramLog::reserve(HostLog& log, Epoch epoch, std::span<const std::span<const uint8_t>> records,
                       Staged& staged) {
  const uint64_t ring = geometry_.ring_bytes();
  staged.log = &log;
  staged.epoch = epoch;
  staged.first_sequence = log.next_sequence;
  staged.ring_offset = log.tail_offset;
  uint64_t total = 0;
  for (const auto& record : records) total += record_footprint(record.size());
  staged.bytes.assign(total, 0);
  uint64_t pos = 0;
  for (const auto& record : records) {
    std::copy(record.begin(), record.end(), staged.bytes.begin() + pos + kRecordHeaderBytes);
    staged.payload_crcs.push_back(crc32c(record));
    staged.record_positions.push_back(pos);
    staged.lengths.push_back(static_cast<uint32_t>(record.size()));
    log.index.push_back(RecordLoc{.sequence = log.next_sequence,
                                  .offset = (log.tail_offset + pos) % ring,
                                  .length = static_cast<uint32_t>(record.size()),
                                  .crc = 0,  // stamped when written
                                  .prev_crc = 0,
                                  .committed_through = 0});
    ++log.next_sequence;
    pos += record_footprint(record.size());
  }
  ASSERT(pos == total);
  log.used_bytes += total;
  log.tail_offset = (log.tail_offset + total) % ring;
  ASSERT(log.used_bytes <= ring);
}

Task<Result<AppendResult>> NvramLog::append(HostId host, Epoch epoch,
                                            std::span<const std::span<const uint8_t>> records) {
  CallGuard guard(calls_inflight_);
  if (failed_) co_return *failed_;
  if (records.empty()) co_return make_error(Code::kInvalidArgument, "nvram: empty append");
  if (records.size() > config_.append_records_max) {
    co_return make_error(Code::kInvalidArgument, "nvram: " + std::to_string(records.size()) +
                                                     " records > limit " +
                                                     std::to_string(config_.append_records_max));
  }
  uint64_t payload = 0;
  for (const auto& record : records) payload += record.size();
  if (payload > config_.append_max_bytes) {
    co_return make_error(Code::kInvalidArgument, "nvram: append of " + std::to_string(payload) +
                                                     " bytes > limit " +
                                                     std::to_string(config_.append_max_bytes));
  }
  CO_ASSIGN_OR_RETURN(HostLog * log, co_await find_or_claim(host, epoch));
  CO_RETURN_IF_ERROR(co_await admit(*log, epoch));
  CO_RETURN_IF_ERROR(check_reservation(*log, epoch, records));

  Staged staged;
  reserve(*log, epoch, records, staged);
  staged_.push_back(&staged);
  if (!leader_active_) {
    leader_active_ = true;
    co_await lead_round();
  } else {
    const bool woken = co_await staged.wake.wait();
    ASSERT(woken);
    if (!staged.result) co_await lead_round();  // handed the lead: our batch is at the front
  }
  ASSERT(staged.result.has_value());
  CO_RETURN_IF_ERROR(std::move(*staged.result));
  ++stats_.appends;
  stats_.records += records.size();
  co_return AppendResult{.first_sequence = staged.first_sequence,
                         .used_bytes = log->used_bytes,
                         .capacity_bytes = geometry_.ring_bytes()};
}

// Fills in the fields only known at write time: committed_through (what is durable now) and
// the hash chain (prev_crc), then each record's CRC.
void NvramLog::stamp(Staged& staged) {
  HostLog& log = *staged.log;
  ASSERT(!log.index.empty());
  ASSERT(staged.first_sequence >= log.index.front().sequence);
  for (size_t i = 0; i < staged.lengths.size(); ++i) {
    RecordHeader header;
    header.host = log.host;
    header.length = staged.lengths[i];
    header.sequence = staged.first_sequence + i;
    header.incarnation = geometry_.incarnation;
    header.epoch = staged.epoch;
    header.committed_through = log.durable_next - 1;
    header.prev_crc = log.last_stamped_crc;
    header.crc = record_crc(header, staged.payload_crcs[i]);
    encode_record_header(
        header, std::span(staged.bytes).subspan(staged.record_positions[i], kRecordHeaderBytes));
    RecordLoc& loc = log.index[header.sequence - log.index.front().sequence];
    ASSERT(loc.sequence == header.sequence);
    loc.crc = header.crc;
    loc.prev_crc = header.prev_crc;
    loc.committed_through = header.committed_through;
    log.last_stamped_crc = header.crc;
  }
}

Task<Result<void>> NvramLog::write_staged(const Staged& staged) {
  const uint64_t ring = geometry_.ring_bytes();
  const uint64_t base = geometry_.ring_offset(staged.log->region);
  const std::span<const uint8_t> bytes(staged.bytes);
  const uint64_t first = std::min<uint64_t>(bytes.size(), ring - staged.ring_offset);
  CO_RETURN_IF_ERROR(co_await device_->write_at(base + staged.ring_offset, bytes.first(first)));
  if (first < bytes.size()) {  // the batch wraps around the end of the ring
    CO_RETURN_IF_ERROR(co_await device_->write_at(base, bytes.subspan(first)));
  }
  co_return ok_result();
}

// One group-commit round: write every staged batch in reservation order, flush once, complete
// them all, then hand the lead to the oldest batch staged meanwhile (it leads the next round).
// Writes within a round are sequential, so a crash (not a power loss) leaves no holes.
Task<void> NvramLog::lead_round() {
  ASSERT(leader_active_);
  ASSERT(!staged_.empty());
  Staged* const self = staged_.front();
  std::vector<Staged*> round(staged_.begin(), staged_.end());
  staged_.clear();
  Result<void> outcome = failed_ ? Result<void>(*failed_) : ok_result();
  for (Staged* staged : round) {
    if (!outcome.ok()) break;
    stamp(*staged);
    auto wrote = co_await write_staged(*staged);
    if (!wrote.ok()) outcome = fail("record write", wrote.error());
    if (failed_ && outcome.ok()) outcome = *failed_;  // a header flush failed meanwhile
  }
  if (outcome.ok()) {
    ++stats_.flushes;
    auto flushed = co_await device_->flush();
    if (!flushed.ok()) outcome = fail("group commit flush", flushed.error());
    if (failed_ && outcome.ok()) outcome = *failed_;  // never ack on a log that failed meanwhile
  }
  for (Staged* staged : round) {
    if (outcome.ok()) {
      HostLog& log = *staged->log;
      ASSERT(staged->first_sequence == log.durable_next);  // acks in sequence order
      log.durable_next += staged->lengths.size();
      ASSERT(log.durable_next <= log.next_sequence);
    }
    staged->result = outcome;
    if (staged != self) staged->wake.set(true);
  }
  if (staged_.empty()) {
    leader_active_ = false;
  } else {
    staged_.front()->wake.set(true);  // no result yet: "you lead the next round"
  }
}

// --- Read, trim, usage -------------------------------------------------------------------------

Task<Result<std::vector<uint8_t>>> NvramLog::read_ring(const HostLog& log, uint64_t offset,
                                                       uint64_t length) {
  const uint64_t ring = geometry_.ring_bytes();
  ASSERT(offset < ring);
  ASSERT(length <= ring);
  const uint64_t base = geometry_.ring_offset(log.region);
  std::vector<uint8_t> out(length);
  const uint64_t first = std::min(length, ring - offset);
  auto head = std::span(out).first(first);
  CO_RETURN_IF_ERROR(co_await device_->read_at(base + offset, head));
  if (first < length) {
    auto rest = std::span(out).subspan(first);
    CO_RETURN_IF_ERROR(co_await device_->read_at(base, rest));
  }
  co_return out;
}

Task<Result<LogRecord>> NvramLog::read_record(const HostLog& log, const RecordLoc& loc) {
  CO_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                      co_await read_ring(log, loc.offset, kRecordHeaderBytes + loc.length));
  const std::span<const uint8_t> view(bytes);
  auto header = decode_record_header(view.first(kRecordHeaderBytes));
  const auto payload = view.subspan(kRecordHeaderBytes);
  const bool intact = header && header->sequence == loc.sequence && header->length == loc.length &&
                      header->crc == loc.crc && record_crc(*header, crc32c(payload)) == loc.crc;
  if (!intact) {
    co_return make_error(Code::kCorruption,
                         "nvram: " + host_name(log.host) + " record " +
                             std::to_string(loc.sequence) + " at file offset " +
                             std::to_string(geometry_.ring_offset(log.region) + loc.offset) +
                             " failed its checksum on read");
  }
  co_return LogRecord{.sequence = loc.sequence, .bytes = {payload.begin(), payload.end()}};
}

Task<Result<ReadResult>> NvramLog::read(HostId host, uint64_t from_sequence, uint64_t max_bytes) {
  CallGuard guard(calls_inflight_);
  if (failed_) co_return *failed_;
  auto it = hosts_.find(host);
  if (it == hosts_.end())
    co_return make_error(Code::kNotFound, "nvram: no log for " + host_name(host));
  HostLog& log = *it->second;
  if (from_sequence < log.first_sequence()) {
    co_return make_error(Code::kNotFound, "nvram: " + host_name(host) + " sequence " +
                                              std::to_string(from_sequence) + " was trimmed");
  }
  // Which run of intact records serves this read: the chain before the damage (or all of it),
  // or the chain after the damage. Between them lies the damaged record.
  const std::deque<RecordLoc>* run = &log.index;
  uint64_t run_end = log.damage ? log.damage->sequence : log.durable_next;
  if (log.damage && from_sequence >= log.damage->sequence) {
    const bool after =
        !log.after_damage.empty() && from_sequence >= log.after_damage.front().sequence;
    if (!after) co_return damage_error(log);
    run = &log.after_damage;
    run_end = log.after_damage.back().sequence + 1;
  }
  ReadResult result;
  result.first_sequence = log.first_sequence();
  result.next_sequence = log.damage ? run_end : log.durable_next;
  if (from_sequence > run_end) {
    co_return make_error(Code::kInvalidArgument, "nvram: " + host_name(host) + " read from " +
                                                     std::to_string(from_sequence) +
                                                     " past the end " + std::to_string(run_end));
  }
  // Snapshot the locations: the index may change while the reads are in flight.
  std::vector<RecordLoc> wanted;
  const uint64_t budget = std::min(max_bytes, config_.read_max_bytes);
  uint64_t bytes = 0;
  if (from_sequence < run_end) {
    for (size_t i = from_sequence - run->front().sequence; i < run->size(); ++i) {
      const RecordLoc& loc = (*run)[i];
      if (loc.sequence >= run_end) break;
      if (!wanted.empty() && bytes + loc.length > budget) break;
      wanted.push_back(loc);
      bytes += loc.length;
    }
  }
  for (const RecordLoc& loc : wanted) {
    auto record = co_await read_record(log, loc);
    if (!record.ok()) {
      // A trim that completed meanwhile may have let an append reuse these bytes.
      if (loc.sequence < log.first_sequence()) break;
      co_return std::move(record).take_error();
    }
    result.records.push_back(std::move(record).value());
  }
  if (!wanted.empty() && result.records.empty()) {
    co_return make_error(Code::kNotFound, "nvram: " + host_name(host) + " trimmed during read");
  }
  co_return result;
}

Task<Result<void>> NvramLog::trim(HostId host, Epoch epoch, uint64_t through_sequence) {
  CallGuard guard(calls_inflight_);
  if (failed_) co_return *failed_;
  auto it = hosts_.find(host);
  if (it == hosts_.end())
    co_return make_error(Code::kNotFound, "nvram: no log for " + host_name(host));
  HostLog& log = *it->second;
  CO_RETURN_IF_ERROR(co_await admit(log, epoch));
  if (log.damage) co_return damage_error(log);
  if (through_sequence >= log.durable_next) {
    co_return make_error(Code::kInvalidArgument,
                         "nvram: " + host_name(host) + " trim through " +
                             std::to_string(through_sequence) + " but only " +
                             std::to_string(log.durable_next - 1) + " are acknowledged");
  }
  co_await log.header_gate.lock();
  Result<void> outcome = ok_result();
  if (epoch < log.fence_target) {
    outcome = make_error(Code::kStale, "nvram: " + host_name(host) + " fenced while trimming");
  } else if (through_sequence > log.header.trimmed_through) {
    const size_t count = through_sequence - log.header.trimmed_through;
    ASSERT(count <= log.index.size());
    ASSERT(log.index.front().sequence == log.header.trimmed_through + 1);
    RegionHeader next = log.header;
    ++next.generation;
    next.fence = log.fence_target;
    next.trimmed_through = through_sequence;
    next.head_prev_crc = log.index[count - 1].crc;
    // The next record (acknowledged, staged, or the next to be reserved) starts here.
    next.head_offset = count < log.index.size() ? log.index[count].offset : log.tail_offset;
    outcome = co_await write_region_header(log, next);
    if (outcome.ok()) {
      // Only now, with the trim durable, may appends reuse the ring space (invariant 3).
      for (size_t i = 0; i < count; ++i) {
        log.used_bytes -= record_footprint(log.index.front().length);
        log.index.pop_front();
      }
      log.head_offset = next.head_offset;
      ASSERT(log.index.empty() || log.index.front().offset == log.head_offset);
    }
  }
  log.header_gate.unlock();
  co_return outcome;
}

Result<LogUsage> NvramLog::usage(HostId host) const {
  auto it = hosts_.find(host);
  if (it == hosts_.end())
    return make_error(Code::kNotFound, "nvram: no log for " + host_name(host));
  const HostLog& log = *it->second;
  return LogUsage{.host = host,
                  .used_bytes = log.used_bytes,
                  .capacity_bytes = geometry_.ring_bytes(),
                  .first_sequence = log.first_sequence(),
                  .next_sequence = log.durable_next,
                  .fence = log.header.fence,
                  .damaged = log.damage.has_value()};
}

std::vector<HostId> NvramLog::hosts() const {
  std::vector<HostId> out;
  for (const auto& [host, log] : hosts_) out.push_back(host);
  return out;
}

std::optional<Error> NvramLog::damage(HostId host) const {
  auto it = hosts_.find(host);
  if (it == hosts_.end() || !it->second->damage) return std::nullopt;
  return damage_error(*it->second);
}

}  // namespace splitarray::netshelf::nvram
