// hostdriver/fs/namespace_ops.cpp
// Operations on names, one at a time under namespace_mutex_. Each one:
//   1. waits for log room (so nothing waits between deciding and applying),
//   2. resolves what it needs (async: directory entries, inodes),
//   3. in one synchronous step re-checks that those inodes are still in memory (else resolves
//      again), decides the FsOp, queues it and applies it (log_and_apply),
//   4. releases the mutex and waits until its record is durable before answering.
// Between 2 and 3 nothing else changes names (the mutex), and what the checkpointer moves from
// memory into trees does not change what lookups answer.
#include <string>

#include "hostdriver/fs/file_system_impl.h"

namespace splitarray::hostdriver::fs {
namespace {

// Parent pointers followed by rename's cycle check.
constexpr size_t kPathDepthMax = 4096;

class MutexGuard {
 public:
  explicit MutexGuard(AsyncMutex& mutex) : mutex_(&mutex) {}
  ~MutexGuard() { release(); }
  MutexGuard(const MutexGuard&) = delete;
  MutexGuard& operator=(const MutexGuard&) = delete;
  void release() {
    if (mutex_ != nullptr) mutex_->unlock();
    mutex_ = nullptr;
  }

 private:
  AsyncMutex* mutex_;
};

uint32_t default_mode(FileType type) {
  switch (type) {
    case FileType::kDirectory:
      return 0755;
    case FileType::kSymlink:
      return 0777;
    default:
      return 0644;
  }
}

bool all_cached(FsState& state, const std::vector<uint64_t>& inodes) {
  for (uint64_t inode : inodes) {
    if (state.find(inode) == nullptr) return false;
  }
  return true;
}

}  // namespace

Task<void> AsyncMutex::lock() {
  while (held_) co_await released_.wait();
  held_ = true;
}

void AsyncMutex::unlock() {
  ASSERT(held_);
  held_ = false;
  released_.notify_all();
}

Task<Result<Attributes>> FileSystemImpl::lookup(uint64_t dir, std::string name) {
  CO_RETURN_IF_ERROR(usable());
  auto parent = co_await dir_attrs(dir);
  if (!parent.ok()) co_return parent.error();
  if (name == ".") co_return *parent;
  if (name == "..") {
    auto cached = co_await load_inode(dir);
    if (!cached.ok()) co_return cached.error();
    const uint64_t up = (*cached)->record.parent == 0 ? dir : (*cached)->record.parent;
    co_return co_await getattr(up);
  }
  CO_RETURN_IF_ERROR(check_name(name));
  auto found = co_await find_entry(dir, name);
  if (!found.ok()) co_return found.error();
  if (!found->has_value()) co_return make_error(Code::kNotFound, name);
  co_return co_await getattr((*found)->entry.inode);
}

Task<Result<CreateResult>> FileSystemImpl::create_node(uint64_t dir, std::string name,
                                                       FileType type, CreateMode mode,
                                                       SetAttributes set, uint64_t verifier,
                                                       std::string target, uint32_t rdev_major,
                                                       uint32_t rdev_minor) {
  CO_RETURN_IF_ERROR(usable());
  CO_RETURN_IF_ERROR(check_name(name));
  if (type == FileType::kSymlink) {
    if (target.empty()) co_return make_error(Code::kInvalidArgument, "empty symlink target");
    if (target.size() > kSymlinkBytesMax) co_return make_error(Code::kNameTooLong, "target");
  }
  co_await namespace_mutex_.lock();
  MutexGuard guard(namespace_mutex_);
  CO_RETURN_IF_ERROR(co_await store_->wait_op_room(kFsOpBytesMax));
  std::optional<blockstore::LogTicket> ticket;
  CreateResult result;
  for (size_t round = 0; round < kResolveRoundsMax && !ticket; ++round) {
    auto parent = co_await dir_attrs(dir);
    if (!parent.ok()) co_return parent.error();
    auto found = co_await find_entry(dir, name);
    if (!found.ok()) co_return found.error();
    if (found->has_value()) {
      auto existing = co_await load_inode((*found)->entry.inode);
      if (!existing.ok()) co_return existing.error();
      const InodeRecord& record = (*existing)->record;
      const bool regular = record.attrs.type == FileType::kRegular && type == FileType::kRegular;
      const bool retried =
          mode == CreateMode::kExclusive && verifier != 0 && record.create_verifier == verifier;
      if (!regular || !(mode == CreateMode::kUnchecked || retried)) {
        co_return make_error(Code::kExists, name);
      }
      result.attrs = record.attrs;
      result.dir = DirChange{*parent, *parent};
      guard.release();
      if (mode == CreateMode::kUnchecked && set.size) {
        SetAttributes truncate;
        truncate.size = set.size;
        auto set_size = co_await setattr(result.attrs.inode, truncate, std::nullopt);
        if (!set_size.ok()) co_return set_size.error();
        result.attrs = set_size->after;
      }
      co_return result;
    }
    auto key = co_await free_key(dir, name);
    if (!key.ok()) co_return key.error();
    // The synchronous step.
    if (!all_cached(*state_, {dir})) continue;
    FsOp op = new_op(OpKind::kCreate);
    op.parent = dir;
    op.name = name;
    op.key = *key;
    op.inode = state_->allocate_inode();
    op.attrs.type = type;
    op.attrs.mode = set.mode.value_or(default_mode(type)) & 07777;
    op.attrs.uid = set.uid.value_or(0);
    op.attrs.gid = set.gid.value_or(0);
    op.attrs.rdev_major = rdev_major;
    op.attrs.rdev_minor = rdev_minor;
    op.create_verifier = mode == CreateMode::kExclusive ? verifier : 0;
    op.symlink_target = target;
    result.dir.before = state_->find(dir)->record.attrs;
    auto queued = log_and_apply(op);
    if (!queued.ok()) co_return queued.error();
    ticket = *queued;
    result.dir.after = state_->find(dir)->record.attrs;
    result.attrs = state_->find(op.inode)->record.attrs;
  }
  if (!ticket) co_return make_error(Code::kBusy, "create: what it needs kept being evicted");
  guard.release();
  after_operation();
  CO_RETURN_IF_ERROR(co_await store_->wait_durable(*ticket));
  if (mode != CreateMode::kExclusive && (set.atime || set.mtime)) {
    SetAttributes times;
    times.atime = set.atime;
    times.mtime = set.mtime;
    auto timed = co_await setattr(result.attrs.inode, times, std::nullopt);
    if (!timed.ok()) co_return timed.error();
    result.attrs = timed->after;
  }
  co_return result;
}

Task<Result<LinkResult>> FileSystemImpl::link(uint64_t inode, uint64_t dir, std::string name) {
  CO_RETURN_IF_ERROR(usable());
  CO_RETURN_IF_ERROR(check_name(name));
  co_await namespace_mutex_.lock();
  MutexGuard guard(namespace_mutex_);
  CO_RETURN_IF_ERROR(co_await store_->wait_op_room(kFsOpBytesMax));
  std::optional<blockstore::LogTicket> ticket;
  LinkResult result;
  for (size_t round = 0; round < kResolveRoundsMax && !ticket; ++round) {
    auto parent = co_await dir_attrs(dir);
    if (!parent.ok()) co_return parent.error();
    auto file = co_await load_inode(inode);
    if (!file.ok()) co_return file.error();
    if ((*file)->record.attrs.type == FileType::kDirectory) {
      co_return make_error(Code::kIsDirectory, "hard link to a directory");
    }
    if ((*file)->record.attrs.nlink >= kLinksMax) {
      co_return make_error(Code::kInvalidArgument, "too many links");
    }
    auto found = co_await find_entry(dir, name);
    if (!found.ok()) co_return found.error();
    if (found->has_value()) co_return make_error(Code::kExists, name);
    auto key = co_await free_key(dir, name);
    if (!key.ok()) co_return key.error();
    if (!all_cached(*state_, {dir, inode})) continue;
    FsOp op = new_op(OpKind::kLink);
    op.parent = dir;
    op.name = name;
    op.key = *key;
    op.inode = inode;
    result.dir.before = state_->find(dir)->record.attrs;
    auto queued = log_and_apply(op);
    if (!queued.ok()) co_return queued.error();
    ticket = *queued;
    result.dir.after = state_->find(dir)->record.attrs;
    result.attrs = state_->find(inode)->record.attrs;
  }
  if (!ticket) co_return make_error(Code::kBusy, "link: what it needs kept being evicted");
  guard.release();
  after_operation();
  CO_RETURN_IF_ERROR(co_await store_->wait_durable(*ticket));
  co_return result;
}

// The reap is queued before the wait, not after it: its record then usually travels in the same
// append as the operation's (the log writer keeps one append in flight, so a reap queued after the
// wait took an append of its own, and the next removes waited behind it: two round trips to the
// shelf per remove). Log order still puts the reap after the operation that orphaned the inode,
// and a reap is unstable anyway: one lost in a crash is redone at the next open (orphan list).
Task<Result<void>> FileSystemImpl::reap_and_wait_durable(blockstore::LogTicket ticket,
                                                         uint64_t unlinked) {
  Result<void> reaped = ok_result();
  if (unlinked != 0 && state_->orphans().count(unlinked) != 0) reaped = co_await reap(unlinked);
  CO_RETURN_IF_ERROR(co_await store_->wait_durable(ticket));
  co_return reaped;
}

Task<Result<RemoveResult>> FileSystemImpl::remove(uint64_t dir, std::string name, bool directory) {
  CO_RETURN_IF_ERROR(usable());
  if (name == "." || name == "..") {
    co_return make_error(directory ? Code::kInvalidArgument : Code::kIsDirectory, name);
  }
  CO_RETURN_IF_ERROR(check_name(name));
  co_await namespace_mutex_.lock();
  MutexGuard guard(namespace_mutex_);
  CO_RETURN_IF_ERROR(co_await store_->wait_op_room(kFsOpBytesMax));
  std::optional<blockstore::LogTicket> ticket;
  RemoveResult result;
  uint64_t removed = 0;
  for (size_t round = 0; round < kResolveRoundsMax && !ticket; ++round) {
    auto parent = co_await dir_attrs(dir);
    if (!parent.ok()) co_return parent.error();
    auto found = co_await find_entry(dir, name);
    if (!found.ok()) co_return found.error();
    if (!found->has_value()) co_return make_error(Code::kNotFound, name);
    removed = (*found)->entry.inode;
    auto target = co_await load_inode(removed);
    if (!target.ok()) co_return target.error();
    const InodeRecord& record = (*target)->record;
    const bool is_directory = record.attrs.type == FileType::kDirectory;
    if (directory && !is_directory) co_return make_error(Code::kNotDirectory, name);
    if (!directory && is_directory) co_return make_error(Code::kIsDirectory, name);
    if (directory && record.entries != 0) co_return make_error(Code::kNotEmpty, name);
    if (!all_cached(*state_, {dir, removed})) continue;
    FsOp op = new_op(directory ? OpKind::kRmdir : OpKind::kUnlink);
    op.parent = dir;
    op.name = name;
    op.key = (*found)->key;
    op.inode = removed;
    result.dir.before = state_->find(dir)->record.attrs;
    auto queued = log_and_apply(op);
    if (!queued.ok()) co_return queued.error();
    ticket = *queued;
    result.dir.after = state_->find(dir)->record.attrs;
  }
  if (!ticket) co_return make_error(Code::kBusy, "remove: what it needs kept being evicted");
  guard.release();
  after_operation();
  CO_RETURN_IF_ERROR(co_await reap_and_wait_durable(*ticket, removed));
  co_return result;
}

Task<Result<RenameResult>> FileSystemImpl::rename(uint64_t from_dir, std::string from_name,
                                                  uint64_t to_dir, std::string to_name) {
  CO_RETURN_IF_ERROR(usable());
  CO_RETURN_IF_ERROR(check_name(from_name));
  CO_RETURN_IF_ERROR(check_name(to_name));
  co_await namespace_mutex_.lock();
  MutexGuard guard(namespace_mutex_);
  CO_RETURN_IF_ERROR(co_await store_->wait_op_room(kFsOpBytesMax));
  std::optional<blockstore::LogTicket> ticket;
  RenameResult result;
  uint64_t replaced = 0;
  for (size_t round = 0; round < kResolveRoundsMax && !ticket; ++round) {
    auto from_parent = co_await dir_attrs(from_dir);
    if (!from_parent.ok()) co_return from_parent.error();
    auto to_parent = co_await dir_attrs(to_dir);
    if (!to_parent.ok()) co_return to_parent.error();
    auto from = co_await find_entry(from_dir, from_name);
    if (!from.ok()) co_return from.error();
    if (!from->has_value()) co_return make_error(Code::kNotFound, from_name);
    const uint64_t moved = (*from)->entry.inode;
    const bool moving_dir = (*from)->entry.type == FileType::kDirectory;
    if (moving_dir) {
      // A directory may not move below itself: walk up from the target parent.
      uint64_t at = to_dir;
      for (size_t depth = 0; depth < kPathDepthMax && at != kRootInode; ++depth) {
        if (at == moved) co_return make_error(Code::kInvalidArgument, "rename into itself");
        auto up = co_await load_inode(at);
        if (!up.ok()) co_return up.error();
        at = (*up)->record.parent;
      }
    }
    auto to = co_await find_entry(to_dir, to_name);
    if (!to.ok()) co_return to.error();
    uint64_t to_key = 0;
    replaced = 0;
    if (to->has_value()) {
      if ((*to)->entry.inode == moved) {  // the same file: POSIX says do nothing
        result.from = DirChange{*from_parent, *from_parent};
        result.to = DirChange{*to_parent, *to_parent};
        co_return result;
      }
      replaced = (*to)->entry.inode;
      auto target = co_await load_inode(replaced);
      if (!target.ok()) co_return target.error();
      const bool target_dir = (*target)->record.attrs.type == FileType::kDirectory;
      if (moving_dir && !target_dir) co_return make_error(Code::kNotDirectory, to_name);
      if (!moving_dir && target_dir) co_return make_error(Code::kIsDirectory, to_name);
      if (target_dir && (*target)->record.entries != 0) {
        co_return make_error(Code::kNotEmpty, to_name);
      }
      to_key = (*to)->key;
    } else {
      auto key = co_await free_key(to_dir, to_name);
      if (!key.ok()) co_return key.error();
      to_key = *key;
    }
    auto moved_inode = co_await load_inode(moved);
    if (!moved_inode.ok()) co_return moved_inode.error();
    std::vector<uint64_t> needed{from_dir, to_dir, moved};
    if (replaced != 0) needed.push_back(replaced);
    if (!all_cached(*state_, needed)) continue;
    FsOp op = new_op(OpKind::kRename);
    op.parent = from_dir;
    op.name = from_name;
    op.key = (*from)->key;
    op.to_parent = to_dir;
    op.to_name = to_name;
    op.to_key = to_key;
    op.inode = moved;
    op.replaced_inode = replaced;
    result.from.before = state_->find(from_dir)->record.attrs;
    result.to.before = state_->find(to_dir)->record.attrs;
    auto queued = log_and_apply(op);
    if (!queued.ok()) co_return queued.error();
    ticket = *queued;
    result.from.after = state_->find(from_dir)->record.attrs;
    result.to.after = state_->find(to_dir)->record.attrs;
  }
  if (!ticket) co_return make_error(Code::kBusy, "rename: what it needs kept being evicted");
  guard.release();
  after_operation();
  CO_RETURN_IF_ERROR(co_await reap_and_wait_durable(*ticket, replaced));
  co_return result;
}

}  // namespace splitarray::hostdriver::fs
