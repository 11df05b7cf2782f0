// Durability through the service: what was acknowledged over the protocol is all there after the
// server and the Shelf are closed and the shelf is opened and served again; and bit rot in a
// stored fragment is answered with kCorruption, never with bad bytes.
#include <doctest/doctest.h>

#include "tests/support/faulty_storage.h"
#include "tests/unit/netshelf/service/service_fixture.h"

namespace splitarray::netshelf::service_test {
namespace {

using protocol::ChunkLocation;
using protocol::Fingerprint;

struct Written {
  std::vector<std::vector<uint8_t>> records;
  std::vector<std::vector<uint8_t>> fragments;  // fragment i on disk i % kTestDisks
};

protocol::FragmentIdValue persisted_id(size_t i) {
  return fragment_id(300 + i / kTestDisks, static_cast<uint8_t>(i % kTestDisks));
}

TEST_CASE("netshelf/service: everything acknowledged survives closing and reopening the shelf") {
  Fixture f;
  Written w;
  const Fingerprint a = fingerprint(1), b = fingerprint(2), c = fingerprint(3);
  const ChunkLocation la{300, 0, 4096}, lb{300, 4096, 512}, lc{301, 0, 77};
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    for (uint64_t i = 0; i < 5; ++i) w.records.push_back(pattern_bytes(100 + 900 * i, 10 + i));
    const std::vector<std::vector<uint8_t>> batch1(w.records.begin(), w.records.begin() + 2);
    const std::vector<std::vector<uint8_t>> batch2(w.records.begin() + 2, w.records.end());
    auto a1 = co_await client->nvram_append(HostId(1), Epoch(3), batch1);
    REQUIRE_MESSAGE(a1.ok(), why(a1));
    auto a2 = co_await client->nvram_append(HostId(1), Epoch(3), batch2);
    REQUIRE_MESSAGE(a2.ok(), why(a2));
    auto trimmed = co_await client->nvram_trim(HostId(1), Epoch(3), 1);
    REQUIRE_MESSAGE(trimmed.ok(), why(trimmed));

    for (size_t i = 0; i < 7; ++i) {
      const auto id = persisted_id(i);
      w.fragments.push_back(make_fragment(id, pattern_bytes(1000 + 9000 * i, 50 + i)));
      const DiskIndex disk(static_cast<uint16_t>(i % kTestDisks));
      auto written = co_await client->fragment_write(HostId(1), Epoch(3), disk, id, w.fragments[i]);
      REQUIRE_MESSAGE(written.ok(), why(written));
    }
    const auto doomed = persisted_id(6);
    auto deleted = co_await client->fragment_delete(HostId(1), Epoch(3), DiskIndex(0), doomed);
    REQUIRE_MESSAGE(deleted.ok(), why(deleted));

    std::vector<Fingerprint> fps = {a, b, c};
    std::vector<ChunkLocation> locs = {la, lb, lc};
    auto inserted = co_await client->index_insert(HostId(1), Epoch(3), fps, locs);
    REQUIRE_MESSAGE(inserted.ok(), why(inserted));
    std::vector<Fingerprint> drop = {b};
    auto removed = co_await client->index_remove(HostId(1), Epoch(3), drop);
    REQUIRE_MESSAGE(removed.ok(), why(removed));

    const std::string root = "root", lease = "lease";
    auto r1 = co_await client->register_cas(root, 0, bytes_of("one"), Epoch(2));
    REQUIRE_MESSAGE(r1.ok(), why(r1));
    auto r2 = co_await client->register_cas(root, 1, bytes_of("two"), Epoch(4));
    REQUIRE_MESSAGE(r2.ok(), why(r2));
    auto r3 = co_await client->register_cas(lease, 0, bytes_of("host-1"), Epoch(1));
    REQUIRE_MESSAGE(r3.ok(), why(r3));
    co_await client->close();
  });

  // Restart: a fresh Shelf from the same files, served on a new port.
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    auto usage = co_await client->nvram_usage(HostId(1));
    REQUIRE_MESSAGE(usage.ok(), why(usage));
    CHECK(usage->first_sequence == 2);
    CHECK(usage->next_sequence == 6);
    auto log = co_await client->nvram_read(HostId(1), 2, 0);
    REQUIRE_MESSAGE(log.ok(), why(log));
    CHECK(log->records ==
          std::vector<std::vector<uint8_t>>(w.records.begin() + 1, w.records.end()));
    auto trimmed = co_await client->nvram_read(HostId(1), 1, 0);
    CHECK_MESSAGE(failed_with(trimmed, Code::kNotFound), why(trimmed));
    // The fence survived: epoch 2 is still older than the epoch 3 the host wrote with.
    const std::vector<std::vector<uint8_t>> late = {pattern_bytes(10, 1)};
    auto stale = co_await client->nvram_append(HostId(1), Epoch(2), late);
    CHECK_MESSAGE(failed_with(stale, Code::kStale), why(stale));
    auto next = co_await client->nvram_append(HostId(1), Epoch(3), late);
    REQUIRE_MESSAGE(next.ok(), why(next));
    CHECK(next->first_sequence == 6);

