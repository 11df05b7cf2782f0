// Erasure coding through the real shelf (DESIGN.md §4, §6): after destage, every pattern of at
// most 2 lost fragments of an 8+2 stripe reads back byte-identical (degraded reads, and the
// deleted fragments are repaired); every pattern of 3 lost fragments answers kCorruption for
// exactly the blocks of the lost data fragments, never bytes, while the rest still read. Failed
// disks behave the same way.
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <set>

#include "tests/unit/hostdriver/blockstore/erasure_bed.h"

namespace splitarray::hostdriver::blockstore::bs_test {
namespace {

std::string pattern_name(const std::vector<uint32_t>& lost) {
  std::string out = "lost {";
  for (size_t i = 0; i < lost.size(); ++i) out += (i ? "," : "") + std::to_string(lost[i]);
  return out + "}";
}

// Every pattern of 0, 1 or 2 lost fragments of one stripe: all blocks read back byte-identical;
// lost data fragments cause degraded reads and come back (repaired) on their healthy disks.
Task<void> check_patterns_up_to_two(ErasureBed& bed, const Stripe& stripe) {
  // Repairs land in the background: wait for them, but after one never came, only briefly (the
  // failure is reported once per pattern either way).
  Duration repair_wait = std::chrono::seconds(5);
  std::vector<std::vector<uint32_t>> patterns = {{}};
  for (uint32_t a = 0; a < kStripeFragments; ++a) {
    patterns.push_back({a});
    for (uint32_t b = a + 1; b < kStripeFragments; ++b) patterns.push_back({a, b});
  }
  REQUIRE(patterns.size() == 56);
  for (const std::vector<uint32_t>& lost : patterns) {
    const std::string name = pattern_name(lost);
    const BlockStoreStats before = bed.store().stats();
    for (const uint32_t f : lost) co_await bed.lose(stripe, f);
    for (const auto& blocks : stripe.blocks) {
      for (const uint64_t b : blocks) co_await bed.expect_block(b, name);
    }
    std::vector<uint32_t> lost_data;
    for (const uint32_t f : lost) {
      if (f < kDataFragments && !stripe.blocks[f].empty()) lost_data.push_back(f);
    }
    if (!lost_data.empty()) {
      CHECK_MESSAGE(bed.store().stats().degraded_reads > before.degraded_reads, name);
      Shelf& shelf = bed.session().shelf();
      BlockStore& store = bed.store();
      const std::function<bool()> all_back = [&] {
        if (store.stats().repairs < before.repairs + lost_data.size()) return false;
        for (const uint32_t f : lost_data) {
          if (!stored_fragment(shelf, stripe.disks[f], stripe.container, f)) return false;
        }
        return true;
      };
      const bool repaired = co_await wait_until(bed.session().env(), all_back, repair_wait);
      if (!repaired) repair_wait = std::chrono::milliseconds(50);
      CHECK_MESSAGE(repaired, name << ": repairs " << before.repairs << " -> "
                                   << store.stats().repairs << ", lost data fragments "
                                   << lost_data.size() << " not all back on their disks");
      ShelfClient* admin = co_await bed.session().admin();
      for (const uint32_t f : lost_data) {
        const std::optional<FragmentId> id =
            stored_fragment(shelf, stripe.disks[f], stripe.container, f);
        if (!id) continue;
        auto back = co_await admin->fragment_read(stripe.disks[f], id_value(*id), 0, 0);
        CHECK_MESSAGE(back.ok(), name << ": repaired fragment " << f << ": " << why(back));
      }
    }
    for (const uint32_t f : lost) co_await bed.restore(stripe, f);
  }
}

// Every pattern of 3 lost fragments: the blocks of lost data fragments are kCorruption, every
// other block of the stripe and of other stripes still reads; after restoring, all read again.
Task<void> check_patterns_of_three(ErasureBed& bed, const Stripe& stripe, uint64_t other_block) {
  size_t patterns = 0;
  for (uint32_t a = 0; a < kStripeFragments; ++a) {
    for (uint32_t b = a + 1; b < kStripeFragments; ++b) {
      for (uint32_t c = b + 1; c < kStripeFragments; ++c) {
        const std::vector<uint32_t> lost = {a, b, c};
        const std::string name = pattern_name(lost);
        const uint64_t unrecoverable_before = bed.store().stats().unrecoverable_blocks;
        for (const uint32_t f : lost) co_await bed.lose(stripe, f);
        size_t expected_unrecoverable = 0;
        for (uint32_t f = 0; f < kDataFragments; ++f) {
          if (stripe.blocks[f].empty()) continue;
          const uint64_t block = stripe.blocks[f].front();
          if (std::find(lost.begin(), lost.end(), f) != lost.end()) {
            co_await bed.expect_corruption(block, name);
            ++expected_unrecoverable;
          } else {
            co_await bed.expect_block(block, name);
          }
        }
        co_await bed.expect_block(other_block, name + " (another container)");
        CHECK_MESSAGE(bed.store().stats().unrecoverable_blocks - unrecoverable_before ==
                          expected_unrecoverable,
                      name);
        for (const uint32_t f : lost) co_await bed.restore(stripe, f);
        ++patterns;
      }
    }
  }
  CHECK(patterns == 120);
}

TEST_CASE("hostdriver/blockstore: every pattern of up to 2 lost fragments reads back") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    ErasureBed bed(s);
    co_await bed.setup();
    const Stripe stripe = co_await bed.first_stripe();
    co_await check_patterns_up_to_two(bed, stripe);
    // Repaired fragments (new slots, maybe new generations) still serve after a restart.
    BlockStore* store = co_await s.restart(&bed.store());
    const std::vector<uint8_t> got =
        co_await read_ok(*store, kInode, 0, static_cast<uint32_t>(bed.file().size()));
    CHECK_MESSAGE(got == bed.file(), first_difference(got, bed.file()));
  });
}

