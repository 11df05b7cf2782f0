// tests/unit/netshelf/index/index_store_fixture.h
// Shared scaffolding for the IndexStore tests: a real AsioEnv whose storage goes through
// FaultyStorage, a temp directory, a model of what the index must hold, and helpers to run one
// store call to completion.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/env_asio/asio_env.h"
#include "netshelf/index/index_store.h"
#include "tests/support/faulty_storage.h"
#include "tests/support/run.h"
#include "tests/support/temp_dir.h"

namespace splitarray::netshelf::index::store_test {

using splitarray::testing::run_task;

// run_task needs a default-constructible result; Result<T> is not, so go through an optional.
template <class T>
Task<void> store_into(Task<T> task, std::optional<T>* out) {
  out->emplace(co_await std::move(task));
}
template <class T>
T run(asio::io_context& io, Task<T> task) {
  std::optional<T> out;
  run_task(io, store_into(std::move(task), &out));
  REQUIRE(out.has_value());
  return std::move(*out);
}

inline uint64_t seed_from_env() {
  const char* text = std::getenv("SPLITARRAY_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 20261121;
}

// A temp dir named for this suite; see tests/support/temp_dir.h.
struct TempDir : splitarray::testing::TempDir {
  TempDir() : splitarray::testing::TempDir("sa-index") {}
};

inline AsioEnvOptions quiet() {
  AsioEnvOptions options;
  options.compute_threads = 1;
  options.blocking_io_threads = 2;
  options.log_level = LogLevel::kError;
  options.seed = 1;
  return options;
}

// One node: a real AsioEnv whose storage goes through FaultyStorage.
struct Node {
  asio::io_context io;
  AsioEnv asio_env{io, quiet()};
  testing::FaultyStorage faulty{asio_env.env().storage};
  Env env{io,
          asio_env.env().clock,
          asio_env.env().network,
          faulty,
          asio_env.env().compute,
          asio_env.env().faults,
          asio_env.env().log,
          asio_env.env().rng};
  TempDir dir;
  std::unique_ptr<IndexStore> store;

  IndexStoreConfig config(bool create = true) const {
    IndexStoreConfig c;
    c.dir = dir.path;
    c.create_if_missing = create;
    return c;
  }
  Result<void> open(IndexStoreConfig c) {
    store.reset();
    auto opened = run(io, IndexStore::open(env, std::move(c)));
    if (!opened.ok()) return std::move(opened).take_error();
    store = std::move(opened).value();
    return ok_result();
  }
  void open() { REQUIRE(open(config()).ok()); }
  std::string log_path(uint64_t generation) const {
    char name[32];
    std::snprintf(name, sizeof(name), "/index.log.%06llu",
                  static_cast<unsigned long long>(generation));
    return dir.path + name;
  }
  std::string current_log() const { return log_path(store->stats().log_generation); }
  Result<std::vector<InsertResult>> insert(std::vector<IndexEntry> entries) {
    return run(io, store->insert(std::move(entries)));
  }
  Result<std::vector<LookupResult>> remove(std::vector<Fingerprint> fps) {
    return run(io, store->remove(std::move(fps)));
  }
};

inline Fingerprint random_fp(Prng& rng) {
  Fingerprint fp;
  rng.fill(fp.bytes);
  return fp;
}

inline std::vector<IndexEntry> random_entries(Prng& rng, size_t n) {
  std::vector<IndexEntry> entries(n);
  for (IndexEntry& e : entries) {
    e = {random_fp(rng), ChunkLocation{.container = ContainerId(rng.below(1 << 30)),
                                       .offset = static_cast<uint32_t>(rng.below(8 << 20)),
                                       .length = static_cast<uint32_t>(rng.between(1, 65536))}};
  }
  return entries;
}

using Model = std::map<Fingerprint, ChunkLocation>;

// Every model entry is found with its location, and the index holds nothing else.
inline void check_matches(const IndexStore& store, const Model& model) {
  REQUIRE(store.memory().size() == model.size());
  std::vector<Fingerprint> fps;
  std::vector<ChunkLocation> want;
  for (const auto& [fp, location] : model) {
    fps.push_back(fp);
    want.push_back(location);
  }
  for (size_t start = 0; start < fps.size(); start += kIndexBatchMax) {
    const size_t n = std::min(kIndexBatchMax, fps.size() - start);
    auto found = store.lookup(std::span<const Fingerprint>(fps).subspan(start, n));
    REQUIRE(found.ok());
    for (size_t i = 0; i < n; ++i) {
      REQUIRE(found.value()[i].found);
      REQUIRE(found.value()[i].location == want[start + i]);
    }
  }
}

// Counts how many of `entries` are present with their own location.
inline size_t count_present(const IndexStore& store, const std::vector<IndexEntry>& entries) {
  size_t present = 0;
  for (const IndexEntry& e : entries) {
    auto found = store.lookup(std::span<const Fingerprint>(&e.fp, 1));
    REQUIRE(found.ok());
    if (found.value()[0].found && found.value()[0].location == e.location) ++present;
  }
  return present;
}

inline void add_to_model(Model* model, const std::vector<IndexEntry>& entries) {
  for (const IndexEntry& e : entries) model->emplace(e.fp, e.location);
}

}  // namespace splitarray::netshelf::index::store_test
