#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/env_asio/asio_env.h"
#include "tests/support/run.h"

namespace splitarray {
namespace {

using testing::run_task;

struct TempDir {
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sa-env-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

TEST_CASE("common/env_asio: file write, flush, read back, reopen, size") {
  asio::io_context io;
  AsioEnv asio_env(io, AsioEnvOptions{});
  Env& env = asio_env.env();
  TempDir dir;
  const std::string path = dir.path + "/disk0";
  auto body = [&]() -> Task<void> {
    auto file = co_await env.storage.open(path, {.create = true, .create_size_bytes = 1 << 20});
    REQUIRE(file.ok());
    CHECK((*file)->size().value() == (1u << 20));
    std::vector<uint8_t> data(8192);
    env.rng.fill(data);
    REQUIRE((co_await (*file)->write_at(4096, data)).ok());
    REQUIRE((co_await (*file)->flush()).ok());
    file.value().reset();

    auto reopened = co_await env.storage.open(path, {});
    REQUIRE(reopened.ok());
    std::vector<uint8_t> back(8192);
    REQUIRE((co_await (*reopened)->read_at(4096, back)).ok());
    CHECK(back == data);
    // Reading past the end is an error, never a silent short buffer.
    auto past = co_await (*reopened)->read_at((1 << 20) - 10, back);
    CHECK(past.code() == Code::kIo);
  };
  run_task(io, body());
}

TEST_CASE(
    "common/env_asio: open of a missing file is kNotFound; rename and remove are durable ops") {
  asio::io_context io;
  AsioEnv asio_env(io, AsioEnvOptions{});
  Env& env = asio_env.env();
  TempDir dir;
  auto body = [&]() -> Task<void> {
    auto missing = co_await env.storage.open(dir.path + "/nope", {});
    CHECK(missing.code() == Code::kNotFound);
    auto created = co_await env.storage.open(dir.path + "/a.tmp", {.create = true});
    REQUIRE(created.ok());
    created.value().reset();
    REQUIRE((co_await env.storage.rename(dir.path + "/a.tmp", dir.path + "/a")).ok());
    CHECK(std::filesystem::exists(dir.path + "/a"));
    CHECK_FALSE(std::filesystem::exists(dir.path + "/a.tmp"));
    REQUIRE((co_await env.storage.remove(dir.path + "/a")).ok());
    CHECK((co_await env.storage.remove(dir.path + "/a")).code() == Code::kNotFound);
    REQUIRE((co_await env.storage.make_directory(dir.path + "/x/y/z")).ok());
    CHECK(std::filesystem::is_directory(dir.path + "/x/y/z"));
    CHECK((co_await env.storage.make_directory(dir.path + "/x/y/z")).ok());  // idempotent
    auto file = co_await env.storage.open(dir.path + "/f", {.create = true});
    REQUIRE(file.ok());
    CHECK((co_await env.storage.make_directory(dir.path + "/f")).code() == Code::kInvalidArgument);
  };
  run_task(io, body());
}

TEST_CASE("common/env_asio: a failed flush marks the file failed for good") {
  asio::io_context io;
  AsioEnv asio_env(io, AsioEnvOptions{});
  Env& env = asio_env.env();
  TempDir dir;
  // fdatasync on a FIFO fails with EINVAL: a real failing flush without a broken disk.
  const std::string fifo = dir.path + "/fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  auto body = [&]() -> Task<void> {
    auto file = co_await env.storage.open(fifo, {});
    REQUIRE(file.ok());
    CHECK_FALSE((*file)->failed());
    auto flushed = co_await (*file)->flush();
    CHECK(flushed.code() == Code::kIo);
    CHECK((*file)->failed());
    std::vector<uint8_t> one(1, 0x5A);
    CHECK((co_await (*file)->write_at(0, one)).code() == Code::kIo);
    CHECK((co_await (*file)->flush()).code() == Code::kIo);  // never retry-and-trust
  };
  run_task(io, body());
}

TEST_CASE("common/env_asio: TCP stream round trip, peer close, refused connect") {
  asio::io_context io;
  AsioEnv asio_env(io, AsioEnvOptions{});
  Env& env = asio_env.env();
  auto body = [&]() -> Task<void> {
    auto listener = env.network.listen(Address{"127.0.0.1", 0});
    REQUIRE(listener.ok());
    const Address bound = (*listener)->local_address();
    CHECK(bound.port != 0);
    auto client = co_await env.network.connect(bound, std::chrono::seconds(5));
    REQUIRE(client.ok());
    auto server = co_await (*listener)->accept();
    REQUIRE(server.ok());
    std::vector<uint8_t> a{1, 2, 3}, b{4, 5};
    const std::span<const uint8_t> parts[] = {a, b};
    REQUIRE((co_await (*client)->write_all(parts)).ok());
    std::vector<uint8_t> got(5);
    REQUIRE((co_await (*server)->read_exact(got)).ok());
    CHECK(got == std::vector<uint8_t>{1, 2, 3, 4, 5});
    (*client)->close();
    CHECK((co_await (*server)->read_exact(got)).code() == Code::kUnavailable);
    // Nothing listens on the old port once the listener is closed.
    (*listener)->close();
    auto refused = co_await env.network.connect(bound, std::chrono::seconds(5));
    CHECK_FALSE(refused.ok());
  };
  run_task(io, body());
}

TEST_CASE("common/env: Address parsing") {
  CHECK(Address::parse("127.0.0.1:20490").value() == Address{"127.0.0.1", 20490});
  CHECK(Address::parse("[::1]:80").value() == Address{"::1", 80});
  CHECK(Address::parse("localhost:1").value().port == 1);
  CHECK(Address::parse("127.0.0.1").code() == Code::kInvalidArgument);
  CHECK(Address::parse("127.0.0.1:65536").code() == Code::kInvalidArgument);
  CHECK(Address::parse(":80").code() == Code::kInvalidArgument);
  CHECK(Address::parse("h:8x").code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace splitarray
