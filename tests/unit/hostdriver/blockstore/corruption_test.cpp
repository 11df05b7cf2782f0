// Damage behind the shelf's back is detected and repaired on read (DESIGN.md §6): a flipped byte
// in a data fragment's payload on the disk file, another fragment's slot copied over a fragment's
// slot (a misdirected write), and a fragment rewritten with a valid CRC but wrong chunk bytes
// (only the host's fingerprint check can see that). Every read returns the right bytes, the
// degraded read and the repair are counted, and the repaired fragment reads whole again.
#include <doctest/doctest.h>

#include "tests/unit/hostdriver/blockstore/erasure_bed.h"

namespace splitarray::hostdriver::blockstore::bs_test {
namespace {

// After damage to data fragment f of the stripe: every block of f reads right, at least one
// degraded read and one repair happen, the fragment then passes a whole (CRC-checked) read on its
// disk, and reading its blocks again needs no degraded read.
Task<void> expect_detected_and_repaired(ErasureBed& bed, const Stripe& stripe, uint32_t f,
                                        const std::string& what) {
  const BlockStoreStats before = bed.store().stats();
  for (const uint64_t b : stripe.blocks[f]) co_await bed.expect_block(b, what);
  CHECK_MESSAGE(bed.store().stats().degraded_reads > before.degraded_reads, what);
  BlockStore& store = bed.store();
  const std::function<bool()> repaired = [&] { return store.stats().repairs > before.repairs; };
  const bool done = co_await wait_until(bed.session().env(), repaired);
  CHECK_MESSAGE(done, what << ": no repair after the degraded read");
  const std::optional<FragmentId> id =
      stored_fragment(bed.session().shelf(), stripe.disks[f], stripe.container, f);
  REQUIRE_MESSAGE(id.has_value(), what << ": fragment " << f << " is gone");
  ShelfClient* admin = co_await bed.session().admin();
  auto whole = co_await admin->fragment_read(stripe.disks[f], id_value(*id), 0, 0);
  REQUIRE_MESSAGE(whole.ok(), what << ": the repaired fragment: " << why(whole));
  // Same payload as before the damage (the header may carry a new generation).
  const std::vector<uint8_t>& saved = stripe.saved_bytes[f];
  CHECK_MESSAGE(std::equal(whole->begin() + protocol::kFragmentHeaderSize, whole->end(),
                           saved.begin() + protocol::kFragmentHeaderSize, saved.end()),
                what << ": the repaired payload differs from the original");
  const uint64_t degraded = bed.store().stats().degraded_reads;
  for (const uint64_t b : stripe.blocks[f]) co_await bed.expect_block(b, what + " (again)");
  CHECK_MESSAGE(bed.store().stats().degraded_reads == degraded,
                what << ": reads after the repair were still degraded");
}

TEST_CASE("hostdriver/blockstore: a flipped byte on a disk is detected and repaired on read") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    ErasureBed bed(s);
    co_await bed.setup();
    const Stripe stripe = co_await bed.first_stripe();
    constexpr uint32_t kVictim = 3;
    REQUIRE(stripe.blocks[kVictim].size() >= 3);
    const ChunkLocation& location = bed.refs()[stripe.blocks[kVictim][2]].location;
    const std::string path = s.disk_path(stripe.disks[kVictim]);
    const SlotLocation slot = locate_slot(path, stripe.saved_ids[kVictim]);
    const uint64_t at = slot.payload_offset() + offset_in_fragment(location) + 1234;
    std::vector<uint8_t> byte = read_file_range(path, at, 1);
    byte[0] ^= 0x20;
    write_file_range(path, at, byte);
    co_await expect_detected_and_repaired(bed, stripe, kVictim, "bit flip");
  });
}

TEST_CASE("hostdriver/blockstore: a misdirected fragment is detected and repaired on read") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    ErasureBed bed(s);
    co_await bed.setup();
    const Stripe stripe = co_await bed.first_stripe();
    // Fragment 1's slot (page, header and payload) lands in fragment 4's slot on another disk.
    constexpr uint32_t kSource = 1;
    constexpr uint32_t kVictim = 4;
    const std::string from_path = s.disk_path(stripe.disks[kSource]);
    const std::string to_path = s.disk_path(stripe.disks[kVictim]);
    const SlotLocation from = locate_slot(from_path, stripe.saved_ids[kSource]);
    const SlotLocation to = locate_slot(to_path, stripe.saved_ids[kVictim]);
    REQUIRE(from.slot_bytes == to.slot_bytes);
    const std::vector<uint8_t> image =
        read_file_range(from_path, from.slot_offset, from.slot_bytes);
    write_file_range(to_path, to.slot_offset, image);
    co_await expect_detected_and_repaired(bed, stripe, kVictim, "misdirected");
  });
}

// The shelf's checks all pass (a valid header and CRC, stored through the protocol), but one
// chunk's bytes are wrong: the host's fingerprint check after decoding must catch it.
TEST_CASE("hostdriver/blockstore: wrong chunk bytes under a valid CRC fail the fp check") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    ErasureBed bed(s);
    co_await bed.setup();
    const Stripe stripe = co_await bed.first_stripe();
    constexpr uint32_t kVictim = 5;
    const ChunkLocation& location = bed.refs()[stripe.blocks[kVictim][0]].location;
    const std::vector<uint8_t>& saved = stripe.saved_bytes[kVictim];
    std::vector<uint8_t> payload(saved.begin() + protocol::kFragmentHeaderSize, saved.end());
    payload[offset_in_fragment(location) + 17] ^= 0x01;
    const FragmentId& id = stripe.saved_ids[kVictim];
    const std::vector<uint8_t> forged = protocol::build_fragment(id, payload);
    ShelfClient* admin = co_await s.admin();
    auto written =
        co_await admin->fragment_write(bed.store().config().host, bed.store().config().epoch,
                                       stripe.disks[kVictim], id_value(id), forged);
    REQUIRE_MESSAGE(written.ok(), why(written));
    co_await expect_detected_and_repaired(bed, stripe, kVictim, "forged fragment");
  });
}

}  // namespace
}  // namespace splitarray::hostdriver::blockstore::bs_test
