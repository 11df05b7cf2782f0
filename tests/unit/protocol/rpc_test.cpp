// RPC behaviour over real loopback TCP: deadlines, cancellation, backpressure, error replies,
// malformed input, graceful stop and close.
#include <doctest/doctest.h>

#include <functional>

#include "common/async/task_group.h"
#include "common/env_asio/asio_env.h"
#include "protocol/frame_io.h"
#include "protocol/rpc_client.h"
#include "protocol/wire_code.h"
#include "tests/support/echo_handler.h"
#include "tests/support/run.h"

namespace splitarray::protocol {
namespace {

using std::chrono::milliseconds;
using testing::EchoHandler;
using testing::encode_echo_request;

// One io_context running a server and the test's clients.
struct Fixture {
  Fixture() : asio_env(io, AsioEnvOptions{.log_level = LogLevel::kError}), handler(env()) {}
  Env& env() { return asio_env.env(); }

  // Runs body(server_address) while the server serves; then stops the server and joins.
  void run(RpcServerOptions options, std::function<Task<void>(RpcServer&, Address)> body) {
    testing::run_task(io, [&]() -> Task<void> {
      RpcServer server(env(), handler, options);
      auto bound = server.listen(Address{"127.0.0.1", 0});
      REQUIRE(bound.ok());
      async::TaskGroup tasks;
      tasks.spawn(env().executor(), server.serve());
      co_await body(server, *bound);
      server.stop();
      co_await tasks.join();
    }());
  }

  Task<std::unique_ptr<RpcClient>> connect(Address address, RpcClientOptions options = {}) {
    auto client = co_await RpcClient::connect(env(), address, options, std::chrono::seconds(5));
    REQUIRE(client.ok());
    co_return std::move(client).value();
  }

