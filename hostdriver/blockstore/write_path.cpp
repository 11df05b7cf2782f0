// hostdriver/blockstore/write_path.cpp
// The write path (DESIGN.md §3): split -> read-modify-write partial blocks -> fingerprint ->
// dedup -> compress -> apply in arrival order -> NVRAM record -> acknowledge.
#include <algorithm>
#include <cstring>
#include <string>

#include "common/async/compute.h"
#include "hostdriver/blockstore/block_store_impl.h"

namespace splitarray::hostdriver::blockstore {
namespace {

std::string block_name(InodeId inode, uint64_t block_index, uint32_t block_size) {
  return "inode " + std::to_string(inode.value()) + " offset " +
         std::to_string(block_index * block_size);
}

}  // namespace

Result<void> BlockStoreImpl::usable() const {
  if (closing_ || closed_) return make_error(Code::kUnavailable, "block store closed");
  // Fenced first: a fenced store that was also abandoned reports kStale (fenced() relies on it).
  if (log_ && log_->fenced()) return *log_->fenced();
  if (destager_ && destager_->failed()) return *destager_->failed();
  if (abandoned_) return *abandoned_;
  return ok_result();
}

Task<void> BlockStoreImpl::wait_turn(uint64_t arrival) {
  while (applied_through_ + 1 < arrival) co_await turn_.wait();
  ASSERT(applied_through_ + 1 == arrival);
}

void BlockStoreImpl::finish_turn(uint64_t arrival) {
  ASSERT(applied_through_ + 1 == arrival);
  applied_through_ = arrival;
  turn_.notify_all();
}

Task<Result<void>> BlockStoreImpl::wait_client_room(size_t record_bytes) {
  while (!log_->has_client_room(record_bytes)) {
    CO_RETURN_IF_ERROR(usable());
    // The ring cannot drain while the shelf has no room for the containers behind it: refuse
    // rather than wait for room that may never come.
    CO_RETURN_IF_ERROR(destager_->space());
    ++stats_.log_busy_waits;
    destager_->seal_open();  // its records can only be trimmed once it is destaged
    // Records without chunks (dedup hits, fs ops) never wait on a container: without this the
    // trimmer would sleep until the next destage, and a ring full of them until the periodic
    // checkpoint.
    request_trim();
    co_await log_->wait_changed();
  }
  co_return ok_result();
}

Task<Result<void>> BlockStoreImpl::read_block(InodeId inode, uint64_t block_index,
                                              std::span<uint8_t> out) {
  auto ref = co_await lookup_block(inode, block_index);
  if (!ref.ok()) co_return ref.error();
  if (!ref->has_value()) {
    std::fill(out.begin(), out.end(), uint8_t{0});
    co_return ok_result();
  }
  const BlockRef copy = **ref;  // the map may change while we wait
  auto read = co_await reader_->read(copy, out);
  if (!read.ok() && read.code() == Code::kCorruption) {
    co_return make_error(Code::kCorruption, block_name(inode, block_index, config_.block_size) +
                                                ": " + read.error().message);
  }
  co_return read;
}

Result<void> BlockStoreImpl::check_fs_op_size(size_t bytes) const {
  if (bytes > kRecordFsOpBytesMax) {
    return make_error(Code::kInvalidArgument, "file-system operation of " + std::to_string(bytes) +
                                                  " bytes (max " +
                                                  std::to_string(kRecordFsOpBytesMax) + ")");
  }
  return ok_result();
}

Task<Result<void>> BlockStoreImpl::write(InodeId inode, uint64_t offset,
                                         std::span<const uint8_t> data, Stability stability,
                                         FsOpBuilder fs_op) {
  if (inode.value() == 0) co_return make_error(Code::kInvalidArgument, "inode 0 is reserved");
  CO_RETURN_IF_ERROR(check_fs_op_size(fs_op.bytes_max));
  if (data.empty() || data.size() > kWriteBytesMax) {
    co_return make_error(Code::kInvalidArgument, "write of " + std::to_string(data.size()) +
                                                     " bytes (1.." +
                                                     std::to_string(kWriteBytesMax) + ")");
  }
  if (offset > UINT64_MAX - data.size()) {
    co_return make_error(Code::kInvalidArgument, "write past the largest file offset");
  }
  CO_RETURN_IF_ERROR(usable());
  const uint64_t arrival = next_arrival_++;
  const uint32_t block_size = config_.block_size;
  const uint64_t end = offset + data.size();
  const uint64_t first_block = offset / block_size;
  const uint64_t last_block = (end - 1) / block_size;
  const size_t count = static_cast<size_t>(last_block - first_block + 1);
  const size_t head_skip = static_cast<size_t>(offset - first_block * block_size);
  const bool head_partial = head_skip != 0 || (count == 1 && end % block_size != 0);
  const bool tail_partial = count > 1 && end % block_size != 0;
  // Whole blocks are hashed and compressed straight from the caller's bytes (they outlive this
  // call); only a partial first or last block is merged into `edges` (read-modify-write).
  std::vector<uint8_t> edges((head_partial ? block_size : 0) + (tail_partial ? block_size : 0));
  std::vector<PendingBlock> blocks(count);
  for (size_t i = 0; i < count; ++i) {
    blocks[i].block_index = first_block + i;
    if ((i == 0 && head_partial) || (i == count - 1 && tail_partial)) continue;
    blocks[i].bytes = data.subspan(i * block_size - head_skip, block_size);
  }
  if (head_partial || tail_partial) {
    // Read-modify-write sees every earlier write: take the turn before reading.
    co_await wait_turn(arrival);
    Result<void> merged = ok_result();
    if (head_partial) {
      const std::span<uint8_t> block = std::span(edges).first(block_size);
      merged = co_await read_block(inode, first_block, block);
      const size_t n = std::min<size_t>(block_size - head_skip, data.size());
      std::memcpy(block.data() + head_skip, data.data(), n);
      blocks.front().bytes = block;
    }
    if (merged.ok() && tail_partial) {
      const std::span<uint8_t> block = std::span(edges).last(block_size);
      merged = co_await read_block(inode, last_block, block);
      const size_t n = static_cast<size_t>(end % block_size);
      std::memcpy(block.data(), data.data() + data.size() - n, n);
      blocks.back().bytes = block;
    }
    if (!merged.ok()) {
      finish_turn(arrival);
      co_return merged;
    }
  }
  Change change{inode, std::nullopt, std::move(fs_op)};
  co_return co_await change_blocks(std::move(change), arrival, std::move(blocks), stability);
}

Task<Result<void>> BlockStoreImpl::truncate(InodeId inode, uint64_t size, Stability stability,
                                            FsOpBuilder fs_op) {
  if (inode.value() == 0) co_return make_error(Code::kInvalidArgument, "inode 0 is reserved");
  CO_RETURN_IF_ERROR(check_fs_op_size(fs_op.bytes_max));
  CO_RETURN_IF_ERROR(usable());
  const uint64_t arrival = next_arrival_++;
  const uint32_t block_size = config_.block_size;
  const uint64_t first_dropped = size / block_size + (size % block_size != 0 ? 1 : 0);
  co_await wait_turn(arrival);
  std::vector<uint8_t> buffer;
  const uint64_t tail_block = size / block_size;
  std::optional<BlockRef> tail;
  if (size % block_size != 0) {
    auto found = co_await lookup_block(inode, tail_block);
    if (!found.ok()) {
      finish_turn(arrival);
      co_return found.error();
    }
    tail = *found;
  }
  if (tail) {
    buffer.resize(block_size);
    auto read = co_await read_block(inode, tail_block, buffer);
    if (!read.ok()) {
      finish_turn(arrival);
      co_return read;
    }
    std::fill(buffer.begin() + static_cast<ptrdiff_t>(size % block_size), buffer.end(), uint8_t{0});
  }
  std::vector<PendingBlock> blocks(tail ? 1 : 0);
  if (tail) {
    blocks[0].block_index = tail_block;
    blocks[0].bytes = buffer;
  }
  Change change{inode, first_dropped, std::move(fs_op)};
  co_return co_await change_blocks(std::move(change), arrival, std::move(blocks), stability);
}

Task<Result<void>> BlockStoreImpl::change_blocks(Change change, uint64_t arrival,
                                                 std::vector<PendingBlock> blocks,
                                                 Stability stability) {
  for (const PendingBlock& block : blocks) ASSERT(block.bytes.size() == config_.block_size);
  Result<void> prepared = co_await fingerprint_all(blocks);
  if (prepared.ok()) prepared = co_await dedup(blocks);
  if (prepared.ok()) prepared = co_await compress_new(blocks);
  co_await wait_turn(arrival);
  if (!prepared.ok()) {
    finish_turn(arrival);
    co_return prepared;
  }
  auto ticket = co_await apply(change, blocks);
  finish_turn(arrival);
  if (!ticket.ok()) co_return ticket.error();
  co_return co_await acknowledge(*ticket, stability);
}

namespace {

void fingerprint_part(Worker& worker, std::span<PendingBlock> part) {
  for (PendingBlock& block : part) {
    block.zero = chunk::is_zero_block(block.bytes);
    if (!block.zero) block.fp = worker.fingerprinter.fingerprint(block.bytes);
  }
}

void compress_part(Worker& worker, std::span<PendingBlock*> part) {
  for (PendingBlock* block : part) block->encoded = worker.codec.compress(block->bytes);
}

}  // namespace

Task<Result<void>> BlockStoreImpl::fingerprint_all(std::vector<PendingBlock>& blocks) {
  if (blocks.size() <= kInlineComputeBlocksMax) {
    fingerprint_part(workers_.inline_worker(), blocks);
    co_return ok_result();
  }
  async::TaskGroup jobs;
  auto job = [](BlockStoreImpl* self, std::span<PendingBlock> part) -> Task<void> {
    Worker* worker = co_await self->workers_.acquire();
    auto work = [worker, part]() -> Result<void> {
      fingerprint_part(*worker, part);
      return ok_result();
    };
    auto done = co_await async::run_compute(self->env_.compute, std::move(work));
    ASSERT(done.ok());
    self->workers_.release(worker);
  };
  for (size_t at = 0; at < blocks.size(); at += kComputeJobBlocks) {
    const size_t n = std::min(kComputeJobBlocks, blocks.size() - at);
    jobs.spawn(env_.executor(), job(this, std::span(blocks).subspan(at, n)));
  }
  co_await jobs.join();
  co_return ok_result();
}

Task<Result<void>> BlockStoreImpl::dedup(std::vector<PendingBlock>& blocks) {
  std::vector<size_t> ask;  // blocks whose fp the shelf index may know
  for (size_t i = 0; i < blocks.size(); ++i) {
    PendingBlock& block = blocks[i];
    if (block.zero) continue;
    if (auto location = recent_.lookup(block.fp)) {
      block.existing = *location;
      ++stats_.dedup_hits_local;
    } else if (bloom_trusted_ && !bloom_->may_contain(block.fp)) {
      ++stats_.bloom_skips;
    } else {
      ask.push_back(i);
    }
  }
  if (!ask.empty()) {
    std::vector<Fingerprint> fps;
    for (size_t i : ask) fps.push_back(blocks[i].fp);
    auto client = co_await link_.client();
    if (!client.ok()) co_return client.error();
    ++stats_.index_lookups;
    auto found = co_await (*client)->index_lookup(fps);
    if (!found.ok()) {
      link_.reset_if_broken(found.error());
      co_return found.error();
    }
    for (size_t j = 0; j < ask.size(); ++j) {
      if (!found->found[j]) continue;
      blocks[ask[j]].existing = found->locations[j];
      recent_.insert(blocks[ask[j]].fp, found->locations[j]);
    }
  }
  if (config_.verify_on_match) {
    std::vector<uint8_t> stored(config_.block_size);
    for (PendingBlock& block : blocks) {
      if (!block.existing) continue;
      const BlockRef existing{block.fp, *block.existing};
      auto read = co_await reader_->read(existing, stored);
      if (!read.ok() && read.code() != Code::kCorruption) co_return read.error();
      if (!read.ok() || !std::equal(stored.begin(), stored.end(), block.bytes.begin())) {
        // A fingerprint collision (or an unreadable old copy): store this block anew.
        ++stats_.verify_mismatches;
        block.existing.reset();
      }
    }
  }
  co_return ok_result();
}

Task<Result<void>> BlockStoreImpl::compress_new(std::vector<PendingBlock>& blocks) {
  std::vector<PendingBlock*> fresh;
  for (PendingBlock& block : blocks) {
    if (!block.zero && !block.existing) fresh.push_back(&block);
  }
  if (fresh.size() <= kInlineComputeBlocksMax) {
    compress_part(workers_.inline_worker(), fresh);
    co_return ok_result();
  }
  async::TaskGroup jobs;
  auto job = [](BlockStoreImpl* self, std::span<PendingBlock*> part) -> Task<void> {
    Worker* worker = co_await self->workers_.acquire();
    auto work = [worker, part]() -> Result<void> {
      compress_part(*worker, part);
      return ok_result();
    };
    auto done = co_await async::run_compute(self->env_.compute, std::move(work));
    ASSERT(done.ok());
    self->workers_.release(worker);
  };
  for (size_t at = 0; at < fresh.size(); at += kComputeJobBlocks) {
    const size_t n = std::min(kComputeJobBlocks, fresh.size() - at);
    jobs.spawn(env_.executor(), job(this, std::span(fresh).subspan(at, n)));
  }
  co_await jobs.join();
  co_return ok_result();
}

Task<Result<uint64_t>> BlockStoreImpl::apply(Change& change, std::vector<PendingBlock>& blocks) {
  const InodeId inode = change.inode;
  ASSERT(inode.value() != 0);
  // Room first (we hold the turn, so everything behind us waits too: backpressure).
  size_t record_bytes = kRecordHeaderBytes + change.fs_op.bytes_max;
  size_t new_bytes = 0;
  for (const PendingBlock& block : blocks) {
    record_bytes += kRecordUpdateBytes;
    if (!block.zero && !block.existing) {
      record_bytes += kRecordChunkHeaderBytes + block.encoded.bytes.size();
      new_bytes += block.encoded.bytes.size();
    }
  }
  CO_RETURN_IF_ERROR(co_await wait_client_room(std::min(record_bytes, log_->record_bytes_max())));
  CO_RETURN_IF_ERROR(co_await log_->wait_for_room(record_bytes));
  CO_RETURN_IF_ERROR(co_await destager_->wait_for_room(new_bytes));
  CO_RETURN_IF_ERROR(usable());

  // One record per write, split into parts when it would exceed what one append may carry
  // (record_bytes_max). Parts are queued back to back; the write is acknowledged with the last.
  // A crash may keep a prefix of the parts of an unacknowledged write, as a disk may keep some
  // sectors of a write it never acknowledged.
  const size_t part_bytes_max = log_->record_bytes_max();
  ASSERT(kRecordHeaderBytes + change.fs_op.bytes_max <= part_bytes_max);
  LogRecord record;
  record.inode = inode;
  record.truncate_from_block = change.truncate_from;
  // Sized once: growing them block by block was 5% of the event loop's time in unique ingest.
  record.updates.reserve(blocks.size());
  record.chunks.reserve(blocks.size());
  size_t part_bytes = kRecordHeaderBytes;
  uint64_t ticket = 0;
  auto flush_part = [&](bool last) {
    ticket = log_->last_ticket() + 1;
    if (last && change.fs_op.bytes_max > 0) {
      // Built now, in the step that queues the record: the file system numbers and applies it.
      record.fs_op = change.fs_op.build();
      ASSERT(!record.fs_op.empty());
      ASSERT(record.fs_op.size() <= change.fs_op.bytes_max);
      note_fs_op(ticket);
      ++stats_.fs_ops_logged;
    }
    maps_.apply(record, ticket);
    const uint64_t queued = log_->enqueue(encode_record(record));
    ASSERT(queued == ticket);
    destager_->logged(ticket);
    note_log_growth();
    record = LogRecord{};
    record.inode = inode;
    part_bytes = kRecordHeaderBytes;
  };
  for (PendingBlock& block : blocks) {
    ++stats_.blocks_written;
    const size_t block_bytes =
        kRecordUpdateBytes +
        (block.zero || block.existing ? 0 : kRecordChunkHeaderBytes + block.encoded.bytes.size());
    ASSERT(kRecordHeaderBytes + block_bytes <= part_bytes_max);
    if (part_bytes + block_bytes > part_bytes_max) flush_part(false);
    part_bytes += block_bytes;
    if (block.zero) {
      ++stats_.zero_blocks;
      // Over a base, memory cannot tell whether the block was mapped: record the hole.
      if (maps_.overlay() || maps_.find(inode, block.block_index) != nullptr ||
          change.truncate_from) {
        record.updates.push_back(MapUpdate{block.block_index, {}, {}});
      }
      continue;
    }
    if (!block.existing) {
      // A block first stored by a write that applied after this one looked: same stored bytes
      // in a container still in memory means the same block (compression is deterministic).
      if (auto recent = recent_.lookup(block.fp)) {
        auto staged = destager_->staged(*recent);
        if (staged && std::equal(staged->begin(), staged->end(), block.encoded.bytes.begin(),
                                 block.encoded.bytes.end())) {
          block.existing = *recent;
          ++stats_.dedup_hits_local;
        }
      }
    }
    if (block.existing) {
      ++stats_.dedup_hits;
      record.updates.push_back(MapUpdate{block.block_index, block.fp, *block.existing});
      continue;
    }
    const ChunkLocation location =
        destager_->pack(block.fp, block.encoded.bytes, config_.block_size);
    recent_.insert(block.fp, location);
    if (bloom_) bloom_->add(block.fp);
    // Write-through (DESIGN.md §3 step 8): a read after this write finds the block decoded.
    // Only for the chunk just packed: its location holds exactly these bytes (a dedup hit's
    // location holds the bytes of whoever stored it first, equal only if the fps do not
    // collide).
    cache_.insert(location, block.bytes);
    ++stats_.chunks_stored;
    stats_.unique_bytes += config_.block_size;
    stats_.stored_bytes += block.encoded.bytes.size();
    record.updates.push_back(MapUpdate{block.block_index, block.fp, location});
    record.chunks.push_back(NewChunk{block.fp, location, std::move(block.encoded.bytes)});
  }
  // The fs op must fit the last part too.
  if (part_bytes + change.fs_op.bytes_max > part_bytes_max) flush_part(false);
  flush_part(true);
  co_return ticket;
}

Task<Result<void>> BlockStoreImpl::acknowledge(uint64_t ticket, Stability stability) {
  if (stability == Stability::kUnstable) co_return ok_result();
  co_return co_await log_->wait_durable(ticket);
}

Task<Result<void>> BlockStoreImpl::commit() {
  CO_RETURN_IF_ERROR(usable());
  // Writes that arrived before this call but are still preparing apply first.
  const uint64_t arrival = next_arrival_++;
  co_await wait_turn(arrival);
  finish_turn(arrival);
  const uint64_t last = log_->last_ticket();
  if (last == 0) co_return ok_result();
  co_return co_await log_->wait_durable(last);
}

}  // namespace splitarray::hostdriver::blockstore
