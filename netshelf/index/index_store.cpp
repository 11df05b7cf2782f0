// netshelf/index/index_store.cpp
#include "netshelf/index/index_store.h"

#include <algorithm>
#include <cstdio>

#include "common/crc32c.h"
#include "common/endian.h"

namespace splitarray::netshelf::index {
namespace {

constexpr std::string_view kRebuildHint =
    "; the index is derived data, rebuild it: move the index directory away, start the shelf "
    "(it opens an empty index marked rebuilding) and run the index rebuild admin request "
    "(begin, every container footer's entries, finish)";

// Reads a file front to back through one window, so replaying a log of small records costs a
// few large reads rather than two per record.
class FileCursor {
 public:
  static constexpr size_t kWindowBytes = 8 * kMiB;
  static_assert(kWindowBytes >= kLogRecordBytesMax);
  static_assert(kWindowBytes >= kSnapshotBlockBytes);
  static_assert(kWindowBytes >= kSnapshotHeaderBytes + kSnapshotTableBytes);

  FileCursor(File& file, uint64_t size) : file_(file), size_(size) {}

  // Bytes [offset, offset + n) cut at the end of the file; valid until the next read.
  Task<Result<std::span<const uint8_t>>> read(uint64_t offset, size_t n) {
    ASSERT(n <= kWindowBytes);
    if (offset >= size_) co_return std::span<const uint8_t>();
    const uint64_t end = std::min<uint64_t>(offset + n, size_);
    if (offset < window_offset_ || end > window_offset_ + window_.size()) {
      window_.resize(static_cast<size_t>(std::min<uint64_t>(kWindowBytes, size_ - offset)));
      window_offset_ = offset;
      auto read = co_await file_.read_at(offset, std::span<uint8_t>(window_));
      if (!read.ok()) {
        window_.clear();
        co_return std::move(read).take_error();
      }
    }
    ASSERT(end - window_offset_ <= window_.size());
    co_return std::span<const uint8_t>(window_.data() + (offset - window_offset_),
                                       static_cast<size_t>(end - offset));
  }

