// tests/unit/hostdriver/fs/records_test.cpp
// The file system's persistent formats (hostdriver/fs/records.h): every record round-trips at its
// edge values, and every decoder turns damaged or out-of-contract bytes into kCorruption. Fields
// are located without hard-coding the layout: two encodings that differ in one field differ
// first at that field's offset (field_offset), and a name or target is found by its bytes.
#include <doctest/doctest.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "common/crc32c.h"
#include "common/endian.h"
#include "hostdriver/fs/records.h"

namespace splitarray::hostdriver::fs {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr size_t kCrcBytes = 4;
constexpr size_t kHashBits = 64 - kDirCollisionBits;

// Recomputes the trailing CRC, so a patched field reaches the decoder's field checks.
void recrc(Bytes& bytes) {
  REQUIRE(bytes.size() >= kCrcBytes);
  const size_t body = bytes.size() - kCrcBytes;
  put_u32(bytes, body, crc32c(std::span<const uint8_t>(bytes).first(body)));
}

// The offset of the one field in which the records behind a and b differ.
size_t field_offset(const Bytes& a, const Bytes& b) {
  REQUIRE(a.size() == b.size());
  const auto end = a.end() - kCrcBytes;
  const auto mismatch = std::mismatch(a.begin(), end, b.begin());
  REQUIRE(mismatch.first != end);
  return static_cast<size_t>(mismatch.first - a.begin());
}

// The offset of a string's bytes, which must occur exactly once in the encoding.
size_t find_text(const Bytes& bytes, std::string_view text) {
  const auto at = std::search(bytes.begin(), bytes.end(), text.begin(), text.end());
  REQUIRE(at != bytes.end());
  REQUIRE(std::search(at + 1, bytes.end(), text.begin(), text.end()) == bytes.end());
  return static_cast<size_t>(at - bytes.begin());
}

// Replaces the string `old_text` (its u16 length just before it) with `text`, with a valid CRC.
Bytes replace_string(Bytes bytes, std::string_view old_text, std::string_view text) {
  const size_t at = find_text(bytes, old_text);
  REQUIRE(at >= 2);
  REQUIRE(get_u16(bytes, at - 2) == old_text.size());
  put_u16(bytes, at - 2, static_cast<uint16_t>(text.size()));
  bytes.erase(bytes.begin() + static_cast<ptrdiff_t>(at),
              bytes.begin() + static_cast<ptrdiff_t>(at + old_text.size()));
  bytes.insert(bytes.begin() + static_cast<ptrdiff_t>(at), text.begin(), text.end());
  recrc(bytes);
  return bytes;
}

Bytes patched_u8(Bytes bytes, size_t at, uint8_t value) {
  bytes.at(at) = value;
  recrc(bytes);
  return bytes;
}

Bytes patched_u32(Bytes bytes, size_t at, uint32_t value) {
  put_u32(bytes, at, value);
  recrc(bytes);
  return bytes;
}

Bytes patched_u64(Bytes bytes, size_t at, uint64_t value) {
  put_u64(bytes, at, value);
  recrc(bytes);
  return bytes;
}

template <class Decode>
void check_corrupt(Decode decode, const Bytes& bytes, std::string_view mentions = {}) {
  auto decoded = decode(std::span<const uint8_t>(bytes));
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.code() == Code::kCorruption);
  if (!mentions.empty()) {
    INFO("message: ", decoded.error().message);
    CHECK(decoded.error().message.find(mentions) != std::string::npos);
  }
}

// Damage every decoder must reject: truncations (with the old CRC and with a fresh one), any
// flipped bit, wrong magic or version, extra bytes before or after the CRC.
template <class Decode>
void check_rejects_damage(Decode decode, const Bytes& good) {
  REQUIRE(decode(std::span<const uint8_t>(good)).ok());
  for (size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    check_corrupt(decode, Bytes(good.begin(), good.begin() + static_cast<ptrdiff_t>(n)));
    if (n >= 2 && n < good.size() - kCrcBytes) {
      Bytes shorter(good.begin(), good.begin() + static_cast<ptrdiff_t>(n));
      shorter.resize(n + kCrcBytes);
      recrc(shorter);
      check_corrupt(decode, shorter);
    }
  }
  for (size_t bit = 0; bit < good.size() * 8; ++bit) {
    CAPTURE(bit);
    Bytes flipped = good;
    flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    check_corrupt(decode, flipped);
  }
  check_corrupt(decode, patched_u8(good, 0, static_cast<uint8_t>(good[0] ^ 0x20)), "magic");
  check_corrupt(decode, patched_u8(good, 1, 0), "version");
  check_corrupt(decode, patched_u8(good, 1, static_cast<uint8_t>(good[1] + 1)), "version");
  Bytes trailing = good;
  trailing.insert(trailing.end() - kCrcBytes, uint8_t{0});
  recrc(trailing);
  check_corrupt(decode, trailing, "trailing");
  Bytes after_crc = good;
  after_crc.push_back(0);
  check_corrupt(decode, after_crc);
}

