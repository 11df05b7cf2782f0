// tests/unit/netshelf/nvram/nvram_fixture.h
// Shared test scaffolding: a real AsioEnv whose storage goes through FaultyStorage, a temporary
// directory, deterministic payloads and one-record append helpers.
#pragma once

#include "tests/support/temp_dir.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/env_asio/asio_env.h"
#include "netshelf/nvram/nvram_log.h"
#include "tests/support/faulty_storage.h"
#include "tests/support/run.h"

namespace splitarray::netshelf::nvram::test {

using splitarray::testing::FilePlan;

// For assertion messages, which doctest may print on success too (-s).
template <class T>
std::string why(const Result<T>& result) {
  return result.ok() ? std::string("ok") : result.error().to_string();
}

// Runs a task to completion; works for values that are not default-constructible (Result<T>),
// which co_spawn's completion handler would need.
template <class T>
T run_task(asio::io_context& io, Task<T> task) {
  std::optional<T> out;
  auto body = [&]() -> Task<void> { out.emplace(co_await std::move(task)); };
  splitarray::testing::run_task(io, body());
  REQUIRE(out.has_value());
  return std::move(*out);
}
inline void run_task(asio::io_context& io, Task<void> task) {
  splitarray::testing::run_task(io, std::move(task));
}

// A temp dir named for this suite; see tests/support/temp_dir.h.
struct TempDir : splitarray::testing::TempDir {
  TempDir() : splitarray::testing::TempDir("sa-nvram") {}
};

// A small layout: 4 host regions of ~128 KiB rings, records up to 16 KiB per append.
inline NvramConfig small_config() {
  NvramConfig config;
  config.file_bytes = 4096 + 4 * (128 * 1024 + 1024);
  config.max_hosts = 4;
  config.append_max_bytes = 16 * 1024;
  config.append_records_max = 64;
  config.read_max_bytes = 1024 * 1024;
  return config;
}

struct Fixture {
  Fixture()
      : asio_env(io, AsioEnvOptions{.log_level = LogLevel::kError, .seed = 7}),
        faulty(asio_env.env().storage),
        env{asio_env.env().io,      asio_env.env().clock,
            asio_env.env().network, faulty,
            asio_env.env().compute, asio_env.env().faults,
            asio_env.env().log,     asio_env.env().rng},
        path(dir.path + "/nvram") {}

  FilePlan& plan() { return faulty.plan(path); }

  std::unique_ptr<NvramLog> format(NvramConfig config = small_config()) {
    auto opened = run_task(io, NvramLog::format(env, path, config));
    REQUIRE_MESSAGE(opened.ok(), why(opened));
    return std::move(opened).value();
  }
  Result<std::unique_ptr<NvramLog>> try_open(NvramConfig config = small_config()) {
    return run_task(io, NvramLog::open(env, path, config));
  }
  std::unique_ptr<NvramLog> open(NvramConfig config = small_config()) {
    auto opened = try_open(config);
    REQUIRE_MESSAGE(opened.ok(), why(opened));
    return std::move(opened).value();
  }

  asio::io_context io;
  AsioEnv asio_env;
  testing::FaultyStorage faulty;
  Env env;
  TempDir dir;
  std::string path;
};

// Deterministic payload for (host, sequence, length): a test can check any record it reads.
inline std::vector<uint8_t> payload_for(uint32_t host, uint64_t sequence, size_t length) {
  std::vector<uint8_t> out(length);
  uint64_t x = (uint64_t{host} << 40) ^ (sequence * 0x9E3779B97F4A7C15ULL) ^ length;
  for (auto& byte : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    byte = static_cast<uint8_t>(x);
  }
  return out;
}

inline Task<Result<AppendResult>> append_one(NvramLog& log, HostId host, Epoch epoch,
                                             std::vector<uint8_t> bytes) {
  const std::span<const uint8_t> one(bytes);
  co_return co_await log.append(host, epoch, std::span(&one, 1));
}

inline Task<Result<AppendResult>> append_many(NvramLog& log, HostId host, Epoch epoch,
                                              std::vector<std::vector<uint8_t>> batch) {
  std::vector<std::span<const uint8_t>> views(batch.begin(), batch.end());
  co_return co_await log.append(host, epoch, views);
}

// Appends one record of `length` bytes whose payload is payload_for(host, expected sequence).
inline uint64_t append_sync(Fixture& f, NvramLog& log, uint32_t host, uint64_t epoch,
                            size_t length) {
  const uint64_t next = log.usage(HostId(host)).ok() ? log.usage(HostId(host))->next_sequence : 1;
  auto done =
      run_task(f.io, append_one(log, HostId(host), Epoch(epoch), payload_for(host, next, length)));
  REQUIRE_MESSAGE(done.ok(), why(done));
  CHECK(done->first_sequence == next);
  return done->first_sequence;
}

// Reads every acknowledged record of `host` from `from` and checks each against payload_for.
inline std::vector<uint64_t> read_all_checked(Fixture& f, NvramLog& log, uint32_t host,
                                              uint64_t from, size_t length) {
  std::vector<uint64_t> sequences;
  for (;;) {
    auto got = run_task(f.io, log.read(HostId(host), from, 64 * 1024));
    REQUIRE_MESSAGE(got.ok(), why(got));
    if (got->records.empty()) break;
    for (const LogRecord& record : got->records) {
      CHECK(record.sequence == from);
      CHECK(record.bytes == payload_for(host, record.sequence, length));
      sequences.push_back(record.sequence);
      ++from;
    }
  }
  return sequences;
}

}  // namespace splitarray::netshelf::nvram::test
