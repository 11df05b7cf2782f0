// tests/unit/common/write_batch_test.cpp
#include <doctest/doctest.h>

#include <deque>
#include <vector>

#include "common/write_batch.h"

namespace splitarray {
namespace {

size_t size_of(const std::vector<int>& message) { return message.size(); }

std::deque<std::vector<int>> queue_of(const std::vector<size_t>& sizes) {
  std::deque<std::vector<int>> queue;
  for (size_t i = 0; i < sizes.size(); ++i) {
    queue.emplace_back(sizes[i], static_cast<int>(i));  // message i holds i, sizes[i] times
  }
  return queue;
}

TEST_CASE("common/write_batch: small messages join up to the count, in order") {
  auto queue = queue_of({10, 10, 10, 10, 10});
  std::vector<std::vector<int>> batch;
  take_write_batch(queue, batch, {.messages_max = 3, .bytes_max = 1000}, size_of);
  REQUIRE(batch.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(batch[static_cast<size_t>(i)].front() == i);
  CHECK(queue.size() == 2);
  CHECK(queue.front().front() == 3);
}

TEST_CASE("common/write_batch: the first message goes alone if large, bytes bound the rest") {
  auto queue = queue_of({5000, 10, 10});
  std::vector<std::vector<int>> batch;
  const WriteBatchLimits limits{.messages_max = 16, .bytes_max = 100};
  take_write_batch(queue, batch, limits, size_of);
  REQUIRE(batch.size() == 1);
  CHECK(batch[0].size() == 5000);

  batch.clear();
  auto small = queue_of({40, 40, 40});
  take_write_batch(small, batch, limits, size_of);
  CHECK(batch.size() == 2);  // 40 + 40 <= 100; a third would make 120
  CHECK(small.size() == 1);
}

}  // namespace
}  // namespace splitarray
