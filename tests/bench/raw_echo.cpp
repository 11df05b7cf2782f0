#include "tests/bench/raw_echo.h"

#include <array>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <string>
#include <vector>

#include "common/crc32c.h"
#include "common/endian.h"
#include "common/prng.h"

namespace splitarray::bench {
namespace {

using tcp = asio::ip::tcp;
using boost::system::error_code;
using Prefix = std::array<uint8_t, kRawPrefixBytes>;

// Distinct from the RPC payload seeds, so the two runs never share buffers by accident.
constexpr uint64_t kRawPayloadSeedBase = 0x5241570000000000;  // "RAW"

Prefix encode_prefix(size_t size_bytes) {
  ASSERT(size_bytes <= kRawMessageMaxBytes);
  Prefix prefix{};
  put_u32(prefix, 0, static_cast<uint32_t>(size_bytes));
  return prefix;
}

void check(const error_code& ec, std::string_view what) {
  if (ec) fail(std::string(what) + ": " + ec.message());
}

// One server connection: read a message, write it back, until the peer closes. Serving one
// message at a time is the simplest echo; the client's pipelining keeps the socket busy.
Task<void> raw_session(tcp::socket socket) {
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // as AsioStream does; failure only costs latency
  Prefix prefix{};
  std::vector<uint8_t> message;
  for (;;) {
    co_await asio::async_read(socket, asio::buffer(prefix),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::eof) break;  // the client finished its row
    check(ec, "raw server read");
    const uint32_t size_bytes = get_u32(prefix, 0);
    if (size_bytes > kRawMessageMaxBytes) fail("raw server: message over the limit");
    message.resize(size_bytes);  // no-op after the first message of a row
    co_await asio::async_read(socket, asio::buffer(message),
                              asio::redirect_error(asio::use_awaitable, ec));
    check(ec, "raw server read payload");
    const std::array<asio::const_buffer, 2> reply = {asio::buffer(prefix), asio::buffer(message)};
    co_await asio::async_write(socket, reply, asio::redirect_error(asio::use_awaitable, ec));
    check(ec, "raw server write");
  }
}

// One payload per slot (message n uses slot n % depth), each with different bytes, so an echo
// delivered out of order or mixed up fails its CRC check.
struct SlotPayloads {
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<uint32_t> crcs;
};

SlotPayloads make_slot_payloads(size_t size_bytes, size_t depth) {
  SlotPayloads payloads;
  for (size_t slot = 0; slot < depth; ++slot) {
    std::vector<uint8_t> payload(size_bytes);
    Prng(kRawPayloadSeedBase + slot).fill(payload);
    payloads.crcs.push_back(crc32c(payload));
    payloads.bytes.push_back(std::move(payload));
  }
  return payloads;
}

// Client side of one row. The writer sends while fewer than `depth` messages are in flight; the
// reader verifies echoes in order and returns credit.
// Invariants: sent - received == issued_at.size() <= depth;
//             issued_at.size() + slot_free_at.size() == depth.
struct RawPipeline {
  RawPipeline(tcp::socket connected, SlotPayloads slot_payloads, Window row_window)
      : socket(std::move(connected)),
        size_bytes(slot_payloads.bytes.front().size()),
        depth(slot_payloads.bytes.size()),
        payloads(std::move(slot_payloads)),
        window(row_window),
        recorder(window, size_bytes),
        slot_free_at(depth, BenchClock::now()) {}

