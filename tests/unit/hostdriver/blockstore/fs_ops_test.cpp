// What the file system needs from the block store (block_store.h "For the file system"):
// file-system operations ride in the log (alone or with the data change they describe) and come
// back in log order after a crash; records carrying them stay in the log until a checkpoint covers
// them; metadata nodes are stored as chunks and read back by reference.
#include <doctest/doctest.h>

#include "tests/unit/hostdriver/blockstore/block_store_fixture.h"

namespace splitarray::hostdriver::blockstore::bs_test {
namespace {

std::vector<uint8_t> op_bytes(uint8_t tag, size_t length) {
  std::vector<uint8_t> op(length, tag);
  op[0] = tag;
  return op;
}

Task<LogTicket> enqueue_ok(BlockStore& store, std::vector<uint8_t> op) {
  auto room = co_await store.wait_op_room(op.size());
  REQUIRE_MESSAGE(room.ok(), why(room));
  auto ticket = store.enqueue_op(std::move(op));
  REQUIRE_MESSAGE(ticket.ok(), why(ticket));
  co_return *ticket;
}

TEST_CASE("hostdriver/blockstore: fs ops come back in log order after a crash") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    BlockStore* a = co_await s.open(s.config());
    Prng rng(kDefaultSeed);
    co_await enqueue_ok(*a, op_bytes(1, 10));
    // An op riding with a write: built exactly once, when its record is queued.
    int builds = 0;
    std::vector<uint8_t> data = random_bytes(rng, 3 * kBlockBytes + 5);
    FsOpBuilder with_write{400, [&builds] {
                             ++builds;
                             return op_bytes(2, 300);
                           }};
    auto wrote =
        co_await a->write(InodeId(7), 0, data, Stability::kDataSync, std::move(with_write));
    REQUIRE_MESSAGE(wrote.ok(), why(wrote));
    CHECK(builds == 1);
    const LogTicket third = co_await enqueue_ok(*a, op_bytes(3, kRecordFsOpBytesMax));
    auto durable = co_await a->wait_durable(third);
    REQUIRE_MESSAGE(durable.ok(), why(durable));
    FsOpBuilder with_truncate{40, [] { return op_bytes(4, 40); }};
    auto truncated = co_await a->truncate(InodeId(7), kBlockBytes, Stability::kFileSync,
                                          std::move(with_truncate));
    REQUIRE_MESSAGE(truncated.ok(), why(truncated));
    // An op that is too long or empty is refused and nothing is queued.
    auto long_op = a->enqueue_op(op_bytes(5, kRecordFsOpBytesMax + 1));
    CHECK(failed_with(long_op, Code::kInvalidArgument));
    CHECK(failed_with(a->enqueue_op({}), Code::kInvalidArgument));
    FsOpBuilder too_long{kRecordFsOpBytesMax + 1, [] { return op_bytes(6, 10); }};
    auto long_write =
        co_await a->write(InodeId(7), 0, data, Stability::kDataSync, std::move(too_long));
    CHECK(failed_with(long_write, Code::kInvalidArgument));
    CHECK(builds == 1);
    CHECK(a->take_replayed_ops().empty());  // a fresh log had none

    BlockStore* b = co_await s.crash_restart(a);
    std::vector<std::vector<uint8_t>> ops = b->take_replayed_ops();
    REQUIRE(ops.size() == 4);
    CHECK(ops[0] == op_bytes(1, 10));
    CHECK(ops[1] == op_bytes(2, 300));
    CHECK(ops[2] == op_bytes(3, kRecordFsOpBytesMax));
    CHECK(ops[3] == op_bytes(4, 40));
    CHECK(b->take_replayed_ops().empty());
    auto got = co_await b->read(InodeId(7), 0, 2 * kBlockBytes);
    REQUIRE_MESSAGE(got.ok(), why(got));
    std::vector<uint8_t> want(data.begin(), data.begin() + kBlockBytes);
    want.resize(2 * kBlockBytes, 0);
    CHECK_MESSAGE(*got == want, first_difference(*got, want));
  });
}

