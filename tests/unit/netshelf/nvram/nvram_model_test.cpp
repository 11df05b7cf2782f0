// tests/unit/netshelf/nvram/nvram_model_test.cpp
// A seeded randomized test of NvramLog against an in-memory model: bursts of concurrent appends
// for several hosts, trims, fence raises, stale requests and reopens, checking every reply and
// every record read back. Seed: SPLITARRAY_SEED (printed on every run).
#include <doctest/doctest.h>

#include <cstdlib>
#include <deque>
#include <map>

#include "common/async/task_group.h"
#include "common/prng.h"
#include "tests/unit/netshelf/nvram/nvram_fixture.h"

namespace splitarray::netshelf::nvram::test {
namespace {

uint64_t seed_from_env() {
  const char* text = std::getenv("SPLITARRAY_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 20261121;
}

struct ModelHost {
  std::deque<std::vector<uint8_t>> records;  // acknowledged, not trimmed
  uint64_t first_sequence = 1;
  uint64_t used_bytes = 0;
  uint64_t fence = 1;
  uint64_t next() const { return first_sequence + records.size(); }
};

struct Burst {
  HostId host{};
  std::vector<std::vector<uint8_t>> batch;
  Result<AppendResult> result = Error{Code::kCancelled, "not run"};
};

Task<void> run_append(NvramLog& log, Epoch epoch, Burst& burst) {
  burst.result = co_await append_many(log, burst.host, epoch, burst.batch);
}

void check_host(Fixture& f, NvramLog& log, uint32_t host, const ModelHost& model) {
  auto usage = log.usage(HostId(host));
  if (model.next() == 1 && !usage.ok() && usage.code() == Code::kNotFound) return;
  REQUIRE(usage.ok());
  CHECK(usage->first_sequence == model.first_sequence);
  CHECK(usage->next_sequence == model.next());
  CHECK(usage->used_bytes == model.used_bytes);
  CHECK(usage->fence == Epoch(model.fence));
  uint64_t from = model.first_sequence;
  while (from < model.next()) {
    auto got = run_task(f.io, log.read(HostId(host), from, 8 * 1024));
    REQUIRE_MESSAGE(got.ok(), why(got));
    REQUIRE_FALSE(got->records.empty());
    for (const LogRecord& record : got->records) {
      REQUIRE(record.sequence == from);
      CHECK(record.bytes == model.records[from - model.first_sequence]);
      ++from;
    }
  }
}

TEST_CASE("netshelf/nvram: randomized appends, trims, fences and reopens match a model") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  Fixture f;
  auto log = f.format();
  const uint64_t ring = log->geometry().ring_bytes();
  constexpr uint32_t kHosts = 3;
  std::map<uint32_t, ModelHost> model;
  for (uint32_t h = 1; h <= kHosts; ++h) model[h] = ModelHost{};

  for (int step = 0; step < 300; ++step) {
    const uint64_t pick = rng.below(100);
    if (pick < 55) {
      // A burst of concurrent appends; within one host they are reserved in spawn order.
      std::vector<Burst> bursts(1 + rng.below(8));
      for (Burst& burst : bursts) {
        burst.host = HostId(static_cast<uint32_t>(1 + rng.below(kHosts)));
        for (uint64_t i = 0, n = 1 + rng.below(3); i < n; ++i) {
          std::vector<uint8_t> bytes(rng.below(4000));
          rng.fill(bytes);
          burst.batch.push_back(std::move(bytes));
        }
      }
      auto body = [&]() -> Task<void> {
        async::TaskGroup group;
        for (Burst& burst : bursts) {
          const Epoch epoch(model[burst.host.value()].fence);
          group.spawn(f.env.executor(), run_append(*log, epoch, burst));
        }
        co_await group.join();
      };
      run_task(f.io, body());
      for (Burst& burst : bursts) {
        ModelHost& m = model[burst.host.value()];
        uint64_t footprint = 0;
        for (const auto& r : burst.batch) footprint += record_footprint(r.size());
        if (m.used_bytes + footprint > ring) {
          CHECK(burst.result.code() == Code::kBusy);
          continue;
        }
        REQUIRE_MESSAGE(burst.result.ok(), why(burst.result));
        CHECK(burst.result->first_sequence == m.next());
        for (auto& r : burst.batch) m.records.push_back(r);
        m.used_bytes += footprint;
        CHECK(burst.result->used_bytes >= m.used_bytes);
      }
    } else if (pick < 80) {
      const uint32_t host = static_cast<uint32_t>(1 + rng.below(kHosts));
      ModelHost& m = model[host];
      if (m.records.empty()) continue;
      const uint64_t through = m.first_sequence + rng.below(m.records.size());
      REQUIRE(run_task(f.io, log->trim(HostId(host), Epoch(m.fence), through)).ok());
      while (m.first_sequence <= through) {
        m.used_bytes -= record_footprint(m.records.front().size());
        m.records.pop_front();
        ++m.first_sequence;
      }
    } else if (pick < 88) {
      // A new owner epoch, then a request from the old owner that must be fenced.
      const uint32_t host = static_cast<uint32_t>(1 + rng.below(kHosts));
      ModelHost& m = model[host];
      if (m.next() == 1) continue;
      const uint64_t old_fence = m.fence;
      m.fence += 1 + rng.below(3);
      REQUIRE(run_task(f.io, log->trim(HostId(host), Epoch(m.fence), m.first_sequence - 1)).ok());
      auto stale = run_task(f.io, append_one(*log, HostId(host), Epoch(old_fence), {1, 2, 3}));
      CHECK(stale.code() == Code::kStale);
    } else if (pick < 94) {
      log.reset();
      log = f.open();
    } else {
      for (uint32_t h = 1; h <= kHosts; ++h) check_host(f, *log, h, model[h]);
    }
  }
  log.reset();
  log = f.open();
  for (uint32_t h = 1; h <= kHosts; ++h) check_host(f, *log, h, model[h]);
  CHECK(log->stats().torn_records_discarded == 0);
}

}  // namespace
}  // namespace splitarray::netshelf::nvram::test
