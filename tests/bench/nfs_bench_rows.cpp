#include "tests/bench/nfs_bench_rows.h"

#include <fcntl.h>
#include <nfsc/libnfs.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <span>

#include "common/assert.h"
#include "common/crc32c.h"
#include "common/prng.h"
#include "tests/bench/nfs_bench_data.h"

namespace splitarray::bench::nfs {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr int kFileMode = 0644;
// Independent data streams of one seed (the same bytes for every server given the seed).
constexpr uint64_t kSeqStream = 1;
constexpr uint64_t kRandFileStream = 2;
constexpr uint64_t kRandWriteStream = 3;
constexpr uint64_t kMetaStream = 4;

// The data seed of one stream of a run's seed. Hashed, not added: with seed + stream, run N's
// sequential stream was run N-1's random-file stream, so a rerun with the next seed on the same
// server wrote duplicates (and measured dedup, not ingest).
uint64_t stream_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ULL + stream;  // splitmix64 of (seed, stream)
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::string seq_path(const RunConfig& c) { return c.dir + "/seq.dat"; }
std::string rand_path(const RunConfig& c) { return c.dir + "/rand.dat"; }
std::string meta_dir(const RunConfig& c) { return c.dir + "/meta"; }
std::string meta_file(const RunConfig& c, uint64_t i) {
  char name[32];
  std::snprintf(name, sizeof name, "/f%07llu", static_cast<unsigned long long>(i));
  return meta_dir(c) + name;
}

double seconds_since(BenchClock::time_point start) {
  return std::chrono::duration<double>(BenchClock::now() - start).count();
}

// Shared state of one data row, reached from callbacks through Slot::row.
struct DataRow {
  nfsfh* fh = nullptr;
  uint64_t count = 0;                           // bytes per call
  const uint8_t* source = nullptr;              // sequential writes: the whole file
  const std::vector<uint32_t>* crcs = nullptr;  // reads: CRC32C per `count` piece of the file
};

void on_write(int status, nfs_context* nfs, void* data, void* private_data) {
  Slot& slot = *static_cast<Slot*>(private_data);
  const DataRow& row = *static_cast<const DataRow*>(slot.row);
  if (status < 0) fail_call("WRITE at " + std::to_string(slot.offset), status, data, nfs);
  if (static_cast<uint64_t>(status) != row.count) {
    fail("short WRITE at " + std::to_string(slot.offset) + ": " + std::to_string(status));
  }
  slot.pipeline->complete(slot);
}

void on_read(int status, nfs_context* nfs, void* data, void* private_data) {
  Slot& slot = *static_cast<Slot*>(private_data);
  const DataRow& row = *static_cast<const DataRow*>(slot.row);
  if (status < 0) fail_call("READ at " + std::to_string(slot.offset), status, data, nfs);
  if (static_cast<uint64_t>(status) != row.count) {
    fail("short READ at " + std::to_string(slot.offset) + ": " + std::to_string(status));
  }
  const uint64_t piece = slot.offset / row.count;
  ASSERT(piece < row.crcs->size());
  const uint32_t crc = crc32c(std::span(static_cast<const uint8_t*>(data), row.count));
  if (crc != (*row.crcs)[piece]) {
    fail("READ at " + std::to_string(slot.offset) + " returned bytes other than were written");
  }
  slot.pipeline->complete(slot);
}

void issue_write(NfsSession& session, Slot& slot, const DataRow& row, const uint8_t* bytes) {
  if (nfs_pwrite_async(session.context(), row.fh, slot.offset, row.count, bytes, on_write, &slot) !=
      0) {
    fail("cannot queue WRITE: " + session.error());
  }
}

void issue_read(NfsSession& session, Slot& slot, const DataRow& row) {
  if (nfs_pread_async(session.context(), row.fh, slot.offset, row.count, on_read, &slot) != 0) {
    fail("cannot queue READ: " + session.error());
  }
}

void on_flag(int status, nfs_context* nfs, void* data, void* private_data) {
  if (status < 0) fail_call("COMMIT", status, data, nfs);
  *static_cast<bool*>(private_data) = true;
}

// COMMIT (fsync) through the async API; returns its time in ms.
double commit(NfsSession& session, nfsfh* fh) {
  bool done = false;
  const BenchClock::time_point start = BenchClock::now();
  if (nfs_fsync_async(session.context(), fh, on_flag, &done) != 0) {
    fail("cannot queue COMMIT: " + session.error());
  }
  session.run_until([&done] { return done; });
  return seconds_since(start) * 1e3;
}

nfsfh* create_file(NfsSession& session, const std::string& path) {
  nfsfh* fh = nullptr;
  if (nfs_creat(session.context(), path.c_str(), kFileMode, &fh) != 0) {
    fail("create " + path + ": " + session.error());
  }
  return fh;
}

void close_file(NfsSession& session, nfsfh* fh, const std::string& path) {
  if (nfs_close(session.context(), fh) != 0) fail("close " + path + ": " + session.error());
}

// Writes `mib` MiB of the random file's data stream into `fh` (1 MiB calls, c.seq_qd in flight,
// each MiB generated as it is sent), then COMMITs: setup, not a row. Returns the CRC32C of every
// 4 KiB block, for checking the random reads.
std::vector<uint32_t> prefill(NfsSession& session, nfsfh* fh, const RunConfig& c, size_t mib) {
  std::vector<uint32_t> crcs(mib * kMiB / kBlockBytes);
  DataRow row{.fh = fh, .count = kMiB};
  Pipeline writes(session, c.seq_qd, [&](Slot& slot) {
    slot.row = &row;
    slot.offset = slot.index * kMiB;
    slot.buffer.resize(kMiB);
    fill_blocks(stream_seed(c.seed, kRandFileStream), slot.offset / kBlockBytes, slot.buffer);
    const std::vector<uint32_t> piece = piece_crcs(slot.buffer, kBlockBytes);
    std::copy(piece.begin(), piece.end(), crcs.begin() + slot.offset / kBlockBytes);
    issue_write(session, slot, row, slot.buffer.data());
  });
  writes.run_count(mib);
  commit(session, fh);
  return crcs;
}

}  // namespace

