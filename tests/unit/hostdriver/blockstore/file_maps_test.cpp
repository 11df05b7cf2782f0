// FileMaps (hostdriver/blockstore/file_maps.h), pure and synchronous: which log records the
// trimmer may drop. A record whose entry only a record that is not durable yet replaced must
// stay: were the newer record lost in a crash, replay needs the older one (trimmer.cpp (d)).
#include <doctest/doctest.h>

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

}  // namespace
}  // namespace splitarray::hostdriver::blockstore
