// Tests of rebuilding the index from container footers (IndexStore::begin_rebuild,
// rebuild_insert, finish_rebuild): the rebuilt index serves and survives reopen; the
// "rebuilding" marker survives every crash point until a finish (a failed begin, a begin
// without finish, a torn marker, an index created where one was expected); phases out of order
// and superseded rebuild ids are refused; inserts racing with a begin are the same in RAM and
// after reopen. Real files through AsioEnv, faults through FaultyStorage.
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include "common/async/task_group.h"
#include "tests/unit/netshelf/index/index_store_fixture.h"

namespace splitarray::netshelf::index {
namespace {

using namespace store_test;

std::string marker_path(const Node& node) { return node.dir.path + "/index.rebuild"; }

Result<uint64_t> begin(Node& node) { return run(node.io, node.store->begin_rebuild()); }
Result<BulkInsertSummary> reinsert(Node& node, uint64_t id, std::vector<IndexEntry> entries) {
  return run(node.io, node.store->rebuild_insert(id, std::move(entries)));
}
Result<void> finish(Node& node, uint64_t id) {
  return run(node.io, node.store->finish_rebuild(id));
}

// The same fps as `entries`, at other locations (a second footer claiming them).
std::vector<IndexEntry> relocated(std::vector<IndexEntry> entries) {
  for (IndexEntry& e : entries)
    e.location.container = ContainerId(e.location.container.value() + 1);
  return entries;
}

TEST_CASE("netshelf/index: a rebuild empties the index, re-inserts footers and survives reopen") {
  Node node;
  node.open();
  Prng rng(11);
  const auto old_entries = random_entries(rng, 2000);
  REQUIRE(node.insert(old_entries).ok());
  CHECK_FALSE(node.store->rebuilding());

  auto id = begin(node);
  REQUIRE_MESSAGE(id.ok(), id.error().to_string());
  CHECK(id.value() > 0);
  CHECK(node.store->rebuilding());
  CHECK(node.store->rebuild_id() == id.value());
  CHECK(node.store->memory().size() == 0);
  CHECK(count_present(*node.store, old_entries) == 0);

  // Two footers; the second repeats part of the first at other locations: first writer wins.
  const auto footer1 = random_entries(rng, 700);
  const std::vector<IndexEntry> repeated(footer1.begin(), footer1.begin() + 100);
  auto footer2 = random_entries(rng, 300);
  for (const IndexEntry& e : relocated(repeated)) footer2.push_back(e);
  auto first = reinsert(node, id.value(), footer1);
  REQUIRE(first.ok());
  CHECK(first.value().inserted == 700);
  CHECK(first.value().already_present == 0);
  auto second = reinsert(node, id.value(), footer2);
  REQUIRE(second.ok());
  CHECK(second.value().inserted == 300);
  CHECK(second.value().already_present == 100);
  REQUIRE(finish(node, id.value()).ok());
  CHECK_FALSE(node.store->rebuilding());
  CHECK(node.store->rebuild_id() == 0);
  CHECK_FALSE(std::filesystem::exists(marker_path(node)));

  Model model;
  add_to_model(&model, footer1);
  add_to_model(&model, footer2);  // emplace keeps footer1's location for the repeated fps
  check_matches(*node.store, model);
  node.open();
  CHECK_FALSE(node.store->rebuilding());
  check_matches(*node.store, model);
}

TEST_CASE("netshelf/index: a begin without a finish is still rebuilding after reopen") {
  Node node;
  node.open();
  Prng rng(12);
  REQUIRE(node.insert(random_entries(rng, 500)).ok());
  auto id = begin(node);
  REQUIRE(id.ok());
  const auto footer = random_entries(rng, 400);
  REQUIRE(reinsert(node, id.value(), footer).ok());

  // A crash: the store goes away without a finish.
  node.open();
  CHECK(node.store->rebuilding());
  CHECK(node.store->rebuild_id() == id.value());
  CHECK(node.store->stats().rebuilding);
  // What was acknowledged is there (and nothing of the old index).
  CHECK(node.store->memory().size() == footer.size());
  CHECK(count_present(*node.store, footer) == footer.size());

  // The same rebuild may go on after the restart, or a new begin restarts it.
  const auto more = random_entries(rng, 100);
  REQUIRE(reinsert(node, id.value(), more).ok());
  auto restarted = begin(node);
  REQUIRE(restarted.ok());
  CHECK(restarted.value() > id.value());
  CHECK(node.store->memory().size() == 0);
  REQUIRE(reinsert(node, restarted.value(), footer).ok());
  REQUIRE(finish(node, restarted.value()).ok());
  node.open();
  CHECK_FALSE(node.store->rebuilding());
  CHECK(node.store->memory().size() == footer.size());
  CHECK(count_present(*node.store, footer) == footer.size());
}

TEST_CASE("netshelf/index: a begin that fails after its marker leaves the index rebuilding") {
  for (const bool fail_marker : {true, false}) {
    CAPTURE(fail_marker);
    Node node;
    node.open();
    Prng rng(13);
    const auto entries = random_entries(rng, 300);
    REQUIRE(node.insert(entries).ok());
    if (fail_marker) {
      node.faulty.plan(marker_path(node)).fail_flushes = 1;
    } else {
      node.faulty.plan(node.dir.path + "/index.snap.tmp").fail_writes = 1;
    }
    auto id = begin(node);
    CHECK(id.code() == Code::kIo);
    // Conservatively rebuilding, with no id any entries could use.
    CHECK(node.store->rebuilding());
    CHECK(node.store->rebuild_id() == 0);
    CHECK(reinsert(node, 1, entries).code() == Code::kInvalidArgument);
    CHECK(finish(node, 1).code() == Code::kInvalidArgument);

    // After a restart the index is still marked: it can never pass for complete.
    node.open();
    CHECK(node.store->rebuilding());
    // Nothing was dropped on disk before the new snapshot was installed.
    CHECK(count_present(*node.store, entries) == entries.size());
    auto again = begin(node);
    REQUIRE(again.ok());
    REQUIRE(reinsert(node, again.value(), entries).ok());
    REQUIRE(finish(node, again.value()).ok());
    node.open();
    CHECK_FALSE(node.store->rebuilding());
    CHECK(count_present(*node.store, entries) == entries.size());
  }
}

TEST_CASE("netshelf/index: a torn or damaged marker still means rebuilding, with no usable id") {
  Node node;
  node.open();
  Prng rng(14);
  const auto entries = random_entries(rng, 100);
  REQUIRE(node.insert(entries).ok());
  node.store.reset();
  const std::vector<std::string> markers = {std::string(), std::string("SAIX"),
                                            std::string(32, 'x')};
  for (const std::string& contents : markers) {
    CAPTURE(contents.size());
    {
      std::ofstream marker(marker_path(node), std::ios::binary | std::ios::trunc);
      marker << contents;
    }
    node.open();
    CHECK(node.store->rebuilding());
    CHECK(node.store->rebuild_id() == 0);
    CHECK(reinsert(node, 0, entries).code() == Code::kInvalidArgument);
    CHECK(finish(node, 0).code() == Code::kInvalidArgument);
    CHECK(count_present(*node.store, entries) == entries.size());  // nothing dropped yet
    node.store.reset();
  }
  node.open();
  auto id = begin(node);
  REQUIRE(id.ok());
  REQUIRE(reinsert(node, id.value(), entries).ok());
  REQUIRE(finish(node, id.value()).ok());
  node.open();
  CHECK_FALSE(node.store->rebuilding());
}

TEST_CASE("netshelf/index: rebuild phases out of order and superseded ids are refused") {
  Node node;
  node.open();
  Prng rng(15);
  const auto entries = random_entries(rng, 50);
  CHECK(reinsert(node, 1, entries).code() == Code::kInvalidArgument);  // no begin
  CHECK(finish(node, 1).code() == Code::kInvalidArgument);
  CHECK(node.store->memory().size() == 0);

  auto first = begin(node);
  REQUIRE(first.ok());
  REQUIRE(reinsert(node, first.value(), entries).ok());
  auto second = begin(node);  // restarts: empty again, a new id
  REQUIRE(second.ok());
  CHECK(second.value() > first.value());
  CHECK(node.store->memory().size() == 0);
  CHECK(reinsert(node, first.value(), entries).code() == Code::kStale);
  CHECK(finish(node, first.value()).code() == Code::kStale);
  CHECK(finish(node, second.value() + 7).code() == Code::kInvalidArgument);
  CHECK(node.store->rebuilding());

  REQUIRE(reinsert(node, second.value(), entries).ok());
  REQUIRE(finish(node, second.value()).ok());
  CHECK(finish(node, second.value()).code() == Code::kInvalidArgument);  // already finished
  CHECK(reinsert(node, second.value(), entries).code() == Code::kInvalidArgument);
  CHECK(count_present(*node.store, entries) == entries.size());
}

TEST_CASE("netshelf/index: an index created where one was expected is marked rebuilding") {
  Node node;
  IndexStoreConfig expected = node.config();
  expected.mark_created_rebuilding = true;
  REQUIRE(node.open(expected).ok());
  CHECK(node.store->rebuilding());
  CHECK(node.store->rebuild_id() == 0);
  CHECK(node.store->memory().size() == 0);
  // Found again, it stays marked (it was created, not rebuilt) ...
  REQUIRE(node.open(expected).ok());
  CHECK(node.store->rebuilding());
  // ... until a rebuild finishes.
  Prng rng(16);
  const auto entries = random_entries(rng, 10);
  auto id = begin(node);
  REQUIRE(id.ok());
  REQUIRE(reinsert(node, id.value(), entries).ok());
  REQUIRE(finish(node, id.value()).ok());
  REQUIRE(node.open(expected).ok());
  CHECK_FALSE(node.store->rebuilding());
  CHECK(count_present(*node.store, entries) == entries.size());
}

TEST_CASE("netshelf/index: inserts racing with a rebuild begin are the same in RAM and on disk") {
  Node node;
  node.open();
  Prng rng(17);
  REQUIRE(node.insert(random_entries(rng, 1000)).ok());
  constexpr size_t kWriters = 3;
  constexpr size_t kBatches = 60;
  std::vector<std::vector<IndexEntry>> batches;
  for (size_t i = 0; i < kBatches; ++i) batches.push_back(random_entries(rng, 50));
  std::vector<bool> after_begin(kBatches, false);  // the insert started once begin had answered
  uint64_t id = 0;
  auto body = [&]() -> Task<void> {
    // Each writer inserts one batch after another, so batches land on both sides of the begin;
    // it stops one batch after the begin has answered.
    auto writer = [&](size_t first) -> Task<void> {
      for (size_t b = first; b < kBatches; b += kWriters) {
        after_begin[b] = id != 0;
        auto result = co_await node.store->insert(batches[b]);
        CHECK(result.ok());
        if (after_begin[b]) break;
      }
    };
    auto begin_one = [&]() -> Task<void> {
      auto begun = co_await node.store->begin_rebuild();
      CHECK(begun.ok());
      if (begun.ok()) id = begun.value();
    };
    async::TaskGroup group;
    for (size_t w = 0; w < kWriters; ++w) group.spawn(node.io.get_executor(), writer(w));
    group.spawn(node.io.get_executor(), begin_one());
    co_await group.join();
  };
  run_task(node.io, body());
  REQUIRE(id > 0);
  // Batches inserted after the begin answered are all there; whatever else the race kept in
  // RAM is exactly what recovery finds.
  std::vector<size_t> in_ram;
  size_t kept_after = 0;
  for (size_t b = 0; b < kBatches; ++b) {
    in_ram.push_back(count_present(*node.store, batches[b]));
    if (after_begin[b]) {
      CHECK(in_ram[b] == batches[b].size());
      ++kept_after;
    }
  }
  const uint64_t size = node.store->memory().size();
  MESSAGE("entries kept across the begin: " << size << ", batches after it: " << kept_after);
  node.open();
  CHECK(node.store->rebuilding());
  CHECK(node.store->memory().size() == size);
  for (size_t b = 0; b < kBatches; ++b) CHECK(count_present(*node.store, batches[b]) == in_ram[b]);
}

}  // namespace
}  // namespace splitarray::netshelf::index
