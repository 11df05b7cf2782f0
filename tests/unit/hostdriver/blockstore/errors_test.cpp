// Errors callers react to (block_store.h): invalid arguments and configurations are
// kInvalidArgument; a newer incarnation of the same host fences the older one (kStale for its
// writes from then on, and an open with an older epoch is refused); a closed store is
// kUnavailable; the write verifier changes on every open. Also the largest allowed write.
#include <doctest/doctest.h>

#include <limits>

#include "tests/unit/hostdriver/blockstore/block_store_fixture.h"

namespace splitarray::hostdriver::blockstore::bs_test {
namespace {

Task<void> write_into(BlockStore* store, InodeId inode, uint64_t offset,
                      std::span<const uint8_t> data, Stability stability,
                      std::optional<Result<void>>* outcome) {
  *outcome = co_await store->write(inode, offset, data, stability);
}

TEST_CASE("hostdriver/blockstore: bad write arguments are kInvalidArgument") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    BlockStore* store = co_await s.open(s.config());
    const std::vector<uint8_t> empty;
    auto zero_length = co_await store->write(InodeId(1), 0, empty, Stability::kDataSync);
    CHECK_MESSAGE(failed_with(zero_length, Code::kInvalidArgument), why(zero_length));
    const std::vector<uint8_t> too_long(kWriteBytesMax + 1, 7);
    auto over = co_await store->write(InodeId(1), 0, too_long, Stability::kDataSync);
    CHECK_MESSAGE(failed_with(over, Code::kInvalidArgument), why(over));
    // A read larger than kReadBytesMax would allocate it all up front: refused, not attempted.
    auto huge_read = co_await store->read(InodeId(1), 0, kReadBytesMax + 1);
    CHECK_MESSAGE(failed_with(huge_read, Code::kInvalidArgument), why(huge_read));
    const std::vector<uint8_t> some(100, 7);
    const uint64_t near_end = std::numeric_limits<uint64_t>::max() - 50;
    auto overflow = co_await store->write(InodeId(1), near_end, some, Stability::kDataSync);
    CHECK_MESSAGE(failed_with(overflow, Code::kInvalidArgument), why(overflow));
    // None of them changed anything.
    const std::vector<uint8_t> got = co_await read_ok(*store, InodeId(1), 0, kBlockBytes);
    CHECK(all_zero(got));
    CHECK(store->stats().blocks_written == 0);
  });
}

// One stable write of `size` incompressible bytes at an unaligned offset: more chunk bytes than
// the shelf takes in one NVRAM append (at most 1 MiB, and a quarter of a host's ring), so the
// store must split its logging. Read back, then again after a crash.
void check_large_write(ShelfShape shape, size_t size) {
  Fixture f(shape);
  f.serve([&](Session& s) -> Task<void> {
    BlockStoreConfig config = s.config();
    config.log_queue_bytes_max = kLogQueueBytesMaxDefault;
    BlockStore* store = co_await s.open(config);
    Prng rng(kDefaultSeed);
    const std::vector<uint8_t> data = random_bytes(rng, size);
    const uint64_t offset = 3 * kBlockBytes + 11;
    std::optional<Result<void>> outcome;
    async::TaskGroup group;
    group.spawn(s.env().executor(),
                write_into(store, InodeId(1), offset, data, Stability::kFileSync, &outcome));
    const std::function<std::string()> what = [size] {
      return "a stable write of " + std::to_string(size) + " random bytes";
    };
    co_await join_within(s.env(), group, std::chrono::seconds(30), what);
    REQUIRE(outcome.has_value());
    REQUIRE_MESSAGE(outcome->ok(), why(*outcome));
    std::vector<uint8_t> got = co_await read_ok(*store, InodeId(1), offset, uint32_t(size));
    CHECK_MESSAGE(got == data, first_difference(got, data));
    store = co_await s.crash_restart(store);
    got = co_await read_ok(*store, InodeId(1), offset, uint32_t(size));
    CHECK_MESSAGE(got == data, "after a crash: " << first_difference(got, data));
  });
}

TEST_CASE("hostdriver/blockstore: a stable 1 MiB write of random bytes is stored") {
  check_large_write(ShelfShape{}, 1 * kMiB);  // the largest NFS WRITE
}

TEST_CASE("hostdriver/blockstore: a stable write of kWriteBytesMax random bytes is stored") {
  check_large_write(ShelfShape{.nvram_bytes = 48 * kMiB, .nvram_hosts = 2}, kWriteBytesMax);
}