template <class T, class Encode, class Decode>
void check_round_trip(const T& value, Encode encode, Decode decode) {
  const Bytes bytes = encode(value);
  auto decoded = decode(std::span<const uint8_t>(bytes));
  REQUIRE(decoded.ok());
  CHECK(*decoded == value);
  CHECK(encode(*decoded) == bytes);
}

const std::vector<FileType> kAllTypes = {
    FileType::kRegular,    FileType::kDirectory, FileType::kSymlink, FileType::kBlockDevice,
    FileType::kCharDevice, FileType::kSocket,    FileType::kFifo};
const std::vector<OpKind> kAllKinds = {OpKind::kCreate, OpKind::kLink,   OpKind::kUnlink,
                                       OpKind::kRmdir,  OpKind::kRename, OpKind::kSetattr,
                                       OpKind::kWrite,  OpKind::kReap};
const std::vector<std::string> kBadNames = {
    "", ".", "..", "a/b", "/", std::string("a\0b", 3), std::string(kNameBytesMax + 1, 'n')};

BlockRef sample_ref(uint8_t seed) {
  BlockRef ref;
  ref.fp.fill(seed);
  ref.location = {
      .container_id = uint64_t{0x0102030405060708} + seed, .offset = 4096u * seed, .length = 77};
  return ref;
}

Attributes sample_attrs(FileType type) {
  return Attributes{.inode = 42,
                    .generation = 7,
                    .type = type,
                    .mode = 0755,
                    .uid = 1000,
                    .gid = 100,
                    .nlink = 2,
                    .size = 12345,
                    .rdev_major = 8,
                    .rdev_minor = 1,
                    .atime = {-1},
                    .mtime = {INT64_MIN},
                    .ctime = {INT64_MAX}};
}

Attributes max_attrs() {
  return Attributes{.inode = UINT64_MAX,
                    .generation = UINT64_MAX,
                    .type = FileType::kFifo,
                    .mode = 07777,
                    .uid = UINT32_MAX,
                    .gid = UINT32_MAX,
                    .nlink = kLinksMax,
                    .size = kFileBytesMax,
                    .rdev_major = UINT32_MAX,
                    .rdev_minor = UINT32_MAX,
                    .atime = {INT64_MAX},
                    .mtime = {INT64_MIN},
                    .ctime = {1'700'000'000'123'456'789}};
}

InodeRecord sample_inode(FileType type) {
  InodeRecord record;
  record.attrs = sample_attrs(type);
  record.parent = kRootInode;
  if (type == FileType::kDirectory) {
    record.entries = 3;
    record.dir_root = sample_ref(5);
  }
  if (type == FileType::kSymlink) record.symlink_target = "../some/where";
  if (type == FileType::kRegular) record.map_root = sample_ref(6);
  record.create_verifier = 0xfeedfacecafebeef;
  return record;
}

// The largest inode record: a symlink with a max-length target and a present ref.
InodeRecord max_inode() {
  InodeRecord record;
  record.attrs = max_attrs();
  record.parent = UINT64_MAX;
  record.entries = UINT64_MAX;
  record.create_verifier = UINT64_MAX;
  record.dir_root = sample_ref(0xff);
  record.map_root = sample_ref(0xfe);
  record.symlink_target = std::string(kSymlinkBytesMax, 'T');
  return record;
}

bool uses_name(OpKind kind) { return kind <= OpKind::kRename; }

