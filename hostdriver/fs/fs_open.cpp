// hostdriver/fs/fs_open.cpp
// Taking a datastore over and recovering it (file_system.h "Ownership", "Recovery"):
//   1. lease: compare-and-swap the lease register to {this host, epoch + 1} with that epoch;
//   2. fence checkpoints: swap the root register to its own value with the new epoch, so an older
//      owner's next checkpoint is refused (register epochs only grow);
//   3. fence the log: open the block store on the datastore's log with the new epoch (its open
//      appends a marker with it, after which older appends are refused), replaying data;
//   4. replay the operations logged after the checkpoint, reap orphans, checkpoint.
// format() makes the root directory and the first checkpoint the same way (root version 0 -> 1).
#include <string>

#include "hostdriver/fs/file_system_impl.h"

namespace splitarray::hostdriver::fs {

FileSystemImpl::FileSystemImpl(Env& env, FsConfig config)
    : env_(env), config_(std::move(config)), cache_(config_.node_cache_bytes) {}

FileSystemImpl::~FileSystemImpl() {
  ASSERT_MSG(!opened_ || closed_, "FileSystem destroyed without close()");
}

Task<Result<protocol::ShelfClient*>> FileSystemImpl::registers() {
  // The connection breaks when the shelf restarts or the network resets it; the file system
  // outlives that (the block store reconnects its own), so connect again when needed.
  if (registers_ != nullptr && !registers_->rpc().broken()) co_return registers_.get();
  if (abandoned_) co_return make_error(Code::kUnavailable, "gave up on the shelf");
  if (registers_ != nullptr) {
    co_await registers_->close();
    registers_.reset();
  }
  auto client = co_await protocol::ShelfClient::connect(env_, config_.store.shelf);
  if (!client.ok()) co_return client.error();
  registers_ = std::move(client).value();
  co_return registers_.get();
}

Task<Result<void>> FileSystemImpl::take_lease() {
  const std::string name = lease_register(config_.datastore);
  for (size_t attempt = 0; attempt < kLeaseAttemptsMax; ++attempt) {
    auto connected = co_await registers();
    if (!connected.ok()) co_return connected.error();
    protocol::ShelfClient* client = *connected;
    auto current = co_await client->register_get(name);
    if (!current.ok()) co_return current.error();
    uint64_t epoch = current->epoch;
    if (current->exists) {
      auto lease = decode_lease(current->value);
      if (!lease.ok()) co_return lease.error();
      epoch = std::max(epoch, lease->epoch);
    }
    const Lease mine{static_cast<uint32_t>(config_.host.value()), epoch + 1};
    auto swapped = co_await client->register_cas(name, current->version, encode_lease(mine),
                                                 Epoch(mine.epoch));
    if (!swapped.ok()) co_return swapped.error();
    if (swapped->swapped) {
      lease_epoch_ = mine.epoch;
      co_return ok_result();
    }
  }
  co_return make_error(Code::kBusy,
                       "datastore " + config_.datastore + ": other hosts keep taking the lease");
}

Task<Result<void>> FileSystemImpl::open_store(uint32_t log_id, uint32_t block_size) {
  blockstore::BlockStoreConfig store_config = config_.store;
  store_config.host = HostId(log_id);
  store_config.epoch = Epoch(lease_epoch_);
  store_config.block_size = block_size;
  auto store = co_await blockstore::BlockStore::open(env_, std::move(store_config), &map_base_);
  if (!store.ok()) co_return store.error();
  store_ = std::move(store).value();
  node_io_ = std::make_unique<BlockStoreNodeIo>(*store_);
  co_return ok_result();
}

Task<Result<void>> FileSystemImpl::format_datastore(FormatOptions options) {
  CO_RETURN_IF_ERROR(co_await take_lease());
  auto connected = co_await registers();
  if (!connected.ok()) co_return connected.error();
  auto existing = co_await (*connected)->register_get(root_register(config_.datastore));
  if (!existing.ok()) co_return existing.error();
  if (existing->exists) {
    co_return make_error(Code::kExists, "datastore " + config_.datastore + " is formatted");
  }
  CO_RETURN_IF_ERROR(co_await open_store(options.log_id, config_.store.block_size));
  opened_ = true;
  superblock_.fs_id = env_.rng.next_u64() | 1;
  superblock_.block_size = config_.store.block_size;
  superblock_.log_id = options.log_id;
  superblock_.created = env_.clock.wall_now();
  superblock_.next_inode = kRootInode + 1;
  root_version_ = 0;  // the register does not exist: version 0 creates it
  inode_table_ =
      std::make_unique<meta::BTree>(cache_, *node_io_, superblock_.block_size, std::nullopt);
  state_ = std::make_unique<FsState>(kRootInode + 1, 0, 1);
  InodeRecord root;
  root.attrs.inode = kRootInode;
  root.attrs.generation = 1;
  root.attrs.type = FileType::kDirectory;
  root.attrs.mode = options.root_mode & 07777;
  root.attrs.uid = options.root_uid;
  root.attrs.gid = options.root_gid;
  root.attrs.nlink = 2;
  root.attrs.atime = root.attrs.mtime = root.attrs.ctime = superblock_.created;
  root.parent = kRootInode;
  FrozenChanges first;
  first.inodes.emplace(kRootInode, root);
  first.next_inode = kRootInode + 1;
  first.inode_count = 1;
  co_return co_await write_checkpoint(std::move(first), {});
}

Task<Result<void>> FileSystemImpl::format(Env& env, FsConfig config, FormatOptions options) {
  FileSystemImpl impl(env, std::move(config));
  auto formatted = co_await impl.format_datastore(options);
  co_await impl.close();
  co_return formatted;
}

Task<Result<void>> FileSystemImpl::open() {
  CO_RETURN_IF_ERROR(co_await take_lease());
  const std::string name = root_register(config_.datastore);
  // Fence older owners' checkpoints: our epoch on the root register.
  bool fenced_root = false;
  for (size_t attempt = 0; attempt < kLeaseAttemptsMax && !fenced_root; ++attempt) {
    auto connected = co_await registers();
    if (!connected.ok()) co_return connected.error();
    protocol::ShelfClient* client = *connected;
    auto current = co_await client->register_get(name);
    if (!current.ok()) co_return current.error();
    if (!current->exists) {
      co_return make_error(Code::kNotFound, "datastore " + config_.datastore + " is not formatted");
    }
    auto swapped =
        co_await client->register_cas(name, current->version, current->value, Epoch(lease_epoch_));
    if (!swapped.ok()) co_return swapped.error();
    if (!swapped->swapped) continue;  // an older owner's last checkpoint landed: read again
    auto superblock = decode_superblock(swapped->current.value);
    if (!superblock.ok()) co_return superblock.error();
    superblock_ = std::move(superblock).value();
    root_version_ = swapped->current.version;
    fenced_root = true;
  }
  if (!fenced_root) co_return make_error(Code::kBusy, "the root register kept changing");
  if (superblock_.block_size != config_.store.block_size) {
    env_.log.info("fs.block_size", {{"datastore", config_.datastore},
                                    {"block_size", std::to_string(superblock_.block_size)}});
  }
  CO_RETURN_IF_ERROR(co_await open_store(superblock_.log_id, superblock_.block_size));
  opened_ = true;
  figures_at_open_ = superblock_.figures;
  inode_table_ = std::make_unique<meta::BTree>(cache_, *node_io_, superblock_.block_size,
                                               superblock_.inode_table);
  state_ =
      std::make_unique<FsState>(superblock_.next_inode, superblock_.last_op_id, superblock_.inodes);
  state_->add_orphans(superblock_.orphans);
  CO_RETURN_IF_ERROR(co_await replay());
  CO_RETURN_IF_ERROR(co_await checkpoint());
  co_await reap_orphans();
  loops_.spawn(env_.executor(), run_checkpointer());
  loops_.spawn(env_.executor(), run_pressure_watch());
  loops_.spawn(env_.executor(), run_lease_watch());
  env_.log.info("fs.open", {{"datastore", config_.datastore},
                            {"epoch", std::to_string(lease_epoch_)},
                            {"inodes", std::to_string(state_->inode_count())},
                            {"replayed", std::to_string(stats_.replayed_operations)}});
  co_return ok_result();
}

Task<Result<void>> FileSystemImpl::replay() {
  std::vector<std::vector<uint8_t>> logged = store_->take_replayed_ops();
  for (const std::vector<uint8_t>& bytes : logged) {
    auto op = decode_op(bytes);
    if (!op.ok()) co_return op.error();
    if (op->id <= state_->last_op_id()) continue;  // in the checkpoint, or stored twice
    if (op->id != state_->next_op_id()) {
      co_return make_error(Code::kCorruption, "log operation " + std::to_string(op->id) +
                                                  " follows " +
                                                  std::to_string(state_->last_op_id()));
    }
    CO_RETURN_IF_ERROR(co_await load_inodes(FsState::needed_inodes(*op)));
    CO_RETURN_IF_ERROR(state_->apply(*op));
    ++stats_.replayed_operations;
  }
  co_return ok_result();
}

Task<Result<void>> FileSystemImpl::reap(uint64_t inode) {
  auto cached = co_await load_inode(inode);
  if (!cached.ok()) co_return cached.error();
  FsOp op = new_op(OpKind::kReap);
  op.inode = inode;
  blockstore::FsOpBuilder builder = riding_op(op);
  // Unstable: a reap lost in a crash is redone at the next open (the orphan list).
  auto removed = co_await store_->remove(InodeId(inode), Stability::kUnstable, std::move(builder));
  if (removed.ok()) ++stats_.reaped_orphans;
  if (!removed.ok() && removed.code() == Code::kStale && !fenced_) fenced_ = removed.error();
  co_return removed;
}

Task<void> FileSystemImpl::reap_orphans() {
  const std::vector<uint64_t> orphans(state_->orphans().begin(), state_->orphans().end());
  for (uint64_t inode : orphans) {
    auto reaped = co_await reap(inode);
    if (!reaped.ok()) {
      env_.log.warn("fs.reap_failed",
                    {{"inode", std::to_string(inode)}, {"error", reaped.error().to_string()}});
    }
  }
}

Task<void> FileSystemImpl::close() {
  if (closed_) co_return;
  if (opened_) {
    Result<void> saved = usable();
    if (saved.ok()) saved = co_await checkpoint();
    // A fenced owner owns nothing any more: it has nothing left to save, so its stop is clean.
    if (!saved.ok() && saved.code() != Code::kStale) {
      env_.log.warn("fs.close_checkpoint_failed", {{"error", saved.error().to_string()}});
      close_error_ = saved.error();
    }
  }
  closing_ = true;
  if (checkpoint_timer_ != 0) env_.clock.cancel(checkpoint_timer_);
  if (lease_timer_ != 0) env_.clock.cancel(lease_timer_);
  wake_checkpointer_.notify_all();
  wake_lease_watch_.notify_all();
  checkpoint_done_.notify_all();
  // A checkpoint the loop started before closing_ finishes before the store goes.
  co_await checkpoint_mutex_.lock();
  checkpoint_mutex_.unlock();
  if (store_) co_await store_->close();  // also wakes the pressure watch
  co_await loops_.join();
  if (registers_) co_await registers_->close();
  closed_ = true;
}

FsStats FileSystemImpl::stats() const {
  FsStats s = stats_;
  if (state_) {
    s.inodes = state_->inode_count();
    s.inode_cache_entries = state_->cached_inodes();
    s.dirty_bytes = dirty_bytes();
  }
  s.node_cache_bytes = cache_.bytes();
  if (store_) s.store = store_->stats();
  s.figures = figures_now();
  return s;
}

DataFigures FileSystemImpl::figures_now() const {
  DataFigures figures = figures_at_open_;
  if (store_ == nullptr) return figures;
  const blockstore::BlockStoreStats store = store_->stats();
  ASSERT(store.zero_blocks <= store.blocks_written);
  figures.written_bytes += (store.blocks_written - store.zero_blocks) * store_->config().block_size;
  figures.unique_bytes += store.unique_bytes;
  figures.stored_bytes += store.stored_bytes;
  return figures;
}

}  // namespace splitarray::hostdriver::fs
