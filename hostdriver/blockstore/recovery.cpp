// hostdriver/blockstore/recovery.cpp
// open(): connect, learn the disks, fence older owners of this host's log, replay the log
// (block maps; chunks of containers not yet durable go back into containers at the offsets
// they were packed at), then start the loops. A record that fails to decode stops the open with
// kCorruption naming its sequence: a block store that silently skipped a record would lose
// acknowledged writes.
#include <string>

#include "hostdriver/blockstore/block_store_impl.h"

namespace splitarray::hostdriver::blockstore {
namespace {

constexpr uint32_t kReplayReadBytes = 1536 * 1024;  // < one frame payload

}  // namespace

Task<Result<void>> BlockStoreImpl::fence_and_replay() {
  auto client = co_await link_.client();
  if (!client.ok()) co_return client.error();
  auto status = co_await (*client)->status();
  if (!status.ok()) co_return status.error();
  // The Bloom filter may skip index lookups only if it knows every fp the index holds: at once
  // when the index is empty, else once run_bloom_loader has read the index (see README.md).
  bloom_trusted_ = status->index.entries == 0 && !status->index.rebuilding;

  // Fence first, then read: an append with our epoch raises the host's fence (creating the log
  // if this host never wrote), so no older incarnation can append after the point we read to.
  // The marker is an empty record; replay applies it as nothing.
  LogRecord marker;
  std::vector<std::vector<uint8_t>> marker_bytes{encode_record(marker)};
  auto fenced = co_await (*client)->nvram_append(config_.host, config_.epoch, marker_bytes);
  if (!fenced.ok()) co_return fenced.error();
  auto usage = co_await (*client)->nvram_usage(config_.host);
  if (!usage.ok()) co_return usage.error();

  uint64_t ticket = 0;
  std::vector<size_t> record_bytes;
  uint64_t sequence = usage->first_sequence;
  const uint64_t first_sequence = usage->first_sequence;
  while (sequence < usage->next_sequence) {
    auto got = co_await (*client)->nvram_read(config_.host, sequence, kReplayReadBytes);
    if (!got.ok()) co_return got.error();
    if (got->records.empty()) {
      co_return make_error(Code::kCorruption, "nvram read at sequence " + std::to_string(sequence) +
                                                  " returned nothing");
    }
    for (const std::vector<uint8_t>& bytes : got->records) {
      auto record = decode_record(bytes);
      if (!record.ok()) {
        co_return make_error(Code::kCorruption, "log record " + std::to_string(sequence) +
                                                    " of host " +
                                                    std::to_string(config_.host.value()) + ": " +
                                                    record.error().message);
      }
      ++ticket;
      record_bytes.push_back(bytes.size());
      for (const NewChunk& chunk : record->chunks) {
        CO_RETURN_IF_ERROR(destager_->restore(chunk, ticket));
        recent_.insert(chunk.fp, chunk.location);
        if (bloom_) bloom_->add(chunk.fp);
      }
      maps_.apply(*record, ticket);
      if (!record->fs_op.empty()) {
        // Not covered until the file system, having replayed it, checkpoints (block_store.h).
        note_fs_op(ticket);
        replayed_ops_.push_back(std::move(record->fs_op));
      }
      ++stats_.open_replayed_records;
      ++sequence;
    }
  }
  // A container's bytes never change once a fragment of it may be on a disk. The last container
  // the log describes may have been sealed and (partly) written by the previous incarnation: it
  // is sealed here exactly as the log describes it (records reach the log before their container
  // is written), and new chunks go to a new id. Left open, it would take new chunks and be
  // written again with other bytes under the same id and generation, and an old fragment left on
  // a disk the rewrite skipped (failed then) would later mix with the new ones.
  destager_->seal_open();
  log_ = std::make_unique<LogWriter>(env_, link_, config_.host, config_.epoch, ticket + 1,
                                     config_.log_queue_bytes_max);
  log_->adopt_replayed(1, first_sequence, record_bytes);
  log_->learn_capacity(usage->capacity_bytes);
  const size_t one_block_record =
      kRecordHeaderBytes + kRecordUpdateBytes + kRecordChunkHeaderBytes + config_.block_size;
  if (log_->record_bytes_max() < one_block_record) {
    co_return make_error(
        Code::kInvalidArgument,
        "the shelf's NVRAM ring for host " + std::to_string(config_.host.value()) + " (" +
            std::to_string(usage->capacity_bytes) + " bytes) takes appends of at most " +
            std::to_string(log_->record_bytes_max()) + " bytes: too small for one block of " +
            std::to_string(config_.block_size) + " bytes");
  }
  co_return ok_result();
}

}  // namespace splitarray::hostdriver::blockstore