 private:
  File& file_;
  const uint64_t size_;
  std::vector<uint8_t> window_;
  uint64_t window_offset_ = 0;
};

struct FlagGuard {
  explicit FlagGuard(bool& flag) : flag_(flag) { flag_ = true; }
  ~FlagGuard() { flag_ = false; }
  FlagGuard(const FlagGuard&) = delete;
  FlagGuard& operator=(const FlagGuard&) = delete;
  bool& flag_;
};

struct CountGuard {
  explicit CountGuard(uint64_t& count) : count_(count) { ++count_; }
  ~CountGuard() { --count_; }
  CountGuard(const CountGuard&) = delete;
  CountGuard& operator=(const CountGuard&) = delete;
  uint64_t& count_;
};

}  // namespace

IndexStore::IndexStore(Env& env, IndexStoreConfig config)
    : env_(env),
      log_(env.log.child("index")),
      config_(std::move(config)),
      index_(config_.entries_max) {}

IndexStore::~IndexStore() = default;

std::string IndexStore::snapshot_path() const { return config_.dir + "/index.snap"; }
std::string IndexStore::snapshot_tmp_path() const { return config_.dir + "/index.snap.tmp"; }
std::string IndexStore::log_path(uint64_t generation) const {
  char name[32];
  std::snprintf(name, sizeof(name), "/index.log.%06llu",
                static_cast<unsigned long long>(generation));
  return config_.dir + name;
}
std::string IndexStore::marker_path() const { return config_.dir + "/index.rebuild"; }

Task<Result<std::unique_ptr<IndexStore>>> IndexStore::open(Env& env, IndexStoreConfig config) {
  if (config.dir.empty()) co_return make_error(Code::kInvalidArgument, "index: empty dir");
  if (config.pending_bytes_max < 2 * kLogRecordBytesMax) {
    co_return make_error(Code::kInvalidArgument, "index: pending_bytes_max below two records");
  }
  if (config.log_bytes_max < config.snapshot_after_log_bytes) {
    co_return make_error(Code::kInvalidArgument, "index: log_bytes_max below snapshot point");
  }
  std::unique_ptr<IndexStore> store(new IndexStore(env, std::move(config)));
  CO_RETURN_IF_ERROR(co_await store->recover());
  co_return std::move(store);
}

Task<Result<void>> IndexStore::remove_if_present(const std::string& path) {
  auto removed = co_await env_.storage.remove(path);
  if (!removed.ok() && removed.code() != Code::kNotFound) co_return std::move(removed);
  co_return ok_result();
}

Task<Result<void>> IndexStore::ensure_snapshot() {
  auto probe = co_await env_.storage.open(snapshot_path(), {});
  if (probe.ok()) co_return ok_result();
  if (probe.code() != Code::kNotFound) co_return std::move(probe).take_error();
  if (!config_.create_if_missing) {
    co_return make_error(Code::kNotFound, "index: no snapshot " + snapshot_path() +
                                              " (open with create_if_missing, or rebuild)");
  }
  if (config_.mark_created_rebuilding) {
    // The marker goes first: a crash right after creating the empty snapshot must not leave an
    // index that looks complete. Id 0 overwrites any older marker's id: only a begin continues.
    rebuilding_ = true;
    rebuild_id_ = 0;
    CO_RETURN_IF_ERROR(co_await write_marker(0));
  }
  // A new index: an empty snapshot whose log starts at generation 1, sequence 1.
  CO_RETURN_IF_ERROR(co_await write_snapshot(snapshot_tmp_path(), 1, 1));
  CO_RETURN_IF_ERROR(co_await env_.storage.rename(snapshot_tmp_path(), snapshot_path()));
  co_return ok_result();
}

Task<Result<void>> IndexStore::load_marker() {
  auto opened = co_await env_.storage.open(marker_path(), {});
  if (!opened.ok() && opened.code() == Code::kNotFound) co_return ok_result();
  CO_ASSIGN_OR_RETURN(std::unique_ptr<File> file, std::move(opened));
  // Its existence is what counts; a torn or damaged marker still means "rebuilding".
  rebuilding_ = true;
  rebuild_id_ = 0;
  CO_ASSIGN_OR_RETURN(const uint64_t size, file->size());
  if (size < kRebuildMarkerBytes) co_return ok_result();
  std::vector<uint8_t> bytes(kRebuildMarkerBytes);
  CO_RETURN_IF_ERROR(co_await file->read_at(0, bytes));
  auto id = decode_rebuild_marker(bytes);
  if (id.ok()) rebuild_id_ = id.value();
  co_return ok_result();
}

Task<Result<void>> IndexStore::write_marker(uint64_t rebuild_id) {
  CO_ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                      co_await env_.storage.open(marker_path(), {.create = true}));
  std::vector<uint8_t> bytes(kRebuildMarkerBytes, 0);  // all zero: no usable id
  if (rebuild_id > 0) bytes = encode_rebuild_marker(rebuild_id);
  CO_RETURN_IF_ERROR(co_await file->write_at(0, bytes));
  CO_RETURN_IF_ERROR(co_await file->flush());
  co_return ok_result();
}

