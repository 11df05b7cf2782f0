// hostdriver/fs/records.cpp
// Codecs for the file system's persistent formats (records.h). Every encoding is
//
//   0  1  magic: 'I' inode, 'D' dir entry, 'O' operation, 'S' superblock, 'L' lease
//   1  1  version (1)
//   2  .. fields in the order below, little-endian (common/endian.h); WallTime as i64 nanos
//   -4 4  CRC32C of every byte before it
//
//   Attributes (73 bytes): inode u64, generation u64, type u8, mode u32, uid u32, gid u32,
//     nlink u32, size u64, rdev_major u32, rdev_minor u32, atime i64, mtime i64, ctime i64
//   optional BlockRef (1 or 49 bytes): presence u8 (0 absent, 1 present), then if present
//     fp[32], container_id u64 (never 0), offset u32, length u32
//   string: u16 byte count, bytes
//
//   InodeRecord: Attributes, parent u64, entries u64, create_verifier u64, dir_root ref,
//     map_root ref,
//     symlink_target string (<= kSymlinkBytesMax)
//   DirEntry:    inode u64, type u8, name string (check_name)
//   FsOp:        kind u8, id u64, time i64, inode u64, parent u64, name string, key u64,
//     to_parent u64, to_name string, to_key u64, replaced_inode u64, Attributes,
//     create_verifier u64, symlink_target string, set_mask u32, end u64
//   Superblock:  fs_id u64, block_size u32, log_id u32, created i64, inode_table ref,
//     next_inode u64, last_op_id u64, checkpoints u64, inodes u64, orphan count u32,
//     orphans u64 each (<= kOrphansMax)
//   Lease:       owner_host u32, epoch u64
//
// FsOp encodes every field whatever its kind (one fixed layout: simplest to get right and to
// fuzz; the unused fields cost a few dozen bytes in a log record). The kind decides only which
// names must be valid: kCreate/kLink/kUnlink/kRmdir need a valid name and an empty to_name,
// kRename two valid names, kSetattr/kWrite/kReap two empty names. So decode(encode(op)) == op.
//
// One set of rules (validate_*) serves both directions: decode returns its kCorruption, encode
// ASSERTs it (a record we build that breaks it is a bug). Encodings are canonical: an accepted
// input re-encodes to exactly its bytes (the fuzz oracle, tests/fuzz/fs_records_fuzz.cpp).
#include "hostdriver/fs/records.h"

#include <algorithm>
#include <string>

#include "common/assert.h"
#include "common/crc32c.h"
#include "common/endian.h"
#include "hostdriver/chunk/chunk_codec.h"
#include "hostdriver/fs/byte_codec.h"
#include "hostdriver/meta/btree_node.h"

