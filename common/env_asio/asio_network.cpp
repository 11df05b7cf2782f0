#include "common/env_asio/asio_network.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <vector>

#include "common/async/compute.h"
#include "common/env_asio/socket_send.h"
#include "common/env_asio/thread_pool_compute.h"

namespace splitarray {
namespace {

using tcp = asio::ip::tcp;
using boost::system::error_code;

// The listen backlog: how many completed connections the kernel queues before accept().
constexpr int kListenBacklog = 128;

Error from_asio(const error_code& ec, std::string_view what) {
  namespace errc = boost::asio::error;
  Code code = Code::kUnavailable;
  if (ec == errc::operation_aborted) code = Code::kCancelled;
  if (ec == errc::timed_out) code = Code::kTimeout;
  return make_error(code, std::string(what) + ": " + ec.message());
}

Result<tcp::endpoint> to_endpoint(const Address& address) {
  const std::string host = address.host == "localhost" ? "127.0.0.1" : address.host;
  error_code ec;
  const auto ip = asio::ip::make_address(host, ec);
  if (ec) return make_error(Code::kInvalidArgument, "not an IP address: " + address.host);
  return tcp::endpoint(ip, address.port);
}

Address to_address(const tcp::endpoint& endpoint) {
  return Address{endpoint.address().to_string(), endpoint.port()};
}

size_t total_bytes(std::span<const std::span<const uint8_t>> buffers) {
  size_t total = 0;
  for (const auto& b : buffers) total += b.size();
  return total;
}

class AsioStream final : public Stream {
 public:
  AsioStream(tcp::socket socket, ThreadPoolCompute* bulk_send)
      : socket_(std::move(socket)), bulk_send_(bulk_send) {
    error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);  // best effort; failure only costs latency
    const auto peer = socket_.remote_endpoint(ec);
    if (!ec) peer_ = to_address(peer);
  }
  ~AsioStream() override { close(); }

  Task<Result<size_t>> read_some(std::span<uint8_t> out) override {
    ASSERT(!out.empty());
    if (read_shut_) co_return make_error(Code::kUnavailable, "read side shut down");
    error_code ec;
    const size_t n = co_await socket_.async_read_some(
        asio::buffer(out.data(), out.size()), asio::redirect_error(asio::use_awaitable, ec));
    if (read_shut_) co_return make_error(Code::kUnavailable, "read side shut down");
    if (ec == asio::error::eof) co_return make_error(Code::kUnavailable, "peer closed");
    if (ec) co_return from_asio(ec, "read");
    ASSERT(n > 0);
    co_return n;
  }

  Task<Result<void>> read_exact(std::span<uint8_t> out) override {
    if (read_shut_) co_return make_error(Code::kUnavailable, "read side shut down");
    error_code ec;
    co_await asio::async_read(socket_, asio::buffer(out.data(), out.size()),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (read_shut_) co_return make_error(Code::kUnavailable, "read side shut down");
    if (ec == asio::error::eof) co_return make_error(Code::kUnavailable, "peer closed");
    if (ec) co_return from_asio(ec, "read");
    co_return ok_result();
  }

  Task<Result<void>> write_all(std::span<const std::span<const uint8_t>> buffers) override {
    ASSERT_MSG(!writing_, "concurrent write_all on one stream");  // invariant (1)
    writing_ = true;
    const size_t total = total_bytes(buffers);
    Result<void> written = ok_result();
    if (bulk_send_ != nullptr && total >= kBulkSendBytesMin) {
      written = co_await write_bulk(buffers, total);
    } else {
      written = co_await write_on_loop(buffers, 0);
    }
    writing_ = false;
    co_return written;
  }

  void shutdown_read() override {
    read_shut_ = true;
    error_code ec;
    // Linux wakes a pending receive with end-of-file; the socket can still send.
    socket_.shutdown(tcp::socket::shutdown_receive, ec);
  }

  void close() override {
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);  // fails a bulk step's send, too
    if (bulk_step_running_) {
      // Invariant (4): the descriptor closes once the step has given its copy back.
      close_deferred_ = true;
      socket_.cancel(ec);
      return;
    }
    socket_.close(ec);
  }

  Address peer_address() const override { return peer_; }

