// tests/unit/netshelf/nvram/nvram_recovery_test.cpp
// Recovery on open after damage made behind the log's back: torn tails are truncated, damaged
// records before the tail are reported (and the records after them kept), torn header updates
// fall back to the other slot.
#include <doctest/doctest.h>

#include <fstream>

#include "tests/unit/netshelf/nvram/nvram_fixture.h"

namespace splitarray::netshelf::nvram::test {
namespace {

void overwrite_on_disk(const std::string& path, uint64_t offset, std::vector<uint8_t> bytes) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(file.good());
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  file.flush();
  REQUIRE(file.good());
}

TEST_CASE("netshelf/nvram: a torn tail is truncated on reopen, earlier records stay intact") {
  Fixture f;
  uint64_t ring_base = 0;
  {
    auto log = f.format();
    ring_base = log->geometry().ring_offset(0);
    for (int i = 0; i < 3; ++i) append_sync(f, *log, 1, 1, 960);  // ring offsets 0, 1024, 2048
    // One group commit of two records (4 at 3072, 5 at 4096); then tear record 4 as a power
    // loss during that commit would: record 5 is whole, record 4 is not.
    auto batch = run_task(f.io, append_many(*log, HostId(1), Epoch(1),
                                            {payload_for(1, 4, 960), payload_for(1, 5, 960)}));
    REQUIRE(batch.ok());
  }
  overwrite_on_disk(f.path, ring_base + 3072 + 512, std::vector<uint8_t>(512, 0));
  {
    auto log = f.open();
    CHECK_FALSE(log->damage(HostId(1)).has_value());
    CHECK(log->stats().torn_records_discarded == 1);  // record 5, never provably acknowledged
    CHECK(log->usage(HostId(1))->next_sequence == 4);
    CHECK(read_all_checked(f, *log, 1, 1, 960) == std::vector<uint64_t>{1, 2, 3});
    // New record 4 ends exactly where the old record 5 starts: the old record must not be
    // taken for the new log's record 5 on the next open (the hash chain tells them apart).
    CHECK(append_sync(f, *log, 1, 1, 900) == 4);
  }
  auto log = f.open();
  CHECK(log->usage(HostId(1))->next_sequence == 5);
  auto got = run_task(f.io, log->read(HostId(1), 4, 4096));
  REQUIRE(got.ok());
  REQUIRE(got->records.size() == 1);
  CHECK(got->records[0].bytes == payload_for(1, 4, 900));
}

TEST_CASE("netshelf/nvram: a torn last record (no record after it) is truncated") {
  Fixture f;
  uint64_t ring_base = 0;
  {
    auto log = f.format();
    ring_base = log->geometry().ring_offset(0);
    for (int i = 0; i < 4; ++i) append_sync(f, *log, 1, 1, 1984);  // footprint 2048 each
  }
  // Half of record 4 never reached the medium.
  overwrite_on_disk(f.path, ring_base + 3 * 2048 + 1024, std::vector<uint8_t>(1024, 0xEE));
  auto log = f.open();
  CHECK_FALSE(log->damage(HostId(1)).has_value());
  CHECK(log->usage(HostId(1))->next_sequence == 4);
  CHECK(read_all_checked(f, *log, 1, 1, 1984) == std::vector<uint64_t>{1, 2, 3});
  CHECK(append_sync(f, *log, 1, 1, 1984) == 4);
}

TEST_CASE("netshelf/nvram: a corrupt record before the tail is reported, later records kept") {
  Fixture f;
  uint64_t ring_base = 0;
  {
    auto log = f.format();
    ring_base = log->geometry().ring_offset(0);
    for (int i = 0; i < 5; ++i) append_sync(f, *log, 1, 1, 960);  // separate group commits
    append_sync(f, *log, 2, 1, 960);
  }
  SUBCASE("bit rot in the payload") {
    testing::flip_bit_on_disk(f.path, ring_base + 2 * 1024 + 300, 3);
  }
  SUBCASE("bit rot in the header") {
    testing::flip_bit_on_disk(f.path, ring_base + 2 * 1024 + 17, 0);  // the sequence field
  }
  auto log = f.open();
  auto damage = log->damage(HostId(1));
  REQUIRE(damage.has_value());
  CHECK(damage->code == Code::kCorruption);
  MESSAGE(damage->message);
  CHECK(damage->message.find("host 1 record 3 at file offset " +
                             std::to_string(ring_base + 2 * 1024)) != std::string::npos);
  CHECK(log->usage(HostId(1))->damaged);
  // Records before the damage and after it are readable; the damaged one says so.
  auto before = run_task(f.io, log->read(HostId(1), 1, 1 << 20));
  REQUIRE(before.ok());
  CHECK(before->records.size() == 2);
  CHECK(run_task(f.io, log->read(HostId(1), 3, 1 << 20)).code() == Code::kCorruption);
  CHECK(read_all_checked(f, *log, 1, 4, 960) == std::vector<uint64_t>{4, 5});
  // The host's log is read-only until an operator deals with it; other hosts carry on.
  CHECK(run_task(f.io, append_one(*log, HostId(1), Epoch(1), {1})).code() == Code::kCorruption);
  CHECK(run_task(f.io, log->trim(HostId(1), Epoch(1), 1)).code() == Code::kCorruption);
  CHECK(append_sync(f, *log, 2, 1, 960) == 2);
  CHECK(read_all_checked(f, *log, 2, 1, 960) == std::vector<uint64_t>{1, 2});
}

TEST_CASE("netshelf/nvram: a torn region header update falls back to the previous slot") {
  Fixture f;
  uint64_t region_base = 0;
  {
    auto log = f.format();
    region_base = log->geometry().region_offset(0);
    append_sync(f, *log, 1, 3, 100);  // claim: generation 2, slot 0
    append_sync(f, *log, 1, 4, 100);  // fence raise: generation 3, slot 1
    CHECK(log->usage(HostId(1))->fence == Epoch(4));
  }
  testing::flip_bit_on_disk(f.path, region_base + kBlockBytes + 30, 1);  // tear slot 1
  auto log = f.open();
  CHECK(log->usage(HostId(1))->fence == Epoch(3));
  CHECK(read_all_checked(f, *log, 1, 1, 100) == std::vector<uint64_t>{1, 2});
}

TEST_CASE("netshelf/nvram: a damaged file header or a missing file is refused on open") {
  Fixture f;
  CHECK(f.try_open().code() == Code::kNotFound);
  f.format().reset();
  testing::flip_bit_on_disk(f.path, 20, 2);
  CHECK(f.try_open().code() == Code::kCorruption);
}

}  // namespace
}  // namespace splitarray::netshelf::nvram::test
