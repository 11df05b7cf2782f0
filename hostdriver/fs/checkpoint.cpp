// hostdriver/fs/checkpoint.cpp
// The checkpoint (DESIGN.md §5): in one synchronous step, freeze the changes in memory
// (FsState::begin_checkpoint) and take the log mark; then merge the frozen directory entries and
// inode records into their trees, store the trees' dirty nodes bottom-up (directories first: an
// inode record carries its directory's new root), wait until those records are durable, and
// compare-and-swap the root register with the lease epoch. Only then may the log be trimmed past
// the mark (fs_ops_covered) and memory drop what the trees now hold (end_checkpoint).
//
// The checkpointer is the only writer of the trees; readers read them concurrently and merge
// memory on top (lookups.cpp). A failed checkpoint leaves memory as it was (it is retried); a
// refused compare-and-swap means a newer owner took the datastore: this one is fenced.
#include <algorithm>
#include <string>

#include "common/async/yield.h"
#include "hostdriver/fs/file_system_impl.h"

namespace splitarray::hostdriver::fs {
namespace {

// How long the loop waits after a failed checkpoint before trying again.
constexpr Duration kCheckpointRetryDelay = std::chrono::milliseconds(200);
// Tree changes merged per synchronous step before yielding to the event loop (~0.5 ms): merging a
// checkpoint's thousands of block-map changes in one go held NFS calls for ~5 ms. Readers may run
// between steps, as they may whenever a merge waits for a node to load.
constexpr size_t kMergesPerStep = 512;

// Publishes the records a checkpoint is writing (FileSystemImpl::checkpoint_records_) for as
// long as it runs, also when it fails.
class RecordsInFlight {
 public:
  using Records = std::map<uint64_t, std::optional<InodeRecord>>;
  RecordsInFlight(const Records*& slot, const Records& records) : slot_(slot) { slot_ = &records; }
  ~RecordsInFlight() { slot_ = nullptr; }
  RecordsInFlight(const RecordsInFlight&) = delete;
  RecordsInFlight& operator=(const RecordsInFlight&) = delete;

