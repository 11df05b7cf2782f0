// Fencing through the service: once a host has written with epoch N, every mutation that host
// sends with an older epoch (NVRAM append and trim, fragment write and delete, index insert and
// remove) is kStale and changes nothing; a newer epoch is accepted and raises the fence.
// Registers carry their own epochs.
#include <doctest/doctest.h>

#include "tests/unit/netshelf/service/service_fixture.h"

namespace splitarray::netshelf::service_test {
namespace {

using protocol::ChunkLocation;
using protocol::Fingerprint;

TEST_CASE("netshelf/service: an older epoch is kStale for every mutation and changes nothing") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    const std::vector<std::vector<uint8_t>> records = {pattern_bytes(100, 1)};
    auto owned = co_await client->nvram_append(HostId(1), Epoch(5), records);
    REQUIRE_MESSAGE(owned.ok(), why(owned));
    const auto kept_id = fragment_id(7, 0);
    const std::vector<uint8_t> kept_fragment = make_fragment(kept_id, pattern_bytes(2000, 2));
    auto kept =
        co_await client->fragment_write(HostId(1), Epoch(5), DiskIndex(0), kept_id, kept_fragment);
    REQUIRE_MESSAGE(kept.ok(), why(kept));
    const Fingerprint kept_fp = fingerprint(1);
    const ChunkLocation kept_loc{7, 0, 2000};
    std::vector<Fingerprint> kept_fps = {kept_fp};
    std::vector<ChunkLocation> kept_locs = {kept_loc};
    auto indexed = co_await client->index_insert(HostId(1), Epoch(5), kept_fps, kept_locs);
    REQUIRE_MESSAGE(indexed.ok(), why(indexed));

    // Epoch 4 for host 1: every mutation is fenced.
    const std::vector<std::vector<uint8_t>> stale_records = {pattern_bytes(50, 3)};
    auto append = co_await client->nvram_append(HostId(1), Epoch(4), stale_records);
    CHECK_MESSAGE(failed_with(append, Code::kStale), why(append));
    auto trim = co_await client->nvram_trim(HostId(1), Epoch(4), 1);
    CHECK_MESSAGE(failed_with(trim, Code::kStale), why(trim));
    const auto stale_id = fragment_id(8, 0);
    const std::vector<uint8_t> stale_fragment = make_fragment(stale_id, pattern_bytes(1000, 4));
    auto write = co_await client->fragment_write(HostId(1), Epoch(4), DiskIndex(0), stale_id,
                                                 stale_fragment);
    CHECK_MESSAGE(failed_with(write, Code::kStale), why(write));
    auto del = co_await client->fragment_delete(HostId(1), Epoch(4), DiskIndex(0), kept_id);
    CHECK_MESSAGE(failed_with(del, Code::kStale), why(del));
    const Fingerprint stale_fp = fingerprint(2);
    const ChunkLocation stale_loc{8, 0, 1000};
    std::vector<Fingerprint> stale_fps = {stale_fp};
    std::vector<ChunkLocation> stale_locs = {stale_loc};
    auto insert = co_await client->index_insert(HostId(1), Epoch(4), stale_fps, stale_locs);
    CHECK_MESSAGE(failed_with(insert, Code::kStale), why(insert));
    auto remove = co_await client->index_remove(HostId(1), Epoch(4), kept_fps);
    CHECK_MESSAGE(failed_with(remove, Code::kStale), why(remove));

    // Nothing changed.
    auto usage = co_await client->nvram_usage(HostId(1));
    REQUIRE_MESSAGE(usage.ok(), why(usage));
    CHECK(usage->first_sequence == 1);
    CHECK(usage->next_sequence == 2);
    auto log = co_await client->nvram_read(HostId(1), 1, 0);
    REQUIRE_MESSAGE(log.ok(), why(log));
    CHECK(log->records == records);
    auto absent = co_await client->fragment_read(DiskIndex(0), stale_id, 0, 0);
    CHECK_MESSAGE(failed_with(absent, Code::kNotFound), why(absent));
    auto present = co_await client->fragment_read(DiskIndex(0), kept_id, 0, 0);
    REQUIRE_MESSAGE(present.ok(), why(present));
    CHECK(*present == kept_fragment);
    std::vector<Fingerprint> both = {kept_fp, stale_fp};
    auto lookup = co_await client->index_lookup(both);
    REQUIRE_MESSAGE(lookup.ok(), why(lookup));
    CHECK(lookup->found == std::vector<bool>{true, false});

