// The status request (disks, NVRAM usage per host, per-host request counters) and the disk admin
// requests (fail, replace) as an operator sees them through the protocol.
#include <doctest/doctest.h>

#include <numeric>

#include "tests/unit/netshelf/service/service_fixture.h"

namespace splitarray::netshelf::service_test {
namespace {

using protocol::DiskActionValue;
using protocol::DiskStateValue;
using protocol::StatusRep;

const protocol::HostStatsValue* host_stats(const StatusRep& status, uint32_t host) {
  for (const auto& h : status.hosts) {
    if (h.host_id == host) return &h;
  }
  return nullptr;
}

const protocol::NvramUsageValue* nvram_usage(const StatusRep& status, uint32_t host) {
  for (const auto& n : status.nvram) {
    if (n.host_id == host) return &n;
  }
  return nullptr;
}

uint64_t bucket_sum(const protocol::HostStatsValue& h) {
  return std::accumulate(h.latency_buckets_micros.begin(), h.latency_buckets_micros.end(),
                         uint64_t{0});
}

TEST_CASE("netshelf/service: status lists disks, NVRAM usage per host and per-host counters") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto host1 = co_await f.connect(s.address);
    auto host2 = co_await f.connect(s.address);
    auto admin = co_await f.connect(s.address);

    // Host 1: three requests (the read is charged to the host last seen on its connection).
    const std::vector<std::vector<uint8_t>> one = {pattern_bytes(1000, 1)};
    auto a1 = co_await host1->nvram_append(HostId(1), Epoch(1), one);
    REQUIRE_MESSAGE(a1.ok(), why(a1));
    const auto id1 = fragment_id(10, 0);
    const std::vector<uint8_t> fragment1 = make_fragment(id1, pattern_bytes(20000, 2));
    auto w1 = co_await host1->fragment_write(HostId(1), Epoch(1), DiskIndex(0), id1, fragment1);
    REQUIRE_MESSAGE(w1.ok(), why(w1));
    auto r1 = co_await host1->nvram_read(HostId(1), 1, 0);
    REQUIRE_MESSAGE(r1.ok(), why(r1));

    // Host 2: four requests, one of them an error.
    const std::vector<std::vector<uint8_t>> two = {pattern_bytes(300, 3), pattern_bytes(400, 4)};
    auto a2 = co_await host2->nvram_append(HostId(2), Epoch(1), two);
    REQUIRE_MESSAGE(a2.ok(), why(a2));
    std::vector<protocol::Fingerprint> fps = {fingerprint(1)};
    std::vector<protocol::ChunkLocation> locs = {protocol::ChunkLocation{10, 0, 100}};
    auto i2 = co_await host2->index_insert(HostId(2), Epoch(1), fps, locs);
    REQUIRE_MESSAGE(i2.ok(), why(i2));
    const auto id2 = fragment_id(11, 1);
    const std::vector<uint8_t> fragment2 = make_fragment(id2, pattern_bytes(5000, 5));
    auto w2 = co_await host2->fragment_write(HostId(2), Epoch(1), DiskIndex(1), id2, fragment2);
    REQUIRE_MESSAGE(w2.ok(), why(w2));
    auto stale = co_await host2->nvram_append(HostId(2), Epoch(0), two);
    CHECK_MESSAGE(failed_with(stale, Code::kStale), why(stale));

    auto status = co_await admin->status();
    REQUIRE_MESSAGE(status.ok(), why(status));
    CHECK(status->cluster_id == kTestClusterId);
    CHECK(status->shelf_id == kTestShelfId);

    REQUIRE(status->disks.size() == kTestDisks);
    for (size_t i = 0; i < kTestDisks; ++i) {
      CAPTURE(i);
      const auto& disk = status->disks[i];
      CHECK(disk.index == i);
      CHECK(disk.state == DiskStateValue::kHealthy);
      CHECK(disk.capacity_bytes == kTestDiskBytes);
      CHECK(disk.slots_total >= 20);  // 2 MiB of 68 KiB slots, less superblocks and table
      CHECK(disk.slot_payload_max_bytes == kTestSlotPayloadBytes);
      CHECK(disk.generation == 1);
    }
    CHECK(status->disks[0].slots_used == 1);
    CHECK(status->disks[1].slots_used == 1);
    CHECK(status->disks[2].slots_used == 0);

