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

// Writes that only deduplicate queue records without chunks: no container is made, so no destage
// ever wakes the trimmer. Writers waiting for ring room must get the trim (here, standalone:
// relog) themselves; before they asked for it, the first writer to find the ring full waited
// forever.
// Standalone (no base), the ring must hold the live block map a few times over (README
// "Trimming"): 256 live entries of 56 bytes are 14 KiB, well inside a quarter of the ring.
constexpr size_t kFileBlocks = 256;

Task<void> rewrite_blocks(BlockStore* store, InodeId inode, const std::vector<uint8_t>* data,
                          size_t writes, size_t* done, std::string* error) {
  const size_t contents = data->size() / kBlockBytes;
  for (size_t i = 0; i < writes; ++i) {
    // Write i goes to block i % kFileBlocks with content i % contents: older records lose
    // their entries to newer ones, and the live entries must be relogged to free the ring.
    const size_t content = i % contents;
    const std::span<const uint8_t> bytes(data->data() + content * kBlockBytes, kBlockBytes);
    auto wrote =
        co_await store->write(inode, (i % kFileBlocks) * kBlockBytes, bytes, Stability::kUnstable);
    if (!wrote.ok()) {
      *error = wrote.error().to_string();
      co_return;
    }
    ++*done;
  }
}

TEST_CASE("hostdriver/blockstore: a ring filled by dedup-only records is trimmed, writers go on") {
  // About 255 KiB of ring per host: ~500 records of the minimum 512-byte footprint.
  Fixture f(ShelfShape{.nvram_bytes = 1 * kMiB, .nvram_hosts = 4});
  f.serve([&](Session& s) -> Task<void> {
    BlockStore* store = co_await s.open(s.config());
    Prng rng(kDefaultSeed);
    const InodeId inode(7);
    const std::vector<uint8_t> data = compressible_bytes(rng, 8 * kBlockBytes);
    const size_t contents = data.size() / kBlockBytes;
    constexpr size_t kWrites = 4'000;  // ~8 laps of the ring (one record per write)
    size_t done = 0;
    std::string error;
    async::TaskGroup group;
    group.spawn(s.env().executor(), rewrite_blocks(store, inode, &data, kWrites, &done, &error));
    const std::function<std::string()> progress = [&] {
      const BlockStoreStats stats = store->stats();
      return std::to_string(done) + " of " + std::to_string(kWrites) + " writes done, busy waits " +
             std::to_string(stats.log_busy_waits) + ", relogged entries " +
             std::to_string(stats.log_relogged_entries);
    };
    co_await join_within(s.env(), group, std::chrono::seconds(30), progress);
    CHECK_MESSAGE(error.empty(), error);
    CHECK(done == kWrites);
    const BlockStoreStats stats = store->stats();
    CHECK(stats.chunks_stored == contents);  // the rest were dedup hits
    CHECK(stats.log_busy_waits > 0);         // the ring did fill
    CHECK(stats.log_relogged_entries > 0);   // and the trimmer made room
    // Block b holds content b % contents (kFileBlocks and kWrites are multiples of contents).
    std::vector<uint8_t> file;
    for (size_t lap = 0; lap < kFileBlocks / contents; ++lap) {
      file.insert(file.end(), data.begin(), data.end());
    }
    CHECK(co_await read_ok(*store, inode, 0, static_cast<uint32_t>(file.size())) == file);
    store = co_await s.restart(store);
    CHECK(co_await read_ok(*store, inode, 0, static_cast<uint32_t>(file.size())) == file);
  });
}

}  // namespace
}  // namespace splitarray::hostdriver::blockstore::bs_test