FsOp sample_op(OpKind kind) {
  Sha256 sha;
  FsOp op;
  op.kind = kind;
  op.id = 1000 + static_cast<uint64_t>(kind);
  op.time = {-5'000'000'000};
  op.inode = 77;
  op.attrs = sample_attrs(FileType::kRegular);
  if (uses_name(kind)) {
    op.parent = kRootInode;
    op.name = "file.txt";
    op.key = dir_key(dir_name_hash(sha, 9, op.name), 0);
  }
  if (kind == OpKind::kRename) {
    op.to_parent = 5;
    op.to_name = "renamed";
    op.to_key = dir_key(dir_name_hash(sha, 9, op.to_name), 3);
    op.replaced_inode = 78;
  }
  if (kind == OpKind::kCreate) {
    op.attrs.type = FileType::kSymlink;
    op.symlink_target = "target";
    op.create_verifier = 12;
  }
  if (kind == OpKind::kSetattr) op.set_mask = kSetMode | kSetSize | kSetMtime;
  if (kind == OpKind::kWrite) op.end = kFileBytesMax;
  return op;
}

// The largest operation: a rename with two max-length names, a max-length target and every field
// at its maximum.
FsOp max_op() {
  FsOp op = sample_op(OpKind::kRename);
  op.id = op.inode = op.parent = op.key = op.to_parent = op.to_key = UINT64_MAX;
  op.replaced_inode = op.create_verifier = op.end = UINT64_MAX;
  op.time = {INT64_MIN};
  op.name = std::string(kNameBytesMax, 'a');
  op.to_name = std::string(kNameBytesMax, 'b');
  op.attrs = max_attrs();
  op.symlink_target = std::string(kSymlinkBytesMax, 'T');
  op.set_mask = kSetMask;
  return op;
}

Superblock sample_superblock() {
  Superblock superblock;
  superblock.fs_id = 0x1122334455667788;
  superblock.block_size = 65536;
  superblock.log_id = 3;
  superblock.created = {-86'400'000'000'000};
  superblock.inode_table = sample_ref(9);
  superblock.next_inode = 1'000'000;
  superblock.last_op_id = 999;
  superblock.checkpoints = 12;
  superblock.inodes = 500;
  superblock.orphans = {17, 23, UINT64_MAX};
  superblock.figures = {.written_bytes = 7 << 20, .unique_bytes = 3 << 20, .stored_bytes = 1 << 20};
  return superblock;
}

// prefix + i (appending: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string).
std::string numbered(std::string_view prefix, int i) {
  std::string name(prefix);
  name += std::to_string(i);
  return name;
}

const auto kDecodeInode = [](std::span<const uint8_t> b) { return decode_inode(b); };
const auto kDecodeDirEntry = [](std::span<const uint8_t> b) { return decode_dir_entry(b); };
const auto kDecodeOp = [](std::span<const uint8_t> b) { return decode_op(b); };
const auto kDecodeSuperblock = [](std::span<const uint8_t> b) { return decode_superblock(b); };
const auto kDecodeLease = [](std::span<const uint8_t> b) { return decode_lease(b); };
const auto kEncodeInode = [](const InodeRecord& v) { return encode_inode(v); };
const auto kEncodeDirEntry = [](const DirEntry& v) { return encode_dir_entry(v); };
const auto kEncodeOp = [](const FsOp& v) { return encode_op(v); };
const auto kEncodeSuperblock = [](const Superblock& v) { return encode_superblock(v); };
const auto kEncodeLease = [](const Lease& v) { return encode_lease(v); };

// Offsets of an optional ref's presence byte and container id in `bytes` (encoded with ref
// `seed_ref`), found from a twin encoding whose ref differs in fp and container.
struct RefOffsets {
  size_t presence = 0;
  size_t container = 0;
};
template <class T, class Encode>
RefOffsets ref_offsets(T value, std::optional<BlockRef> T::*field, Encode encode) {
  const Bytes a = encode(value);
  (value.*field)->fp[0] ^= 1;
  const size_t fp_at = field_offset(a, encode(value));
  (value.*field)->fp[0] ^= 1;
  (value.*field)->location.container_id ^= 1;
  return {.presence = fp_at - 1, .container = field_offset(a, encode(value))};
}

template <class T, class Encode, class Decode>
void check_rejects_bad_ref(T value, std::optional<BlockRef> T::*field, Encode encode, Decode decode,
                           std::string_view field_name) {
  value.*field = sample_ref(3);
  const Bytes good = encode(value);
  const RefOffsets at = ref_offsets(value, field, encode);
  REQUIRE(good[at.presence] == 1);
  check_corrupt(decode, patched_u8(good, at.presence, 2), field_name);
  check_corrupt(decode, patched_u8(good, at.presence, 0xff), field_name);
  check_corrupt(decode, patched_u64(good, at.container, 0), field_name);
  // Absent (0) with the ref's bytes still there: the fields after it are misread.
  check_corrupt(decode, patched_u8(good, at.presence, 0));
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("hostdriver/fs: inode records round-trip at their edge values") {
  for (FileType type : kAllTypes) {
    CAPTURE(static_cast<int>(type));
    InodeRecord record = sample_inode(type);
    check_round_trip(record, kEncodeInode, kDecodeInode);
    record.dir_root = record.dir_root ? std::nullopt : std::optional<BlockRef>(sample_ref(1));
    check_round_trip(record, kEncodeInode, kDecodeInode);
  }
  check_round_trip(InodeRecord{}, kEncodeInode, kDecodeInode);
  check_round_trip(max_inode(), kEncodeInode, kDecodeInode);
  // The metadata B-tree's value limit (hostdriver/meta kValueBytesMax).
  CHECK(encode_inode(max_inode()).size() <= 1280);
}

TEST_CASE("hostdriver/fs: inode record decoder rejects damage and bad fields") {
  check_rejects_damage(kDecodeInode, encode_inode(sample_inode(FileType::kDirectory)));
  check_rejects_damage(kDecodeInode, encode_inode(max_inode()));
  InodeRecord record = sample_inode(FileType::kRegular);
  const Bytes good = encode_inode(record);
  record.attrs.type = FileType::kDirectory;
  const size_t type_at = field_offset(good, encode_inode(record));
  check_corrupt(kDecodeInode, patched_u8(good, type_at, 0), "type");
  check_corrupt(kDecodeInode, patched_u8(good, type_at, kFileTypeMax + 1), "type");
  check_corrupt(kDecodeInode, patched_u8(good, type_at, 0xff), "type");
  record = sample_inode(FileType::kRegular);
  record.attrs.mode = 0754;
  const size_t mode_at = field_offset(good, encode_inode(record));
  check_corrupt(kDecodeInode, patched_u32(good, mode_at, 010000), "mode");
  check_corrupt(kDecodeInode, patched_u32(good, mode_at, UINT32_MAX), "mode");
  CHECK(decode_inode(patched_u32(good, mode_at, 07777)).ok());
  check_rejects_bad_ref(sample_inode(FileType::kDirectory), &InodeRecord::dir_root, kEncodeInode,
                        kDecodeInode, "dir_root");
  check_rejects_bad_ref(sample_inode(FileType::kRegular), &InodeRecord::map_root, kEncodeInode,
                        kDecodeInode, "map_root");
  const InodeRecord longest = max_inode();
  const Bytes max_bytes = encode_inode(longest);
  check_corrupt(
      kDecodeInode,
      replace_string(max_bytes, longest.symlink_target, std::string(kSymlinkBytesMax + 1, 'T')),
      "symlink_target");
  // A length that points past the end of the record.
  Bytes overlong = replace_string(max_bytes, longest.symlink_target, "");
  put_u16(overlong, overlong.size() - kCrcBytes - 2, 0xffff);
  recrc(overlong);
  check_corrupt(kDecodeInode, overlong, "symlink_target truncated");
}

TEST_CASE("hostdriver/fs: dir entries round-trip with every type and edge names") {
  const std::vector<std::string> names = {
      "a", std::string(kNameBytesMax, 'z'), std::string(kNameBytesMax, '\xff'), "...", ".a", "a."};
  for (FileType type : kAllTypes) {
    for (const std::string& name : names) {
      CAPTURE(static_cast<int>(type));
      CAPTURE(name.size());
      check_round_trip(DirEntry{.inode = UINT64_MAX, .type = type, .name = name}, kEncodeDirEntry,
                       kDecodeDirEntry);
    }
  }
}

TEST_CASE("hostdriver/fs: dir entry decoder rejects damage, bad types and bad names") {
  const DirEntry entry{.inode = 12, .type = FileType::kSocket, .name = "sock"};
  const Bytes good = encode_dir_entry(entry);
  check_rejects_damage(kDecodeDirEntry, good);
  DirEntry other = entry;
  other.type = FileType::kFifo;
  const size_t type_at = field_offset(good, encode_dir_entry(other));
  check_corrupt(kDecodeDirEntry, patched_u8(good, type_at, 0), "type");
  check_corrupt(kDecodeDirEntry, patched_u8(good, type_at, kFileTypeMax + 1), "type");
  for (const std::string& bad : kBadNames) {
    CAPTURE(bad);
    check_corrupt(kDecodeDirEntry, replace_string(good, entry.name, bad), "name");
  }
}

TEST_CASE("hostdriver/fs: operations of every kind round-trip") {
  for (OpKind kind : kAllKinds) {
    CAPTURE(static_cast<int>(kind));
    check_round_trip(sample_op(kind), kEncodeOp, kDecodeOp);
  }
  FsOp create = sample_op(OpKind::kCreate);
  for (FileType type : kAllTypes) {
    create.attrs.type = type;
    create.name = std::string(kNameBytesMax, 'c');
    create.symlink_target = type == FileType::kSymlink ? std::string(kSymlinkBytesMax, 's') : "";
    check_round_trip(create, kEncodeOp, kDecodeOp);
  }
  FsOp reap;
  reap.kind = OpKind::kReap;
  check_round_trip(reap, kEncodeOp, kDecodeOp);
  check_round_trip(max_op(), kEncodeOp, kDecodeOp);
  CHECK(encode_op(max_op()).size() <= kFsOpBytesMax);
}

TEST_CASE("hostdriver/fs: operation decoder rejects damage and bad kinds") {
  check_rejects_damage(kDecodeOp, encode_op(sample_op(OpKind::kRename)));
  check_rejects_damage(kDecodeOp, encode_op(max_op()));
  FsOp op = sample_op(OpKind::kUnlink);
  const Bytes unlink = encode_op(op);
  op.kind = OpKind::kLink;
  const size_t kind_at = field_offset(unlink, encode_op(op));
  check_corrupt(kDecodeOp, patched_u8(unlink, kind_at, 0), "kind");
  check_corrupt(kDecodeOp, patched_u8(unlink, kind_at, kOpKindMax + 1), "kind");
  check_corrupt(kDecodeOp, patched_u8(unlink, kind_at, 0xff), "kind");
  // Names must match the kind: none for setattr/write/reap, two for rename, one otherwise.
  for (OpKind kind : {OpKind::kSetattr, OpKind::kWrite, OpKind::kReap}) {
    check_corrupt(kDecodeOp, patched_u8(unlink, kind_at, static_cast<uint8_t>(kind)), "name");
  }
  check_corrupt(kDecodeOp, patched_u8(unlink, kind_at, static_cast<uint8_t>(OpKind::kRename)),
                "to_name");
  const Bytes rename = encode_op(sample_op(OpKind::kRename));
  for (OpKind kind : {OpKind::kCreate, OpKind::kLink, OpKind::kUnlink, OpKind::kRmdir}) {
    check_corrupt(kDecodeOp, patched_u8(rename, kind_at, static_cast<uint8_t>(kind)), "to_name");
  }
  const Bytes write = encode_op(sample_op(OpKind::kWrite));
  for (OpKind kind : {OpKind::kCreate, OpKind::kLink, OpKind::kUnlink, OpKind::kRmdir}) {
    check_corrupt(kDecodeOp, patched_u8(write, kind_at, static_cast<uint8_t>(kind)), "name");
  }
}

TEST_CASE("hostdriver/fs: operation decoder rejects bad names and fields") {
  const FsOp rename = sample_op(OpKind::kRename);
  const Bytes good = encode_op(rename);
  for (const std::string& bad : kBadNames) {
    CAPTURE(bad);
    check_corrupt(kDecodeOp, replace_string(good, rename.name, bad), "name");
    check_corrupt(kDecodeOp, replace_string(good, rename.to_name, bad), "to_name");
  }
  FsOp other = rename;
  other.set_mask = 2;
  const size_t mask_at = field_offset(good, encode_op(other));
  check_corrupt(kDecodeOp, patched_u32(good, mask_at, kSetMask + 1), "set_mask");
  check_corrupt(kDecodeOp, patched_u32(good, mask_at, UINT32_MAX), "set_mask");
  CHECK(decode_op(patched_u32(good, mask_at, kSetMask)).ok());
  other = rename;
  other.attrs.mode = 0754;
  check_corrupt(kDecodeOp, patched_u32(good, field_offset(good, encode_op(other)), 010000), "mode");
  other = rename;
  other.attrs.type = FileType::kFifo;
  check_corrupt(kDecodeOp, patched_u8(good, field_offset(good, encode_op(other)), 0), "type");
  const FsOp longest = max_op();
  check_corrupt(kDecodeOp,
                replace_string(encode_op(longest), longest.symlink_target,
                               std::string(kSymlinkBytesMax + 1, 'T')),
                "symlink_target");
}

TEST_CASE("hostdriver/fs: superblocks and leases round-trip") {
  Superblock superblock = sample_superblock();
  check_round_trip(superblock, kEncodeSuperblock, kDecodeSuperblock);
  superblock.inode_table.reset();
  superblock.block_size = 4096;
  check_round_trip(superblock, kEncodeSuperblock, kDecodeSuperblock);
  check_round_trip(Superblock{}, kEncodeSuperblock, kDecodeSuperblock);
  superblock.fs_id = superblock.next_inode = superblock.last_op_id = UINT64_MAX;
  superblock.checkpoints = superblock.inodes = UINT64_MAX;
  superblock.log_id = UINT32_MAX;
  superblock.created = {INT64_MAX};
  check_round_trip(superblock, kEncodeSuperblock, kDecodeSuperblock);
  superblock.orphans.assign(kOrphansMax, 42);  // the most a checkpoint may carry
  check_round_trip(superblock, kEncodeSuperblock, kDecodeSuperblock);
  superblock.figures = {.written_bytes = UINT64_MAX, .unique_bytes = 0, .stored_bytes = 1};
  check_round_trip(superblock, kEncodeSuperblock, kDecodeSuperblock);
  check_round_trip(Lease{}, kEncodeLease, kDecodeLease);
  check_round_trip(Lease{.owner_host = 7, .epoch = 123456789}, kEncodeLease, kDecodeLease);
  check_round_trip(Lease{.owner_host = UINT32_MAX, .epoch = UINT64_MAX}, kEncodeLease,
                   kDecodeLease);
}

// A datastore checkpointed before the figures existed (version 1: the record ends with the
// orphans) opens with zero figures; a version 2 record must carry them.
TEST_CASE("hostdriver/fs: a version 1 superblock decodes with zero figures") {
  Superblock superblock = sample_superblock();
  const Bytes current = encode_superblock(superblock);
  CHECK(current[1] == 2);
  Bytes old(current.begin(), current.end() - static_cast<ptrdiff_t>(kCrcBytes + 3 * 8));
  old[1] = 1;
  old.resize(old.size() + kCrcBytes);
  recrc(old);
  auto decoded = decode_superblock(old);
  REQUIRE_MESSAGE(decoded.ok(), decoded.error().to_string());
  superblock.figures = {};
  CHECK(*decoded == superblock);
  Bytes truncated(current.begin(), current.end() - static_cast<ptrdiff_t>(kCrcBytes + 3 * 8));
  truncated.resize(truncated.size() + kCrcBytes);
  recrc(truncated);  // version 2 without its figures
  check_corrupt(kDecodeSuperblock, truncated, "truncated");
}

TEST_CASE("hostdriver/fs: superblock and lease decoders reject damage and bad fields") {
  const Superblock superblock = sample_superblock();
  const Bytes good = encode_superblock(superblock);
  check_rejects_damage(kDecodeSuperblock, good);
  check_rejects_damage(kDecodeLease, encode_lease(Lease{.owner_host = 2, .epoch = 9}));
  check_rejects_bad_ref(superblock, &Superblock::inode_table, kEncodeSuperblock, kDecodeSuperblock,
                        "inode_table");
  Superblock other = superblock;
  other.block_size = 32768;
  // 65536 and 32768 share their low byte: they differ first in the field's second byte.
  const size_t size_at = field_offset(good, encode_superblock(other)) - 1;
  for (uint32_t bad : {0u, 2048u, 4097u, 12288u, 131072u, UINT32_MAX}) {
    CAPTURE(bad);
    check_corrupt(kDecodeSuperblock, patched_u32(good, size_at, bad), "block_size");
  }
  // A different record's bytes are not a superblock (nor the other way round).
  check_corrupt(kDecodeSuperblock, encode_lease(Lease{}), "");
  check_corrupt(kDecodeLease, good, "");
  check_corrupt(kDecodeInode, encode_op(sample_op(OpKind::kWrite)), "");
}

TEST_CASE("hostdriver/fs: check_name accepts names and names the problem otherwise") {
  for (const std::string& name :
       {std::string("a"), std::string("..."), std::string(".hidden"), std::string("a b"),
        std::string("caf\xc3\xa9"), std::string(kNameBytesMax, 'x'), std::string("\x01\xff")}) {
    CAPTURE(name);
    CHECK(check_name(name).ok());
  }
  auto too_long = check_name(std::string(kNameBytesMax + 1, 'x'));
  REQUIRE_FALSE(too_long.ok());
  CHECK(too_long.code() == Code::kNameTooLong);
  CHECK(check_name(std::string(10'000, 'x')).code() == Code::kNameTooLong);
  const std::vector<std::pair<std::string, std::string>> invalid = {{"", "empty"},
                                                                    {".", "\".\""},
                                                                    {"..", "\"..\""},
                                                                    {"a/b", "'/'"},
                                                                    {"/", "'/'"},
                                                                    {std::string("a\0b", 3), "NUL"},
                                                                    {std::string(1, '\0'), "NUL"}};
  for (const auto& pair : invalid) {
    CAPTURE(pair.first);
    auto checked = check_name(pair.first);
    REQUIRE_FALSE(checked.ok());
    CHECK(checked.code() == Code::kInvalidArgument);
    CHECK(checked.error().message.find(pair.second) != std::string::npos);
  }
}

TEST_CASE("hostdriver/fs: dir_name_hash is a fixed 56-bit function of salt and name") {
  // Golden values (SHA-256 computed independently): cookies are stored keys, so the function
  // must never change.
  Sha256 sha;
  CHECK(dir_name_hash(sha, 0x0123456789abcdef, "hello") == 0xe5dc0ca032cffc);
  CHECK(dir_name_hash(sha, 0, "a") == 0xd7fe8b5c4a5048);
  std::set<uint64_t> hashes;
  size_t salt_differs = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string name = numbered("name-", i);
    const uint64_t h = dir_name_hash(sha, 42, name);
    CHECK(h >= 1);
    CHECK(h < (uint64_t{1} << kHashBits));
    CHECK(h == dir_name_hash(sha, 42, name));
    hashes.insert(h);
    if (dir_name_hash(sha, 43, name) != h) ++salt_differs;
  }
  CHECK(hashes.size() == 1000);  // 1000 names in 2^56: a collision would be a broken hash
  CHECK(salt_differs == 1000);
  CHECK(dir_name_hash(sha, 42, "a") != dir_name_hash(sha, 42, "b"));
}

TEST_CASE("hostdriver/fs: dir keys of one hash are contiguous and sort by collision") {
  std::vector<uint64_t> hashes = {1, 2, 0xabcdef, (uint64_t{1} << kHashBits) - 1};
  Sha256 sha;
  for (int i = 0; i < 50; ++i) hashes.push_back(dir_name_hash(sha, 7, numbered("n", i)));
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  // Every key of each hash, in hash then collision order, must already be sorted: keys of one
  // hash form one run between dir_key_first and dir_key_last, and runs follow hash order.
  uint64_t previous = 0;
  for (uint64_t h : hashes) {
    CAPTURE(h);
    CHECK(dir_key_first(h) > previous);
    CHECK(dir_key_first(h) >= kDirCollisionsMax);  // cookies 0..255 are never keys
    for (uint64_t collision = 0; collision < kDirCollisionsMax; ++collision) {
      const uint64_t key = dir_key(h, collision);
      CHECK(previous < key);
      CHECK((key >> kDirCollisionBits) == h);
      CHECK(key >= dir_key_first(h));
      CHECK(key <= dir_key_last(h));
      previous = key;
    }
    CHECK(previous == dir_key_last(h));
  }
  CHECK(dir_key_last((uint64_t{1} << kHashBits) - 1) == UINT64_MAX);
  CHECK(dir_key_last(1) + 1 == dir_key_first(2));
}

TEST_CASE("hostdriver/fs: register names") {
  CHECK(root_register("ds1") == "datastores/ds1/root");
  CHECK(lease_register("ds1") == "datastores/ds1/lease");
  CHECK(root_register("x") != root_register("y"));
}

}  // namespace
}  // namespace splitarray::hostdriver::fs
