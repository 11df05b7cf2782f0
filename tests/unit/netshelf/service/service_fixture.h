// tests/unit/netshelf/service/service_fixture.h
// Shared scaffolding for the shelf service tests: a small shelf (3 file-backed disks with 64 KiB
// slots, a 1 MiB NVRAM file for 4 hosts, an index directory and a register log) formatted in a
// temporary directory, opened and served in-process by an RpcServer + ShelfHandler on
// 127.0.0.1:0, and ShelfClients talking to it over real loopback TCP on the same io_context.
#pragma once

#include "tests/support/temp_dir.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "common/async/task_group.h"
#include "common/env_asio/asio_env.h"
#include "netshelf/service/shelf.h"
#include "netshelf/service/shelf_handler.h"
#include "protocol/fragment_header.h"
#include "protocol/rpc_server.h"
#include "protocol/shelf_client.h"
#include "tests/support/run.h"

namespace splitarray::netshelf::service_test {

using protocol::ShelfClient;

inline constexpr uint64_t kTestDiskBytes = 2 * kMiB;
inline constexpr uint32_t kTestSlotPayloadBytes = 64 * 1024;
inline constexpr uint64_t kTestNvramBytes = 1 * kMiB;
inline constexpr uint32_t kTestNvramHosts = 4;
inline constexpr size_t kTestDisks = 3;
inline constexpr uint64_t kTestClusterId = 11;
inline constexpr uint32_t kTestShelfId = 2;

// For assertion messages.
template <class T>
std::string why(const Result<T>& result) {
  return result.ok() ? std::string("ok") : result.error().to_string();
}

// True when `result` is an error with `code` (Result::code() on an ok result is a bug).
template <class T>
bool failed_with(const Result<T>& result, Code code) {
  return !result.ok() && result.code() == code;
}

// A temp dir named for this suite; see tests/support/temp_dir.h.
struct TempDir : splitarray::testing::TempDir {
  TempDir() : splitarray::testing::TempDir("sa-svc") {}
};

inline ShelfConfig small_shelf_config(const std::string& dir) {
  ShelfConfig config;
  config.cluster_id = ClusterId(kTestClusterId);
  config.shelf_id = ShelfId(kTestShelfId);
  config.listen = Address{"127.0.0.1", 0};
  for (size_t i = 0; i < kTestDisks; ++i) {
    config.disks.push_back(DiskConfig{dir + "/disk" + std::to_string(i), kTestDiskBytes});
  }
  config.slot_payload_bytes = kTestSlotPayloadBytes;
  config.nvram = NvramConfigFile{dir + "/nvram", kTestNvramBytes, kTestNvramHosts};
  config.index_dir = dir + "/index";
  config.registers_path = dir + "/registers.log";
  config.log_level = LogLevel::kOff;
  return config;
}

// What a test body gets while the shelf is being served.
struct Served {
  Shelf& shelf;
  ShelfHandler& handler;
  protocol::RpcServer& server;
  Address address;
};

using ServeBody = std::function<Task<void>(Served&)>;

struct Fixture {
  Fixture()
      : asio_env(io, AsioEnvOptions{.compute_threads = 1,
                                    .blocking_io_threads = 2,
                                    .log_level = LogLevel::kOff,
                                    .component = "test",
                                    .seed = 20240611}),
        config(small_shelf_config(dir.path)) {
    testing::run_task(io, format_shelf());
  }

  Env& env() { return asio_env.env(); }
  std::string disk_path(size_t i) const { return config.disks[i].path; }

  // Opens the shelf, serves it while `body` runs, then stops the server (in-flight requests
  // finish), waits for every connection to close and closes the shelf. Each call reopens the
  // shelf from its files, so two calls in a row are a restart.
  void serve(ServeBody body) { testing::run_task(io, serve_task(std::move(body))); }

  Task<std::unique_ptr<ShelfClient>> connect(Address address) {
    auto client = co_await ShelfClient::connect(env(), std::move(address));
    REQUIRE_MESSAGE(client.ok(), why(client));
    co_return std::move(client).value();
  }

  asio::io_context io;
  AsioEnv asio_env;
  TempDir dir;
  ShelfConfig config;

 private:
  Task<void> format_shelf() {
    auto formatted = co_await Shelf::format(env(), config, false);
    REQUIRE_MESSAGE(formatted.ok(), why(formatted));
  }

  Task<void> serve_task(ServeBody body) {
    auto opened = co_await Shelf::open(env(), config);
    REQUIRE_MESSAGE(opened.ok(), why(opened));
    std::unique_ptr<Shelf> shelf = std::move(opened).value();
    ShelfHandler handler(env(), *shelf);
    protocol::RpcServer server(env(), handler, protocol::RpcServerOptions{});
    const Address listen_at{"127.0.0.1", 0};
    Result<Address> bound = server.listen(listen_at);
    if (!bound.ok()) {
      co_await shelf->close();
      FAIL("listen: " << why(bound));
    }
    async::TaskGroup tasks;
    tasks.spawn(env().executor(), server.serve());
    Served served{*shelf, handler, server, *bound};
    // A failed REQUIRE throws: still stop, join and close so the test fails instead of aborting.
    std::exception_ptr failure;
    try {
      co_await body(served);
    } catch (...) {
      failure = std::current_exception();
    }
    server.stop();
    co_await tasks.join();
    co_await shelf->close();
    if (failure) std::rethrow_exception(failure);
  }
};

// --- deterministic test data -------------------------------------------------------------------

inline std::vector<uint8_t> pattern_bytes(size_t n, uint64_t seed) {
  std::vector<uint8_t> out(n);
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (auto& byte : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    byte = static_cast<uint8_t>(x);
  }
  return out;
}

inline protocol::FragmentIdValue fragment_id(uint64_t container, uint8_t index,
                                             uint32_t generation = 1) {
  return protocol::FragmentIdValue{container, index, generation};
}

// A sealed fragment (header + payload) for `id`.
inline std::vector<uint8_t> make_fragment(const protocol::FragmentIdValue& id,
                                          const std::vector<uint8_t>& payload) {
  const protocol::FragmentId wire{ContainerId(id.container_id), id.index, id.generation};
  return protocol::build_fragment(wire, payload);
}

inline protocol::Fingerprint fingerprint(uint8_t seed) {
  protocol::Fingerprint fp{};
  for (size_t i = 0; i < fp.size(); ++i) fp[i] = static_cast<uint8_t>(seed * 7 + i);
  return fp;
}

inline std::vector<uint8_t> bytes_of(const std::string& text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

// Offset in `path` of the first occurrence of `needle` (the file is read whole: test disks are
// small). Fails the test when absent.
inline uint64_t find_in_file(const std::string& path, const std::vector<uint8_t>& needle) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  const std::vector<char> file((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
  const auto* data = reinterpret_cast<const uint8_t*>(file.data());
  const auto at = std::search(data, data + file.size(), needle.begin(), needle.end());
  REQUIRE(at != data + file.size());
  return static_cast<uint64_t>(at - data);
}

}  // namespace splitarray::netshelf::service_test
