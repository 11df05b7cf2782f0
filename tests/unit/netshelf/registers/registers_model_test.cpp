// A seeded randomized test of RegisterStore against an in-memory model: bursts of concurrent
// CAS and get calls (decided in call order, so the model applies them in spawn order), with
// reopens and compactions in between. Seed: SPLITARRAY_SEED (printed on every run).
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "common/async/task_group.h"
#include "tests/unit/netshelf/registers/store_fixture.h"

namespace splitarray::netshelf {
namespace {

using testing_registers::Fixture;

uint64_t seed_from_env() {
  const char* text = std::getenv("SPLITARRAY_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 20261121;
}

struct Op {
  bool is_get = false;
  std::string name;
  uint64_t expected_version = 0;
  std::vector<uint8_t> value;
  Epoch epoch{0};
};

struct OpResult {
  Result<RegisterValue> got = Error{Code::kCancelled, "not run"};
  Result<CasOutcome> cas = Error{Code::kCancelled, "not run"};
};

Task<void> run_op(RegisterStore& store, Op op, OpResult& out) {
  if (op.is_get) {
    out.got = co_await store.get(op.name);
  } else {
    out.cas = co_await store.compare_and_swap(op.name, op.expected_version, op.value, op.epoch);
  }
}

using Model = std::map<std::string, RegisterValue>;

// Applies one op to the model and checks the store's answer against it.
void check_against_model(Model& model, const Op& op, const OpResult& result) {
  const RegisterValue before = model.count(op.name) ? model.at(op.name) : RegisterValue{};
  if (op.is_get) {
    REQUIRE(result.got.ok());
    CHECK(result.got.value() == before);
    return;
  }
  if (before.exists && op.epoch < before.epoch) {
    CHECK(result.cas.code() == Code::kStale);
    return;
  }
  REQUIRE(result.cas.ok());
  if (op.expected_version != before.version) {
    CHECK_FALSE(result.cas->swapped);
    CHECK(result.cas->current == before);
    return;
  }
  const RegisterValue after{.exists = true,
                            .value = op.value,
                            .version = before.version + 1,
                            .epoch = before.exists ? std::max(before.epoch, op.epoch) : op.epoch};
  CHECK(result.cas->swapped);
  CHECK(result.cas->current == after);
  model[op.name] = after;
}

Op random_op(Prng& rng, const Model& model) {
  Op op;
  op.name = "reg-" + std::to_string(rng.below(6));
  op.is_get = rng.chance(0.25);
  const RegisterValue current = model.count(op.name) ? model.at(op.name) : RegisterValue{};
  switch (rng.below(4)) {
    case 0:
      op.expected_version = 0;
      break;
    case 1:
      op.expected_version = current.version + 1;
      break;
    case 2:
      op.expected_version = current.version > 0 ? current.version - 1 : 0;
      break;
    default:
      op.expected_version = current.version;
      break;
  }
  const uint64_t epoch = current.epoch.value();
  op.epoch = Epoch(rng.chance(0.15) && epoch > 0 ? epoch - 1 : epoch + rng.below(2));
  op.value.resize(rng.below(rng.chance(0.1) ? 3000 : 200));
  rng.fill(op.value);
  return op;
}

TEST_CASE("netshelf/registers: randomized CAS, get and reopen against a model") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  Fixture f;
  f.config.compact_min_bytes = 16 * 1024;
  f.config.value_bytes_max = 4096;
  f.config.batch_bytes_max = 8 * 1024;
  auto store = f.open();
  Model model;
  uint64_t compactions = 0;
  for (int step = 0; step < 300; ++step) {
    if (rng.chance(0.05)) {
      compactions += store->stats().compactions;
      f.close(store);
      store = f.open();
      compactions += store->stats().compactions;
      CHECK(store->stats().registers == model.size());
      continue;
    }
    // A burst of concurrent requests; each op is drawn against the model as it will be when the
    // ops before it in the burst are applied, so many of them race on purpose.
    std::vector<Op> ops(1 + rng.below(8));
    std::vector<OpResult> results(ops.size());
    Model planned = model;
    for (Op& op : ops) {
      op = random_op(rng, planned);
      if (!op.is_get && rng.chance(0.5)) {  // assume it swaps, to aim later ops at it
        if (!(planned.count(op.name) && op.epoch < planned.at(op.name).epoch) &&
            op.expected_version == (planned.count(op.name) ? planned.at(op.name).version : 0)) {
          planned[op.name] = RegisterValue{true, op.value, op.expected_version + 1, op.epoch};
        }
      }
    }
    auto burst = [&]() -> Task<void> {
      async::TaskGroup group;
      for (size_t i = 0; i < ops.size(); ++i) {
        group.spawn(f.io.get_executor(), run_op(*store, ops[i], results[i]));
      }
      co_await group.join();
    };
    testing_registers::run_task(f.io, burst());
    for (size_t i = 0; i < ops.size(); ++i) {
      CAPTURE(step);
      CAPTURE(i);
      check_against_model(model, ops[i], results[i]);
    }
  }
  compactions += store->stats().compactions;
  f.close(store);
  store = f.open();
  for (const auto& [name, value] : model) CHECK(f.get(*store, name).value() == value);
  f.close(store);
  MESSAGE("registers=" << model.size() << " compactions=" << compactions);
  CHECK(compactions > 0);
}

}  // namespace
}  // namespace splitarray::netshelf