Task<Result<void>> IndexStore::recover() {
  CO_RETURN_IF_ERROR(co_await remove_if_present(snapshot_tmp_path()));
  CO_RETURN_IF_ERROR(co_await load_marker());
  CO_RETURN_IF_ERROR(co_await ensure_snapshot());
  CO_ASSIGN_OR_RETURN(const SnapshotHeader header, co_await load_snapshot());
  // Generations below the snapshot's are covered by it; a crash between installing a snapshot
  // and removing them leaves a contiguous run just below (removal goes oldest first).
  for (uint64_t g = header.log_generation - 1; g > 0; --g) {
    auto removed = co_await env_.storage.remove(log_path(g));
    if (!removed.ok() && removed.code() == Code::kNotFound) break;
    CO_RETURN_IF_ERROR(std::move(removed));
  }
  uint64_t expected = header.first_sequence;
  uint64_t generation = header.log_generation;
  for (;; ++generation) {
    auto opened = co_await env_.storage.open(log_path(generation), {});
    if (!opened.ok() && opened.code() == Code::kNotFound) break;
    CO_ASSIGN_OR_RETURN(std::unique_ptr<File> file, std::move(opened));
    CO_ASSIGN_OR_RETURN(const uint64_t size, file->size());
    CO_ASSIGN_OR_RETURN(const bool readable, co_await replay_log(*file, generation, &expected));
    if (readable) {
      // What was read may be only in the page cache: an earlier incarnation killed between
      // writing this generation (its header, say) and flushing it. Make it durable before a
      // newer generation is built on it, or a power loss could leave this one unreadable with a
      // later one behind it.
      CO_RETURN_IF_ERROR(co_await file->flush());
      older_log_bytes_ += size;
      continue;
    }
    // A crash while creating this generation: it holds no records, and must be the newest.
    auto later = co_await env_.storage.open(log_path(generation + 1), {});
    if (later.ok()) {
      co_return make_error(Code::kCorruption, "index log " + log_path(generation) +
                                                  ": unreadable header before a later generation" +
                                                  std::string(kRebuildHint));
    }
    if (later.code() != Code::kNotFound) co_return std::move(later).take_error();
    file.reset();
    CO_RETURN_IF_ERROR(co_await env_.storage.remove(log_path(generation)));
    break;
  }
  oldest_generation_ = header.log_generation;
  // Always append to a fresh generation: the newest may end in torn bytes, which a new record
  // must never partly overwrite (its tail would leave an older, valid-looking record behind).
  CO_ASSIGN_OR_RETURN(std::unique_ptr<File> fresh, co_await create_log(generation));
  writer_ = std::make_unique<LogWriter>(expected);
  writer_->switch_to(generation, std::move(fresh), kLogHeaderBytes);
  log_.info("index.opened", {{"entries", index_.size()},
                             {"generation", generation},
                             {"next_sequence", expected},
                             {"log_bytes", older_log_bytes_}});
  if (rebuilding_) {
    log_.error("index.rebuild_incomplete",
               {{"rebuild_id", rebuild_id_},
                {"entries", index_.size()},
                {"action",
                 "the index may be partial: run the index rebuild again (begin, "
                 "every container footer's entries, finish)"}});
  }
  co_return ok_result();
}

Task<Result<std::unique_ptr<File>>> IndexStore::create_log(uint64_t generation) {
  CO_ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                      co_await env_.storage.open(log_path(generation), {.create = true}));
  const std::vector<uint8_t> header = encode_log_file_header(generation);
  CO_RETURN_IF_ERROR(co_await file->write_at(0, header));
  CO_RETURN_IF_ERROR(co_await file->flush());
  co_return std::move(file);
}

