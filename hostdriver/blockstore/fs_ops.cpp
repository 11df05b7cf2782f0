// hostdriver/blockstore/fs_ops.cpp
// What the file system above needs from the block store (block_store.h "For the file system"):
// records that carry only a file-system operation, metadata nodes stored as chunks, and the
// bookkeeping that keeps records with operations in the log until a checkpoint covers them.
#include <algorithm>
#include <string>

#include "hostdriver/blockstore/block_store_impl.h"

namespace splitarray::hostdriver::blockstore {

Task<Result<void>> BlockStoreImpl::wait_op_room(size_t fs_op_bytes) {
  if (fs_op_bytes > kRecordFsOpBytesMax) {
    co_return make_error(Code::kInvalidArgument, "file-system operation too long");
  }
  const size_t bytes = kRecordHeaderBytes + fs_op_bytes;
  CO_RETURN_IF_ERROR(usable());
  // The same admission as a write's record (write_path.cpp apply).
  CO_RETURN_IF_ERROR(co_await wait_client_room(bytes));
  co_return co_await log_->wait_for_room(bytes);
}

Result<LogTicket> BlockStoreImpl::enqueue_op(std::vector<uint8_t> fs_op) {
  if (fs_op.empty()) return make_error(Code::kInvalidArgument, "empty file-system operation");
  RETURN_IF_ERROR(check_fs_op_size(fs_op.size()));
  RETURN_IF_ERROR(usable());
  LogRecord record;
  record.fs_op = std::move(fs_op);
  const uint64_t ticket = log_->enqueue(encode_record(record));
  note_fs_op(ticket);
  ++stats_.fs_ops_logged;
  note_log_growth();
  return LogTicket{ticket};
}

Task<Result<void>> BlockStoreImpl::wait_durable(LogTicket ticket) {
  ASSERT(ticket.value <= log_->last_ticket());
  co_return co_await log_->wait_durable(ticket.value);
}

BlockRef BlockStoreImpl::pack_metadata_chunk(std::span<const uint8_t> block, LogRecord& record) {
  Worker& worker = workers_.inline_worker();
  if (chunk::is_zero_block(block)) return BlockRef{};
  const Fingerprint fp = worker.fingerprinter.fingerprint(block);
  // Dedup only against chunks this host stored recently, and only when trusting an fp match is
  // allowed: verify-on-match would need a read from the shelf, and this path does not wait.
  if (auto recent = recent_.lookup(fp); recent && !config_.verify_on_match) {
    ++stats_.dedup_hits_local;
    return BlockRef{fp, *recent};
  }
  chunk::EncodedChunk encoded = worker.codec.compress(block);
  const ChunkLocation location = destager_->pack(fp, encoded.bytes, config_.block_size);
  recent_.insert(fp, location);
  if (bloom_) bloom_->add(fp);
  ++stats_.chunks_stored;
  stats_.unique_bytes += config_.block_size;
  stats_.stored_bytes += encoded.bytes.size();
  record.chunks.push_back(NewChunk{fp, location, std::move(encoded.bytes)});
  return BlockRef{fp, location};
}

Result<std::vector<BlockRef>> BlockStoreImpl::put_chunks_now(
    std::span<const std::vector<uint8_t>> blocks) {
  const uint32_t block_size = config_.block_size;
  for (const std::vector<uint8_t>& block : blocks) {
    if (block.size() != block_size) {
      return make_error(Code::kInvalidArgument,
                        "metadata chunk of " + std::to_string(block.size()) +
                            " bytes (the block size is " + std::to_string(block_size) + ")");
    }
  }
  RETURN_IF_ERROR(usable());
  // Records of chunks only (inode 0), each within what one append may carry. Packing and queueing
  // happen in this one synchronous step, as in apply(), so log order is packing order.
  const size_t part_bytes_max = log_->record_bytes_max();
  std::vector<BlockRef> refs;
  refs.reserve(blocks.size());
  LogRecord record;
  size_t part_bytes = kRecordHeaderBytes;
  auto flush_part = [&] {
    if (record.chunks.empty()) return;
    const uint64_t ticket = log_->enqueue(encode_record(record));
    destager_->logged(ticket);
    record = LogRecord{};
    part_bytes = kRecordHeaderBytes;
  };
  for (const std::vector<uint8_t>& block : blocks) {
    // Worst case: stored raw, plus the chunk header.
    if (part_bytes + kRecordChunkHeaderBytes + block_size > part_bytes_max) flush_part();
    const size_t before = record.chunks.size();
    refs.push_back(pack_metadata_chunk(block, record));
    if (record.chunks.size() > before) {
      part_bytes += kRecordChunkHeaderBytes + record.chunks.back().bytes.size();
    }
  }
  flush_part();
  stats_.metadata_chunks_put += blocks.size();
  ASSERT(refs.size() == blocks.size());
  return refs;
}

Task<Result<std::vector<uint8_t>>> BlockStoreImpl::get_chunk(BlockRef ref) {
  CO_RETURN_IF_ERROR(usable());
  std::vector<uint8_t> out(config_.block_size, 0);
  if (ref.location.container_id == 0) co_return out;  // a hole reference: an all-zero block
  ++stats_.reads;
  CO_RETURN_IF_ERROR(co_await reader_->read(ref, out));
  co_return out;
}

LogTicket BlockStoreImpl::log_mark() const { return LogTicket{log_->last_ticket()}; }

void BlockStoreImpl::fs_ops_covered(LogTicket through) {
  ASSERT(through.value <= log_->last_ticket());
  fs_covered_ticket_ = std::max(fs_covered_ticket_, through.value);
  while (!fs_op_tickets_.empty() && fs_op_tickets_.front() <= fs_covered_ticket_) {
    fs_op_tickets_.pop_front();
  }
  if (maps_.overlay()) maps_.drop_through(through.value);  // the base holds them now
  log_pressure_ = false;
  request_trim();  // what the trimmer was held back from may be trimmable now
}

void BlockStoreImpl::note_fs_op(uint64_t ticket) {
  ASSERT(fs_op_tickets_.empty() || fs_op_tickets_.back() < ticket);
  ASSERT(ticket > fs_covered_ticket_);
  fs_op_tickets_.push_back(ticket);
}

uint64_t BlockStoreImpl::oldest_uncovered_fs_op() const {
  return fs_op_tickets_.empty() ? UINT64_MAX : fs_op_tickets_.front();
}

void BlockStoreImpl::set_log_pressure(bool held_back) {
  if (held_back && !log_pressure_) {
    log_pressure_ = true;
    pressure_.notify_all();
  }
}

Task<void> BlockStoreImpl::wait_log_pressure() {
  if (log_pressure_ || closing_ || closed_) co_return;
  co_await pressure_.wait();
}

}  // namespace splitarray::hostdriver::blockstore
