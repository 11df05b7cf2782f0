// tests/unit/hostdriver/nfs/rpc_server_test.cpp
// The ONC RPC server over real loopback TCP (Asio Env): out-of-order replies, fragmented
// records, every rejection a client can get, the duplicate request cache across connections,
// and connections that send junk, oversized or stalled records (closed, while other connections
// keep being served).
#include <doctest/doctest.h>

#include <map>

#include "common/async/task_group.h"
#include "common/env_asio/asio_env.h"
#include "hostdriver/nfs/mount_program.h"
#include "hostdriver/nfs/onc_rpc_server.h"
#include "hostdriver/nfs/portmap_program.h"
#include "tests/support/run.h"
#include "tests/unit/hostdriver/nfs/rpc_test_client.h"

namespace splitarray::hostdriver::nfs {
namespace {

using rpc_test::as_record;
using rpc_test::call_body;
using rpc_test::RawClient;
using rpc_test::Reply;

constexpr uint32_t kTestProgram = 400123;
constexpr uint32_t kProcEcho = 1;     // (delay_ms, opaque) -> opaque, after the delay
constexpr uint32_t kProcCounter = 2;  // () -> ++counter; not idempotent

class TestProgram final : public RpcProgram {
 public:
  explicit TestProgram(Env& env) : env_(env) {}
  uint32_t program() const override { return kTestProgram; }
  uint32_t version_min() const override { return 2; }
  uint32_t version_max() const override { return 3; }
  bool idempotent(uint32_t, uint32_t procedure) const override { return procedure != kProcCounter; }
  Task<AcceptStat> call(const RpcCall& call, XdrEncoder& results) override {
    XdrDecoder args(call.args);
    if (call.procedure == kProcEcho) {
      const uint32_t delay_ms = args.u32();
      std::vector<uint8_t> data = args.opaque(kRecordBytesMax);
      if (!args.ok() || !args.at_end()) co_return AcceptStat::kGarbageArgs;
      if (delay_ms > 0) co_await sleep_for(env_.clock, std::chrono::milliseconds(delay_ms));
      results.opaque(data);
      co_return AcceptStat::kSuccess;
    }
    if (call.procedure == kProcCounter) {
      results.u32(++counter_);
      co_return AcceptStat::kSuccess;
    }
    co_return AcceptStat::kProcUnavail;
  }
  uint32_t counter() const { return counter_; }

 private:
  Env& env_;
  uint32_t counter_ = 0;
};

std::vector<uint8_t> echo_args(uint32_t delay_ms, std::span<const uint8_t> data) {
  XdrEncoder out;
  out.u32(delay_ms);
  out.opaque(data);
  return out.take();
}

struct Harness {
  asio::io_context io;
  AsioEnv asio_env{io, AsioEnvOptions{.log_level = LogLevel::kError, .component = "nfs-test"}};
  Env& env = asio_env.env();
  TestProgram program{env};
  MountProgram mount{std::vector<MountedExport>{}};
  PortmapProgram portmap{std::vector<PortMapping>{{.program = 100003, .version = 3, .port = 2049}}};
  OncRpcServer server;
  Address address;

  explicit Harness(OncRpcServerOptions options = {}) : server(env, options) {
    server.add_program(program);
    server.add_program(portmap);
    auto bound = server.listen(Address{"127.0.0.1", 0});
    REQUIRE(bound.ok());
    address = *bound;
  }

  // Runs `body` as a client while the server serves; stops the server when the body ends.
  void run(std::function<Task<void>(Harness&)> body) {
    testing::run_task(io, drive(std::move(body)));
  }

  Task<RawClient> connect() {
    auto stream = co_await env.network.connect(address, std::chrono::seconds(5));
    REQUIRE(stream.ok());
    co_return RawClient(std::move(stream).value());
  }

