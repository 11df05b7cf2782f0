// hostdriver/nfs/duplicate_request_cache.cpp
#include "hostdriver/nfs/duplicate_request_cache.h"

#include "common/assert.h"

namespace splitarray::hostdriver::nfs {

DuplicateRequestCache::DuplicateRequestCache(size_t entries_max, size_t reply_bytes_max)
    : entries_max_(entries_max), reply_bytes_max_(reply_bytes_max) {
  ASSERT(entries_max_ > 0);
  ASSERT(reply_bytes_max_ > 0);
}

DrcLookup DuplicateRequestCache::begin(const DrcKey& key) {
  auto [it, inserted] = entries_.try_emplace(key);
  if (inserted) return DrcLookup{};
  Entry& entry = it->second;
  if (!entry.finished) {
    ++stats_.in_progress_drops;
    return DrcLookup{.verdict = DrcVerdict::kInProgress, .reply = {}};
  }
  ++stats_.replays;
  lru_.splice(lru_.begin(), lru_, entry.lru);
  return DrcLookup{.verdict = DrcVerdict::kReplay, .reply = entry.reply};
}

void DuplicateRequestCache::finish(const DrcKey& key, std::span<const uint8_t> reply) {
  auto it = entries_.find(key);
  ASSERT_MSG(it != entries_.end() && !it->second.finished, "finish() without begin()");
  if (reply.size() > reply_bytes_max_) {
    ++stats_.too_large;
    entries_.erase(it);
    return;
  }
  Entry& entry = it->second;
  entry.finished = true;
  entry.reply.assign(reply.begin(), reply.end());
  lru_.push_front(key);
  entry.lru = lru_.begin();
  evict_beyond_limit();
  ASSERT(lru_.size() <= entries_max_);
}

void DuplicateRequestCache::abandon(const DrcKey& key) {
  auto it = entries_.find(key);
  ASSERT_MSG(it != entries_.end() && !it->second.finished, "abandon() without begin()");
  entries_.erase(it);
}

void DuplicateRequestCache::evict_beyond_limit() {
  while (lru_.size() > entries_max_) {
    const DrcKey& oldest = lru_.back();
    const size_t erased = entries_.erase(oldest);
    ASSERT(erased == 1);
    lru_.pop_back();
    ++stats_.evictions;
  }
}

}  // namespace splitarray::hostdriver::nfs
