// hostdriver/blockstore/read_path.cpp
// The read path (DESIGN.md §6): block map lookups, then the blocks through the ChunkReader in
// batches of kReadBlocksBatchMax (neighbours in one fragment share one range read). Blocks that
// cannot be read make the whole call kCorruption, naming exactly those blocks; every other range of
// the file stays readable.
#include <algorithm>
#include <cstring>
#include <string>

#include "hostdriver/blockstore/block_store_impl.h"

namespace splitarray::hostdriver::blockstore {

Task<Result<std::vector<std::pair<uint64_t, BlockRef>>>> BlockStoreImpl::map_range(InodeId inode,
                                                                                   uint64_t first,
                                                                                   uint64_t last) {
  ASSERT(first <= last);
  // Memory first, in one synchronous pass: the answer reflects the maps at the time of the call
  // (plus the base for what memory did not know then).
  std::vector<std::pair<uint64_t, BlockRef>> found;
  std::optional<uint64_t> unknown_first;
  uint64_t unknown_last = 0;
  for (uint64_t b = first; b <= last; ++b) {
    BlockRef ref;
    switch (maps_.lookup(inode, b, &ref)) {
      case MapHit::kMapped:
        found.emplace_back(b, ref);
        break;
      case MapHit::kHole:
        break;
      case MapHit::kUnknown:
        if (!unknown_first) unknown_first = b;
        unknown_last = b;
        break;
    }
    if (b == UINT64_MAX) break;
  }
  if (!unknown_first) co_return found;
  ASSERT(base_ != nullptr);
  // Snapshot which blocks were unknown before waiting: memory may change while the base answers.
  std::vector<uint64_t> unknown;
  for (uint64_t b = *unknown_first; b <= unknown_last; ++b) {
    BlockRef ignored;
    if (maps_.lookup(inode, b, &ignored) == MapHit::kUnknown) unknown.push_back(b);
  }
  auto base = co_await base_->lookup(inode, *unknown_first, unknown_last);
  if (!base.ok()) co_return base.error();
  for (const auto& [block, ref] : *base) {
    if (std::binary_search(unknown.begin(), unknown.end(), block)) found.emplace_back(block, ref);
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  co_return found;
}

Task<Result<std::optional<BlockRef>>> BlockStoreImpl::lookup_block(InodeId inode,
                                                                   uint64_t block_index) {
  auto found = co_await map_range(inode, block_index, block_index);
  if (!found.ok()) co_return found.error();
  if (found->empty()) co_return std::optional<BlockRef>();
  co_return std::optional<BlockRef>(found->front().second);
}

Task<Result<std::vector<uint8_t>>> BlockStoreImpl::read(InodeId inode, uint64_t offset,
                                                        uint32_t length) {
  CO_RETURN_IF_ERROR(usable());
  if (length == 0) co_return std::vector<uint8_t>{};
  if (length > kReadBytesMax) {
    co_return make_error(Code::kInvalidArgument, "read of " + std::to_string(length) +
                                                     " bytes (at most " +
                                                     std::to_string(kReadBytesMax) + ")");
  }
  if (offset > UINT64_MAX - length) {
    co_return make_error(Code::kInvalidArgument, "read past the largest file offset");
  }
  ++stats_.reads;
  const uint32_t block_size = config_.block_size;
  const uint64_t end = offset + length;
  const uint64_t first_block = offset / block_size;
  const uint64_t last_block = (end - 1) / block_size;
  std::vector<uint8_t> out(length, 0);

  struct Wanted {
    uint64_t block_index;
    BlockRef ref;
    Result<void> outcome = ok_result();
  };
  auto mapped = co_await map_range(inode, first_block, last_block);
  if (!mapped.ok()) co_return mapped.error();
  std::vector<Wanted> wanted;
  wanted.reserve(mapped->size());
  for (const auto& [block, ref] : *mapped) wanted.push_back(Wanted{block, ref});
  // Chunks are read in groups of kReadBlocksBatchMax (bounded memory); within a group the
  // chunk reader merges neighbours in one fragment into one range read.
  std::vector<uint8_t> scratch(std::min(wanted.size(), kReadBlocksBatchMax) * block_size);
  std::vector<BlockRef> refs;
  for (size_t at = 0; at < wanted.size(); at += kReadBlocksBatchMax) {
    const size_t n = std::min(kReadBlocksBatchMax, wanted.size() - at);
    refs.clear();
    for (size_t i = 0; i < n; ++i) refs.push_back(wanted[at + i].ref);
    const std::span<uint8_t> slots = std::span(scratch).first(n * block_size);
    std::vector<Result<void>> outcomes = co_await reader_->read_many(refs, slots);
    ASSERT(outcomes.size() == n);
    for (size_t i = 0; i < n; ++i) {
      Wanted& w = wanted[at + i];
      w.outcome = std::move(outcomes[i]);
      if (!w.outcome.ok()) continue;
      // Copy the overlap of this block and [offset, end).
      const uint64_t block_start = w.block_index * block_size;
      const uint64_t from = std::max(block_start, offset);
      const uint64_t to = std::min(block_start + block_size, end);
      std::memcpy(out.data() + (from - offset),
                  scratch.data() + i * block_size + (from - block_start), to - from);
    }
  }
  std::string bad;
  Error first_error{Code::kCorruption, ""};
  bool failed = false;
  for (const Wanted& w : wanted) {
    if (w.outcome.ok()) continue;
    if (!failed) first_error = w.outcome.error();
    failed = true;
    if (w.outcome.code() != Code::kCorruption) co_return w.outcome.error();
    ++stats_.unrecoverable_blocks;
    if (!bad.empty()) bad += ", ";
    bad += std::to_string(w.block_index * block_size);
  }
  if (failed) {
    const std::string message = "inode " + std::to_string(inode.value()) +
                                ": unrecoverable blocks at offsets " + bad + " (" +
                                first_error.message + ")";
    env_.log.error(message);
    co_return make_error(Code::kCorruption, message);
  }
  co_return out;
}

}  // namespace splitarray::hostdriver::blockstore
