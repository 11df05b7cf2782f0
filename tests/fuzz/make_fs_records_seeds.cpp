// tests/fuzz/make_fs_records_seeds.cpp
// Writes the seed corpus of fs_records_fuzz (corpus/fs_records/): well-formed records of every
// type (inodes of every file type, with and without a directory root and a symlink target; dir
// entries; an operation of every kind, the largest one included; superblocks with and without an
// inode table; a lease), each with its decoder's mode byte, with and without the CRC-patch bit.
// usage: make_fs_records_seeds DIR
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "hostdriver/fs/records.h"

namespace fs = splitarray::hostdriver::fs;

namespace {

constexpr uint8_t kInode = 0, kDirEntry = 1, kOp = 2, kSuperblock = 3, kLease = 4;
constexpr uint8_t kModePatchCrc = 0x80;

struct Seed {
  uint8_t decoder;
  std::vector<uint8_t> bytes;
};

fs::BlockRef ref(uint8_t seed) {
  fs::BlockRef r;
  r.fp.fill(seed);
  r.location = {.container_id = 100u + seed, .offset = 4096u * seed, .length = 512};
  return r;
}

void add_inodes(std::vector<Seed>& seeds) {
  for (uint8_t type = 1; type <= fs::kFileTypeMax; ++type) {
    fs::InodeRecord record;
    record.attrs.inode = 10 + type;
    record.attrs.generation = 1;
    record.attrs.type = static_cast<fs::FileType>(type);
    record.attrs.mode = 0644;
    record.attrs.nlink = 1;
    record.attrs.mtime = {-1};
    record.parent = fs::kRootInode;
    if (record.attrs.type == fs::FileType::kDirectory) record.dir_root = ref(type);
    if (record.attrs.type == fs::FileType::kSymlink) record.symlink_target = "../target";
    seeds.push_back({kInode, fs::encode_inode(record)});
  }
}

void add_ops(std::vector<Seed>& seeds) {
  splitarray::Sha256 sha;
  for (uint8_t kind = 1; kind <= fs::kOpKindMax; ++kind) {
    fs::FsOp op;
    op.kind = static_cast<fs::OpKind>(kind);
    op.id = kind;
    op.time = {1'700'000'000'000'000'000};
    op.inode = 20 + kind;
    if (op.kind <= fs::OpKind::kRename) {
      op.parent = fs::kRootInode;
      op.name = "name" + std::to_string(kind);
      op.key = fs::dir_key(fs::dir_name_hash(sha, 1, op.name), 0);
    }
    if (op.kind == fs::OpKind::kRename) {
      op.to_parent = 5;
      op.to_name = "to";
      op.to_key = fs::dir_key(fs::dir_name_hash(sha, 1, op.to_name), 1);
    }
    if (op.kind == fs::OpKind::kSetattr) op.set_mask = fs::kSetMode | fs::kSetSize;
    if (op.kind == fs::OpKind::kWrite) op.end = 8192;
    seeds.push_back({kOp, fs::encode_op(op)});
  }
  fs::FsOp largest;
  largest.kind = fs::OpKind::kRename;
  largest.name = std::string(fs::kNameBytesMax, 'a');
  largest.to_name = std::string(fs::kNameBytesMax, 'b');
  largest.symlink_target = std::string(fs::kSymlinkBytesMax, 't');
  largest.set_mask = fs::kSetMask;
  seeds.push_back({kOp, fs::encode_op(largest)});
}

void add_others(std::vector<Seed>& seeds) {
  seeds.push_back({kDirEntry, fs::encode_dir_entry(
                                  {.inode = 5, .type = fs::FileType::kRegular, .name = "file"})});
  seeds.push_back({kDirEntry, fs::encode_dir_entry({.inode = 6,
                                                    .type = fs::FileType::kDirectory,
                                                    .name = std::string(fs::kNameBytesMax, 'd')})});
  fs::Superblock superblock;
  superblock.fs_id = 0x1234;
  seeds.push_back({kSuperblock, fs::encode_superblock(superblock)});
  superblock.inode_table = ref(7);
  superblock.block_size = 65536;
  superblock.last_op_id = 99;
  seeds.push_back({kSuperblock, fs::encode_superblock(superblock)});
  seeds.push_back({kLease, fs::encode_lease({.owner_host = 3, .epoch = 17})});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  std::vector<Seed> seeds;
  add_inodes(seeds);
  add_ops(seeds);
  add_others(seeds);
  int n = 0;
  for (const Seed& seed : seeds) {
    for (uint8_t patch : {uint8_t{0}, kModePatchCrc}) {
      std::vector<uint8_t> bytes = seed.bytes;
      bytes.insert(bytes.begin(), static_cast<uint8_t>(seed.decoder | patch));
      std::ofstream out(std::string(argv[1]) + "/seed-" + std::to_string(n++), std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
      if (!out) return 1;
    }
  }
  return 0;
}
