// common/write_batch.h
// take_write_batch: what a writer sends in its next gathered write. Messages queued while the
// previous write was in progress leave together (one system call and one wake-up of the peer for
// many small messages), bounded so a batch never holds much beyond its first message.
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "common/assert.h"

namespace splitarray {

struct WriteBatchLimits {
  size_t messages_max = 0;  // >= 1
  size_t bytes_max = 0;     // later messages join while the batch's bytes stay within this
};

// Moves messages from the front of `queue` (not empty) into `batch` (empty), in order: the first
// always, however large; each next one while the batch has fewer than messages_max and its bytes
// (bytes_of) stay within bytes_max.
template <class Message, class BytesOf>
void take_write_batch(std::deque<Message>& queue, std::vector<Message>& batch,
                      const WriteBatchLimits& limits, BytesOf bytes_of) {
  ASSERT(batch.empty());
  ASSERT(!queue.empty());
  ASSERT(limits.messages_max >= 1);
  size_t bytes = 0;
  do {
    bytes += bytes_of(queue.front());
    batch.push_back(std::move(queue.front()));
    queue.pop_front();
  } while (!queue.empty() && batch.size() < limits.messages_max &&
           bytes + bytes_of(queue.front()) <= limits.bytes_max);
  ASSERT(!batch.empty());
}

}  // namespace splitarray
