// RPC behaviour over real loopback TCP: deadlines, cancellation, backpressure, error replies,
// malformed input, graceful stop and close.
#include <doctest/doctest.h>

#include <functional>

#include "common/async/task_group.h"
#include "common/crc32c.h"
#include "common/endian.h"
#include "common/env_asio/asio_env.h"
#include "protocol/frame_reader.h"
#include "protocol/frame_writer.h"
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

TEST_CASE("protocol/rpc: concurrent calls of mixed sizes each get their own payload back") {
  // Frames queued together leave in one gathered write (FrameWriter), on the client and on the
  // server: small frames batch, a 1 MiB one goes alone. Each reply must still be its own call's.
  constexpr size_t kCalls = 40;
  Fixture f;
  f.run({}, [&](RpcServer&, Address address) -> Task<void> {
    auto client = co_await f.connect(address);
    std::vector<std::vector<uint8_t>> payloads(kCalls);
    std::vector<bool> matched(kCalls, false);
    for (size_t i = 0; i < kCalls; ++i) {
      const size_t size = i % 13 == 5 ? 1024 * 1024 : i % 4 == 1 ? 100'000 : 64 + i;
      payloads[i] = bytes_of(size, static_cast<uint8_t>(i));
    }
    auto one = [](RpcClient* c, size_t tag, const std::vector<uint8_t>* payload,
                  std::vector<bool>* out) -> Task<void> {
      auto reply = co_await c->call(MessageType::kEcho, encode_echo_request(tag, 0), *payload);
      REQUIRE(reply.ok());
      CHECK(testing::decode_echo_reply(*reply)->tag == tag);
      (*out)[tag] = reply->payload == *payload;
    };
    async::TaskGroup calls;
    for (size_t i = 0; i < kCalls; ++i) {
      calls.spawn(f.env().executor(), one(client.get(), i, &payloads[i], &matched));
    }
    co_await calls.join();
    CHECK(std::count(matched.begin(), matched.end(), true) == static_cast<ptrdiff_t>(kCalls));
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

// Serialized bytes of one sealed frame (header + body + payload).
std::vector<uint8_t> frame_bytes(const Frame& frame) {
  const HeaderBytes header = encode_frame_header(frame.header);
  std::vector<uint8_t> out(header.begin(), header.end());
  const auto body = frame.body_bytes();
  out.insert(out.end(), body.begin(), body.end());
  out.insert(out.end(), frame.payload.begin(), frame.payload.end());
  return out;
}

Frame echo_frame() {
  Frame frame;
  frame.header.type = MessageType::kEcho;
  frame.header.request_id = 77;
  frame.body = encode_echo_request(1, 0);
  frame.payload = bytes_of(100, 9);
  seal_frame(frame);
  return frame;
}

// A frame whose body is `words` (little-endian u32 pairs), sealed so only the body is wrong.
std::vector<uint8_t> frame_with_body(const std::vector<uint32_t>& u32s) {
  Frame frame = echo_frame();
  frame.body = kj::heapArray<capnp::word>((u32s.size() + 1) / 2);
  std::span<uint8_t> body(reinterpret_cast<uint8_t*>(frame.body.begin()), frame.body.size() * 8);
  std::fill(body.begin(), body.end(), 0);
  for (size_t i = 0; i < u32s.size(); ++i) put_u32(body, 4 * i, u32s[i]);
  seal_frame(frame);
  return frame_bytes(frame);
}

std::vector<uint8_t> with_header_field(uint16_t offset, int width, uint32_t value) {
  std::vector<uint8_t> bytes = frame_bytes(echo_frame());
  std::span<uint8_t> header(bytes.data(), kFrameHeaderSize);
  if (width == 2) put_u16(header, offset, static_cast<uint16_t>(value));
  if (width == 4) put_u32(header, offset, value);
  put_u32(header, 36, crc32c(header.first(36)));  // valid header CRC: the field itself is bad
  return bytes;
}

TEST_CASE(
    "protocol/rpc: every kind of malformed frame gets kProtocol and closes only its connection") {
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
  };
  std::vector<Case> cases;
  cases.push_back({"bad magic", std::vector<uint8_t>(kFrameHeaderSize, 0x5A)});
  cases.push_back({"oversize payload", with_header_field(28, 4, kPayloadMaxBytes + 1)});
  cases.push_back({"oversize body", with_header_field(24, 4, 0xFFFFFFF8u)});
  cases.push_back({"unknown type", with_header_field(6, 2, 999)});
  cases.push_back({"response sent to server", with_header_field(8, 2, kFlagResponse)});
  {
    std::vector<uint8_t> bytes = frame_bytes(echo_frame());
    bytes[20] ^= 0x01;  // request id bit, header CRC not updated
    cases.push_back({"bad header CRC", bytes});
  }
  {
    std::vector<uint8_t> bytes = frame_bytes(echo_frame());
    bytes.back() ^= 0x80;  // payload bit
    cases.push_back({"bad data CRC", bytes});
  }
  cases.push_back({"segment count 0xFFFFFFFF", frame_with_body({0xFFFFFFFF, 1})});
  cases.push_back({"segment larger than body", frame_with_body({0, 1000})});
  // One segment of one word whose root pointer points far outside it: capnp garbage that only
  // the handler's decode can see.
  cases.push_back({"capnp garbage", frame_with_body({0, 1, 0x3FFFFFFC, 1})});

  Fixture f;
  f.run({}, [&](RpcServer& server, Address address) -> Task<void> {
    auto good = co_await f.connect(address);
    for (const Case& c : cases) {
      CAPTURE(c.name);
      auto raw = co_await f.env().network.connect(address, std::chrono::seconds(5));
      REQUIRE(raw.ok());
      const std::span<const uint8_t> parts[] = {c.bytes};
      REQUIRE((co_await (*raw)->write_all(parts)).ok());
      FrameReader reader(**raw, FrameReadOptions{});
      auto reply = co_await reader.next();
      REQUIRE(reply.ok());
      CHECK(reply->header.is_response());
      CHECK(from_wire_code(reply->header.status) == Code::kProtocol);
      auto after = co_await reader.next();
      CHECK(after.code() == Code::kUnavailable);  // closed by the server
      // The well-behaved connection is unaffected.
      auto echo =
          co_await good->call(MessageType::kEcho, encode_echo_request(5, 0), bytes_of(10, 1));
      CHECK(echo.ok());
    }
    CHECK(server.stats().protocol_errors == cases.size());
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
    FrameReader reader(**raw, FrameReadOptions{});
    auto reply = co_await reader.next();
    REQUIRE(reply.ok());
    CHECK(from_wire_code(reply->header.status) == Code::kTimeout);
    CHECK(server.stats().protocol_errors == 1);
  });
}

TEST_CASE("protocol/rpc: stop() lets in-flight requests finish, close() waits for replies") {
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

TEST_CASE("protocol/frame_writer: frames queued together arrive whole and in send order") {
  // 40 frames queued before the write loop runs leave in gathered writes (at most
  // kWriteBatchFramesMax each, a 1 MiB payload alone); the peer must read them back in order.
  constexpr uint64_t kFrames = 40;
  Fixture f;
  testing::run_task(f.io, [&]() -> Task<void> {
    auto listener = f.env().network.listen(Address{"127.0.0.1", 0});
    REQUIRE(listener.ok());
    auto sender =
        co_await f.env().network.connect((*listener)->local_address(), std::chrono::seconds(5));
    REQUIRE(sender.ok());
    auto receiver = co_await (*listener)->accept();
    REQUIRE(receiver.ok());
    FrameWriter writer(**sender, kFrames);
    for (uint64_t i = 0; i < kFrames; ++i) {
      Frame frame = echo_frame();
      frame.header.request_id = i;
      frame.payload = bytes_of(i == 17 ? 1024 * 1024 : 100 + i, static_cast<uint8_t>(i));
      seal_frame(frame);
      REQUIRE(writer.send(std::move(frame)).ok());
    }
    writer.close();
    async::TaskGroup writing;
    auto run_writer = [](FrameWriter* w) -> Task<void> { REQUIRE((co_await w->run()).ok()); };
    writing.spawn(f.env().executor(), run_writer(&writer));
    FrameReader reader(**receiver, FrameReadOptions{});
    for (uint64_t i = 0; i < kFrames; ++i) {
      auto frame = co_await reader.next();
      REQUIRE(frame.ok());
      CHECK(frame->header.request_id == i);
      CHECK(frame->payload == bytes_of(i == 17 ? 1024 * 1024 : 100 + i, static_cast<uint8_t>(i)));
    }
    co_await writing.join();
  }());
}

}  // namespace
}  // namespace splitarray::protocol
