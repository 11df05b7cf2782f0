// common/buffered_input.h
// BufferedInput reads one Stream through a receive buffer, so a peer's small messages sent back
// to back (pipelined RPCs: sixteen 4 KiB NFS WRITEs, a batch of NVRAM appends) arrive with one
// receive instead of one per header and body. Large reads bypass the buffer and land straight in
// the caller's memory, so a 1 MiB payload is not copied twice.
// Invariants: 0 <= begin_ <= end_ <= buffer_.size(); bytes [begin_, end_) were received and not
// yet consumed, in stream order.
// Threading: one reader at a time (like Stream::read_some).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/env.h"

namespace splitarray {

class BufferedInput final {
 public:
  // `buffer_bytes` bounds the memory held per stream and the largest fill().
  BufferedInput(Stream& stream, size_t buffer_bytes);
  BufferedInput(const BufferedInput&) = delete;
  BufferedInput& operator=(const BufferedInput&) = delete;

  // Bytes received and not yet consumed.
  size_t buffered() const { return end_ - begin_; }
  size_t capacity() const { return buffer_.size(); }
  // Receives until at least `bytes` (<= capacity()) are buffered; each receive takes as much as
  // the peer has sent and the buffer holds. Errors as Stream::read_some.
  Task<Result<void>> fill(size_t bytes);
  // The buffered bytes; valid until the next call that receives or consumes.
  std::span<const uint8_t> peek() const { return std::span(buffer_).subspan(begin_, buffered()); }
  // Drops `bytes` (<= buffered()) from the front.
  void consume(size_t bytes);
  // Fills `out` completely: buffered bytes first, then the stream (straight into `out` when the
  // remainder is at least half the buffer). Errors as Stream::read_exact.
  Task<Result<void>> read_exact(std::span<uint8_t> out);

 private:
  Stream& stream_;
  std::vector<uint8_t> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace splitarray
