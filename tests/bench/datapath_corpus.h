// tests/bench/datapath_corpus.h
// The datapath benchmark's realistic corpus (`datapath_bench --corpus DIR`, images made by
// scripts/corpus): every DIR/*.img is written through a BlockStore on a fresh real shelf, one
// inode per image, every byte (zero blocks become holes by design), in 1 MiB unstable writes
// with commits, like the synthetic rows. Then the store is reopened and every image is read back
// and compared byte for byte. Reported: the BlockStore's dedup and compression ratios
// (BlockStore::stats()) next to a plain count over the same files in the same program:
//   fixed 4 KiB blocks; dedup ratio = non-zero blocks / distinct SHA-256 of non-zero blocks;
//   compression ratio = distinct bytes / ChunkCodec bytes of each distinct block (zstd-1, raw
//   when it saves < 1/8: the BlockStore's own rule); reduction = non-zero bytes / stored bytes.
#pragma once

#include <cstddef>
#include <string>

namespace splitarray::bench {

struct CorpusOptions {
  std::string corpus_dir;
  std::string base_dir;  // the shelf's state directory is made here
  std::string netshelf;  // the netshelf binary
  size_t writers = 8;
  size_t readers = 8;
  size_t commit_every = 64;  // pieces (1 MiB) per writer between commits
  size_t compute_threads = 2;
};

// Runs the corpus rows, prints a table and the JSON line; returns the exit status.
int run_corpus(const CorpusOptions& options);

}  // namespace splitarray::bench
