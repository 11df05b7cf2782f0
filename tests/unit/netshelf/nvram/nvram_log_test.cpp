// tests/unit/netshelf/nvram/nvram_log_test.cpp
// NvramLog behaviour on a real AsioEnv: round trips, sequences, group commit, ring wrap-around,
// backpressure, trims, fencing, limits and flush errors.
#include <doctest/doctest.h>

#include <set>
#include <utility>

#include "common/async/task_group.h"
#include "tests/unit/netshelf/nvram/nvram_fixture.h"

namespace splitarray::netshelf::nvram::test {
namespace {

TEST_CASE("netshelf/nvram: append and read round trip, across reopen") {
  Fixture f;
  {
    auto log = f.format();
    CHECK(log->hosts().empty());
    for (int i = 0; i < 5; ++i) append_sync(f, *log, 1, 1, 100 + i);
    // A batch of three records gets three contiguous sequences.
    auto batch = run_task(
        f.io, append_many(*log, HostId(1), Epoch(1),
                          {payload_for(1, 6, 10), payload_for(1, 7, 0), payload_for(1, 8, 5000)}));
    REQUIRE(batch.ok());
    CHECK(batch->first_sequence == 6);
    CHECK(batch->capacity_bytes == log->geometry().ring_bytes());
    CHECK(batch->used_bytes == 5 * 512 + 512 + 512 + 5120);
  }
  auto log = f.open();
  CHECK(log->hosts() == std::vector<HostId>{HostId(1)});
  auto usage = log->usage(HostId(1));
  REQUIRE(usage.ok());
  CHECK(usage->first_sequence == 1);
  CHECK(usage->next_sequence == 9);
  auto got = run_task(f.io, log->read(HostId(1), 1, 1 << 20));
  REQUIRE(got.ok());
  REQUIRE(got->records.size() == 8);
  for (uint64_t s = 1; s <= 5; ++s) {
    CHECK(got->records[s - 1].bytes == payload_for(1, s, 100 + s - 1));
  }
  CHECK(got->records[5].bytes == payload_for(1, 6, 10));
  CHECK(got->records[6].bytes.empty());
  CHECK(got->records[7].bytes == payload_for(1, 8, 5000));
  CHECK(got->next_sequence == 9);
  // Reading at the end is empty; past it is an error; max_bytes bounds the reply.
  CHECK(run_task(f.io, log->read(HostId(1), 9, 1024))->records.empty());
  CHECK(run_task(f.io, log->read(HostId(1), 10, 1024)).code() == Code::kInvalidArgument);
  CHECK(run_task(f.io, log->read(HostId(1), 1, 250))->records.size() == 2);
  CHECK(run_task(f.io, log->read(HostId(1), 8, 1))->records.size() == 1);  // always progress
  CHECK(run_task(f.io, log->read(HostId(2), 1, 1024)).code() == Code::kNotFound);
  // Appends continue the sequence after reopen.
  CHECK(append_sync(f, *log, 1, 1, 64) == 9);
}

TEST_CASE("netshelf/nvram: sequences are contiguous per host and independent between hosts") {
  Fixture f;
  auto log = f.format();
  for (int round = 0; round < 4; ++round) {
    for (uint32_t host = 1; host <= 3; ++host) append_sync(f, *log, host, 1, 200 * host);
  }
  for (uint32_t host = 1; host <= 3; ++host) {
    CHECK(log->usage(HostId(host))->next_sequence == 5);
    CHECK(read_all_checked(f, *log, host, 1, 200 * host) == std::vector<uint64_t>{1, 2, 3, 4});
  }
  CHECK(log->hosts() == std::vector<HostId>{HostId(1), HostId(2), HostId(3)});
  // Four regions: a fifth host gets kNoSpace, the others keep working.
  append_sync(f, *log, 4, 1, 10);
  CHECK(run_task(f.io, append_one(*log, HostId(5), Epoch(1), {1, 2})).code() == Code::kNoSpace);
  append_sync(f, *log, 2, 1, 400);
}

Task<void> append_into(NvramLog& log, HostId host, std::vector<uint8_t> bytes,
                       Result<AppendResult>& out) {
  out = co_await append_one(log, host, Epoch(1), std::move(bytes));
}

TEST_CASE("netshelf/nvram: 64 concurrent appends share few flushes (group commit)") {
  Fixture f;
  auto log = f.format();
  append_sync(f, *log, 1, 1, 10);  // claim the region first
  append_sync(f, *log, 2, 1, 10);
  const uint64_t flushes_before = log->stats().flushes;
  const uint64_t file_flushes_before = f.plan().flushes;
  constexpr int kAppenders = 64;
  std::vector<Result<AppendResult>> results(kAppenders, Error{Code::kCancelled, "not run"});
  auto body = [&]() -> Task<void> {
    async::TaskGroup group;
    for (int i = 0; i < kAppenders; ++i) {
      const uint32_t host = 1 + i % 2;
      // The payload names the appender; sequences are checked against the replies below.
      group.spawn(f.env.executor(),
                  append_into(*log, HostId(host), payload_for(host, 1000 + i, 300), results[i]));
    }
    co_await group.join();
  };
  run_task(f.io, body());
  const uint64_t flushes = log->stats().flushes - flushes_before;
  MESSAGE("64 concurrent appends took " << flushes << " group-commit flushes");
  CHECK(flushes >= 1);
  CHECK(flushes <= 8);
  CHECK(f.plan().flushes - file_flushes_before == flushes);
  std::set<std::pair<uint32_t, uint64_t>> seen;
  for (int i = 0; i < kAppenders; ++i) {
    REQUIRE_MESSAGE(results[i].ok(), why(results[i]));
    const uint32_t host = 1 + i % 2;
    const uint64_t seq = results[i]->first_sequence;
    auto got = run_task(f.io, log->read(HostId(host), seq, 1));
    REQUIRE(got.ok());
    REQUIRE(got->records.size() == 1);
    CHECK(got->records[0].bytes == payload_for(host, 1000 + i, 300));
    CHECK(seen.emplace(host, seq).second);
  }
  CHECK(log->usage(HostId(1))->next_sequence == 2 + kAppenders / 2);
  CHECK(log->usage(HostId(2))->next_sequence == 2 + kAppenders / 2);
  CHECK(log->stats().appends == kAppenders + 2);
}

TEST_CASE("netshelf/nvram: full ring answers kBusy, a trim makes room") {
  Fixture f;
  auto log = f.format();
  const uint64_t ring = log->geometry().ring_bytes();
  const size_t length = 16 * 1024 - 64;  // footprint exactly 16 KiB
  uint64_t last = 0;
  while (!log->usage(HostId(1)).ok() || log->usage(HostId(1))->used_bytes + 16 * 1024 <= ring) {
    last = append_sync(f, *log, 1, 1, length);
  }
  const uint64_t writes = f.plan().writes;
  auto busy = run_task(f.io, append_one(*log, HostId(1), Epoch(1), payload_for(1, last + 1, 600)));
  CHECK(busy.code() == Code::kBusy);
  CHECK(f.plan().writes == writes);  // nothing written for a refused append
  CHECK(log->usage(HostId(1))->next_sequence == last + 1);
  // Another host is not affected by host 1's full log.
  append_sync(f, *log, 2, 1, length);
  REQUIRE(run_task(f.io, log->trim(HostId(1), Epoch(1), 2)).ok());
  CHECK(append_sync(f, *log, 1, 1, length) == last + 1);
  CHECK(append_sync(f, *log, 1, 1, length) == last + 2);
  CHECK(run_task(f.io, append_one(*log, HostId(1), Epoch(1), {1})).code() == Code::kBusy);
}

TEST_CASE("netshelf/nvram: the ring wraps around after trims, across reopens") {
  Fixture f;
  auto log = f.format();
  const uint64_t ring = log->geometry().ring_bytes();
  const size_t length = 5000;  // footprint 5120: does not divide the ring, so records wrap
  uint64_t first = 1;
  uint64_t next = 1;
  for (int lap = 0; lap < 6; ++lap) {
    while (!log->usage(HostId(1)).ok() || log->usage(HostId(1))->used_bytes + 5120 <= ring) {
      next = append_sync(f, *log, 1, 1, length) + 1;
    }
    CHECK(read_all_checked(f, *log, 1, first, length).size() == next - first);
    // Keep the newest 5 records, trim the rest, reopen.
    REQUIRE(run_task(f.io, log->trim(HostId(1), Epoch(1), next - 6)).ok());
    first = next - 5;
    log.reset();
    log = f.open();
    CHECK(log->usage(HostId(1))->first_sequence == first);
    CHECK(log->usage(HostId(1))->next_sequence == next);
    CHECK(log->usage(HostId(1))->used_bytes == 5 * 5120);
    CHECK(read_all_checked(f, *log, 1, first, length).size() == 5);
  }
  CHECK((next - 1) * 5120 > 4 * ring);  // the log went round the ring more than 4 times
}

TEST_CASE("netshelf/nvram: trim is durable across reopen, trimmed records are gone") {
  Fixture f;
  {
    auto log = f.format();
    for (int i = 0; i < 10; ++i) append_sync(f, *log, 1, 1, 960);
    const uint64_t used = log->usage(HostId(1))->used_bytes;
    REQUIRE(run_task(f.io, log->trim(HostId(1), Epoch(1), 4)).ok());
    CHECK(log->usage(HostId(1))->used_bytes == used - 4 * 1024);
    REQUIRE(run_task(f.io, log->trim(HostId(1), Epoch(1), 2)).ok());  // already trimmed: no-op
    // Trimming what was never acknowledged is refused.
    CHECK(run_task(f.io, log->trim(HostId(1), Epoch(1), 11)).code() == Code::kInvalidArgument);
  }
  auto log = f.open();
  CHECK(log->usage(HostId(1))->first_sequence == 5);
  CHECK(run_task(f.io, log->read(HostId(1), 4, 1024)).code() == Code::kNotFound);
  CHECK(read_all_checked(f, *log, 1, 5, 960) == std::vector<uint64_t>{5, 6, 7, 8, 9, 10});
  // Trim everything, reopen: an empty log that continues at the next sequence.
  REQUIRE(run_task(f.io, log->trim(HostId(1), Epoch(1), 10)).ok());
  CHECK(log->usage(HostId(1))->used_bytes == 0);
  log.reset();
  log = f.open();
  CHECK(log->usage(HostId(1))->first_sequence == 11);
  CHECK(log->usage(HostId(1))->next_sequence == 11);
  CHECK(append_sync(f, *log, 1, 1, 960) == 11);
}

TEST_CASE("netshelf/nvram: stale epochs are fenced and write nothing, newer epochs persist") {
  Fixture f;
  {
    auto log = f.format();
    append_sync(f, *log, 1, 5, 100);
    const uint64_t writes = f.plan().writes;
    auto stale = run_task(f.io, append_one(*log, HostId(1), Epoch(4), payload_for(1, 2, 100)));
    CHECK(stale.code() == Code::kStale);
    CHECK(run_task(f.io, log->trim(HostId(1), Epoch(4), 1)).code() == Code::kStale);
    CHECK(f.plan().writes == writes);
    CHECK(log->usage(HostId(1))->next_sequence == 2);
    // A newer owner raises the fence durably before its append.
    append_sync(f, *log, 1, 9, 100);
    CHECK(log->usage(HostId(1))->fence == Epoch(9));
    CHECK(run_task(f.io, append_one(*log, HostId(1), Epoch(5), {1})).code() == Code::kStale);
  }
  auto log = f.open();
  CHECK(log->usage(HostId(1))->fence == Epoch(9));
  CHECK(run_task(f.io, append_one(*log, HostId(1), Epoch(8), {1})).code() == Code::kStale);
  CHECK(run_task(f.io, log->trim(HostId(1), Epoch(10), 1)).ok());  // a trim raises it too
  CHECK(log->usage(HostId(1))->fence == Epoch(10));
  CHECK(read_all_checked(f, *log, 1, 2, 100) == std::vector<uint64_t>{2});
}

TEST_CASE("netshelf/nvram: oversized or malformed appends are kInvalidArgument") {
  Fixture f;
  auto log = f.format();
  const uint64_t writes = f.plan().writes;
  std::vector<uint8_t> big(small_config().append_max_bytes + 1, 7);
  CHECK(run_task(f.io, append_one(*log, HostId(1), Epoch(1), big)).code() ==
        Code::kInvalidArgument);
  // The limit is per append, not per record.
  std::vector<std::vector<uint8_t>> two(
      2, std::vector<uint8_t>(small_config().append_max_bytes / 2 + 1));
  CHECK(run_task(f.io, append_many(*log, HostId(1), Epoch(1), two)).code() ==
        Code::kInvalidArgument);
  std::vector<std::vector<uint8_t>> many(small_config().append_records_max + 1,
                                         std::vector<uint8_t>(1));
  CHECK(run_task(f.io, append_many(*log, HostId(1), Epoch(1), many)).code() ==
        Code::kInvalidArgument);
  CHECK(run_task(f.io, append_many(*log, HostId(1), Epoch(1), {})).code() ==
        Code::kInvalidArgument);
  CHECK(f.plan().writes == writes);
  CHECK(log->hosts().empty());  // nothing claimed either
  // Exactly at the limit is fine.
  big.pop_back();
  CHECK(run_task(f.io, append_one(*log, HostId(1), Epoch(1), big)).ok());
}

TEST_CASE("netshelf/nvram: a flush error fails the append and the log for good") {
  Fixture f;
  auto log = f.format();
  append_sync(f, *log, 1, 1, 100);
  f.plan().fail_flushes = 1;
  auto failed = run_task(f.io, append_one(*log, HostId(1), Epoch(1), payload_for(1, 2, 100)));
  CHECK(failed.code() == Code::kIo);
  CHECK(log->failed());
  CHECK(log->usage(HostId(1))->next_sequence == 2);  // nothing acknowledged
  CHECK(run_task(f.io, append_one(*log, HostId(1), Epoch(1), {1})).code() == Code::kIo);
  CHECK(run_task(f.io, log->read(HostId(1), 1, 1024)).code() == Code::kIo);
  CHECK(run_task(f.io, log->trim(HostId(1), Epoch(1), 1)).code() == Code::kIo);
  log.reset();
  // A restart recovers everything acknowledged before the failure.
  auto reopened = f.open();
  CHECK(read_all_checked(f, *reopened, 1, 1, 100).front() == 1);
}

TEST_CASE("netshelf/nvram: a write error during concurrent appends acknowledges none of them") {
  Fixture f;
  auto log = f.format();
  append_sync(f, *log, 1, 1, 100);
  f.plan().fail_writes = 1;
  std::vector<Result<AppendResult>> results(8, Error{Code::kCancelled, "not run"});
  auto body = [&]() -> Task<void> {
    async::TaskGroup group;
    for (int i = 0; i < 8; ++i) {
      group.spawn(f.env.executor(),
                  append_into(*log, HostId(1), payload_for(1, 50, 10), results[i]));
    }
    co_await group.join();
  };
  run_task(f.io, body());
  for (const auto& result : results) CHECK(result.code() == Code::kIo);
  CHECK(log->failed());
  CHECK(log->usage(HostId(1))->next_sequence == 2);
}

}  // namespace
}  // namespace splitarray::netshelf::nvram::test