 private:
  const Records*& slot_;
};

}  // namespace

Task<Result<std::vector<blockstore::BlockRef>>> BlockStoreNodeIo::store(
    std::vector<std::vector<uint8_t>> nodes) {
  std::vector<blockstore::BlockRef> refs;
  refs.reserve(nodes.size());
  const std::span<const std::vector<uint8_t>> all(nodes);
  for (size_t at = 0; at < all.size(); at += kNodesPerStoreStep) {
    if (at > 0) co_await async::yield_to_loop();
    const size_t count = std::min(kNodesPerStoreStep, all.size() - at);
    auto step = store_.put_chunks_now(all.subspan(at, count));
    if (!step.ok()) co_return std::move(step).take_error();
    ASSERT(step->size() == count);
    refs.insert(refs.end(), step->begin(), step->end());
    nodes_stored_ += count;
  }
  ASSERT(refs.size() == nodes.size());
  co_return refs;
}

Task<Result<std::vector<uint8_t>>> BlockStoreNodeIo::load(blockstore::BlockRef ref) {
  co_return co_await store_.get_chunk(ref);
}

Task<Result<void>> FileSystemImpl::merge_dirs(const FrozenChanges& frozen) {
  for (const auto& [dir, overlay] : frozen.dirs) {
    auto record = frozen.inodes.find(dir);
    if (record != frozen.inodes.end() && !record->second) {
      dir_trees_.erase(dir);  // removed: its tree is garbage
      continue;
    }
    // The record as frozen, not memory's: an operation that ran while this checkpoint waited
    // (for a node, or at a yield) may have removed the directory since; its tree is merged
    // anyway and dropped by the next checkpoint.
    ASSERT_MSG(record != frozen.inodes.end(),
               "a directory whose entries changed has a changed record");
    std::shared_ptr<meta::BTree> tree = dir_tree(dir, *record->second);
    for (const auto& [key, change] : overlay) {
      if (++merged_ % kMergesPerStep == 0) co_await async::yield_to_loop();
      if (change.entry) {
        const std::vector<uint8_t> value = encode_dir_entry(*change.entry);
        CO_RETURN_IF_ERROR(co_await tree->put(key, value));
      } else {
        auto erased = co_await tree->erase(key);
        if (!erased.ok()) co_return erased.error();
      }
    }
  }
  co_return ok_result();
}

Task<Result<void>> FileSystemImpl::merge_maps(
    FrozenChanges& frozen, const std::map<InodeId, blockstore::FileMapChanges>& maps) {
  for (const auto& [id, changes] : maps) {
    const uint64_t inode = id.value();
    auto record = frozen.inodes.find(inode);
    if (record != frozen.inodes.end() && !record->second) {
      map_trees_.erase(inode);  // removed: its map is garbage
      continue;
    }
    if (record == frozen.inodes.end()) {
      // Unchanged since the last checkpoint but its data changed: its record as of the mark is
      // the one in the inode table (memory may already hold later operations).
      auto stored = co_await inode_table_->get(inode);
      if (!stored.ok()) co_return stored.error();
      if (!stored->has_value()) continue;  // no such file (any more)
      auto decoded = decode_inode(**stored);
      if (!decoded.ok()) co_return decoded.error();
      record = frozen.inodes.emplace(inode, std::move(decoded).value()).first;
    }
    if (record->second->attrs.type != FileType::kRegular) continue;
    std::shared_ptr<meta::BTree> tree = map_tree(inode, record->second->map_root);
    if (changes.truncate_from) {
      auto erased = co_await tree->erase_from(*changes.truncate_from);
      if (!erased.ok()) co_return erased.error();
    }
    for (const auto& [block, ref] : changes.blocks) {
      if (++merged_ % kMergesPerStep == 0) co_await async::yield_to_loop();
      if (ref) {
        const std::vector<uint8_t> value = encode_map_value(*ref);
        CO_RETURN_IF_ERROR(co_await tree->put(block, value));
      } else {
        auto erased = co_await tree->erase(block);
        if (!erased.ok()) co_return erased.error();
      }
    }
  }
  co_return ok_result();
}

Task<Result<void>> FileSystemImpl::flush_trees(FrozenChanges& frozen) {
  // Directories and block maps first: their inode records carry the new roots.
  for (auto& [dir, tree] : dir_trees_) {
    if (!tree->dirty()) continue;
    auto root = co_await tree->flush();
    if (!root.ok()) co_return root.error();
    auto record = frozen.inodes.find(dir);
    ASSERT_MSG(record != frozen.inodes.end() && record->second,
               "a directory whose entries changed has a changed record");
    record->second->dir_root = *root;
    if (CachedInode* cached = state_->find(dir)) cached->record.dir_root = *root;
  }
  for (auto& [inode, tree] : map_trees_) {
    if (!tree->dirty()) continue;
    auto root = co_await tree->flush();
    if (!root.ok()) co_return root.error();
    auto record = frozen.inodes.find(inode);
    ASSERT_MSG(record != frozen.inodes.end() && record->second,
               "a file whose block map changed has a record in the checkpoint");
    record->second->map_root = *root;
    if (CachedInode* cached = state_->find(inode)) cached->record.map_root = *root;
  }
  co_return ok_result();
}

Task<Result<void>> FileSystemImpl::write_checkpoint(
    FrozenChanges frozen, std::map<InodeId, blockstore::FileMapChanges> maps) {
  ASSERT(checkpoint_records_ == nullptr);  // one checkpoint at a time (checkpoint_mutex_)
  const RecordsInFlight in_flight(checkpoint_records_, frozen.inodes);
  CO_RETURN_IF_ERROR(co_await merge_dirs(frozen));
  CO_RETURN_IF_ERROR(co_await merge_maps(frozen, maps));
  CO_RETURN_IF_ERROR(co_await flush_trees(frozen));
  for (const auto& [inode, record] : frozen.inodes) {
    if (record) {
      const std::vector<uint8_t> value = encode_inode(*record);
      CO_RETURN_IF_ERROR(co_await inode_table_->put(inode, value));
    } else {
      auto erased = co_await inode_table_->erase(inode);
      if (!erased.ok()) co_return erased.error();
    }
  }
  auto table_root = co_await inode_table_->flush();
  if (!table_root.ok()) co_return table_root.error();

  Superblock next = superblock_;
  next.inode_table = *table_root;
  next.next_inode = frozen.next_inode;
  next.last_op_id = frozen.last_op_id;
  next.inodes = frozen.inode_count;
  next.orphans = frozen.orphans;
  next.checkpoints = superblock_.checkpoints + 1;
  next.figures = figures_now();
  // Every node record (and every operation before the mark) durable before the root names them.
  CO_RETURN_IF_ERROR(co_await store_->wait_durable(store_->log_mark()));
  const std::vector<uint8_t> value = encode_superblock(next);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto client = co_await registers();
    if (!client.ok()) co_return client.error();
    auto swapped = co_await (*client)->register_cas(root_register(config_.datastore), root_version_,
                                                    value, Epoch(lease_epoch_));
    if (!swapped.ok()) {
      if (swapped.code() == Code::kStale && !fenced_) fenced_ = swapped.error();
      co_return swapped.error();  // a lost connection: the next checkpoint tries again
    }
    if (swapped->swapped) {
      root_version_ = swapped->current.version;
      superblock_ = std::move(next);
      co_return ok_result();
    }
    if (swapped->current.epoch == lease_epoch_ && attempt == 0) {
      // Only this owner swaps with this epoch (a new owner raises it before anything else): an
      // earlier checkpoint of ours landed and its reply was lost. Its nodes were durable before
      // it was sent, so it is a valid checkpoint; swap again from its version.
      root_version_ = swapped->current.version;
      continue;
    }
    break;
  }
  // Someone else changed the root: a newer owner. Never write again.
  fenced_ = make_error(Code::kStale,
                       "datastore " + config_.datastore + ": the root changed under this owner");
  co_return *fenced_;
}

