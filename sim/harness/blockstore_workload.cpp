#include "sim/harness/blockstore_workload.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/async/task_group.h"

namespace splitarray::sim {
namespace {

using hostdriver::blockstore::BlockStore;
using hostdriver::blockstore::BlockStoreStats;
using hostdriver::blockstore::Stability;

// Blocks every host writes identical copies of (cross-host dedup through the shelf index).
constexpr uint64_t kSharedPatterns = 24;
constexpr uint32_t kAlignedBlocksMax = 12;
constexpr uint32_t kReadBlocksMax = 16;
constexpr uint32_t kVerifyBlocksPerRead = 16;
constexpr int kVerifyOpenAttemptsMax = 10;
constexpr int kResolveAttemptsMax = 3;

using Key = std::pair<uint64_t, uint64_t>;

std::string block_name(const BlockHostModel& model, const Key& key) {
  return "host " + std::to_string(model.host.value()) + " inode " + std::to_string(key.first) +
         " block " + std::to_string(key.second);
}

BlockBytes zero_block(uint32_t block_size) {
  return std::make_shared<const std::vector<uint8_t>>(block_size, uint8_t{0});
}

std::vector<uint8_t> shared_pattern(uint64_t id, uint32_t block_size) {
  Prng rng(0x5EED0000ULL + id * 0x9E3779B97F4A7C15ULL);
  std::vector<uint8_t> bytes(block_size);
  rng.fill(bytes);
  return bytes;
}

// Text-like bytes zstd compresses well.
void fill_compressible(Prng& rng, std::span<uint8_t> out) {
  static constexpr const char* kWords[] = {"block ", "shelf ", "stripe ", "parity ", "chunk ",
                                           "epoch ", "host ",  "the ",    "of ",     "and "};
  size_t at = 0;
  while (at < out.size()) {
    std::string word = kWords[rng.below(std::size(kWords))];
    if (rng.chance(0.2)) word = std::to_string(rng.below(100000)) + "\n";
    const size_t n = std::min(word.size(), out.size() - at);
    std::memcpy(out.data() + at, word.data(), n);
    at += n;
  }
}

// Where a block's history holds these bytes, or -1.
int find_version(const ModelBlock& block, const uint8_t* bytes, size_t length) {
  for (size_t i = 0; i < block.history.size(); ++i) {
    const std::vector<uint8_t>& v = *block.history[i].bytes;
    if (v.size() == length && std::memcmp(v.data(), bytes, length) == 0) return static_cast<int>(i);
  }
  return -1;
}

bool is_zero(const uint8_t* bytes, size_t length) {
  return std::all_of(bytes, bytes + length, [](uint8_t b) { return b == 0; });
}

void add_stats(BlockStoreStats& sum, const BlockStoreStats& s) {
  sum.blocks_written += s.blocks_written;
  sum.zero_blocks += s.zero_blocks;
  sum.dedup_hits += s.dedup_hits;
  sum.chunks_stored += s.chunks_stored;
  sum.log_appends += s.log_appends;
  sum.log_relogged_entries += s.log_relogged_entries;
  sum.log_busy_waits += s.log_busy_waits;
  sum.containers_sealed += s.containers_sealed;
  sum.containers_destaged += s.containers_destaged;
  sum.stripes_written_degraded += s.stripes_written_degraded;
  sum.fragment_write_retries += s.fragment_write_retries;
  sum.fragments_rebuilt += s.fragments_rebuilt;
  sum.reads += s.reads;
  sum.degraded_reads += s.degraded_reads;
  sum.repairs += s.repairs;
  sum.unrecoverable_blocks += s.unrecoverable_blocks;
  sum.open_replayed_records += s.open_replayed_records;
}

// commit() returned ok: every operation that returned ok before it was issued is durable.
void acknowledge_through(BlockHostModel& model, uint64_t tick) {
  for (auto& entry : model.blocks) {
    std::vector<BlockVersion>& history = entry.second.history;
    if (history.size() < 2) continue;
    size_t keep_from = 0;
    for (size_t i = 1; i < history.size(); ++i) {
      if (history[i].done_tick != 0 && history[i].done_tick <= tick) keep_from = i;
    }
    history.erase(history.begin(), history.begin() + static_cast<ptrdiff_t>(keep_from));
  }
}

// One stream of operations on its own inodes; the host's workers share the store and the model.
class Worker {
 public:
  Worker(Env& env, const BlockStoreWorkloadOptions& options, BlockHostModel& model,
         BlockStore& store, Prng rng, uint32_t index, const bool* stop, const bool* killed,
         std::string* doing, Violations& violations)
      : env_(env),
        options_(options),
        bs_(options.store.block_size),
        model_(model),
        store_(store),
        rng_(rng),
        index_(index),
        stop_(stop),
        killed_(killed),
        doing_(doing),
        violations_(violations) {}