SeqResult run_sequential(NfsSession& session, const RunConfig& c) {
  ASSERT(c.seq_mib > 0);
  std::fprintf(stderr, "nfs_bench: sequential: generating %zu MiB\n", c.seq_mib);
  std::vector<uint8_t> bytes(c.seq_mib * kMiB);
  fill_blocks(stream_seed(c.seed, kSeqStream), 0, bytes);
  const std::vector<uint32_t> crcs = piece_crcs(bytes, kMiB);

  SeqResult result;
  const std::string path = seq_path(c);
  nfsfh* fh = create_file(session, path);
  DataRow row{.fh = fh, .count = kMiB, .source = bytes.data(), .crcs = &crcs};
  std::fprintf(stderr, "nfs_bench: sequential write, %zu x 1 MiB, qd %zu, then COMMIT\n", c.seq_mib,
               c.seq_qd);
  Pipeline writes(session, c.seq_qd, [&](Slot& slot) {
    slot.row = &row;
    slot.offset = slot.index * kMiB;
    issue_write(session, slot, row, row.source + slot.offset);
  });
  const BenchClock::time_point start = BenchClock::now();
  result.writes = writes.run_count(c.seq_mib);
  result.commit_ms = commit(session, fh);
  result.write_mbps = static_cast<double>(bytes.size()) / 1e6 / seconds_since(start);

  std::fprintf(stderr, "nfs_bench: sequential read, %zu x 1 MiB, qd %zu, CRC32C checked\n",
               c.seq_mib, c.seq_qd);
  Pipeline reads(session, c.seq_qd, [&](Slot& slot) {
    slot.row = &row;
    slot.offset = slot.index * kMiB;
    issue_read(session, slot, row);
  });
  result.reads = reads.run_count(c.seq_mib);
  result.read_mbps = static_cast<double>(bytes.size()) / 1e6 / result.reads.seconds;
  close_file(session, fh, path);
  return result;
}

