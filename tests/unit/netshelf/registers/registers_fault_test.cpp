// RegisterStore under injected write and flush errors, concurrent CAS races and at its limits.
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

void run_task_close_only(Fixture& f, RegisterStore& store) {
  testing_registers::run_task(f.io, store.close());
}

Task<void> cas_into(RegisterStore& store, std::string name, uint64_t expected, std::string value,
                    Result<CasOutcome>& out) {
  out = co_await store.compare_and_swap(std::move(name), expected, bytes(value), Epoch(1));
}

TEST_CASE("netshelf/registers: a flush error fails the store and the swap") {
  Fixture f;
  auto store = f.open();
  REQUIRE(f.cas(*store, "a", 0, "v1", 1)->swapped);
  const uint64_t durable_size = std::filesystem::file_size(f.config.path);

  // Several swaps waiting on the failed flush all fail.
  f.faulty.plan(f.config.path).fail_flushes = 1;
  std::vector<Result<CasOutcome>> results(5, Error{Code::kCancelled, ""});
  auto body = [&]() -> Task<void> {
    async::TaskGroup group;
    group.spawn(f.io.get_executor(), cas_into(*store, "a", 1, "v2", results[0]));
    for (size_t i = 1; i < results.size(); ++i) {
      group.spawn(f.io.get_executor(),
                  cas_into(*store, "n" + std::to_string(i), 0, "x", results[i]));
    }
    co_await group.join();
  };
  testing_registers::run_task(f.io, body());
  for (const auto& r : results) CHECK(r.code() == Code::kIo);
  CHECK(store->failed());
  CHECK(f.get(*store, "a").code() == Code::kIo);
  CHECK(f.cas(*store, "b", 0, "x", 1).code() == Code::kIo);
  f.close(store);

  // After a failed fsync the kernel may drop the dirty pages: model that, then reopen.
  std::filesystem::resize_file(f.config.path, durable_size);
  store = f.open();
  CHECK(f.get(*store, "a").value() == RegisterValue{true, bytes("v1"), 1, Epoch(1)});
  CHECK_FALSE(f.get(*store, "n1")->exists);
  CHECK_FALSE(store->failed());
  f.close(store);
}

TEST_CASE("netshelf/registers: a write error fails the store, unacknowledged is whole or absent") {
  Fixture f;
  auto store = f.open();
  REQUIRE(f.cas(*store, "a", 0, "v1", 1)->swapped);
  f.faulty.plan(f.config.path).fail_writes = 1;
  CHECK(f.cas(*store, "a", 1, "v2", 1).code() == Code::kIo);
  CHECK(store->failed());
  f.close(store);
  store = f.open();
  CHECK(f.get(*store, "a").value() == RegisterValue{true, bytes("v1"), 1, Epoch(1)});
  f.close(store);

  // A flush that fails after the write landed: the swap was not acknowledged, and after a
  // restart it is either absent or whole (here the bytes reached the file, so whole).
  store = f.open();  // (recovery flushes too: the fault is planned after it)
  f.faulty.plan(f.config.path).fail_flushes = 1;
  CHECK(f.cas(*store, "a", 1, "v2", 1).code() == Code::kIo);
  f.close(store);
  store = f.open();
  auto got = f.get(*store, "a");
  REQUIRE(got.ok());
  CHECK((*got == RegisterValue{true, bytes("v1"), 1, Epoch(1)} ||
         *got == RegisterValue{true, bytes("v2"), 2, Epoch(1)}));
  f.close(store);
}

TEST_CASE("netshelf/registers: a failed compaction leaves the old log in charge") {
  Fixture f;
  f.config.compact_min_bytes = 4096;
  auto store = f.open();  // creating the empty store goes through the scratch file too
  f.faulty.plan(f.config.path + ".compact").fail_writes = 1;
  uint64_t version = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = f.cas(*store, "r", version, std::string(100, 'a' + i % 26) + std::to_string(i), 1);
    REQUIRE(r.ok());
    REQUIRE(r->swapped);
    version = r->current.version;
  }
  CHECK_FALSE(store->failed());
  CHECK(store->stats().compactions >= 1);  // retried once the log doubled, then it worked
  f.close(store);
  store = f.open();
  auto got = f.get(*store, "r");
  REQUIRE(got.ok());
  CHECK(got->version == 200);
  CHECK(text(got->value) == std::string(100, 'a' + 199 % 26) + "199");
  f.close(store);
}