  Task<void> run() {
    // A store that failed for good (BlockStore::failed) is reopened at once; one that keeps
    // failing calls without knowing it after kReopenAfterFailures of them.
    while (!*stop_ && !*killed_ && model_.consecutive_failures < kReopenAfterFailures &&
           !store_.failed()) {
      const uint64_t pick = rng_.below(100);
      *doing_ = pick < 55   ? "write"
                : pick < 80 ? "read"
                : pick < 90 ? "commit"
                : pick < 96 ? "truncate"
                            : "destage_all";
      if (pick < 55) {
        co_await write_op();
      } else if (pick < 80) {
        co_await read_op();
      } else if (pick < 90) {
        co_await commit_op();
      } else if (pick < 96) {
        co_await truncate_op();
      } else {
        auto destaged = co_await store_.destage_all();
        count(destaged.ok());
      }
      *doing_ = "idle";
      const Duration think(rng_.below(static_cast<uint64_t>(options_.think_time_max.count()) + 1));
      co_await sleep_for(env_.clock, think);
    }
  }

 private:
  uint64_t pick_inode() {
    return 1 + uint64_t{index_} * options_.inodes_per_worker +
           rng_.below(options_.inodes_per_worker);
  }

  Stability pick_stability() {
    const uint64_t pick = rng_.below(10);
    if (pick < 4) return Stability::kUnstable;
    return pick < 7 ? Stability::kDataSync : Stability::kFileSync;
  }

  void count(bool ok) {
    if (*killed_) return;
    if (ok) {
      ++model_.acked_ops;
      model_.consecutive_failures = 0;
    } else {
      ++model_.failed_ops;
      ++model_.consecutive_failures;
    }
  }

  ModelBlock& block(const Key& key) {
    auto it = model_.blocks.find(key);
    if (it == model_.blocks.end()) {
      ModelBlock fresh;
      fresh.current = zero_block(bs_);
      fresh.history.push_back(BlockVersion{0, fresh.current, 0});
      it = model_.blocks.emplace(key, std::move(fresh)).first;
    }
    return it->second;
  }

  // Reads an uncertain block and takes what the store holds as current (it must be one of the
  // candidates). False if the read failed (the operation is skipped).
  Task<bool> resolve(const Key& key) {
    ModelBlock& b = block(key);
    for (int attempt = 0; attempt < kResolveAttemptsMax && b.uncertain; ++attempt) {
      auto got = co_await store_.read(InodeId(key.first), key.second * bs_, bs_);
      if (*killed_) co_return false;
      if (!got.ok()) {
        note_read_error(got.error());
        co_await sleep_for(env_.clock, options_.retry_delay);
        continue;
      }
      const int at = find_version(b, got->data(), got->size());
      if (at < 0) {
        violations_.add(block_name(model_, key) +
                        ": read back bytes that no write produced (or older than acknowledged)");
        b.current = std::make_shared<const std::vector<uint8_t>>(std::move(got).value());
      } else {
        b.current = b.history[static_cast<size_t>(at)].bytes;
      }
      b.uncertain = false;
    }
    co_return !b.uncertain;
  }

  Task<bool> resolve_range(uint64_t inode, uint64_t first, uint64_t count_blocks) {
    for (uint64_t i = first; i < first + count_blocks; ++i) {
      const Key key{inode, i};
      if (!block(key).uncertain) continue;
      const bool resolved = co_await resolve(key);
      if (!resolved) co_return false;
    }
    co_return true;
  }

  void note_read_error(const Error& error) {
    if (*killed_) return;
    ++model_.read_errors;
    if (error.code == Code::kCorruption) ++model_.corrupt_reads;
  }

  // New bytes for a write at [offset, offset + length) of inode.
  std::vector<uint8_t> make_data(uint64_t inode, uint64_t offset, size_t length, bool aligned) {
    std::vector<uint8_t> data(length);
    const uint64_t kind = rng_.below(100);
    if (kind < 10) return data;  // zeros: holes
    if (aligned && kind < 40) {  // shared or own duplicate blocks
      for (size_t at = 0; at < length; at += bs_) {
        std::vector<uint8_t> bytes;
        if (rng_.chance(0.7)) {
          bytes = shared_pattern(rng_.below(kSharedPatterns), bs_);
        } else {
          const Key other{inode, rng_.below(options_.blocks_per_inode)};
          bytes = *block(other).current;
        }
        std::memcpy(data.data() + at, bytes.data(), bs_);
      }
      return data;
    }
    if (kind < 70) {
      fill_compressible(rng_, data);
    } else {
      rng_.fill(data);
    }
    (void)offset;
    return data;
  }