 private:
  Task<void> drive(std::function<Task<void>(Harness&)> body) {
    async::TaskGroup serving;
    serving.spawn(env.executor(), server.serve());
    co_await body(*this);
    server.stop();
    co_await serving.join();
  }
};

Task<Reply> call(RawClient& client, uint32_t xid, uint32_t program, uint32_t version,
                 uint32_t procedure, std::span<const uint8_t> args = {}) {
  const auto body = call_body(xid, program, version, procedure, args);
  REQUIRE((co_await client.send(as_record(body))).ok());
  auto reply = co_await client.receive();
  REQUIRE(reply.ok());
  co_return std::move(reply).value();
}

}  // namespace

TEST_CASE("hostdriver/nfs/rpc_server: replies come back as calls finish, matched by xid") {
  Harness harness;
  harness.run([](Harness& h) -> Task<void> {
    RawClient client = co_await h.connect();
    // Three calls at once: the slow one first; its reply must come last.
    // (GCC 12: no initializer lists of non-trivial temporaries inside a coroutine.)
    const std::vector<uint8_t> a(3, 1);
    const std::vector<uint8_t> b(1, 4);
    const std::vector<uint8_t> c(5000, 7);
    std::vector<std::vector<uint8_t>> records;
    records.push_back(as_record(call_body(100, kTestProgram, 3, kProcEcho, echo_args(300, a))));
    records.push_back(as_record(call_body(101, kTestProgram, 3, kProcEcho, echo_args(0, b))));
    records.push_back(as_record(call_body(102, kTestProgram, 3, kProcEcho, echo_args(20, c))));
    for (const auto& record : records) REQUIRE((co_await client.send(record)).ok());
    std::vector<uint32_t> order;
    std::map<uint32_t, std::vector<uint8_t>> data;
    for (int i = 0; i < 3; ++i) {
      auto reply = co_await client.receive();
      REQUIRE(reply.ok());
      CHECK(reply->reply_stat == 0);
      CHECK(reply->accept_stat == 0);
      XdrDecoder results(reply->rest);
      data[reply->xid] = results.opaque(SIZE_MAX);
      order.push_back(reply->xid);
    }
    CHECK(order.back() == 100);
    CHECK(data[100] == a);
    CHECK(data[101] == b);
    CHECK(data[102] == c);
  });
}

TEST_CASE("hostdriver/nfs/rpc_server: a call split into many fragments is reassembled") {
  Harness harness;
  harness.run([](Harness& h) -> Task<void> {
    RawClient client = co_await h.connect();
    std::vector<uint8_t> data(300'000);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + 7);
    const auto body = call_body(9, kTestProgram, 2, kProcEcho, echo_args(0, data));
    REQUIRE((co_await client.send(as_record(body, 17))).ok());
    auto reply = co_await client.receive();
    REQUIRE(reply.ok());
    CHECK(reply->xid == 9);
    XdrDecoder results(reply->rest);
    CHECK(results.opaque(SIZE_MAX) == data);
  });
}

TEST_CASE("hostdriver/nfs/rpc_server: pipelined calls sent in one write are all answered") {
  // A client that pipelines puts many records in one segment: the server's receive buffer then
  // holds several records, a record cut at its end, a fragmented record and a record larger than
  // the buffer (read straight into the record). Every call must be answered with its own data.
  Harness harness;
  harness.run([](Harness& h) -> Task<void> {
    RawClient client = co_await h.connect();
    constexpr uint32_t kCalls = 60;
    std::vector<std::vector<uint8_t>> sent(kCalls);
    std::vector<uint8_t> stream;
    for (uint32_t i = 0; i < kCalls; ++i) {
      // Mostly 4 KiB-ish WRITE-sized calls; every 20th is 300 KB (larger than the buffer) and
      // every 7th is split into fragments.
      const size_t size = i % 20 == 19 ? 300'000 : 4096 + i * 13;
      sent[i].resize(size);
      for (size_t b = 0; b < size; ++b) sent[i][b] = static_cast<uint8_t>(b * 7 + i);
      const auto body = call_body(1000 + i, kTestProgram, 3, kProcEcho, echo_args(0, sent[i]));
      const std::vector<uint8_t> record = as_record(body, i % 7 == 3 ? 5 : 1);
      stream.insert(stream.end(), record.begin(), record.end());
    }
    REQUIRE((co_await client.send(stream)).ok());
    std::map<uint32_t, std::vector<uint8_t>> data;
    for (uint32_t i = 0; i < kCalls; ++i) {
      auto reply = co_await client.receive();
      REQUIRE(reply.ok());
      CHECK(reply->accept_stat == 0);
      XdrDecoder results(reply->rest);
      data[reply->xid] = results.opaque(SIZE_MAX);
    }
    REQUIRE(data.size() == kCalls);
    for (uint32_t i = 0; i < kCalls; ++i) CHECK(data[1000 + i] == sent[i]);
    CHECK(h.server.stats().calls == kCalls);
  });
}

TEST_CASE("hostdriver/nfs/rpc_server: stop() runs no call that was only buffered") {
  // One call may execute per connection; five arrive in one segment, so four wait in the
  // receive buffer. stop() during the first: it finishes and replies, the four never run.
  OncRpcServerOptions options;
  options.inflight_per_connection_max = 1;
  Harness harness(options);
  harness.run([](Harness& h) -> Task<void> {
    RawClient client = co_await h.connect();
    std::vector<uint8_t> stream;
    for (uint32_t i = 0; i < 5; ++i) {
      const std::vector<uint8_t> data(100, static_cast<uint8_t>(i));
      const auto record =
          as_record(call_body(500 + i, kTestProgram, 3, kProcEcho, echo_args(300, data)));
      stream.insert(stream.end(), record.begin(), record.end());
    }
    REQUIRE((co_await client.send(stream)).ok());
    co_await sleep_for(h.env.clock, std::chrono::milliseconds(100));  // the first is executing
    REQUIRE(h.server.stats().calls == 1);
    h.server.stop();
    auto reply = co_await client.receive();
    REQUIRE(reply.ok());
    CHECK(reply->xid == 500);
    CHECK_FALSE((co_await client.receive()).ok());  // closed: nothing more was answered
    CHECK(h.server.stats().calls == 1);
  });
}

TEST_CASE("hostdriver/nfs/rpc_server: wrong program, version, procedure, auth and arguments") {
  Harness harness;
  harness.run([](Harness& h) -> Task<void> {
    RawClient client = co_await h.connect();
    Reply unknown = co_await call(client, 1, 123456, 1, 0);
    CHECK(unknown.reply_stat == 0);
    CHECK(unknown.accept_stat == static_cast<uint32_t>(AcceptStat::kProgUnavail));

    Reply version = co_await call(client, 2, kTestProgram, 7, 0);
    CHECK(version.accept_stat == static_cast<uint32_t>(AcceptStat::kProgMismatch));
    XdrDecoder range(version.rest);
    CHECK(range.u32() == 2);
    CHECK(range.u32() == 3);

    Reply procedure = co_await call(client, 3, kTestProgram, 3, 99);
    CHECK(procedure.accept_stat == static_cast<uint32_t>(AcceptStat::kProcUnavail));

    const std::vector<uint8_t> garbage = {0, 0, 0};
    Reply args = co_await call(client, 4, kTestProgram, 3, kProcEcho, garbage);
    CHECK(args.accept_stat == static_cast<uint32_t>(AcceptStat::kGarbageArgs));

    // RPC version 3: MSG_DENIED, RPC_MISMATCH (2, 2).
    XdrEncoder v3;
    for (uint32_t word : {5u, kMsgCall, 3u, kTestProgram, 3u, 0u, 0u, 0u, 0u, 0u}) v3.u32(word);
    REQUIRE((co_await client.send(as_record(v3.bytes()))).ok());
    auto mismatch = co_await client.receive();
    REQUIRE(mismatch.ok());
    CHECK(mismatch->xid == 5);
    CHECK(mismatch->reply_stat == 1);
    CHECK(mismatch->accept_stat == 0);  // RPC_MISMATCH

    // AUTH_DES (3): AUTH_ERROR / AUTH_TOOWEAK.
    const auto des =
        call_body(6, kTestProgram, 3, 0, {},
                  Credentials{.flavor = 3, .uid = 0, .gid = 0, .gids = {}, .machine = ""});
    REQUIRE((co_await client.send(as_record(des))).ok());
    auto weak = co_await client.receive();
    REQUIRE(weak.ok());
    CHECK(weak->reply_stat == 1);
    CHECK(weak->accept_stat == 1);  // AUTH_ERROR
    XdrDecoder weak_stat(weak->rest);
    CHECK(weak_stat.u32() == static_cast<uint32_t>(AuthStat::kTooWeak));

    // AUTH_SYS with 17 groups: AUTH_BADCRED.
    std::vector<uint32_t> groups(17, 5);
    const auto bad = call_body(
        7, kTestProgram, 3, 0, {},
        Credentials{.flavor = kAuthSys, .uid = 1, .gid = 1, .gids = groups, .machine = "m"});
    REQUIRE((co_await client.send(as_record(bad))).ok());
    auto badcred = co_await client.receive();
    REQUIRE(badcred.ok());
    CHECK(badcred->reply_stat == 1);
    XdrDecoder bad_stat(badcred->rest);
    CHECK(bad_stat.u32() == static_cast<uint32_t>(AuthStat::kBadCred));

    // The connection still works after all of that.
    Reply fine = co_await call(client, 8, kTestProgram, 3, kProcEcho, echo_args(0, garbage));
    CHECK(fine.accept_stat == 0);
    CHECK(h.server.stats().garbage_args == 1);
    CHECK(h.server.stats().auth_errors == 3);
  });
}

TEST_CASE("hostdriver/nfs/rpc_server: a retransmitted non-idempotent call is not executed twice") {
  Harness harness;
  harness.run([](Harness& h) -> Task<void> {
    RawClient first = co_await h.connect();
    Reply once = co_await call(first, 77, kTestProgram, 3, kProcCounter);
    XdrDecoder a(once.rest);
    CHECK(a.u32() == 1);
    first.stream().close();
    // The client reconnects (a new port) and retransmits xid 77: the cached reply comes back.
    RawClient second = co_await h.connect();
    Reply again = co_await call(second, 77, kTestProgram, 3, kProcCounter);
    XdrDecoder b(again.rest);
    CHECK(b.u32() == 1);
    CHECK(h.program.counter() == 1);
    // A new xid executes.
    Reply next = co_await call(second, 78, kTestProgram, 3, kProcCounter);
    XdrDecoder c(next.rest);
    CHECK(c.u32() == 2);
    CHECK(h.server.stats().drc.replays == 1);
  });
}

TEST_CASE(
    "hostdriver/nfs/rpc_server: junk, oversized and stalled records close only their connection") {
  OncRpcServerOptions options;
  options.partial_record_timeout = std::chrono::milliseconds(200);
  Harness harness(options);
  harness.run([](Harness& h) -> Task<void> {
    RawClient good = co_await h.connect();

    // A record that is not a call (msg_type REPLY).
    RawClient junk = co_await h.connect();
    XdrEncoder reply_msg;
    for (uint32_t word : {1u, kMsgReply, 0u, 0u}) reply_msg.u32(word);
    REQUIRE((co_await junk.send(as_record(reply_msg.bytes()))).ok());
    CHECK_FALSE((co_await junk.receive()).ok());  // closed without a reply

    // A fragment header announcing more than the record limit.
    RawClient huge = co_await h.connect();
    const std::vector<uint8_t> mark = {0xFF, 0xFF, 0xFF, 0xFF};
    REQUIRE((co_await huge.send(mark)).ok());
    CHECK_FALSE((co_await huge.receive()).ok());

    // A peer that stops in the middle of a record.
    RawClient stalled = co_await h.connect();
    const std::vector<uint8_t> partial = {0x80, 0, 0, 100, 1, 2, 3};
    REQUIRE((co_await stalled.send(partial)).ok());
    CHECK_FALSE((co_await stalled.receive()).ok());

    // Random bytes.
    RawClient noise = co_await h.connect();
    Prng rng(42);
    std::vector<uint8_t> bytes(4096);
    for (auto& byte : bytes) byte = static_cast<uint8_t>(rng.below(256));
    bytes[0] = 0x80;  // a plausible last-fragment header of 0x00xxxxxx bytes
    bytes[1] = 0;
    REQUIRE((co_await noise.send(bytes)).ok());
    noise.stream().close();

    const std::vector<uint8_t> data = {42};
    Reply fine = co_await call(good, 1, kTestProgram, 3, kProcEcho, echo_args(0, data));
    CHECK(fine.accept_stat == 0);
    CHECK(h.server.stats().connections_closed_for_errors >= 3);
  });
}

TEST_CASE("hostdriver/nfs/rpc_server: the portmapper answers the ports it was given") {
  Harness harness;
  harness.run([](Harness& h) -> Task<void> {
    RawClient client = co_await h.connect();
    XdrEncoder wanted;
    for (uint32_t word : {100003u, 3u, kProtocolTcp, 0u}) wanted.u32(word);
    Reply port = co_await call(client, 1, kPortmapProgram, 2, kPortmapGetPort, wanted.bytes());
    XdrDecoder a(port.rest);
    CHECK(a.u32() == 2049);
    XdrEncoder udp;
    for (uint32_t word : {100003u, 3u, kProtocolUdp, 0u}) udp.u32(word);
    Reply none = co_await call(client, 2, kPortmapProgram, 2, kPortmapGetPort, udp.bytes());
    XdrDecoder b(none.rest);
    CHECK(b.u32() == 0);
    Reply set = co_await call(client, 3, kPortmapProgram, 2, kPortmapSet, wanted.bytes());
    XdrDecoder c(set.rest);
    CHECK(c.u32() == 0);  // refused
    Reply dump = co_await call(client, 4, kPortmapProgram, 2, kPortmapDump);
    XdrDecoder d(dump.rest);
    CHECK(d.boolean());
    CHECK(d.u32() == 100003);
    CHECK(d.u32() == 3);
    CHECK(d.u32() == kProtocolTcp);
    CHECK(d.u32() == 2049);
    CHECK_FALSE(d.boolean());
    CHECK(d.ok());
  });
}

}  // namespace splitarray::hostdriver::nfs
