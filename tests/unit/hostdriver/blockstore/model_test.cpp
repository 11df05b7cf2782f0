// Model-based random test of the block store against a real shelf: random writes (aligned and
// unaligned, partial blocks, overwrites, zero blocks, duplicates of earlier blocks, compressible
// and random data, bursts of concurrent writes), truncates, removes, reads, commits,
// destage_all(), clean restarts and host crashes, checked against an in-memory model (inode ->
// bytes). Every read must equal the model; at each restart and at the end every file is read
// whole, holes are checked with block_ref() and the logical byte count against the model.
// Prints its seeds; SPLITARRAY_SEED=N replays one.
#include <doctest/doctest.h>

#include <map>

#include "tests/unit/hostdriver/blockstore/block_store_fixture.h"

namespace splitarray::hostdriver::blockstore::bs_test {
namespace {

inline constexpr uint64_t kInodes = 6;
inline constexpr uint64_t kFileBlocksMax = 64;  // writes stay below 256 KiB per file
inline constexpr size_t kOpsPerSeed = 450;

// The expected contents of every file: bytes past a file's end read as zeros.
class Model {
 public:
  explicit Model(uint32_t block_bytes) : block_bytes_(block_bytes) {}
  void write(uint64_t inode, uint64_t offset, std::span<const uint8_t> data) {
    std::vector<uint8_t>& file = files_[inode];
    if (file.size() < offset + data.size()) file.resize(offset + data.size());
    std::copy(data.begin(), data.end(), file.begin() + static_cast<ptrdiff_t>(offset));
  }
  void truncate(uint64_t inode, uint64_t size) {
    auto it = files_.find(inode);
    if (it != files_.end() && size < it->second.size()) it->second.resize(size);
  }
  void remove(uint64_t inode) { files_.erase(inode); }
  std::vector<uint8_t> read(uint64_t inode, uint64_t offset, uint32_t length) const {
    std::vector<uint8_t> out(length, 0);
    auto it = files_.find(inode);
    if (it == files_.end() || offset >= it->second.size()) return out;
    const size_t n = std::min<uint64_t>(length, it->second.size() - offset);
    std::copy_n(it->second.begin() + static_cast<ptrdiff_t>(offset), n, out.begin());
    return out;
  }
  uint64_t size(uint64_t inode) const {
    auto it = files_.find(inode);
    return it == files_.end() ? 0 : it->second.size();
  }
  bool block_is_zero(uint64_t inode, uint64_t block) const {
    return all_zero(read(inode, block * block_bytes_, block_bytes_));
  }
  // Blocks with any nonzero byte: exactly the non-hole blocks (zero blocks are holes).
  uint64_t nonzero_blocks() const {
    uint64_t n = 0;
    for (const auto& [inode, file] : files_) {
      for (uint64_t b = 0; b * block_bytes_ < file.size(); ++b)
        n += block_is_zero(inode, b) ? 0 : 1;
    }
    return n;
  }

 private:
  const uint32_t block_bytes_;
  std::map<uint64_t, std::vector<uint8_t>> files_;
};

struct Outcome {
  bool done = false;
  std::string error;  // empty: ok
};

Task<void> write_into(BlockStore* store, InodeId inode, uint64_t offset,
                      std::span<const uint8_t> data, Stability stability, Outcome* outcome) {
  auto wrote = co_await store->write(inode, offset, data, stability);
  outcome->done = true;
  if (!wrote.ok()) outcome->error = wrote.error().to_string();
}

class ModelRun {
 public:
  ModelRun(Session& session, uint64_t seed, uint32_t block_bytes)
      : s_(session), rng_(seed), seed_(seed), block_(block_bytes), model_(block_bytes) {}

  Task<void> run(size_t ops) {
    BlockStoreConfig config = s_.config();
    config.block_size = block_;
    store_ = co_await s_.open(config);
    for (step_ = 0; step_ < ops; ++step_) co_await one_op();
    co_await commit();
    co_await verify_all("end");
    auto destaged = co_await store_->destage_all();
    REQUIRE_MESSAGE(destaged.ok(), where() << "destage_all: " << why(destaged));
    sealed_ += store_->stats().containers_sealed;
    store_ = co_await s_.restart(store_);
    co_await verify_all("after the final restart");
    const BlockStoreStats stats = store_->stats();
    MESSAGE("seed " << seed_ << ": sealed " << sealed_ << " containers, " << restarts_
                    << " restarts, " << crashes_ << " crashes, " << reads_ << " reads");
    CHECK_MESSAGE(sealed_ >= 3, where() << "the run should fill several containers");
    CHECK(stats.reads > 0);
  }

 private:
  std::string where() const {
    std::ostringstream out;
    out << "SPLITARRAY_SEED=" << seed_ << " (" << block_ << "-byte blocks) step " << step_ << phase_
        << ": ";
    return out.str();
  }