Task<Result<SnapshotHeader>> IndexStore::load_snapshot() {
  const std::string path = snapshot_path();
  auto corrupt = [&path](const std::string& what) {
    return make_error(Code::kCorruption,
                      "index snapshot " + path + ": " + what + std::string(kRebuildHint));
  };
  CO_ASSIGN_OR_RETURN(std::unique_ptr<File> file, co_await env_.storage.open(path, {}));
  CO_ASSIGN_OR_RETURN(const uint64_t size, file->size());
  FileCursor cursor(*file, size);
  CO_ASSIGN_OR_RETURN(std::span<const uint8_t> head,
                      co_await cursor.read(0, kSnapshotHeaderBytes + kSnapshotTableBytes));
  if (head.size() < kSnapshotHeaderBytes + kSnapshotTableBytes) co_return corrupt("truncated");
  auto decoded = decode_snapshot_header(head.first(kSnapshotHeaderBytes));
  if (!decoded.ok()) co_return corrupt(decoded.error().message);
  const SnapshotHeader header = decoded.value();
  const std::span<const uint8_t> table = head.subspan(kSnapshotHeaderBytes, kSnapshotTableBytes);
  if (crc32c(table) != header.table_crc) co_return corrupt("partition table CRC mismatch");
  std::vector<uint64_t> counts(kPartitionCount);
  uint64_t sum = 0;
  for (size_t p = 0; p < kPartitionCount; ++p) {
    counts[p] = get_u32(table, p * 4);
    if (counts[p] > kPartitionEntriesMax) co_return corrupt("partition count out of range");
    sum += counts[p];
  }
  if (sum != header.entry_count) co_return corrupt("partition counts do not add up");
  if (size != snapshot_file_bytes(header.entry_count)) co_return corrupt("wrong file size");
  if (header.entry_count > config_.entries_max) {
    co_return make_error(Code::kNoSpace, "index: snapshot holds more than entries_max");
  }
  uint64_t offset = kSnapshotHeaderBytes + kSnapshotTableBytes;
  uint64_t remaining = header.entry_count;
  size_t next_partition = 0;
  uint64_t left = 0;  // entries still expected in the current partition
  Fingerprint previous;
  while (remaining > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining, kSnapshotBlockEntries));
    const size_t block_bytes = n * kSnapshotEntryBytes;
    CO_ASSIGN_OR_RETURN(std::span<const uint8_t> block,
                        co_await cursor.read(offset, block_bytes + 4));
    ASSERT(block.size() == block_bytes + 4);  // the file size was checked above
    if (crc32c(block.first(block_bytes)) != get_u32(block, block_bytes)) {
      co_return corrupt("block CRC mismatch at offset " + std::to_string(offset));
    }
    for (size_t i = 0; i < n; ++i) {
      const IndexEntry entry = decode_snapshot_entry(block.data() + i * kSnapshotEntryBytes);
      const bool first_in_partition = left == 0;
      if (first_in_partition) {
        while (counts[next_partition] == 0) ++next_partition;  // sum == entry_count bounds this
        left = counts[next_partition];
        index_.reserve_partition(next_partition, left);
        ++next_partition;
      }
      if (FingerprintIndex::partition_of(entry.fp) != next_partition - 1) {
        co_return corrupt("entry in the wrong partition");
      }
      if (!first_in_partition && !(previous < entry.fp)) co_return corrupt("entries out of order");
      if (!validate_location(entry.location).ok()) co_return corrupt("location out of range");
      index_.append_sorted(entry);
      previous = entry.fp;
      --left;
    }
    offset += block_bytes + 4;
    remaining -= n;
  }
  ASSERT(index_.size() == header.entry_count);
  co_return header;
}