  // The model's side of an operation that changes blocks: new candidate versions before it is
  // issued, then its outcome.
  struct Change {
    Key key;
    BlockBytes bytes;
  };

  void stage(std::vector<Change>& changes, uint64_t seq) {
    for (const Change& c : changes) block(c.key).history.push_back(BlockVersion{seq, c.bytes, 0});
  }

  void settle(const std::vector<Change>& changes, uint64_t seq, bool ok, Stability stability) {
    if (*killed_) return;  // a dead incarnation's outcomes are not observed
    if (!ok) {
      for (const Change& c : changes) block(c.key).uncertain = true;
      return;
    }
    const uint64_t tick = ++model_.tick;
    for (const Change& c : changes) {
      ModelBlock& b = block(c.key);
      b.current = c.bytes;
      b.uncertain = false;
      for (size_t i = 0; i < b.history.size(); ++i) {
        if (b.history[i].seq != seq) continue;
        b.history[i].done_tick = tick;
        if (stability != Stability::kUnstable) {
          b.history.erase(b.history.begin(), b.history.begin() + static_cast<ptrdiff_t>(i));
        }
        break;
      }
    }
  }

  Task<void> write_op() {
    const uint64_t inode = pick_inode();
    const bool aligned = rng_.chance(0.6);
    uint64_t offset = 0;
    size_t length = 0;
    if (aligned) {
      const uint64_t n = 1 + rng_.below(kAlignedBlocksMax);
      offset = rng_.below(options_.blocks_per_inode - n + 1) * bs_;
      length = n * bs_;
    } else {
      length = 1 + rng_.below(3 * bs_);
      offset = rng_.below(uint64_t{options_.blocks_per_inode} * bs_ - length + 1);
    }
    const uint64_t first = offset / bs_;
    const uint64_t last = (offset + length - 1) / bs_;
    const bool certain = co_await resolve_range(inode, first, last - first + 1);
    if (!certain) {
      count(false);  // a store that cannot read is failing: it counts towards a reopen
      co_return;
    }
    std::vector<uint8_t> data = make_data(inode, offset, length, aligned);
    std::vector<Change> changes;
    for (uint64_t i = first; i <= last; ++i) {
      std::vector<uint8_t> bytes = *block(Key{inode, i}).current;
      const uint64_t start = std::max(offset, i * bs_);
      const uint64_t end = std::min(offset + length, (i + 1) * bs_);
      std::memcpy(bytes.data() + (start - i * bs_), data.data() + (start - offset), end - start);
      changes.push_back(
          Change{Key{inode, i}, std::make_shared<const std::vector<uint8_t>>(std::move(bytes))});
    }
    const uint64_t seq = model_.next_seq++;
    stage(changes, seq);
    const Stability stability = pick_stability();
    auto wrote = co_await store_.write(InodeId(inode), offset, data, stability);
    check_not_fenced(wrote);
    settle(changes, seq, wrote.ok(), stability);
    if (wrote.ok() && !*killed_) ++model_.acked_writes;
    count(wrote.ok());
  }

  Task<void> truncate_op() {
    const uint64_t inode = pick_inode();
    uint64_t size = rng_.below(options_.blocks_per_inode) * bs_;
    if (rng_.chance(0.5)) size += rng_.below(bs_);
    const uint64_t partial = size / bs_;
    if (size % bs_ != 0) {
      const bool certain = co_await resolve_range(inode, partial, 1);
      if (!certain) {
        count(false);
        co_return;
      }
    }
    std::vector<Change> changes;
    const BlockBytes zeros = zero_block(bs_);
    const auto begin = model_.blocks.lower_bound(Key{inode, partial});
    const auto end = model_.blocks.lower_bound(Key{inode + 1, 0});
    for (auto it = begin; it != end; ++it) {
      const uint64_t i = it->first.second;
      if (i * bs_ >= size) {
        changes.push_back(Change{it->first, zeros});
      } else {
        std::vector<uint8_t> bytes = *it->second.current;
        std::fill(bytes.begin() + static_cast<ptrdiff_t>(size - i * bs_), bytes.end(), 0);
        changes.push_back(
            Change{it->first, std::make_shared<const std::vector<uint8_t>>(std::move(bytes))});
      }
    }
    // Blocks the model never saw are holes already; uncertain ones past size become zeros.
    const uint64_t seq = model_.next_seq++;
    stage(changes, seq);
    const Stability stability = pick_stability();
    auto truncated = co_await store_.truncate(InodeId(inode), size, stability);
    check_not_fenced(truncated);
    settle(changes, seq, truncated.ok(), stability);
    count(truncated.ok());
  }

