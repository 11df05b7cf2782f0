// tests/bench/protocol_bench.cpp
// Protocol benchmark: request/response echo over real loopback TCP through RpcClient/RpcServer
// (framing, CRC32C, capnp bodies, request matching, deadlines), side by side with a raw
// length-prefixed Boost.Asio echo (raw_echo.h) at the same sizes and depths, in one run, so the
// rpc/raw ratio is meaningful on a noisy machine.
//
// Layout: a server thread (own io_context + AsioEnv + RpcServer + EchoHandler, and the raw echo
// server) and the client on the main thread (own io_context + AsioEnv + one RpcClient per row,
// `depth` coroutines calling concurrently). Every reply is verified: tag, the CRC32C the server
// computed over the payload it received, and the CRC32C of the payload echoed back.
//
// Output: a table, then one JSON object as the last line of stdout.
#include <cstdio>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "common/crc32c.h"
#include "common/env_asio/asio_env.h"
#include "protocol/rpc_client.h"
#include "protocol/rpc_server.h"
#include "tests/bench/bench_report.h"
#include "tests/bench/raw_echo.h"
#include "tests/support/echo_handler.h"

namespace splitarray::bench {
namespace {

struct RowSpec {
  const char* label;  // used in JSON keys: rpc_<label>_qd<depth>_msgs_per_s
  size_t size_bytes;
  size_t depth;
};

// 64 B shows per-message cost; 1 MiB (a fragment) shows per-byte cost. qd1 is latency-bound,
// qd32 shows how well one connection pipelines.
constexpr RowSpec kRows[] = {
    {"64b", 64, 1},
    {"64b", 64, 32},
    {"1mib", 1 * kMiB, 1},
    {"1mib", 1 * kMiB, 32},
};

constexpr Duration kConnectTimeout = std::chrono::seconds(5);
// Seeds the per-worker payload bytes; workers differ so a reply routed to the wrong caller fails.
constexpr uint64_t kRpcPayloadSeedBase = 0x5250430000000000;  // "RPC"
constexpr uint64_t kTagWorkerShift = 40;  // tag = worker << shift | sequence number

struct RowPair {
  RowSpec spec;
  RowResult rpc;
  RowResult raw;
};

// Both sides only need warnings: per-request logging would be measured too.
AsioEnvOptions quiet_env_options(const char* component) {
  AsioEnvOptions options;
  options.compute_threads = 1;  // unused by echo; keep idle threads to a minimum
  options.blocking_io_threads = 1;
  options.log_level = LogLevel::kWarn;
  options.component = component;
  return options;
}

// ---------------------------------------------------------------------------------------------
// Server thread.

struct ServerEndpoints {
  Address rpc;
  uint16_t raw_port = 0;
};

class ServerThread final {
 public:
  ServerThread() {
    std::future<ServerEndpoints> ready = ready_.get_future();
    thread_ = std::thread([this] { run(); });
    endpoints_ = ready.get();
  }
  ~ServerThread() { ASSERT_MSG(!thread_.joinable(), "stop_and_join() not called"); }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  const ServerEndpoints& endpoints() const { return endpoints_; }

  // Stops accepting; both servers return once their (already closed) connections are gone.
  void stop_and_join() {
    asio::post(*io_, [this] {
      rpc_->stop();
      raw_->stop();
    });
    thread_.join();
  }

 private:
  void run() {
    asio::io_context io;
    AsioEnv asio_env(io, quiet_env_options("bench-server"));  // built on the thread that runs io
    Env& env = asio_env.env();
    testing::EchoHandler handler(env);
    protocol::RpcServer rpc(env, handler, protocol::RpcServerOptions{});
    Result<Address> address = rpc.listen(Address{"127.0.0.1", 0});
    if (!address.ok()) fail("rpc listen: " + address.error().to_string());
    RawEchoServer raw(io);
    io_ = &io;
    rpc_ = &rpc;
    raw_ = &raw;
    async::TaskGroup servers;
    servers.spawn(io.get_executor(), rpc.serve());
    servers.spawn(io.get_executor(), raw.serve());
    ready_.set_value(ServerEndpoints{*address, raw.port()});
    io.run();  // returns when both serve() calls have returned
    ASSERT(servers.live() == 0);
  }