Task<Result<bool>> IndexStore::replay_log(File& file, uint64_t generation, uint64_t* expected) {
  const std::string path = log_path(generation);
  auto corrupt = [&path](const std::string& what) {
    return make_error(Code::kCorruption,
                      "index log " + path + ": " + what + std::string(kRebuildHint));
  };
  CO_ASSIGN_OR_RETURN(const uint64_t size, file.size());
  FileCursor cursor(file, size);
  CO_ASSIGN_OR_RETURN(std::span<const uint8_t> head, co_await cursor.read(0, kLogHeaderBytes));
  auto named = decode_log_file_header(head);
  if (!named.ok()) co_return false;
  if (named.value() != generation) co_return corrupt("header names another generation");
  uint64_t offset = kLogHeaderBytes;
  for (;;) {
    CO_ASSIGN_OR_RETURN(std::span<const uint8_t> head_bytes,
                        co_await cursor.read(offset, kLogRecordHeaderBytes));
    if (head_bytes.empty()) break;  // a clean end
    const std::optional<LogRecordHeader> header = parse_log_record_header(head_bytes);
    if (header) {
      const size_t record_bytes = kLogRecordHeaderBytes + header->payload_bytes;
      CO_ASSIGN_OR_RETURN(std::span<const uint8_t> record,
                          co_await cursor.read(offset, record_bytes));
      if (record.size() == record_bytes && log_record_crc_ok(*header, record)) {
        if (header->sequence != *expected) {
          co_return corrupt("sequence " + std::to_string(header->sequence) + ", expected " +
                            std::to_string(*expected));
        }
        const std::span<const uint8_t> payload = record.subspan(kLogRecordHeaderBytes);
        if (header->kind == LogRecordKind::kInsert) {
          auto entries = decode_insert_payload(payload, header->count);
          if (!entries.ok()) co_return corrupt(entries.error().message);
          CO_ASSIGN_OR_RETURN(auto ignored, index_.insert(entries.value()));
          static_cast<void>(ignored);  // first writer wins on replay as it did live
        } else {
          const std::vector<Fingerprint> fps = decode_remove_payload(payload, header->count);
          static_cast<void>(index_.remove(fps));
        }
        ++*expected;
        offset += record_bytes;
        continue;
      }
      // A damaged record is a torn, unacknowledged write unless the next one says it was
      // durable (its durable_through covers it): then it is corruption.
      const uint64_t next_offset = offset + record_bytes;
      CO_ASSIGN_OR_RETURN(std::span<const uint8_t> next_head,
                          co_await cursor.read(next_offset, kLogRecordHeaderBytes));
      const std::optional<LogRecordHeader> next = parse_log_record_header(next_head);
      if (next && next->sequence == *expected + 1 && next->durable_through >= *expected) {
        const size_t next_bytes = kLogRecordHeaderBytes + next->payload_bytes;
        CO_ASSIGN_OR_RETURN(std::span<const uint8_t> next_record,
                            co_await cursor.read(next_offset, next_bytes));
        if (next_record.size() == next_bytes && log_record_crc_ok(*next, next_record)) {
          co_return corrupt("acknowledged record " + std::to_string(*expected) + " at offset " +
                            std::to_string(offset) + " is damaged");
        }
      }
    }
    log_.warn("index.log_torn_tail",
              {{"generation", generation}, {"offset", offset}, {"dropped_bytes", size - offset}});
    break;
  }
  co_return true;
}

Task<Result<void>> IndexStore::write_snapshot(const std::string& path, uint64_t generation,
                                              uint64_t first_sequence) {
  CO_RETURN_IF_ERROR(co_await remove_if_present(path));
  CO_ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                      co_await env_.storage.open(path, {.create = true}));
  std::vector<uint8_t> table(kSnapshotTableBytes);
  std::vector<uint8_t> block;
  block.reserve(kSnapshotBlockBytes);
  std::vector<IndexEntry> entries;
  uint64_t offset = kSnapshotHeaderBytes + kSnapshotTableBytes;
  uint64_t total = 0;
  for (size_t p = 0; p <= kPartitionCount; ++p) {
    // Partitions are read one at a time between writes; see the header on why mutations in
    // between are fine.
    entries.clear();
    if (p < kPartitionCount) {
      index_.collect_partition(p, &entries);
      put_u32(table, p * 4, static_cast<uint32_t>(entries.size()));
    }
    for (size_t i = 0; i <= entries.size(); ++i) {
      const size_t in_block = block.size() / kSnapshotEntryBytes;
      const bool last = p == kPartitionCount;
      if (in_block == kSnapshotBlockEntries || (last && in_block > 0)) {
        const uint32_t crc = crc32c(block);
        block.resize(block.size() + 4);
        put_u32(block, block.size() - 4, crc);
        CO_RETURN_IF_ERROR(co_await file->write_at(offset, block));
        offset += block.size();
        block.clear();
      }
      if (i == entries.size()) break;
      block.resize(block.size() + kSnapshotEntryBytes);
      encode_snapshot_entry(entries[i], block.data() + block.size() - kSnapshotEntryBytes);
      ++total;
    }
  }
  ASSERT(offset == snapshot_file_bytes(total));
  std::vector<uint8_t> head = encode_snapshot_header(SnapshotHeader{
      .log_generation = generation,
      .first_sequence = first_sequence,
      .entry_count = total,
      .table_crc = crc32c(table),
  });
  head.insert(head.end(), table.begin(), table.end());
  CO_RETURN_IF_ERROR(co_await file->write_at(0, head));
  CO_RETURN_IF_ERROR(co_await file->flush());
  co_return ok_result();
}