  Stability random_stability() {
    const uint64_t pick = rng_.below(10);
    if (pick < 4) return Stability::kUnstable;
    return pick < 7 ? Stability::kDataSync : Stability::kFileSync;
  }

  // One block of a random kind: random, compressible, zero, or a copy of an earlier block.
  std::vector<uint8_t> make_block() {
    const uint64_t kind = rng_.below(20);
    std::vector<uint8_t> block;
    if (kind < 7) {
      block = random_bytes(rng_, block_);
    } else if (kind < 14) {
      block = compressible_bytes(rng_, block_);
    } else if (kind < 16 || seen_.empty()) {
      block.assign(block_, 0);
    } else {
      block = seen_[rng_.below(seen_.size())];
    }
    if (seen_.size() < 256 && !all_zero(block)) seen_.push_back(block);
    return block;
  }

  // A write's inode, offset and bytes: aligned whole blocks, or any byte range.
  struct PlannedWrite {
    InodeId inode;
    uint64_t offset = 0;
    std::vector<uint8_t> data;
  };
  PlannedWrite plan_write() {
    PlannedWrite w;
    w.inode = InodeId(1 + rng_.below(kInodes));
    const bool aligned = rng_.chance(0.6);
    const uint64_t blocks = rng_.chance(0.25) ? 1 : rng_.between(1, 16);
    const uint64_t first = rng_.below(kFileBlocksMax - blocks);
    for (uint64_t b = 0; b < blocks + (aligned ? 0 : 1); ++b) {
      const std::vector<uint8_t> block = make_block();
      w.data.insert(w.data.end(), block.begin(), block.end());
    }
    w.offset = first * block_;
    if (!aligned) {
      const uint64_t skip = rng_.below(block_);
      const uint64_t length = rng_.between(1, blocks * block_);
      w.offset += skip;
      w.data = std::vector<uint8_t>(w.data.begin() + static_cast<ptrdiff_t>(skip),
                                    w.data.begin() + static_cast<ptrdiff_t>(skip + length));
    }
    return w;
  }

  Task<void> one_op() {
    const uint64_t pick = rng_.below(100);
    if (pick < 48) {
      co_await op_write();
    } else if (pick < 56) {
      co_await op_burst();
    } else if (pick < 76) {
      co_await op_read();
    } else if (pick < 81) {
      co_await op_truncate();
    } else if (pick < 83) {
      co_await op_remove();
    } else if (pick < 89) {
      co_await commit();
    } else if (pick < 94) {
      auto destaged = co_await store_->destage_all();
      REQUIRE_MESSAGE(destaged.ok(), where() << "destage_all: " << why(destaged));
    } else if (pick < 97) {
      co_await op_restart();
    } else {
      co_await op_crash();
    }
  }

  Task<void> op_write() {
    PlannedWrite w = plan_write();
    const Stability stability = random_stability();
    auto wrote = co_await store_->write(w.inode, w.offset, w.data, stability);
    REQUIRE_MESSAGE(wrote.ok(), where()
                                    << "write inode " << w.inode.value() << " offset " << w.offset
                                    << " length " << w.data.size() << ": " << why(wrote));
    model_.write(w.inode.value(), w.offset, w.data);
  }

  // 2-6 writes in flight at once, often overlapping: they apply in call order (invariant 2).
  Task<void> op_burst() {
    const size_t n = rng_.between(2, 6);
    std::vector<PlannedWrite> writes;
    for (size_t i = 0; i < n; ++i) writes.push_back(plan_write());
    if (rng_.chance(0.5)) {  // squeeze them onto one inode so they overlap
      for (auto& w : writes) w.inode = writes.front().inode;
    }
    std::vector<Outcome> outcomes(n);
    async::TaskGroup group;
    for (size_t i = 0; i < n; ++i) {
      group.spawn(s_.env().executor(),
                  write_into(store_, writes[i].inode, writes[i].offset, writes[i].data,
                             random_stability(), &outcomes[i]));
    }
    co_await group.join();
    for (size_t i = 0; i < n; ++i) {
      REQUIRE_MESSAGE(outcomes[i].done, where() << "burst write " << i << " never finished");
      REQUIRE_MESSAGE(outcomes[i].error.empty(),
                      where() << "burst write " << i << ": " << outcomes[i].error);
      model_.write(writes[i].inode.value(), writes[i].offset, writes[i].data);
    }
  }

  Task<void> op_read() {
    const uint64_t inode = 1 + rng_.below(kInodes);
    const uint64_t offset = rng_.below((kFileBlocksMax + 2) * block_);
    const uint32_t length = static_cast<uint32_t>(rng_.between(1, 12 * block_));
    co_await check_read(inode, offset, length);
  }

