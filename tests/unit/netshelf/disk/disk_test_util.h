// tests/unit/netshelf/disk/disk_test_util.h
// Shared fixture for the disk tests: a real AsioEnv whose storage is wrapped in FaultyStorage,
// a temporary directory, small slots (64 KiB payload) so tests stay fast, and raw file helpers
// that play the part of the hardware (bit rot, lost and torn writes) behind the Disk's back.
#pragma once

#include "tests/support/temp_dir.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/env_asio/asio_env.h"
#include "netshelf/disk/disk.h"
#include "protocol/fragment_header.h"
#include "tests/support/faulty_storage.h"
#include "tests/support/run.h"

namespace splitarray::netshelf::test {

using protocol::build_fragment;
using protocol::FragmentId;
using testing::run_task;

inline constexpr uint32_t kTestPayloadBytes = 64 * 1024;
// 14 slots of 64 KiB payload (see plan_geometry): small enough to fill in a test.
inline constexpr uint64_t kTestCapacityBytes = 1024 * 1024;

inline uint64_t test_seed() {
  const char* text = std::getenv("SPLITARRAY_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 20240611;
}

// A temp dir named for this suite; see tests/support/temp_dir.h.
struct TempDir : splitarray::testing::TempDir {
  TempDir() : splitarray::testing::TempDir("sa-disk") {}
};

struct Fixture {
  Fixture()
      : asio_env(io, AsioEnvOptions{.compute_threads = 1,
                                    .blocking_io_threads = 2,
                                    .log_level = LogLevel::kOff,
                                    .component = "test",
                                    .seed = test_seed()}),
        faulty(asio_env.env().storage),
        env{.io = io,
            .clock = asio_env.env().clock,
            .network = asio_env.env().network,
            .storage = faulty,
            .compute = asio_env.env().compute,
            .faults = asio_env.env().faults,
            .log = asio_env.env().log,
            .rng = asio_env.env().rng.fork()} {}

  std::string path(const std::string& name = "disk0") const { return dir.path + "/" + name; }

  asio::io_context io;
  AsioEnv asio_env;
  testing::FaultyStorage faulty;
  Env env;
  TempDir dir;
};

inline DiskIdentity test_identity(uint16_t index = 0) {
  return DiskIdentity{.cluster = ClusterId(7), .shelf = ShelfId(3), .index = DiskIndex(index)};
}

inline DiskFormatOptions small_disk(uint64_t capacity_bytes = kTestCapacityBytes) {
  DiskFormatOptions options;
  options.capacity_bytes = capacity_bytes;
  options.slot_payload_max_bytes = kTestPayloadBytes;
  return options;
}

inline FragmentId fid(uint64_t container, uint8_t index = 0, uint32_t generation = 1) {
  return FragmentId{.container = ContainerId(container), .index = index, .generation = generation};
}

// Deterministic payload bytes for (id, size): what was written can be recomputed to compare.
inline std::vector<uint8_t> payload_for(const FragmentId& id, size_t size) {
  Prng prng(id.container.value() * 1000003 + id.index * 101 + id.generation);
  std::vector<uint8_t> bytes(size);
  prng.fill(bytes);
  return bytes;
}

inline std::vector<uint8_t> fragment_for(const FragmentId& id, size_t size) {
  return build_fragment(id, payload_for(id, size));
}

// Raw file access, behind the storage layer (the "hardware").
inline std::vector<uint8_t> read_raw(const std::string& path, uint64_t offset, size_t size) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  f.seekg(static_cast<std::streamoff>(offset));
  std::vector<uint8_t> out(size);
  f.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(size));
  REQUIRE(f.good());
  return out;
}

inline void write_raw(const std::string& path, uint64_t offset, const std::vector<uint8_t>& data) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f.good());
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  f.flush();
  REQUIRE(f.good());
}

}  // namespace splitarray::netshelf::test
