// hostdriver/fs/lookups.cpp
// Reading the file system: an inode or a directory's entries is what memory (FsState: changes
// since the checkpoint) says, else what the checkpointed trees say. A reader reads the tree first
// and memory after; if memory dropped changes into the trees in between (FsState::drops moved),
// it reads again, so it never misses a change that moved while it waited.
#include <algorithm>
#include <string>

#include "hostdriver/fs/file_system_impl.h"

namespace splitarray::hostdriver::fs {
namespace {

// Entries one scan step of a name lookup asks for (usually the range holds 0 or 1).
constexpr size_t kNameScanPage = 2;

}  // namespace

Result<void> FileSystemImpl::usable() {
  // A newer owner fenced this one. The block store may be the first to know: the shelf refused an
  // append of records queued by operations already applied here (one that returned kStale, or an
  // UNSTABLE write that returned ok). Memory then holds changes the shelf never stored and misses
  // the new owner's, so from then on nothing is served from it, reads included: a client gets
  // kStale (NFS JUKEBOX), never a change the shelf refused.
  if (!fenced_ && store_ != nullptr) fenced_ = store_->fenced();
  if (fenced_) {
    if (!fence_logged_) {
      fence_logged_ = true;
      env_.log.error("fs.fenced", {{"datastore", config_.datastore},
                                   {"epoch", std::to_string(lease_epoch_)},
                                   {"error", fenced_->to_string()}});
    }
    return *fenced_;
  }
  if (closing_ || closed_) return make_error(Code::kUnavailable, "file system closed");
  return ok_result();
}

Task<Result<CachedInode*>> FileSystemImpl::load_inode(uint64_t inode) {
  for (size_t round = 0; round < kResolveRoundsMax; ++round) {
    if (CachedInode* cached = state_->find(inode)) {
      if (cached->deleted) {
        co_return make_error(Code::kNotFound, "inode " + std::to_string(inode));
      }
      co_return cached;
    }
    const uint64_t drops = state_->drops();
    auto got = co_await inode_table_->get(inode);
    if (!got.ok()) co_return got.error();
    if (state_->drops() != drops || state_->find(inode) != nullptr) continue;  // read again
    if (checkpoint_records_ != nullptr) {
      auto pending = checkpoint_records_->find(inode);
      if (pending != checkpoint_records_->end()) {  // newer than the table: see the member
        if (pending->second) {
          state_->insert_loaded(inode, *pending->second);
        } else {
          state_->insert_absent(inode);
        }
        continue;
      }
    }
    if (!got->has_value()) {
      state_->insert_absent(inode);
      continue;
    }
    auto record = decode_inode(**got);
    if (!record.ok()) co_return record.error();
    if (record->attrs.inode != inode) {
      co_return make_error(Code::kCorruption, "inode table entry " + std::to_string(inode) +
                                                  " holds inode " +
                                                  std::to_string(record->attrs.inode));
    }
    state_->insert_loaded(inode, std::move(record).value());
  }
  co_return make_error(Code::kBusy, "inode " + std::to_string(inode) + " kept moving");
}

Task<Result<void>> FileSystemImpl::load_inodes(const std::vector<uint64_t>& inodes) {
  // Loading one may evict another: repeat until all are present at once.
  for (size_t round = 0; round < kResolveRoundsMax; ++round) {
    bool all = true;
    for (uint64_t inode : inodes) {
      if (state_->find(inode) != nullptr) continue;
      all = false;
      auto loaded = co_await load_inode(inode);
      if (!loaded.ok() && loaded.code() != Code::kNotFound) co_return loaded.error();
    }
    if (all) co_return ok_result();
  }
  co_return make_error(Code::kBusy, "inodes of one operation do not fit the inode cache");
}

std::shared_ptr<meta::BTree> FileSystemImpl::dir_tree(uint64_t dir, const InodeRecord& record) {
  auto& slot = dir_trees_[dir];
  if (slot == nullptr) {
    slot =
        std::make_shared<meta::BTree>(cache_, *node_io_, superblock_.block_size, record.dir_root);
  }
  return slot;
}

std::shared_ptr<meta::BTree> FileSystemImpl::map_tree(uint64_t inode,
                                                      const std::optional<BlockRef>& root) {
  auto& slot = map_trees_[inode];
  if (slot == nullptr) {
    slot = std::make_shared<meta::BTree>(cache_, *node_io_, superblock_.block_size, root);
  }
  return slot;
}

Task<Result<std::vector<std::pair<uint64_t, BlockRef>>>> FsMapBase::lookup(InodeId inode,
                                                                           uint64_t first_block,
                                                                           uint64_t last_block) {
  co_return co_await fs_.base_blocks(inode.value(), first_block, last_block);
}

Task<Result<std::vector<std::pair<uint64_t, BlockRef>>>> FileSystemImpl::base_blocks(
    uint64_t inode, uint64_t first, uint64_t last) {
  ASSERT(first <= last);
  std::vector<std::pair<uint64_t, BlockRef>> found;
  auto cached = co_await load_inode(inode);
  if (!cached.ok()) {
    if (cached.code() == Code::kNotFound) co_return found;  // removed: nothing is mapped
    co_return cached.error();
  }
  if ((*cached)->record.attrs.type != FileType::kRegular) co_return found;
  // The checkpointer changes this tree only by merging what the block store still holds in
  // memory (and answers from memory first), so reading it while it merges is safe.
  std::shared_ptr<meta::BTree> tree = map_tree(inode, (*cached)->record.map_root);
  std::optional<uint64_t> from = first;
  while (from && *from <= last) {
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(last - *from, meta::kScanEntriesMax - 1)) + 1;
    auto page = co_await tree->scan(*from, want);
    if (!page.ok()) co_return page.error();
    for (const meta::LeafEntry& entry : page->entries) {
      if (entry.key > last) co_return found;
      auto ref = decode_map_value(entry.value);
      if (!ref.ok()) co_return ref.error();
      found.emplace_back(entry.key, *ref);
    }
    from = page->next;
  }
  co_return found;
}

