// tests/bench/nfs_bench.cpp
// NFS server benchmark (`scripts/bench nfs`): one NFS v3 client, libnfs's async API on one TCP
// connection, measuring one server given by URL. scripts/bench runs it against our host driver
// and against nfs-ganesha on the same machine with the same arguments (so the same bytes and the
// same PRNG offsets), then `nfs_bench --compare` prints both and their ratio.
//
// Rows (nfs_bench_rows.h has the details; every answer is checked):
//   seq write    new file, 1 MiB UNSTABLE WRITEs at qd 8, then COMMIT (time includes it)
//   seq read     the same file, 1 MiB READs at qd 8, CRC32C of every MiB checked
//   random       4 KiB READ and WRITE at random aligned offsets of a preallocated file, fixed
//                time per row, qd 1 and 16, p50/p99 latency; plus FILE_SYNC writes at qd 16
//   metadata     create+write 4 KiB+close, stat, readdir, remove of N files in one directory,
//                16 calls in flight (readdir is one listing at a time)
// Data: every 4 KiB block unique (nothing dedups), 3/8 PRNG bytes and 5/8 text-like lines
// (zstd-1 ~1.6x per block); a pure function of --seed (nfs_bench_data.h).
//
// usage: nfs_bench --url URL [--label NAME] [--quick] [--json-only] [--keep] [--seconds S]
//                  [--seq-mib N] [--rand-mib N] [--files N] [--seed N] [--rows seq,random,meta]
//        nfs_bench --compare OURS_OUTPUT GANESHA_OUTPUT
// Output: a table, then one JSON object as the last line of stdout.
#include <nfsc/libnfs.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/bench/bench_report.h"
#include "tests/bench/nfs_bench_client.h"
#include "tests/bench/nfs_bench_compare.h"
#include "tests/bench/nfs_bench_rows.h"

namespace splitarray::bench::nfs {
namespace {

constexpr size_t kSeqMibDefault = 512;
constexpr size_t kSeqMibQuick = 64;
constexpr size_t kRandMibDefault = 256;
constexpr size_t kRandMibQuick = 64;
constexpr double kSecondsDefault = 10;
constexpr double kSecondsQuick = 3;
constexpr size_t kFilesDefault = 10000;
constexpr size_t kFilesQuick = 2000;
constexpr size_t kSeqQd = 8;
constexpr size_t kRandQd = 16;  // the JSON's unsuffixed random rows are this queue depth
constexpr size_t kMetaQd = 16;
constexpr size_t kReaddirPasses = 3;
// Sizes and counts beyond these are typos, not benchmarks.
constexpr size_t kMibMax = 64 * 1024;
constexpr size_t kFilesMax = 1000000;
// JsonLine prints %.6g: a seed up to this prints exactly, so two runs' seeds can be compared.
constexpr uint64_t kSeedMax = 999999;
constexpr uint64_t kSeedDefault = 261122;
static_assert(kSeedDefault <= kSeedMax);

struct Options {
  std::string url;
  std::string label = "server";
  bool json_only = false;
  bool keep = false;
  bool seq = true;  // --rows
  bool random = true;
  bool meta = true;
  RunConfig run;
  std::string compare_ours;
  std::string compare_peer;
};

[[noreturn]] void usage_exit() {
  std::fprintf(stderr,
               "usage: nfs_bench --url URL [--label NAME] [--quick] [--json-only] [--keep]\n"
               "                 [--seconds S] [--seq-mib N] [--rand-mib N] [--files N] "
               "[--seed N]\n"
               "                 [--rows seq,random,meta]\n"
               "       nfs_bench --compare OURS_OUTPUT GANESHA_OUTPUT\n"
               "  URL: nfs://HOST/EXPORT?nfsport=N&mountport=M (libnfs syntax)\n"
               "  defaults: --seq-mib %zu --rand-mib %zu --seconds %.0f --files %zu; --quick: "
               "%zu, %zu, %.0f, %zu\n",
               kSeqMibDefault, kRandMibDefault, kSecondsDefault, kFilesDefault, kSeqMibQuick,
               kRandMibQuick, kSecondsQuick, kFilesQuick);
  std::exit(2);
}

uint64_t parse_number(const std::string& flag, const char* text, uint64_t min, uint64_t max) {
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || value < min || value > max) {
    std::fprintf(stderr, "nfs_bench: %s wants a number in [%llu, %llu], got '%s'\n", flag.c_str(),
                 static_cast<unsigned long long>(min), static_cast<unsigned long long>(max), text);
    usage_exit();
  }
  return value;
}

// "seq,random,meta" or a subset: which row groups run.
void parse_rows(const std::string& list, Options& o) {
  o.seq = o.random = o.meta = false;
  size_t at = 0;
  while (at <= list.size()) {
    const size_t comma = std::min(list.find(',', at), list.size());
    const std::string name = list.substr(at, comma - at);
    if (name == "seq") {
      o.seq = true;
    } else if (name == "random") {
      o.random = true;
    } else if (name == "meta") {
      o.meta = true;
    } else {
      std::fprintf(stderr, "nfs_bench: --rows takes seq,random,meta; got '%s'\n", name.c_str());
      usage_exit();
    }
    at = comma + 1;
  }
}

Options parse_options(int argc, char** argv) {
  Options o;
  bool quick = false;
  uint64_t seq_mib = 0, rand_mib = 0, files = 0;
  double seconds = 0;
  o.run.seed = kSeedDefault;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--quick") {
      quick = true;
    } else if (flag == "--json-only") {
      o.json_only = true;
    } else if (flag == "--keep") {
      o.keep = true;
    } else if (flag == "--compare" && i + 2 < argc) {
      o.compare_ours = argv[++i];
      o.compare_peer = argv[++i];
    } else if (!has_value) {
      usage_exit();
    } else if (flag == "--url") {
      o.url = argv[++i];
    } else if (flag == "--label") {
      o.label = argv[++i];
    } else if (flag == "--seconds") {
      seconds = std::strtod(argv[++i], nullptr);
      if (!std::isfinite(seconds) || seconds < 0.2 || seconds > 3600) usage_exit();
    } else if (flag == "--seq-mib") {
      seq_mib = parse_number(flag, argv[++i], 1, kMibMax);
    } else if (flag == "--rand-mib") {
      rand_mib = parse_number(flag, argv[++i], 1, kMibMax);
    } else if (flag == "--files") {
      files = parse_number(flag, argv[++i], 1, kFilesMax);
    } else if (flag == "--seed") {
      o.run.seed = parse_number(flag, argv[++i], 0, kSeedMax);
    } else if (flag == "--rows") {
      parse_rows(argv[++i], o);
    } else {
      usage_exit();
    }
  }
  if (!o.compare_ours.empty()) return o;
  if (o.url.empty()) usage_exit();
  RunConfig& r = o.run;
  r.seq_mib = seq_mib != 0 ? seq_mib : (quick ? kSeqMibQuick : kSeqMibDefault);
  r.rand_file_mib = rand_mib != 0 ? rand_mib : (quick ? kRandMibQuick : kRandMibDefault);
  r.seconds_per_row = seconds != 0 ? seconds : (quick ? kSecondsQuick : kSecondsDefault);
  r.files = files != 0 ? files : (quick ? kFilesQuick : kFilesDefault);
  r.seq_qd = kSeqQd;
  r.rand_qd = kRandQd;
  r.meta_qd = kMetaQd;
  r.readdir_passes = kReaddirPasses;
  // One directory per run: a name no other run (or the other server's run) shares.
  r.dir = "/nfs_bench." + o.label + "." + std::to_string(::getpid());
  return o;
}