Task<Result<void>> FileSystemImpl::checkpoint() {
  CO_RETURN_IF_ERROR(usable());
  co_await checkpoint_mutex_.lock();
  const TimePoint started = env_.clock.now();
  // One synchronous step: the frozen changes are exactly the operations queued up to the mark.
  FrozenChanges frozen = state_->begin_checkpoint();
  const blockstore::LogTicket mark = store_->log_mark();
  std::map<InodeId, blockstore::FileMapChanges> maps = store_->map_changes(mark);
  const uint64_t gen = frozen.gen;
  const uint64_t nodes_before = node_io_->nodes_stored();
  auto written = co_await write_checkpoint(std::move(frozen), std::move(maps));
  if (written.ok()) {
    store_->fs_ops_covered(mark);
    state_->end_checkpoint(gen);
    ++stats_.checkpoints;
    stats_.last_checkpoint_nodes = node_io_->nodes_stored() - nodes_before;
    stats_.last_checkpoint_time = env_.clock.now() - started;
    // Directory trees beyond the limit go (clean ones only; readers hold their own reference).
    for (auto* trees : {&dir_trees_, &map_trees_}) {
      for (auto it = trees->begin(); it != trees->end() && trees->size() > config_.dir_trees_max;) {
        it = it->second->dirty() ? std::next(it) : trees->erase(it);
      }
    }
    state_->evict(config_.inode_cache_max);
  }
  checkpoint_mutex_.unlock();
  checkpoint_done_.notify_all();
  co_return written;
}

size_t FileSystemImpl::dirty_bytes() const {
  return state_->dirty_bytes() + store_->map_entries() * kMapEntryBytes;
}

void FileSystemImpl::after_operation() {
  if (dirty_bytes() > config_.dirty_bytes_max) wake_checkpointer_.notify_all();
  if (state_->cached_inodes() > config_.inode_cache_max + config_.inode_cache_max / 8) {
    state_->evict(config_.inode_cache_max);
  }
}

Task<void> FileSystemImpl::run_checkpointer() {
  while (!closing_ && !fenced_) {
    // Log pressure raised while this loop was not waiting (a failed checkpoint's retry delay)
    // woke nobody (run_pressure_watch waits for checkpoint_done_ meanwhile): look first.
    if (!store_->log_pressure()) {
      checkpoint_timer_ = env_.clock.call_at(env_.clock.now() + config_.checkpoint_interval,
                                             [this] { wake_checkpointer_.notify_all(); });
      co_await wake_checkpointer_.wait();
      env_.clock.cancel(checkpoint_timer_);
      checkpoint_timer_ = 0;
    }
    if (closing_ || fenced_) break;
    if (dirty_bytes() == 0 && !store_->log_pressure()) continue;
    auto done = co_await checkpoint();
    if (!done.ok() && !closing_ && !fenced_) {
      env_.log.warn("fs.checkpoint_failed",
                    {{"datastore", config_.datastore}, {"error", done.error().to_string()}});
      co_await sleep_for(env_.clock, kCheckpointRetryDelay);
    }
  }
}

Task<void> FileSystemImpl::run_pressure_watch() {
  while (!closing_ && !fenced_) {
    co_await store_->wait_log_pressure();
    if (closing_ || fenced_) break;
    wake_checkpointer_.notify_all();
    co_await checkpoint_done_.wait();
  }
}

}  // namespace splitarray::hostdriver::fs