uint64_t IndexStore::log_bytes() const { return older_log_bytes_ + writer_->tail(); }

Result<void> IndexStore::check_writable(uint64_t record_bytes) const {
  if (writer_->failed()) {
    return make_error(Code::kIo,
                      "index: log failed (" + writer_->failure().message + "); reopen to recover");
  }
  if (log_bytes() + record_bytes > config_.log_bytes_max) {
    return make_error(Code::kBusy, "index: log full until the next snapshot");
  }
  if (writer_->pending_bytes() + record_bytes > config_.pending_bytes_max) {
    return make_error(Code::kBusy, "index: too many unwritten log bytes");
  }
  return ok_result();
}

Result<std::vector<LookupResult>> IndexStore::lookup(std::span<const Fingerprint> fps) const {
  if (fps.size() > kIndexBatchMax) {
    return make_error(Code::kInvalidArgument, "index: lookup batch above kIndexBatchMax");
  }
  std::vector<LookupResult> out(fps.size());
  index_.lookup(fps, out);
  return out;
}

Task<Result<std::vector<InsertResult>>> IndexStore::insert(std::vector<IndexEntry> entries) {
  if (entries.size() > kIndexBatchMax) {
    co_return make_error(Code::kInvalidArgument, "index: insert batch above kIndexBatchMax");
  }
  CO_RETURN_IF_ERROR(check_writable(kLogRecordHeaderBytes + entries.size() * kLogInsertEntryBytes));
  CO_ASSIGN_OR_RETURN(std::vector<InsertResult> results, index_.insert(entries));
  std::vector<IndexEntry> effective;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (results[i].inserted) effective.push_back(entries[i]);
  }
  if (!effective.empty()) writer_->append_insert(effective);
  // Also when nothing changed: an "already present" answer must not outrun the record that
  // inserted it.
  CO_RETURN_IF_ERROR(co_await writer_->wait_durable(writer_->next_sequence() - 1));
  co_return results;
}

Task<Result<std::vector<LookupResult>>> IndexStore::remove(std::vector<Fingerprint> fps) {
  if (fps.size() > kIndexBatchMax) {
    co_return make_error(Code::kInvalidArgument, "index: remove batch above kIndexBatchMax");
  }
  CO_RETURN_IF_ERROR(check_writable(kLogRecordHeaderBytes + fps.size() * kLogRemoveEntryBytes));
  std::vector<LookupResult> was = index_.remove(fps);
  std::vector<Fingerprint> effective;
  for (size_t i = 0; i < fps.size(); ++i) {
    if (was[i].found) effective.push_back(fps[i]);
  }
  if (!effective.empty()) writer_->append_remove(effective);
  CO_RETURN_IF_ERROR(co_await writer_->wait_durable(writer_->next_sequence() - 1));
  co_return was;
}

