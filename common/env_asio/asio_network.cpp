#include "common/env_asio/asio_network.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <vector>

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

class AsioStream final : public Stream {
 public:
  explicit AsioStream(tcp::socket socket) : socket_(std::move(socket)) {
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
    ASSERT_MSG(!writing_, "concurrent write_all on one stream");
    writing_ = true;
    std::vector<asio::const_buffer> list;
    list.reserve(buffers.size());
    for (const auto& b : buffers) {
      if (!b.empty()) list.emplace_back(b.data(), b.size());
    }
    error_code ec;
    co_await asio::async_write(socket_, list, asio::redirect_error(asio::use_awaitable, ec));
    writing_ = false;
    if (ec) co_return from_asio(ec, "write");
    co_return ok_result();
  }

  void shutdown_read() override {
    read_shut_ = true;
    error_code ec;
    // Linux wakes a pending receive with end-of-file; the socket can still send.
    socket_.shutdown(tcp::socket::shutdown_receive, ec);
  }

  void close() override {
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  Address peer_address() const override { return peer_; }

 private:
  tcp::socket socket_;
  Address peer_;
  bool writing_ = false;
  bool read_shut_ = false;
};

class AsioListener final : public Listener {
 public:
  explicit AsioListener(tcp::acceptor acceptor) : acceptor_(std::move(acceptor)) {
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
      if (!ec) co_return std::unique_ptr<Stream>(std::make_unique<AsioStream>(std::move(socket)));
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
  return std::unique_ptr<Listener>(std::make_unique<AsioListener>(std::move(acceptor)));
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
  co_return std::unique_ptr<Stream>(std::make_unique<AsioStream>(std::move(attempt->socket)));
}

}  // namespace splitarray
