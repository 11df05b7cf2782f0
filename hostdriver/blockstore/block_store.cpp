// hostdriver/blockstore/block_store.cpp
// BlockStore's facade, construction, open/close and stats. The paths live in write_path.cpp,
// read_path.cpp, recovery.cpp and trimmer.cpp.
#include "hostdriver/blockstore/block_store.h"

#include <string>

#include "hostdriver/blockstore/block_store_impl.h"

namespace splitarray::hostdriver::blockstore {
namespace {

Error invalid(const std::string& what) { return make_error(Code::kInvalidArgument, what); }

}  // namespace

Result<void> validate_config(const BlockStoreConfig& config) {
  if (!chunk::is_valid_block_size(config.block_size)) {
    return invalid("block_size " + std::to_string(config.block_size) +
                   ": a power of two from 4 KiB to 64 KiB");
  }
  RETURN_IF_ERROR(container::validate_geometry(config.geometry));
  if (config.geometry.data_fragments > static_cast<uint32_t>(ec::kDataFragmentsMax)) {
    return invalid("geometry.data_fragments over the erasure code's limit");
  }
  if (config.parity_fragments < 1 ||
      config.parity_fragments > static_cast<uint32_t>(ec::kParityFragmentsMax)) {
    return invalid("parity_fragments: 1.." + std::to_string(ec::kParityFragmentsMax));
  }
  if (config.host.value() == 0 || config.host.value() >= (1u << kHostIdBitsInContainerId)) {
    return invalid("host: 1.." + std::to_string((1u << kHostIdBitsInContainerId) - 1));
  }
  if (config.fingerprint_truncate_bits > chunk::kFingerprintBits) {
    return invalid("fingerprint_truncate_bits: at most 256");
  }
  if (config.recent_fps < chunk::kRecentFpCapacityMin ||
      config.recent_fps > chunk::kRecentFpCapacityMax) {
    return invalid("recent_fps out of range");
  }
  if (config.log_queue_bytes_max < kAppendBatchBytesMax) {
    return invalid("log_queue_bytes_max: at least " + std::to_string(kAppendBatchBytesMax));
  }
  if (config.stripes_inflight_max < 1) return invalid("stripes_inflight_max: at least 1");
  if (config.seal_idle <= Duration::zero()) return invalid("seal_idle: positive");
  return ok_result();
}

// --- BlockStoreImpl: construction, open, close, stats ------------------------------------------

BlockStoreImpl::BlockStoreImpl(Env& env, BlockStoreConfig config, BlockMapBase* base)
    : env_(env),
      config_(std::move(config)),
      base_(base),
      write_verifier_(env.rng.next_u64()),
      link_(env, config_.shelf, config_.shelf_timeout),
      workers_(std::min(kWorkersMax,
                        std::max<size_t>(1, env.compute.threads()) * kWorkersPerComputeThread),
               chunk::FingerprinterOptions{config_.fingerprint_truncate_bits},
               static_cast<int>(config_.geometry.data_fragments),
               static_cast<int>(config_.parity_fragments)),
      cache_(config_.read_cache_bytes, config_.block_size),
      recent_(config_.recent_fps, env.rng.next_u64()) {
  auto bloom = chunk::BloomFilter::create(config_.bloom_expected_entries, config_.bloom_fp_rate);
  if (bloom.ok()) bloom_.emplace(std::move(bloom).value());
  destager_ = std::make_unique<Destager>(env_, config_, link_, workers_);
  reader_ = std::make_unique<ChunkReader>(env_, config_, link_, *destager_, workers_, cache_);
  if (base_ != nullptr) maps_.set_overlay();
}

BlockStoreImpl::~BlockStoreImpl() {
  ASSERT_MSG(!opened_ || closed_, "BlockStore destroyed without close()");
}

Task<Result<void>> BlockStoreImpl::open() {
  auto opened = co_await destager_->open();
  if (opened.ok()) opened = co_await fence_and_replay();
  if (!opened.ok()) {
    co_await link_.close();
    co_return opened;
  }
  opened_ = true;
  log_->start();
  destager_->start(*log_);
  loops_.spawn(env_.executor(), run_trimmer());
  loops_.spawn(env_.executor(), run_idle_sealer());
  if (bloom_ && !bloom_trusted_) loops_.spawn(env_.executor(), run_bloom_loader());
  env_.log.info("blockstore.open",
                {{"host", std::to_string(config_.host.value())},
                 {"epoch", std::to_string(config_.epoch.value())},
                 {"replayed_records", std::to_string(stats_.open_replayed_records)},
                 {"files", std::to_string(maps_.files())}});
  co_return ok_result();
}

Task<Result<void>> BlockStoreImpl::destage_all() {
  CO_RETURN_IF_ERROR(co_await commit());
  destager_->seal_open();
  CO_RETURN_IF_ERROR(co_await destager_->drain());
  CO_RETURN_IF_ERROR(usable());
  // Let the trimmer catch up, so a reopen replays little.
  co_return co_await trim_once(true);
}

Task<void> BlockStoreImpl::close() {
  if (closed_ || !opened_) co_return;
  if (usable().ok()) {
    auto drained = co_await destage_all();
    if (!drained.ok()) {
      env_.log.warn("blockstore.close_undrained", {{"error", drained.error().to_string()}});
    }
  }
  closing_ = true;
  if (idle_timer_ != 0) env_.clock.cancel(idle_timer_);
  idle_tick_.notify();
  destager_->progress().notify_all();
  log_space_.notify_all();
  turn_.notify_all();
  pressure_.notify_all();
  co_await log_->stop();
  co_await destager_->stop();
  destager_->progress().notify_all();
  co_await loops_.join();
  co_await reader_->stop();
  co_await link_.close();
  closed_ = true;
}

void BlockStoreImpl::abandon() {
  if (closed_ || !opened_ || abandoned_) return;
  abandoned_ = Error{Code::kUnavailable, "block store gave up on the shelf (close timed out)"};
  env_.log.error("blockstore.abandoned", {{"shelf", config_.shelf.to_string()}});
  link_.abandon();
  // Wake everything that waits, so each looks again and sees the link closed.
  log_->wake_waiters();
  destager_->progress().notify_all();
  log_space_.notify_all();
  turn_.notify_all();
  pressure_.notify_all();
  // Not the idle sealer: woken, it would re-arm idle_timer_ and orphan the pending timer (which
  // then fires after the store is gone). close() stops it; it never waits on the shelf.
}

BlockStoreStats BlockStoreImpl::stats() const {
  BlockStoreStats s = stats_;
  s.logical_bytes = maps_.mapped_blocks() * config_.block_size;
  s.bloom_trusted = bloom_trusted_;
  if (log_) {
    s.log_appends = log_->stats().appends;
    s.log_records = log_->stats().records;
    s.log_busy_waits += log_->stats().busy_waits;
  }
  s.containers_sealed = destager_->stats().containers_sealed;
  s.containers_destaged = destager_->stats().containers_destaged;
  s.stripes_written_degraded = destager_->stats().stripes_written_degraded;
  s.fragment_write_retries = destager_->stats().fragment_write_retries;
  s.fragments_rebuilt = destager_->stats().fragments_rebuilt;
  const ChunkReaderStats& r = reader_->stats();
  s.read_cache_hits = r.cache_hits;
  s.fragment_range_reads = r.range_reads;
  s.degraded_reads = r.degraded_reads;
  s.repairs = r.repairs;
  return s;
}

Result<BlockRef> BlockStoreImpl::block_ref(InodeId inode, uint64_t block_index) const {
  const BlockRef* ref = maps_.find(inode, block_index);
  if (ref == nullptr) return make_error(Code::kNotFound, "hole");
  return *ref;
}

Result<std::vector<DiskIndex>> BlockStoreImpl::placement(ContainerId container) const {
  return destager_->placement(container);
}

std::optional<Error> BlockStoreImpl::failed() const {
  if (log_ && log_->fenced()) return *log_->fenced();
  if (destager_ && destager_->failed()) return *destager_->failed();
  return abandoned_;
}

std::optional<Error> BlockStoreImpl::fenced() const {
  const Result<void> now = usable();
  if (now.ok() || now.code() != Code::kStale) return std::nullopt;
  return now.error();
}

// --- BlockStore ---------------------------------------------------------------------------------

Task<Result<std::unique_ptr<BlockStore>>> BlockStore::open(Env& env, BlockStoreConfig config,
                                                           BlockMapBase* base) {
  CO_RETURN_IF_ERROR(validate_config(config));
  auto impl = std::make_unique<BlockStoreImpl>(env, std::move(config), base);
  CO_RETURN_IF_ERROR(co_await impl->open());
  co_return std::unique_ptr<BlockStore>(new BlockStore(std::move(impl)));
}

BlockStore::BlockStore(std::unique_ptr<BlockStoreImpl> impl) : impl_(std::move(impl)) {}
BlockStore::~BlockStore() = default;

Task<Result<void>> BlockStore::write(InodeId inode, uint64_t offset, std::span<const uint8_t> data,
                                     Stability stability, FsOpBuilder fs_op) {
  co_return co_await impl_->write(inode, offset, data, stability, std::move(fs_op));
}
Task<Result<std::vector<uint8_t>>> BlockStore::read(InodeId inode, uint64_t offset,
                                                    uint32_t length) {
  co_return co_await impl_->read(inode, offset, length);
}
Task<Result<void>> BlockStore::truncate(InodeId inode, uint64_t size, Stability stability,
                                        FsOpBuilder fs_op) {
  co_return co_await impl_->truncate(inode, size, stability, std::move(fs_op));
}
Task<Result<void>> BlockStore::remove(InodeId inode, Stability stability, FsOpBuilder fs_op) {
  co_return co_await impl_->truncate(inode, 0, stability, std::move(fs_op));
}
Task<Result<void>> BlockStore::wait_op_room(size_t fs_op_bytes) {
  co_return co_await impl_->wait_op_room(fs_op_bytes);
}
Result<LogTicket> BlockStore::enqueue_op(std::vector<uint8_t> fs_op) {
  return impl_->enqueue_op(std::move(fs_op));
}
Task<Result<void>> BlockStore::wait_durable(LogTicket ticket) {
  co_return co_await impl_->wait_durable(ticket);
}
Result<std::vector<BlockRef>> BlockStore::put_chunks_now(
    std::span<const std::vector<uint8_t>> blocks) {
  return impl_->put_chunks_now(blocks);
}
Task<Result<std::vector<uint8_t>>> BlockStore::get_chunk(BlockRef ref) {
  co_return co_await impl_->get_chunk(ref);
}
LogTicket BlockStore::log_mark() const { return impl_->log_mark(); }
void BlockStore::fs_ops_covered(LogTicket through) { impl_->fs_ops_covered(through); }
bool BlockStore::log_pressure() const { return impl_->log_pressure(); }
Task<void> BlockStore::wait_log_pressure() { co_await impl_->wait_log_pressure(); }
std::map<InodeId, FileMapChanges> BlockStore::map_changes(LogTicket through) const {
  return impl_->map_changes(through);
}
size_t BlockStore::map_entries() const { return impl_->map_entries(); }
Task<Result<std::optional<BlockRef>>> BlockStore::lookup_block(InodeId inode,
                                                               uint64_t block_index) {
  co_return co_await impl_->lookup_block(inode, block_index);
}
std::vector<std::vector<uint8_t>> BlockStore::take_replayed_ops() {
  return impl_->take_replayed_ops();
}
Task<Result<void>> BlockStore::commit() { co_return co_await impl_->commit(); }
Task<Result<void>> BlockStore::destage_all() { co_return co_await impl_->destage_all(); }
Task<void> BlockStore::close() { co_await impl_->close(); }
void BlockStore::abandon() { impl_->abandon(); }
uint64_t BlockStore::write_verifier() const { return impl_->write_verifier(); }
std::optional<Error> BlockStore::fenced() const { return impl_->fenced(); }
std::optional<Error> BlockStore::failed() const { return impl_->failed(); }
BlockStoreStats BlockStore::stats() const { return impl_->stats(); }
Result<BlockRef> BlockStore::block_ref(InodeId inode, uint64_t block_index) const {
  return impl_->block_ref(inode, block_index);
}
Result<std::vector<DiskIndex>> BlockStore::placement(ContainerId container) const {
  return impl_->placement(container);
}
const BlockStoreConfig& BlockStore::config() const { return impl_->config(); }

}  // namespace splitarray::hostdriver::blockstore
