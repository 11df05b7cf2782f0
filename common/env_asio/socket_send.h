// common/env_asio/socket_send.h
// send_available: the non-blocking copy of bytes into a socket's send buffer that AsioStream runs
// on a bulk-send thread for large writes (asio_network.h says why).
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/result.h"

namespace splitarray {

// Buffers per sendmsg call (well under IOV_MAX); longer lists take several calls.
inline constexpr size_t kSendIovMax = 64;
static_assert(kSendIovMax <= IOV_MAX);

// Sends the bytes of `buffers` from `skip` bytes in, in order, without blocking: stops when the
// socket's send buffer is full (or everything is sent) and returns how many bytes it sent, 0 if
// the buffer was full at once. A closed or reset peer, or any other failure, is kUnavailable.
// Never raises SIGPIPE. Thread-safe for distinct calls on distinct descriptors.
Result<size_t> send_available(int fd, std::span<const std::span<const uint8_t>> buffers,
                              size_t skip);

}  // namespace splitarray
