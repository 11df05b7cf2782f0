// hostdriver/nfs/nfs3/permissions.cpp
#include "hostdriver/nfs/nfs3/permissions.h"

#include <algorithm>

#include "common/assert.h"

namespace splitarray::hostdriver::nfs::nfs3 {
namespace {

constexpr uint32_t kRwx = kModeRead | kModeWrite | kModeExec;

bool is_directory(const fs::Attributes& file) { return file.type == fs::FileType::kDirectory; }
bool is_owner(const Credentials& who, const fs::Attributes& file) { return who.uid == file.uid; }

// The rwx bits of the class `who` falls in.
uint32_t class_bits(const Credentials& who, const fs::Attributes& file) {
  if (is_owner(who, file)) return (file.mode >> 6) & kRwx;
  if (in_group(who, file.gid)) return (file.mode >> 3) & kRwx;
  return file.mode & kRwx;
}

}  // namespace

bool in_group(const Credentials& who, uint32_t gid) {
  ASSERT(who.gids.size() <= kAuthSysGidsMax);
  return who.gid == gid || std::find(who.gids.begin(), who.gids.end(), gid) != who.gids.end();
}

bool may(const Credentials& who, const fs::Attributes& file, uint32_t want) {
  ASSERT((want & ~kRwx) == 0);
  if (who.is_root()) {
    // Root may do anything but execute a file no one may execute.
    if ((want & kModeExec) && !is_directory(file) && (file.mode & kModeAnyExec) == 0) {
      return false;
    }
    return true;
  }
  return (class_bits(who, file) & want) == want;
}

uint32_t access_granted(const Credentials& who, const fs::Attributes& file, uint32_t requested,
                        bool read_only) {
  const bool fs_object = file.type == fs::FileType::kRegular || is_directory(file) ||
                         file.type == fs::FileType::kSymlink;
  const bool writable = !(read_only && fs_object);
  uint32_t granted = 0;
  if ((requested & kAccessRead) && may(who, file, kModeRead)) granted |= kAccessRead;
  if (is_directory(file)) {
    const bool search = may(who, file, kModeExec);
    const bool change = writable && search && may(who, file, kModeWrite);
    if ((requested & kAccessLookup) && search) granted |= kAccessLookup;
    if (change) granted |= requested & (kAccessModify | kAccessExtend | kAccessDelete);
  } else {
    if ((requested & kAccessExecute) && may(who, file, kModeExec)) granted |= kAccessExecute;
    if (writable && may(who, file, kModeWrite)) {
      granted |= requested & (kAccessModify | kAccessExtend);
    }
  }
  ASSERT((granted & ~requested) == 0);
  return granted;
}

Status check_lookup(const Credentials& who, const fs::Attributes& dir) {
  if (!is_directory(dir)) return Status::kNotdir;
  return may(who, dir, kModeExec) ? Status::kOk : Status::kAcces;
}

Status check_list(const Credentials& who, const fs::Attributes& dir) {
  if (!is_directory(dir)) return Status::kNotdir;
  return may(who, dir, kModeRead) ? Status::kOk : Status::kAcces;
}

Status check_dir_change(const Credentials& who, const fs::Attributes& dir) {
  if (!is_directory(dir)) return Status::kNotdir;
  return may(who, dir, kModeWrite | kModeExec) ? Status::kOk : Status::kAcces;
}

Status check_sticky(const Credentials& who, const fs::Attributes& dir,
                    const fs::Attributes& entry) {
  ASSERT(is_directory(dir));
  if ((dir.mode & kModeSticky) == 0 || who.is_root()) return Status::kOk;
  if (is_owner(who, dir) || is_owner(who, entry)) return Status::kOk;
  return Status::kAcces;
}

Status check_read(const Credentials& who, const fs::Attributes& file) {
  if (is_owner(who, file) || may(who, file, kModeRead) || may(who, file, kModeExec)) {
    return Status::kOk;
  }
  return Status::kAcces;
}

Status check_write(const Credentials& who, const fs::Attributes& file) {
  if (is_owner(who, file) || may(who, file, kModeWrite)) return Status::kOk;
  return Status::kAcces;
}

Status check_setattr(const Credentials& who, const fs::Attributes& file, const AttrChange& change) {
  if (who.is_root()) return Status::kOk;
  const bool owner = is_owner(who, file);
  // Ownership and mode: EPERM, as chown/chmod answer.
  if (change.uid && *change.uid != file.uid) return Status::kPerm;
  if (change.uid && !owner) return Status::kPerm;
  if (change.gid && (!owner || (*change.gid != file.gid && !in_group(who, *change.gid)))) {
    return Status::kPerm;
  }
  if (change.mode && !owner) return Status::kPerm;
  if (change.times_explicit && !owner) return Status::kPerm;
  // Data and "now": write permission (the owner always has it for these).
  if ((change.size || change.times_now) && !owner && !may(who, file, kModeWrite)) {
    return Status::kAcces;
  }
  return Status::kOk;
}

uint32_t allowed_mode(const Credentials& who, uint32_t file_gid, uint32_t mode) {
  if (who.is_root() || in_group(who, file_gid)) return mode & 07777;
  return mode & 07777 & ~kModeSetgid;
}

}  // namespace splitarray::hostdriver::nfs::nfs3
