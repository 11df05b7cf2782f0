// hostdriver/fs/data_ops.cpp
// Attributes, data and listings. Writes and truncates do not take the namespace mutex: their
// FsOp rides in the block store's record and is numbered and applied when that record is queued
// (FsOpBuilder), so many writes to one file proceed at once and memory still follows log order.
#include <algorithm>
#include <string>

#include "hostdriver/fs/file_system_impl.h"

namespace splitarray::hostdriver::fs {
namespace {

// The first key a directory entry can have (dir_key of hash 1); "." and ".." use cookies 1, 2.
constexpr uint64_t kFirstEntryKey = uint64_t{1} << kDirCollisionBits;
constexpr uint64_t kDotCookie = 1;
constexpr uint64_t kDotDotCookie = 2;

// Keeps an inode in memory while an operation waits (CachedInode pointers stay valid).
class Pin {
 public:
  Pin(FsState& state, CachedInode& inode) : state_(state), inode_(&inode) { state_.pin(inode); }
  ~Pin() { state_.unpin(*inode_); }
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;
  CachedInode& operator*() const { return *inode_; }
  CachedInode* operator->() const { return inode_; }

 private:
  FsState& state_;
  CachedInode* inode_;
};

}  // namespace

Task<Result<Attributes>> FileSystemImpl::getattr(uint64_t inode) {
  CO_RETURN_IF_ERROR(usable());
  auto cached = co_await load_inode(inode);
  if (!cached.ok()) co_return cached.error();
  co_return (*cached)->record.attrs;
}

std::optional<Attributes> FileSystemImpl::cached_attributes(uint64_t inode) {
  if (!usable().ok()) return std::nullopt;
  const CachedInode* cached = state_->find(inode);
  if (cached == nullptr || cached->deleted) return std::nullopt;
  return cached->record.attrs;
}

Task<Result<SetattrResult>> FileSystemImpl::setattr(uint64_t inode, SetAttributes set,
                                                    std::optional<WallTime> guard_ctime) {
  CO_RETURN_IF_ERROR(usable());
  auto cached = co_await load_inode(inode);
  if (!cached.ok()) co_return cached.error();
  Pin pin(*state_, **cached);
  const Attributes before = pin->record.attrs;
  if (guard_ctime && *guard_ctime != before.ctime) {
    co_return make_error(Code::kInvalidArgument, "not_sync: ctime differs from the guard");
  }
  FsOp op = new_op(OpKind::kSetattr);
  op.inode = inode;
  if (set.mode) {
    op.set_mask |= kSetMode;
    op.attrs.mode = *set.mode & 07777;
  }
  if (set.uid) {
    op.set_mask |= kSetUid;
    op.attrs.uid = *set.uid;
  }
  if (set.gid) {
    op.set_mask |= kSetGid;
    op.attrs.gid = *set.gid;
  }
  if (set.atime) {
    op.set_mask |= kSetAtime;
    op.attrs.atime = *set.atime;
  }
  if (set.mtime) {
    op.set_mask |= kSetMtime;
    op.attrs.mtime = *set.mtime;
  }
  if (set.size) {
    if (before.type == FileType::kDirectory) co_return make_error(Code::kIsDirectory, "size");
    if (before.type != FileType::kRegular) {
      co_return make_error(Code::kInvalidArgument, "size of a non-regular file");
    }
    if (*set.size > kFileBytesMax) co_return make_error(Code::kFileTooLarge, "size");
    op.set_mask |= kSetSize;
    op.attrs.size = *set.size;
  }
  if ((op.set_mask & kSetSize) && op.attrs.size != before.size) {
    // The data change and the attribute change are one record.
    blockstore::FsOpBuilder builder = riding_op(op);
    auto truncated = co_await store_->truncate(InodeId(inode), op.attrs.size, Stability::kFileSync,
                                               std::move(builder));
    if (!truncated.ok()) {
      if (truncated.code() == Code::kStale && !fenced_) fenced_ = truncated.error();
      co_return truncated.error();
    }
  } else {
    CO_RETURN_IF_ERROR(co_await store_->wait_op_room(kFsOpBytesMax));
    auto queued = log_and_apply(op);
    if (!queued.ok()) co_return queued.error();
    CO_RETURN_IF_ERROR(co_await store_->wait_durable(*queued));
  }
  after_operation();
  co_return SetattrResult{before, pin->record.attrs};
}

Task<Result<ReadResult>> FileSystemImpl::read(uint64_t inode, uint64_t offset, uint32_t count) {
  CO_RETURN_IF_ERROR(usable());
  if (count > kReadBytesMax) co_return make_error(Code::kInvalidArgument, "read too long");
  auto cached = co_await load_inode(inode);
  if (!cached.ok()) co_return cached.error();
  const Attributes attrs = (*cached)->record.attrs;
  if (attrs.type == FileType::kDirectory) co_return make_error(Code::kIsDirectory, "read");
  if (attrs.type != FileType::kRegular) {
    co_return make_error(Code::kInvalidArgument, "read of a non-regular file");
  }
  ReadResult result;
  result.attrs = attrs;
  if (offset >= attrs.size || count == 0) {
    result.eof = offset >= attrs.size;
    co_return result;
  }
  const uint64_t length = std::min<uint64_t>(count, attrs.size - offset);
  auto data = co_await store_->read(InodeId(inode), offset, static_cast<uint32_t>(length));
  if (!data.ok()) co_return data.error();
  result.data = std::move(data).value();
  result.eof = offset + length >= attrs.size;
  co_return result;
}

Task<Result<WriteResult>> FileSystemImpl::write(uint64_t inode, uint64_t offset,
                                                std::vector<uint8_t> data, Stability stability) {
  CO_RETURN_IF_ERROR(usable());
  if (data.size() > blockstore::kWriteBytesMax) {
    co_return make_error(Code::kInvalidArgument, "write too long");
  }
  if (offset > kFileBytesMax || data.size() > kFileBytesMax - offset) {
    co_return make_error(Code::kFileTooLarge, "write past the largest file size");
  }
  auto cached = co_await load_inode(inode);
  if (!cached.ok()) co_return cached.error();
  Pin pin(*state_, **cached);
  WriteResult result;
  result.before = pin->record.attrs;
  result.verifier = store_->write_verifier();
  if (result.before.type == FileType::kDirectory) co_return make_error(Code::kIsDirectory, "write");
  if (result.before.type != FileType::kRegular) {
    co_return make_error(Code::kInvalidArgument, "write to a non-regular file");
  }
  if (data.empty()) {
    result.after = result.before;
    co_return result;
  }
  FsOp op = new_op(OpKind::kWrite);
  op.inode = inode;
  op.end = offset + data.size();
  blockstore::FsOpBuilder builder = riding_op(op);
  auto written =
      co_await store_->write(InodeId(inode), offset, data, stability, std::move(builder));
  if (!written.ok()) {
    if (written.code() == Code::kStale && !fenced_) fenced_ = written.error();
    co_return written.error();
  }
  result.after = pin->record.attrs;
  after_operation();
  co_return result;
}

Task<Result<void>> FileSystemImpl::commit() {
  CO_RETURN_IF_ERROR(usable());
  co_return co_await store_->commit();
}

Task<Result<FsStat>> FileSystemImpl::fsstat() {
  CO_RETURN_IF_ERROR(usable());
  auto client = co_await registers();
  if (!client.ok()) co_return client.error();
  auto status = co_await (*client)->status();
  if (!status.ok()) co_return status.error();
  const blockstore::BlockStoreConfig& store = store_->config();
  const uint64_t k = store.geometry.data_fragments;
  const uint64_t width = k + store.parity_fragments;
  const uint64_t slot_bytes = store.geometry.fragment_payload_bytes;
  uint64_t slots_total = 0;
  uint64_t slots_free = 0;
  for (const protocol::DiskInfoValue& disk : status->disks) {
    if (disk.state != protocol::DiskStateValue::kHealthy) continue;
    slots_total += disk.slots_total;
    slots_free += disk.slots_total - std::min(disk.slots_total, disk.slots_used);
  }
  FsStat stat;
  stat.total_bytes = slots_total * slot_bytes / width * k;
  stat.free_bytes = slots_free * slot_bytes / width * k;
  stat.total_files = kFilesMax;
  stat.free_files = kFilesMax - std::min(kFilesMax, state_->inode_count());
  co_return stat;
}

Task<Result<std::string>> FileSystemImpl::readlink(uint64_t inode) {
  CO_RETURN_IF_ERROR(usable());
  auto cached = co_await load_inode(inode);
  if (!cached.ok()) co_return cached.error();
  if ((*cached)->record.attrs.type != FileType::kSymlink) {
    co_return make_error(Code::kInvalidArgument, "not a symlink");
  }
  co_return (*cached)->record.symlink_target;
}

Task<Result<DirPage>> FileSystemImpl::readdir(uint64_t dir, uint64_t cookie, size_t entries_max) {
  CO_RETURN_IF_ERROR(usable());
  if (entries_max == 0 || entries_max > kReaddirEntriesMax) {
    co_return make_error(Code::kInvalidArgument, "readdir of " + std::to_string(entries_max));
  }
  auto parent = co_await dir_attrs(dir);
  if (!parent.ok()) co_return parent.error();
  DirPage page;
  page.dir = *parent;
  if (cookie < kDotCookie) page.entries.push_back({kDotCookie, dir, ".", FileType::kDirectory});
  if (cookie < kDotDotCookie && page.entries.size() < entries_max) {
    auto self = co_await load_inode(dir);
    if (!self.ok()) co_return self.error();
    const uint64_t up = (*self)->record.parent == 0 ? dir : (*self)->record.parent;
    page.entries.push_back({kDotDotCookie, up, "..", FileType::kDirectory});
  }
  uint64_t from = std::max(cookie + 1, kFirstEntryKey);
  if (cookie == UINT64_MAX) from = UINT64_MAX;  // nothing after the last possible cookie
  size_t retries = 0;
  while (page.entries.size() < entries_max && from != 0) {
    const size_t want = entries_max - page.entries.size();
    auto self = co_await load_inode(dir);
    if (!self.ok()) co_return self.error();
    std::shared_ptr<meta::BTree> tree = dir_tree(dir, (*self)->record);
    const uint64_t drops = state_->drops();
    auto scan = co_await tree->scan(from, want);
    if (!scan.ok()) co_return scan.error();
    if (state_->drops() != drops) {
      if (++retries > kResolveRoundsMax) co_return make_error(Code::kBusy, "readdir");
      continue;
    }
    // The tree answered for keys [from, bound]; memory overrides within that range.
    const uint64_t bound = scan->next ? *scan->next - 1 : UINT64_MAX;
    std::map<uint64_t, DirEntry> merged;
    for (const meta::LeafEntry& leaf : scan->entries) {
      auto entry = decode_dir_entry(leaf.value);
      if (!entry.ok()) co_return entry.error();
      merged.emplace(leaf.key, std::move(entry).value());
    }
    if (const DirOverlay* overlay = state_->overlay(dir)) {
      for (auto it = overlay->lower_bound(from); it != overlay->end() && it->first <= bound; ++it) {
        if (it->second.entry) {
          merged[it->first] = *it->second.entry;
        } else {
          merged.erase(it->first);
        }
      }
    }
    bool full_inside = false;  // entries of this range are left for the next page
    for (auto& [key, entry] : merged) {
      if (page.entries.size() >= entries_max) {
        full_inside = true;
        break;
      }
      page.entries.push_back({key, entry.inode, entry.name, entry.type});
    }
    if (full_inside) break;
    if (bound == UINT64_MAX) {
      page.eof = true;
      break;
    }
    from = bound + 1;
  }
  co_return page;
}

}  // namespace splitarray::hostdriver::fs
