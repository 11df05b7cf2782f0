// hostdriver/nfs/nfs3/nfs3_types.cpp
#include "hostdriver/nfs/nfs3/nfs3_types.h"

#include <string_view>

#include "common/assert.h"

namespace splitarray::hostdriver::nfs::nfs3 {
namespace {
constexpr const char* kUnknownStatus = "NFS3ERR_?";
}  // namespace

const char* proc_name(Proc proc) {
  static constexpr const char* kNames[kProcCount] = {
      "NULL",    "GETATTR",     "SETATTR", "LOOKUP", "ACCESS",   "READLINK", "READ",   "WRITE",
      "CREATE",  "MKDIR",       "SYMLINK", "MKNOD",  "REMOVE",   "RMDIR",    "RENAME", "LINK",
      "READDIR", "READDIRPLUS", "FSSTAT",  "FSINFO", "PATHCONF", "COMMIT"};
  const auto index = static_cast<uint32_t>(proc);
  return index < kProcCount ? kNames[index] : "UNKNOWN";
}

const char* status_name(Status status) {
  switch (status) {
    case Status::kOk:
      return "NFS3_OK";
    case Status::kPerm:
      return "NFS3ERR_PERM";
    case Status::kNoent:
      return "NFS3ERR_NOENT";
    case Status::kIo:
      return "NFS3ERR_IO";
    case Status::kNxio:
      return "NFS3ERR_NXIO";
    case Status::kAcces:
      return "NFS3ERR_ACCES";
    case Status::kExist:
      return "NFS3ERR_EXIST";
    case Status::kXdev:
      return "NFS3ERR_XDEV";
    case Status::kNodev:
      return "NFS3ERR_NODEV";
    case Status::kNotdir:
      return "NFS3ERR_NOTDIR";
    case Status::kIsdir:
      return "NFS3ERR_ISDIR";
    case Status::kInval:
      return "NFS3ERR_INVAL";
    case Status::kFbig:
      return "NFS3ERR_FBIG";
    case Status::kNospc:
      return "NFS3ERR_NOSPC";
    case Status::kRofs:
      return "NFS3ERR_ROFS";
    case Status::kMlink:
      return "NFS3ERR_MLINK";
    case Status::kNametoolong:
      return "NFS3ERR_NAMETOOLONG";
    case Status::kNotempty:
      return "NFS3ERR_NOTEMPTY";
    case Status::kDquot:
      return "NFS3ERR_DQUOT";
    case Status::kStale:
      return "NFS3ERR_STALE";
    case Status::kRemote:
      return "NFS3ERR_REMOTE";
    case Status::kBadhandle:
      return "NFS3ERR_BADHANDLE";
    case Status::kNotSync:
      return "NFS3ERR_NOT_SYNC";
    case Status::kBadCookie:
      return "NFS3ERR_BAD_COOKIE";
    case Status::kNotsupp:
      return "NFS3ERR_NOTSUPP";
    case Status::kToosmall:
      return "NFS3ERR_TOOSMALL";
    case Status::kServerfault:
      return "NFS3ERR_SERVERFAULT";
    case Status::kBadtype:
      return "NFS3ERR_BADTYPE";
    case Status::kJukebox:
      return "NFS3ERR_JUKEBOX";
  }
  return kUnknownStatus;
}

bool is_status(uint32_t value) {
  return std::string_view(status_name(static_cast<Status>(value))) != kUnknownStatus;
}

Ftype ftype_of(fs::FileType type) {
  switch (type) {
    case fs::FileType::kRegular:
      return Ftype::kReg;
    case fs::FileType::kDirectory:
      return Ftype::kDir;
    case fs::FileType::kSymlink:
      return Ftype::kLnk;
    case fs::FileType::kBlockDevice:
      return Ftype::kBlk;
    case fs::FileType::kCharDevice:
      return Ftype::kChr;
    case fs::FileType::kSocket:
      return Ftype::kSock;
    case fs::FileType::kFifo:
      return Ftype::kFifo;
  }
  UNREACHABLE("a file type without an ftype3");
}

Time time_of(WallTime time) {
  if (time.nanos <= 0) return Time{};
  const int64_t seconds = time.nanos / kNanosPerSecond;
  if (seconds > int64_t{UINT32_MAX}) return Time{UINT32_MAX, kNanosPerSecond - 1};
  const Time out{static_cast<uint32_t>(seconds),
                 static_cast<uint32_t>(time.nanos % kNanosPerSecond)};
  ASSERT(out.nseconds < kNanosPerSecond);
  return out;
}

WallTime wall_time_of(Time time) {
  ASSERT(time.nseconds < kNanosPerSecond);
  return WallTime{int64_t{time.seconds} * kNanosPerSecond + time.nseconds};
}

Verifier verifier_of(uint64_t value) {
  Verifier out{};
  for (size_t i = 0; i < kVerifierBytes; ++i) {
    out[kVerifierBytes - 1 - i] = static_cast<uint8_t>(value >> (8 * i));
  }
  return out;
}

uint64_t value_of(const Verifier& verifier) {
  uint64_t value = 0;
  for (uint8_t byte : verifier) value = (value << 8) | byte;
  return value;
}

Fattr fattr_of(const fs::Attributes& attrs, uint64_t fsid) {
  ASSERT(attrs.inode != 0);
  Fattr out;
  out.type = ftype_of(attrs.type);
  out.mode = attrs.mode & 07777;
  out.nlink = attrs.nlink;
  out.uid = attrs.uid;
  out.gid = attrs.gid;
  out.size = attrs.size;
  // Rounded up without overflow (sizes are <= INT64_MAX).
  ASSERT(attrs.size <= fs::kFileBytesMax);
  out.used = (attrs.size + kUsedUnitBytes - 1) / kUsedUnitBytes * kUsedUnitBytes;
  out.rdev_major = attrs.rdev_major;
  out.rdev_minor = attrs.rdev_minor;
  out.fsid = fsid;
  out.fileid = attrs.inode;
  out.atime = time_of(attrs.atime);
  out.mtime = time_of(attrs.mtime);
  out.ctime = time_of(attrs.ctime);
  return out;
}

WccAttr wcc_attr_of(const fs::Attributes& attrs) {
  return WccAttr{.size = attrs.size, .mtime = time_of(attrs.mtime), .ctime = time_of(attrs.ctime)};
}

}  // namespace splitarray::hostdriver::nfs::nfs3