  asio::io_context io;
  AsioEnv asio_env;
  EchoHandler handler;
};

std::vector<uint8_t> bytes_of(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 31);
  return v;
}

TEST_CASE("protocol/rpc: echo round trip returns the same payload") {
  Fixture f;
  f.run({}, [&](RpcServer&, Address address) -> Task<void> {
    auto client = co_await f.connect(address);
    const auto payload = bytes_of(100000, 7);
    auto reply = co_await client->call(MessageType::kEcho, encode_echo_request(11, 0), payload);
    REQUIRE(reply.ok());
    CHECK(reply->payload == payload);
    CHECK(testing::decode_echo_reply(*reply)->tag == 11);
    co_await client->close();
  });
}

TEST_CASE("protocol/rpc: a server error reply carries code and message") {
  Fixture f;
  f.run({}, [&](RpcServer&, Address address) -> Task<void> {
    auto client = co_await f.connect(address);
    auto reply = co_await client->call(MessageType::kStatus, encode_echo_request(1, 0), {});
    CHECK(reply.code() == Code::kInvalidArgument);
    CHECK(reply.error().message == "echo server only answers echo");
    co_await client->close();
  });
}

TEST_CASE("protocol/rpc: deadline expires as kTimeout and the server is told to abandon") {
  Fixture f;
  f.run({}, [&](RpcServer& server, Address address) -> Task<void> {
    auto client = co_await f.connect(address);
    const TimePoint start = f.env().clock.now();
    auto reply = co_await client->call(MessageType::kEcho, encode_echo_request(1, 300'000), {},
                                       milliseconds(30));
    CHECK(reply.code() == Code::kTimeout);
    CHECK(f.env().clock.now() - start < milliseconds(250));
    CHECK(client->stats().timeouts == 1);
    // A request after a timeout still works on the same connection.
    auto next = co_await client->call(MessageType::kEcho, encode_echo_request(2, 0), {});
    CHECK(next.ok());
    CHECK(server.stats().cancelled == 1);
    co_await client->close();
  });
}

TEST_CASE("protocol/rpc: cancel completes at once with kCancelled") {
  Fixture f;
  f.run({}, [&](RpcServer&, Address address) -> Task<void> {
    auto client = co_await f.connect(address);
    auto id = client->start(MessageType::kEcho, encode_echo_request(1, 200'000), {});
    REQUIRE(id.ok());
    CHECK(client->inflight() == 1);
    client->cancel(*id);
    client->cancel(*id);  // idempotent
    auto reply = co_await client->finish(*id);
    CHECK(reply.code() == Code::kCancelled);
    CHECK(client->inflight() == 0);
    co_await client->close();
  });
}

TEST_CASE("protocol/rpc: in-flight limits answer kBusy on both sides") {
  Fixture f;
  RpcServerOptions server_options;
  server_options.inflight_per_connection_max = 2;
  f.run(server_options, [&](RpcServer& server, Address address) -> Task<void> {
    RpcClientOptions options;
    options.inflight_max = 4;
    auto client = co_await f.connect(address, options);
    std::vector<uint64_t> ids;
    for (int i = 0; i < 4; ++i) {
      auto id = client->start(MessageType::kEcho, encode_echo_request(i, 50'000), {});
      REQUIRE(id.ok());
      ids.push_back(*id);
    }
    // Client limit reached.
    CHECK(client->start(MessageType::kEcho, encode_echo_request(9, 0), {}).code() == Code::kBusy);
    int ok = 0, busy = 0;
    for (uint64_t id : ids) {
      auto reply = co_await client->finish(id);
      if (reply.ok()) ++ok;
      if (!reply.ok() && reply.code() == Code::kBusy) ++busy;
    }
    CHECK(ok == 2);    // the server's limit
    CHECK(busy == 2);  // the rest were pushed back, not queued
    CHECK(server.stats().busy_replies == 2);
    co_await client->close();
  });
}

TEST_CASE("protocol/rpc: malformed bytes get a protocol error and close only that connection") {
  Fixture f;
  f.run({}, [&](RpcServer& server, Address address) -> Task<void> {
    auto good = co_await f.connect(address);
    auto raw = co_await f.env().network.connect(address, std::chrono::seconds(5));
    REQUIRE(raw.ok());
    std::vector<uint8_t> junk(kFrameHeaderSize, 0x5A);
    const std::span<const uint8_t> parts[] = {junk};
    REQUIRE((co_await (*raw)->write_all(parts)).ok());
    FrameReadOptions read;
    auto reply = co_await read_frame(**raw, read);
    REQUIRE(reply.ok());
    CHECK(reply->header.is_response());
    CHECK(from_wire_code(reply->header.status) == Code::kProtocol);
    CHECK(error_from_frame(*reply, FrameLimits{}).message == "bad frame magic");
    // Then the server closes that connection.
    auto after = co_await read_frame(**raw, read);
    CHECK(after.code() == Code::kUnavailable);
    CHECK(server.stats().protocol_errors == 1);
    // The other connection is unaffected.
    auto echo = co_await good->call(MessageType::kEcho, encode_echo_request(5, 0), bytes_of(10, 1));
    CHECK(echo.ok());
    co_await good->close();
  });
}

TEST_CASE("protocol/rpc: a stalled partial frame times out and closes the connection") {
  Fixture f;
  RpcServerOptions options;
  options.read.partial_frame_timeout = milliseconds(50);
  f.run(options, [&](RpcServer& server, Address address) -> Task<void> {
    auto raw = co_await f.env().network.connect(address, std::chrono::seconds(5));
    REQUIRE(raw.ok());
    Frame frame;
    frame.header.type = MessageType::kEcho;
    frame.header.request_id = 1;
    frame.body = encode_echo_request(1, 0);
    frame.payload = bytes_of(1000, 3);
    seal_frame(frame);
    const HeaderBytes header = encode_frame_header(frame.header);
    const std::span<const uint8_t> parts[] = {header};  // header only; body never comes
    REQUIRE((co_await (*raw)->write_all(parts)).ok());
    auto reply = co_await read_frame(**raw, FrameReadOptions{});
    REQUIRE(reply.ok());
    CHECK(from_wire_code(reply->header.status) == Code::kTimeout);
    CHECK(server.stats().protocol_errors == 1);
  });
}

TEST_CASE("protocol/rpc: stop() lets in-flight requests finish; close() waits for replies") {
  Fixture f;
  f.run({}, [&](RpcServer& server, Address address) -> Task<void> {
    auto client = co_await f.connect(address);
    auto slow = client->start(MessageType::kEcho, encode_echo_request(1, 50'000), bytes_of(64, 2));
    REQUIRE(slow.ok());
    // Stop only once the server holds the request: wait on that condition, with a deadline.
    const TimePoint give_up = f.env().clock.now() + std::chrono::seconds(10);
    while (f.handler.handled() == 0 && f.env().clock.now() < give_up) {
      co_await sleep_for(f.env().clock, milliseconds(1));
    }
    REQUIRE(f.handler.handled() == 1);
    server.stop();
    auto reply = co_await client->finish(*slow);
    CHECK(reply.ok());
    CHECK(reply->payload == bytes_of(64, 2));
    co_await client->close();
    // New connections are refused after stop().
    auto late = co_await f.env().network.connect(address, std::chrono::seconds(1));
    CHECK_FALSE(late.ok());
  });
}

TEST_CASE("protocol/rpc: requests in flight when the server goes away fail kUnavailable") {
  Fixture f;
  testing::run_task(f.io, [&]() -> Task<void> {
    auto listener = f.env().network.listen(Address{"127.0.0.1", 0});
    REQUIRE(listener.ok());
    auto client = co_await f.connect((*listener)->local_address());
    auto accepted = co_await (*listener)->accept();
    REQUIRE(accepted.ok());
    auto id = client->start(MessageType::kEcho, encode_echo_request(1, 0), {});
    REQUIRE(id.ok());
    (*accepted)->close();  // the "server" dies without answering
    auto reply = co_await client->finish(*id);
    CHECK(reply.code() == Code::kUnavailable);
    CHECK(client->start(MessageType::kEcho, encode_echo_request(2, 0), {}).code() ==
          Code::kUnavailable);
    co_await client->close();
  }());
}

}  // namespace
}  // namespace splitarray::protocol
