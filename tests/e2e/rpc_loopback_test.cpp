// 10,000 requests over real loopback TCP between a server thread and client connections:
// random payload sizes up to the frame limit (log-uniform, plus the limit itself), random
// server delays, some requests with deadlines that must expire and some cancelled mid-flight.
// Every request must end exactly as its class predicts, and every echoed payload must be
// byte-identical. Seed: SPLITARRAY_SEED (printed on every run).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <thread>

#include "common/async/task_group.h"
#include "common/env_asio/asio_env.h"
#include "protocol/rpc_client.h"
#include "tests/support/echo_handler.h"
#include "tests/support/run.h"

namespace splitarray {
namespace {

using protocol::MessageType;
using std::chrono::milliseconds;

constexpr int kRequests = 10'000;
constexpr int kConnections = 4;
constexpr int kDepthPerConnection = 16;
constexpr uint32_t kPayloadLimit = protocol::kPayloadMaxBytes;

enum class Kind { kEcho, kDeadline, kCancel };

struct Plan {
  Kind kind;
  uint32_t payload_bytes;
  uint32_t delay_micros;
};

Plan plan_request(Prng& rng) {
  Plan plan;
  const double roll = rng.unit();
  plan.kind = roll < 0.9 ? Kind::kEcho : roll < 0.95 ? Kind::kDeadline : Kind::kCancel;
  if (rng.chance(0.01)) {
    plan.payload_bytes = kPayloadLimit;  // the limit itself must work
  } else {
    const double log_size = rng.unit() * std::log(static_cast<double>(kPayloadLimit) + 1);
    plan.payload_bytes = static_cast<uint32_t>(std::exp(log_size)) - 1;
  }
  switch (plan.kind) {
    case Kind::kEcho:
      plan.delay_micros = static_cast<uint32_t>(rng.below(2000));
      break;
    case Kind::kDeadline:
      plan.delay_micros = 300'000;
      break;  // deadline is 20 ms
    case Kind::kCancel:
      plan.delay_micros = 300'000;
      break;  // cancelled after ~1 ms
  }
  return plan;
}

struct Tally {
  int echoed = 0;
  int timed_out = 0;
  int cancelled = 0;
  int wrong = 0;
  uint64_t payload_bytes = 0;
  int next = 0;
};

Task<void> worker(Env& env, protocol::RpcClient& client, Prng rng, Tally& tally) {
  while (tally.next < kRequests) {
    const int index = tally.next++;
    const Plan plan = plan_request(rng);
    std::vector<uint8_t> payload(plan.payload_bytes);
    rng.fill(payload);
    const std::vector<uint8_t> expected = payload;
    const Duration timeout = plan.kind == Kind::kDeadline ? milliseconds(20) : milliseconds(20000);
    auto id =
        client.start(MessageType::kEcho,
                     testing::encode_echo_request(static_cast<uint64_t>(index), plan.delay_micros),
                     std::move(payload), timeout);
    REQUIRE(id.ok());
    if (plan.kind == Kind::kCancel) {
      co_await sleep_for(env.clock, milliseconds(1));
      client.cancel(*id);
    }
    auto reply = co_await client.finish(*id);
    bool right = false;
    switch (plan.kind) {
      case Kind::kEcho:
        if (reply.ok()) {
          auto echo = testing::decode_echo_reply(*reply);
          right = echo.ok() && echo->tag == static_cast<uint64_t>(index) &&
                  echo->payload_crc32c == crc32c(expected) && reply->payload == expected;
          tally.echoed += right;
          tally.payload_bytes += expected.size();
        }
        break;
      case Kind::kDeadline:
        right = !reply.ok() && reply.code() == Code::kTimeout;
        tally.timed_out += right;
        break;
      case Kind::kCancel:
        right = !reply.ok() && reply.code() == Code::kCancelled;
        tally.cancelled += right;
        break;
    }
    if (!right) {
      ++tally.wrong;
      MESSAGE("request " << index << " kind " << static_cast<int>(plan.kind) << " ended as "
                         << (reply.ok() ? std::string("ok") : reply.error().to_string()));
    }
  }
}

uint64_t seed_from_env() {
  const char* text = std::getenv("SPLITARRAY_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 20261121;
}

TEST_CASE("e2e/rpc: 10,000 requests over loopback TCP with deadlines and cancellation") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);

  // Server: its own thread and event loop, as in a real shelf process.
  asio::io_context server_io;
  AsioEnv server_env(server_io, AsioEnvOptions{.log_level = LogLevel::kWarn, .seed = seed});
  testing::EchoHandler handler(server_env.env());
  protocol::RpcServer server(server_env.env(), handler, {});
  auto bound = server.listen(Address{"127.0.0.1", 0});
  REQUIRE(bound.ok());
  std::thread server_thread([&] { testing::run_task(server_io, server.serve()); });

  asio::io_context client_io;
  AsioEnv client_env(client_io, AsioEnvOptions{.log_level = LogLevel::kWarn, .seed = seed});
  Env& env = client_env.env();
  Tally tally;
  uint64_t late_replies = 0;
  auto body = [&]() -> Task<void> {
    std::vector<std::unique_ptr<protocol::RpcClient>> clients;
    for (int c = 0; c < kConnections; ++c) {
      auto client = co_await protocol::RpcClient::connect(env, *bound, {}, std::chrono::seconds(5));
      REQUIRE(client.ok());
      clients.push_back(std::move(client).value());
    }
    async::TaskGroup workers;
    Prng rng(seed);
    for (auto& client : clients) {
      for (int d = 0; d < kDepthPerConnection; ++d) {
        workers.spawn(env.executor(), worker(env, *client, rng.fork(), tally));
      }
    }
    co_await workers.join();
    for (auto& client : clients) {
      late_replies += client->stats().late_replies;
      co_await client->close();
    }
  };
  testing::run_task(client_io, body());
  asio::post(server_io, [&] { server.stop(); });
  server_thread.join();

  MESSAGE("echoed=" << tally.echoed << " timed_out=" << tally.timed_out
                    << " cancelled=" << tally.cancelled << " late_replies=" << late_replies
                    << " payload_MB=" << tally.payload_bytes / 1e6);
  CHECK(tally.wrong == 0);
  CHECK(tally.echoed + tally.timed_out + tally.cancelled == kRequests);
  CHECK(tally.timed_out > 0);
  CHECK(tally.cancelled > 0);
  // Every echoed request reached the server. A cancelled or timed-out request may still be in
  // flight when the server stops (stopping drops unread bytes), so it may not be counted.
  CHECK(server.stats().requests >= static_cast<uint64_t>(tally.echoed));
  CHECK(server.stats().requests <= static_cast<uint64_t>(kRequests));
  CHECK(server.stats().protocol_errors == 0);
  CHECK(server.connections() == 0);
}

}  // namespace
}  // namespace splitarray