TEST_CASE("hostdriver/blockstore: 3 lost fragments are kCorruption for exactly their blocks") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    ErasureBed bed(s);
    co_await bed.setup();
    const Stripe stripe = co_await bed.first_stripe();
    const uint64_t other_block = kFileBlocks - 1;
    REQUIRE(bed.refs()[other_block].location.container_id != stripe.container.value());
    co_await check_patterns_of_three(bed, stripe, other_block);
    // A read spanning a good and a lost block fails as a whole (never partial data).
    const std::vector<uint32_t> three = {0, 1, 2};
    for (const uint32_t fragment : three) co_await bed.lose(stripe, fragment);
    const uint64_t lost_block = stripe.blocks[0].front();
    const uint64_t good_block = stripe.blocks[3].front();
    auto spanning = co_await bed.store().read(
        kInode, lost_block * kBlockBytes,
        static_cast<uint32_t>((good_block - lost_block + 1) * kBlockBytes));
    CHECK_MESSAGE(failed_with(spanning, Code::kCorruption), why(spanning));
    for (const uint32_t fragment : three) co_await bed.restore(stripe, fragment);
    const std::vector<uint8_t> got =
        co_await read_ok(bed.store(), kInode, 0, static_cast<uint32_t>(bed.file().size()));
    CHECK_MESSAGE(got == bed.file(), "after restoring: " << first_difference(got, bed.file()));
  });
}

// Failed disks instead of deleted fragments: with 2 of a stripe's disks failed everything reads;
// with a third, exactly the blocks of lost data fragments are kCorruption. Oracle per container:
// count its fragments on failed disks.
TEST_CASE("hostdriver/blockstore: failed disks give degraded reads, never wrong bytes") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    ErasureBed bed(s);
    co_await bed.setup();
    const Stripe stripe = co_await bed.first_stripe();
    ShelfClient* admin = co_await s.admin();
    // Placements before any failure: a stripe's disks never change when other disks fail.
    std::map<uint64_t, std::vector<DiskIndex>> placements;
    for (const BlockRef& ref : bed.refs()) {
      auto placed = bed.store().placement(ContainerId(ref.location.container_id));
      REQUIRE_MESSAGE(placed.ok(), why(placed));
      placements[ref.location.container_id] = *placed;
    }
    std::set<DiskIndex> failed;
    const std::function<Task<void>(std::string)> check_all =
        [&](std::string context) -> Task<void> {
      for (uint64_t b = 0; b < kFileBlocks; ++b) {
        const ChunkLocation& location = bed.refs()[b].location;
        const std::vector<DiskIndex>& disks = placements.at(location.container_id);
        auto placed = bed.store().placement(ContainerId(location.container_id));
        CHECK_MESSAGE((placed.ok() && *placed == disks), context << ": placement of container "
                                                                 << location.container_id
                                                                 << " changed: " << why(placed));
        size_t lost = 0;
        for (const DiskIndex d : disks) lost += failed.count(d);
        const bool own_lost = failed.count(disks[fragment_of(location)]) > 0;
        if (lost > kParityFragments && own_lost) {
          co_await bed.expect_corruption(b, context);
        } else {
          co_await bed.expect_block(b, context);
        }
      }
    };
    for (const uint32_t fragment : {2u, 9u, 0u}) {
      const DiskIndex disk = stripe.disks[fragment];
      auto done = co_await admin->disk_admin(Epoch(1), disk, protocol::DiskActionValue::kFail);
      REQUIRE_MESSAGE(done.ok(), why(done));
      failed.insert(disk);
      const uint64_t degraded_before = bed.store().stats().degraded_reads;
      const std::string context = "disk " + std::to_string(disk.value()) + " failed, " +
                                  std::to_string(failed.size()) + " in all";
      co_await check_all(context);
      if (fragment != 9) CHECK(bed.store().stats().degraded_reads > degraded_before);
      if (failed.size() == 2) {
        // New data while two disks are failed: written (degraded if placed there), read back.
        Prng rng(kDefaultSeed + 9);
        const std::vector<uint8_t> fresh = random_bytes(rng, 160 * kBlockBytes);
        co_await write_ok(bed.store(), InodeId(2), 0, fresh);
        co_await destage_within(s.env(), bed.store());
        const std::vector<uint8_t> got =
            co_await read_ok(bed.store(), InodeId(2), 0, static_cast<uint32_t>(fresh.size()));
        CHECK_MESSAGE(got == fresh, first_difference(got, fresh));
        MESSAGE("stripes written degraded: " << bed.store().stats().stripes_written_degraded);
      }
    }
  });
}

}  // namespace
}  // namespace splitarray::hostdriver::blockstore::bs_test