RandomResult run_random(NfsSession& session, const RunConfig& c) {
  ASSERT(c.rand_file_mib > 0);
  RandomResult result;
  const std::string path = rand_path(c);
  nfsfh* fh = create_file(session, path);
  std::fprintf(stderr, "nfs_bench: random: preallocating %zu MiB\n", c.rand_file_mib);
  const BenchClock::time_point start = BenchClock::now();
  const std::vector<uint32_t> crcs = prefill(session, fh, c, c.rand_file_mib);
  result.prefill_mbps = static_cast<double>(c.rand_file_mib * kMiB) / 1e6 / seconds_since(start);
  const uint64_t blocks = c.rand_file_mib * kMiB / kBlockBytes;

  // Each row draws offsets from its own fork of the seeded PRNG.
  Prng prng(c.seed);
  DataRow row{.fh = fh, .count = kBlockBytes, .crcs = &crcs};
  uint64_t writes_issued = 0;  // makes every written block unique across rows
  auto read_row = [&](size_t qd, std::string key, std::string label) {
    Prng rows_prng = prng.fork();
    std::fprintf(stderr, "nfs_bench: %s\n", label.c_str());
    Pipeline reads(session, qd, [&](Slot& slot) {
      slot.row = &row;
      slot.offset = rows_prng.below(blocks) * kBlockBytes;
      issue_read(session, slot, row);
    });
    result.rows.push_back(RandomRow{std::move(key), std::move(label), qd,
                                    reads.run_window(make_window(c.seconds_per_row), kBlockBytes)});
  };
  auto write_row = [&](size_t qd, std::string key, std::string label, nfsfh* target, bool stable) {
    Prng rows_prng = prng.fork();
    DataRow wrow{.fh = target, .count = kBlockBytes};
    std::fprintf(stderr, "nfs_bench: %s\n", label.c_str());
    Pipeline writes(session, qd, [&](Slot& slot) {
      slot.row = &wrow;
      slot.offset = rows_prng.below(blocks) * kBlockBytes;
      slot.buffer.resize(kBlockBytes);
      fill_block(stream_seed(c.seed, kRandWriteStream), writes_issued++, slot.buffer);
      issue_write(session, slot, wrow, slot.buffer.data());
    });
    RandomRow r{std::move(key), std::move(label), qd,
                writes.run_window(make_window(c.seconds_per_row), kBlockBytes)};
    if (!stable) r.commit_ms = commit(session, target);
    result.rows.push_back(std::move(r));
  };
  const std::string high = std::to_string(c.rand_qd);
  read_row(1, "randread_4k_qd1", "4 KiB random read, qd 1");
  read_row(c.rand_qd, "randread_4k", "4 KiB random read, qd " + high);
  write_row(1, "randwrite_4k_qd1", "4 KiB random write, qd 1 (UNSTABLE)", fh, false);
  write_row(c.rand_qd, "randwrite_4k", "4 KiB random write, qd " + high + " (UNSTABLE)", fh, false);
  // O_SYNC makes libnfs send FILE_SYNC writes: each one durable before its reply.
  nfsfh* sync_fh = nullptr;
  if (nfs_open(session.context(), path.c_str(), O_RDWR | O_SYNC, &sync_fh) != 0) {
    fail("open O_SYNC " + path + ": " + session.error());
  }
  write_row(c.rand_qd, "randwrite_4k_sync", "4 KiB random write, qd " + high + " (FILE_SYNC)",
            sync_fh, true);
  close_file(session, sync_fh, path);
  close_file(session, fh, path);
  return result;
}

namespace {

void on_meta_closed(int status, nfs_context* nfs, void* data, void* private_data) {
  Slot& slot = *static_cast<Slot*>(private_data);
  if (status < 0) fail_call("close " + slot.path, status, data, nfs);
  slot.fh = nullptr;
  slot.pipeline->complete(slot);
}

void on_meta_written(int status, nfs_context* nfs, void* data, void* private_data) {
  Slot& slot = *static_cast<Slot*>(private_data);
  if (status < 0) fail_call("WRITE " + slot.path, status, data, nfs);
  if (static_cast<size_t>(status) != kBlockBytes) fail("short WRITE to " + slot.path);
  if (nfs_close_async(nfs, slot.fh, on_meta_closed, &slot) != 0) {
    fail("cannot queue close of " + slot.path);
  }
}

void on_meta_created(int status, nfs_context* nfs, void* data, void* private_data) {
  Slot& slot = *static_cast<Slot*>(private_data);
  if (status < 0) fail_call("CREATE " + slot.path, status, data, nfs);
  slot.fh = static_cast<nfsfh*>(data);
  if (nfs_pwrite_async(nfs, slot.fh, 0, kBlockBytes, slot.buffer.data(), on_meta_written, &slot) !=
      0) {
    fail("cannot queue WRITE to " + slot.path);
  }
}

void on_meta_stat(int status, nfs_context* nfs, void* data, void* private_data) {
  Slot& slot = *static_cast<Slot*>(private_data);
  if (status < 0) fail_call("stat " + slot.path, status, data, nfs);
  const auto* st = static_cast<const nfs_stat_64*>(data);
  if (!S_ISREG(st->nfs_mode) || st->nfs_size != kBlockBytes) {
    fail("stat " + slot.path + ": not a regular file of 4096 bytes (size " +
         std::to_string(st->nfs_size) + ")");
  }
  slot.pipeline->complete(slot);
}

void on_meta_removed(int status, nfs_context* nfs, void* data, void* private_data) {
  Slot& slot = *static_cast<Slot*>(private_data);
  if (status < 0) fail_call("remove " + slot.path, status, data, nfs);
  slot.pipeline->complete(slot);
}

struct ReaddirCall {
  bool done = false;
  uint64_t entries = 0;
};

void on_opendir(int status, nfs_context* nfs, void* data, void* private_data) {
  auto& call = *static_cast<ReaddirCall*>(private_data);
  if (status < 0) fail_call("readdir", status, data, nfs);
  auto* dir = static_cast<nfsdir*>(data);
  for (nfsdirent* e = nfs_readdir(nfs, dir); e != nullptr; e = nfs_readdir(nfs, dir)) {
    if (std::strcmp(e->name, ".") == 0 || std::strcmp(e->name, "..") == 0) continue;
    if (e->name[0] != 'f') fail(std::string("readdir: unexpected entry ") + e->name);
    ++call.entries;
  }
  nfs_closedir(nfs, dir);
  call.done = true;
}

// Lists the directory once (libnfs's opendir reads every page with READDIRPLUS before it
// calls back); returns its seconds.
double readdir_pass(NfsSession& session, const RunConfig& c) {
  ReaddirCall call;
  const std::string dir = meta_dir(c);
  const BenchClock::time_point start = BenchClock::now();
  if (nfs_opendir_async(session.context(), dir.c_str(), on_opendir, &call) != 0) {
    fail("cannot queue readdir: " + session.error());
  }
  session.run_until([&call] { return call.done; });
  session.note_progress();
  const double seconds = seconds_since(start);
  if (call.entries != c.files) {
    fail("readdir listed " + std::to_string(call.entries) + " files, wanted " +
         std::to_string(c.files));
  }
  return seconds;
}

}  // namespace