Task<Result<BulkInsertSummary>> IndexStore::bulk_insert(std::vector<IndexEntry> entries) {
  BulkInsertSummary summary;
  std::vector<IndexEntry> effective;
  for (size_t start = 0; start < entries.size(); start += kIndexBatchMax) {
    const std::span<const IndexEntry> chunk = std::span<const IndexEntry>(entries).subspan(
        start, std::min(kIndexBatchMax, entries.size() - start));
    const uint64_t record_bytes = kLogRecordHeaderBytes + chunk.size() * kLogInsertEntryBytes;
    if (writer_->pending_bytes() + record_bytes > config_.pending_bytes_max / 2) {
      CO_RETURN_IF_ERROR(co_await writer_->wait_durable(writer_->next_sequence() - 1));
    }
    CO_RETURN_IF_ERROR(check_writable(record_bytes));
    CO_ASSIGN_OR_RETURN(std::vector<InsertResult> results, index_.insert(chunk));
    effective.clear();
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (results[i].inserted) effective.push_back(chunk[i]);
    }
    summary.inserted += effective.size();
    summary.already_present += chunk.size() - effective.size();
    if (!effective.empty()) writer_->append_insert(effective);
  }
  CO_RETURN_IF_ERROR(co_await writer_->wait_durable(writer_->next_sequence() - 1));
  co_return summary;
}

bool IndexStore::snapshot_due() const {
  return log_bytes() >= config_.snapshot_after_log_bytes ||
         writer_->generation() - oldest_generation_ + 1 > kLogGenerationsSnapshotAt;
}

Task<Result<void>> IndexStore::snapshot() {
  if (snapshot_running_) co_return make_error(Code::kBusy, "index: a snapshot is running");
  FlagGuard running(snapshot_running_);
  CO_ASSIGN_OR_RETURN(const uint64_t generation, co_await rotate(false));
  static_cast<void>(generation);
  co_return ok_result();
}

Task<Result<uint64_t>> IndexStore::rotate(bool empty) {
  ASSERT(snapshot_running_);
  if (writer_->failed()) co_return make_error(Code::kIo, "index: log failed; reopen to recover");
  const uint64_t generation = writer_->generation() + 1;
  CO_ASSIGN_OR_RETURN(std::unique_ptr<File> fresh, co_await create_log(generation));
  if (writer_->failed()) co_return make_error(Code::kIo, "index: log failed; reopen to recover");
  // The switch and the boundary are taken together, with no await between: records up to
  // `boundary` are in RAM now and so in the snapshot; later ones go to `generation`. Emptying
  // RAM at the same instant makes the snapshot start from nothing, so replay rebuilds exactly
  // what was inserted after this point.
  const uint64_t boundary = writer_->next_sequence() - 1;
  older_log_bytes_ += writer_->tail();
  writer_->switch_to(generation, std::move(fresh), kLogHeaderBytes);
  if (empty) index_.clear();
  CO_RETURN_IF_ERROR(co_await write_snapshot(snapshot_tmp_path(), generation, boundary + 1));
  // The old generations' files must be idle before they are closed.
  CO_RETURN_IF_ERROR(co_await writer_->wait_durable(boundary));
  CO_RETURN_IF_ERROR(co_await env_.storage.rename(snapshot_tmp_path(), snapshot_path()));
  writer_->retire_below(generation);
  const uint64_t oldest = oldest_generation_;
  oldest_generation_ = generation;
  older_log_bytes_ = 0;
  ++snapshots_;
  log_.info("index.snapshot", {{"entries", index_.size()}, {"generation", generation}});
  for (uint64_t g = oldest; g < generation; ++g) {
    CO_RETURN_IF_ERROR(co_await remove_if_present(log_path(g)));  // oldest first, see recover()
  }
  co_return generation;
}

// --- rebuild -----------------------------------------------------------------------------------

