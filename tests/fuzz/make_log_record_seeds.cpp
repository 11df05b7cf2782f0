// tests/fuzz/make_log_record_seeds.cpp
// Writes the seed corpus of log_record_fuzz (corpus/log_record/): well-formed records of each
// shape (empty marker, truncate, holes, references, new chunks, a file-system operation alone and
// with a write), each with mode byte 0 and 1.
// usage: make_log_record_seeds DIR
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "hostdriver/blockstore/log_record.h"

namespace bs = splitarray::hostdriver::blockstore;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  std::vector<bs::LogRecord> records(6);
  records[1].inode = splitarray::InodeId(7);
  records[1].truncate_from_block = 3;
  records[1].updates.push_back(bs::MapUpdate{2, {}, {}});
  records[2].inode = splitarray::InodeId(8);
  records[2].updates.push_back(bs::MapUpdate{0, {1, 2, 3}, {5, 4096, 100}});
  records[3].inode = splitarray::InodeId(9);
  bs::NewChunk chunk;
  chunk.fp = {9, 9, 9};
  chunk.bytes.assign(37, 0xab);
  chunk.location = {6, 0, 37};
  records[3].chunks.push_back(chunk);
  records[3].updates.push_back(bs::MapUpdate{4, chunk.fp, chunk.location});
  records[4].fs_op.assign(40, 0x5a);
  records[5] = records[3];
  records[5].fs_op = {1, 2, 3, 4, 5};
  int n = 0;
  for (const bs::LogRecord& record : records) {
    for (uint8_t mode : {uint8_t{0}, uint8_t{1}}) {
      std::vector<uint8_t> bytes = bs::encode_record(record);
      bytes.insert(bytes.begin(), mode);
      std::ofstream out(std::string(argv[1]) + "/seed-" + std::to_string(n++), std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
      if (!out) return 1;
    }
  }
  return 0;
}
