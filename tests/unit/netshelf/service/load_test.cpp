// Many requests at once and a full NVRAM ring, through the service: concurrent appends from two
// hosts on two connections are each acknowledged exactly once with their own sequence, and a
// full ring answers kBusy (backpressure) until the host trims.
#include <doctest/doctest.h>

#include <map>

#include "tests/unit/netshelf/service/service_fixture.h"

namespace splitarray::netshelf::service_test {
namespace {

inline constexpr size_t kAppendsPerHost = 16;

std::vector<uint8_t> record_for(uint32_t host, size_t n) {
  return pattern_bytes(200 + 37 * n, uint64_t{host} * 1000 + n);
}

// One append of record `n`; records the acknowledged sequence (0 on error) in `sequences[n]`.
Task<void> append_record(ShelfClient& client, uint32_t host, size_t n,
                         std::map<size_t, uint64_t>& sequences) {
  const std::vector<std::vector<uint8_t>> records = {record_for(host, n)};
  auto appended = co_await client.nvram_append(HostId(host), Epoch(1), records);
  sequences[n] = appended.ok() ? appended->first_sequence : 0;
}

TEST_CASE("netshelf/service: concurrent appends from two hosts are each acknowledged once") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto host1 = co_await f.connect(s.address);
    auto host2 = co_await f.connect(s.address);
    std::map<size_t, uint64_t> sequences1, sequences2;
    async::TaskGroup group;
    for (size_t n = 0; n < kAppendsPerHost; ++n) {
      group.spawn(f.env().executor(), append_record(*host1, 1, n, sequences1));
      group.spawn(f.env().executor(), append_record(*host2, 2, n, sequences2));
    }
    co_await group.join();
    for (uint32_t host : {1u, 2u}) {
      CAPTURE(host);
      const std::map<size_t, uint64_t>& sequences = host == 1 ? sequences1 : sequences2;
      REQUIRE(sequences.size() == kAppendsPerHost);
      auto log = co_await host1->nvram_read(HostId(host), 1, 0);
      REQUIRE_MESSAGE(log.ok(), why(log));
      REQUIRE(log->records.size() == kAppendsPerHost);
      CHECK(log->next_sequence == kAppendsPerHost + 1);
      // Every acknowledged sequence holds exactly the record it acknowledged.
      for (const auto& entry : sequences) {
        const size_t n = entry.first;  // (not a structured binding: clang 14 cannot capture it)
        const uint64_t sequence = entry.second;
        CAPTURE(n);
        REQUIRE(sequence >= 1);
        REQUIRE(sequence <= kAppendsPerHost);
        CHECK(log->records[sequence - 1] == record_for(host, n));
      }
    }
    co_await host1->close();
    co_await host2->close();
  });
}

TEST_CASE("netshelf/service: a full NVRAM ring answers kBusy until the host trims") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    auto other = co_await f.connect(s.address);
    const std::vector<std::vector<uint8_t>> big = {pattern_bytes(60 * 1024, 1)};
    uint64_t last = 0;
    Result<protocol::NvramAppendRep> appended = make_error(Code::kIo, "not yet");
    for (int i = 0; i < 64; ++i) {
      appended = co_await client->nvram_append(HostId(1), Epoch(1), big);
      if (!appended.ok()) break;
      last = appended->first_sequence;
    }
    REQUIRE_MESSAGE(failed_with(appended, Code::kBusy), why(appended));
    CHECK(last >= 2);
    // Another host's ring is separate and still takes appends.
    auto elsewhere = co_await other->nvram_append(HostId(2), Epoch(1), big);
    CHECK_MESSAGE(elsewhere.ok(), why(elsewhere));
    // Every acknowledged record is still there, whole.
    auto log = co_await client->nvram_read(HostId(1), 1, 0);
    REQUIRE_MESSAGE(log.ok(), why(log));
    CHECK(log->next_sequence == last + 1);
    for (const auto& record : log->records) CHECK(record == big[0]);
    // Trimming frees the ring.
    auto trimmed = co_await client->nvram_trim(HostId(1), Epoch(1), last);
    REQUIRE_MESSAGE(trimmed.ok(), why(trimmed));
    auto again = co_await client->nvram_append(HostId(1), Epoch(1), big);
    REQUIRE_MESSAGE(again.ok(), why(again));
    CHECK(again->first_sequence == last + 1);
    co_await client->close();
    co_await other->close();
  });
}

}  // namespace
}  // namespace splitarray::netshelf::service_test
