// hostdriver/blockstore/coalesced_reads.cpp
// ChunkReader::read_many: a read of many blocks fetches chunks that sit together in one data
// fragment with one range read. A sequentially written file range was packed into consecutive
// chunks of one container, so a 1 MiB read becomes a few range reads instead of 256, and their
// chunks are decoded on the compute pool.
#include <algorithm>

#include "common/async/compute.h"
#include "common/async/task_group.h"
#include "hostdriver/blockstore/chunk_reader.h"
#include "hostdriver/container/container.h"

namespace splitarray::hostdriver::blockstore {

struct ChunkReader::Run {
  uint64_t container = 0;
  uint32_t fragment_index = 0;
  uint32_t begin = 0;  // offsets in the fragment: [begin, end) covers every member
  uint32_t end = 0;
  std::vector<std::pair<size_t, container::ChunkPlacement>> members;  // (index in refs, where)
};

namespace {

struct Pending {
  uint64_t container = 0;
  container::ChunkPlacement placed;
  size_t index = 0;
};

bool extends(const ChunkReader::Run& run, const Pending& next) {
  if (next.container != run.container || next.placed.fragment_index != run.fragment_index) {
    return false;
  }
  const uint64_t next_end = uint64_t{next.placed.offset_in_fragment} + next.placed.length;
  const uint64_t end = std::max<uint64_t>(run.end, next_end);
  return next.placed.offset_in_fragment <= uint64_t{run.end} + kCoalesceGapBytesMax &&
         end - run.begin <= kCoalesceBytesMax;
}

// Groups chunks (sorted by container, fragment, offset) into runs.
std::vector<ChunkReader::Run> plan_runs(std::vector<Pending>& pending) {
  std::sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) {
    return std::tie(a.container, a.placed.fragment_index, a.placed.offset_in_fragment, a.index) <
           std::tie(b.container, b.placed.fragment_index, b.placed.offset_in_fragment, b.index);
  });
  std::vector<ChunkReader::Run> runs;
  for (const Pending& chunk : pending) {
    const uint32_t chunk_end = chunk.placed.offset_in_fragment + chunk.placed.length;
    if (runs.empty() || !extends(runs.back(), chunk)) {
      runs.push_back(ChunkReader::Run{.container = chunk.container,
                                      .fragment_index = chunk.placed.fragment_index,
                                      .begin = chunk.placed.offset_in_fragment,
                                      .end = chunk_end,
                                      .members = {}});
    }
    ChunkReader::Run& run = runs.back();
    run.end = std::max(run.end, chunk_end);
    run.members.emplace_back(chunk.index, chunk.placed);
    ASSERT(run.end - run.begin <= std::max(kCoalesceBytesMax, chunk.placed.length));
  }
  return runs;
}

}  // namespace

Task<std::vector<Result<void>>> ChunkReader::read_many(std::span<const BlockRef> refs,
                                                       std::span<uint8_t> out) {
  const size_t block = config_.block_size;
  ASSERT(out.size() == refs.size() * block);
  std::vector<Result<void>> outcomes(refs.size(), ok_result());
  std::vector<Pending> pending;
  std::vector<size_t> singles;
  for (size_t i = 0; i < refs.size(); ++i) {
    const std::span<uint8_t> slot = out.subspan(i * block, block);
    if (cache_.lookup(refs[i].location, slot)) {
      ++stats_.cache_hits;
      continue;
    }
    if (destager_.staged(refs[i].location)) {
      singles.push_back(i);  // read() decodes it from memory
      continue;
    }
    auto placed = container::locate_checked(config_.geometry, refs[i].location.offset,
                                            refs[i].location.length);
    if (!placed.ok()) {
      singles.push_back(i);  // read() reports it
      continue;
    }
    pending.push_back(Pending{refs[i].location.container_id, *placed, i});
  }
  std::vector<Run> runs = plan_runs(pending);
  async::TaskGroup reads;
  for (const Run& run : runs) {
    if (run.members.size() == 1) {
      singles.push_back(run.members.front().first);
    } else {
      reads.spawn(env_.executor(), read_run(run, refs, out, outcomes));
    }
  }
  for (size_t i : singles) {
    reads.spawn(env_.executor(), read_one(refs[i], out.subspan(i * block, block), outcomes[i]));
  }
  co_await reads.join();
  co_return outcomes;
}