Task<Result<uint64_t>> IndexStore::begin_rebuild() {
  if (snapshot_running_) {
    co_return make_error(Code::kBusy, "index: a snapshot is running; retry the rebuild begin");
  }
  if (rebuild_step_running_) {
    co_return make_error(Code::kBusy, "index: another rebuild begin or finish is running");
  }
  if (writer_->failed()) co_return make_error(Code::kIo, "index: log failed; reopen to recover");
  FlagGuard snapshotting(snapshot_running_);
  FlagGuard stepping(rebuild_step_running_);
  // The generation rotate() is about to create: unique and increasing in this directory.
  const uint64_t rebuild_id = writer_->generation() + 1;
  // From the marker on, a crash leaves the index reading as rebuilding until a finish. Until
  // this begin has emptied the index, no rebuild's entries are accepted.
  rebuilding_ = true;
  rebuild_id_ = 0;
  CO_RETURN_IF_ERROR(co_await write_marker(rebuild_id));
  CO_ASSIGN_OR_RETURN(const uint64_t generation, co_await rotate(true));
  ASSERT(generation == rebuild_id);  // nothing else rotates while snapshot_running_ is held
  rebuild_id_ = rebuild_id;
  log_.warn("index.rebuild_begun", {{"rebuild_id", rebuild_id}, {"entries", index_.size()}});
  co_return rebuild_id;
}

Result<void> IndexStore::check_rebuild(uint64_t rebuild_id) const {
  if (!rebuilding_) {
    return make_error(Code::kInvalidArgument, "index: no rebuild in progress (begin one first)");
  }
  if (rebuild_id_ == 0) {
    return make_error(Code::kInvalidArgument,
                      "index: the rebuild in progress has no usable id (its begin did not "
                      "complete, or its marker was unreadable at open): begin again");
  }
  if (rebuild_id < rebuild_id_) {
    return make_error(Code::kStale, "index: rebuild " + std::to_string(rebuild_id) +
                                        " was superseded by rebuild " +
                                        std::to_string(rebuild_id_));
  }
  if (rebuild_id != rebuild_id_) {
    return make_error(Code::kInvalidArgument, "index: no rebuild " + std::to_string(rebuild_id) +
                                                  " (the one in progress is " +
                                                  std::to_string(rebuild_id_) + ")");
  }
  return ok_result();
}

Task<Result<BulkInsertSummary>> IndexStore::rebuild_insert(uint64_t rebuild_id,
                                                           std::vector<IndexEntry> entries) {
  CO_RETURN_IF_ERROR(check_rebuild(rebuild_id));
  if (rebuild_step_running_) {
    co_return make_error(Code::kInvalidArgument,
                         "index: rebuild " + std::to_string(rebuild_id) + " is finishing");
  }
  CountGuard running(rebuild_inserts_running_);
  co_return co_await bulk_insert(std::move(entries));
}

Task<Result<void>> IndexStore::finish_rebuild(uint64_t rebuild_id) {
  CO_RETURN_IF_ERROR(check_rebuild(rebuild_id));
  if (rebuild_step_running_) co_return make_error(Code::kBusy, "index: a finish is running");
  // A finish overtaking its own entries could clear the mark before they are logged.
  if (rebuild_inserts_running_ > 0) {
    co_return make_error(Code::kBusy, "index: rebuild entries are still being inserted");
  }
  FlagGuard stepping(rebuild_step_running_);
  // Every entry this rebuild inserted is logged by now: durable before the mark goes.
  CO_RETURN_IF_ERROR(co_await writer_->wait_durable(writer_->next_sequence() - 1));
  ASSERT(rebuilding_);
  ASSERT(rebuild_id_ == rebuild_id);  // a begin cannot run while rebuild_step_running_ is held
  CO_RETURN_IF_ERROR(co_await remove_if_present(marker_path()));
  rebuilding_ = false;
  rebuild_id_ = 0;
  log_.warn("index.rebuild_finished", {{"rebuild_id", rebuild_id}, {"entries", index_.size()}});
  co_return ok_result();
}

IndexStoreStats IndexStore::stats() const {
  return IndexStoreStats{
      .entries = index_.size(),
      .allocated_bytes = index_.allocated_bytes(),
      .log_bytes = log_bytes(),
      .log_generation = writer_->generation(),
      .durable_sequence = writer_->durable_sequence(),
      .flushes = writer_->flushes(),
      .snapshots = snapshots_,
      .rebuilding = rebuilding_,
      .rebuild_id = rebuild_id_,
  };
}

}  // namespace splitarray::netshelf::index