  Task<void> commit_op() {
    const uint64_t issued_at = model_.tick;
    auto committed = co_await store_.commit();
    check_not_fenced(committed);
    count(committed.ok());
    if (!committed.ok() || *killed_) co_return;
    ++model_.acked_commits;
    acknowledge_through(model_, issued_at);
  }

  Task<void> read_op() {
    const uint64_t inode = pick_inode();
    const uint64_t n = 1 + rng_.below(kReadBlocksMax);
    const uint64_t first = rng_.below(options_.blocks_per_inode - n + 1);
    const uint64_t skew = rng_.chance(0.3) ? rng_.below(bs_) : 0;  // unaligned reads too
    const uint64_t offset = first * bs_ + skew;
    const uint32_t length = static_cast<uint32_t>(n * bs_ - skew);
    auto got = co_await store_.read(InodeId(inode), offset, length);
    if (*killed_) co_return;
    if (!got.ok()) {
      note_read_error(got.error());
      count(false);
      co_return;
    }
    if (got->size() != length) {
      violations_.add("host " + std::to_string(model_.host.value()) + ": read of " +
                      std::to_string(length) + " bytes returned " + std::to_string(got->size()));
      co_return;
    }
    for (uint64_t i = first; i < first + n; ++i) {
      const Key key{inode, i};
      const auto it = model_.blocks.find(key);
      const uint64_t start = std::max(offset, i * bs_);
      const uint64_t end = std::min(offset + uint64_t{length}, (i + 1) * bs_);
      const uint8_t* got_bytes = got->data() + (start - offset);
      if (it == model_.blocks.end()) {
        if (!is_zero(got_bytes, end - start)) {
          violations_.add(block_name(model_, key) + ": never written, read back non-zero bytes");
        }
        continue;
      }
      const ModelBlock& b = it->second;
      if (b.uncertain) continue;  // resolved by the next write that needs it
      if (std::memcmp(b.current->data() + (start - i * bs_), got_bytes, end - start) != 0) {
        violations_.add(block_name(model_, key) + ": live read differs from the last write (t=" +
                        std::to_string(to_seconds(env_.clock.now().time_since_epoch())) + " s)");
      }
    }
    ++model_.checked_reads;
    count(true);
  }

  template <class T>
  void check_not_fenced(const Result<T>& result) {
    if (!result.ok() && result.code() == Code::kStale && !*killed_) {
      violations_.add("host " + std::to_string(model_.host.value()) +
                      ": the live incarnation was fenced: " + result.error().to_string());
    }
  }