  tcp::socket socket;
  const size_t size_bytes;
  const size_t depth;
  const SlotPayloads payloads;
  const Window window;
  RowRecorder recorder;
  // When each free slot became free, oldest first: the time an RPC caller would have issued its
  // next call. Latency counts from there, not from the write, so time spent waiting behind
  // earlier writes counts as it does for RPC callers queued in the FrameWriter.
  std::deque<BenchClock::time_point> slot_free_at;
  std::deque<BenchClock::time_point> issued_at;  // in-flight messages, oldest first
  uint64_t sent = 0;
  uint64_t received = 0;
  bool writer_done = false;
  async::Notify credit;  // reader -> writer: a slot is free
  async::Notify more;    // writer -> reader: a message was sent, or the writer finished
};

Task<void> raw_writer(RawPipeline& p) {
  for (;;) {
    while (p.sent - p.received >= p.depth) co_await p.credit.wait();
    if (p.window.over(BenchClock::now())) break;
    const std::vector<uint8_t>& payload = p.payloads.bytes[p.sent % p.depth];
    const Prefix prefix = encode_prefix(payload.size());
    ASSERT(!p.slot_free_at.empty());
    p.issued_at.push_back(p.slot_free_at.front());
    p.slot_free_at.pop_front();
    ++p.sent;
    p.more.notify();
    const std::array<asio::const_buffer, 2> message = {asio::buffer(prefix), asio::buffer(payload)};
    error_code ec;
    co_await asio::async_write(p.socket, message, asio::redirect_error(asio::use_awaitable, ec));
    check(ec, "raw client write");
  }
  p.writer_done = true;
  p.more.notify();
}

// Reads one echo into `buffer` and checks it is the message sent as number `p.received`.
Task<void> read_and_verify(RawPipeline& p, std::vector<uint8_t>& buffer) {
  Prefix prefix{};
  error_code ec;
  co_await asio::async_read(p.socket, asio::buffer(prefix),
                            asio::redirect_error(asio::use_awaitable, ec));
  check(ec, "raw client read");
  if (get_u32(prefix, 0) != p.size_bytes) fail("raw echo: reply length differs from request");
  co_await asio::async_read(p.socket, asio::buffer(buffer),
                            asio::redirect_error(asio::use_awaitable, ec));
  check(ec, "raw client read payload");
  if (crc32c(buffer) != p.payloads.crcs[p.received % p.depth]) {
    fail("raw echo: reply payload CRC differs from the payload sent (message " +
         std::to_string(p.received) + ")");
  }
}

Task<void> raw_reader(RawPipeline& p) {
  std::vector<uint8_t> buffer(p.size_bytes);
  for (;;) {
    while (p.received == p.sent) {
      if (p.writer_done) co_return;
      co_await p.more.wait();
    }
    co_await read_and_verify(p, buffer);
    const auto now = BenchClock::now();
    ASSERT(!p.issued_at.empty());
    p.recorder.record(p.issued_at.front(), now);
    p.issued_at.pop_front();
    p.slot_free_at.push_back(now);
    ++p.received;
    ASSERT(p.received <= p.sent);
    ASSERT(p.issued_at.size() + p.slot_free_at.size() == p.depth);
    p.credit.notify();
  }
}

}  // namespace

RawEchoServer::RawEchoServer(asio::io_context& io) : acceptor_(io) {
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  check(ec, "raw server listen");
  port_ = acceptor_.local_endpoint().port();
  ASSERT(port_ != 0);
}

RawEchoServer::~RawEchoServer() { ASSERT_MSG(sessions_.live() == 0, "serve() not awaited"); }

Task<void> RawEchoServer::serve() {
  for (;;) {
    error_code ec;
    tcp::socket socket =
        co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) break;  // stop()
    check(ec, "raw server accept");
    sessions_.spawn(acceptor_.get_executor(), raw_session(std::move(socket)));
  }
  co_await sessions_.join();
}

void RawEchoServer::stop() {
  error_code ec;
  acceptor_.close(ec);
}

Task<RowResult> run_raw_row(asio::io_context& io, uint16_t port, size_t size_bytes, size_t depth,
                            double seconds_per_row) {
  ASSERT(depth > 0);
  ASSERT(size_bytes > 0 && size_bytes <= kRawMessageMaxBytes);
  SlotPayloads payloads = make_slot_payloads(size_bytes, depth);
  error_code ec;
  tcp::socket socket(io);
  co_await socket.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                                asio::redirect_error(asio::use_awaitable, ec));
  check(ec, "raw client connect");
  socket.set_option(tcp::no_delay(true), ec);

  // The window starts once connected and the payloads are ready.
  RawPipeline p(std::move(socket), std::move(payloads), make_window(seconds_per_row));
  async::TaskGroup tasks;
  tasks.spawn(io.get_executor(), raw_writer(p));
  tasks.spawn(io.get_executor(), raw_reader(p));
  co_await tasks.join();
  ASSERT(p.received == p.sent);
  p.socket.shutdown(tcp::socket::shutdown_both, ec);
  p.socket.close(ec);
  co_return p.recorder.result();
}

}  // namespace splitarray::bench