    for (size_t i = 0; i < 6; ++i) {
      CAPTURE(i);
      const DiskIndex disk(static_cast<uint16_t>(i % kTestDisks));
      auto read = co_await client->fragment_read(disk, persisted_id(i), 0, 0);
      REQUIRE_MESSAGE(read.ok(), why(read));
      CHECK(*read == w.fragments[i]);
    }
    auto deleted = co_await client->fragment_read(DiskIndex(0), persisted_id(6), 0, 0);
    CHECK_MESSAGE(failed_with(deleted, Code::kNotFound), why(deleted));

    std::vector<Fingerprint> query = {a, b, c};
    auto found = co_await client->index_lookup(query);
    REQUIRE_MESSAGE(found.ok(), why(found));
    CHECK(found->found == std::vector<bool>{true, false, true});
    REQUIRE(found->locations.size() == 3);
    CHECK(found->locations[0] == la);
    CHECK(found->locations[2] == lc);

    const std::string root = "root", lease = "lease";
    auto got_root = co_await client->register_get(root);
    REQUIRE_MESSAGE(got_root.ok(), why(got_root));
    CHECK(got_root->value == bytes_of("two"));
    CHECK(got_root->version == 2);
    CHECK(got_root->epoch == 4);
    auto got_lease = co_await client->register_get(lease);
    REQUIRE_MESSAGE(got_lease.ok(), why(got_lease));
    CHECK(got_lease->value == bytes_of("host-1"));
    CHECK(got_lease->version == 1);

    auto status = co_await client->status();
    REQUIRE_MESSAGE(status.ok(), why(status));
    REQUIRE(status->disks.size() == kTestDisks);
    CHECK(status->disks[0].slots_used == 2);  // 0 and 3; 6 was deleted
    CHECK(status->disks[1].slots_used == 2);
    CHECK(status->disks[2].slots_used == 2);
    co_await client->close();
  });
}

TEST_CASE("netshelf/service: a bit flip in a stored fragment reads as kCorruption, never bytes") {
  Fixture f;
  const auto id = fragment_id(400, 1);
  const std::vector<uint8_t> payload = pattern_bytes(5 * 4096 + 123, 77);
  const std::vector<uint8_t> fragment = make_fragment(id, payload);
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    auto written = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(1), id, fragment);
    REQUIRE_MESSAGE(written.ok(), why(written));
    auto clean = co_await client->fragment_read(DiskIndex(1), id, 0, 0);
    REQUIRE_MESSAGE(clean.ok(), why(clean));
    CHECK(*clean == fragment);

    // Rot one bit of payload block 2 (payload offset 9000) on the disk file, behind the shelf.
    const std::vector<uint8_t> needle(payload.begin() + 9000, payload.begin() + 9064);
    const uint64_t at = find_in_file(f.disk_path(1), needle);
    testing::flip_bit_on_disk(f.disk_path(1), at, 3);

    auto whole = co_await client->fragment_read(DiskIndex(1), id, 0, 0);
    CHECK_MESSAGE(failed_with(whole, Code::kCorruption), why(whole));
    auto covering = co_await client->fragment_read(DiskIndex(1), id, 8000, 2000);
    CHECK_MESSAGE(failed_with(covering, Code::kCorruption), why(covering));
    // Blocks the flip did not touch still read back intact.
    auto before = co_await client->fragment_read(DiskIndex(1), id, 0, 8192);
    REQUIRE_MESSAGE(before.ok(), why(before));
    CHECK(*before == std::vector<uint8_t>(payload.begin(), payload.begin() + 8192));
    auto after = co_await client->fragment_read(DiskIndex(1), id, 12288, 4096);
    REQUIRE_MESSAGE(after.ok(), why(after));
    CHECK(*after == std::vector<uint8_t>(payload.begin() + 12288, payload.begin() + 16384));
    co_await client->close();
  });
  // Still detected after a restart (nothing was cached or "repaired" into looking valid).
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    auto whole = co_await client->fragment_read(DiskIndex(1), id, 0, 0);
    CHECK_MESSAGE(failed_with(whole, Code::kCorruption), why(whole));
    auto status = co_await client->status();
    REQUIRE_MESSAGE(status.ok(), why(status));
    CHECK(status->disks.at(1).state == protocol::DiskStateValue::kHealthy);  // rot is per fragment
    co_await client->close();
  });
}

TEST_CASE("netshelf/service: a bit flip in a stored fragment header reads as kCorruption") {
  Fixture f;
  const auto id = fragment_id(401, 2);
  const std::vector<uint8_t> payload = pattern_bytes(3000, 78);
  const std::vector<uint8_t> fragment = make_fragment(id, payload);
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    auto written = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(2), id, fragment);
    REQUIRE_MESSAGE(written.ok(), why(written));
    // The sealed header (with its CRC field) appears once on the disk: flip a bit of the
    // container id it carries.
    const std::vector<uint8_t> header(fragment.begin(),
                                      fragment.begin() + protocol::kFragmentHeaderSize);
    const uint64_t at = find_in_file(f.disk_path(2), header);
    testing::flip_bit_on_disk(f.disk_path(2), at + 8, 0);
    auto whole = co_await client->fragment_read(DiskIndex(2), id, 0, 0);
    CHECK_MESSAGE(failed_with(whole, Code::kCorruption), why(whole));
    auto range = co_await client->fragment_read(DiskIndex(2), id, 0, 100);
    CHECK_MESSAGE(failed_with(range, Code::kCorruption), why(range));
    co_await client->close();
  });
}

}  // namespace
}  // namespace splitarray::netshelf::service_test