MetaResult run_metadata(NfsSession& session, const RunConfig& c) {
  ASSERT(c.files > 0);
  ASSERT(c.readdir_passes > 0);
  const std::string dir = meta_dir(c);
  if (nfs_mkdir(session.context(), dir.c_str()) != 0) {
    fail("mkdir " + dir + ": " + session.error());
  }
  MetaResult result;
  nfs_context* nfs = session.context();
  std::fprintf(stderr, "nfs_bench: create + write 4 KiB + close, %zu files, qd %zu\n", c.files,
               c.meta_qd);
  Pipeline creates(session, c.meta_qd, [&](Slot& slot) {
    slot.path = meta_file(c, slot.index);
    slot.buffer.resize(kBlockBytes);
    fill_block(stream_seed(c.seed, kMetaStream), slot.index, slot.buffer);
    if (nfs_creat_async(nfs, slot.path.c_str(), kFileMode, on_meta_created, &slot) != 0) {
      fail("cannot queue CREATE: " + session.error());
    }
  });
  result.create = creates.run_count(c.files);

  std::fprintf(stderr, "nfs_bench: stat, qd %zu\n", c.meta_qd);
  Pipeline stats(session, c.meta_qd, [&](Slot& slot) {
    slot.path = meta_file(c, slot.index);
    if (nfs_stat64_async(nfs, slot.path.c_str(), on_meta_stat, &slot) != 0) {
      fail("cannot queue stat: " + session.error());
    }
  });
  result.stat = stats.run_count(c.files);

  std::fprintf(stderr, "nfs_bench: readdir, %zu passes\n", c.readdir_passes);
  for (size_t pass = 0; pass < c.readdir_passes; ++pass) {
    result.readdir_seconds += readdir_pass(session, c);
  }
  result.readdir_entries_per_s =
      static_cast<double>(c.files * c.readdir_passes) / result.readdir_seconds;

  std::fprintf(stderr, "nfs_bench: remove, qd %zu\n", c.meta_qd);
  Pipeline removes(session, c.meta_qd, [&](Slot& slot) {
    slot.path = meta_file(c, slot.index);
    if (nfs_unlink_async(nfs, slot.path.c_str(), on_meta_removed, &slot) != 0) {
      fail("cannot queue remove: " + session.error());
    }
  });
  result.remove = removes.run_count(c.files);
  if (nfs_rmdir(nfs, dir.c_str()) != 0) fail("rmdir " + dir + " (not empty?): " + session.error());
  return result;
}

void remove_run_files(NfsSession& session, const RunConfig& c) {
  nfs_context* nfs = session.context();
  for (const std::string& path : {seq_path(c), rand_path(c)}) {
    nfs_stat_64 st{};
    if (nfs_stat64(nfs, path.c_str(), &st) != 0) continue;  // that row did not run
    if (nfs_unlink(nfs, path.c_str()) != 0) fail("remove " + path + ": " + session.error());
  }
  if (nfs_rmdir(nfs, c.dir.c_str()) != 0) fail("rmdir " + c.dir + ": " + session.error());
}

}  // namespace splitarray::bench::nfs
