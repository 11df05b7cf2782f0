// netshelf/registers/registers.h
// RegisterStore: the shelf's small named values with compare-and-swap and epoch fencing
// (DESIGN.md §5, §7): datastore roots, leases, cluster config, rebuild job state.
//
// Semantics (per register):
//   - get() answers {exists, value, version, epoch}; a missing register is {false, {}, 0, 0}.
//   - compare_and_swap(name, expected_version, value, epoch): an epoch older than the register's
//     is kStale and changes nothing. Otherwise, if expected_version equals the current version
//     (0: the register must not exist) the value is replaced, the version becomes current + 1 and
//     the register's epoch becomes max(its epoch, epoch); the reply says swapped and carries the
//     new state. On a version mismatch the reply is swapped = false with the current state.
//   - There is no delete: a recreated register would restart its version and let an old
//     expected_version match again (ABA). Callers write an empty value instead.
//
// Invariants:
//   (1) Nothing is answered before it is durable: a successful swap is acknowledged only after
//       the batch holding it is flushed, and every other answer (get, mismatch, kStale) waits
//       until the state it reports is durable. Answers are linearizable in decision order.
//   (2) Decisions are made synchronously, in call order, against the latest decided state
//       (durable state plus swaps still waiting for their flush), so two CASes on one register
//       serialize: the second sees the first's version.
//   (3) Concurrent swaps share one write + flush (group commit); one batch is in flight at a time.
//       There is no background task: the first request that must wait for a flush becomes the
//       leader and writes batches until its own change is durable, then hands leadership to the
//       oldest waiter whose change is still queued (see README.md, "Group commit").
//   (4) After a failed write, flush or rename the store is failed: every pending and later
//       request gets kIo. Nothing acknowledged is ever lost.
//   (5) Waiting requests <= inflight_max (beyond: kBusy); registers <= count_max and live bytes
//       <= live_bytes_max (beyond: kNoSpace); names and values within their maxima (beyond:
//       kInvalidArgument).
// Threading: all methods run on the Env's event loop. The owner must co_await close() before
// destroying the store (it waits for an in-progress flush).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/async/notify.h"
#include "common/async/oneshot.h"
#include "common/env.h"
#include "netshelf/registers/register_log.h"

namespace splitarray::netshelf {

inline constexpr size_t kRegisterNameBytesMax = 256;
inline constexpr size_t kRegisterValueBytesMax = 64 * 1024;
inline constexpr size_t kRegisterCountMax = 65536;
inline constexpr size_t kRegisterLiveBytesMax = 64ull << 20;
inline constexpr size_t kRegisterInflightMax = 4096;
static_assert(kRegisterNameBytesMax <= kLogNameBytesCeiling);
static_assert(kRegisterValueBytesMax + kRegisterNameBytesMax <= kRegisterLiveBytesMax);

struct RegisterStoreConfig {
  std::string path;  // the log file; `path + ".compact"` is the compaction scratch file
  size_t name_bytes_max = kRegisterNameBytesMax;
  size_t value_bytes_max = kRegisterValueBytesMax;
  size_t count_max = kRegisterCountMax;
  size_t live_bytes_max = kRegisterLiveBytesMax;  // sum of name + value bytes of all registers
  size_t inflight_max = kRegisterInflightMax;     // requests waiting for a flush
  size_t batch_bytes_max = 1 << 20;               // group commit batch; one record always fits
  // Compaction runs when the log exceeds both this and twice the live state's encoded size.
  uint64_t compact_min_bytes = 1 << 20;
};

struct RegisterValue {
  bool exists = false;
  std::vector<uint8_t> value;
  uint64_t version = 0;  // bumped by every successful swap; 0 when !exists
  Epoch epoch{0};        // highest epoch of a successful swap on this register
  friend bool operator==(const RegisterValue&, const RegisterValue&) = default;
};

struct CasOutcome {
  bool swapped = false;
  RegisterValue current;  // the state after the call (the new state when swapped)
};

struct RegisterStoreStats {
  size_t registers = 0;
  size_t live_bytes = 0;
  uint64_t log_bytes = 0;
  uint64_t batches = 0;                  // batches written since open (each one write + one flush)
  uint64_t swaps = 0;                    // successful swaps since open
  uint64_t compactions = 0;              // since open (one at open after a torn tail)
  uint64_t torn_tail_bytes_dropped = 0;  // at open
};

class RegisterStore final {
 public:
  // Opens (or creates) the store at config.path and replays it; see README.md for recovery.
  static Task<Result<std::unique_ptr<RegisterStore>>> open(Env& env, RegisterStoreConfig config);

  RegisterStore(const RegisterStore&) = delete;
  RegisterStore& operator=(const RegisterStore&) = delete;
  ~RegisterStore();

  Task<Result<RegisterValue>> get(std::string name);
  Task<Result<CasOutcome>> compare_and_swap(std::string name, uint64_t expected_version,
                                            std::vector<uint8_t> new_value, Epoch epoch);

  // Waits for in-progress flushes, then stops; later requests get kUnavailable. Idempotent;
  // at most one close() may be waiting at a time.
  Task<void> close();

  bool failed() const { return failed_.has_value(); }
  RegisterStoreStats stats() const;

 private:
  struct Latest {
    StoredRegister state;
    uint64_t seq = 0;  // decision sequence number of the change; durable once <= durable_seq_
  };
  // The latest decided state of a register: pending if a swap awaits its flush, else durable
  // (seq 0). state is nullptr for a register that does not exist.
  struct View {
    const StoredRegister* state = nullptr;
    uint64_t seq = 0;
  };
  struct Waiter {
    // false: the awaited change is durable; true: this waiter is the flush leader now.
    async::Oneshot<Result<bool>> done;
  };

  RegisterStore(Env& env, RegisterStoreConfig config);

  Task<Result<void>> recover();
  Task<Result<void>> compact();
  Task<Result<void>> lead(uint64_t seq);
  Task<Result<void>> write_batch();
  bool should_compact() const;
  void apply_durable(LogRecord record);
  Result<void> admit(const std::string& name, size_t value_bytes) const;
  View view(const std::string& name) const;
  Task<Result<void>> wait_durable(uint64_t seq);
  void complete_waiters();
  void fail(Error error);

  Env& env_;
  const RegisterStoreConfig config_;
  std::unique_ptr<File> file_;
  uint64_t salt_ = 0;
  uint64_t file_batches_ = 0;         // batches in the current file; the next gets seq + 1
  uint64_t log_bytes_ = 0;            // valid bytes of the current file; the next batch goes here
  uint64_t compact_floor_bytes_ = 0;  // no compaction below this (grows after a failed attempt)

  RegisterMap durable_;                                       // exactly what the file holds
  uint64_t durable_record_bytes_ = 0;                         // encoded size of durable_'s records
  std::map<std::string, Latest, std::less<>> pending_state_;  // decided, not yet durable
  std::deque<std::pair<uint64_t, LogRecord>> queue_;          // (seq, record) to write, in order
  uint64_t decided_seq_ = 0;
  uint64_t durable_seq_ = 0;
  size_t latest_count_ = 0;       // registers in durable_ + pending_state_
  size_t latest_live_bytes_ = 0;  // their name + value bytes

  std::multimap<uint64_t, Waiter*> waiters_;  // by the seq each waits for
  std::optional<Error> failed_;
  bool closing_ = false;
  bool flushing_ = false;  // a leader exists (running, or promoted and about to run)
  async::Notify idle_;     // flushing_ became false
  RegisterStoreStats stats_;
};

}  // namespace splitarray::netshelf
