// Tests of the crash-safe index: reopen, group commit, flush and write failures, torn and
// damaged log records, snapshots taken while mutations run, corrupt snapshots, the rebuild
// path and the limits. Real files through AsioEnv, faults through FaultyStorage.
// Randomized parts print their seed and take SPLITARRAY_SEED.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/async/task_group.h"
#include "tests/unit/netshelf/index/index_store_fixture.h"

namespace splitarray::netshelf::index {
namespace {

using namespace store_test;

TEST_CASE("netshelf/index: open without a snapshot is kNotFound unless create_if_missing") {
  Node node;
  CHECK(node.open(node.config(false)).code() == Code::kNotFound);
  node.open();
  CHECK(node.store->memory().size() == 0);
  CHECK(node.open(node.config(false)).ok());
}

TEST_CASE("netshelf/index: inserts and removes survive reopen, repeatedly") {
  Node node;
  node.open();
  Prng rng(1);
  Model model;
  for (int round = 0; round < 4; ++round) {
    const auto entries = random_entries(rng, 500);
    REQUIRE(node.insert(entries).ok());
    add_to_model(&model, entries);
    std::vector<Fingerprint> gone{entries[0].fp, entries[7].fp};
    auto was = node.remove(gone);
    REQUIRE(was.ok());
    CHECK(was.value()[0].found);
    for (const Fingerprint& fp : gone) model.erase(fp);
    node.open();  // destroys the store ("crash" after acknowledged batches) and recovers
    check_matches(*node.store, model);
  }
}

TEST_CASE("netshelf/index: concurrent batches share flushes (group commit)") {
  Node node;
  node.open();
  Prng rng(2);
  constexpr int kBatches = 16;
  std::vector<std::vector<IndexEntry>> batches;
  for (int i = 0; i < kBatches; ++i) batches.push_back(random_entries(rng, 100));
  const uint64_t flushes_before = node.store->stats().flushes;
  int ok = 0;
  auto body = [&]() -> Task<void> {
    // Coroutine lambdas outlive their tasks: defined once, before the group joins.
    auto one = [&](int k) -> Task<void> {
      auto result = co_await node.store->insert(batches[k]);
      if (result.ok()) ++ok;
    };
    async::TaskGroup group;
    for (int i = 0; i < kBatches; ++i) group.spawn(node.io.get_executor(), one(i));
    co_await group.join();
  };
  run_task(node.io, body());
  CHECK(ok == kBatches);
  const uint64_t flushes = node.store->stats().flushes - flushes_before;
  MESSAGE(kBatches << " concurrent batches took " << flushes << " flushes");
  CHECK(flushes >= 1);
  CHECK(flushes < kBatches);
  node.open();
  for (const auto& batch : batches) CHECK(count_present(*node.store, batch) == batch.size());
}

TEST_CASE("netshelf/index: a failed flush loses at most that batch, earlier ones stay") {
  for (const bool fail_write : {false, true}) {
    CAPTURE(fail_write);
    Node node;
    node.open();
    Prng rng(3);
    const auto first = random_entries(rng, 300);
    REQUIRE(node.insert(first).ok());
    testing::FilePlan& plan = node.faulty.plan(node.current_log());
    if (fail_write) {
      plan.fail_writes = 1;
    } else {
      plan.fail_flushes = 1;
    }
    const auto second = random_entries(rng, 300);
    CHECK(node.insert(second).code() == Code::kIo);
    // The log is failed for good: later mutations fail, lookups are still answered.
    CHECK(node.insert(random_entries(rng, 1)).code() == Code::kIo);
    CHECK(node.remove({first[0].fp}).code() == Code::kIo);
    CHECK(count_present(*node.store, first) == first.size());

    node.open();
    CHECK(count_present(*node.store, first) == first.size());
    const size_t present = count_present(*node.store, second);
    CHECK((present == 0 || present == second.size()));
    if (fail_write) CHECK(present == 0);
    // And the reopened index takes new batches.
    const auto third = random_entries(rng, 10);
    REQUIRE(node.insert(third).ok());
    node.open();
    CHECK(count_present(*node.store, third) == third.size());
  }
}

TEST_CASE("netshelf/index: a torn log tail is dropped and the log continues after it") {
  Node node;
  node.open();
  Prng rng(4);
  std::vector<std::vector<IndexEntry>> batches;
  for (int i = 0; i < 3; ++i) {
    batches.push_back(random_entries(rng, 50));
    REQUIRE(node.insert(batches.back()).ok());
  }
  const std::string log = node.current_log();
  node.store.reset();
  // The last record lost its end (power cut mid-write), and garbage follows it.
  std::filesystem::resize_file(log, std::filesystem::file_size(log) - 100);
  {
    std::ofstream append(log, std::ios::app | std::ios::binary);
    append << "garbage after the tear";
  }
  node.open();
  CHECK(count_present(*node.store, batches[0]) == 50);
  CHECK(count_present(*node.store, batches[1]) == 50);
  CHECK(count_present(*node.store, batches[2]) == 0);
  batches.push_back(random_entries(rng, 50));
  REQUIRE(node.insert(batches.back()).ok());
  node.open();
  node.open();  // replaying the torn generation again gives the same answer
  CHECK(count_present(*node.store, batches[0]) == 50);
  CHECK(count_present(*node.store, batches[1]) == 50);
  CHECK(count_present(*node.store, batches[2]) == 0);
  CHECK(count_present(*node.store, batches[3]) == 50);
  CHECK(node.store->memory().size() == 150);
}

TEST_CASE("netshelf/index: a damaged acknowledged log record is kCorruption") {
  Node node;
  node.open();
  Prng rng(5);
  for (int i = 0; i < 3; ++i) REQUIRE(node.insert(random_entries(rng, 20)).ok());
  const std::string log = node.current_log();
  node.store.reset();
  // A bit flip inside the first record's payload; the second record says the first was durable.
  testing::flip_bit_on_disk(log, kLogHeaderBytes + kLogRecordHeaderBytes + 100, 3);
  auto reopened = node.open(node.config());
  REQUIRE_FALSE(reopened.ok());
  CHECK(reopened.code() == Code::kCorruption);
  MESSAGE(reopened.error().message);
  CHECK(reopened.error().message.find("derived data") != std::string::npos);
}

TEST_CASE("netshelf/index: snapshots taken while batches run, plus log replay, equal a model") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  Node node;
  node.open();
  Model model;
  std::vector<Fingerprint> known;
  for (int round = 0; round < 6; ++round) {
    // A snapshot and, concurrently, inserts and removes. Each call applies its batch before
    // its first await, in spawn order, so the model applies them in that order too.
    std::vector<std::vector<IndexEntry>> inserts;
    std::vector<std::vector<Fingerprint>> removes;
    for (int i = 0; i < 6; ++i) {
      auto entries = random_entries(rng, rng.between(1, 2000));
      for (size_t k = 0; k < entries.size() && !known.empty(); k += 7) {
        entries[k].fp = known[rng.below(known.size())];  // some already present
      }
      for (const IndexEntry& e : entries) known.push_back(e.fp);
      inserts.push_back(entries);
      std::vector<Fingerprint> fps;
      for (int k = 0; k < 30 && !known.empty(); ++k) fps.push_back(known[rng.below(known.size())]);
      removes.push_back(fps);
    }
    bool snapshot_ok = false;
    int failures = 0;
    auto body = [&]() -> Task<void> {
      // Coroutine lambdas outlive their tasks: defined once, before the group joins.
      auto snap = [&]() -> Task<void> { snapshot_ok = (co_await node.store->snapshot()).ok(); };
      auto ins = [&](size_t k) -> Task<void> {
        if (!(co_await node.store->insert(inserts[k])).ok()) ++failures;
      };
      auto rem = [&](size_t k) -> Task<void> {
        if (!(co_await node.store->remove(removes[k])).ok()) ++failures;
      };
      async::TaskGroup group;
      group.spawn(node.io.get_executor(), snap());
      for (size_t i = 0; i < inserts.size(); ++i) {
        group.spawn(node.io.get_executor(), ins(i));
        group.spawn(node.io.get_executor(), rem(i));
      }
      co_await group.join();
    };
    run_task(node.io, body());
    REQUIRE(snapshot_ok);
    REQUIRE(failures == 0);
    for (size_t i = 0; i < inserts.size(); ++i) {
      add_to_model(&model, inserts[i]);
      for (const Fingerprint& fp : removes[i]) model.erase(fp);
    }
    check_matches(*node.store, model);
    if (round % 2 == 1) {
      node.open();
      check_matches(*node.store, model);
    }
  }
  // Only generations after the last snapshot are left.
  const uint64_t generation = node.store->stats().log_generation;
  CHECK_FALSE(std::filesystem::exists(node.log_path(generation - 2)));
  node.open();
  check_matches(*node.store, model);
}

TEST_CASE("netshelf/index: a corrupt snapshot is kCorruption, rebuild by bulk insert") {
  Node node;
  node.open();
  Prng rng(6);
  const auto entries = random_entries(rng, 150'000);  // more than one snapshot block and batch
  auto bulk = run(node.io, node.store->bulk_insert(entries));
  REQUIRE(bulk.ok());
  CHECK(bulk.value().inserted == entries.size());
  auto again = run(node.io, node.store->bulk_insert(entries));
  REQUIRE(again.ok());
  CHECK(again.value().already_present == entries.size());
  REQUIRE(run(node.io, node.store->snapshot()).ok());
  node.open();
  CHECK(count_present(*node.store, entries) == entries.size());
  node.store.reset();

  // Leftovers of a crash mid-snapshot are ignored; then bit rot in the snapshot's entries.
  {
    std::ofstream tmp(node.dir.path + "/index.snap.tmp", std::ios::binary);
    tmp << "partial";
  }
  const std::string snap = node.dir.path + "/index.snap";
  testing::flip_bit_on_disk(snap, kSnapshotHeaderBytes + kSnapshotTableBytes + 5000, 0);
  auto broken = node.open(node.config());
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.code() == Code::kCorruption);
  CHECK(broken.error().message.find("rebuild") != std::string::npos);
  // A bad header is caught too.
  testing::flip_bit_on_disk(snap, kSnapshotHeaderBytes + kSnapshotTableBytes + 5000, 0);
  testing::flip_bit_on_disk(snap, 20, 1);
  CHECK(node.open(node.config()).code() == Code::kCorruption);

  // The admin recovery: move the directory away, start empty, re-insert from footers.
  std::filesystem::remove_all(node.dir.path);
  std::filesystem::create_directory(node.dir.path);
  node.open();
  REQUIRE(run(node.io, node.store->bulk_insert(entries)).ok());
  node.open();
  CHECK(count_present(*node.store, entries) == entries.size());
}

TEST_CASE("netshelf/index: limits answer kInvalidArgument and kBusy") {
  Node node;
  node.open();
  Prng rng(8);
  CHECK(node.insert(random_entries(rng, kIndexBatchMax + 1)).code() == Code::kInvalidArgument);
  std::vector<Fingerprint> many(kIndexBatchMax + 1);
  CHECK(node.store->lookup(many).code() == Code::kInvalidArgument);
  CHECK(node.remove(many).code() == Code::kInvalidArgument);
  auto bad = random_entries(rng, 2);
  bad[1].location.length = 0;
  CHECK(node.insert(bad).code() == Code::kInvalidArgument);
  CHECK(node.store->memory().size() == 0);

  // A small log: mutations get kBusy once it is full, and a snapshot frees it.
  IndexStoreConfig small = node.config();
  small.snapshot_after_log_bytes = 16 * 1024;
  small.log_bytes_max = 64 * 1024;
  REQUIRE(node.open(small).ok());
  Result<std::vector<InsertResult>> last = std::vector<InsertResult>{};
  int accepted = 0;
  while ((last = node.insert(random_entries(rng, 100))).ok()) ++accepted;
  CHECK(last.code() == Code::kBusy);
  CHECK(accepted >= 10);
  CHECK(node.store->snapshot_due());
  REQUIRE(run(node.io, node.store->snapshot()).ok());
  CHECK_FALSE(node.store->snapshot_due());
  CHECK(node.insert(random_entries(rng, 100)).ok());
  CHECK(node.store->memory().size() == static_cast<uint64_t>(accepted + 1) * 100);
}

}  // namespace
}  // namespace splitarray::netshelf::index
