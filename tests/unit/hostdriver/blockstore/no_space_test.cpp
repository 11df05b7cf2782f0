// Full disks (block_store.h "Errors"): once the shelf answers kNoSpace to a fragment write, new
// data is refused with kNoSpace instead of waiting forever for room that never comes, and
// everything acknowledged before stays readable (it is in the NVRAM log and in memory).
#include <doctest/doctest.h>

#include "tests/unit/hostdriver/blockstore/block_store_fixture.h"

namespace splitarray::hostdriver::blockstore::bs_test {
namespace {

// Incompressible writes of this size fill the shelf's 12 x 16 MiB disks in a few hundred calls.
constexpr size_t kFillWriteBytes = 256 * kKiB;
// More than the disks can hold (about 190 MiB of fragment slots): the loop must end on kNoSpace.
constexpr size_t kFillWritesMax = 1200;

std::vector<uint8_t> fill_bytes(size_t index) {
  Prng rng(kDefaultSeed + index);
  return random_bytes(rng, kFillWriteBytes);
}

TEST_CASE(
    "hostdriver/blockstore: full disks refuse new data with kNoSpace and keep what was "
    "acknowledged") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    BlockStore* store = co_await s.open(s.config());
    size_t acknowledged = 0;
    std::optional<Error> refused;
    for (size_t i = 0; i < kFillWritesMax; ++i) {
      const std::vector<uint8_t> data = fill_bytes(i);
      auto written =
          co_await store->write(InodeId(1), i * kFillWriteBytes, data, Stability::kDataSync);
      if (!written.ok()) {
        refused = written.error();
        break;
      }
      ++acknowledged;
    }
    REQUIRE_MESSAGE(refused.has_value(), "the shelf never ran out of space");
    CHECK_MESSAGE(refused->code == Code::kNoSpace, refused->to_string());
    CHECK_MESSAGE(refused->message.find("no free slot") != std::string::npos, refused->to_string());
    CHECK(acknowledged > 100);  // the disks really filled up first
    MESSAGE(acknowledged << " writes of " << kFillWriteBytes << " bytes acknowledged, then "
                         << refused->to_string());

    // Refused again at once, not after a wait: the store is not stuck.
    const std::vector<uint8_t> more = fill_bytes(kFillWritesMax);
    auto again = co_await store->write(InodeId(2), 0, more, Stability::kUnstable);
    CHECK_MESSAGE(failed_with(again, Code::kNoSpace), why(again));

    // Every acknowledged write reads back byte-identical.
    size_t mismatches = 0;
    for (size_t i = 0; i < acknowledged; ++i) {
      auto got = co_await store->read(InodeId(1), i * kFillWriteBytes, kFillWriteBytes);
      REQUIRE_MESSAGE(got.ok(), "write " << i << ": " << why(got));
      if (*got != fill_bytes(i)) ++mismatches;
    }
    CHECK(mismatches == 0);
  });
}

}  // namespace
}  // namespace splitarray::hostdriver::blockstore::bs_test
