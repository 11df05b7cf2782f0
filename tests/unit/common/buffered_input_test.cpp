// tests/unit/common/buffered_input_test.cpp
// BufferedInput over a scripted stream whose receives return exactly the segments the test
// chose, so the buffer's edges (a message cut at the end of a receive, compaction, the bypass for
// large reads) are hit deliberately. Real sockets: rpc_server_test and protocol/rpc_test.
#include <doctest/doctest.h>

#include <deque>
#include <numeric>

#include "common/buffered_input.h"
#include "tests/support/run.h"

namespace splitarray {
namespace {

using testing::run_task;

// Receives return the next scripted segment (or as much of it as fits); then end of stream.
class ScriptedStream final : public Stream {
 public:
  explicit ScriptedStream(std::deque<std::vector<uint8_t>> segments)
      : segments_(std::move(segments)) {}

  Task<Result<size_t>> read_some(std::span<uint8_t> out) override {
    REQUIRE_FALSE(out.empty());  // the Stream contract
    ++receives;
    co_return take(out);
  }
  Task<Result<void>> read_exact(std::span<uint8_t> out) override {
    ++exact_reads;
    size_t at = 0;
    while (at < out.size()) {
      Result<size_t> got = take(out.subspan(at));
      if (!got.ok()) co_return got.error();
      at += *got;
    }
    co_return ok_result();
  }
  Task<Result<void>> write_all(std::span<const std::span<const uint8_t>>) override {
    co_return make_error(Code::kInvalidArgument, "read-only test stream");
  }
  void shutdown_read() override {}
  void close() override {}
  Address peer_address() const override { return Address{"127.0.0.1", 1}; }

  int receives = 0;
  int exact_reads = 0;

 private:
  Result<size_t> take(std::span<uint8_t> out) {
    if (segments_.empty()) return make_error(Code::kUnavailable, "end of stream");
    std::vector<uint8_t>& front = segments_.front();
    const size_t n = std::min(out.size(), front.size());
    std::copy_n(front.begin(), n, out.begin());
    front.erase(front.begin(), front.begin() + static_cast<ptrdiff_t>(n));
    if (front.empty()) segments_.pop_front();
    return n;
  }

  std::deque<std::vector<uint8_t>> segments_;
};

std::vector<uint8_t> counting_bytes(size_t n, uint8_t first) {
  std::vector<uint8_t> bytes(n);
  std::iota(bytes.begin(), bytes.end(), first);
  return bytes;
}

TEST_CASE("common/buffered_input: messages sent together arrive with one receive") {
  // Ten 100-byte messages in one segment: ten read_exact calls, one receive.
  std::deque<std::vector<uint8_t>> segments;
  segments.push_back(counting_bytes(1000, 0));
  ScriptedStream stream(std::move(segments));
  BufferedInput input(stream, 4096);
  asio::io_context io;
  run_task(io, [&]() -> Task<void> {
    for (int i = 0; i < 10; ++i) {
      std::vector<uint8_t> message(100);
      REQUIRE((co_await input.read_exact(message)).ok());
      CHECK(message == counting_bytes(100, static_cast<uint8_t>(i * 100)));
    }
    CHECK(input.buffered() == 0);
    // Past the end: the stream's error, not a short message.
    std::vector<uint8_t> more(1);
    CHECK((co_await input.read_exact(more)).code() == Code::kUnavailable);
  }());
  CHECK(stream.receives == 2);  // the ten messages, then the end
  CHECK(stream.exact_reads == 0);
}

TEST_CASE("common/buffered_input: a message cut across receives, then a large read") {
  // Segments of 30, 30 and 140 bytes into a 64-byte buffer. Reads of 20 and 25 bytes: the second
  // starts in the first receive and ends in the second (the partly-buffered path). Then 155 bytes:
  // 15 come from the buffer, the remaining 140 (>= half the buffer) straight from the stream.
  const std::vector<uint8_t> all = counting_bytes(200, 3);
  std::deque<std::vector<uint8_t>> segments;
  segments.emplace_back(all.begin(), all.begin() + 30);
  segments.emplace_back(all.begin() + 30, all.begin() + 60);
  segments.emplace_back(all.begin() + 60, all.end());
  ScriptedStream stream(std::move(segments));
  BufferedInput input(stream, 64);
  asio::io_context io;
  run_task(io, [&]() -> Task<void> {
    std::vector<uint8_t> got;
    for (size_t size : {size_t{20}, size_t{25}, size_t{155}}) {
      std::vector<uint8_t> part(size);
      REQUIRE((co_await input.read_exact(part)).ok());
      got.insert(got.end(), part.begin(), part.end());
    }
    CHECK(got == all);
    CHECK(input.buffered() == 0);
  }());
  CHECK(stream.receives == 2);     // the two small segments, one receive each
  CHECK(stream.exact_reads == 1);  // the large remainder
}

TEST_CASE("common/buffered_input: peek and consume see the stream in order across compaction") {
  std::deque<std::vector<uint8_t>> segments;
  segments.push_back(counting_bytes(10, 0));
  segments.push_back(counting_bytes(10, 10));
  ScriptedStream stream(std::move(segments));
  BufferedInput input(stream, 16);
  asio::io_context io;
  run_task(io, [&]() -> Task<void> {
    REQUIRE((co_await input.fill(4)).ok());
    CHECK(input.buffered() == 10);
    CHECK(input.peek()[0] == 0);
    input.consume(8);
    // 2 left at offset 8; 8 + 10 > 16, so they move to the front before the next receive.
    REQUIRE((co_await input.fill(10)).ok());
    REQUIRE(input.buffered() == 12);
    CHECK(input.peek()[0] == 8);
    CHECK(input.peek()[11] == 19);
  }());
}

}  // namespace
}  // namespace splitarray