// One get + CAS attempt to increment the decimal counter in register "counter". Returns the
// version it installed, 0 if it lost the race, or nothing on an error.
Task<std::optional<uint64_t>> try_increment(RegisterStore& store) {
  auto got = co_await store.get("counter");
  if (!got.ok()) co_return std::nullopt;
  const uint64_t count = got->exists ? std::stoull(text(got->value)) : 0;
  CHECK(count == got->version);
  std::vector<uint8_t> next = bytes(std::to_string(count + 1));
  auto r = co_await store.compare_and_swap("counter", got->version, std::move(next), Epoch(1));
  if (!r.ok()) co_return std::nullopt;
  if (!r->swapped) co_return uint64_t{0};
  CHECK(r->current.version == count + 1);
  co_return r->current.version;
}

// Increments the counter `rounds` times, retrying lost races; records which worker won each
// version. CHECK, not REQUIRE: an exception escaping a spawned task aborts the process.
Task<void> increment(RegisterStore& store, int worker, int rounds, std::vector<int>& winner,
                     int& retries) {
  int done = 0;
  while (done < rounds) {
    const std::optional<uint64_t> won = co_await try_increment(store);
    CHECK(won.has_value());
    if (!won) break;
    if (*won == 0) {
      ++retries;
    } else {
      CHECK(winner.at(*won) == -1);
      winner[*won] = worker;
      ++done;
    }
  }
}

TEST_CASE("netshelf/registers: concurrent CAS on one register: one winner per version") {
  Fixture f;
  auto store = f.open();
  constexpr int kWorkers = 16;
  constexpr int kRounds = 10;
  std::vector<int> winner(kWorkers * kRounds + 1, -1);
  int retries = 0;
  auto body = [&]() -> Task<void> {
    async::TaskGroup group;
    for (int w = 0; w < kWorkers; ++w) {
      group.spawn(f.io.get_executor(), increment(*store, w, kRounds, winner, retries));
    }
    co_await group.join();
  };
  testing_registers::run_task(f.io, body());
  auto final_value = f.get(*store, "counter");
  REQUIRE(final_value.ok());
  CHECK(final_value->version == kWorkers * kRounds);
  CHECK(text(final_value->value) == std::to_string(kWorkers * kRounds));  // no lost update
  for (size_t v = 1; v < winner.size(); ++v) CHECK(winner[v] >= 0);
  CHECK(retries > 0);  // they did race

  // Many blind swaps against one version at once: exactly one wins; the others see its value.
  std::vector<Result<CasOutcome>> results(40, Error{Code::kCancelled, ""});
  const uint64_t batches_before = store->stats().batches;
  auto race = [&]() -> Task<void> {
    async::TaskGroup group;
    for (size_t i = 0; i < results.size(); ++i) {
      group.spawn(f.io.get_executor(), cas_into(*store, "counter", kWorkers * kRounds,
                                                "racer-" + std::to_string(i), results[i]));
    }
    co_await group.join();
  };
  testing_registers::run_task(f.io, race());
  int winners = 0;
  std::string winning;
  for (const auto& r : results) {
    REQUIRE(r.ok());
    CHECK(r->current.version == kWorkers * kRounds + 1);
    if (r->swapped) {
      ++winners;
      winning = text(r->current.value);
    }
  }
  CHECK(winners == 1);
  for (const auto& r : results) CHECK(text(r->current.value) == winning);
  CHECK(store->stats().batches == batches_before + 1);  // the winner's one batch

  // Swaps on distinct registers that arrive together share one write + flush (group commit).
  std::vector<Result<CasOutcome>> creates(32, Error{Code::kCancelled, ""});
  const uint64_t batches_mid = store->stats().batches;
  auto create = [&]() -> Task<void> {
    async::TaskGroup group;
    for (size_t i = 0; i < creates.size(); ++i) {
      group.spawn(f.io.get_executor(),
                  cas_into(*store, "c" + std::to_string(i), 0, "v", creates[i]));
    }
    co_await group.join();
  };
  testing_registers::run_task(f.io, create());
  for (const auto& r : creates) CHECK(r->swapped);
  // The first arrival flushes alone; everyone queued behind it goes in the next batch.
  CHECK(store->stats().batches <= batches_mid + 2);
  f.close(store);
  store = f.open();
  CHECK(text(f.get(*store, "counter")->value) == winning);
  CHECK(store->stats().registers == 33);
  f.close(store);
}

