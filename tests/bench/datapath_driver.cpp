#include "tests/bench/datapath_driver.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>

#include "common/async/task_group.h"
#include "tests/bench/bench_report.h"

namespace splitarray::bench {
namespace {

using hostdriver::blockstore::BlockStoreConfig;
using hostdriver::blockstore::Stability;

double seconds_between(BenchClock::time_point start, BenchClock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

int64_t nanos_between(BenchClock::time_point start, BenchClock::time_point end) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count();
}

// Shared by the coroutines of one ingest or read row; lives in the row's frame.
struct RowState {
  const PieceSet& pieces;
  size_t next = 0;  // next piece to take
  size_t end = 0;   // one past the last piece of the row
  uint64_t bytes = 0;
  std::vector<int64_t> op_ns;
  std::vector<int64_t> commit_ns;
};

std::string where(const PieceSet& pieces, size_t piece) {
  return "inode " + std::to_string(pieces.inode(piece).value()) + " offset " +
         std::to_string(pieces.offset(piece));
}

Task<void> write_worker(BlockStore& store, RowState& row, size_t commit_every) {
  std::vector<uint8_t> scratch;
  size_t since_commit = 0;
  while (row.next < row.end) {
    const size_t piece = row.next++;
    const std::span<const uint8_t> bytes = row.pieces.fill(piece, scratch);
    ASSERT(!bytes.empty() && bytes.size() <= kPieceBytes);
    const InodeId inode = row.pieces.inode(piece);
    const uint64_t offset = row.pieces.offset(piece);
    const auto start = BenchClock::now();
    Result<void> written = co_await store.write(inode, offset, bytes, Stability::kUnstable);
    row.op_ns.push_back(nanos_between(start, BenchClock::now()));
    if (!written.ok())
      fail("write " + where(row.pieces, piece) + ": " + written.error().to_string());
    row.bytes += bytes.size();
    if (++since_commit < commit_every) continue;
    since_commit = 0;
    const auto commit_start = BenchClock::now();
    Result<void> committed = co_await store.commit();
    row.commit_ns.push_back(nanos_between(commit_start, BenchClock::now()));
    if (!committed.ok()) fail("commit: " + committed.error().to_string());
  }
  const auto commit_start = BenchClock::now();
  Result<void> committed = co_await store.commit();
  row.commit_ns.push_back(nanos_between(commit_start, BenchClock::now()));
  if (!committed.ok()) fail("commit: " + committed.error().to_string());
}

Task<void> read_worker(BlockStore& store, RowState& row) {
  std::vector<uint8_t> scratch;
  while (row.next < row.end) {
    const size_t piece = row.next++;
    const std::span<const uint8_t> expected = row.pieces.fill(piece, scratch);
    const InodeId inode = row.pieces.inode(piece);
    const uint64_t offset = row.pieces.offset(piece);
    const auto length = static_cast<uint32_t>(expected.size());
    const auto start = BenchClock::now();
    Result<std::vector<uint8_t>> got = co_await store.read(inode, offset, length);
    row.op_ns.push_back(nanos_between(start, BenchClock::now()));
    if (!got.ok()) fail("read " + where(row.pieces, piece) + ": " + got.error().to_string());
    if (got->size() != expected.size()) {
      fail("read " + where(row.pieces, piece) + ": " + std::to_string(got->size()) +
           " bytes, wanted " + std::to_string(expected.size()));
    }
    if (std::memcmp(got->data(), expected.data(), expected.size()) != 0) {
      const auto diff = std::mismatch(expected.begin(), expected.end(), got->begin());
      fail("read " + where(row.pieces, piece) + ": bytes differ from what was written, first at +" +
           std::to_string(diff.first - expected.begin()));
    }
    row.bytes += expected.size();
  }
}

}  // namespace

PieceSet round_robin_pieces(std::span<const uint8_t> data, uint64_t inode_base, size_t files) {
  ASSERT(files >= 1);
  ASSERT(data.size() % kPieceBytes == 0);
  PieceSet set;
  set.count = data.size() / kPieceBytes;
  set.inode = [inode_base, files](size_t p) { return InodeId(inode_base + p % files); };
  set.offset = [files](size_t p) { return uint64_t{p / files} * kPieceBytes; };
  set.fill = [data](size_t p, std::vector<uint8_t>&) {
    return data.subspan(p * kPieceBytes, kPieceBytes);
  };
  return set;
}

double process_cpu_seconds() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) fail("getrusage failed");
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

Latencies summarize(std::vector<int64_t> latencies_ns) {
  Latencies result;
  if (latencies_ns.empty()) return result;
  std::sort(latencies_ns.begin(), latencies_ns.end());
  const auto rank = [&latencies_ns](size_t percent) {
    const size_t r = (latencies_ns.size() * percent + 99) / 100;
    return static_cast<double>(latencies_ns[std::min(latencies_ns.size() - 1, r == 0 ? 0 : r - 1)]);
  };
  result.p50_us = rank(50) / 1e3;
  result.p99_us = rank(99) / 1e3;
  return result;
}

Task<IngestResult> ingest(BlockStore& store, Env& env, const ShelfProcess& shelf,
                          const PieceSet& pieces, size_t writers, size_t commit_every) {
  ASSERT(writers >= 1 && commit_every >= 1);
  ASSERT(pieces.count >= 1);
  RowState row{pieces, 0, pieces.count, 0, {}, {}};
  IngestResult result;
  const double cpu_start = process_cpu_seconds();
  const double shelf_start = shelf.cpu_seconds();
  const auto start = BenchClock::now();
  async::TaskGroup group;
  for (size_t w = 0; w < writers; ++w) {
    group.spawn(env.executor(), write_worker(store, row, commit_every));
  }
  co_await group.join();
  const auto committed = BenchClock::now();
  Result<void> destaged = co_await store.destage_all();
  if (!destaged.ok()) fail("destage_all: " + destaged.error().to_string());
  const auto end = BenchClock::now();
  result.cpu_seconds = process_cpu_seconds() - cpu_start;
  result.shelf_cpu_seconds = shelf.cpu_seconds() - shelf_start;
  result.commit_seconds = seconds_between(start, committed);
  result.destage_seconds = seconds_between(committed, end);
  result.bytes = row.bytes;
  result.write = summarize(std::move(row.op_ns));
  result.commit = summarize(std::move(row.commit_ns));
  co_return result;
}

Task<ReadResult> read_verify(BlockStore& store, Env& env, const PieceSet& pieces, size_t first,
                             size_t count, size_t readers) {
  ASSERT(readers >= 1);
  ASSERT(first + count <= pieces.count);
  RowState row{pieces, first, first + count, 0, {}, {}};
  ReadResult result;
  const double cpu_start = process_cpu_seconds();
  const auto start = BenchClock::now();
  async::TaskGroup group;
  for (size_t r = 0; r < readers; ++r) group.spawn(env.executor(), read_worker(store, row));
  co_await group.join();
  result.seconds = seconds_between(start, BenchClock::now());
  result.cpu_seconds = process_cpu_seconds() - cpu_start;
  result.bytes = row.bytes;
  result.read = summarize(std::move(row.op_ns));
  co_return result;
}

Task<std::unique_ptr<BlockStore>> open_store(Env& env, const ShelfProcess& shelf, Epoch epoch) {
  BlockStoreConfig config;
  config.host = HostId(1);
  config.epoch = epoch;
  config.shelf = shelf.address();
  auto store = co_await BlockStore::open(env, config);
  if (!store.ok()) fail("BlockStore::open: " + store.error().to_string());
  co_return std::move(store).value();
}

}  // namespace splitarray::bench