 private:
  // The bytes of `buffers` from `skip` on, sent by asio on the event loop.
  Task<Result<void>> write_on_loop(std::span<const std::span<const uint8_t>> buffers, size_t skip) {
    std::vector<asio::const_buffer> list;
    list.reserve(buffers.size());
    for (const auto& b : buffers) {
      const size_t from = std::min(skip, b.size());
      skip -= from;
      if (b.size() > from) list.emplace_back(b.data() + from, b.size() - from);
    }
    error_code ec;
    co_await asio::async_write(socket_, list, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return from_asio(ec, "write");
    co_return ok_result();
  }

  // Invariants (2) to (4) of asio_network.h.
  Task<Result<void>> write_bulk(std::span<const std::span<const uint8_t>> buffers, size_t total) {
    ASSERT(bulk_send_ != nullptr);
    ASSERT(total >= kBulkSendBytesMin);
    size_t sent = 0;
    while (sent < total) {
      if (!socket_.is_open()) co_return make_error(Code::kCancelled, "write: stream closed");
      const int fd = ::fcntl(socket_.native_handle(), F_DUPFD_CLOEXEC, 0);
      if (fd < 0) co_return co_await write_on_loop(buffers, sent);  // out of descriptors
      auto work = [fd, buffers, sent]() -> Result<size_t> {
        Result<size_t> step = send_available(fd, buffers, sent);
        ::close(fd);
        return step;
      };
      bulk_step_running_ = true;
      Result<size_t> step = co_await async::run_compute(*bulk_send_, std::move(work));
      bulk_step_running_ = false;
      if (close_deferred_) {
        close_deferred_ = false;
        error_code ignored;
        socket_.close(ignored);
        co_return make_error(Code::kCancelled, "write: stream closed");  // as for a read
      }
      if (!step.ok()) co_return step.error();
      ASSERT(*step <= total - sent);
      sent += *step;
      if (sent == total) break;
      error_code ec;  // the send buffer is full: wait for room without holding a thread
      co_await socket_.async_wait(tcp::socket::wait_write,
                                  asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return from_asio(ec, "write");
    }
    co_return ok_result();
  }

  tcp::socket socket_;
  ThreadPoolCompute* bulk_send_;  // nullptr: every write on the loop
  Address peer_;
  bool writing_ = false;
  bool read_shut_ = false;
  bool bulk_step_running_ = false;  // a bulk-send thread holds a dup of the descriptor
  bool close_deferred_ = false;     // close() ran meanwhile: close once the step is back
};

class AsioListener final : public Listener {
 public:
  AsioListener(tcp::acceptor acceptor, ThreadPoolCompute* bulk_send)
      : acceptor_(std::move(acceptor)), bulk_send_(bulk_send) {
    error_code ec;
    const auto local = acceptor_.local_endpoint(ec);
    if (!ec) local_ = to_address(local);
  }
  ~AsioListener() override { close(); }

  Task<Result<std::unique_ptr<Stream>>> accept() override {
    for (;;) {
      error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) {
        co_return std::unique_ptr<Stream>(
            std::make_unique<AsioStream>(std::move(socket), bulk_send_));
      }
      // A connection that died between SYN and accept is the peer's problem, not ours.
      if (ec == asio::error::connection_aborted) continue;
      co_return from_asio(ec, "accept");
    }
  }

  Address local_address() const override { return local_; }

  void close() override {
    error_code ec;
    acceptor_.close(ec);
  }

 private:
  tcp::acceptor acceptor_;
  ThreadPoolCompute* bulk_send_;
  Address local_;
};

}  // namespace

Result<std::unique_ptr<Listener>> AsioNetwork::listen(const Address& address) {
  ASSIGN_OR_RETURN(const tcp::endpoint endpoint, to_endpoint(address));
  tcp::acceptor acceptor(io_);
  error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(kListenBacklog, ec);
  if (ec)
    return make_error(Code::kUnavailable, "listen on " + address.to_string() + ": " + ec.message());
  return std::unique_ptr<Listener>(std::make_unique<AsioListener>(std::move(acceptor), bulk_send_));
}

Task<Result<std::unique_ptr<Stream>>> AsioNetwork::connect(const Address& address,
                                                           Duration timeout) {
  CO_ASSIGN_OR_RETURN(const tcp::endpoint endpoint, to_endpoint(address));
  // Shared with the timeout handler, which may run after this frame is gone.
  struct Attempt {
    explicit Attempt(asio::io_context& io) : socket(io), timer(io) {}
    tcp::socket socket;
    asio::steady_timer timer;
    bool timed_out = false;
  };
  auto attempt = std::make_shared<Attempt>(io_);
  attempt->timer.expires_after(timeout);
  attempt->timer.async_wait([attempt](const error_code& ec) {
    if (ec) return;
    attempt->timed_out = true;
    error_code ignored;
    attempt->socket.close(ignored);
  });
  error_code ec;
  co_await attempt->socket.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
  attempt->timer.cancel();
  if (attempt->timed_out) {
    co_return make_error(Code::kTimeout, "connect to " + address.to_string() + " timed out");
  }
  if (ec) co_return from_asio(ec, "connect to " + address.to_string());
  co_return std::unique_ptr<Stream>(
      std::make_unique<AsioStream>(std::move(attempt->socket), bulk_send_));
}

}  // namespace splitarray
