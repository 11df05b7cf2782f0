#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/async/task_group.h"
#include "common/env_asio/asio_env.h"
#include "common/env_asio/asio_network.h"
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

// A connected pair of streams on loopback.
struct StreamPair {
  std::unique_ptr<Listener> listener;
  std::unique_ptr<Stream> client;
  std::unique_ptr<Stream> server;
};

Task<StreamPair> connect_pair(Env& env) {
  StreamPair pair;
  auto listener = env.network.listen(Address{"127.0.0.1", 0});
  REQUIRE(listener.ok());
  pair.listener = std::move(listener).value();
  auto client =
      co_await env.network.connect(pair.listener->local_address(), std::chrono::seconds(5));
  REQUIRE(client.ok());
  pair.client = std::move(client).value();
  auto server = co_await pair.listener->accept();
  REQUIRE(server.ok());
  pair.server = std::move(server).value();
  co_return pair;
}

// More than loopback's socket buffers hold, so a bulk write must wait for the reader.
constexpr size_t kBulkTestBytes = 32u << 20;

TEST_CASE("common/env_asio: a bulk write_all reaches a reader intact and in order") {
  // With bulk-send threads the big write goes through them; with none, all of it on the loop.
  for (const size_t threads : {size_t{2}, size_t{0}}) {
    CAPTURE(threads);
    asio::io_context io;
    AsioEnv asio_env(io, AsioEnvOptions{.bulk_send_threads = threads});
    Env& env = asio_env.env();
    auto body = [&]() -> Task<void> {
      StreamPair pair = co_await connect_pair(env);
      std::vector<uint8_t> head(1000), bulk(kBulkTestBytes), small(300);
      env.rng.fill(head);
      env.rng.fill(bulk);
      env.rng.fill(small);
      REQUIRE(head.size() + bulk.size() >= kBulkSendBytesMin);
      async::TaskGroup writer;
      bool wrote_bulk = false, wrote_small = false;
      auto write = [](Stream& stream, std::span<const uint8_t> a, std::span<const uint8_t> b,
                      std::span<const uint8_t> c, bool& bulk_ok, bool& small_ok) -> Task<void> {
        const std::span<const uint8_t> parts[] = {a, b};
        bulk_ok = (co_await stream.write_all(parts)).ok();
        const std::span<const uint8_t> last[] = {c};  // below the threshold: on the loop
        small_ok = (co_await stream.write_all(last)).ok();
      };
      writer.spawn(env.executor(), write(*pair.client, head, bulk, small, wrote_bulk, wrote_small));
      std::vector<uint8_t> got(head.size() + bulk.size() + small.size());
      // Read in pieces, as a client parsing records does.
      bool read_all = true;
      for (size_t at = 0; at < got.size() && read_all;) {
        const size_t n = std::min<size_t>(got.size() - at, 1 << 20);
        read_all = (co_await pair.server->read_exact(std::span(got).subspan(at, n))).ok();
        at += n;
      }
      if (!read_all) pair.client->close();  // so the writer finishes before the check fails
      co_await writer.join();
      REQUIRE(read_all);
      CHECK(wrote_bulk);
      CHECK(wrote_small);
      CHECK(std::equal(head.begin(), head.end(), got.begin()));
      CHECK(std::equal(bulk.begin(), bulk.end(), got.begin() + head.size()));
      CHECK(std::equal(small.begin(), small.end(), got.end() - small.size()));
    };
    run_task(io, body());
  }
}

TEST_CASE("common/env_asio: a bulk write_all to a peer that stops reading fails on close") {
  asio::io_context io;
  AsioEnv asio_env(io, AsioEnvOptions{.bulk_send_threads = 2});
  Env& env = asio_env.env();
  for (const bool local_close : {true, false}) {
    CAPTURE(local_close);
    auto body = [&]() -> Task<void> {
      StreamPair pair = co_await connect_pair(env);
      std::vector<uint8_t> bulk(kBulkTestBytes, 0x5C);
      async::TaskGroup writer;
      Result<void> written = ok_result();
      auto write = [](Stream& stream, std::span<const uint8_t> bytes,
                      Result<void>& out) -> Task<void> {
        const std::span<const uint8_t> parts[] = {bytes};
        out = co_await stream.write_all(parts);
      };
      writer.spawn(env.executor(), write(*pair.client, bulk, written));
      // The writer has started once a byte arrives; the reader then stops reading. This relies
      // on loopback's default socket buffers holding far less than kBulkTestBytes, so the write
      // is still outstanding when the stream closes.
      std::vector<uint8_t> one(1);
      const bool started = (co_await pair.server->read_exact(one)).ok();
      if (local_close) {
        pair.client->close();
      } else {
        pair.server->close();
      }
      co_await writer.join();  // returns: the write neither hangs nor succeeds
      CHECK(started);
      CHECK(one[0] == 0x5C);
      REQUIRE_FALSE(written.ok());
      // A local close is kCancelled, as for a read; a peer that went away is kUnavailable.
      CHECK(written.code() == (local_close ? Code::kCancelled : Code::kUnavailable));
    };
    run_task(io, body());
  }
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