    REQUIRE(status->nvram.size() == 2);
    const auto* n1 = nvram_usage(*status, 1);
    const auto* n2 = nvram_usage(*status, 2);
    REQUIRE(n1 != nullptr);
    REQUIRE(n2 != nullptr);
    CHECK(n1->used_bytes == a1->used_bytes);
    CHECK(n1->capacity_bytes == a1->capacity_bytes);
    CHECK(n1->first_sequence == 1);
    CHECK(n1->next_sequence == 2);
    CHECK(n2->used_bytes == a2->used_bytes);
    CHECK(n2->next_sequence == 3);

    const auto* h1 = host_stats(*status, 1);
    const auto* h2 = host_stats(*status, 2);
    REQUIRE(h1 != nullptr);
    REQUIRE(h2 != nullptr);
    CHECK(h1->requests == 3);
    CHECK(h2->requests == 4);
    // Bytes in cover at least the payloads sent, bytes out at least the records read back.
    CHECK(h1->bytes_in >= 1000 + fragment1.size());
    CHECK(h1->bytes_out >= 1000);
    CHECK(h2->bytes_in >= 2 * 700 + fragment2.size());
    CHECK(h2->bytes_out > 0);
    CHECK(bucket_sum(*h1) == h1->requests);
    CHECK(bucket_sum(*h2) == h2->requests);
    CHECK_FALSE(h1->latency_buckets_micros.empty());

    // The admin connection never named a host: its requests count under host 0.
    auto again = co_await admin->status();
    REQUIRE_MESSAGE(again.ok(), why(again));
    const auto* h0 = host_stats(*again, 0);
    REQUIRE(h0 != nullptr);
    CHECK(h0->requests >= 1);
    CHECK(bucket_sum(*h0) == h0->requests);
    CHECK(host_stats(*again, 1)->requests == 3);
    // The status a test reads over the wire is the one the handler keeps.
    CHECK(s.handler.stats().hosts().at(HostId(2)).errors == 1);

    co_await host1->close();
    co_await host2->close();
    co_await admin->close();
  });
}

TEST_CASE(
    "netshelf/service: a failed disk refuses I/O, a replacement is empty; others unaffected") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    const auto on1 = fragment_id(20, 1);
    const auto on0 = fragment_id(20, 0);
    const std::vector<uint8_t> fragment1 = make_fragment(on1, pattern_bytes(9000, 1));
    const std::vector<uint8_t> fragment0 = make_fragment(on0, pattern_bytes(9000, 2));
    auto w1 = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(1), on1, fragment1);
    REQUIRE_MESSAGE(w1.ok(), why(w1));
    auto w0 = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(0), on0, fragment0);
    REQUIRE_MESSAGE(w0.ok(), why(w0));

    auto failed = co_await client->disk_admin(Epoch(1), DiskIndex(1), DiskActionValue::kFail);
    REQUIRE_MESSAGE(failed.ok(), why(failed));
    auto read = co_await client->fragment_read(DiskIndex(1), on1, 0, 0);
    CHECK_MESSAGE((failed_with(read, Code::kUnavailable) || failed_with(read, Code::kIo)),
                  why(read));
    auto range = co_await client->fragment_read(DiskIndex(1), on1, 0, 100);
    CHECK_MESSAGE((failed_with(range, Code::kUnavailable) || failed_with(range, Code::kIo)),
                  why(range));
    const auto more = fragment_id(21, 1);
    const std::vector<uint8_t> more_fragment = make_fragment(more, pattern_bytes(100, 3));
    auto write =
        co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(1), more, more_fragment);
    CHECK_MESSAGE((failed_with(write, Code::kUnavailable) || failed_with(write, Code::kIo)),
                  why(write));
    auto del = co_await client->fragment_delete(HostId(1), Epoch(1), DiskIndex(1), on1);
    CHECK_FALSE(del.ok());

    auto status = co_await client->status();
    REQUIRE_MESSAGE(status.ok(), why(status));
    REQUIRE(status->disks.size() == kTestDisks);
    CHECK(status->disks[1].state == DiskStateValue::kFailed);
    CHECK(status->disks[0].state == DiskStateValue::kHealthy);
    CHECK(status->disks[2].state == DiskStateValue::kHealthy);
    const uint32_t old_generation = status->disks[1].generation;

    // The other disks keep serving.
    auto still = co_await client->fragment_read(DiskIndex(0), on0, 0, 0);
    REQUIRE_MESSAGE(still.ok(), why(still));
    CHECK(*still == fragment0);
    auto elsewhere =
        co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(2), more, more_fragment);
    CHECK_MESSAGE(elsewhere.ok(), why(elsewhere));

    auto replaced = co_await client->disk_admin(Epoch(1), DiskIndex(1), DiskActionValue::kReplace);
    REQUIRE_MESSAGE(replaced.ok(), why(replaced));
    auto after = co_await client->status();
    REQUIRE_MESSAGE(after.ok(), why(after));
    const auto& fresh = after->disks.at(1);
    CHECK(fresh.state == DiskStateValue::kRebuilding);
    CHECK(fresh.generation == old_generation + 1);
    CHECK(fresh.slots_used == 0);
    CHECK(fresh.slots_total == status->disks[1].slots_total);
    CHECK(fresh.capacity_bytes == kTestDiskBytes);
    CHECK(after->disks[0].state == DiskStateValue::kHealthy);
    CHECK(after->disks[0].slots_used == 1);
    CHECK(after->disks[2].slots_used == 1);

    // The replacement is empty and takes the rebuild's writes.
    auto empty = co_await client->fragment_read(DiskIndex(1), on1, 0, 0);
    CHECK_MESSAGE(failed_with(empty, Code::kNotFound), why(empty));
    auto rebuilt =
        co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(1), on1, fragment1);
    REQUIRE_MESSAGE(rebuilt.ok(), why(rebuilt));
    auto back = co_await client->fragment_read(DiskIndex(1), on1, 0, 0);
    REQUIRE_MESSAGE(back.ok(), why(back));
    CHECK(*back == fragment1);
    co_await client->close();
  });
}