struct Results {
  SeqResult seq;
  RandomResult random;
  MetaResult meta;
  double readmax_kib = 0;
  double writemax_kib = 0;
};

void print_phase(const char* label, const PhaseStats& p, double rate, const char* unit) {
  std::printf("  %-40s %10llu %11.1f %9.0f %9.0f  %s\n", label,
              static_cast<unsigned long long>(p.ops), rate, p.p50_us, p.p99_us, unit);
}

// A row without a latency distribution: one call (a COMMIT), or a whole setup step (ops "-").
void print_single(const char* label, const char* ops, double value, const char* unit) {
  std::printf("  %-40s %10s %11.1f %9s %9s  %s\n", label, ops, value, "-", "-", unit);
}

void print_table(const Options& o, const Results& r) {
  const RunConfig& c = o.run;
  std::printf(
      "nfs_bench [%s]: %s\n  libnfs async, NFS v3, one TCP connection; server rtmax %.0f KiB, "
      "wtmax %.0f KiB; seed %llu;\n  data: unique 4 KiB blocks, 3/8 random + 5/8 text (zstd-1 "
      "~1.6x)\n\n",
      o.label.c_str(), o.url.c_str(), r.readmax_kib, r.writemax_kib,
      static_cast<unsigned long long>(c.seed));
  std::printf("  %-40s %10s %11s %9s %9s\n", "row", "ops", "rate", "p50 us", "p99 us");
  char label[96];
  if (o.seq) {
    std::snprintf(label, sizeof label, "seq write %zu MiB, qd %zu, + COMMIT", c.seq_mib, c.seq_qd);
    print_phase(label, r.seq.writes, r.seq.write_mbps, "MB/s (latency: one 1 MiB WRITE)");
    print_single("  the COMMIT", "1", r.seq.commit_ms, "ms");
    std::snprintf(label, sizeof label, "seq read %zu MiB, qd %zu", c.seq_mib, c.seq_qd);
    print_phase(label, r.seq.reads, r.seq.read_mbps, "MB/s");
  }
  if (o.random) {
    std::snprintf(label, sizeof label, "MB/s (setup: preallocate %zu MiB)", c.rand_file_mib);
    print_single("random file write + COMMIT", "-", r.random.prefill_mbps, label);
    for (const RandomRow& row : r.random.rows) {
      std::printf("  %-40s %10llu %11.0f %9.0f %9.0f  IOPS over %.1f s\n", row.label.c_str(),
                  static_cast<unsigned long long>(row.result.messages), row.result.msgs_per_s,
                  row.result.p50_us, row.result.p99_us, row.result.seconds);
      if (row.commit_ms >= 0) print_single("  COMMIT after the row", "1", row.commit_ms, "ms");
    }
  }
  if (o.meta) {
    std::snprintf(label, sizeof label, "create+write 4 KiB+close, qd %zu", c.meta_qd);
    print_phase(label, r.meta.create, r.meta.create.per_s, "ops/s");
    std::snprintf(label, sizeof label, "stat, qd %zu", c.meta_qd);
    print_phase(label, r.meta.stat, r.meta.stat.per_s, "ops/s");
    std::printf("  %-40s %10zu %11.0f %9s %9s  entries/s (%zu listings of %zu)\n", "readdir",
                c.files * c.readdir_passes, r.meta.readdir_entries_per_s, "-", "-",
                c.readdir_passes, c.files);
    std::snprintf(label, sizeof label, "remove, qd %zu", c.meta_qd);
    print_phase(label, r.meta.remove, r.meta.remove.per_s, "ops/s");
  }
  std::printf("\n");
}

