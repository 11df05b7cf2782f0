// hostdriver/nfs/duplicate_request_cache.h
// The duplicate request cache (DRC): a client that lost a reply (connection reset, timeout)
// retransmits the call with the same xid, often on a new connection. Executing a CREATE, REMOVE
// or RENAME twice would turn a success into EXIST or NOENT, so non-idempotent calls are
// remembered: a retransmission of a call still executing is dropped (the original's reply
// answers it), and one of a finished call gets the cached reply again.
//
// A call is identified by the client's address (not its port: retries come on new connections),
// xid, program, version, procedure and a CRC of its arguments (a recycled xid with different
// arguments is a new call).
// Invariants:
//   (1) finished entries <= entries_max (least recently used evicted first); each cached reply
//       <= reply_bytes_max, so the cache's memory is bounded by their product.
//   (2) An in-progress entry is never evicted; it ends with finish() or abandon().
// Threading: the event loop only; deterministic (ordered containers).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace splitarray::hostdriver::nfs {

inline constexpr size_t kDrcEntriesMax = 8192;
// The largest non-idempotent reply is RENAME3res (two wcc_data, about 250 bytes); 1 KiB leaves
// room for every one of them with the record mark.
inline constexpr size_t kDrcReplyBytesMax = 1024;

struct DrcKey {
  std::string client;  // address without port
  uint32_t xid = 0;
  uint32_t program = 0;
  uint32_t version = 0;
  uint32_t procedure = 0;
  uint32_t args_crc = 0;
  auto tie() const { return std::tie(client, xid, program, version, procedure, args_crc); }
  friend bool operator<(const DrcKey& a, const DrcKey& b) { return a.tie() < b.tie(); }
  friend bool operator==(const DrcKey& a, const DrcKey& b) { return a.tie() == b.tie(); }
};

enum class DrcVerdict : uint8_t {
  kNew,         // execute it, then finish() or abandon()
  kInProgress,  // the original is still executing: drop this copy
  kReplay,      // send `reply` again
};

struct DrcLookup {
  DrcVerdict verdict = DrcVerdict::kNew;
  std::vector<uint8_t> reply;  // kReplay: the cached reply record
};

struct DrcStats {
  uint64_t replays = 0;
  uint64_t in_progress_drops = 0;
  uint64_t evictions = 0;
  uint64_t too_large = 0;  // replies not cached because they exceed reply_bytes_max
};

class DuplicateRequestCache final {
 public:
  explicit DuplicateRequestCache(size_t entries_max = kDrcEntriesMax,
                                 size_t reply_bytes_max = kDrcReplyBytesMax);

  DrcLookup begin(const DrcKey& key);
  // Caches the reply of a call begin() returned kNew for.
  void finish(const DrcKey& key, std::span<const uint8_t> reply);
  // Forgets a call that produced no reply (the connection died first).
  void abandon(const DrcKey& key);

  size_t entries() const { return entries_.size(); }
  const DrcStats& stats() const { return stats_; }

 private:
  struct Entry {
    bool finished = false;
    std::vector<uint8_t> reply;
    std::list<DrcKey>::iterator lru;  // valid when finished
  };
  void evict_beyond_limit();

  const size_t entries_max_;
  const size_t reply_bytes_max_;
  std::map<DrcKey, Entry> entries_;
  std::list<DrcKey> lru_;  // finished entries, most recently used at the front
  DrcStats stats_;
};

}  // namespace splitarray::hostdriver::nfs