Task<void> ChunkReader::read_one(BlockRef ref, std::span<uint8_t> out, Result<void>& outcome) {
  outcome = co_await read(ref, out);
}

Task<void> ChunkReader::read_run(const Run& run, std::span<const BlockRef> refs,
                                 std::span<uint8_t> out, std::vector<Result<void>>& outcomes) {
  const size_t block = config_.block_size;
  auto bytes =
      co_await read_placed(run.container, run.fragment_index, run.begin, run.end - run.begin);
  std::vector<size_t> retry;
  if (bytes.ok()) {
    ++stats_.coalesced_reads;
    std::vector<Result<void>> decoded(run.members.size(), ok_result());
    co_await decode_run(run, *bytes, refs, out, decoded);
    for (size_t m = 0; m < run.members.size(); ++m) {
      const size_t index = run.members[m].first;
      if (decoded[m].ok()) {
        cache_.insert(refs[index].location, out.subspan(index * block, block));
        ++stats_.coalesced_chunks;
      } else {
        retry.push_back(index);  // read() checks it again and takes the degraded path
      }
    }
  } else {
    for (const auto& member : run.members) retry.push_back(member.first);
    if (bytes.code() == Code::kTimeout || (bytes.code() == Code::kUnavailable && link_.closed())) {
      // The shelf did not answer: read() would give up the same way for each chunk (and waiting
      // out one timeout per chunk would stall the caller for run.members.size() timeouts).
      for (size_t index : retry) outcomes[index] = bytes.error();
      co_return;
    }
  }
  // Damaged or refused: each chunk alone, in parallel, through read()'s degraded path.
  async::TaskGroup singles;
  for (size_t index : retry) {
    singles.spawn(env_.executor(),
                  read_one(refs[index], out.subspan(index * block, block), outcomes[index]));
  }
  co_await singles.join();
}

Task<void> ChunkReader::decode_run(const Run& run, std::span<const uint8_t> bytes,
                                   std::span<const BlockRef> refs, std::span<uint8_t> out,
                                   std::vector<Result<void>>& decoded) {
  ASSERT(decoded.size() == run.members.size());
  ASSERT(bytes.size() == run.end - run.begin);
  const uint32_t block = config_.block_size;
  // Decodes members [first, first + count) with `worker`; touches only their slots of out and
  // decoded (disjoint between jobs) and reads bytes and refs, which the caller keeps alive.
  auto decode_part = [&run, bytes, refs, out, &decoded, block](Worker& worker, size_t first,
                                                               size_t count) {
    for (size_t m = first; m < first + count; ++m) {
      const auto& [index, placed] = run.members[m];
      const std::span<const uint8_t> stored =
          bytes.subspan(placed.offset_in_fragment - run.begin, placed.length);
      decoded[m] =
          decode_with(worker, block, refs[index], stored, out.subspan(index * block, block));
    }
  };
  if (run.members.size() < kDecodeOnPoolChunksMin) {
    decode_part(workers_.inline_worker(), 0, run.members.size());
    co_return;
  }
  async::TaskGroup jobs;
  auto job = [](ChunkReader* self, decltype(decode_part)* part, size_t first,
                size_t count) -> Task<void> {
    Worker* worker = co_await self->workers_.acquire();
    auto work = [part, worker, first, count]() -> Result<void> {
      (*part)(*worker, first, count);
      return ok_result();
    };
    auto done = co_await async::run_compute(self->env_.compute, std::move(work));
    ASSERT(done.ok());
    self->workers_.release(worker);
  };
  for (size_t first = 0; first < run.members.size(); first += kDecodeJobChunks) {
    const size_t count = std::min(kDecodeJobChunks, run.members.size() - first);
    jobs.spawn(env_.executor(), job(this, &decode_part, first, count));
  }
  co_await jobs.join();
}

}  // namespace splitarray::hostdriver::blockstore
