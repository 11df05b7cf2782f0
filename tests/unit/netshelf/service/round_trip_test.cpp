// Round trips through the protocol: every shelf request a host driver makes, against a served
// shelf over real loopback TCP, checking the bytes and values that come back.
#include <doctest/doctest.h>

#include "tests/unit/netshelf/service/service_fixture.h"

namespace splitarray::netshelf::service_test {
namespace {

using protocol::ChunkLocation;
using protocol::Fingerprint;

TEST_CASE("netshelf/service: NVRAM append, read back byte-identical, usage and trim") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    const std::vector<std::vector<uint8_t>> first = {pattern_bytes(10, 1), pattern_bytes(5000, 2),
                                                     pattern_bytes(1, 3)};
    const std::vector<std::vector<uint8_t>> second = {pattern_bytes(777, 4),
                                                      pattern_bytes(4096, 5)};
    auto a1 = co_await client->nvram_append(HostId(1), Epoch(1), first);
    REQUIRE_MESSAGE(a1.ok(), why(a1));
    CHECK(a1->first_sequence == 1);
    CHECK(a1->used_bytes >= 5011);
    CHECK(a1->capacity_bytes > a1->used_bytes);
    auto a2 = co_await client->nvram_append(HostId(1), Epoch(1), second);
    REQUIRE_MESSAGE(a2.ok(), why(a2));
    CHECK(a2->first_sequence == 4);
    CHECK(a2->used_bytes > a1->used_bytes);

    std::vector<std::vector<uint8_t>> all = first;
    all.insert(all.end(), second.begin(), second.end());
    auto read = co_await client->nvram_read(HostId(1), 1, 0);
    REQUIRE_MESSAGE(read.ok(), why(read));
    CHECK(read->first_sequence == 1);
    CHECK(read->next_sequence == 6);
    CHECK(read->records == all);

    // From the middle.
    auto tail = co_await client->nvram_read(HostId(1), 3, 0);
    REQUIRE_MESSAGE(tail.ok(), why(tail));
    CHECK(tail->first_sequence == 3);
    REQUIRE(tail->records.size() == 3);
    CHECK(tail->records[0] == all[2]);
    CHECK(tail->records[2] == all[4]);

    auto usage = co_await client->nvram_usage(HostId(1));
    REQUIRE_MESSAGE(usage.ok(), why(usage));
    CHECK(usage->host_id == 1);
    CHECK(usage->first_sequence == 1);
    CHECK(usage->next_sequence == 6);
    CHECK(usage->used_bytes == a2->used_bytes);
    CHECK(usage->capacity_bytes == a2->capacity_bytes);

    auto trimmed = co_await client->nvram_trim(HostId(1), Epoch(1), 2);
    REQUIRE_MESSAGE(trimmed.ok(), why(trimmed));
    auto after = co_await client->nvram_usage(HostId(1));
    REQUIRE_MESSAGE(after.ok(), why(after));
    CHECK(after->first_sequence == 3);
    CHECK(after->next_sequence == 6);
    CHECK(after->used_bytes < usage->used_bytes);
    auto gone = co_await client->nvram_read(HostId(1), 1, 0);
    CHECK_MESSAGE(failed_with(gone, Code::kNotFound), why(gone));
    auto kept = co_await client->nvram_read(HostId(1), 3, 0);
    REQUIRE_MESSAGE(kept.ok(), why(kept));
    CHECK(kept->records == std::vector<std::vector<uint8_t>>(all.begin() + 2, all.end()));

    // A host that never appended has an empty log.
    auto empty = co_await client->nvram_read(HostId(2), 1, 0);
    REQUIRE_MESSAGE(empty.ok(), why(empty));
    CHECK(empty->records.empty());
    co_await client->close();
  });
}

TEST_CASE("netshelf/service: NVRAM read honours max_bytes and resumes where it stopped") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    std::vector<std::vector<uint8_t>> records;
    for (uint64_t i = 0; i < 8; ++i) records.push_back(pattern_bytes(3000, 100 + i));
    auto appended = co_await client->nvram_append(HostId(3), Epoch(1), records);
    REQUIRE_MESSAGE(appended.ok(), why(appended));
    std::vector<std::vector<uint8_t>> got;
    uint64_t from = 1;
    for (int round = 0; round < 20 && got.size() < records.size(); ++round) {
      auto read = co_await client->nvram_read(HostId(3), from, 7000);
      REQUIRE_MESSAGE(read.ok(), why(read));
      REQUIRE_FALSE(read->records.empty());
      CHECK(read->records.size() <= 3);  // 7000 bytes hold at most 2 whole records (+1 allowed)
      got.insert(got.end(), read->records.begin(), read->records.end());
      from += read->records.size();
    }
    CHECK(got == records);
    co_await client->close();
  });
}

