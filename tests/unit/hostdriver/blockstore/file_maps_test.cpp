// FileMaps (hostdriver/blockstore/file_maps.h), pure and synchronous: which log records the
// trimmer may drop. A record whose entry only a record that is not durable yet replaced must
// stay: were the newer record lost in a crash, replay needs the older one (trimmer.cpp (d)).
#include <doctest/doctest.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "hostdriver/blockstore/file_maps.h"

namespace splitarray::hostdriver::blockstore {
namespace {

MapUpdate mapped(uint64_t block_index, uint64_t container) {
  MapUpdate update;
  update.block_index = block_index;
  update.fp[0] = static_cast<uint8_t>(container);
  update.location.container_id = container;
  update.location.length = 4096;
  return update;
}

MapUpdate hole(uint64_t block_index) {
  MapUpdate update;
  update.block_index = block_index;
  return update;
}

TEST_CASE("hostdriver/blockstore: an entry replaced by a record not yet durable pins the old one") {
  FileMaps maps;
  const InodeId file(7);
  maps.apply(file, mapped(0, 1), 1);  // ticket 1: block 0 (acknowledged: durable)
  maps.apply(file, mapped(1, 1), 2);  // ticket 2: block 1
  CHECK(maps.oldest_replaced_by_undurable(2) == UINT64_MAX);
  CHECK(maps.oldest_ticket() == 1);

  maps.apply(file, mapped(0, 2), 3);  // ticket 3 overwrites block 0; durable through 2 only
  CHECK(maps.oldest_ticket() == 2);   // ticket 1 carries no current entry any more ...
  CHECK(maps.oldest_replaced_by_undurable(2) == 1);  // ... but must stay until 3 is durable
  CHECK(maps.oldest_replaced_by_undurable(3) == UINT64_MAX);  // 3 durable: 1 may go
  CHECK(maps.oldest_replaced_by_undurable(2) == UINT64_MAX);  // forgotten once durable

  // Erasing (a hole, a truncate) pins what it erased the same way.
  maps.apply(file, hole(1), 4);
  CHECK(maps.oldest_replaced_by_undurable(3) == 2);
  maps.truncate_from(file, 0, 5);
  CHECK(maps.oldest_replaced_by_undurable(3) == 2);  // 5 erased block 0 of ticket 3 too
  CHECK(maps.oldest_replaced_by_undurable(4) == 3);
  CHECK(maps.oldest_replaced_by_undurable(5) == UINT64_MAX);
  CHECK(maps.oldest_ticket() == UINT64_MAX);
}

TEST_CASE(
    "hostdriver/blockstore: a relogged entry pins its old record until the relog is durable") {
  FileMaps maps;
  const InodeId file(3);
  maps.apply(file, mapped(0, 1), 1);
  maps.apply(file, mapped(1, 1), 2);
  std::vector<LogRecord> relog = maps.take_relog(1, 3, 100, 100);
  REQUIRE(relog.size() == 1);
  CHECK(relog[0].updates.size() == 1);
  CHECK(maps.oldest_ticket() == 2);
  CHECK(maps.oldest_replaced_by_undurable(2) == 1);
  CHECK(maps.oldest_replaced_by_undurable(3) == UINT64_MAX);
}

// The entries a relog carries, as (inode, block, container) in record order.
std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> relogged(
    const std::vector<LogRecord>& records) {
  std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> out;
  for (const LogRecord& record : records) {
    for (const MapUpdate& update : record.updates) {
      out.emplace_back(record.inode.value(), update.block_index, update.location.container_id);
    }
  }
  return out;
}

TEST_CASE("hostdriver/blockstore: a relog carries exactly the current entries of old records") {
  FileMaps maps;
  const InodeId a(5);
  const InodeId b(9);
  for (uint64_t block = 0; block < 6; ++block) maps.apply(a, mapped(block, 1), 1);
  maps.apply(b, mapped(0, 1), 1);
  maps.apply(b, mapped(1, 1), 2);
  maps.apply(a, mapped(2, 2), 2);  // replaces a/2 of ticket 1: its pair there is stale
  maps.apply(a, hole(4), 2);       // erases a/4 of ticket 1
  maps.apply(a, mapped(9, 2), 3);  // newer than the relog's reach

  // Through ticket 2, at most 4 entries: the limit stops inside ticket 1's list, and the rest
  // stays listed for the next call.
  std::vector<LogRecord> first = maps.take_relog(2, 10, 4, 100);
  CHECK(relogged(first).size() == 4);
  CHECK(maps.oldest_ticket() == 1);
  std::vector<LogRecord> second = maps.take_relog(2, 11, 100, 2);
  for (const LogRecord& record : second) CHECK(record.updates.size() <= 2);  // split per record

  std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> all = relogged(first);
  const auto rest = relogged(second);
  all.insert(all.end(), rest.begin(), rest.end());
  std::sort(all.begin(), all.end());
  const std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> expected = {
      {5, 0, 1}, {5, 1, 1}, {5, 2, 2}, {5, 3, 1}, {5, 5, 1}, {9, 0, 1}, {9, 1, 1}};
  CHECK(all == expected);
  CHECK(maps.oldest_ticket() == 3);  // everything older now lives under tickets 10 and 11
  CHECK(maps.mapped_blocks() == 8);

  // Relogged entries keep their references and relog again under their new tickets.
  const BlockRef* ref = maps.find(a, 3);
  REQUIRE(ref != nullptr);
  CHECK(ref->location.container_id == 1);
  CHECK(maps.take_relog(2, 12, 100, 100).empty());  // nothing is left at or below ticket 2
  CHECK(relogged(maps.take_relog(11, 13, 100, 100)).size() == 8);  // tickets 3, 10 and 11
  CHECK(maps.oldest_ticket() == 13);
}

}  // namespace
}  // namespace splitarray::hostdriver::blockstore
