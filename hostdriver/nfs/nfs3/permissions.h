// hostdriver/nfs/nfs3/permissions.h
// POSIX permission checks for the NFS v3 program: pure functions of the caller's credentials
// (after the export's squashing) and a file's attributes. No ACLs; mode bits, owner and groups.
//
// The rules (as Linux's knfsd applies them):
//   - Owner class if uid matches, else group class if the file's gid is the caller's gid or one
//     of its supplementary groups, else other.
//   - Root (uid 0 after squashing) passes every check except executing a non-directory that has
//     no execute bit at all.
//   - Reads and writes through READ, WRITE, COMMIT and SETATTR(size) allow the file's owner
//     regardless of the mode bits (knfsd's owner override: a client checked the mode when the
//     file was opened, and a file created 0444 must still take the creator's writes). READ is
//     also allowed with execute permission (a client reads the pages of a program it runs).
//   - chown_restricted: only root changes a file's owner; the owner may change its group to one
//     of the caller's groups; only owner or root change the mode or set explicit times; anyone
//     with write permission may set the times to "now".
//   - Sticky directories: only the directory's owner, the entry's owner or root remove or
//     replace an entry.
#pragma once

#include <cstdint>

#include "hostdriver/fs/records.h"
#include "hostdriver/nfs/nfs3/nfs3_types.h"
#include "hostdriver/nfs/rpc_program.h"

namespace splitarray::hostdriver::nfs::nfs3 {

inline constexpr uint32_t kModeRead = 4;  // the rwx bits of one class
inline constexpr uint32_t kModeWrite = 2;
inline constexpr uint32_t kModeExec = 1;
inline constexpr uint32_t kModeSetuid = 04000;
inline constexpr uint32_t kModeSetgid = 02000;
inline constexpr uint32_t kModeSticky = 01000;
inline constexpr uint32_t kModeAnyExec = 0111;

bool in_group(const Credentials& who, uint32_t gid);

// True when `who` may access `file` as `want` (an OR of kModeRead/Write/Exec) by its mode bits
// (root: see above).
bool may(const Credentials& who, const fs::Attributes& file, uint32_t want);

// ACCESS3: the subset of `requested` (kAccess* bits) that `who` is granted on `file`.
// read_only (the export): MODIFY, EXTEND and DELETE are never granted on files, directories and
// symlinks.
uint32_t access_granted(const Credentials& who, const fs::Attributes& file, uint32_t requested,
                        bool read_only);

// The checks each procedure makes; kOk or the status to answer.
Status check_lookup(const Credentials& who, const fs::Attributes& dir);      // search
Status check_list(const Credentials& who, const fs::Attributes& dir);        // READDIR(PLUS)
Status check_dir_change(const Credentials& who, const fs::Attributes& dir);  // write + search
// Removing or replacing `entry` in `dir` (besides check_dir_change): the sticky bit.
Status check_sticky(const Credentials& who, const fs::Attributes& dir, const fs::Attributes& entry);
Status check_read(const Credentials& who, const fs::Attributes& file);   // with owner override
Status check_write(const Credentials& who, const fs::Attributes& file);  // with owner override

// SETATTR (and attributes given to CREATE/MKDIR/...): which changes `who` may make to `file`.
struct AttrChange {
  bool mode = false;
  std::optional<uint32_t> uid;  // the new owner
  std::optional<uint32_t> gid;  // the new group
  bool size = false;
  bool times_now = false;       // atime or mtime to the server's time
  bool times_explicit = false;  // atime or mtime to a client's value
};
Status check_setattr(const Credentials& who, const fs::Attributes& file, const AttrChange& change);

// The mode a non-root caller may set: setgid is dropped unless the caller is in the file's group
// (POSIX chmod).
uint32_t allowed_mode(const Credentials& who, uint32_t file_gid, uint32_t mode);

}  // namespace splitarray::hostdriver::nfs::nfs3