TEST_CASE("netshelf/service: fragment write, whole and range read, rewrite and delete") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    const auto id0 = fragment_id(100, 0);
    const auto id1 = fragment_id(100, 1);
    const std::vector<uint8_t> payload0 = pattern_bytes(40000, 7);
    const std::vector<uint8_t> payload1 = pattern_bytes(kTestSlotPayloadBytes, 8);  // a full slot
    const std::vector<uint8_t> fragment0 = make_fragment(id0, payload0);
    const std::vector<uint8_t> fragment1 = make_fragment(id1, payload1);
    auto w0 = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(0), id0, fragment0);
    REQUIRE_MESSAGE(w0.ok(), why(w0));
    auto w1 = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(1), id1, fragment1);
    REQUIRE_MESSAGE(w1.ok(), why(w1));

    auto whole0 = co_await client->fragment_read(DiskIndex(0), id0, 0, 0);
    REQUIRE_MESSAGE(whole0.ok(), why(whole0));
    CHECK(*whole0 == fragment0);
    auto whole1 = co_await client->fragment_read(DiskIndex(1), id1, 0, 0);
    REQUIRE_MESSAGE(whole1.ok(), why(whole1));
    CHECK(*whole1 == fragment1);

    // Range reads address the payload, across 4 KiB block boundaries.
    auto range = co_await client->fragment_read(DiskIndex(0), id0, 1000, 9000);
    REQUIRE_MESSAGE(range.ok(), why(range));
    CHECK(*range == std::vector<uint8_t>(payload0.begin() + 1000, payload0.begin() + 10000));
    auto last = co_await client->fragment_read(DiskIndex(0), id0, 39999, 1);
    REQUIRE_MESSAGE(last.ok(), why(last));
    CHECK(*last == std::vector<uint8_t>{payload0.back()});
    auto beyond = co_await client->fragment_read(DiskIndex(0), id0, 39999, 2);
    CHECK_MESSAGE(failed_with(beyond, Code::kInvalidArgument), why(beyond));

    // The fragment lives on the disk it was written to only.
    auto elsewhere = co_await client->fragment_read(DiskIndex(2), id0, 0, 0);
    CHECK_MESSAGE(failed_with(elsewhere, Code::kNotFound), why(elsewhere));

    // A rewrite with a newer generation replaces it; the older one is then unreadable and
    // cannot come back.
    const auto id0v2 = fragment_id(100, 0, 2);
    const std::vector<uint8_t> fragment0v2 = make_fragment(id0v2, pattern_bytes(3000, 9));
    auto rewrite =
        co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(0), id0v2, fragment0v2);
    REQUIRE_MESSAGE(rewrite.ok(), why(rewrite));
    auto v2 = co_await client->fragment_read(DiskIndex(0), id0v2, 0, 0);
    REQUIRE_MESSAGE(v2.ok(), why(v2));
    CHECK(*v2 == fragment0v2);
    auto v1 = co_await client->fragment_read(DiskIndex(0), id0, 0, 0);
    CHECK_MESSAGE(failed_with(v1, Code::kNotFound), why(v1));
    auto back = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(0), id0, fragment0);
    CHECK_MESSAGE(failed_with(back, Code::kStale), why(back));

    auto deleted = co_await client->fragment_delete(HostId(1), Epoch(1), DiskIndex(1), id1);
    REQUIRE_MESSAGE(deleted.ok(), why(deleted));
    auto read_deleted = co_await client->fragment_read(DiskIndex(1), id1, 0, 0);
    CHECK_MESSAGE(failed_with(read_deleted, Code::kNotFound), why(read_deleted));
    auto again = co_await client->fragment_delete(HostId(1), Epoch(1), DiskIndex(1), id1);
    CHECK_MESSAGE(failed_with(again, Code::kNotFound), why(again));

    // The untouched fragment is still intact.
    auto still = co_await client->fragment_read(DiskIndex(0), id0v2, 0, 0);
    REQUIRE_MESSAGE(still.ok(), why(still));
    CHECK(*still == fragment0v2);
    co_await client->close();
  });
}