Task<Result<std::vector<FoundEntry>>> FileSystemImpl::entries_in(uint64_t dir, uint64_t first,
                                                                 uint64_t last) {
  ASSERT(first <= last);
  ASSERT(last - first < meta::kScanEntriesMax);
  for (size_t round = 0; round < kResolveRoundsMax; ++round) {
    auto loaded = co_await load_inode(dir);
    if (!loaded.ok()) co_return loaded.error();
    if ((*loaded)->record.attrs.type != FileType::kDirectory) {
      co_return make_error(Code::kNotDirectory, "inode " + std::to_string(dir));
    }
    std::shared_ptr<meta::BTree> tree = dir_tree(dir, (*loaded)->record);
    const uint64_t drops = state_->drops();
    // A name's keys are a narrow range that usually holds 0 or 1 entries: scan in small pages and
    // stop at the first key past it (a scan has no upper bound; asking for the whole range would
    // copy that many entries from beyond it).
    std::vector<meta::LeafEntry> in_range;
    std::optional<uint64_t> from = first;
    Result<void> scanned = ok_result();
    while (from && *from <= last) {
      auto page = co_await tree->scan(*from, kNameScanPage);
      if (!page.ok()) {
        scanned = page.error();
        break;
      }
      bool past = false;
      for (meta::LeafEntry& leaf : page->entries) {
        if (leaf.key > last) {
          past = true;
          break;
        }
        in_range.push_back(std::move(leaf));
      }
      from = past ? std::nullopt : page->next;
    }
    if (!scanned.ok()) co_return scanned.error();
    if (state_->drops() != drops) continue;
    std::map<uint64_t, DirEntry> merged;
    for (const meta::LeafEntry& leaf : in_range) {
      auto entry = decode_dir_entry(leaf.value);
      if (!entry.ok()) co_return entry.error();
      merged.emplace(leaf.key, std::move(entry).value());
    }
    if (const DirOverlay* overlay = state_->overlay(dir)) {
      for (auto it = overlay->lower_bound(first); it != overlay->end() && it->first <= last; ++it) {
        if (it->second.entry) {
          merged[it->first] = *it->second.entry;
        } else {
          merged.erase(it->first);
        }
      }
    }
    std::vector<FoundEntry> out;
    out.reserve(merged.size());
    for (auto& [key, entry] : merged) out.push_back(FoundEntry{key, std::move(entry)});
    co_return out;
  }
  co_return make_error(Code::kBusy, "directory " + std::to_string(dir) + " kept moving");
}

