// hostdriver/fs/records.h
// The file system's persistent formats, as pure values and codecs (no I/O):
//   InodeRecord  a value in the inode table tree (key: inode number)
//   DirEntry     a value in a directory's tree (key: the entry's cookie, see dir_key)
//   FsOp         one operation in the NVRAM log (opaque bytes to the block store)
//   Superblock   the datastore root register's value (the checkpoint)
// Every decoder parses bytes that came from the shelf: it checks every length, enum and limit
// and returns kCorruption naming the field for anything malformed (fuzzed: tests/fuzz/).
// Encodings are little-endian, versioned, and end with a CRC32C of everything before it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/sha256.h"
#include "common/units.h"
#include "hostdriver/blockstore/block_store.h"

namespace splitarray::hostdriver::fs {

using blockstore::BlockRef;

// --- Limits ------------------------------------------------------------------------------------
inline constexpr size_t kNameBytesMax = 255;      // one path component (NFS3 / POSIX NAME_MAX)
inline constexpr size_t kSymlinkBytesMax = 1024;  // a symlink's target (PATHCONF, MAXPATHLEN)
inline constexpr uint64_t kFileBytesMax = uint64_t{INT64_MAX};  // POSIX off_t
inline constexpr uint32_t kLinksMax = 65000;                    // hard links to one inode
inline constexpr uint64_t kRootInode = 1;

enum class FileType : uint8_t {
  kRegular = 1,
  kDirectory = 2,
  kSymlink = 3,
  kBlockDevice = 4,
  kCharDevice = 5,
  kSocket = 6,
  kFifo = 7,
};
inline constexpr uint8_t kFileTypeMax = 7;

// What getattr returns (NFSv3 fattr3 minus what the NFS layer adds: fsid, used bytes).
struct Attributes {
  uint64_t inode = 0;
  uint64_t generation = 0;  // with inode, names the file for ever (NFS file handles)
  FileType type = FileType::kRegular;
  uint32_t mode = 0;  // permission bits only (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 0;
  uint64_t size = 0;  // bytes; for a directory: entries x kDirEntrySizeUnit; symlink: target
  uint32_t rdev_major = 0;
  uint32_t rdev_minor = 0;
  WallTime atime{};
  WallTime mtime{};
  WallTime ctime{};
  friend bool operator==(const Attributes&, const Attributes&) = default;
};
inline constexpr uint64_t kDirEntrySizeUnit = 32;  // a directory's reported size per entry

// The inode table's value for one inode.
struct InodeRecord {
  Attributes attrs;
  uint64_t parent = 0;               // directories: the parent directory (root: itself) for ".."
  uint64_t entries = 0;              // directories: number of entries (rmdir needs 0)
  uint64_t create_verifier = 0;      // NFS exclusive create: the client's verifier until a setattr
  std::optional<BlockRef> dir_root;  // directories: the entry tree's root at the last checkpoint
  std::optional<BlockRef> map_root;  // regular files: the block map's root at the last checkpoint
  std::string symlink_target;        // symlinks: <= kSymlinkBytesMax
  friend bool operator==(const InodeRecord&, const InodeRecord&) = default;
};
std::vector<uint8_t> encode_inode(const InodeRecord& record);  // ASSERTs the limits
Result<InodeRecord> decode_inode(std::span<const uint8_t> bytes);

// --- Block maps ---------------------------------------------------------------------------------
// A file's block map is a tree of block index -> BlockRef (48 bytes: fp, container, offset,
// length); holes are absent keys.
inline constexpr size_t kMapValueBytes = 48;
std::vector<uint8_t> encode_map_value(const BlockRef& ref);  // ASSERTs container != 0
Result<BlockRef> decode_map_value(std::span<const uint8_t> bytes);

// --- Directories ---------------------------------------------------------------------------------
// An entry's key in its directory's tree is its readdir cookie, stable for the entry's life:
//   key = (max(h, 1) << 8) | collision, h = the top 56 bits of SHA-256(salt || name),
// collision = the smallest of 0..255 not used by another name with the same h in this directory.
// Cookies 0..255 are never keys (0 starts a listing). Iterating keys in order lists the
// directory; inserting or removing a name never changes another entry's cookie, so a listing
// resumed from a cookie under concurrent changes neither repeats nor skips a surviving entry.
inline constexpr unsigned kDirCollisionBits = 8;
inline constexpr uint64_t kDirCollisionsMax = uint64_t{1} << kDirCollisionBits;
// h, 56 bits, >= 1 (`sha` is only the hashing state: reused, it saves a fetch per call).
uint64_t dir_name_hash(Sha256& sha, uint64_t salt, std::string_view name);
inline uint64_t dir_key(uint64_t hash, uint64_t collision) {
  return (hash << kDirCollisionBits) | collision;
}
inline uint64_t dir_key_first(uint64_t hash) { return dir_key(hash, 0); }
inline uint64_t dir_key_last(uint64_t hash) { return dir_key(hash, kDirCollisionsMax - 1); }

struct DirEntry {
  uint64_t inode = 0;
  FileType type = FileType::kRegular;
  std::string name;  // 1..kNameBytesMax bytes, not "." or "..", no '/' or NUL
  friend bool operator==(const DirEntry&, const DirEntry&) = default;
};
std::vector<uint8_t> encode_dir_entry(const DirEntry& entry);
Result<DirEntry> decode_dir_entry(std::span<const uint8_t> bytes);
// ok, or kNameTooLong / kInvalidArgument (empty, ".", "..", '/', NUL) naming the problem.
Result<void> check_name(std::string_view name);

// --- Operations in the log --------------------------------------------------------------------
// Each operation carries every decision (inode numbers, times, cookies) so applying it is a pure
// function of the state before it: replay after a crash reproduces memory exactly. `id` numbers
// operations 1, 2, 3, ... per datastore; replay skips ids a checkpoint covers and ids seen twice
// (a record the shelf stored twice).
enum class OpKind : uint8_t {
  kCreate = 1,   // new inode (any type) + entry in parent; parent mtime/ctime (+nlink for dirs)
  kLink = 2,     // entry in parent for an existing inode; nlink+1
  kUnlink = 3,   // remove entry (non-directory); nlink-1 (0: the inode becomes an orphan)
  kRmdir = 4,    // remove an empty directory's entry and inode
  kRename = 5,   // move an entry, replacing the target entry if any (its inode: unlink/rmdir)
  kSetattr = 6,  // mode/uid/gid/size/atime/mtime as flagged; ctime
  kWrite = 7,    // size = max(size, end); mtime = ctime = time
  kReap = 8,     // drop an orphan inode (nlink 0) whose data the same record removed
};
inline constexpr uint8_t kOpKindMax = 8;

inline constexpr uint32_t kSetMode = 1 << 0;
inline constexpr uint32_t kSetUid = 1 << 1;
inline constexpr uint32_t kSetGid = 1 << 2;
inline constexpr uint32_t kSetSize = 1 << 3;
inline constexpr uint32_t kSetAtime = 1 << 4;
inline constexpr uint32_t kSetMtime = 1 << 5;
inline constexpr uint32_t kSetMask = (1 << 6) - 1;

struct FsOp {
  OpKind kind = OpKind::kCreate;
  uint64_t id = 0;
  WallTime time{};     // the operation's ctime/mtime
  uint64_t inode = 0;  // the inode created, linked, unlinked, renamed, set, written or reaped
  // kCreate / kLink / kUnlink / kRmdir: parent + name (+ cookie key for create/link).
  // kRename: from parent + name -> to parent + name (to_key: the target's cookie key).
  uint64_t parent = 0;
  std::string name;
  uint64_t key = 0;
  uint64_t to_parent = 0;
  std::string to_name;
  uint64_t to_key = 0;
  uint64_t replaced_inode = 0;  // kRename: the inode whose entry the rename replaced (0: none)
  // kCreate: the new inode's attributes (type, mode, uid, gid, rdev), verifier, symlink target.
  Attributes attrs;
  uint64_t create_verifier = 0;
  std::string symlink_target;
  // kSetattr: which fields (kSet*), values in attrs (size in attrs.size).
  uint32_t set_mask = 0;
  // kWrite: the end of the written range.
  uint64_t end = 0;
  friend bool operator==(const FsOp&, const FsOp&) = default;
};
inline constexpr size_t kFsOpBytesMax = 4096;  // <= blockstore::kRecordFsOpBytesMax
static_assert(kFsOpBytesMax <= blockstore::kRecordFsOpBytesMax);
std::vector<uint8_t> encode_op(const FsOp& op);  // ASSERTs the limits; size <= kFsOpBytesMax
Result<FsOp> decode_op(std::span<const uint8_t> bytes);

// --- The checkpoint ------------------------------------------------------------------------------
inline constexpr size_t kOrphansMax = 1024;  // namespace operations wait while more are unreaped
// What a datastore took in since it was formatted, as of a checkpoint (the figures arrayctl's
// ratios come from): written = bytes of non-zero blocks written (overwrites included), unique =
// logical bytes of the chunks stored new (dedup misses, metadata chunks included), stored = their
// bytes after compression. Until space reclamation exists all three only grow.
struct DataFigures {
  uint64_t written_bytes = 0;
  uint64_t unique_bytes = 0;
  uint64_t stored_bytes = 0;
  friend bool operator==(const DataFigures&, const DataFigures&) = default;
};

struct Superblock {
  uint64_t fs_id = 0;  // random at format; the directory hash salt; NFS fsid
  uint32_t block_size = 4096;
  uint32_t log_id = 0;  // the NVRAM log (a host slot on the shelf) this datastore writes
  WallTime created{};
  std::optional<BlockRef> inode_table;  // root of the inode table tree (nullopt: empty)
  uint64_t next_inode = kRootInode + 1;
  uint64_t last_op_id = 0;   // every operation with an id <= this is in this checkpoint
  uint64_t checkpoints = 0;  // how many checkpoints made this one (1 after format)
  uint64_t inodes = 0;       // live inodes (fsstat)
  // Regular files unlinked (nlink 0) whose data was not yet dropped: reaped at open.
  std::vector<uint64_t> orphans;  // <= kOrphansMax
  // Encoded after the orphans. A superblock written before they existed ends with the orphans:
  // it decodes with zero figures.
  DataFigures figures;
  friend bool operator==(const Superblock&, const Superblock&) = default;
};
std::vector<uint8_t> encode_superblock(const Superblock& superblock);
Result<Superblock> decode_superblock(std::span<const uint8_t> bytes);

// The datastore's lease register value: who owns it, under which epoch (the register's epoch).
struct Lease {
  uint32_t owner_host = 0;
  uint64_t epoch = 0;
  friend bool operator==(const Lease&, const Lease&) = default;
};
std::vector<uint8_t> encode_lease(const Lease& lease);
Result<Lease> decode_lease(std::span<const uint8_t> bytes);

// Register names.
std::string root_register(std::string_view datastore);
std::string lease_register(std::string_view datastore);

}  // namespace splitarray::hostdriver::fs