void print_json(const Options& o, const Results& r) {
  const RunConfig& c = o.run;
  JsonLine json;
  if (o.seq) {
    json.add("seq_write_mbps", r.seq.write_mbps);
    json.add("seq_write_commit_ms", r.seq.commit_ms);
    json.add("seq_read_mbps", r.seq.read_mbps);
  }
  for (const RandomRow& row : r.random.rows) {
    json.add(row.key + "_iops", row.result.msgs_per_s);
    json.add(row.key + "_p50_us", row.result.p50_us);
    json.add(row.key + "_p99_us", row.result.p99_us);
    if (row.commit_ms >= 0) json.add(row.key + "_commit_ms", row.commit_ms);
  }
  if (o.meta) {
    json.add("create_per_s", r.meta.create.per_s);
    json.add("stat_per_s", r.meta.stat.per_s);
    json.add("readdir_entries_per_s", r.meta.readdir_entries_per_s);
    json.add("remove_per_s", r.meta.remove.per_s);
    json.add("create_p99_us", r.meta.create.p99_us);
  }
  if (o.random) json.add("prefill_mbps", r.random.prefill_mbps);
  json.add("readmax_kib", r.readmax_kib);
  json.add("writemax_kib", r.writemax_kib);
  json.add("seq_mib", static_cast<double>(c.seq_mib));
  json.add("seq_qd", static_cast<double>(c.seq_qd));
  json.add("rand_file_mib", static_cast<double>(c.rand_file_mib));
  json.add("rand_qd", static_cast<double>(c.rand_qd));
  json.add("seconds_per_row", c.seconds_per_row);
  json.add("files", static_cast<double>(c.files));
  json.add("meta_qd", static_cast<double>(c.meta_qd));
  json.add("readdir_passes", static_cast<double>(c.readdir_passes));
  json.add("seed", static_cast<double>(c.seed));
  json.add("rows_mask", (o.seq ? 1 : 0) + (o.random ? 2 : 0) + (o.meta ? 4 : 0));
  std::printf("%s\n", json.str().c_str());
}

int run(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  if (!o.compare_ours.empty()) return compare_runs(o.compare_ours, o.compare_peer);
  std::fprintf(stderr, "nfs_bench [%s]: %s, seed %llu, run directory %s\n", o.label.c_str(),
               o.url.c_str(), static_cast<unsigned long long>(o.run.seed), o.run.dir.c_str());
  NfsSession session(o.url);
  Results r;
  r.readmax_kib = static_cast<double>(nfs_get_readmax(session.context())) / 1024;
  r.writemax_kib = static_cast<double>(nfs_get_writemax(session.context())) / 1024;
  if (nfs_mkdir(session.context(), o.run.dir.c_str()) != 0) {
    fail("mkdir " + o.run.dir + ": " + session.error());
  }
  if (o.seq) r.seq = run_sequential(session, o.run);
  if (o.random) r.random = run_random(session, o.run);
  if (o.meta) r.meta = run_metadata(session, o.run);
  if (!o.keep) remove_run_files(session, o.run);
  if (!o.json_only) print_table(o, r);
  print_json(o, r);
  return 0;
}

}  // namespace
}  // namespace splitarray::bench::nfs

int main(int argc, char** argv) { return splitarray::bench::nfs::run(argc, argv); }
