// Backpressure end to end (block_store.h invariant 5, DESIGN.md §4): a host NVRAM ring far smaller
// than a container and many concurrent stable writers. The log fills long before a container
// does, so writers must wait for destage and trims instead of failing or being acknowledged
// unsafely; every write completes and reads back, and the waits are counted.
#include <doctest/doctest.h>

#include "tests/unit/hostdriver/blockstore/block_store_fixture.h"

namespace splitarray::hostdriver::blockstore::bs_test {
namespace {

inline constexpr size_t kWriters = 16;
inline constexpr size_t kWritesPerWriter = 24;
inline constexpr size_t kWriteBytes = 2 * kBlockBytes;

struct Writer {
  InodeId inode;
  std::vector<uint8_t> data;  // kWritesPerWriter writes of kWriteBytes, back to back
  size_t written = 0;
  std::string error;
};

Task<void> run_writer(BlockStore* store, Writer* writer) {
  for (size_t i = 0; i < kWritesPerWriter; ++i) {
    const std::span<const uint8_t> piece(writer->data.data() + i * kWriteBytes, kWriteBytes);
    const Stability stability = i % 2 ? Stability::kDataSync : Stability::kFileSync;
    auto wrote = co_await store->write(writer->inode, i * kWriteBytes, piece, stability);
    if (!wrote.ok()) {
      writer->error = wrote.error().to_string();
      co_return;
    }
    ++writer->written;
  }
}

TEST_CASE("hostdriver/blockstore: a tiny NVRAM ring makes concurrent writers wait, not fail") {
  // 1 MiB of NVRAM for 4 hosts: about 255 KiB of ring per host, half a container.
  Fixture f(ShelfShape{.nvram_bytes = 1 * kMiB, .nvram_hosts = 4});
  f.serve([&](Session& s) -> Task<void> {
    BlockStoreConfig config = s.config();
    BlockStore* store = co_await s.open(config);
    Prng rng(kDefaultSeed);
    std::vector<Writer> writers(kWriters);
    for (size_t w = 0; w < kWriters; ++w) {
      writers[w].inode = InodeId(10 + w);
      writers[w].data = w % 2 ? random_bytes(rng, kWritesPerWriter * kWriteBytes)
                              : compressible_bytes(rng, kWritesPerWriter * kWriteBytes);
    }
    async::TaskGroup group;
    for (Writer& writer : writers) group.spawn(s.env().executor(), run_writer(store, &writer));
    const std::function<std::string()> progress = [&] {
      const BlockStoreStats stats = store->stats();
      size_t written = 0;
      for (const Writer& writer : writers) written += writer.written;
      std::ostringstream out;
      out << written << " of " << kWriters * kWritesPerWriter << " writes done, log appends "
          << stats.log_appends << ", busy waits " << stats.log_busy_waits << ", sealed "
          << stats.containers_sealed << ", destaged " << stats.containers_destaged
          << ", relogged entries " << stats.log_relogged_entries;
      return out.str();
    };
    co_await join_within(s.env(), group, std::chrono::seconds(30), progress);
    for (size_t w = 0; w < kWriters; ++w) {
      CHECK_MESSAGE(writers[w].error.empty(), "writer " << w << ": " << writers[w].error);
      CHECK(writers[w].written == kWritesPerWriter);
    }
    const BlockStoreStats stats = store->stats();
    MESSAGE("log appends " << stats.log_appends << ", busy waits " << stats.log_busy_waits
                           << ", containers sealed " << stats.containers_sealed << ", destaged "
                           << stats.containers_destaged << ", relogged entries "
                           << stats.log_relogged_entries);
    CHECK(stats.log_busy_waits > 0);
    CHECK(stats.containers_destaged >= 2);
    // Group commit: concurrent writers share appends.
    CHECK(stats.log_appends < kWriters * kWritesPerWriter);
    for (const Writer& writer : writers) {
      const std::vector<uint8_t> got =
          co_await read_ok(*store, writer.inode, 0, static_cast<uint32_t>(writer.data.size()));
      CHECK_MESSAGE(got == writer.data,
                    "inode " << writer.inode.value() << ": " << first_difference(got, writer.data));
    }
    // Everything also survives a restart through the small ring (trims and relogs were right).
    store = co_await s.restart(store);
    for (const Writer& writer : writers) {
      const std::vector<uint8_t> got =
          co_await read_ok(*store, writer.inode, 0, static_cast<uint32_t>(writer.data.size()));
      CHECK_MESSAGE(got == writer.data, "after a restart, inode "
                                            << writer.inode.value() << ": "
                                            << first_difference(got, writer.data));
    }
  });
}

}  // namespace
}  // namespace splitarray::hostdriver::blockstore::bs_test