  Task<void> check_read(uint64_t inode, uint64_t offset, uint32_t length) {
    ++reads_;
    auto got = co_await store_->read(InodeId(inode), offset, length);
    REQUIRE_MESSAGE(got.ok(), where() << "read inode " << inode << " offset " << offset
                                      << " length " << length << ": " << why(got));
    const std::vector<uint8_t> want = model_.read(inode, offset, length);
    REQUIRE_MESSAGE(*got == want, where() << "read inode " << inode << " offset " << offset
                                          << " length " << length << ": "
                                          << first_difference(*got, want));
  }

  Task<void> op_truncate() {
    const uint64_t inode = 1 + rng_.below(kInodes);
    const uint64_t bound = model_.size(inode) + 2 * block_;
    uint64_t size = rng_.below(bound + 1);
    if (rng_.chance(0.3)) size -= size % block_;
    auto truncated = co_await store_->truncate(InodeId(inode), size, random_stability());
    REQUIRE_MESSAGE(truncated.ok(), where() << "truncate inode " << inode << " to " << size << ": "
                                            << why(truncated));
    model_.truncate(inode, size);
  }

  Task<void> op_remove() {
    const uint64_t inode = 1 + rng_.below(kInodes);
    auto removed = co_await store_->remove(InodeId(inode), random_stability());
    REQUIRE_MESSAGE(removed.ok(), where() << "remove inode " << inode << ": " << why(removed));
    model_.remove(inode);
  }

  Task<void> commit() {
    auto committed = co_await store_->commit();
    REQUIRE_MESSAGE(committed.ok(), where() << "commit: " << why(committed));
  }

  Task<void> op_restart() {
    sealed_ += store_->stats().containers_sealed;
    ++restarts_;
    store_ = co_await s_.restart(store_);
    co_await verify_all("after a restart");
  }

  // A crash right after a commit: everything acknowledged so far must survive.
  Task<void> op_crash() {
    co_await commit();
    sealed_ += store_->stats().containers_sealed;
    ++crashes_;
    store_ = co_await s_.crash_restart(store_);
    co_await verify_all("after a crash");
  }

  // Reads every file whole (and one block past its end); holes exactly where the model's
  // blocks are zero; logical bytes = nonzero blocks.
  Task<void> verify_all(const char* when) {
    phase_ = std::string(" (verifying ") + when + ")";
    for (uint64_t inode = 1; inode <= kInodes; ++inode) {
      const uint64_t blocks = (model_.size(inode) + block_ - 1) / block_ + 1;
      co_await check_read(inode, 0, static_cast<uint32_t>(blocks * block_));
      for (uint64_t b = 0; b < blocks; ++b) {
        const Result<BlockRef> ref = store_->block_ref(InodeId(inode), b);
        const bool hole = failed_with(ref, Code::kNotFound);
        CHECK_MESSAGE(hole == model_.block_is_zero(inode, b),
                      where() << "inode " << inode << " block " << b << ": block_ref " << why(ref)
                              << " but the model's block is "
                              << (model_.block_is_zero(inode, b) ? "zero" : "not zero"));
      }
    }
    CHECK_MESSAGE(store_->stats().logical_bytes == model_.nonzero_blocks() * block_,
                  where() << "logical_bytes " << store_->stats().logical_bytes
                          << " != " << model_.nonzero_blocks() << " nonzero blocks x " << block_);
    phase_ = "";
  }

  Session& s_;
  Prng rng_;
  const uint64_t seed_;
  const uint32_t block_;
  BlockStore* store_ = nullptr;
  Model model_;
  std::vector<std::vector<uint8_t>> seen_;  // earlier nonzero blocks, for duplicates
  size_t step_ = 0;
  std::string phase_;
  uint64_t sealed_ = 0;
  uint64_t restarts_ = 0;
  uint64_t crashes_ = 0;
  uint64_t reads_ = 0;
};

TEST_CASE("hostdriver/blockstore: random operations match an in-memory model") {
  for (const uint64_t seed : test_seeds({kDefaultSeed, 7, 1234567})) {
    MESSAGE("SPLITARRAY_SEED=" << seed);
    Fixture f;
    f.serve([&](Session& s) -> Task<void> {
      ModelRun run(s, seed, kBlockBytes);
      co_await run.run(kOpsPerSeed);
    });
  }
}

// The datastore option for larger blocks: partial-block read-modify-write at 16 KiB.
TEST_CASE("hostdriver/blockstore: random operations with 16 KiB blocks match the model") {
  for (const uint64_t seed : test_seeds({kDefaultSeed + 16})) {
    MESSAGE("SPLITARRAY_SEED=" << seed);
    Fixture f;
    f.serve([&](Session& s) -> Task<void> {
      ModelRun run(s, seed, 16 * 1024);
      co_await run.run(kOpsPerSeed / 2);
    });
  }
}

}  // namespace
}  // namespace splitarray::hostdriver::blockstore::bs_test
