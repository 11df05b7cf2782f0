// tests/unit/hostdriver/fs/log_pressure_test.cpp
// Records that carry no new chunk (writes that deduplicate, operations on names and attributes)
// make no container, so no destage ever trims them: only a checkpoint does. These tests fill
// the host's NVRAM ring several times over with such records while the periodic checkpoint is an
// hour away (FsSession::config), and check that the ring's pressure alone gets them checkpointed
// and trimmed: every call returns, several checkpoints ran, and everything reads back after a
// restart. Before the trimmer answered writers (block store trimmer.cpp), the first of them
// waited for the hourly checkpoint, i.e. the test hit its timeout.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/unit/hostdriver/fs/fs_fixture.h"

namespace splitarray::hostdriver::fs::fs_test {
namespace {

// The fixture's shelf gives each host a ring of about 4 MiB; every record takes at least 512
// bytes of it (log_writer.h ring_footprint), so this many records lap it at least twice.
constexpr size_t kRecordsPastTheRing = 20'000;
constexpr size_t kBlocksRewritten = 16;  // few blocks: the map (dirty bytes) stays small

std::vector<uint8_t> block_content(size_t block) {
  std::vector<uint8_t> bytes(kBlockBytes);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(block * 31 + i % 251);
  return bytes;
}

TEST_CASE("hostdriver/fs: writes that only deduplicate get the ring trimmed by checkpoints") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    auto file = value_or_fail(co_await fs->create(kRootInode, "dedup", CreateMode::kGuarded, {}, 0),
                              "create");
    const uint64_t inode = file.attrs.inode;
    const uint64_t checkpoints_before = fs->stats().checkpoints;
    for (size_t i = 0; i < kRecordsPastTheRing; ++i) {
      const size_t block = i % kBlocksRewritten;
      // After the first round every write is a dedup hit: a record with a map update only.
      auto wrote = co_await fs->write(inode, block * kBlockBytes, block_content(block),
                                      Stability::kUnstable);
      REQUIRE_MESSAGE(wrote.ok(), "write " << i << ": " << why(wrote));
    }
    auto committed = co_await fs->commit();
    REQUIRE_MESSAGE(committed.ok(), "commit: " << why(committed));
    const FsStats stats = fs->stats();
    CHECK(stats.store.dedup_hits >= kRecordsPastTheRing - kBlocksRewritten);
    CHECK(stats.checkpoints - checkpoints_before >= 2);

    fs = co_await s.restart(fs);
    for (size_t block = 0; block < kBlocksRewritten; ++block) {
      auto got = value_or_fail(
          co_await fs->read(inode, block * kBlockBytes, static_cast<uint32_t>(kBlockBytes)),
          "read");
      CHECK_MESSAGE(got.data == block_content(block), "block " << block);
    }
  });
}

TEST_CASE("hostdriver/fs: attribute changes alone get the ring trimmed by checkpoints") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    auto file = value_or_fail(co_await fs->create(kRootInode, "chmod", CreateMode::kGuarded, {}, 0),
                              "create");
    const uint64_t inode = file.attrs.inode;
    const uint64_t checkpoints_before = fs->stats().checkpoints;
    uint32_t last_mode = 0;
    for (size_t i = 0; i < kRecordsPastTheRing; ++i) {
      SetAttributes set;
      last_mode = static_cast<uint32_t>(0400 + i % 0377);
      set.mode = last_mode;
      auto changed = co_await fs->setattr(inode, set, std::nullopt);
      REQUIRE_MESSAGE(changed.ok(), "setattr " << i << ": " << why(changed));
    }
    CHECK(fs->stats().checkpoints - checkpoints_before >= 2);

    fs = co_await s.restart(fs);
    auto attrs = value_or_fail(co_await fs->getattr(inode), "getattr");
    CHECK(attrs.mode == last_mode);
  });
}

}  // namespace
}  // namespace splitarray::hostdriver::fs::fs_test
