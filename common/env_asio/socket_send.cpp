#include "common/env_asio/socket_send.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "common/assert.h"

namespace splitarray {

Result<size_t> send_available(int fd, std::span<const std::span<const uint8_t>> buffers,
                              size_t skip) {
  ASSERT(fd >= 0);
  // Find where `skip` lands: buffer `first`, `offset` bytes in.
  size_t first = 0;
  size_t offset = skip;
  while (first < buffers.size() && offset >= buffers[first].size()) {
    offset -= buffers[first].size();
    ++first;
  }
  ASSERT(first < buffers.size() || offset == 0);  // skip is at most the total
  size_t sent = 0;
  while (first < buffers.size()) {
    std::array<iovec, kSendIovMax> iov{};
    size_t count = 0;
    for (size_t i = first; i < buffers.size() && count < kSendIovMax; ++i) {
      const size_t from = i == first ? offset : 0;
      if (buffers[i].size() == from) continue;
      // sendmsg never writes through iov_base; the cast only satisfies struct iovec.
      iov[count].iov_base = const_cast<uint8_t*>(buffers[i].data() + from);
      iov[count].iov_len = buffers[i].size() - from;
      ++count;
    }
    if (count == 0) break;  // only empty buffers were left
    msghdr message{};
    message.msg_iov = iov.data();
    message.msg_iovlen = count;
    const ssize_t n = ::sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) {
      return make_error(Code::kUnavailable, std::string("write: ") + std::strerror(errno));
    }
    ASSERT(n > 0);
    sent += static_cast<size_t>(n);
    // Advance (first, offset) past what the kernel took.
    size_t left = static_cast<size_t>(n);
    while (left > 0) {
      ASSERT(first < buffers.size());
      const size_t in_first = buffers[first].size() - offset;
      if (left < in_first) {
        offset += left;
        left = 0;
      } else {
        left -= in_first;
        ++first;
        offset = 0;
      }
    }
    while (first < buffers.size() && offset == buffers[first].size()) {
      ++first;
      offset = 0;
    }
  }
  return sent;
}

}  // namespace splitarray