TEST_CASE(
    "hostdriver/blockstore: records with fs ops stay in the log until a checkpoint covers them") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    BlockStore* a = co_await s.open(s.config());
    co_await enqueue_ok(*a, op_bytes(1, 100));
    co_await enqueue_ok(*a, op_bytes(2, 100));
    // destage_all trims everything it may: the uncovered ops must survive it.
    auto destaged = co_await a->destage_all();
    REQUIRE_MESSAGE(destaged.ok(), why(destaged));
    BlockStore* b = co_await s.restart(a);
    CHECK(b->take_replayed_ops().size() == 2);
    // The file system checkpointed everything up to here (both replayed ops and one new one).
    co_await enqueue_ok(*b, op_bytes(3, 100));
    const LogTicket mark = b->log_mark();
    auto committed = co_await b->commit();
    REQUIRE_MESSAGE(committed.ok(), why(committed));
    b->fs_ops_covered(mark);
    co_await enqueue_ok(*b, op_bytes(4, 100));  // after the mark: not covered
    destaged = co_await b->destage_all();
    REQUIRE_MESSAGE(destaged.ok(), why(destaged));
    BlockStore* c = co_await s.restart(b);
    std::vector<std::vector<uint8_t>> ops = c->take_replayed_ops();
    REQUIRE(ops.size() == 1);
    CHECK(ops[0] == op_bytes(4, 100));
  });
}

TEST_CASE(
    "hostdriver/blockstore: metadata chunks read back by reference, before and after destage") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    BlockStore* a = co_await s.open(s.config());
    Prng rng(kDefaultSeed + 1);
    // Enough nodes to fill several containers and several records; some repeat, one is zero.
    std::vector<std::vector<uint8_t>> nodes;
    for (int i = 0; i < 300; ++i) nodes.push_back(compressible_bytes(rng, kBlockBytes));
    nodes.push_back(nodes[5]);
    nodes.push_back(std::vector<uint8_t>(kBlockBytes, 0));
    auto refs = a->put_chunks_now(nodes);
    REQUIRE_MESSAGE(refs.ok(), why(refs));
    REQUIRE(refs->size() == nodes.size());
    CHECK((*refs)[300] == (*refs)[5]);               // deduplicated
    CHECK((*refs)[301].location.container_id == 0);  // a hole reference
    CHECK(a->stats().metadata_chunks_put == nodes.size());
    // Wrong sizes are refused.
    std::vector<std::vector<uint8_t>> short_node{std::vector<uint8_t>(100, 1)};
    CHECK(failed_with(a->put_chunks_now(short_node), Code::kInvalidArgument));
    for (size_t i = 0; i < nodes.size(); i += 7) {
      auto got = co_await a->get_chunk((*refs)[i]);
      REQUIRE_MESSAGE(got.ok(), why(got));
      CHECK_MESSAGE(*got == nodes[i], "node " << i << ": " << first_difference(*got, nodes[i]));
    }
    // A crash before destage: the chunks come back from the log.
    auto durable = co_await a->wait_durable(a->log_mark());
    REQUIRE_MESSAGE(durable.ok(), why(durable));
    BlockStore* b = co_await s.crash_restart(a);
    for (size_t i = 0; i < nodes.size(); i += 5) {
      auto got = co_await b->get_chunk((*refs)[i]);
      REQUIRE_MESSAGE(got.ok(), "after crash, node " << i << ": " << why(got));
      CHECK_MESSAGE(*got == nodes[i], "node " << i << ": " << first_difference(*got, nodes[i]));
    }
    // After destage and a restart: read from the disks.
    auto destaged = co_await b->destage_all();
    REQUIRE_MESSAGE(destaged.ok(), why(destaged));
    BlockStore* c = co_await s.restart(b);
    for (size_t i = 0; i < nodes.size(); i += 3) {
      auto got = co_await c->get_chunk((*refs)[i]);
      REQUIRE_MESSAGE(got.ok(), "after destage, node " << i << ": " << why(got));
      CHECK_MESSAGE(*got == nodes[i], "node " << i << ": " << first_difference(*got, nodes[i]));
    }
    CHECK(c->stats().fragment_range_reads > 0);
  });
}

}  // namespace
}  // namespace splitarray::hostdriver::blockstore::bs_test