  Env& env_;
  const BlockStoreWorkloadOptions& options_;
  const uint64_t bs_;
  BlockHostModel& model_;
  BlockStore& store_;
  Prng rng_;
  const uint32_t index_;
  const bool* stop_;
  const bool* killed_;
  std::string* doing_;
  Violations& violations_;
};

Task<void> run_worker(Worker* worker) { co_await worker->run(); }

Task<std::unique_ptr<BlockStore>> open_store(Env& env, const BlockStoreWorkloadOptions& options,
                                             BlockHostModel& model, const bool* stop,
                                             const bool* killed, int attempts_max) {
  for (int attempt = 0; attempt < attempts_max && !*stop && !*killed; ++attempt) {
    hostdriver::blockstore::BlockStoreConfig config = options.store;
    config.host = model.host;
    config.epoch = Epoch(model.next_epoch++);
    config.shelf = options.shelf;
    auto opened = co_await BlockStore::open(env, config);
    if (opened.ok()) {
      ++model.opens;
      model.stats.open_replayed_records += (*opened)->stats().open_replayed_records;
      co_return std::move(opened).value();
    }
    ++model.open_failures;
    env.log.warn("blockstore_sim.open_failed", {{"host", std::to_string(model.host.value())},
                                                {"error", opened.error().to_string()}});
    co_await sleep_for(env.clock, options.retry_delay);
  }
  co_return nullptr;
}

Task<void> close_store(BlockStore& store, BlockHostModel& model) {
  BlockStoreStats stats = store.stats();
  stats.open_replayed_records = 0;  // counted at open
  add_stats(model.stats, stats);
  co_await store.close();
}

}  // namespace

void forget_current(BlockHostModel& model) {
  for (auto& entry : model.blocks) {
    std::vector<BlockVersion>& history = entry.second.history;
    if (history.size() > 1) entry.second.uncertain = true;
    // Unstable writes that returned ok died with the incarnation: a commit by the next one does
    // not cover them (they stay candidates only).
    for (size_t i = 1; i < history.size(); ++i) history[i].done_tick = 0;
  }
}

Task<void> run_blockstore_host(Env& env, BlockStoreWorkloadOptions options, BlockHostModel& model,
                               Prng rng, const bool* stop, const bool* killed,
                               HostActivity* activity, Violations& violations) {
  for (;;) {
    activity->host = "open";
    model.consecutive_failures = 0;
    std::unique_ptr<BlockStore> store =
        co_await open_store(env, options, model, stop, killed, std::numeric_limits<int>::max());
    if (store == nullptr) break;
    activity->host = "workers";
    activity->workers.assign(options.workers, "idle");
    std::vector<std::unique_ptr<Worker>> workers;
    async::TaskGroup group;
    for (uint32_t w = 0; w < options.workers; ++w) {
      workers.push_back(std::make_unique<Worker>(env, options, model, *store, rng.fork(), w, stop,
                                                 killed, &activity->workers[w], violations));
      group.spawn(env.executor(), run_worker(workers.back().get()));
    }
    co_await group.join();
    const bool reopen = !*stop && !*killed;
    activity->host = "commit";
    if (!*killed && !reopen) {
      // Graceful stop: one last commit makes everything written durable.
      const uint64_t issued_at = model.tick;
      auto committed = co_await store->commit();
      if (committed.ok() && !*killed) {
        ++model.acked_commits;
        acknowledge_through(model, issued_at);
      }
    }
    activity->host = "close";
    co_await close_store(*store, model);
    if (!reopen) break;
    // The failed store's unacknowledged work is in doubt, as after a crash.
    ++model.reopens;
    forget_current(model);
  }
  activity->host = "done";
}

std::string HostActivity::describe() const {
  std::string out = host;
  for (size_t w = 0; w < workers.size(); ++w) {
    out += ", worker " + std::to_string(w) + ": " + workers[w];
  }
  return out;
}

Task<bool> verify_blockstore_host(Env& env, BlockStoreWorkloadOptions options,
                                  BlockHostModel& model, Violations& violations) {
  const bool never = false;
  std::unique_ptr<BlockStore> store =
      co_await open_store(env, options, model, &never, &never, kVerifyOpenAttemptsMax);
  if (store == nullptr) co_return false;
  const uint32_t bs = options.store.block_size;
  const uint64_t inodes = uint64_t{options.workers} * options.inodes_per_worker;
  // A little past the end too: nothing may appear where nothing was written.
  const uint64_t blocks = options.blocks_per_inode + kVerifyBlocksPerRead;
  for (uint64_t inode = 1; inode <= inodes; ++inode) {
    for (uint64_t first = 0; first < blocks; first += kVerifyBlocksPerRead) {
      auto got = co_await store->read(InodeId(inode), first * bs, kVerifyBlocksPerRead * bs);
      if (!got.ok()) {
        if (options.read_errors_allowed && got.code() == Code::kCorruption) {
          model.detected_blocks += kVerifyBlocksPerRead;
        } else {
          violations.add("check: host " + std::to_string(model.host.value()) + " inode " +
                         std::to_string(inode) + " blocks " + std::to_string(first) + "+" +
                         std::to_string(kVerifyBlocksPerRead) +
                         " unreadable: " + got.error().to_string());
        }
        continue;
      }
      for (uint64_t i = 0; i < kVerifyBlocksPerRead; ++i) {
        const Key key{inode, first + i};
        const uint8_t* bytes = got->data() + i * bs;
        const auto it = model.blocks.find(key);
        ++model.verified_blocks;
        if (it == model.blocks.end()) {
          if (!is_zero(bytes, bs)) {
            violations.add("check: " + block_name(model, key) + ": never written, not zeros");
          }
          continue;
        }
        const int at = find_version(it->second, bytes, bs);
        if (at < 0) {
          violations.add("check: " + block_name(model, key) +
                         ": acknowledged content lost (read bytes of no candidate; " +
                         std::to_string(it->second.history.size()) + " candidates)");
        }
      }
    }
  }
  co_await close_store(*store, model);
  co_return true;
}

}  // namespace splitarray::sim
