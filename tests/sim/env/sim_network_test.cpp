// Tests of the simulated network (sim/env/sim_network): streams deliver every byte in order
// whatever the segments suffer, time follows the link model, and partitions, resets, closes,
// flow control and crashes surface as the errors Env's Stream contract promises. Randomized tests
// take SPLITARRAY_SEED (printed).
#include <doctest/doctest.h>

#include <array>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/async/task_group.h"
#include "tests/sim/env/sim_bed.h"

namespace splitarray::sim {
namespace {

using namespace testing;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

Address server_address() { return Address{"10.0.0.2", 7000}; }

std::vector<uint8_t> pattern(uint64_t seed, size_t size) {
  std::vector<uint8_t> bytes(size);
  Prng rng(seed);
  rng.fill(bytes);
  return bytes;
}

using Bed = testing::SimBed;

// ---------------------------------------------------------------------------------------------
// A one-way transfer of messages whose contents both ends derive from a seed.

struct Transfer {
  uint64_t content_seed = 0;
  std::vector<size_t> sizes;
  Duration pause_before_send = Duration::zero();
  // Outcomes.
  Result<void> listened = not_run();
  Result<void> connected = not_run();
  Result<void> sent = not_run();
  Result<void> received = not_run();    // the first failed read, or ok
  Result<void> after_last = not_run();  // the read after the last message
  size_t messages_intact = 0;
  size_t first_bad_message = std::numeric_limits<size_t>::max();
  TimePoint connected_at{};
  TimePoint sent_all_at{};
  TimePoint received_all_at{};
};

Task<void> receive_messages(Env& env, Transfer& t) {
  Result<std::unique_ptr<Listener>> listener = env.network.listen(server_address());
  t.listened = status(listener);
  if (!listener.ok()) co_return;
  Result<std::unique_ptr<Stream>> stream = co_await (*listener)->accept();
  if (!stream.ok()) co_return;
  for (size_t m = 0; m < t.sizes.size(); ++m) {
    std::vector<uint8_t> got(t.sizes[m]);
    Result<void> read = co_await (*stream)->read_exact(got);
    if (!read.ok()) {
      t.received = read;
      co_return;
    }
    if (got != pattern(t.content_seed + m, got.size())) {
      t.first_bad_message = m;
      co_return;
    }
    ++t.messages_intact;
  }
  t.received = ok_result();
  t.received_all_at = env.clock.now();
  std::array<uint8_t, 1> extra{};
  Result<size_t> more = co_await (*stream)->read_some(extra);
  t.after_last = status(more);
}

Task<void> send_messages(Env& env, Transfer& t) {
  const Address server = server_address();
  Result<std::unique_ptr<Stream>> stream = co_await env.network.connect(server, seconds(30));
  t.connected = status(stream);
  if (!stream.ok()) co_return;
  t.connected_at = env.clock.now();
  co_await sleep_for(env.clock, t.pause_before_send);
  for (size_t m = 0; m < t.sizes.size(); ++m) {
    const std::vector<uint8_t> bytes = pattern(t.content_seed + m, t.sizes[m]);
    // write_all takes several buffers: cut each message in two at a random point.
    const size_t cut = env.rng.below(bytes.size() + 1);
    const std::span<const uint8_t> all(bytes);
    const std::array<std::span<const uint8_t>, 2> buffers{all.first(cut), all.subspan(cut)};
    Result<void> sent = co_await (*stream)->write_all(buffers);
    if (!sent.ok()) {
      t.sent = sent;
      co_return;
    }
  }
  t.sent = ok_result();
  t.sent_all_at = env.clock.now();
  (*stream)->close();
}

TEST_CASE("sim/network: bytes arrive intact and in order under heavy drop/reorder/dup/delay") {
  const uint64_t seed = seed_from_env();
  for (uint64_t run = 0; run < 3; ++run) {
    const uint64_t run_seed = seed + run;
    MESSAGE("seed " << run_seed << " (set SPLITARRAY_SEED to replay)");
    Transfer t;
    Bed bed(run_seed);
    bed.plan.at(FaultSite::kNetDrop) = 0.3;
    bed.plan.at(FaultSite::kNetReorder) = 0.5;
    bed.plan.at(FaultSite::kNetDuplicate) = 0.3;
    bed.plan.at(FaultSite::kNetDelay) = 0.2;
    Prng rng(run_seed);
    t.content_seed = rng.next_u64();
    for (int m = 0; m < 10; ++m) {
      const bool small = rng.chance(0.3);
      t.sizes.push_back(1 + rng.below(small ? 100 : 6 * kMiB));
    }
    SimProcess& server = bed.add("server", "10.0.0.2");
    SimProcess& client = bed.add("client", "10.0.0.1");
    server.spawn(receive_messages(server.env(), t));
    client.spawn(send_messages(client.env(), t));
    REQUIRE(bed.run(minutes(10)));

    CHECK(outcome(t.connected) == "ok");
    CHECK(outcome(t.sent) == "ok");
    CHECK(outcome(t.received) == "ok");
    CHECK(t.first_bad_message == std::numeric_limits<size_t>::max());
    CHECK(t.messages_intact == t.sizes.size());
    CHECK(outcome(t.after_last) == "unavailable");  // the sender closed after its last byte
    uint64_t total_bytes = 0;
    for (size_t size : t.sizes) total_bytes += size;
    MESSAGE(total_bytes << " bytes in " << to_seconds(t.received_all_at - t.connected_at)
                        << " s simulated; faults: " << bed.plan.fired_summary());
    CHECK(bed.plan.fired_count(FaultSite::kNetDrop) > 0);
    CHECK(bed.plan.fired_count(FaultSite::kNetReorder) > 0);
    CHECK(bed.plan.fired_count(FaultSite::kNetDuplicate) > 0);
    CHECK(bed.plan.fired_count(FaultSite::kNetDelay) > 0);
  }
}

TEST_CASE("sim/network: transfer time is the handshake, then latency + size / bandwidth") {
  Transfer t;
  const LinkModel link{.latency = milliseconds(10), .bytes_per_second = 100'000'000};
  Bed bed(11, link);
  t.sizes = {8 * kMiB};
  SimProcess& server = bed.add("server", "10.0.0.2");
  SimProcess& client = bed.add("client", "10.0.0.1");
  server.spawn(receive_messages(server.env(), t));
  client.spawn(send_messages(client.env(), t));
  REQUIRE(bed.run(minutes(1)));
  REQUIRE(t.messages_intact == 1);

  // SYN one way, SYN-ACK back.
  CHECK(t.connected_at == at(2 * link.latency));
  // 8 MiB at 100 MB/s: 83.88608 ms on the wire; the window (4 MiB) never stalls this link.
  const Duration serialisation = Duration(8 * kMiB * 1'000'000'000 / link.bytes_per_second);
  CHECK(t.sent_all_at - t.connected_at == serialisation);
  CHECK(t.received_all_at - t.connected_at == serialisation + link.latency);
}

// ---------------------------------------------------------------------------------------------
// Connection setup: refusals, partitions, listeners.

struct ConnectOutcome {
  Result<void> result = not_run();
  TimePoint done_at{};
};

// Connects and, on success, closes at once.
Task<void> connect_once(Env& env, Address address, Duration timeout, ConnectOutcome& out) {
  Result<std::unique_ptr<Stream>> stream = co_await env.network.connect(address, timeout);
  out.result = status(stream);
  out.done_at = env.clock.now();
}

// Accepts one connection and reads until the stream fails; records that failure.
Task<void> accept_and_drain(Env& env, Result<void>& accepted, Result<void>& drained) {
  Result<std::unique_ptr<Listener>> listener = env.network.listen(server_address());
  if (!listener.ok()) {
    accepted = listener.error();
    co_return;
  }
  Result<std::unique_ptr<Stream>> stream = co_await (*listener)->accept();
  accepted = status(stream);
  if (!stream.ok()) co_return;
  std::vector<uint8_t> buffer(64 * 1024);
  for (;;) {
    Result<size_t> n = co_await (*stream)->read_some(buffer);
    if (!n.ok()) {
      drained = status(n);
      co_return;
    }
  }
}

TEST_CASE("sim/network: connecting where nobody listens is refused after a round trip") {
  ConnectOutcome refused;
  ConnectOutcome wrong_port;
  Result<void> accepted = not_run();
  Result<void> drained = not_run();
  Bed bed(12);
  SimProcess& server = bed.add("server", "10.0.0.2");
  SimProcess& client = bed.add("client", "10.0.0.1");
  client.spawn(connect_once(client.env(), Address{"10.0.0.3", 7000}, seconds(5), refused));
  REQUIRE(bed.run(seconds(10)));
  CHECK(outcome(refused.result) == "unavailable");
  CHECK(refused.done_at == at(2 * LinkModel{}.latency));

  server.spawn(accept_and_drain(server.env(), accepted, drained));
  client.spawn(connect_once(client.env(), Address{"10.0.0.2", 7001}, seconds(5), wrong_port));
  REQUIRE(bed.run_until_finished(client, seconds(10)));
  CHECK(outcome(wrong_port.result) == "unavailable");
  CHECK_FALSE(server.finished());  // still accepting: the refused attempt never reached it
}

TEST_CASE("sim/network: a connect across a partition times out, after heal it succeeds") {
  ConnectOutcome during;
  ConnectOutcome after;
  Result<void> accepted = not_run();
  Result<void> drained = not_run();
  Bed bed(13);
  SimProcess& server = bed.add("server", "10.0.0.2");
  SimProcess& client = bed.add("client", "10.0.0.1");
  bed.fabric.partition("10.0.0.2", "10.0.0.1");
  CHECK(bed.fabric.partitioned("10.0.0.1", "10.0.0.2"));
  CHECK_FALSE(bed.fabric.partitioned("10.0.0.1", "10.0.0.3"));
  server.spawn(accept_and_drain(server.env(), accepted, drained));
  client.spawn(connect_once(client.env(), server_address(), seconds(2), during));
  REQUIRE(bed.run_until_finished(client, seconds(10)));
  CHECK(outcome(during.result) == "timeout");
  CHECK(during.done_at == at(seconds(2)));  // exactly at its deadline

  bed.fabric.heal("10.0.0.1", "10.0.0.2");
  CHECK(bed.fabric.partitions() == 0);
  client.spawn(connect_once(client.env(), server_address(), seconds(2), after));
  REQUIRE(bed.run(seconds(10)));
  CHECK(outcome(after.result) == "ok");
  CHECK(after.done_at - during.done_at == 2 * LinkModel{}.latency);
  CHECK(outcome(accepted) == "ok");
  CHECK(outcome(drained) == "unavailable");  // the client closed
}

TEST_CASE("sim/network: data sent during a partition is held and arrives after heal") {
  Transfer t;
  Bed bed(14);
  t.sizes = {kMiB, 3};
  t.content_seed = 99;
  t.pause_before_send = seconds(1);
  SimProcess& server = bed.add("server", "10.0.0.2");
  SimProcess& client = bed.add("client", "10.0.0.1");
  bed.world.schedule(at(milliseconds(500)), kWorldProcess, EventKind::kHarness,
                     [&bed] { bed.fabric.partition("10.0.0.1", "10.0.0.2"); });
  bed.world.schedule(at(seconds(5)), kWorldProcess, EventKind::kHarness,
                     [&bed] { bed.fabric.heal_all(); });
  server.spawn(receive_messages(server.env(), t));
  client.spawn(send_messages(client.env(), t));
  REQUIRE(bed.run(minutes(1)));

  CHECK(outcome(t.sent) == "ok");
  CHECK(t.sent_all_at < at(seconds(2)));  // on the wire, not delivered: the writer did not wait
  CHECK(t.messages_intact == 2);
  CHECK(t.received_all_at >= at(seconds(5)));
  CHECK(t.received_all_at <= at(seconds(5)) + LinkModel{}.retransmit_timeout);
  CHECK(outcome(t.after_last) == "unavailable");
}

TEST_CASE("sim/network: listen refuses a port in use and leaves the first listener bound") {
  ConnectOutcome reached;
  Bed bed(15);
  SimProcess& server = bed.add("server", "10.0.0.2");
  SimProcess& client = bed.add("client", "10.0.0.1");
  Result<std::unique_ptr<Listener>> first = server.env().network.listen(server_address());
  REQUIRE(first.ok());
  CHECK((*first)->local_address() == server_address());
  Result<std::unique_ptr<Listener>> second = server.env().network.listen(server_address());
  CHECK(outcome(second) == "unavailable");
  Result<std::unique_ptr<Listener>> other_host =
      server.env().network.listen(Address{"10.0.0.9", 7000});
  CHECK(outcome(other_host) == "unavailable");
  Result<std::unique_ptr<Listener>> any_port = server.env().network.listen(Address{"0.0.0.0", 0});
  REQUIRE(any_port.ok());
  CHECK((*any_port)->local_address().host == "10.0.0.2");
  CHECK((*any_port)->local_address().port != 0);
  CHECK((*any_port)->local_address().port != 7000);

  client.spawn(connect_once(client.env(), server_address(), seconds(1), reached));
  REQUIRE(bed.run_until_finished(client, seconds(5)));
  CHECK(outcome(reached.result) == "ok");
}

// ---------------------------------------------------------------------------------------------
// Resets and closes.

TEST_CASE("sim/network: kNetReset resets the connection: both ends get kUnavailable") {
  Transfer t;
  Bed bed(16);
  bed.plan.at(FaultSite::kNetReset) = 1.0;
  t.sizes = {kMiB};
  SimProcess& server = bed.add("server", "10.0.0.2");
  SimProcess& client = bed.add("client", "10.0.0.1");
  server.spawn(receive_messages(server.env(), t));
  client.spawn(send_messages(client.env(), t));
  REQUIRE(bed.run(minutes(1)));
  CHECK(outcome(t.connected) == "ok");
  CHECK(outcome(t.sent) == "unavailable");
  CHECK(outcome(t.received) == "unavailable");
  CHECK(t.messages_intact == 0);
  CHECK(bed.plan.fired_count(FaultSite::kNetReset) >= 1);
}

TEST_CASE("sim/network: after a peer close the reader gets all data, then kUnavailable") {
  Transfer t;
  Bed bed(17);
  t.sizes = {3 * kMiB + 17, 1, 5 * kMiB};
  t.content_seed = 7;
  SimProcess& server = bed.add("server", "10.0.0.2");
  SimProcess& client = bed.add("client", "10.0.0.1");
  server.spawn(receive_messages(server.env(), t));
  client.spawn(send_messages(client.env(), t));
  REQUIRE(bed.run(minutes(1)));
  CHECK(outcome(t.sent) == "ok");
  CHECK(outcome(t.received) == "ok");
  CHECK(t.messages_intact == 3);
  CHECK(outcome(t.after_last) == "unavailable");
  CHECK(t.received_all_at >= t.sent_all_at);
}

struct LocalClose {
  Result<void> pending_read = not_run();
  TimePoint pending_read_done_at{};
  Result<void> read_after_close = not_run();
  Result<void> write_after_close = not_run();
  Result<void> peer_read = not_run();
};

Task<void> read_one(Env& env, Stream& stream, Result<void>& out, TimePoint& done_at) {
  std::array<uint8_t, 16> buffer{};
  Result<size_t> n = co_await stream.read_some(buffer);
  out = status(n);
  done_at = env.clock.now();
}

Task<void> accept_then_close_locally(Env& env, LocalClose& out) {
  Result<std::unique_ptr<Listener>> listener = env.network.listen(server_address());
  if (!listener.ok()) co_return;
  Result<std::unique_ptr<Stream>> accepted = co_await (*listener)->accept();
  if (!accepted.ok()) co_return;
  Stream& stream = **accepted;
  async::TaskGroup readers;
  readers.spawn(env.executor(), read_one(env, stream, out.pending_read, out.pending_read_done_at));
  co_await sleep_for(env.clock, seconds(1));
  stream.close();
  co_await readers.join();
  TimePoint ignored{};
  co_await read_one(env, stream, out.read_after_close, ignored);
  const std::array<uint8_t, 1> one{1};
  const std::array<std::span<const uint8_t>, 1> buffers{std::span<const uint8_t>(one)};
  out.write_after_close = co_await stream.write_all(buffers);
}

Task<void> connect_and_read(Env& env, Result<void>& out) {
  const Address server = server_address();
  Result<std::unique_ptr<Stream>> stream = co_await env.network.connect(server, seconds(5));
  if (!stream.ok()) {
    out = stream.error();
    co_return;
  }
  TimePoint ignored{};
  co_await read_one(env, **stream, out, ignored);
}

TEST_CASE("sim/network: a local close completes a pending read with kCancelled") {
  LocalClose out;
  Bed bed(18);
  SimProcess& server = bed.add("server", "10.0.0.2");
  SimProcess& client = bed.add("client", "10.0.0.1");
  server.spawn(accept_then_close_locally(server.env(), out));
  client.spawn(connect_and_read(client.env(), out.peer_read));
  REQUIRE(bed.run(minutes(1)));
  CHECK(outcome(out.pending_read) == "cancelled");
  CHECK(out.pending_read_done_at == at(seconds(1)) + LinkModel{}.latency);  // accepted at latency
  CHECK(outcome(out.read_after_close) == "cancelled");
  CHECK(outcome(out.write_after_close) == "cancelled");
  CHECK(outcome(out.peer_read) == "unavailable");  // the FIN reached the peer
}

// ---------------------------------------------------------------------------------------------
// Flow control.

struct Window {
  size_t chunk_bytes = 64 * 1024;
  size_t chunks = 256;  // 16 MiB: four windows
  size_t written_bytes = 0;
  size_t read_bytes = 0;
  bool intact = true;
  Result<void> sent = not_run();
  Result<void> received = not_run();
};

Task<void> write_chunks(Env& env, Window& w) {
  const Address server = server_address();
  Result<std::unique_ptr<Stream>> stream = co_await env.network.connect(server, seconds(5));
  w.sent = status(stream);
  if (!stream.ok()) co_return;
  for (size_t i = 0; i < w.chunks; ++i) {
    const std::vector<uint8_t> bytes = pattern(i, w.chunk_bytes);
    const std::array<std::span<const uint8_t>, 1> buffers{std::span<const uint8_t>(bytes)};
    w.sent = co_await (*stream)->write_all(buffers);
    if (!w.sent.ok()) co_return;
    w.written_bytes += bytes.size();
  }
}

Task<void> read_chunks_late(Env& env, Window& w, Duration start_reading_after) {
  Result<std::unique_ptr<Listener>> listener = env.network.listen(server_address());
  if (!listener.ok()) co_return;
  Result<std::unique_ptr<Stream>> stream = co_await (*listener)->accept();
  w.received = status(stream);
  if (!stream.ok()) co_return;
  co_await sleep_for(env.clock, start_reading_after);
  for (size_t i = 0; i < w.chunks; ++i) {
    std::vector<uint8_t> got(w.chunk_bytes);
    w.received = co_await (*stream)->read_exact(got);
    if (!w.received.ok()) co_return;
    if (got != pattern(i, got.size())) w.intact = false;
    w.read_bytes += got.size();
  }
}

TEST_CASE("sim/network: a writer to a non-reading peer stops at the window, resumes on reads") {
  Window w;
  Bed bed(19);
  SimProcess& server = bed.add("server", "10.0.0.2");
  SimProcess& client = bed.add("client", "10.0.0.1");
  server.spawn(read_chunks_late(server.env(), w, seconds(10)));
  client.spawn(write_chunks(client.env(), w));

  bed.world.run_for(seconds(5));
  const size_t written_at_5s = w.written_bytes;
  CHECK(written_at_5s <= kSimWindowBytes);
  CHECK(written_at_5s + w.chunk_bytes >= kSimWindowBytes);
  CHECK(w.read_bytes == 0);
  bed.world.run_for(seconds(4));
  CHECK(w.written_bytes == written_at_5s);  // still blocked, not creeping forward

  REQUIRE(bed.run(minutes(1)));
  CHECK(outcome(w.sent) == "ok");
  CHECK(outcome(w.received) == "ok");
  CHECK(w.written_bytes == w.chunks * w.chunk_bytes);
  CHECK(w.read_bytes == w.chunks * w.chunk_bytes);
  CHECK(w.intact);
}

// ---------------------------------------------------------------------------------------------
// Crashes.

struct Crash {
  Result<void> session_read = not_run();
  Result<void> accept_after_kill = not_run();
  Result<void> client_read = not_run();
  TimePoint client_read_done_at{};
  Result<void> client_write_after = not_run();
};

Task<void> session(Env& env, std::unique_ptr<Stream> stream, Crash& out) {
  std::vector<uint8_t> got(1024);
  Result<void> first = co_await stream->read_exact(got);
  if (!first.ok()) co_return;
  TimePoint ignored{};
  co_await read_one(env, *stream, out.session_read, ignored);
}

Task<void> serve_sessions(Env& env, Crash& out) {
  Result<std::unique_ptr<Listener>> listener = env.network.listen(server_address());
  if (!listener.ok()) co_return;
  async::TaskGroup sessions;
  for (;;) {
    Result<std::unique_ptr<Stream>> stream = co_await (*listener)->accept();
    if (!stream.ok()) {
      out.accept_after_kill = status(stream);
      break;
    }
    sessions.spawn(env.executor(), session(env, std::move(*stream), out));
  }
  co_await sessions.join();
}

Task<void> write_then_wait_for_reply(Env& env, Crash& out) {
  const Address server = server_address();
  Result<std::unique_ptr<Stream>> stream = co_await env.network.connect(server, seconds(5));
  if (!stream.ok()) co_return;
  const std::vector<uint8_t> request(1024, 0x5A);
  const std::array<std::span<const uint8_t>, 1> buffers{std::span<const uint8_t>(request)};
  if (!(co_await (*stream)->write_all(buffers)).ok()) co_return;
  co_await read_one(env, **stream, out.client_read, out.client_read_done_at);
  out.client_write_after = co_await (*stream)->write_all(buffers);
}

// Echoes one 1 KiB request.
Task<void> echo_once(Env& env, Result<void>& listened) {
  Result<std::unique_ptr<Listener>> listener = env.network.listen(server_address());
  listened = status(listener);
  if (!listener.ok()) co_return;
  Result<std::unique_ptr<Stream>> stream = co_await (*listener)->accept();
  if (!stream.ok()) co_return;
  std::vector<uint8_t> got(1024);
  if (!(co_await (*stream)->read_exact(got)).ok()) co_return;
  const std::array<std::span<const uint8_t>, 1> buffers{std::span<const uint8_t>(got)};
  ignore_result(co_await (*stream)->write_all(buffers), "the client checks what it receives");
}

Task<void> request_echo(Env& env, bool& echoed) {
  const Address server = server_address();
  Result<std::unique_ptr<Stream>> stream = co_await env.network.connect(server, seconds(5));
  if (!stream.ok()) co_return;
  const std::vector<uint8_t> request = pattern(5, 1024);
  const std::array<std::span<const uint8_t>, 1> buffers{std::span<const uint8_t>(request)};
  if (!(co_await (*stream)->write_all(buffers)).ok()) co_return;
  std::vector<uint8_t> reply(1024);
  if (!(co_await (*stream)->read_exact(reply)).ok()) co_return;
  echoed = reply == request;
}

TEST_CASE("sim/network: kill() resets the peers' connections and frees the port for a restart") {
  Crash out;
  Result<void> relistened = not_run();
  bool echoed = false;
  Bed bed(20);
  SimProcess& server = bed.add("server", "10.0.0.2");
  SimProcess& client = bed.add("client", "10.0.0.1");
  server.spawn(serve_sessions(server.env(), out));
  client.spawn(write_then_wait_for_reply(client.env(), out));
  bed.world.run_for(seconds(1));
  CHECK_FALSE(client.finished());  // waiting for a reply that never comes

  server.kill();
  CHECK(server.killed());
  REQUIRE(bed.run(seconds(10)));
  CHECK(outcome(out.client_read) == "unavailable");
  CHECK(out.client_read_done_at == at(seconds(1)));  // a reset is seen at once, like an RST
  CHECK(outcome(out.client_write_after) == "unavailable");
  CHECK(outcome(out.session_read) == "unavailable");
  CHECK(outcome(out.accept_after_kill) == "cancelled");
  Result<std::unique_ptr<Listener>> after_death =
      server.env().network.listen(Address{"10.0.0.2", 0});
  CHECK(outcome(after_death) == "cancelled");  // the process is gone: nothing to retry

  bed.remove(server);
  SimProcess& restarted = bed.add("server#2", "10.0.0.2");
  restarted.spawn(echo_once(restarted.env(), relistened));
  client.spawn(request_echo(client.env(), echoed));
  REQUIRE(bed.run(seconds(10)));
  CHECK(outcome(relistened) == "ok");
  CHECK(echoed);
}

}  // namespace
}  // namespace splitarray::sim