TEST_CASE(
    "netshelf/service: a failed disk stays failed across a restart; replaced stays rebuilding") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    auto failed = co_await client->disk_admin(Epoch(1), DiskIndex(0), DiskActionValue::kFail);
    REQUIRE_MESSAGE(failed.ok(), why(failed));
    auto failed2 = co_await client->disk_admin(Epoch(1), DiskIndex(2), DiskActionValue::kFail);
    REQUIRE_MESSAGE(failed2.ok(), why(failed2));
    auto replaced = co_await client->disk_admin(Epoch(1), DiskIndex(2), DiskActionValue::kReplace);
    REQUIRE_MESSAGE(replaced.ok(), why(replaced));
    co_await client->close();
  });
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    auto status = co_await client->status();
    REQUIRE_MESSAGE(status.ok(), why(status));
    REQUIRE(status->disks.size() == kTestDisks);
    CHECK(status->disks[0].state == DiskStateValue::kFailed);
    CHECK(status->disks[1].state == DiskStateValue::kHealthy);
    CHECK(status->disks[2].state == DiskStateValue::kRebuilding);
    CHECK(status->disks[2].generation == 2);
    co_await client->close();
  });
}

TEST_CASE("netshelf/service: a disk missing at open is listed failed and can be replaced") {
  Fixture f;
  std::filesystem::remove(f.disk_path(2));
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    auto status = co_await client->status();
    REQUIRE_MESSAGE(status.ok(), why(status));
    REQUIRE(status->disks.size() == kTestDisks);
    CHECK(status->disks[2].state == DiskStateValue::kFailed);
    CHECK(status->disks[0].state == DiskStateValue::kHealthy);
    const auto id = fragment_id(30, 2);
    const std::vector<uint8_t> fragment = make_fragment(id, pattern_bytes(4000, 1));
    auto refused = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(2), id, fragment);
    CHECK_MESSAGE(failed_with(refused, Code::kUnavailable), why(refused));

    auto replaced = co_await client->disk_admin(Epoch(1), DiskIndex(2), DiskActionValue::kReplace);
    REQUIRE_MESSAGE(replaced.ok(), why(replaced));
    auto after = co_await client->status();
    REQUIRE_MESSAGE(after.ok(), why(after));
    CHECK(after->disks[2].state == DiskStateValue::kRebuilding);
    CHECK(after->disks[2].capacity_bytes == kTestDiskBytes);
    // Same geometry as its siblings: the shelf's configured slot size, not a default.
    CHECK(after->disks[2].slots_total == after->disks[0].slots_total);
    auto written = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(2), id, fragment);
    REQUIRE_MESSAGE(written.ok(), why(written));
    auto back = co_await client->fragment_read(DiskIndex(2), id, 0, 0);
    REQUIRE_MESSAGE(back.ok(), why(back));
    CHECK(*back == fragment);
    co_await client->close();
  });
}

}  // namespace
}  // namespace splitarray::netshelf::service_test
