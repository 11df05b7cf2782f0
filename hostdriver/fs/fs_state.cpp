// hostdriver/fs/fs_state.cpp
// Applying operations to memory (fs_state.h). check() decides whether an operation is allowed
// without changing anything; the apply_* functions then change state and only ASSERT.
#include "hostdriver/fs/fs_state.h"

#include <algorithm>
#include <string>

#include "common/assert.h"

namespace splitarray::hostdriver::fs {
namespace {

// Rough memory of a change, for checkpoint triggers.
constexpr size_t kDirtyInodeBytes = 256;
constexpr size_t kOverlayEntryBytes = 96;

Error mismatch(const FsOp& op, const std::string& what) {
  return make_error(Code::kCorruption, "operation " + std::to_string(op.id) + " (kind " +
                                           std::to_string(static_cast<int>(op.kind)) +
                                           "): " + what);
}

bool is_dir(const CachedInode* inode) {
  return inode != nullptr && !inode->deleted && inode->record.attrs.type == FileType::kDirectory;
}

bool live(const CachedInode* inode) { return inode != nullptr && !inode->deleted; }

WallTime later(WallTime a, WallTime b) { return std::max(a, b); }

}  // namespace

FsState::FsState(uint64_t next_inode, uint64_t last_op_id, uint64_t inode_count)
    : next_inode_(next_inode), last_op_id_(last_op_id), inode_count_(inode_count) {
  ASSERT(next_inode_ > kRootInode);
}

CachedInode* FsState::find(uint64_t inode) {
  auto it = inodes_.find(inode);
  if (it == inodes_.end()) return nullptr;
  it->second->last_use = ++use_clock_;
  return it->second.get();
}

CachedInode& FsState::insert_loaded(uint64_t inode, InodeRecord record) {
  auto& slot = inodes_[inode];
  if (slot == nullptr) {
    ASSERT(record.attrs.inode == inode);
    slot = std::make_unique<CachedInode>();
    slot->record = std::move(record);
  }
  slot->last_use = ++use_clock_;
  return *slot;
}

void FsState::insert_absent(uint64_t inode) {
  auto& slot = inodes_[inode];
  if (slot != nullptr) return;
  slot = std::make_unique<CachedInode>();
  slot->deleted = true;
  slot->last_use = ++use_clock_;
}

void FsState::unpin(CachedInode& inode) {
  ASSERT(inode.pins > 0);
  --inode.pins;
}

void FsState::evict(size_t keep) {
  if (inodes_.size() <= keep) return;
  std::vector<std::pair<uint64_t, uint64_t>> candidates;  // (last_use, inode)
  for (const auto& [number, cached] : inodes_) {
    if (cached->dirty_gen == 0 && cached->pins == 0) {
      candidates.emplace_back(cached->last_use, number);
    }
  }
  std::sort(candidates.begin(), candidates.end());
  const size_t excess = inodes_.size() - keep;
  for (size_t i = 0; i < candidates.size() && i < excess; ++i) inodes_.erase(candidates[i].second);
}

const DirOverlay* FsState::overlay(uint64_t dir) const {
  auto it = overlays_.find(dir);
  return it == overlays_.end() ? nullptr : &it->second;
}

void FsState::add_orphans(const std::vector<uint64_t>& orphans) {
  orphans_.insert(orphans.begin(), orphans.end());
}

std::vector<uint64_t> FsState::needed_inodes(const FsOp& op) {
  std::vector<uint64_t> needed;
  switch (op.kind) {
    case OpKind::kCreate:
      needed = {op.parent};
      break;
    case OpKind::kLink:
    case OpKind::kUnlink:
    case OpKind::kRmdir:
      needed = {op.parent, op.inode};
      break;
    case OpKind::kRename:
      needed = {op.parent, op.to_parent, op.inode};
      if (op.replaced_inode != 0) needed.push_back(op.replaced_inode);
      break;
    case OpKind::kSetattr:
    case OpKind::kWrite:
    case OpKind::kReap:
      needed = {op.inode};
      break;
  }
  std::sort(needed.begin(), needed.end());
  needed.erase(std::unique(needed.begin(), needed.end()), needed.end());
  return needed;
}

CachedInode& FsState::touch(uint64_t inode) {
  CachedInode* cached = find(inode);
  ASSERT(cached != nullptr);
  ASSERT(!cached->deleted);
  return *cached;
}

void FsState::mark_dirty(uint64_t inode, CachedInode& cached) {
  (void)inode;
  if (cached.dirty_gen == 0) dirty_bytes_ += kDirtyInodeBytes;
  cached.dirty_gen = gen_;
}

void FsState::set_entry(uint64_t dir, uint64_t key, std::optional<DirEntry> entry) {
  DirOverlay& overlay = overlays_[dir];
  auto [it, inserted] = overlay.try_emplace(key);
  if (inserted) dirty_bytes_ += kOverlayEntryBytes;
  it->second.entry = std::move(entry);
  it->second.gen = gen_;
}

Result<void> FsState::check_namespace(const FsOp& op) const {
  auto get = [&](uint64_t number) -> const CachedInode* {
    auto it = inodes_.find(number);
    return it == inodes_.end() ? nullptr : it->second.get();
  };
  const CachedInode* parent = get(op.parent);
  if (!is_dir(parent)) return mismatch(op, "parent is not a directory");
  const CachedInode* inode = get(op.inode);
  switch (op.kind) {
    case OpKind::kCreate:
      if (op.inode < next_inode_) return mismatch(op, "inode number already used");
      if (op.attrs.type == FileType::kSymlink && op.symlink_target.empty()) {
        return mismatch(op, "symlink without a target");
      }
      return ok_result();
    case OpKind::kLink:
      if (!live(inode) || is_dir(inode)) return mismatch(op, "link of a missing or directory");
      if (inode->record.attrs.nlink == 0) return mismatch(op, "link of an orphan");
      return ok_result();
    case OpKind::kUnlink:
      if (!live(inode) || is_dir(inode)) return mismatch(op, "unlink of a missing or directory");
      if (inode->record.attrs.nlink == 0) return mismatch(op, "unlink of an orphan");
      return ok_result();
    case OpKind::kRmdir:
      if (!is_dir(inode)) return mismatch(op, "rmdir of a non-directory");
      if (inode->record.entries != 0) return mismatch(op, "rmdir of a non-empty directory");
      return ok_result();
    case OpKind::kRename: {
      if (!is_dir(get(op.to_parent))) return mismatch(op, "target parent is not a directory");
      if (!live(inode)) return mismatch(op, "rename of a missing inode");
      if (op.replaced_inode == 0) return ok_result();
      const CachedInode* replaced = get(op.replaced_inode);
      if (!live(replaced)) return mismatch(op, "replaced inode missing");
      if (is_dir(replaced) != is_dir(inode)) return mismatch(op, "replacing across types");
      if (is_dir(replaced) && replaced->record.entries != 0) {
        return mismatch(op, "replacing a non-empty directory");
      }
      return ok_result();
    }
    default:
      UNREACHABLE("not a namespace operation");
  }
}

Result<void> FsState::can_apply(const FsOp& op) const {
  if (op.id <= last_op_id_) return ok_result();
  for (uint64_t number : needed_inodes(op)) {
    if (inodes_.find(number) == inodes_.end()) {
      return make_error(Code::kInvalidArgument,
                        "inode " + std::to_string(number) + " not loaded (a bug)");
    }
  }
  switch (op.kind) {
    case OpKind::kSetattr:
    case OpKind::kWrite:
    case OpKind::kReap:
      return ok_result();  // a missing inode makes them no-ops (removed while in flight)
    default:
      return check_namespace(op);
  }
}

Result<void> FsState::apply(const FsOp& op) {
  if (op.id <= last_op_id_) return ok_result();
  RETURN_IF_ERROR(can_apply(op));
  switch (op.kind) {
    case OpKind::kCreate:
      apply_create(op);
      break;
    case OpKind::kLink: {
      CachedInode& inode = touch(op.inode);
      ++inode.record.attrs.nlink;
      inode.record.attrs.ctime = later(inode.record.attrs.ctime, op.time);
      mark_dirty(op.inode, inode);
      set_entry(op.parent, op.key, DirEntry{op.inode, inode.record.attrs.type, op.name});
      touch_dir(op.parent, op.time, +1, 0);
      break;
    }
    case OpKind::kUnlink:
      apply_unlink(op, false);
      break;
    case OpKind::kRmdir:
      apply_unlink(op, true);
      break;
    case OpKind::kRename:
      apply_rename(op);
      break;
    case OpKind::kSetattr:
      apply_setattr(op);
      break;
    case OpKind::kWrite: {
      CachedInode* inode = find(op.inode);
      if (!live(inode)) break;
      inode->record.attrs.size = std::max(inode->record.attrs.size, op.end);
      inode->record.attrs.mtime = later(inode->record.attrs.mtime, op.time);
      inode->record.attrs.ctime = later(inode->record.attrs.ctime, op.time);
      mark_dirty(op.inode, *inode);
      break;
    }
    case OpKind::kReap: {
      CachedInode* inode = find(op.inode);
      if (!live(inode)) break;
      ASSERT(inode->record.attrs.nlink == 0);
      inode->deleted = true;
      mark_dirty(op.inode, *inode);
      orphans_.erase(op.inode);
      --inode_count_;
      break;
    }
  }
  last_op_id_ = op.id;
  return ok_result();
}

void FsState::apply_create(const FsOp& op) {
  auto& slot = inodes_[op.inode];
  ASSERT(slot == nullptr || slot->deleted);
  slot = std::make_unique<CachedInode>();
  InodeRecord& record = slot->record;
  record.attrs = op.attrs;
  record.attrs.inode = op.inode;
  record.attrs.generation = op.id;
  const bool directory = op.attrs.type == FileType::kDirectory;
  record.attrs.nlink = directory ? 2 : 1;
  record.attrs.size = op.attrs.type == FileType::kSymlink ? op.symlink_target.size() : 0;
  record.attrs.atime = record.attrs.mtime = record.attrs.ctime = op.time;
  record.parent = directory ? op.parent : 0;
  record.create_verifier = op.create_verifier;
  record.symlink_target = op.symlink_target;
  slot->last_use = ++use_clock_;
  mark_dirty(op.inode, *slot);
  next_inode_ = op.inode + 1;
  ++inode_count_;
  set_entry(op.parent, op.key, DirEntry{op.inode, op.attrs.type, op.name});
  touch_dir(op.parent, op.time, +1, directory ? 1 : 0);
}

void FsState::drop_link(uint64_t number, WallTime time) {
  CachedInode& inode = touch(number);
  ASSERT(inode.record.attrs.nlink > 0);
  --inode.record.attrs.nlink;
  inode.record.attrs.ctime = later(inode.record.attrs.ctime, time);
  mark_dirty(number, inode);
  if (inode.record.attrs.nlink > 0) return;
  if (inode.record.attrs.type == FileType::kRegular) {
    orphans_.insert(number);  // its data goes first (kReap)
  } else {
    inode.deleted = true;
    --inode_count_;
  }
}

void FsState::touch_dir(uint64_t dir, WallTime time, int64_t entries_delta, int32_t nlink_delta) {
  CachedInode& parent = touch(dir);
  ASSERT(parent.record.attrs.type == FileType::kDirectory);
  ASSERT(entries_delta >= 0 || parent.record.entries >= uint64_t(-entries_delta));
  parent.record.entries = uint64_t(int64_t(parent.record.entries) + entries_delta);
  parent.record.attrs.nlink = uint32_t(int64_t(parent.record.attrs.nlink) + nlink_delta);
  parent.record.attrs.size = parent.record.entries * kDirEntrySizeUnit;
  parent.record.attrs.mtime = later(parent.record.attrs.mtime, time);
  parent.record.attrs.ctime = later(parent.record.attrs.ctime, time);
  mark_dirty(dir, parent);
}

void FsState::apply_unlink(const FsOp& op, bool directory) {
  set_entry(op.parent, op.key, std::nullopt);
  touch_dir(op.parent, op.time, -1, directory ? -1 : 0);
  if (!directory) {
    drop_link(op.inode, op.time);
    return;
  }
  CachedInode& inode = touch(op.inode);
  inode.deleted = true;
  mark_dirty(op.inode, inode);
  --inode_count_;
}

void FsState::apply_rename(const FsOp& op) {
  CachedInode& moved = touch(op.inode);
  const bool directory = moved.record.attrs.type == FileType::kDirectory;
  const FileType type = moved.record.attrs.type;
  if (op.replaced_inode != 0) {
    CachedInode& replaced = touch(op.replaced_inode);
    if (replaced.record.attrs.type == FileType::kDirectory) {
      replaced.deleted = true;
      mark_dirty(op.replaced_inode, replaced);
      --inode_count_;
      touch_dir(op.to_parent, op.time, -1, -1);
    } else {
      drop_link(op.replaced_inode, op.time);
      touch_dir(op.to_parent, op.time, -1, 0);
    }
  }
  set_entry(op.parent, op.key, std::nullopt);
  touch_dir(op.parent, op.time, -1, directory ? -1 : 0);
  set_entry(op.to_parent, op.to_key, DirEntry{op.inode, type, op.to_name});
  touch_dir(op.to_parent, op.time, +1, directory ? 1 : 0);
  CachedInode& after = touch(op.inode);
  if (directory) after.record.parent = op.to_parent;
  after.record.attrs.ctime = later(after.record.attrs.ctime, op.time);
  mark_dirty(op.inode, after);
}

void FsState::apply_setattr(const FsOp& op) {
  CachedInode* cached = find(op.inode);
  if (!live(cached)) return;
  Attributes& attrs = cached->record.attrs;
  if (op.set_mask & kSetMode) attrs.mode = op.attrs.mode;
  if (op.set_mask & kSetUid) attrs.uid = op.attrs.uid;
  if (op.set_mask & kSetGid) attrs.gid = op.attrs.gid;
  if (op.set_mask & kSetSize) {
    if (attrs.size != op.attrs.size && !(op.set_mask & kSetMtime)) attrs.mtime = op.time;
    attrs.size = op.attrs.size;
  }
  if (op.set_mask & kSetAtime) attrs.atime = op.attrs.atime;
  if (op.set_mask & kSetMtime) attrs.mtime = op.attrs.mtime;
  attrs.ctime = later(attrs.ctime, op.time);
  cached->record.create_verifier = 0;  // an exclusive create is complete once attributes are set
  mark_dirty(op.inode, *cached);
}

FrozenChanges FsState::begin_checkpoint() {
  FrozenChanges frozen;
  frozen.gen = gen_++;
  for (const auto& [number, cached] : inodes_) {
    if (cached->dirty_gen == 0) continue;
    if (cached->deleted) {
      frozen.inodes.emplace(number, std::nullopt);
    } else {
      frozen.inodes.emplace(number, cached->record);
    }
  }
  for (const auto& [dir, overlay] : overlays_) frozen.dirs.emplace(dir, overlay);
  frozen.next_inode = next_inode_;
  frozen.last_op_id = last_op_id_;
  frozen.inode_count = inode_count_;
  frozen.orphans.assign(orphans_.begin(), orphans_.end());
  return frozen;
}

void FsState::end_checkpoint(uint64_t gen) {
  ASSERT(gen < gen_);
  for (auto it = inodes_.begin(); it != inodes_.end();) {
    CachedInode& cached = *it->second;
    if (cached.dirty_gen != 0 && cached.dirty_gen <= gen) {
      cached.dirty_gen = 0;
      dirty_bytes_ -= std::min(dirty_bytes_, kDirtyInodeBytes);
      if (cached.deleted && cached.pins == 0) {
        it = inodes_.erase(it);
        continue;
      }
    }
    ++it;
  }
  for (auto dir = overlays_.begin(); dir != overlays_.end();) {
    DirOverlay& overlay = dir->second;
    for (auto entry = overlay.begin(); entry != overlay.end();) {
      if (entry->second.gen <= gen) {
        entry = overlay.erase(entry);
        dirty_bytes_ -= std::min(dirty_bytes_, kOverlayEntryBytes);
      } else {
        ++entry;
      }
    }
    dir = overlay.empty() ? overlays_.erase(dir) : std::next(dir);
  }
  ++drops_;
}

}  // namespace splitarray::hostdriver::fs
