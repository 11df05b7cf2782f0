// Durability of acknowledged writes (block_store.h invariant 1): a host that crashes (a new
// incarnation opens with a higher epoch while the old one is still running, which fences it)
// loses nothing that was acknowledged as stable or committed, including writes acknowledged
// while the crash was happening; a shelf restart loses nothing either.
//
// A crash here is "a new open fences the running instance", not "destroy the instance": the API
// requires close() before destruction (block_store.h), and a fenced instance can no longer change
// anything on the shelf, which is what a dead host looks like from the shelf's side.
#include <doctest/doctest.h>

#include <map>

#include "tests/unit/hostdriver/blockstore/block_store_fixture.h"

namespace splitarray::hostdriver::blockstore::bs_test {
namespace {

// What a test expects to read back: inode -> (offset -> bytes).
using Expected = std::map<uint64_t, std::map<uint64_t, std::vector<uint8_t>>>;

// (No structured bindings here: clang 14 cannot capture them in doctest's assertion lambdas.)
Task<void> check_expected(BlockStore& store, const Expected& expected, const char* when) {
  for (const auto& file : expected) {
    const uint64_t inode = file.first;
    for (const auto& write : file.second) {
      const uint64_t offset = write.first;
      const std::vector<uint8_t>& data = write.second;
      auto got = co_await store.read(InodeId(inode), offset, static_cast<uint32_t>(data.size()));
      REQUIRE_MESSAGE(got.ok(),
                      when << ": read inode " << inode << " offset " << offset << ": " << why(got));
      CHECK_MESSAGE(*got == data, when << ": inode " << inode << " offset " << offset << ": "
                                       << first_difference(*got, data));
    }
  }
}

TEST_CASE("hostdriver/blockstore: stable and committed writes survive a host crash") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    Prng rng(kDefaultSeed);
    BlockStore* a = co_await s.open(s.config());
    const uint64_t verifier_a = a->write_verifier();
    Expected expected;
    // Stable writes, half of them destaged into containers before the crash, half only in the log.
    for (int i = 0; i < 48; ++i) {
      const uint64_t inode = 1 + i % 4;
      const uint64_t offset = uint64_t(i / 4) * 5 * kBlockBytes + (i % 3) * 1000;
      const size_t length = 1 + rng.below(4 * kBlockBytes);
      std::vector<uint8_t> data =
          i % 2 ? random_bytes(rng, length) : compressible_bytes(rng, length);
      const Stability stability = i % 2 ? Stability::kDataSync : Stability::kFileSync;
      co_await write_ok(*a, InodeId(inode), offset, data, stability);
      expected[inode][offset] = std::move(data);
      if (i == 23) {
        auto destaged = co_await a->destage_all();
        REQUIRE_MESSAGE(destaged.ok(), why(destaged));
      }
    }
    // Unstable writes made durable by a commit.
    for (int i = 0; i < 16; ++i) {
      std::vector<uint8_t> data = random_bytes(rng, 3 * kBlockBytes);
      const uint64_t offset = uint64_t(i) * 3 * kBlockBytes;
      co_await write_ok(*a, InodeId(5), offset, data, Stability::kUnstable);
      expected[5][offset] = std::move(data);
    }
    auto committed = co_await a->commit();
    REQUIRE_MESSAGE(committed.ok(), why(committed));
    // Unstable writes after the commit: each may or may not survive, but never half a block.
    std::vector<std::vector<uint8_t>> uncommitted;
    for (int i = 0; i < 8; ++i) {
      uncommitted.push_back(random_bytes(rng, kBlockBytes));
      co_await write_ok(*a, InodeId(6), uint64_t(i) * kBlockBytes, uncommitted.back(),
                        Stability::kUnstable);
    }
    CHECK(a->stats().containers_destaged >= 1);

    BlockStore* b = co_await s.crash_restart(a);
    CHECK(b->write_verifier() != verifier_a);
    CHECK(b->stats().open_replayed_records > 0);
    co_await check_expected(*b, expected, "after the crash");
    for (int i = 0; i < 8; ++i) {
      const std::vector<uint8_t> got =
          co_await read_ok(*b, InodeId(6), uint64_t(i) * kBlockBytes, kBlockBytes);
      CHECK_MESSAGE((got == uncommitted[i] || all_zero(got)),
                    "uncommitted block " << i << " is neither its old nor its new contents");
    }
    // And once more after a clean restart of the new incarnation.
    BlockStore* c = co_await s.restart(b);
    co_await check_expected(*c, expected, "after the crash and a clean restart");
  });
}

