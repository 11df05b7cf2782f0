// common/buffered_input.cpp
#include "common/buffered_input.h"

#include <algorithm>
#include <cstring>

#include "common/assert.h"

namespace splitarray {

BufferedInput::BufferedInput(Stream& stream, size_t buffer_bytes)
    : stream_(stream), buffer_(buffer_bytes) {
  ASSERT(buffer_bytes > 0);
}

Task<Result<void>> BufferedInput::fill(size_t bytes) {
  ASSERT(bytes <= buffer_.size());
  if (buffered() >= bytes) co_return ok_result();
  if (begin_ + bytes > buffer_.size()) {  // not enough room after begin_: compact to the front
    std::memmove(buffer_.data(), buffer_.data() + begin_, buffered());
    end_ -= begin_;
    begin_ = 0;
  }
  while (buffered() < bytes) {
    CO_ASSIGN_OR_RETURN(const size_t received,
                        co_await stream_.read_some(std::span<uint8_t>(buffer_).subspan(end_)));
    ASSERT(received > 0);  // Stream::read_some reads at least one byte or fails
    end_ += received;
    ASSERT(end_ <= buffer_.size());
  }
  co_return ok_result();
}

void BufferedInput::consume(size_t bytes) {
  ASSERT(bytes <= buffered());
  begin_ += bytes;
  if (begin_ == end_) begin_ = end_ = 0;  // empty: the next receive gets the whole buffer
}

Task<Result<void>> BufferedInput::read_exact(std::span<uint8_t> out) {
  const size_t from_buffer = std::min(out.size(), buffered());
  if (from_buffer > 0) std::memcpy(out.data(), buffer_.data() + begin_, from_buffer);
  consume(from_buffer);
  std::span<uint8_t> rest = out.subspan(from_buffer);
  if (rest.empty()) co_return ok_result();
  ASSERT(buffered() == 0);
  if (rest.size() >= buffer_.size() / 2) {
    co_return co_await stream_.read_exact(rest);  // large: skip the extra copy
  }
  CO_RETURN_IF_ERROR(co_await fill(rest.size()));
  std::memcpy(rest.data(), buffer_.data() + begin_, rest.size());
  consume(rest.size());
  co_return ok_result();
}

}  // namespace splitarray
