// hostdriver/fs/fsck.h
// fsck: the datastore consistency check every test runs and a user can run (`fsck` tool).
// It checkpoints the file system, then walks what the checkpoint names:
//   - every tree node reachable from the root (inode table, each directory) loads and decodes
//     (its fp verified by the block store), every inode record and directory entry decodes;
//   - the namespace: every entry names a live inode of the entry's type; every inode but the
//     root is reachable; link counts equal the entries naming a file (directories: 2 + subdirs);
//     a directory's entry count and ".." parent match; orphans are exactly the nlink-0 files;
//   - file data: every block-map reference of every regular file reads back (fp verified);
//   - containers (check_fragments): every container any reference names is read fragment by
//     fragment from the shelf: header identity, CRC32C, and parity re-encoded from the data
//     fragments equals the stored parity; no container is referenced with a location outside it;
//     every referenced fingerprint is in the shelf's index (inserted once its stripe was durable).
// Not checked: containers nobody references (space reclamation does not exist yet, so they are
// expected) and blocks' chunks against container footers.
// It reports problems rather than stopping at the first. The caller keeps the file system
// quiet while it runs (no operations in flight).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "hostdriver/fs/file_system.h"

namespace splitarray::hostdriver::fs {

struct FsckOptions {
  bool check_data = true;       // read every block of every regular file
  bool check_fragments = true;  // read and re-encode every referenced container's stripe
  size_t problems_max = 100;    // stop collecting after this many
};

struct FsckReport {
  uint64_t inodes = 0;
  uint64_t directories = 0;
  uint64_t entries = 0;
  uint64_t tree_nodes = 0;
  uint64_t data_blocks = 0;
  uint64_t containers = 0;
  uint64_t fragments = 0;
  uint64_t index_lookups = 0;  // distinct referenced fps looked up in the shelf's index
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
  std::string summary() const;
};

// kStale/kUnavailable/kIo if it cannot run at all; a finished check answers a report.
Task<Result<FsckReport>> fsck(FileSystem& fs, FsckOptions options = {});

}  // namespace splitarray::hostdriver::fs