TEST_CASE("netshelf/registers: limits") {
  Fixture f;
  f.config.count_max = 4;
  f.config.inflight_max = 3;
  auto store = f.open();
  CHECK(f.cas(*store, "", 0, "x", 1).code() == Code::kInvalidArgument);
  CHECK(f.cas(*store, std::string(kRegisterNameBytesMax + 1, 'n'), 0, "x", 1).code() ==
        Code::kInvalidArgument);
  CHECK(f.get(*store, std::string(kRegisterNameBytesMax + 1, 'n')).code() ==
        Code::kInvalidArgument);
  CHECK(f.cas(*store, "big", 0, std::string(kRegisterValueBytesMax + 1, 'v'), 1).code() ==
        Code::kInvalidArgument);
  REQUIRE(f.cas(*store, std::string(kRegisterNameBytesMax, 'n'), 0,
                std::string(kRegisterValueBytesMax, 'v'), 1)
              ->swapped);
  for (int i = 1; i < 4; ++i) REQUIRE(f.cas(*store, "r" + std::to_string(i), 0, "x", 1)->swapped);
  CHECK(f.cas(*store, "r4", 0, "x", 1).code() == Code::kNoSpace);
  CHECK(f.cas(*store, "r1", 1, "y", 1)->swapped);  // updating an existing one is fine

  // Requests waiting for a flush are bounded: the rest are turned away with kBusy.
  std::vector<Result<CasOutcome>> results(8, Error{Code::kCancelled, ""});
  auto body = [&]() -> Task<void> {
    async::TaskGroup group;
    for (size_t i = 0; i < results.size(); ++i) {
      group.spawn(f.io.get_executor(),
                  cas_into(*store, "r2", 1, "z" + std::to_string(i), results[i]));
    }
    co_await group.join();
  };
  testing_registers::run_task(f.io, body());
  int busy = 0;
  for (const auto& r : results) busy += (!r.ok() && r.code() == Code::kBusy) ? 1 : 0;
  CHECK(busy == 5);
  RegisterStore& closed = *store;
  run_task_close_only(f, closed);
  CHECK(f.get(closed, "r1").code() == Code::kUnavailable);
  CHECK(f.cas(closed, "r1", 2, "w", 1).code() == Code::kUnavailable);
  store.reset();
  store = f.open();
  CHECK(store->stats().registers == 4);
  f.close(store);
}

TEST_CASE("netshelf/registers: live bytes limit and config validation") {
  Fixture f;
  f.config.name_bytes_max = 8;
  f.config.value_bytes_max = 100;
  f.config.live_bytes_max = 210;
  auto store = f.open();
  REQUIRE(f.cas(*store, "a", 0, std::string(100, 'a'), 1)->swapped);
  REQUIRE(f.cas(*store, "b", 0, std::string(100, 'b'), 1)->swapped);
  CHECK(f.cas(*store, "c", 0, std::string(8, 'c'), 1).code() == Code::kNoSpace);
  CHECK(f.cas(*store, "c", 0, std::string(7, 'c'), 1)->swapped);  // exactly at the limit
  CHECK(f.cas(*store, "a", 1, std::string(101, 'a'), 1).code() == Code::kInvalidArgument);
  CHECK(f.cas(*store, "a", 1, std::string(10, 'a'), 1)->swapped);  // shrinking frees room
  CHECK(f.cas(*store, "d", 0, std::string(50, 'd'), 1)->swapped);
  CHECK(store->stats().live_bytes == 11 + 101 + 8 + 51);
  f.close(store);

  Fixture g;
  g.config.batch_bytes_max = 1000;  // cannot hold one largest record
  CHECK(g.try_open().code() == Code::kInvalidArgument);
  g.config = RegisterStoreConfig{};
  CHECK(g.try_open().code() == Code::kInvalidArgument);  // no path
}

}  // namespace
}  // namespace splitarray::netshelf