TEST_CASE("hostdriver/blockstore: invalid configurations are kInvalidArgument") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    CHECK(validate_config(s.config()).ok());
    BlockStoreConfig config = s.config();
    config.block_size = 3000;
    CHECK(failed_with(validate_config(config), Code::kInvalidArgument));
    config.block_size = 128 * 1024;
    CHECK(failed_with(validate_config(config), Code::kInvalidArgument));
    config.block_size = 16 * 1024;
    CHECK(validate_config(config).ok());
    config = s.config();
    config.geometry = container::ContainerGeometry{8, 1000};
    CHECK(failed_with(validate_config(config), Code::kInvalidArgument));
    config = s.config();
    config.fingerprint_truncate_bits = 300;
    CHECK(failed_with(validate_config(config), Code::kInvalidArgument));
    config = s.config();
    config.block_size = 3000;
    auto opened = co_await s.try_open(config);
    CHECK_MESSAGE(failed_with(opened, Code::kInvalidArgument), why(opened));
  });
}

TEST_CASE("hostdriver/blockstore: fragments larger than the shelf's slots are refused at open") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    BlockStoreConfig config = s.config();
    config.geometry.fragment_payload_bytes = 2 * kFragmentPayloadBytes;  // the shelf: 1x
    auto opened = co_await s.try_open(config);
    CHECK_MESSAGE(failed_with(opened, Code::kInvalidArgument), why(opened));
    CHECK_MESSAGE(why(opened).find("do not fit the shelf's disk slots of " +
                                   std::to_string(kFragmentPayloadBytes)) != std::string::npos,
                  why(opened));
    // Fragments of exactly the slot size are fine.
    config.geometry.fragment_payload_bytes = kFragmentPayloadBytes;
    auto fits = co_await s.try_open(config);
    CHECK_MESSAGE(fits.ok(), why(fits));
  });
}

TEST_CASE("hostdriver/blockstore: a newer epoch of the same host fences the older instance") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    Prng rng(kDefaultSeed);
    const std::vector<uint8_t> before = random_bytes(rng, 3 * kBlockBytes);
    const std::vector<uint8_t> after = random_bytes(rng, 2 * kBlockBytes);
    BlockStore* old = co_await s.open(s.config(HostId(1), Epoch(3)));
    co_await write_ok(*old, InodeId(1), 0, before, Stability::kFileSync);

    BlockStore* current = co_await s.open(s.config(HostId(1), Epoch(4)));
    CHECK(current->write_verifier() != old->write_verifier());
    for (int attempt = 0; attempt < 2; ++attempt) {  // and every later call the same way
      auto stale = co_await old->write(InodeId(1), 0, after, Stability::kDataSync);
      CHECK_MESSAGE(failed_with(stale, Code::kStale), "attempt " << attempt << ": " << why(stale));
    }
    auto stale_unstable = co_await old->write(InodeId(2), 0, after, Stability::kUnstable);
    if (stale_unstable.ok()) {  // an unstable write may be buffered; its commit cannot succeed
      auto commit = co_await old->commit();
      CHECK_MESSAGE(failed_with(commit, Code::kStale), why(commit));
    } else {
      CHECK_MESSAGE(failed_with(stale_unstable, Code::kStale), why(stale_unstable));
    }
    auto truncated = co_await old->truncate(InodeId(1), 0, Stability::kDataSync);
    CHECK_MESSAGE(failed_with(truncated, Code::kStale), why(truncated));

    // The new owner sees the old one's acknowledged data and none of its refused writes.
    const std::vector<uint8_t> got = co_await read_ok(*current, InodeId(1), 0, 3 * kBlockBytes);
    CHECK_MESSAGE(got == before, first_difference(got, before));
    const std::vector<uint8_t> other = co_await read_ok(*current, InodeId(2), 0, 2 * kBlockBytes);
    CHECK(all_zero(other));
    co_await write_ok(*current, InodeId(1), 0, after, Stability::kDataSync);

    // An open with an epoch below the fence is refused; other hosts are not affected.
    auto older = co_await s.try_open(s.config(HostId(1), Epoch(2)));
    CHECK_MESSAGE(failed_with(older, Code::kStale), why(older));
    BlockStore* neighbour = co_await s.open(s.config(HostId(2), Epoch(1)));
    co_await write_ok(*neighbour, InodeId(1), 0, before, Stability::kDataSync);

    // Closed: kUnavailable.
    co_await current->close();
    auto closed = co_await current->write(InodeId(1), 0, after, Stability::kDataSync);
    CHECK_MESSAGE(failed_with(closed, Code::kUnavailable), why(closed));
  });
}

}  // namespace
}  // namespace splitarray::hostdriver::blockstore::bs_test
