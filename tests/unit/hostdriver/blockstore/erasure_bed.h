// tests/unit/hostdriver/blockstore/erasure_bed.h
// ErasureBed: one file of random 4 KiB blocks (raw chunks, so each data fragment holds 16 of
// them) written and destaged into about 2.5 containers, the store restarted with no read cache
// so every read goes to the shelf, and helpers to lose, restore and inspect the fragments of one
// stripe. Shared by the erasure-coding and corruption tests.
#pragma once

#include <set>

#include "tests/unit/hostdriver/blockstore/block_store_fixture.h"

namespace splitarray::hostdriver::blockstore::bs_test {

inline constexpr InodeId kInode{1};
inline constexpr size_t kFileBlocks = 320;  // about 2.5 containers of raw 4 KiB chunks

// The stripe of one container as the tests see it.
struct Stripe {
  ContainerId container;
  std::vector<DiskIndex> disks;                   // fragment index -> disk
  std::vector<std::vector<uint64_t>> blocks;      // data fragment -> file blocks in it
  std::vector<FragmentId> saved_ids;              // fragment index -> id before any loss
  std::vector<std::vector<uint8_t>> saved_bytes;  // ... and its whole bytes
};

class ErasureBed {
 public:
  explicit ErasureBed(Session& session) : s_(session) {}

  // Writes the file, destages it, restarts (so nothing is cached) and maps blocks to stripes.
  Task<void> setup() {
    BlockStoreConfig config = s_.config();
    config.read_cache_bytes = 0;  // every read goes to the shelf
    store_ = co_await s_.open(config);
    Prng rng(kDefaultSeed);
    file_ = random_bytes(rng, kFileBlocks * kBlockBytes);
    for (size_t at = 0; at < file_.size(); at += 16 * kBlockBytes) {
      const std::vector<uint8_t> piece(
          file_.begin() + static_cast<ptrdiff_t>(at),
          file_.begin() + static_cast<ptrdiff_t>(at + 16 * kBlockBytes));
      co_await write_ok(*store_, kInode, at, piece);
    }
    auto destaged = co_await store_->destage_all();
    REQUIRE_MESSAGE(destaged.ok(), why(destaged));
    store_ = co_await s_.restart(store_);
    for (uint64_t b = 0; b < kFileBlocks; ++b) {
      const Result<BlockRef> ref = store_->block_ref(kInode, b);
      REQUIRE_MESSAGE(ref.ok(), "block " << b << ": " << why(ref));
      refs_.push_back(ref.value());
    }
    REQUIRE_MESSAGE(refs_.front().location.container_id != refs_.back().location.container_id,
                    "the file should span several containers");
  }

  Task<Stripe> stripe_of(ContainerId container) {
    Stripe stripe;
    stripe.container = container;
    auto placed = store_->placement(container);
    REQUIRE_MESSAGE(placed.ok(), why(placed));
    stripe.disks = *placed;
    REQUIRE(stripe.disks.size() == kStripeFragments);
    REQUIRE(std::set<DiskIndex>(stripe.disks.begin(), stripe.disks.end()).size() ==
            kStripeFragments);
    stripe.blocks.resize(kDataFragments);
    for (uint64_t b = 0; b < kFileBlocks; ++b) {
      if (refs_[b].location.container_id != container.value()) continue;
      stripe.blocks.at(fragment_of(refs_[b].location)).push_back(b);
    }
    ShelfClient* admin = co_await s_.admin();
    for (uint32_t f = 0; f < kStripeFragments; ++f) {
      const std::optional<FragmentId> id =
          stored_fragment(s_.shelf(), stripe.disks[f], container, f);
      REQUIRE_MESSAGE(id.has_value(), "fragment " << f << " of container " << container.value()
                                                  << " is not on disk " << stripe.disks[f].value());
      auto bytes = co_await admin->fragment_read(stripe.disks[f], id_value(*id), 0, 0);
      REQUIRE_MESSAGE(bytes.ok(), why(bytes));
      stripe.saved_ids.push_back(*id);
      stripe.saved_bytes.push_back(std::move(bytes).value());
    }
    co_return stripe;
  }

  // Deletes the current generation of fragment f (as the owning host, with its epoch).
  Task<void> lose(const Stripe& stripe, uint32_t f) {
    const std::optional<FragmentId> id =
        stored_fragment(s_.shelf(), stripe.disks[f], stripe.container, f);
    REQUIRE_MESSAGE(id.has_value(), "fragment " << f << " is already gone");
    ShelfClient* admin = co_await s_.admin();
    auto deleted = co_await admin->fragment_delete(store_->config().host, store_->config().epoch,
                                                   stripe.disks[f], id_value(*id));
    REQUIRE_MESSAGE(deleted.ok(), why(deleted));
  }

  // Puts fragment f back as it was, unless something (a repair) already did.
  Task<void> restore(const Stripe& stripe, uint32_t f) {
    if (stored_fragment(s_.shelf(), stripe.disks[f], stripe.container, f)) co_return;
    ShelfClient* admin = co_await s_.admin();
    auto written = co_await admin->fragment_write(store_->config().host, store_->config().epoch,
                                                  stripe.disks[f], id_value(stripe.saved_ids[f]),
                                                  stripe.saved_bytes[f]);
    REQUIRE_MESSAGE(written.ok(), why(written));
  }

  Task<void> expect_block(uint64_t b, const std::string& context) {
    auto got = co_await store_->read(kInode, b * kBlockBytes, kBlockBytes);
    REQUIRE_MESSAGE(got.ok(), context << ": block " << b << ": " << why(got));
    const std::vector<uint8_t> want = block(b);
    CHECK_MESSAGE(*got == want, context << ": block " << b << ": " << first_difference(*got, want));
  }

  Task<void> expect_corruption(uint64_t b, const std::string& context) {
    auto got = co_await store_->read(kInode, b * kBlockBytes, kBlockBytes);
    CHECK_MESSAGE(failed_with(got, Code::kCorruption),
                  context << ": block " << b << " should be unrecoverable but read " << why(got));
  }

  // The stripe of the container holding the file's first block.
  Task<Stripe> first_stripe() {
    const ContainerId container(refs_.front().location.container_id);
    co_return co_await stripe_of(container);
  }

  // The expected bytes of file block b.
  std::vector<uint8_t> block(uint64_t b) const {
    return std::vector<uint8_t>(file_.begin() + static_cast<ptrdiff_t>(b * kBlockBytes),
                                file_.begin() + static_cast<ptrdiff_t>((b + 1) * kBlockBytes));
  }

  BlockStore& store() { return *store_; }
  const std::vector<BlockRef>& refs() const { return refs_; }
  const std::vector<uint8_t>& file() const { return file_; }
  Session& session() { return s_; }

 private:
  Session& s_;
  BlockStore* store_ = nullptr;
  std::vector<uint8_t> file_;
  std::vector<BlockRef> refs_;
};

}  // namespace splitarray::hostdriver::blockstore::bs_test