namespace splitarray::hostdriver::fs {
namespace {

constexpr uint8_t kVersion = 1;
// Superblocks are written with version 2, which appends the DataFigures; version 1 (written
// before they existed) still decodes, with zero figures.
constexpr uint8_t kSuperblockVersion = 2;
constexpr uint8_t kMagicInode = 'I';
constexpr uint8_t kMagicDirEntry = 'D';
constexpr uint8_t kMagicOp = 'O';
constexpr uint8_t kMagicSuperblock = 'S';
constexpr uint8_t kMagicLease = 'L';
constexpr uint32_t kModeMask = 07777;

// Encoded sizes; each *_min has every string empty and every ref absent.
constexpr size_t kHeaderBytes = 2;  // magic, version
constexpr size_t kCrcBytes = 4;
constexpr size_t kFramingBytes = kHeaderBytes + kCrcBytes;
constexpr size_t kAttributesBytes = 8 + 8 + 1 + 4 * 4 + 8 + 4 + 4 + 3 * 8;
constexpr size_t kRefAbsentBytes = 1;
constexpr size_t kRefPresentBytes = 1 + protocol::kFingerprintBytes + 8 + 4 + 4;
constexpr size_t kInodeBytesMin =
    kFramingBytes + kAttributesBytes + 3 * 8 + 2 * kRefAbsentBytes + kStringLengthBytes;
constexpr size_t kInodeBytesMax =
    kInodeBytesMin + 2 * (kRefPresentBytes - kRefAbsentBytes) + kSymlinkBytesMax;
constexpr size_t kDirEntryBytesMin = kFramingBytes + 8 + 1 + kStringLengthBytes;
constexpr size_t kDirEntryBytesMax = kDirEntryBytesMin + kNameBytesMax;
constexpr size_t kOpBytesMin = kFramingBytes + 1 + 8 * 4 + kStringLengthBytes + 8 * 2 +
                               kStringLengthBytes + 8 * 2 + kAttributesBytes + 8 +
                               kStringLengthBytes + 4 + 8;
constexpr size_t kOpBytesMax = kOpBytesMin + 2 * kNameBytesMax + kSymlinkBytesMax;
constexpr size_t kSuperblockBytesMin =
    kFramingBytes + 8 + 4 + 4 + 8 + kRefAbsentBytes + 4 * 8 + 4;  // + orphan count
constexpr size_t kDataFiguresBytes = 3 * 8;
constexpr size_t kSuperblockBytesMax =
    kSuperblockBytesMin + kRefPresentBytes - kRefAbsentBytes + 8 * kOrphansMax + kDataFiguresBytes;
static_assert(kSuperblockBytesMax <= 64 * 1024, "a register value holds at most 64 KiB");
constexpr size_t kLeaseBytes = kFramingBytes + 4 + 8;

static_assert(kAttributesBytes == 73);
// An inode record is a value in the metadata B-tree (a symlink's target included).
static_assert(kInodeBytesMax <= meta::kValueBytesMax);
// Any valid operation fits the log record's fs-op slot (a rename with two 255-byte names and a
// 1024-byte target is ~1.7 KiB).
static_assert(kOpBytesMax <= kFsOpBytesMax);
static_assert(kNameBytesMax <= UINT16_MAX && kSymlinkBytesMax <= UINT16_MAX, "u16 lengths");

Error corrupt(const char* record, const std::string& what) {
  return make_error(Code::kCorruption, std::string("fs ") + record + ": " + what);
}

// A failed validate_* on a record we are about to write: a bug, with the reason in the report.
void assert_valid(const Result<void>& valid) {
  if (!valid.ok()) assert_fail("record valid", __FILE__, __LINE__, valid.error().message.c_str());
}

bool valid_type(FileType type) {
  const auto raw = static_cast<uint8_t>(type);
  return raw >= 1 && raw <= kFileTypeMax;
}

Result<void> validate_attributes(const char* record, const Attributes& attrs) {
  if (!valid_type(attrs.type)) return corrupt(record, "attrs.type out of range");
  if ((attrs.mode & ~kModeMask) != 0) return corrupt(record, "attrs.mode beyond 07777");
  return ok_result();
}

Result<void> validate_ref(const char* record, const char* field,
                          const std::optional<BlockRef>& ref) {
  if (ref && ref->location.container_id == 0) {
    return corrupt(record, std::string(field) + " has container id 0");
  }
  return ok_result();
}

Result<void> validate_name(const char* record, const char* field, const std::string& name) {
  Result<void> checked = check_name(name);
  if (!checked.ok()) return corrupt(record, std::string(field) + ": " + checked.error().message);
  return ok_result();
}

Result<void> validate_target(const char* record, const std::string& target) {
  if (target.size() > kSymlinkBytesMax) return corrupt(record, "symlink_target too long");
  return ok_result();
}

void put_header(ByteWriter& w, uint8_t magic, uint8_t version = kVersion) {
  w.u8(magic);
  w.u8(version);
}

std::vector<uint8_t> finish(ByteWriter&& w, size_t min_bytes, size_t max_bytes) {
  std::vector<uint8_t> out = std::move(w).take();
  const uint32_t crc = crc32c(out);
  out.resize(out.size() + kCrcBytes);
  put_u32(out, out.size() - kCrcBytes, crc);
  ASSERT(out.size() >= min_bytes);
  ASSERT(out.size() <= max_bytes);
  return out;
}

// Checks the framing and returns a reader over the fields (between header and CRC).
Result<ByteReader> open_record(const char* record, std::span<const uint8_t> bytes, uint8_t magic,
                               size_t min_bytes, uint8_t max_version = kVersion) {
  if (bytes.size() < min_bytes) return corrupt(record, "shorter than its minimum length");
  ASSERT(min_bytes >= kFramingBytes);
  if (bytes[0] != magic) return corrupt(record, "bad magic");
  const size_t body = bytes.size() - kCrcBytes;
  if (get_u32(bytes, body) != crc32c(bytes.first(body))) return corrupt(record, "bad CRC");
  if (bytes[1] < kVersion || bytes[1] > max_version) return corrupt(record, "unknown version");
  return ByteReader(bytes.subspan(kHeaderBytes, body - kHeaderBytes));
}

// After every field is read: no overrun and nothing left over.
Result<void> close_record(const char* record, const ByteReader& r) {
  if (!r.ok()) return corrupt(record, std::string(r.failed_field()) + " truncated");
  if (r.remaining() != 0) return corrupt(record, "trailing bytes");
  return ok_result();
}

void put_attributes(ByteWriter& w, const Attributes& a) {
  w.u64(a.inode);
  w.u64(a.generation);
  w.u8(static_cast<uint8_t>(a.type));
  w.u32(a.mode);
  w.u32(a.uid);
  w.u32(a.gid);
  w.u32(a.nlink);
  w.u64(a.size);
  w.u32(a.rdev_major);
  w.u32(a.rdev_minor);
  w.i64(a.atime.nanos);
  w.i64(a.mtime.nanos);
  w.i64(a.ctime.nanos);
}

// The type byte is stored as is (FileType has a fixed underlying type, so any byte is a value);
// validate_attributes rejects it later if out of range.
Attributes get_attributes(ByteReader& r) {
  Attributes a;
  a.inode = r.u64("attrs.inode");
  a.generation = r.u64("attrs.generation");
  a.type = static_cast<FileType>(r.u8("attrs.type"));
  a.mode = r.u32("attrs.mode");
  a.uid = r.u32("attrs.uid");
  a.gid = r.u32("attrs.gid");
  a.nlink = r.u32("attrs.nlink");
  a.size = r.u64("attrs.size");
  a.rdev_major = r.u32("attrs.rdev_major");
  a.rdev_minor = r.u32("attrs.rdev_minor");
  a.atime.nanos = r.i64("attrs.atime");
  a.mtime.nanos = r.i64("attrs.mtime");
  a.ctime.nanos = r.i64("attrs.ctime");
  return a;
}

void put_ref(ByteWriter& w, const std::optional<BlockRef>& ref) {
  w.u8(ref ? 1 : 0);
  if (!ref) return;
  w.bytes(ref->fp);
  w.u64(ref->location.container_id);
  w.u32(ref->location.offset);
  w.u32(ref->location.length);
}

// The presence byte decides the layout, so it is checked here, not in validate_*.
Result<std::optional<BlockRef>> get_ref(const char* record, const char* field, ByteReader& r) {
  const uint8_t present = r.u8(field);
  if (!r.ok() || present == 0) return std::optional<BlockRef>();
  if (present != 1) return corrupt(record, std::string(field) + " presence byte not 0 or 1");
  BlockRef ref;
  r.bytes(ref.fp, field);
  ref.location.container_id = r.u64(field);
  ref.location.offset = r.u32(field);
  ref.location.length = r.u32(field);
  return std::optional<BlockRef>(ref);
}

constexpr const char* kInode = "inode record";
constexpr const char* kDirEntry = "dir entry";
constexpr const char* kOp = "operation";
constexpr const char* kSuperblock = "superblock";
constexpr const char* kLease = "lease";

Result<void> validate_inode(const InodeRecord& record) {
  RETURN_IF_ERROR(validate_attributes(kInode, record.attrs));
  RETURN_IF_ERROR(validate_ref(kInode, "dir_root", record.dir_root));
  RETURN_IF_ERROR(validate_ref(kInode, "map_root", record.map_root));
  return validate_target(kInode, record.symlink_target);
}

Result<void> validate_dir_entry(const DirEntry& entry) {
  if (!valid_type(entry.type)) return corrupt(kDirEntry, "type out of range");
  return validate_name(kDirEntry, "name", entry.name);
}

Result<void> validate_op_names(const FsOp& op) {
  switch (op.kind) {
    case OpKind::kCreate:
    case OpKind::kLink:
    case OpKind::kUnlink:
    case OpKind::kRmdir:
      RETURN_IF_ERROR(validate_name(kOp, "name", op.name));
      if (!op.to_name.empty()) return corrupt(kOp, "to_name set for a kind without one");
      return ok_result();
    case OpKind::kRename:
      RETURN_IF_ERROR(validate_name(kOp, "name", op.name));
      return validate_name(kOp, "to_name", op.to_name);
    case OpKind::kSetattr:
    case OpKind::kWrite:
    case OpKind::kReap:
      if (!op.name.empty()) return corrupt(kOp, "name set for a kind without one");
      if (!op.to_name.empty()) return corrupt(kOp, "to_name set for a kind without one");
      return ok_result();
  }
  return corrupt(kOp, "kind out of range");
}

Result<void> validate_op(const FsOp& op) {
  const auto kind = static_cast<uint8_t>(op.kind);
  if (kind < 1 || kind > kOpKindMax) return corrupt(kOp, "kind out of range");
  RETURN_IF_ERROR(validate_op_names(op));
  RETURN_IF_ERROR(validate_attributes(kOp, op.attrs));
  RETURN_IF_ERROR(validate_target(kOp, op.symlink_target));
  if ((op.set_mask & ~kSetMask) != 0) return corrupt(kOp, "set_mask has unknown bits");
  return ok_result();
}

Result<void> validate_superblock(const Superblock& superblock) {
  // The block size sizes metadata nodes and chunks: a wrong one must not reach them.
  if (!chunk::is_valid_block_size(superblock.block_size)) {
    return corrupt(kSuperblock, "block_size not a valid block size");
  }
  if (superblock.orphans.size() > kOrphansMax) return corrupt(kSuperblock, "too many orphans");
  return validate_ref(kSuperblock, "inode_table", superblock.inode_table);
}

}  // namespace

// --- Inode records -------------------------------------------------------------------------------

std::vector<uint8_t> encode_inode(const InodeRecord& record) {
  assert_valid(validate_inode(record));
  ByteWriter w(kInodeBytesMax);
  put_header(w, kMagicInode);
  put_attributes(w, record.attrs);
  w.u64(record.parent);
  w.u64(record.entries);
  w.u64(record.create_verifier);
  put_ref(w, record.dir_root);
  put_ref(w, record.map_root);
  w.str(record.symlink_target);
  return finish(std::move(w), kInodeBytesMin, kInodeBytesMax);
}

Result<InodeRecord> decode_inode(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(ByteReader r, open_record(kInode, bytes, kMagicInode, kInodeBytesMin));
  InodeRecord record;
  record.attrs = get_attributes(r);
  record.parent = r.u64("parent");
  record.entries = r.u64("entries");
  record.create_verifier = r.u64("create_verifier");
  ASSIGN_OR_RETURN(record.dir_root, get_ref(kInode, "dir_root", r));
  ASSIGN_OR_RETURN(record.map_root, get_ref(kInode, "map_root", r));
  record.symlink_target = r.str("symlink_target");
  RETURN_IF_ERROR(close_record(kInode, r));
  RETURN_IF_ERROR(validate_inode(record));
  return record;
}

// --- Block maps ----------------------------------------------------------------------------------

std::vector<uint8_t> encode_map_value(const BlockRef& ref) {
  ASSERT(ref.location.container_id != 0);
  ASSERT(ref.location.length != 0);
  std::vector<uint8_t> out(kMapValueBytes);
  std::copy(ref.fp.begin(), ref.fp.end(), out.begin());
  put_u64(out, 32, ref.location.container_id);
  put_u32(out, 40, ref.location.offset);
  put_u32(out, 44, ref.location.length);
  return out;
}

Result<BlockRef> decode_map_value(std::span<const uint8_t> bytes) {
  if (bytes.size() != kMapValueBytes) {
    return make_error(Code::kCorruption,
                      "block map value of " + std::to_string(bytes.size()) + " bytes");
  }
  BlockRef ref;
  std::copy(bytes.begin(), bytes.begin() + 32, ref.fp.begin());
  ref.location.container_id = get_u64(bytes, 32);
  ref.location.offset = get_u32(bytes, 40);
  ref.location.length = get_u32(bytes, 44);
  if (ref.location.container_id == 0 || ref.location.length == 0) {
    return make_error(Code::kCorruption, "block map value without a location");
  }
  return ref;
}

// --- Directories ---------------------------------------------------------------------------------

uint64_t dir_name_hash(Sha256& sha, uint64_t salt, std::string_view name) {
  // SHA-256(salt as 8 little-endian bytes || name); h = the digest's first 7 bytes read
  // big-endian (its top 56 bits). Persistent: cookies are keys on disk, so this never changes.
  std::array<uint8_t, 8> salt_bytes{};
  put_u64(salt_bytes, 0, salt);
  const auto* name_bytes = reinterpret_cast<const uint8_t*>(name.data());
  const Sha256::Digest digest = sha.digest({salt_bytes, std::span(name_bytes, name.size())});
  uint64_t h = 0;
  for (size_t i = 0; i < 7; ++i) h = (h << 8) | digest[i];
  h = std::max<uint64_t>(h, 1);  // key 0..255 are never cookies (0 starts a listing)
  ASSERT(h >= 1);
  ASSERT(h < (uint64_t{1} << (64 - kDirCollisionBits)));
  return h;
}

std::vector<uint8_t> encode_dir_entry(const DirEntry& entry) {
  assert_valid(validate_dir_entry(entry));
  ByteWriter w(kDirEntryBytesMax);
  put_header(w, kMagicDirEntry);
  w.u64(entry.inode);
  w.u8(static_cast<uint8_t>(entry.type));
  w.str(entry.name);
  return finish(std::move(w), kDirEntryBytesMin, kDirEntryBytesMax);
}

Result<DirEntry> decode_dir_entry(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(ByteReader r, open_record(kDirEntry, bytes, kMagicDirEntry, kDirEntryBytesMin));
  DirEntry entry;
  entry.inode = r.u64("inode");
  entry.type = static_cast<FileType>(r.u8("type"));
  entry.name = r.str("name");
  RETURN_IF_ERROR(close_record(kDirEntry, r));
  RETURN_IF_ERROR(validate_dir_entry(entry));
  return entry;
}

Result<void> check_name(std::string_view name) {
  if (name.empty()) return make_error(Code::kInvalidArgument, "name is empty");
  if (name.size() > kNameBytesMax) {
    return make_error(Code::kNameTooLong, "name is " + std::to_string(name.size()) +
                                              " bytes, more than " + std::to_string(kNameBytesMax));
  }
  if (name == "." || name == "..") {
    return make_error(Code::kInvalidArgument, "name is \"" + std::string(name) + "\"");
  }
  if (name.find('/') != std::string_view::npos) {
    return make_error(Code::kInvalidArgument, "name contains '/'");
  }
  if (name.find('\0') != std::string_view::npos) {
    return make_error(Code::kInvalidArgument, "name contains a NUL byte");
  }
  return ok_result();
}

// --- Operations ----------------------------------------------------------------------------------

std::vector<uint8_t> encode_op(const FsOp& op) {
  assert_valid(validate_op(op));
  ByteWriter w(kOpBytesMax);
  put_header(w, kMagicOp);
  w.u8(static_cast<uint8_t>(op.kind));
  w.u64(op.id);
  w.i64(op.time.nanos);
  w.u64(op.inode);
  w.u64(op.parent);
  w.str(op.name);
  w.u64(op.key);
  w.u64(op.to_parent);
  w.str(op.to_name);
  w.u64(op.to_key);
  w.u64(op.replaced_inode);
  put_attributes(w, op.attrs);
  w.u64(op.create_verifier);
  w.str(op.symlink_target);
  w.u32(op.set_mask);
  w.u64(op.end);
  std::vector<uint8_t> out = finish(std::move(w), kOpBytesMin, kOpBytesMax);
  ASSERT(out.size() <= kFsOpBytesMax);
  return out;
}

Result<FsOp> decode_op(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(ByteReader r, open_record(kOp, bytes, kMagicOp, kOpBytesMin));
  FsOp op;
  op.kind = static_cast<OpKind>(r.u8("kind"));
  op.id = r.u64("id");
  op.time.nanos = r.i64("time");
  op.inode = r.u64("inode");
  op.parent = r.u64("parent");
  op.name = r.str("name");
  op.key = r.u64("key");
  op.to_parent = r.u64("to_parent");
  op.to_name = r.str("to_name");
  op.to_key = r.u64("to_key");
  op.replaced_inode = r.u64("replaced_inode");
  op.attrs = get_attributes(r);
  op.create_verifier = r.u64("create_verifier");
  op.symlink_target = r.str("symlink_target");
  op.set_mask = r.u32("set_mask");
  op.end = r.u64("end");
  RETURN_IF_ERROR(close_record(kOp, r));
  RETURN_IF_ERROR(validate_op(op));
  return op;
}

// --- The checkpoint and the lease ----------------------------------------------------------------

std::vector<uint8_t> encode_superblock(const Superblock& superblock) {
  assert_valid(validate_superblock(superblock));
  ByteWriter w(kSuperblockBytesMax);
  put_header(w, kMagicSuperblock, kSuperblockVersion);
  w.u64(superblock.fs_id);
  w.u32(superblock.block_size);
  w.u32(superblock.log_id);
  w.i64(superblock.created.nanos);
  put_ref(w, superblock.inode_table);
  w.u64(superblock.next_inode);
  w.u64(superblock.last_op_id);
  w.u64(superblock.checkpoints);
  w.u64(superblock.inodes);
  w.u32(static_cast<uint32_t>(superblock.orphans.size()));
  for (uint64_t orphan : superblock.orphans) w.u64(orphan);
  w.u64(superblock.figures.written_bytes);
  w.u64(superblock.figures.unique_bytes);
  w.u64(superblock.figures.stored_bytes);
  return finish(std::move(w), kSuperblockBytesMin, kSuperblockBytesMax);
}

Result<Superblock> decode_superblock(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(ByteReader r, open_record(kSuperblock, bytes, kMagicSuperblock,
                                             kSuperblockBytesMin, kSuperblockVersion));
  const uint8_t version = bytes[1];  // open_record checked it
  Superblock superblock;
  superblock.fs_id = r.u64("fs_id");
  superblock.block_size = r.u32("block_size");
  superblock.log_id = r.u32("log_id");
  superblock.created.nanos = r.i64("created");
  ASSIGN_OR_RETURN(superblock.inode_table, get_ref(kSuperblock, "inode_table", r));
  superblock.next_inode = r.u64("next_inode");
  superblock.last_op_id = r.u64("last_op_id");
  superblock.checkpoints = r.u64("checkpoints");
  superblock.inodes = r.u64("inodes");
  const uint32_t orphans = r.u32("orphan count");
  if (orphans > kOrphansMax) return corrupt(kSuperblock, "too many orphans");
  superblock.orphans.resize(orphans);
  for (uint64_t& orphan : superblock.orphans) orphan = r.u64("orphans");
  if (version >= 2) {
    superblock.figures.written_bytes = r.u64("written_bytes");
    superblock.figures.unique_bytes = r.u64("unique_bytes");
    superblock.figures.stored_bytes = r.u64("stored_bytes");
  }
  RETURN_IF_ERROR(close_record(kSuperblock, r));
  RETURN_IF_ERROR(validate_superblock(superblock));
  return superblock;
}

std::vector<uint8_t> encode_lease(const Lease& lease) {
  ByteWriter w(kLeaseBytes);
  put_header(w, kMagicLease);
  w.u32(lease.owner_host);
  w.u64(lease.epoch);
  return finish(std::move(w), kLeaseBytes, kLeaseBytes);
}

Result<Lease> decode_lease(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(ByteReader r, open_record(kLease, bytes, kMagicLease, kLeaseBytes));
  Lease lease;
  lease.owner_host = r.u32("owner_host");
  lease.epoch = r.u64("epoch");
  RETURN_IF_ERROR(close_record(kLease, r));
  return lease;
}

// --- Register names ------------------------------------------------------------------------------

std::string root_register(std::string_view datastore) {
  ASSERT(!datastore.empty());
  return "datastores/" + std::string(datastore) + "/root";
}

std::string lease_register(std::string_view datastore) {
  ASSERT(!datastore.empty());
  return "datastores/" + std::string(datastore) + "/lease";
}

}  // namespace splitarray::hostdriver::fs