Task<void> write_into(BlockStore* store, InodeId inode, std::span<const uint8_t> data,
                      Stability stability, std::optional<Result<void>>* outcome) {
  *outcome = co_await store->write(inode, 0, data, stability);
}

// The crash happens while writes are in flight: every write that was acknowledged must be
// readable from the new incarnation; the rest may be lost, and the fenced instance refuses work.
// Two hosts: host 1 never wrote before (its NVRAM log does not exist yet when the new incarnation
// opens), host 2 already has a log.
Task<void> crash_during_writes(Session& s, HostId host, bool log_exists) {
  Prng rng(kDefaultSeed + host.value());
  BlockStore* a = co_await s.open(s.config(host, Epoch(1)));
  if (log_exists) {
    const std::vector<uint8_t> first = random_bytes(rng, kBlockBytes);
    co_await write_ok(*a, InodeId(99), 0, first, Stability::kDataSync);
  }
  constexpr size_t kWriters = 24;
  std::vector<std::vector<uint8_t>> data;
  for (size_t i = 0; i < kWriters; ++i) data.push_back(random_bytes(rng, 6 * kBlockBytes));
  std::vector<std::optional<Result<void>>> outcomes(kWriters);
  async::TaskGroup writers;
  for (size_t i = 0; i < kWriters; ++i) {
    const Stability stability = i % 2 ? Stability::kDataSync : Stability::kFileSync;
    writers.spawn(s.env().executor(),
                  write_into(a, InodeId(100 + i), data[i], stability, &outcomes[i]));
  }
  BlockStore* b = co_await s.open(s.config(host, Epoch(2)));  // the crash: b fences a
  co_await writers.join();
  size_t acknowledged = 0;
  for (size_t i = 0; i < kWriters; ++i) {
    REQUIRE(outcomes[i].has_value());
    if (!outcomes[i]->ok()) {
      CHECK_MESSAGE(outcomes[i]->code() == Code::kStale,
                    "writer " << i << ": " << why(*outcomes[i]));
      continue;
    }
    ++acknowledged;
    const std::vector<uint8_t> got = co_await read_ok(*b, InodeId(100 + i), 0, 6 * kBlockBytes);
    CHECK_MESSAGE(got == data[i], "host "
                                      << host.value() << " (log existed: " << log_exists
                                      << "): acknowledged writer " << i
                                      << " lost by the crash: " << first_difference(got, data[i]));
  }
  MESSAGE("host " << host.value() << ": " << acknowledged << " of " << kWriters
                  << " writes were acknowledged before the fence");
  auto stale = co_await a->write(InodeId(1), 0, data[0], Stability::kDataSync);
  CHECK_MESSAGE(failed_with(stale, Code::kStale), why(stale));
  co_await a->close();
}

TEST_CASE("hostdriver/blockstore: writes acknowledged during a crash survive it") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    co_await crash_during_writes(s, HostId(1), false);
    co_await crash_during_writes(s, HostId(2), true);
  });
}

TEST_CASE("hostdriver/blockstore: data survives a shelf restart") {
  Fixture f;
  Prng rng(kDefaultSeed + 2);
  Expected expected;
  for (int i = 0; i < 200; ++i) {
    const uint64_t offset = uint64_t(i) * kBlockBytes;
    expected[1 + i % 3][offset] =
        i % 2 ? random_bytes(rng, kBlockBytes) : compressible_bytes(rng, kBlockBytes);
  }
  f.serve([&](Session& s) -> Task<void> {
    BlockStore* store = co_await s.open(s.config());
    int n = 0;
    for (const auto& [inode, writes] : expected) {
      for (const auto& [offset, data] : writes) {
        const Stability stability = ++n % 3 ? Stability::kUnstable : Stability::kDataSync;
        co_await write_ok(*store, InodeId(inode), offset, data, stability);
        if (n == 120) {
          auto destaged = co_await store->destage_all();
          REQUIRE_MESSAGE(destaged.ok(), why(destaged));
        }
      }
    }
    auto committed = co_await store->commit();
    REQUIRE_MESSAGE(committed.ok(), why(committed));
    co_await store->close();
  });
  f.serve([&](Session& s) -> Task<void> {  // the shelf restarted from its files
    BlockStore* store = co_await s.open(s.config(HostId(1), Epoch(2)));
    co_await check_expected(*store, expected, "after a shelf restart");
  });
}

}  // namespace
}  // namespace splitarray::hostdriver::blockstore::bs_test