TEST_CASE("netshelf/service: index insert reports the first writer per fp, lookup and remove") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    const Fingerprint a = fingerprint(1), b = fingerprint(2), c = fingerprint(3),
                      d = fingerprint(4);
    const ChunkLocation la{500, 0, 4096}, lb{500, 4096, 2000}, la2{501, 0, 4096},
        lc{501, 4096, 100};
    std::vector<Fingerprint> fps1 = {a, b};
    std::vector<ChunkLocation> locs1 = {la, lb};
    auto first = co_await client->index_insert(HostId(1), Epoch(1), fps1, locs1);
    REQUIRE_MESSAGE(first.ok(), why(first));
    CHECK(first->inserted == std::vector<bool>{true, true});

    // A second writer of `a` loses and is told where the winner's copy is.
    std::vector<Fingerprint> fps2 = {a, c};
    std::vector<ChunkLocation> locs2 = {la2, lc};
    auto second = co_await client->index_insert(HostId(2), Epoch(1), fps2, locs2);
    REQUIRE_MESSAGE(second.ok(), why(second));
    CHECK(second->inserted == std::vector<bool>{false, true});
    REQUIRE(second->existing.size() == 2);
    CHECK(second->existing[0] == la);

    std::vector<Fingerprint> query = {a, b, c, d};
    auto found = co_await client->index_lookup(query);
    REQUIRE_MESSAGE(found.ok(), why(found));
    CHECK(found->found == std::vector<bool>{true, true, true, false});
    REQUIRE(found->locations.size() == 4);
    CHECK(found->locations[0] == la);
    CHECK(found->locations[1] == lb);
    CHECK(found->locations[2] == lc);

    // Removing is idempotent: an absent fp is not an error.
    std::vector<Fingerprint> drop = {b, d};
    auto removed = co_await client->index_remove(HostId(1), Epoch(1), drop);
    REQUIRE_MESSAGE(removed.ok(), why(removed));
    auto after = co_await client->index_lookup(query);
    REQUIRE_MESSAGE(after.ok(), why(after));
    CHECK(after->found == std::vector<bool>{true, false, true, false});

    // After a remove, the next writer wins again.
    std::vector<Fingerprint> fps3 = {b};
    std::vector<ChunkLocation> locs3 = {la2};
    auto reinsert = co_await client->index_insert(HostId(1), Epoch(1), fps3, locs3);
    REQUIRE_MESSAGE(reinsert.ok(), why(reinsert));
    CHECK(reinsert->inserted == std::vector<bool>{true});
    co_await client->close();
  });
}

TEST_CASE("netshelf/service: register compare-and-swap and get") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    const std::string name = "datastore/root";
    auto missing = co_await client->register_get(name);
    REQUIRE_MESSAGE(missing.ok(), why(missing));
    CHECK_FALSE(missing->exists);
    CHECK(missing->version == 0);

    auto created = co_await client->register_cas(name, 0, bytes_of("v1"), Epoch(1));
    REQUIRE_MESSAGE(created.ok(), why(created));
    CHECK(created->swapped);
    CHECK(created->current.exists);
    CHECK(created->current.version == 1);
    CHECK(created->current.value == bytes_of("v1"));

    // A stale expected version does not swap and reports the current state.
    auto lost = co_await client->register_cas(name, 0, bytes_of("v2"), Epoch(1));
    REQUIRE_MESSAGE(lost.ok(), why(lost));
    CHECK_FALSE(lost->swapped);
    CHECK(lost->current.version == 1);
    CHECK(lost->current.value == bytes_of("v1"));

    auto swapped = co_await client->register_cas(name, 1, bytes_of("v2"), Epoch(3));
    REQUIRE_MESSAGE(swapped.ok(), why(swapped));
    CHECK(swapped->swapped);
    CHECK(swapped->current.version == 2);
    CHECK(swapped->current.epoch == 3);

    auto got = co_await client->register_get(name);
    REQUIRE_MESSAGE(got.ok(), why(got));
    CHECK(got->exists);
    CHECK(got->value == bytes_of("v2"));
    CHECK(got->version == 2);
    CHECK(got->epoch == 3);

    // Another register is independent.
    const std::string other_name = "other";
    auto other = co_await client->register_get(other_name);
    REQUIRE_MESSAGE(other.ok(), why(other));
    CHECK_FALSE(other->exists);
    co_await client->close();
  });
}

}  // namespace
}  // namespace splitarray::netshelf::service_test