    // Fences are per host: host 2 at epoch 1 is not affected by host 1's epoch 5.
    auto other = co_await client->nvram_append(HostId(2), Epoch(1), stale_records);
    CHECK_MESSAGE(other.ok(), why(other));

    // A newer epoch is accepted and becomes the fence: epoch 5 is now stale too.
    auto newer = co_await client->nvram_append(HostId(1), Epoch(6), stale_records);
    REQUIRE_MESSAGE(newer.ok(), why(newer));
    CHECK(newer->first_sequence == 2);
    auto newer_write = co_await client->fragment_write(HostId(1), Epoch(6), DiskIndex(0), stale_id,
                                                       stale_fragment);
    CHECK_MESSAGE(newer_write.ok(), why(newer_write));
    auto newer_insert = co_await client->index_insert(HostId(1), Epoch(6), stale_fps, stale_locs);
    REQUIRE_MESSAGE(newer_insert.ok(), why(newer_insert));
    CHECK(newer_insert->inserted == std::vector<bool>{true});
    auto old_now = co_await client->nvram_trim(HostId(1), Epoch(5), 1);
    CHECK_MESSAGE(failed_with(old_now, Code::kStale), why(old_now));
    auto newer_trim = co_await client->nvram_trim(HostId(1), Epoch(6), 1);
    CHECK_MESSAGE(newer_trim.ok(), why(newer_trim));
    co_await client->close();
  });
}

TEST_CASE("netshelf/service: a fence raised on one connection holds on another") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto old_owner = co_await f.connect(s.address);
    auto new_owner = co_await f.connect(s.address);
    const std::vector<std::vector<uint8_t>> records = {pattern_bytes(64, 1)};
    auto first = co_await old_owner->nvram_append(HostId(3), Epoch(1), records);
    REQUIRE_MESSAGE(first.ok(), why(first));
    // A takeover: the new owner appends with a newer epoch ...
    auto takeover = co_await new_owner->nvram_append(HostId(3), Epoch(2), records);
    REQUIRE_MESSAGE(takeover.ok(), why(takeover));
    // ... and the old owner, still connected, is fenced off the log and the disks.
    auto late = co_await old_owner->nvram_append(HostId(3), Epoch(1), records);
    CHECK_MESSAGE(failed_with(late, Code::kStale), why(late));
    const auto id = fragment_id(9, 1);
    const std::vector<uint8_t> fragment = make_fragment(id, pattern_bytes(100, 2));
    auto write =
        co_await old_owner->fragment_write(HostId(3), Epoch(1), DiskIndex(1), id, fragment);
    CHECK_MESSAGE(failed_with(write, Code::kStale), why(write));
    auto usage = co_await new_owner->nvram_usage(HostId(3));
    REQUIRE_MESSAGE(usage.ok(), why(usage));
    CHECK(usage->next_sequence == 3);
    co_await old_owner->close();
    co_await new_owner->close();
  });
}

TEST_CASE("netshelf/service: a register CAS with an older epoch is kStale and changes nothing") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    const std::string name = "lease/datastore-1";
    auto owned = co_await client->register_cas(name, 0, bytes_of("host-a"), Epoch(5));
    REQUIRE_MESSAGE(owned.ok(), why(owned));
    CHECK(owned->swapped);
    auto stale = co_await client->register_cas(name, 1, bytes_of("host-b"), Epoch(4));
    CHECK_MESSAGE(failed_with(stale, Code::kStale), why(stale));
    auto got = co_await client->register_get(name);
    REQUIRE_MESSAGE(got.ok(), why(got));
    CHECK(got->value == bytes_of("host-a"));
    CHECK(got->version == 1);
    CHECK(got->epoch == 5);
    // The same epoch and a newer one are accepted.
    auto same = co_await client->register_cas(name, 1, bytes_of("host-a2"), Epoch(5));
    REQUIRE_MESSAGE(same.ok(), why(same));
    CHECK(same->swapped);
    auto newer = co_await client->register_cas(name, 2, bytes_of("host-b"), Epoch(7));
    REQUIRE_MESSAGE(newer.ok(), why(newer));
    CHECK(newer->swapped);
    CHECK(newer->current.epoch == 7);
    CHECK(newer->current.value == bytes_of("host-b"));
    co_await client->close();
  });
}

}  // namespace
}  // namespace splitarray::netshelf::service_test
