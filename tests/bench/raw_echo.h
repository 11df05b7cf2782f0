// tests/bench/raw_echo.h
// The baseline of the protocol benchmark: plain Boost.Asio TCP over loopback, each message a
// 4-byte little-endian length then the payload, echoed back by the server. No framing, CRC,
// capnp, request ids or timers, so rpc/raw shows what the protocol layer costs on top of the
// transport with the same thread layout (one event-loop thread each side, coroutines).
//
// Depth: the client keeps up to `depth` messages in flight on one connection (a writer coroutine
// and a reader coroutine; the server echoes in order), so qd32 is pipelining, like 32 concurrent
// RPC callers sharing one connection.
#pragma once

#include <utility>  // before Asio (Boost 1.74 + GCC 12, see common/asio.h)

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>

#include "common/async/task_group.h"
#include "tests/bench/bench_report.h"

namespace splitarray::bench {

// A message longer than this is a broken client: the server drops the connection.
inline constexpr uint32_t kRawMessageMaxBytes = 4 * 1024 * 1024;
inline constexpr size_t kRawPrefixBytes = 4;

class RawEchoServer final {
 public:
  // Binds 127.0.0.1 on a free port.
  explicit RawEchoServer(asio::io_context& io);
  ~RawEchoServer();
  RawEchoServer(const RawEchoServer&) = delete;
  RawEchoServer& operator=(const RawEchoServer&) = delete;

  uint16_t port() const { return port_; }
  // Accepts until stop(); returns once every session has ended (each ends when its peer closes).
  Task<void> serve();
  void stop();

 private:
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  async::TaskGroup sessions_;
};

// Runs one row on `io` (the calling coroutine's event loop): connects to 127.0.0.1:port, keeps
// `depth` messages of `size_bytes` in flight until the window ends, verifies every echo (length and
// CRC32C against what was sent), and closes. Any failure is fatal (see fail()).
Task<RowResult> run_raw_row(asio::io_context& io, uint16_t port, size_t size_bytes, size_t depth,
                            double seconds_per_row);

}  // namespace splitarray::bench
