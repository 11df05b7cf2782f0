#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/async/task_group.h"
#include "tests/unit/netshelf/registers/store_fixture.h"

namespace splitarray::netshelf {
namespace {

using testing_registers::bytes;
using testing_registers::Fixture;

using testing_registers::text;

TEST_CASE("netshelf/registers: get and compare-and-swap semantics") {
  Fixture f;
  auto store = f.open();
  auto missing = f.get(*store, "root");
  REQUIRE(missing.ok());
  CHECK(*missing == RegisterValue{});

  // A missing register has version 0: expecting anything else does not swap.
  auto wrong = f.cas(*store, "root", 1, "v1", 1);
  REQUIRE(wrong.ok());
  CHECK_FALSE(wrong->swapped);
  CHECK_FALSE(wrong->current.exists);

  auto created = f.cas(*store, "root", 0, "v1", 1);
  REQUIRE(created.ok());
  CHECK(created->swapped);
  CHECK(created->current == RegisterValue{true, bytes("v1"), 1, Epoch(1)});

  // Must-not-exist fails once it exists, and reports what is there.
  auto again = f.cas(*store, "root", 0, "other", 1);
  REQUIRE(again.ok());
  CHECK_FALSE(again->swapped);
  CHECK(again->current == RegisterValue{true, bytes("v1"), 1, Epoch(1)});

  auto swapped = f.cas(*store, "root", 1, "v2", 1);
  REQUIRE(swapped.ok());
  CHECK(swapped->swapped);
  CHECK(swapped->current.version == 2);
  auto stale_version = f.cas(*store, "root", 1, "v3", 1);
  REQUIRE(stale_version.ok());
  CHECK_FALSE(stale_version->swapped);
  CHECK(text(stale_version->current.value) == "v2");
  CHECK(stale_version->current.version == 2);

  auto got = f.get(*store, "root");
  REQUIRE(got.ok());
  CHECK(*got == RegisterValue{true, bytes("v2"), 2, Epoch(1)});
  CHECK(f.get(*store, "other")->exists == false);
  // An empty value is a value (there is no delete).
  REQUIRE(f.cas(*store, "root", 2, "", 1)->swapped);
  CHECK(f.get(*store, "root")->exists);
  CHECK(f.get(*store, "root")->value.empty());
  CHECK(store->stats().swaps == 3);
  f.close(store);
}

TEST_CASE("netshelf/registers: epochs fence older owners") {
  Fixture f;
  auto store = f.open();
  REQUIRE(f.cas(*store, "lease", 0, "host-a", 5)->swapped);

  // An older epoch is stale even with the right version, and changes nothing.
  CHECK(f.cas(*store, "lease", 1, "host-z", 4).code() == Code::kStale);
  CHECK(f.get(*store, "lease").value() == RegisterValue{true, bytes("host-a"), 1, Epoch(5)});
  // Equal epoch proceeds; a newer one raises the register's epoch.
  REQUIRE(f.cas(*store, "lease", 1, "host-a2", 5)->swapped);
  auto raised = f.cas(*store, "lease", 2, "host-b", 7);
  REQUIRE(raised.ok());
  CHECK(raised->current == RegisterValue{true, bytes("host-b"), 3, Epoch(7)});
  // Now the old owner's epoch is stale, whatever version it expects.
  CHECK(f.cas(*store, "lease", 3, "host-a3", 5).code() == Code::kStale);
  CHECK(f.cas(*store, "lease", 1, "host-a3", 5).code() == Code::kStale);
  // A newer epoch on a version mismatch does not swap and does not raise the epoch.
  auto mismatch = f.cas(*store, "lease", 1, "host-c", 9);
  REQUIRE(mismatch.ok());
  CHECK_FALSE(mismatch->swapped);
  CHECK(mismatch->current.epoch == Epoch(7));
  // Epochs are per register.
  CHECK(f.cas(*store, "other", 0, "x", 1)->swapped);
  f.close(store);

  // Fencing survives a restart.
  store = f.open();
  CHECK(f.cas(*store, "lease", 3, "host-a3", 5).code() == Code::kStale);
  CHECK(f.get(*store, "lease")->epoch == Epoch(7));
  CHECK(f.cas(*store, "lease", 3, "host-b2", 7)->swapped);
  f.close(store);
}

TEST_CASE("netshelf/registers: values persist across reopen") {
  Fixture f;
  auto store = f.open();
  for (int i = 0; i < 50; ++i) {
    const std::string name = "reg-" + std::to_string(i);
    REQUIRE(f.cas(*store, name, 0, "first-" + std::to_string(i), 1)->swapped);
    if (i % 2 == 0) REQUIRE(f.cas(*store, name, 1, "second-" + std::to_string(i), 2)->swapped);
  }
  f.close(store);
  store = f.open();
  CHECK(store->stats().registers == 50);
  for (int i = 0; i < 50; ++i) {
    auto got = f.get(*store, "reg-" + std::to_string(i));
    REQUIRE(got.ok());
    CHECK(got->exists);
    CHECK(got->version == (i % 2 == 0 ? 2u : 1u));
    CHECK(text(got->value) == (i % 2 == 0 ? "second-" : "first-") + std::to_string(i));
  }
  // Versions continue where they were.
  auto next = f.cas(*store, "reg-0", 2, "third", 2);
  REQUIRE(next.ok());
  CHECK(next->current.version == 3);
  f.close(store);
}

TEST_CASE("netshelf/registers: compaction keeps every value and keeps working across reopen") {
  Fixture f;
  f.config.compact_min_bytes = 8192;
  auto store = f.open();
  std::vector<uint64_t> versions(20, 0);
  std::vector<std::string> values(20);
  for (int round = 0; round < 40; ++round) {
    for (size_t i = 0; i < versions.size(); ++i) {
      values[i] = std::string(100 + i, static_cast<char>('a' + round % 26)) + std::to_string(round);
      auto r = f.cas(*store, "r" + std::to_string(i), versions[i], values[i], 1);
      REQUIRE(r.ok());
      REQUIRE(r->swapped);
      versions[i] = r->current.version;
    }
  }
  const RegisterStoreStats stats = store->stats();
  CHECK(stats.compactions > 0);
  CHECK(stats.log_bytes < 3 * 8192);  // 800 swaps of ~130 bytes would be ~100 KiB uncompacted
  for (int reopen = 0; reopen < 2; ++reopen) {
    for (size_t i = 0; i < versions.size(); ++i) {
      auto got = f.get(*store, "r" + std::to_string(i));
      REQUIRE(got.ok());
      CHECK(got->version == versions[i]);
      CHECK(text(got->value) == values[i]);
    }
    f.close(store);
    CHECK_FALSE(std::filesystem::exists(f.config.path + ".compact"));
    store = f.open();
    for (size_t i = 0; i < versions.size(); ++i) {
      values[i] = "after-reopen-" + std::to_string(reopen);
      auto r = f.cas(*store, "r" + std::to_string(i), versions[i], values[i], 1);
      REQUIRE(r->swapped);
      versions[i] = r->current.version;
    }
  }
  f.close(store);
}

TEST_CASE("netshelf/registers: a torn tail is dropped at open, corruption before it is reported") {
  Fixture f;
  auto store = f.open();
  REQUIRE(f.cas(*store, "a", 0, "one", 1)->swapped);
  REQUIRE(f.cas(*store, "b", 0, "two", 1)->swapped);
  f.close(store);
  const uint64_t before = std::filesystem::file_size(f.config.path);

  store = f.open();
  REQUIRE(f.cas(*store, "a", 1, std::string(1000, 'x'), 1)->swapped);
  f.close(store);
  const uint64_t after = std::filesystem::file_size(f.config.path);
  REQUIRE(after > before + 1000);

  // The last batch only half landed.
  std::filesystem::resize_file(f.config.path, before + (after - before) / 2);
  store = f.open();
  CHECK(store->stats().torn_tail_bytes_dropped == (after - before) / 2);
  CHECK(store->stats().compactions == 1);  // the tail is cut by rewriting the file
  CHECK(f.get(*store, "a").value() == RegisterValue{true, bytes("one"), 1, Epoch(1)});
  REQUIRE(f.cas(*store, "a", 1, "uno", 1)->swapped);
  f.close(store);

  // Garbage behind the last batch (a torn append that left junk) is dropped too.
  {
    std::ofstream out(f.config.path, std::ios::binary | std::ios::app);
    out << std::string(300, '\xab');
  }
  store = f.open();
  CHECK(store->stats().torn_tail_bytes_dropped == 300);
  CHECK(text(f.get(*store, "a")->value) == "uno");
  REQUIRE(f.cas(*store, "c", 0, "three", 1)->swapped);
  f.close(store);
  store = f.open();
  CHECK(store->stats().torn_tail_bytes_dropped == 0);
  CHECK(text(f.get(*store, "c")->value) == "three");
  f.close(store);

  // Rot in the first batch, with valid batches after it, refuses to open.
  testing::flip_bit_on_disk(f.config.path, kLogFileHeaderBytes + kLogBatchHeaderBytes + 3, 2);
  auto rotted = f.try_open();
  REQUIRE_FALSE(rotted.ok());
  CHECK(rotted.code() == Code::kCorruption);
}

}  // namespace
}  // namespace splitarray::netshelf
