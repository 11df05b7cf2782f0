// common/env_asio/socket_send.h on a Unix socket pair: what a bulk-send thread does with a socket.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <numeric>
#include <vector>

#include "common/env_asio/socket_send.h"

namespace splitarray {
namespace {

struct SocketPair {
  SocketPair() {
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    // A small send buffer, so a few hundred KiB fill it.
    const int bytes = 64 * 1024;
    REQUIRE(::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) == 0);
  }
  ~SocketPair() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
  void close_peer() {
    ::close(fds[1]);
    fds[1] = -1;
  }
  // Everything the peer can read right now, without blocking.
  std::vector<uint8_t> drain() {
    std::vector<uint8_t> out;
    uint8_t chunk[65536];
    for (;;) {
      const ssize_t n = ::recv(fds[1], chunk, sizeof chunk, MSG_DONTWAIT);
      if (n <= 0) break;
      out.insert(out.end(), chunk, chunk + n);
    }
    return out;
  }
  int fds[2] = {-1, -1};
};

std::vector<uint8_t> counting_bytes(size_t n, uint8_t first) {
  std::vector<uint8_t> bytes(n);
  std::iota(bytes.begin(), bytes.end(), first);
  return bytes;
}

TEST_CASE("common/env_asio/socket_send: sends from the skip point across buffers, in order") {
  SocketPair pair;
  const std::vector<uint8_t> a = counting_bytes(10, 0), b = counting_bytes(20, 10),
                             c = counting_bytes(5, 30);
  const std::span<const uint8_t> buffers[] = {a, {}, b, c};
  // 13 bytes in: 3 bytes into `b` (past `a` and the empty buffer).
  auto sent = send_available(pair.fds[0], buffers, 13);
  REQUIRE(sent.ok());
  CHECK(*sent == 22);
  CHECK(pair.drain() == counting_bytes(22, 13));
  // Nothing left to send is a send of nothing.
  auto none = send_available(pair.fds[0], buffers, 35);
  REQUIRE(none.ok());
  CHECK(*none == 0);
}

TEST_CASE("common/env_asio/socket_send: every skip point over many buffers, empty ones included") {
  // More buffers than one sendmsg takes (kSendIovMax), sizes 0..12 in a fixed pattern, so skip
  // points fall inside buffers, on their boundaries, and on empty ones.
  std::vector<std::vector<uint8_t>> storage;
  std::vector<uint8_t> all;
  for (size_t i = 0; i < 2 * kSendIovMax + 20; ++i) {
    const size_t size = (i * 7) % 13;
    storage.push_back(counting_bytes(size, static_cast<uint8_t>(all.size())));
    all.insert(all.end(), storage.back().begin(), storage.back().end());
  }
  std::vector<std::span<const uint8_t>> buffers(storage.begin(), storage.end());
  for (size_t skip = 0; skip <= all.size(); ++skip) {
    CAPTURE(skip);
    SocketPair pair;
    auto sent = send_available(pair.fds[0], buffers, skip);
    REQUIRE(sent.ok());
    CHECK(*sent == all.size() - skip);
    CHECK(pair.drain() ==
          std::vector<uint8_t>(all.begin() + static_cast<ptrdiff_t>(skip), all.end()));
  }
}

TEST_CASE("common/env_asio/socket_send: a dup fails once the original is shut down and closed") {
  // What a bulk-send thread sees when the loop closes its stream mid-step (asio_network.h (3)).
  SocketPair pair;
  const int copy = ::dup(pair.fds[0]);
  REQUIRE(copy >= 0);
  REQUIRE(::shutdown(pair.fds[0], SHUT_RDWR) == 0);
  ::close(pair.fds[0]);
  pair.fds[0] = -1;
  const std::vector<uint8_t> bytes(1000, 0x42);
  const std::span<const uint8_t> buffers[] = {bytes};
  auto sent = send_available(copy, buffers, 0);
  CHECK(sent.code() == Code::kUnavailable);
  ::close(copy);
}

TEST_CASE("common/env_asio/socket_send: stops at a full send buffer and resumes where it stopped") {
  SocketPair pair;
  const std::vector<uint8_t> big = counting_bytes(4 << 20, 7);
  const std::vector<uint8_t> tail = counting_bytes(1000, 99);
  const std::span<const uint8_t> buffers[] = {big, tail};
  const size_t total = big.size() + tail.size();
  auto first = send_available(pair.fds[0], buffers, 0);
  REQUIRE(first.ok());
  CHECK(*first > 0);
  CHECK(*first < total);  // the peer has read nothing: the buffer filled
  auto again = send_available(pair.fds[0], buffers, *first);
  REQUIRE(again.ok());
  CHECK(*again == 0);  // still full: it returns instead of blocking

  std::vector<uint8_t> received = pair.drain();
  size_t sent = *first;
  for (int round = 0; sent < total && round < 100000; ++round) {
    auto step = send_available(pair.fds[0], buffers, sent);
    REQUIRE(step.ok());
    sent += *step;
    const std::vector<uint8_t> more = pair.drain();
    received.insert(received.end(), more.begin(), more.end());
  }
  const std::vector<uint8_t> rest = pair.drain();
  received.insert(received.end(), rest.begin(), rest.end());
  REQUIRE(sent == total);
  std::vector<uint8_t> expected = big;
  expected.insert(expected.end(), tail.begin(), tail.end());
  CHECK(received == expected);
}

TEST_CASE("common/env_asio/socket_send: a closed peer is kUnavailable, without SIGPIPE") {
  SocketPair pair;
  pair.close_peer();
  const std::vector<uint8_t> bytes(1000, 0x42);
  const std::span<const uint8_t> buffers[] = {bytes};
  auto sent = send_available(pair.fds[0], buffers, 0);  // SIGPIPE would end the test run here
  CHECK(sent.code() == Code::kUnavailable);
  CHECK(sent.error().message.find("write") != std::string::npos);
}

}  // namespace
}  // namespace splitarray
