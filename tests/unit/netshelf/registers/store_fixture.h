// tests/unit/netshelf/registers/store_fixture.h
// A real AsioEnv, a temporary directory and helpers for opening a RegisterStore, optionally through
// FaultyStorage, from synchronous test code.
#pragma once

#include "tests/support/temp_dir.h"

#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/env_asio/asio_env.h"
#include "netshelf/registers/registers.h"
#include "tests/support/faulty_storage.h"
#include "tests/support/run.h"

namespace splitarray::netshelf::testing_registers {

using splitarray::testing::run_task;

// A temp dir named for this suite; see tests/support/temp_dir.h.
struct TempDir : splitarray::testing::TempDir {
  TempDir() : splitarray::testing::TempDir("sa-reg") {}
};

// run_task for a Task whose value is not default-constructible (co_spawn's handler needs one).
template <class T>
T run_result(asio::io_context& io, Task<T> task) {
  std::optional<T> out;
  auto body = [&]() -> Task<void> { out.emplace(co_await std::move(task)); };
  run_task(io, body());
  REQUIRE(out.has_value());
  return std::move(*out);
}

inline std::vector<uint8_t> bytes(std::string_view text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

// One node: the Asio Env with its storage wrapped in FaultyStorage (no faults unless planned).
struct Fixture {
  Fixture()
      : asio_env(io, AsioEnvOptions{.compute_threads = 1,
                                    .blocking_io_threads = 2,
                                    .log_level = LogLevel::kWarn,
                                    .component = "registers",
                                    .seed = 1}),
        faulty(asio_env.env().storage),
        env(Env{.io = io,
                .clock = asio_env.env().clock,
                .network = asio_env.env().network,
                .storage = faulty,
                .compute = asio_env.env().compute,
                .faults = asio_env.env().faults,
                .log = asio_env.env().log,
                .rng = Prng(7)}) {
    config.path = dir.path + "/registers.log";
  }

  std::unique_ptr<RegisterStore> open() {
    auto opened = run_result(io, RegisterStore::open(env, config));
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().to_string()));
    return std::move(opened).value();
  }
  Result<std::unique_ptr<RegisterStore>> try_open() {
    return run_result(io, RegisterStore::open(env, config));
  }
  void close(std::unique_ptr<RegisterStore>& store) {
    run_task(io, store->close());
    store.reset();
  }
  Result<RegisterValue> get(RegisterStore& store, std::string name) {
    return run_result(io, store.get(std::move(name)));
  }
  Result<CasOutcome> cas(RegisterStore& store, std::string name, uint64_t expected,
                         std::string_view value, uint64_t epoch) {
    return run_result(
        io, store.compare_and_swap(std::move(name), expected, bytes(value), Epoch(epoch)));
  }

  asio::io_context io;
  AsioEnv asio_env;
  splitarray::testing::FaultyStorage faulty;
  Env env;
  TempDir dir;
  RegisterStoreConfig config;
};

// A register value as text, for assertions.
inline std::string text(const std::vector<uint8_t>& value) {
  return std::string(value.begin(), value.end());
}

}  // namespace splitarray::netshelf::testing_registers