Task<Result<std::optional<FoundEntry>>> FileSystemImpl::find_entry(uint64_t dir,
                                                                   const std::string& name) {
  const uint64_t hash = name_hash(name);
  auto entries = co_await entries_in(dir, dir_key_first(hash), dir_key_last(hash));
  if (!entries.ok()) co_return entries.error();
  for (FoundEntry& found : *entries) {
    if (found.entry.name == name) co_return std::optional<FoundEntry>(std::move(found));
  }
  co_return std::optional<FoundEntry>();
}

Task<Result<uint64_t>> FileSystemImpl::free_key(uint64_t dir, const std::string& name) {
  const uint64_t hash = name_hash(name);
  auto entries = co_await entries_in(dir, dir_key_first(hash), dir_key_last(hash));
  if (!entries.ok()) co_return entries.error();
  uint64_t key = dir_key_first(hash);
  for (const FoundEntry& found : *entries) {  // sorted by key: the first gap
    if (found.key != key) break;
    ++key;
  }
  if (key > dir_key_last(hash)) {
    co_return make_error(Code::kNoSpace, "directory " + std::to_string(dir) + ": " +
                                             std::to_string(kDirCollisionsMax) +
                                             " names share the hash of '" + name + "'");
  }
  co_return key;
}

Task<Result<Attributes>> FileSystemImpl::dir_attrs(uint64_t dir) {
  auto loaded = co_await load_inode(dir);
  if (!loaded.ok()) co_return loaded.error();
  if ((*loaded)->record.attrs.type != FileType::kDirectory) {
    co_return make_error(Code::kNotDirectory, "inode " + std::to_string(dir));
  }
  co_return (*loaded)->record.attrs;
}

FsOp FileSystemImpl::new_op(OpKind kind) {
  FsOp op;
  op.kind = kind;
  op.time = env_.clock.wall_now();
  return op;
}

blockstore::FsOpBuilder FileSystemImpl::riding_op(FsOp op) {
  // Runs in the block store's step that queues the record: numbered and applied there, so ids,
  // log order and memory order agree (as log_and_apply does for operations of their own).
  auto build = [this, op]() mutable {
    op.id = state_->next_op_id();
    const Result<void> applied = state_->apply(op);
    ASSERT_MSG(applied.ok(), "an operation riding with data applies to any state");
    ++stats_.operations;
    return encode_op(op);
  };
  return blockstore::FsOpBuilder{kFsOpBytesMax, std::move(build)};
}

Result<blockstore::LogTicket> FileSystemImpl::log_and_apply(FsOp& op) {
  RETURN_IF_ERROR(usable());
  // Numbered, checked, queued and applied in one step: ids, log order and memory order agree.
  // Checked before queueing: an operation the state refuses must never reach the log (replay
  // would refuse it too).
  op.id = state_->next_op_id();
  RETURN_IF_ERROR(state_->can_apply(op));
  auto ticket = store_->enqueue_op(encode_op(op));
  if (!ticket.ok()) {
    if (ticket.code() == Code::kStale && !fenced_) fenced_ = ticket.error();
    return ticket.error();
  }
  const Result<void> applied = state_->apply(op);
  ASSERT_MSG(applied.ok(), applied.ok() ? "" : applied.error().to_string().c_str());
  ++stats_.operations;
  return ticket;
}

}  // namespace splitarray::hostdriver::fs