  std::promise<ServerEndpoints> ready_;
  ServerEndpoints endpoints_;
  std::thread thread_;
  // Owned by run()'s frame; valid from ready_ until io.run() returns, which needs stop().
  asio::io_context* io_ = nullptr;
  protocol::RpcServer* rpc_ = nullptr;
  RawEchoServer* raw_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// RPC client side.

std::vector<uint8_t> make_payload(size_t size_bytes, uint64_t seed) {
  std::vector<uint8_t> payload(size_bytes);
  Prng(seed).fill(payload);
  return payload;
}

void verify_reply(const protocol::Frame& reply, uint64_t tag, uint32_t payload_crc,
                  size_t size_bytes) {
  Result<testing::EchoReplyValue> body = testing::decode_echo_reply(reply);
  if (!body.ok()) fail("rpc echo: undecodable reply body: " + body.error().to_string());
  if (body->tag != tag) {
    fail("rpc echo: reply tag " + std::to_string(body->tag) + " for request " +
         std::to_string(tag));
  }
  if (body->payload_crc32c != payload_crc) {
    fail("rpc echo: server saw a payload with CRC differing from the one sent (tag " +
         std::to_string(tag) + ")");
  }
  if (reply.payload.size() != size_bytes) fail("rpc echo: reply payload has the wrong length");
  if (crc32c(reply.payload) != payload_crc) {
    fail("rpc echo: echoed payload CRC differs from the payload sent (tag " + std::to_string(tag) +
         ")");
  }
}

// One caller: back-to-back echo calls until the window ends. The verified echo becomes the next
// request's payload, so the client neither allocates nor copies payloads per call.
Task<void> rpc_worker(protocol::RpcClient& client, uint64_t worker, std::vector<uint8_t> payload,
                      Window window, RowRecorder& recorder) {
  const uint32_t payload_crc = crc32c(payload);
  const size_t size_bytes = payload.size();
  for (uint64_t seq = 0;; ++seq) {
    const auto sent = BenchClock::now();
    if (window.over(sent)) break;
    const uint64_t tag = (worker << kTagWorkerShift) | seq;
    Result<protocol::Frame> reply = co_await client.call(
        protocol::MessageType::kEcho, testing::encode_echo_request(tag, 0), std::move(payload));
    if (!reply.ok()) fail("rpc echo call failed: " + reply.error().to_string());
    verify_reply(*reply, tag, payload_crc, size_bytes);
    recorder.record(sent, BenchClock::now());
    payload = std::move(reply->payload);
  }
}

Task<RowResult> run_rpc_row(Env& env, Address server, RowSpec spec, double seconds_per_row) {
  std::vector<std::vector<uint8_t>> payloads;
  for (size_t w = 0; w < spec.depth; ++w) {
    payloads.push_back(make_payload(spec.size_bytes, kRpcPayloadSeedBase + w));
  }
  const protocol::RpcClientOptions options;
  Result<std::unique_ptr<protocol::RpcClient>> client =
      co_await protocol::RpcClient::connect(env, server, options, kConnectTimeout);
  if (!client.ok()) fail("rpc connect: " + client.error().to_string());

  const Window window = make_window(seconds_per_row);  // starts once connected, payloads ready
  RowRecorder recorder(window, spec.size_bytes);
  async::TaskGroup workers;
  for (size_t w = 0; w < spec.depth; ++w) {
    workers.spawn(env.executor(),
                  rpc_worker(**client, w, std::move(payloads[w]), window, recorder));
  }
  co_await workers.join();
  const protocol::RpcClientStats stats = (*client)->stats();
  co_await (*client)->close();
  if (stats.timeouts != 0 || stats.late_replies != 0) fail("rpc echo: timeouts or late replies");
  co_return recorder.result();
}

// Runs every row, rpc then raw back to back, so each pair sees the same machine noise.
Task<void> run_rows(Env& env, ServerEndpoints servers, BenchOptions options,
                    std::vector<RowPair>& out) {
  for (const RowSpec& spec : kRows) {
    RowPair pair{spec, {}, {}};
    pair.rpc = co_await run_rpc_row(env, servers.rpc, spec, options.seconds_per_row);
    pair.raw = co_await run_raw_row(env.io, servers.raw_port, spec.size_bytes, spec.depth,
                                    options.seconds_per_row);
    out.push_back(pair);
  }
}

// ---------------------------------------------------------------------------------------------
// Output.

std::string size_name(size_t size_bytes) {
  return size_bytes >= kMiB ? std::to_string(size_bytes / kMiB) + " MiB"
                            : std::to_string(size_bytes) + " B";
}

void print_table(const std::vector<RowPair>& rows, const BenchOptions& options) {
  std::printf(
      "protocol_bench: echo over loopback TCP, %.2f s per row; MB/s = 10^6 payload bytes/s"
      " each way\n\n",
      options.seconds_per_row);
  std::printf("%-6s %4s | %11s %9s %8s %8s | %11s %9s %8s %8s | %7s\n", "size", "qd", "rpc msg/s",
              "rpc MB/s", "p50 us", "p99 us", "raw msg/s", "raw MB/s", "p50 us", "p99 us",
              "rpc/raw");
  for (const RowPair& r : rows) {
    std::printf("%-6s %4zu | %11.0f %9.1f %8.1f %8.1f | %11.0f %9.1f %8.1f %8.1f | %7.2f\n",
                size_name(r.spec.size_bytes).c_str(), r.spec.depth, r.rpc.msgs_per_s, r.rpc.mbps,
                r.rpc.p50_us, r.rpc.p99_us, r.raw.msgs_per_s, r.raw.mbps, r.raw.p50_us,
                r.raw.p99_us, r.rpc.msgs_per_s / r.raw.msgs_per_s);
  }
  std::printf("\n");
}

void add_result(JsonLine& json, const std::string& prefix, const RowResult& r) {
  json.add(prefix + "_msgs_per_s", r.msgs_per_s);
  json.add(prefix + "_mbps", r.mbps);
  json.add(prefix + "_p50_us", r.p50_us);
  json.add(prefix + "_p99_us", r.p99_us);
}

void print_json(const std::vector<RowPair>& rows, const BenchOptions& options) {
  JsonLine json;
  json.add("seconds_per_row", options.seconds_per_row);
  for (const RowPair& r : rows) {
    const std::string key = std::string(r.spec.label) + "_qd" + std::to_string(r.spec.depth);
    add_result(json, "rpc_" + key, r.rpc);
    add_result(json, "raw_" + key, r.raw);
    json.add("ratio_" + key, r.rpc.msgs_per_s / r.raw.msgs_per_s);
  }
  std::printf("%s\n", json.str().c_str());
}

int run(int argc, char** argv) {
  const BenchOptions options = parse_bench_options(argc, argv);
  ServerThread server;
  std::vector<RowPair> rows;
  {
    asio::io_context io;
    AsioEnv asio_env(io, quiet_env_options("bench-client"));
    asio::co_spawn(io, run_rows(asio_env.env(), server.endpoints(), options, rows),
                   [](std::exception_ptr error) {
                     if (error) std::rethrow_exception(error);  // a bug: abort via terminate
                   });
    io.run();
  }
  server.stop_and_join();
  ASSERT(rows.size() == std::size(kRows));
  print_table(rows, options);
  print_json(rows, options);
  return 0;
}

}  // namespace
}  // namespace splitarray::bench

int main(int argc, char** argv) { return splitarray::bench::run(argc, argv); }
