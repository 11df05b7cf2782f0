// hostdriver/nfs/nfs3/nfs3_types.h
// The NFS version 3 protocol's (RFC 1813) constants, arguments and results as plain values.
// They carry what is on the wire, nothing more: the server's decoders (nfs3_xdr.h) fill the
// argument structs and its encoders write the result structs; the client side
// (nfs3_client_xdr.h, for tests, tools and the fuzz seeds) does the opposite.
//
// A result struct holds both of its union arms: the encoder writes the fields of the arm its
// `status` selects (resok for kOk, resfail otherwise) and ignores the rest; a decoder fills that
// arm and leaves the other fields at their defaults, so decode(encode(x)) == x for any x a
// decoder produced.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hostdriver/blockstore/block_store.h"
#include "hostdriver/fs/file_system.h"
#include "hostdriver/fs/records.h"
#include "hostdriver/nfs/file_handle.h"

namespace splitarray::hostdriver::nfs::nfs3 {

// --- Program and limits -------------------------------------------------------------------------
inline constexpr uint32_t kNfsProgram = 100003;
inline constexpr uint32_t kNfsVersion = 3;

inline constexpr size_t kFhBytesMax = 64;  // NFS3_FHSIZE
static_assert(kFhBytesMax == kFileHandleBytesMax);
static_assert(kFileHandleBytes <= kFhBytesMax);
inline constexpr size_t kVerifierBytes = 8;  // cookieverf3, createverf3, writeverf3

// Names and symlink targets are decoded up to these generous wire limits, so a name a little
// over the file system's limit is answered NFS3ERR_NAMETOOLONG rather than GARBAGE_ARGS.
inline constexpr size_t kNameWireBytesMax = 1024;
inline constexpr size_t kPathWireBytesMax = 4096;  // MAXPATHLEN
static_assert(kNameWireBytesMax >= fs::kNameBytesMax);
static_assert(kPathWireBytesMax >= fs::kSymlinkBytesMax);

// WRITE data on the wire: the block store's largest write. wtmax (Nfs3Options) may be smaller;
// a longer write is then shortened (RFC 1813 allows a short write).
inline constexpr uint32_t kWriteWireBytesMax = static_cast<uint32_t>(blockstore::kWriteBytesMax);
// READ data in a reply (client-side decoder bound).
inline constexpr uint32_t kReadWireBytesMax = fs::kReadBytesMax;
// READDIR count / READDIRPLUS maxcount are capped at this many reply bytes.
inline constexpr uint32_t kReaddirBytesMax = 1 * kMiB;
// Entries a client-side decoder accepts in one READDIR(PLUS) reply (each costs >= 24 bytes).
inline constexpr size_t kReaddirEntriesWireMax = kReaddirBytesMax / 24;

// --- Procedures
// -----------------------------------------------------------------------------------
enum class Proc : uint32_t {
  kNull = 0,
  kGetattr = 1,
  kSetattr = 2,
  kLookup = 3,
  kAccess = 4,
  kReadlink = 5,
  kRead = 6,
  kWrite = 7,
  kCreate = 8,
  kMkdir = 9,
  kSymlink = 10,
  kMknod = 11,
  kRemove = 12,
  kRmdir = 13,
  kRename = 14,
  kLink = 15,
  kReaddir = 16,
  kReaddirplus = 17,
  kFsstat = 18,
  kFsinfo = 19,
  kPathconf = 20,
  kCommit = 21,
};
inline constexpr uint32_t kProcCount = 22;
const char* proc_name(Proc proc);

// nfsstat3.
enum class Status : uint32_t {
  kOk = 0,
  kPerm = 1,
  kNoent = 2,
  kIo = 5,
  kNxio = 6,
  kAcces = 13,
  kExist = 17,
  kXdev = 18,
  kNodev = 19,
  kNotdir = 20,
  kIsdir = 21,
  kInval = 22,
  kFbig = 27,
  kNospc = 28,
  kRofs = 30,
  kMlink = 31,
  kNametoolong = 63,
  kNotempty = 66,
  kDquot = 69,
  kStale = 70,
  kRemote = 71,
  kBadhandle = 10001,
  kNotSync = 10002,
  kBadCookie = 10003,
  kNotsupp = 10004,
  kToosmall = 10005,
  kServerfault = 10006,
  kBadtype = 10007,
  kJukebox = 10008,
};
const char* status_name(Status status);  // "NFS3ERR_?" for a value RFC 1813 does not define
bool is_status(uint32_t value);          // a value RFC 1813 defines

// ftype3.
enum class Ftype : uint32_t {
  kReg = 1,
  kDir = 2,
  kBlk = 3,
  kChr = 4,
  kLnk = 5,
  kSock = 6,
  kFifo = 7,
};
inline constexpr uint32_t kFtypeMax = 7;

enum class StableHow : uint32_t { kUnstable = 0, kDataSync = 1, kFileSync = 2 };
inline constexpr uint32_t kStableHowMax = 2;
enum class CreateHow : uint32_t { kUnchecked = 0, kGuarded = 1, kExclusive = 2 };
inline constexpr uint32_t kCreateHowMax = 2;
enum class TimeHow : uint32_t { kDontChange = 0, kServerTime = 1, kClientTime = 2 };
inline constexpr uint32_t kTimeHowMax = 2;

// ACCESS3 bits.
inline constexpr uint32_t kAccessRead = 0x0001;
inline constexpr uint32_t kAccessLookup = 0x0002;
inline constexpr uint32_t kAccessModify = 0x0004;
inline constexpr uint32_t kAccessExtend = 0x0008;
inline constexpr uint32_t kAccessDelete = 0x0010;
inline constexpr uint32_t kAccessExecute = 0x0020;
inline constexpr uint32_t kAccessAll = 0x003f;

// FSINFO properties.
inline constexpr uint32_t kFsfLink = 0x0001;
inline constexpr uint32_t kFsfSymlink = 0x0002;
inline constexpr uint32_t kFsfHomogeneous = 0x0008;
inline constexpr uint32_t kFsfCanSetTime = 0x0010;

// --- Common values
// --------------------------------------------------------------------------------
using Verifier = std::array<uint8_t, kVerifierBytes>;

struct Fh {  // nfs_fh3: opaque <= kFhBytesMax
  std::vector<uint8_t> bytes;
  friend bool operator==(const Fh&, const Fh&) = default;
};

struct Time {  // nfstime3
  uint32_t seconds = 0;
  uint32_t nseconds = 0;
  friend bool operator==(const Time&, const Time&) = default;
};
inline constexpr uint32_t kNanosPerSecond = 1'000'000'000;

struct Fattr {  // fattr3
  Ftype type = Ftype::kReg;
  uint32_t mode = 0;
  uint32_t nlink = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  uint64_t used = 0;
  uint32_t rdev_major = 0;
  uint32_t rdev_minor = 0;
  uint64_t fsid = 0;
  uint64_t fileid = 0;
  Time atime;
  Time mtime;
  Time ctime;
  friend bool operator==(const Fattr&, const Fattr&) = default;
};
inline constexpr size_t kFattrBytes = 84;  // its XDR encoding

using PostOpAttr = std::optional<Fattr>;  // post_op_attr

struct WccAttr {  // wcc_attr
  uint64_t size = 0;
  Time mtime;
  Time ctime;
  friend bool operator==(const WccAttr&, const WccAttr&) = default;
};

struct Wcc {  // wcc_data
  std::optional<WccAttr> before;
  PostOpAttr after;
  friend bool operator==(const Wcc&, const Wcc&) = default;
};

struct Sattr {  // sattr3; the times are meaningful only with TimeHow::kClientTime
  std::optional<uint32_t> mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;
  TimeHow atime_how = TimeHow::kDontChange;
  Time atime;
  TimeHow mtime_how = TimeHow::kDontChange;
  Time mtime;
  friend bool operator==(const Sattr&, const Sattr&) = default;
};

struct DirOpArgs {  // diropargs3
  Fh dir;
  std::string name;
  friend bool operator==(const DirOpArgs&, const DirOpArgs&) = default;
};

// --- Arguments
// -------------------------------------------------------------------------------------- GETATTR,
// READLINK, FSSTAT, FSINFO, PATHCONF take one handle.
struct FhArgs {
  Fh object;
  friend bool operator==(const FhArgs&, const FhArgs&) = default;
};
struct SetattrArgs {
  Fh object;
  Sattr attrs;
  std::optional<Time> guard_ctime;  // sattrguard3
  friend bool operator==(const SetattrArgs&, const SetattrArgs&) = default;
};
// LOOKUP, REMOVE and RMDIR take a DirOpArgs.
struct AccessArgs {
  Fh object;
  uint32_t access = 0;
  friend bool operator==(const AccessArgs&, const AccessArgs&) = default;
};
struct ReadArgs {
  Fh file;
  uint64_t offset = 0;
  uint32_t count = 0;
  friend bool operator==(const ReadArgs&, const ReadArgs&) = default;
};
struct WriteArgs {
  Fh file;
  uint64_t offset = 0;
  uint32_t count = 0;  // the decoder requires count == data.size()
  StableHow stable = StableHow::kUnstable;
  std::vector<uint8_t> data;
  friend bool operator==(const WriteArgs&, const WriteArgs&) = default;
};
struct CreateArgs {
  DirOpArgs where;
  CreateHow how = CreateHow::kUnchecked;
  Sattr attrs;      // kUnchecked, kGuarded
  Verifier verf{};  // kExclusive
  friend bool operator==(const CreateArgs&, const CreateArgs&) = default;
};
struct MkdirArgs {
  DirOpArgs where;
  Sattr attrs;
  friend bool operator==(const MkdirArgs&, const MkdirArgs&) = default;
};
struct SymlinkArgs {
  DirOpArgs where;
  Sattr attrs;
  std::string target;
  friend bool operator==(const SymlinkArgs&, const SymlinkArgs&) = default;
};
struct MknodArgs {
  DirOpArgs where;
  Ftype type = Ftype::kFifo;
  Sattr attrs;              // kChr, kBlk, kSock, kFifo
  uint32_t rdev_major = 0;  // kChr, kBlk
  uint32_t rdev_minor = 0;
  friend bool operator==(const MknodArgs&, const MknodArgs&) = default;
};
struct RenameArgs {
  DirOpArgs from;
  DirOpArgs to;
  friend bool operator==(const RenameArgs&, const RenameArgs&) = default;
};
struct LinkArgs {
  Fh file;
  DirOpArgs link;
  friend bool operator==(const LinkArgs&, const LinkArgs&) = default;
};
struct ReaddirArgs {
  Fh dir;
  uint64_t cookie = 0;
  Verifier verf{};
  uint32_t count = 0;
  friend bool operator==(const ReaddirArgs&, const ReaddirArgs&) = default;
};
struct ReaddirplusArgs {
  Fh dir;
  uint64_t cookie = 0;
  Verifier verf{};
  uint32_t dircount = 0;
  uint32_t maxcount = 0;
  friend bool operator==(const ReaddirplusArgs&, const ReaddirplusArgs&) = default;
};
struct CommitArgs {
  Fh file;
  uint64_t offset = 0;
  uint32_t count = 0;
  friend bool operator==(const CommitArgs&, const CommitArgs&) = default;
};

// --- Results
// ----------------------------------------------------------------------------------------
struct GetattrRes {
  Status status = Status::kOk;
  Fattr attrs;  // ok
  friend bool operator==(const GetattrRes&, const GetattrRes&) = default;
};
struct WccRes {  // SETATTR; REMOVE and RMDIR (the directory's wcc)
  Status status = Status::kOk;
  Wcc wcc;
  friend bool operator==(const WccRes&, const WccRes&) = default;
};
struct LookupRes {
  Status status = Status::kOk;
  Fh object;         // ok
  PostOpAttr attrs;  // ok
  PostOpAttr dir;    // both
  friend bool operator==(const LookupRes&, const LookupRes&) = default;
};
struct AccessRes {
  Status status = Status::kOk;
  PostOpAttr attrs;     // both
  uint32_t access = 0;  // ok
  friend bool operator==(const AccessRes&, const AccessRes&) = default;
};
struct ReadlinkRes {
  Status status = Status::kOk;
  PostOpAttr attrs;    // both
  std::string target;  // ok
  friend bool operator==(const ReadlinkRes&, const ReadlinkRes&) = default;
};
struct ReadRes {
  Status status = Status::kOk;
  PostOpAttr attrs;  // both
  bool eof = false;  // ok; count on the wire is data.size()
  std::vector<uint8_t> data;
  friend bool operator==(const ReadRes&, const ReadRes&) = default;
};
struct WriteRes {
  Status status = Status::kOk;
  Wcc wcc;             // both
  uint32_t count = 0;  // ok
  StableHow committed = StableHow::kUnstable;
  Verifier verf{};
  friend bool operator==(const WriteRes&, const WriteRes&) = default;
};
struct CreateRes {  // CREATE, MKDIR, SYMLINK, MKNOD
  Status status = Status::kOk;
  std::optional<Fh> object;  // ok (post_op_fh3)
  PostOpAttr attrs;          // ok
  Wcc dir;                   // both
  friend bool operator==(const CreateRes&, const CreateRes&) = default;
};
struct RenameRes {
  Status status = Status::kOk;
  Wcc from;  // both
  Wcc to;
  friend bool operator==(const RenameRes&, const RenameRes&) = default;
};
struct LinkRes {
  Status status = Status::kOk;
  PostOpAttr attrs;  // both: the file
  Wcc dir;           // both: the link's directory
  friend bool operator==(const LinkRes&, const LinkRes&) = default;
};
struct ListEntry {  // entry3 / entryplus3 (handle and attrs only in READDIRPLUS)
  uint64_t fileid = 0;
  std::string name;
  uint64_t cookie = 0;
  PostOpAttr attrs;
  std::optional<Fh> handle;
  friend bool operator==(const ListEntry&, const ListEntry&) = default;
};
// READDIR (kPlus false: entries without handles and attributes) and READDIRPLUS.
template <bool kPlus>
struct ReaddirResOf {
  Status status = Status::kOk;
  PostOpAttr dir;                  // both
  Verifier verf{};                 // ok
  std::vector<ListEntry> entries;  // ok
  bool eof = false;                // ok
  friend bool operator==(const ReaddirResOf&, const ReaddirResOf&) = default;
};
using ReaddirRes = ReaddirResOf<false>;
using ReaddirplusRes = ReaddirResOf<true>;
struct FsstatRes {
  Status status = Status::kOk;
  PostOpAttr attrs;  // both
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  uint64_t avail_bytes = 0;
  uint64_t total_files = 0;
  uint64_t free_files = 0;
  uint64_t avail_files = 0;
  uint32_t invarsec = 0;
  friend bool operator==(const FsstatRes&, const FsstatRes&) = default;
};
struct FsinfoRes {
  Status status = Status::kOk;
  PostOpAttr attrs;  // both
  uint32_t rtmax = 0;
  uint32_t rtpref = 0;
  uint32_t rtmult = 0;
  uint32_t wtmax = 0;
  uint32_t wtpref = 0;
  uint32_t wtmult = 0;
  uint32_t dtpref = 0;
  uint64_t maxfilesize = 0;
  Time time_delta;
  uint32_t properties = 0;
  friend bool operator==(const FsinfoRes&, const FsinfoRes&) = default;
};
struct PathconfRes {
  Status status = Status::kOk;
  PostOpAttr attrs;  // both
  uint32_t linkmax = 0;
  uint32_t name_max = 0;
  bool no_trunc = false;
  bool chown_restricted = false;
  bool case_insensitive = false;
  bool case_preserving = false;
  friend bool operator==(const PathconfRes&, const PathconfRes&) = default;
};
struct CommitRes {
  Status status = Status::kOk;
  Wcc wcc;          // both
  Verifier verf{};  // ok
  friend bool operator==(const CommitRes&, const CommitRes&) = default;
};

// --- Conversions between the file system's values and the protocol's
// -------------------------------
Ftype ftype_of(fs::FileType type);
// fattr3 of a file: fsid is the file system's id, `used` is the size rounded up to
// kUsedUnitBytes (what a file costs after deduplication and compression is not known per file).
inline constexpr uint64_t kUsedUnitBytes = 4096;
Fattr fattr_of(const fs::Attributes& attrs, uint64_t fsid);
WccAttr wcc_attr_of(const fs::Attributes& attrs);
// nfstime3 <-> WallTime. Times before 1970 read as 0 and after 2106 as the largest nfstime3.
Time time_of(WallTime time);
WallTime wall_time_of(Time time);      // time.nseconds < kNanosPerSecond
Verifier verifier_of(uint64_t value);  // big-endian
uint64_t value_of(const Verifier& verifier);

}  // namespace splitarray::hostdriver::nfs::nfs3
