// tests/bench/shelf_bench.cpp
// Shelf benchmark: a real `netshelf` process, formatted fresh in a temp state dir and driven over
// loopback TCP by protocol::ShelfClient, next to the raw file system in the same run:
//   - NVRAM append, 4 KiB / 64 KiB records, 1 and 8 appenders. The qd1 rows interleave, op by
//     op, pwrite+fdatasync loops on ring-sized files in the same dir (record-sized writes, and
//     the NVRAM's own layout: 64-byte header, 512-byte aligned) and an nvram_usage RPC (round
//     trip, no I/O), so the ratios compare latencies under the same machine noise.
//   - 1 MiB fragments, 4 in flight, write / cold read / delete, vs sequential 1 MiB
//     pwrite+fdatasync and cold pread at qd1.
// Appenders are coroutines on ONE connection appending for ONE host (fresh host id per row), as
// a host driver would. A worker whose reply shows the ring over half full trims through the
// sequence just acknowledged: inside the window (ops/s pays for it) but not counted as latency.
// Checked while measuring (any mismatch aborts): acks in order per worker; sequences contiguous
// from 1, no duplicates; every untrimmed record read back byte-identical; every fragment read
// back passes verify_fragment with its identity and the CRC32C of the whole fragment written;
// device reads match per block; the disks are empty after the deletes; SIGTERM exits 0.
// Reads are cold (POSIX_FADV_DONTNEED first) and read their data set at most once.
//
// usage: shelf_bench [--seconds N] [--quick] [--dir DIR]   (state dir made inside DIR, or /tmp)
// Output: a table, then one JSON object as the last line of stdout.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/async/task_group.h"
#include "common/crc32c.h"
#include "common/endian.h"
#include "common/env_asio/asio_env.h"
#include "common/prng.h"
#include "protocol/fragment_header.h"
#include "protocol/shelf_client.h"
#include "tests/bench/bench_report.h"
#include "tests/bench/shelf_bench_recorder.h"

namespace splitarray::bench {
namespace {

using protocol::ShelfClient;

constexpr Epoch kEpoch{1};
constexpr HostId kFragmentHost{1};
constexpr uint32_t kGeneration = 1;
constexpr size_t kFragmentPayloadBytes = 1 * kMiB;
constexpr size_t kFragmentsInflight = 4;
constexpr size_t kNvramRecordHeaderBytes = 64;      // netshelf/nvram/README.md "Layout"
constexpr size_t kTagBytes = 8;                     // each record/fragment starts with its tag
constexpr uint64_t kTagWorkerShift = 40;            // record tag = worker << shift | n (n >= 1)
constexpr uint32_t kReadChunkBytes = 1 * kMiB;      // NVRAM read-back reply size
constexpr uint64_t kSeedBase = 0x5348454C46000000;  // "SHELF"
constexpr std::chrono::seconds kStartTimeout{20};
constexpr std::chrono::seconds kStopTimeout{30};
constexpr double kSlotFillFraction = 0.9;             // fragment writes stop before the disks fill
constexpr std::chrono::milliseconds kBusyBackoff{1};  // an append refused as kBusy is resent after

// Sizes of the shelf's files and of the device files; --quick keeps everything small.
struct Layout {
  int disks = 4;
  uint64_t disk_bytes = 0;
  uint64_t nvram_bytes = 0;
  uint32_t hosts_max = 16;
  uint64_t device_seq_max_bytes = 0;  // the sequential device file wraps here
  uint64_t ring_bytes() const { return nvram_bytes / hosts_max; }
};

Layout layout_for(bool quick) {
  Layout layout;
  layout.disk_bytes = quick ? 64 * kMiB : 1 * kGiB;  // sparse files
  layout.nvram_bytes = quick ? 64 * kMiB : 256 * kMiB;
  layout.device_seq_max_bytes = quick ? 256 * kMiB : 4 * kGiB;
  return layout;
}

struct Options {
  BenchOptions bench;
  std::string base_dir;
};

Options parse_options(int argc, char** argv) {
  Options options;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      options.base_dir = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  options.bench = parse_bench_options(static_cast<int>(rest.size()), rest.data());
  if (options.base_dir.empty()) options.base_dir = std::filesystem::temp_directory_path();
  return options;
}

std::string errno_text(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

// A window without warmup, for rows whose first operations are as representative as any.
Window window_now(double seconds) {
  const auto start = BenchClock::now();
  const auto length =
      std::chrono::duration_cast<BenchClock::duration>(std::chrono::duration<double>(seconds));
  return Window{start, start + length};
}

struct Row {
  std::string name;  // table
  std::string key;   // JSON prefix
  RowResult result;
  std::string note;
};

// ---------------------------------------------------------------------------------------------
// The netshelf process. Started with fork + PR_SET_PDEATHSIG so that it dies with us even when
// a failed check aborts this program (bench::fail calls abort: no destructors run).

pid_t spawn(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) fail(errno_text("open", log_path));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) fail(errno_text("fork", args[0]));
  if (pid == 0) {  // child: async-signal-safe calls only
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  return pid;
}

// Exit status (128 + signal when killed), or -1 if still running at the deadline.
int wait_exit(pid_t pid, std::chrono::seconds timeout) {
  const auto give_up = BenchClock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t got = ::waitpid(pid, &status, WNOHANG);
    if (got == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
    }
    if (got < 0 && errno != EINTR) fail(std::string("waitpid: ") + std::strerror(errno));
    if (BenchClock::now() > give_up) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

uint16_t free_port() {
  asio::io_context io;
  AsioEnv asio_env(io, AsioEnvOptions{.log_level = LogLevel::kWarn, .component = "bench"});
  auto listener = asio_env.env().network.listen(Address{"127.0.0.1", 0});
  if (!listener.ok()) fail("listen: " + listener.error().to_string());
  return (*listener)->local_address().port;
}

std::string write_config(const std::string& dir, const Layout& layout, uint16_t port) {
  std::string disks;
  for (int d = 0; d < layout.disks; ++d) {
    if (d > 0) disks += ", ";
    disks += R"({"path": ")" + dir + "/disk" + std::to_string(d) + R"(.img", "size_bytes": )" +
             std::to_string(layout.disk_bytes) + "}";
  }
  const std::string path = dir + "/shelf.json";
  std::ofstream out(path);
  out << R"({"cluster_id": 1, "shelf_id": 1, "listen": "127.0.0.1:)" << port << R"(", "disks": [)"
      << disks << R"(], "slot_payload_bytes": )" << kFragmentPayloadBytes
      << R"(, "nvram": {"path": ")" << dir << R"(/nvram.img", "size_bytes": )" << layout.nvram_bytes
      << R"(, "hosts_max": )" << layout.hosts_max << R"(}, "index_dir": ")" << dir
      << R"(/index", "registers_path": ")" << dir << R"(/registers.log",)"
      << R"( "log_level": "warn"})";
  out.close();
  if (!out) fail("cannot write " + path);
  return path;
}

Task<std::unique_ptr<ShelfClient>> connect_shelf(Env& env, Address address, pid_t shelf) {
  const auto give_up = BenchClock::now() + kStartTimeout;
  const protocol::RpcClientOptions options;
  for (;;) {
    auto client = co_await ShelfClient::connect(env, address, options);
    if (client.ok()) co_return std::move(client).value();
    if (wait_exit(shelf, std::chrono::seconds(0)) >= 0) fail("netshelf exited during startup");
    if (BenchClock::now() > give_up)
      fail("netshelf did not come up: " + client.error().to_string());
    co_await sleep_for(env.clock, std::chrono::milliseconds(20));
  }
}

// ---------------------------------------------------------------------------------------------
// Raw device: POSIX calls on files in the same directory (tests/ may; core code may not).

class DeviceFile final {
 public:
  // A fresh sparse file of `size_bytes`, like the shelf's files right after format.
  DeviceFile(std::string path, uint64_t size_bytes) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(errno_text("open", path_));
    if (::ftruncate(fd_, static_cast<off_t>(size_bytes)) != 0) fail(errno_text("ftruncate", path_));
  }
  ~DeviceFile() {
    ::close(fd_);
    std::filesystem::remove(path_);
  }
  DeviceFile(const DeviceFile&) = delete;
  DeviceFile& operator=(const DeviceFile&) = delete;

  void write_sync(std::span<const uint8_t> bytes, uint64_t offset) {
    const ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n != static_cast<ssize_t>(bytes.size())) fail(errno_text("pwrite", path_));
    if (::fdatasync(fd_) != 0) fail(errno_text("fdatasync", path_));
  }
  void read(std::span<uint8_t> out, uint64_t offset) {
    const ssize_t n = ::pread(fd_, out.data(), out.size(), static_cast<off_t>(offset));
    if (n != static_cast<ssize_t>(out.size())) fail(errno_text("pread", path_));
  }

 private:
  const std::string path_;
  int fd_ = -1;
};

// Drops the page cache of a (clean, flushed) file another process owns: a hint, no data change.
void drop_file_cache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(errno_text("open", path));
  if (::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) fail("fadvise " + path);
  ::close(fd);
}

// pwrite + fdatasync of `io_bytes` at back-to-back offsets of a ring-sized sparse file, wrapping
// (the write pattern of one host's NVRAM ring), interleaved op by op with a qd1 append row.
struct DeviceLoop {
  DeviceLoop(std::string name_in, std::string key_in, const std::string& path, size_t io_bytes,
             uint64_t ring_bytes_in, Window window, size_t bytes_per_op)
      : name(std::move(name_in)),
        key(std::move(key_in)),
        file(path, ring_bytes_in),
        block(io_bytes, 0x5A),
        ring_bytes(ring_bytes_in),
        recorder(window, bytes_per_op, true) {}
  void step() {
    const auto start = BenchClock::now();
    file.write_sync(block, offset);
    recorder.record(start, BenchClock::now());
    offset = offset + 2 * block.size() > ring_bytes ? 0 : offset + block.size();
  }
  const std::string name;
  const std::string key;
  DeviceFile file;
  const std::vector<uint8_t> block;
  const uint64_t ring_bytes;
  Recorder recorder;
  uint64_t offset = 0;
};

// Sequential 1 MiB pwrite + fdatasync, then a cold sequential pread pass over what was written.
void run_device_seq_rows(const std::string& path, uint64_t max_bytes, double seconds,
                         RowResult& write, RowResult& read) {
  DeviceFile file(path, max_bytes);
  const uint64_t blocks_max = max_bytes / kFragmentPayloadBytes;
  std::vector<uint8_t> block(kFragmentPayloadBytes);
  Prng(kSeedBase + 1).fill(block);
  std::vector<uint32_t> crcs;  // [block] -> CRC32C of its bytes
  const Window window = make_window(seconds);
  Recorder writes(window, kFragmentPayloadBytes);
  for (uint64_t n = 0;; ++n) {
    const auto sent = BenchClock::now();
    if (writes.finished(sent)) break;
    const uint64_t index = n % blocks_max;
    put_u64(block, 0, n);
    file.write_sync(block, index * kFragmentPayloadBytes);
    if (crcs.size() <= index) crcs.resize(index + 1);
    crcs[index] = crc32c(block);
    writes.record(sent, BenchClock::now());
  }
  write = writes.result("device write");

  drop_file_cache(path);
  const Window read_window = window_now(seconds);
  Recorder reads(read_window, kFragmentPayloadBytes);
  for (uint64_t index = 0;; ++index) {
    if (index == crcs.size()) {
      reads.set_exhausted();
      break;
    }
    const auto sent = BenchClock::now();
    if (reads.finished(sent)) break;
    file.read(block, index * kFragmentPayloadBytes);
    if (crc32c(block) != crcs[index]) fail("device read: block " + std::to_string(index));
    reads.record(sent, BenchClock::now());
  }
  read = reads.result("device read");
}

// ---------------------------------------------------------------------------------------------
// NVRAM appends.

struct AppendSpec {
  const char* label;  // JSON: nvram_append_<label>_qd<appenders>_...
  size_t record_bytes;
  size_t appenders;
};

constexpr AppendSpec kAppendRows[] = {
    {"4k", 4 * kKiB, 1}, {"4k", 4 * kKiB, 8}, {"64k", 64 * kKiB, 1}, {"64k", 64 * kKiB, 8}};

struct AppendRow {
  HostId host;
  std::vector<std::vector<uint8_t>> templates;  // per worker: its record with a zero tag
  std::vector<uint64_t> tags;                   // [sequence - 1] -> tag; 0 = not acknowledged
  uint64_t trimmed_through = 0;
  uint64_t trims = 0;
  uint64_t busy_retries = 0;  // appends refused with kBusy (ring full) and sent again
  bool trimming = false;
};

void note_ack(AppendRow& row, uint64_t sequence, uint64_t tag) {
  if (sequence == 0) fail("nvram append: sequence 0 acknowledged");
  if (row.tags.size() < sequence) row.tags.resize(sequence, 0);
  if (row.tags[sequence - 1] != 0) fail("nvram append: sequence acknowledged twice");
  row.tags[sequence - 1] = tag;
}

Task<void> trim_through(ShelfClient& shelf, AppendRow& row, uint64_t through) {
  ASSERT(!row.trimming);
  row.trimming = true;
  Result<void> trimmed = co_await shelf.nvram_trim(row.host, kEpoch, through);
  if (!trimmed.ok()) fail("nvram trim: " + trimmed.error().to_string());
  row.trimmed_through = std::max(row.trimmed_through, through);
  ++row.trims;
  row.trimming = false;
}

// True once every recorder this worker feeds has finished its window.
bool append_finished(const Recorder& recorder, const Recorder* rpc,
                     const std::vector<std::unique_ptr<DeviceLoop>>& devices) {
  const auto now = BenchClock::now();
  if (!recorder.finished(now) || (rpc != nullptr && !rpc->finished(now))) return false;
  return std::all_of(devices.begin(), devices.end(), [now](const std::unique_ptr<DeviceLoop>& d) {
    return d->recorder.finished(now);
  });
}

Task<void> append_worker(Clock& clock, ShelfClient& shelf, AppendRow& row, uint64_t worker,
                         Recorder& recorder, std::vector<std::unique_ptr<DeviceLoop>>& devices,
                         Recorder* rpc) {
  std::vector<std::vector<uint8_t>> batch{row.templates[worker]};
  uint64_t last_sequence = 0;
  for (uint64_t n = 1;; ++n) {
    const uint64_t tag = (worker << kTagWorkerShift) | n;
    put_u64(batch[0], 0, tag);
    if (append_finished(recorder, rpc, devices)) break;
    for (const std::unique_ptr<DeviceLoop>& device : devices) {  // blocks the loop: qd1 only
      device->step();
    }
    const auto sent = BenchClock::now();
    Result<protocol::NvramAppendRep> rep = co_await shelf.nvram_append(row.host, kEpoch, batch);
    if (!rep.ok() && rep.code() == Code::kBusy) {
      // The ring is full while another worker's trim is on its way: back off and resend, as a
      // host driver does. The stall is in the window (ops/s pays for it), not in the latencies.
      ++row.busy_retries;
      co_await sleep_for(clock, kBusyBackoff);
      continue;
    }
    recorder.record(sent, BenchClock::now());
    if (!rep.ok()) fail("nvram append: " + rep.error().to_string());
    if (rep->first_sequence <= last_sequence) fail("nvram append: acks out of sequence order");
    last_sequence = rep->first_sequence;
    note_ack(row, rep->first_sequence, tag);
    // Acks come in sequence order, so everything through this one is durable: trimmable.
    if (rep->used_bytes * 2 > rep->capacity_bytes && !row.trimming) {
      co_await trim_through(shelf, row, rep->first_sequence);
    }
    if (rpc != nullptr) {
      const auto start = BenchClock::now();
      Result<protocol::NvramUsageValue> usage = co_await shelf.nvram_usage(row.host);
      rpc->record(start, BenchClock::now());
      if (!usage.ok()) fail("nvram usage: " + usage.error().to_string());
    }
  }
}

// Every acknowledged sequence is present once (contiguous from 1), and every untrimmed record
// reads back byte-identical.
Task<void> verify_appends(ShelfClient& shelf, const AppendRow& row) {
  for (size_t i = 0; i < row.tags.size(); ++i) {
    if (row.tags[i] == 0) fail("nvram append: acknowledged sequences are not contiguous");
  }
  const uint64_t end = row.tags.size() + 1;
  for (uint64_t from = row.trimmed_through + 1; from < end;) {
    Result<protocol::NvramRecords> read =
        co_await shelf.nvram_read(row.host, from, kReadChunkBytes);
    if (!read.ok()) fail("nvram read: " + read.error().to_string());
    if (read->next_sequence != end) fail("nvram read: log end differs from the acknowledged end");
    if (read->first_sequence != from || read->records.empty()) fail("nvram read: wrong start");
    for (const std::vector<uint8_t>& record : read->records) {
      const uint64_t tag = record.size() >= kTagBytes ? get_u64(record, 0) : 0;
      const uint64_t worker = tag >> kTagWorkerShift;
      if (tag != row.tags[from - 1] || worker >= row.templates.size()) {
        fail("nvram read: record " + std::to_string(from) + " is not the one acknowledged");
      }
      const std::vector<uint8_t>& expected = row.templates[worker];
      if (record.size() != expected.size() ||
          !std::equal(record.begin() + kTagBytes, record.end(), expected.begin() + kTagBytes)) {
        fail("nvram read: record " + std::to_string(from) + " bytes differ");
      }
      ++from;
    }
  }
}

// One row of appends. A qd1 row also runs, op by op in the same loop, pwrite+fdatasync device
// loops (the record size 4 KiB-aligned, and the NVRAM ring's own pattern: 64-byte header +
// record, 512-byte aligned) and an nvram_usage call (the RPC round trip alone, no I/O).
Task<void> run_append_row(Env& env, ShelfClient& shelf, AppendSpec spec, HostId host,
                          std::string dir, uint64_t ring_bytes, double seconds,
                          std::vector<Row>& rows) {
  AppendRow row;
  row.host = host;
  for (size_t w = 0; w < spec.appenders; ++w) {
    row.templates.emplace_back(spec.record_bytes);
    Prng(kSeedBase + host.value() * 64 + w).fill(row.templates.back());
  }
  const Window window = make_window(seconds);
  const bool serial = spec.appenders == 1;
  const std::string label(spec.label);
  std::vector<std::unique_ptr<DeviceLoop>> devices;
  if (serial) {
    const size_t as_record = (kNvramRecordHeaderBytes + spec.record_bytes + 511) / 512 * 512;
    devices.push_back(std::make_unique<DeviceLoop>(
        "device fdatasync " + label, "device_fdatasync_" + label, dir + "/device-a.img",
        spec.record_bytes, ring_bytes, window, spec.record_bytes));
    devices.push_back(std::make_unique<DeviceLoop>(
        "device fdatasync " + label + " as NVRAM", "device_fdatasync_" + label + "_nvram_layout",
        dir + "/device-b.img", as_record, ring_bytes, window, spec.record_bytes));
  }
  Recorder recorder(window, spec.record_bytes, serial);
  Recorder rpc(window, 0, serial);
  async::TaskGroup workers;
  for (size_t w = 0; w < spec.appenders; ++w) {
    workers.spawn(env.executor(), append_worker(env.clock, shelf, row, w, recorder, devices,
                                                serial ? &rpc : nullptr));
  }
  co_await workers.join();
  co_await verify_appends(shelf, row);
  const std::string qd = "qd" + std::to_string(spec.appenders);
  for (const std::unique_ptr<DeviceLoop>& d : devices) {
    rows.push_back(Row{d->name, d->key, d->recorder.result(d->name), "interleaved with next"});
  }
  rows.push_back(Row{
      "nvram append " + label + " " + qd, "nvram_append_" + label + "_" + qd,
      recorder.result("nvram append"),
      std::to_string(row.tags.size()) + " recs verified, " + std::to_string(row.trims) + " trims" +
          (row.busy_retries == 0 ? "" : ", " + std::to_string(row.busy_retries) + " busy")});
  if (serial) {
    rows.push_back(Row{"rpc round trip (usage), " + label, "rpc_roundtrip_" + label,
                       rpc.result("rpc"), "interleaved, no I/O"});
  }
}

// ---------------------------------------------------------------------------------------------
// Fragments: 1 MiB payloads on container % disks, kFragmentsInflight workers on one connection.

struct FragmentSet {
  int disks = 0;
  uint64_t cap = 0;                  // at most this many fragments (the disks' slots)
  uint64_t next_container = 1;       // next to write
  std::vector<uint64_t> containers;  // acknowledged writes, in completion order
  std::vector<uint32_t> crcs;        // CRC32C of each whole fragment as written
  size_t next = 0;                   // next index to read or delete
};

DiskIndex disk_of(const FragmentSet& set, uint64_t container) {
  return DiskIndex(static_cast<uint16_t>(container % static_cast<uint64_t>(set.disks)));
}

Task<void> fragment_write_worker(ShelfClient& shelf, FragmentSet& set, uint64_t worker,
                                 Recorder& recorder) {
  std::vector<uint8_t> payload(kFragmentPayloadBytes);
  Prng(kSeedBase + 1000 + worker).fill(payload);
  for (;;) {
    if (recorder.finished(BenchClock::now())) break;
    if (set.next_container > set.cap) {
      recorder.set_exhausted();
      break;
    }
    const uint64_t container = set.next_container++;
    put_u64(payload, 0, container);
    const protocol::FragmentId id{ContainerId(container), 0, kGeneration};
    std::vector<uint8_t> fragment = protocol::build_fragment(id, payload);
    const uint32_t crc = crc32c(fragment);
    const protocol::FragmentIdValue value{container, 0, kGeneration};
    const DiskIndex disk = disk_of(set, container);
    const auto sent = BenchClock::now();
    Result<void> written =
        co_await shelf.fragment_write(kFragmentHost, kEpoch, disk, value, std::move(fragment));
    recorder.record(sent, BenchClock::now());
    if (!written.ok()) fail("fragment write: " + written.error().to_string());
    set.containers.push_back(container);
    set.crcs.push_back(crc);
  }
}

// Reads (verifying) or deletes set.containers from set.next on, until the set or window ends.
Task<void> fragment_visit_worker(ShelfClient& shelf, FragmentSet& set, bool read,
                                 Recorder& recorder) {
  for (;;) {
    if (set.next == set.containers.size()) {
      recorder.set_exhausted();
      break;
    }
    const auto sent = BenchClock::now();
    if (recorder.finished(sent)) break;
    const size_t i = set.next++;
    const uint64_t container = set.containers[i];
    const protocol::FragmentIdValue value{container, 0, kGeneration};
    const DiskIndex disk = disk_of(set, container);
    if (!read) {
      Result<void> deleted = co_await shelf.fragment_delete(kFragmentHost, kEpoch, disk, value);
      recorder.record(sent, BenchClock::now());
      if (!deleted.ok()) fail("fragment delete: " + deleted.error().to_string());
      continue;
    }
    Result<std::vector<uint8_t>> got = co_await shelf.fragment_read(disk, value, 0, 0);
    recorder.record(sent, BenchClock::now());
    if (!got.ok()) fail("fragment read: " + got.error().to_string());
    Result<protocol::FragmentHeader> header = protocol::verify_fragment(*got);
    if (!header.ok()) fail("fragment read: " + header.error().to_string());
    if (header->id.container.value() != container || crc32c(*got) != set.crcs[i]) {
      fail("fragment read: container " + std::to_string(container) + " differs from written");
    }
  }
}

// Sum of slots_used (or slots_total) over the shelf's disks.
Task<uint64_t> count_slots(ShelfClient& shelf, bool used) {
  Result<protocol::StatusRep> status = co_await shelf.status();
  if (!status.ok()) fail("status: " + status.error().to_string());
  uint64_t slots = 0;
  for (const protocol::DiskInfoValue& disk : status->disks) {
    slots += used ? disk.slots_used : disk.slots_total;
  }
  co_return slots;
}

// Runs kFragmentsInflight workers of one kind and waits for them.
enum class FragmentOp { kWrite, kRead, kDelete };

Task<void> run_fragment_workers(Env& env, ShelfClient& shelf, FragmentSet& set, FragmentOp op,
                                Recorder& recorder) {
  set.next = 0;
  async::TaskGroup workers;
  for (size_t w = 0; w < kFragmentsInflight; ++w) {
    if (op == FragmentOp::kWrite) {
      workers.spawn(env.executor(), fragment_write_worker(shelf, set, w, recorder));
    } else {
      workers.spawn(env.executor(),
                    fragment_visit_worker(shelf, set, op == FragmentOp::kRead, recorder));
    }
  }
  co_await workers.join();
}

Task<void> run_fragment_rows(Env& env, ShelfClient& shelf, const std::string& dir,
                             const Layout& layout, double seconds, std::vector<Row>& rows) {
  if (co_await count_slots(shelf, true) != 0) fail("fragment rows: the disks are not empty");
  FragmentSet set;
  set.disks = layout.disks;
  set.cap = static_cast<uint64_t>(static_cast<double>(co_await count_slots(shelf, false)) *
                                  kSlotFillFraction);
  const std::string qd = "qd" + std::to_string(kFragmentsInflight);
  const Window write_window = make_window(seconds);
  Recorder writes(write_window, kFragmentPayloadBytes);
  co_await run_fragment_workers(env, shelf, set, FragmentOp::kWrite, writes);
  rows.push_back(Row{"fragment write 1 MiB " + qd, "fragment_write", writes.result("frag write"),
                     std::to_string(set.containers.size()) + " fragments"});

  for (int d = 0; d < layout.disks; ++d)
    drop_file_cache(dir + "/disk" + std::to_string(d) + ".img");
  const Window read_window = window_now(seconds);
  Recorder reads(read_window, kFragmentPayloadBytes);
  co_await run_fragment_workers(env, shelf, set, FragmentOp::kRead, reads);
  rows.push_back(Row{"fragment read 1 MiB " + qd + " cold", "fragment_read",
                     reads.result("frag read"), std::to_string(set.next) + " CRC-verified"});

  const Window delete_window = window_now(3600);  // deletes everything, however long it takes
  Recorder deletes(delete_window, 0);
  co_await run_fragment_workers(env, shelf, set, FragmentOp::kDelete, deletes);
  if (co_await count_slots(shelf, true) != 0) fail("fragment delete: slots still in use");
  rows.push_back(Row{"fragment delete " + qd, "fragment_delete", deletes.result("frag delete"),
                     "all " + std::to_string(set.containers.size()) + ", disks empty after"});
}

// ---------------------------------------------------------------------------------------------
// The run: rows in an order that puts each shelf row next to its device baseline in time.

Task<void> run_rows(Env& env, Address address, pid_t process, std::string dir, Layout layout,
                    double seconds, std::vector<Row>& rows) {
  std::unique_ptr<ShelfClient> shelf = co_await connect_shelf(env, address, process);
  uint32_t next_host = 1;
  for (const AppendSpec& spec : kAppendRows) {
    const HostId host(next_host++);
    co_await run_append_row(env, *shelf, spec, host, dir, layout.ring_bytes(), seconds, rows);
  }
  RowResult device_write;
  RowResult device_read;
  run_device_seq_rows(dir + "/device-seq.img", layout.device_seq_max_bytes, seconds, device_write,
                      device_read);
  rows.push_back(Row{"device write 1 MiB+fdatasync", "device_write", device_write, "qd1"});
  rows.push_back(Row{"device read 1 MiB cold", "device_read", device_read, "qd1, CRC-verified"});
  co_await run_fragment_rows(env, *shelf, dir, layout, seconds, rows);
  co_await shelf->close();
}

// ---------------------------------------------------------------------------------------------
// Output.

const RowResult& find_row(const std::vector<Row>& rows, const std::string& key) {
  for (const Row& row : rows) {
    if (row.key == key) return row.result;
  }
  fail("no row " + key);
}

struct Ratio {
  const char* name;
  const char* key;
  double value;
};

std::vector<Ratio> ratios(const std::vector<Row>& rows) {
  const auto p50 = [&rows](const char* key) { return find_row(rows, key).p50_us; };
  const auto mbps = [&rows](const char* key) { return find_row(rows, key).mbps; };
  return {
      {"nvram append p50 / device fdatasync p50, 4 KiB (target <= 1.5)",
       "ratio_append_p50_to_fdatasync_p50_4k",
       p50("nvram_append_4k_qd1") / p50("device_fdatasync_4k")},
      {"nvram append p50 / device fdatasync p50 in the NVRAM's layout, 4 KiB",
       "ratio_append_p50_to_nvram_layout_fdatasync_p50_4k",
       p50("nvram_append_4k_qd1") / p50("device_fdatasync_4k_nvram_layout")},
      {"nvram append p50 / device fdatasync p50, 64 KiB", "ratio_append_p50_to_fdatasync_p50_64k",
       p50("nvram_append_64k_qd1") / p50("device_fdatasync_64k")},
      {"fragment write MB/s / device write MB/s", "ratio_fragment_write_to_device_write",
       mbps("fragment_write") / mbps("device_write")},
      {"fragment read MB/s / device read MB/s", "ratio_fragment_read_to_device_read",
       mbps("fragment_read") / mbps("device_read")},
  };
}

void print_table(const std::vector<Row>& rows, const Layout& layout, const Options& options) {
  std::printf(
      "shelf_bench: real netshelf (%d disks x %llu MiB sparse, NVRAM %llu MiB / %u hosts) in %s,"
      " %.2f s per row\nappenders: coroutines on one connection, one host per row; fragments: "
      "%zu in flight on one connection; MB/s = 10^6 payload bytes/s\n\n",
      layout.disks, static_cast<unsigned long long>(layout.disk_bytes / kMiB),
      static_cast<unsigned long long>(layout.nvram_bytes / kMiB), layout.hosts_max,
      options.base_dir.c_str(), options.bench.seconds_per_row, kFragmentsInflight);
  std::printf("%-31s %10s %9s %9s %9s  %s\n", "row", "ops/s", "MB/s", "p50 us", "p99 us", "note");
  for (const Row& r : rows) {
    std::printf("%-31s %10.0f %9.1f %9.1f %9.1f  %s\n", r.name.c_str(), r.result.msgs_per_s,
                r.result.mbps, r.result.p50_us, r.result.p99_us, r.note.c_str());
  }
  std::printf("\n");
  for (const Ratio& ratio : ratios(rows)) std::printf("%-64s %6.2f\n", ratio.name, ratio.value);
  std::printf("\n");
}

void print_json(const std::vector<Row>& rows, const Options& options) {
  JsonLine json;
  json.add("seconds_per_row", options.bench.seconds_per_row);
  json.add("nvram_append_p50_us", find_row(rows, "nvram_append_4k_qd1").p50_us);
  json.add("nvram_append_p99_us", find_row(rows, "nvram_append_4k_qd1").p99_us);
  json.add("device_fdatasync_p50_us", find_row(rows, "device_fdatasync_4k").p50_us);
  json.add("device_fdatasync_p99_us", find_row(rows, "device_fdatasync_4k").p99_us);
  for (const Row& r : rows) {
    json.add(r.key + "_ops_per_s", r.result.msgs_per_s);
    if (r.result.mbps > 0) json.add(r.key + "_mbps", r.result.mbps);
    json.add(r.key + "_p50_us", r.result.p50_us);
    json.add(r.key + "_p99_us", r.result.p99_us);
  }
  for (const Ratio& ratio : ratios(rows)) json.add(ratio.key, ratio.value);
  std::printf("%s\n", json.str().c_str());
}

std::string make_state_dir(const std::string& base) {
  std::string pattern = base + "/sa-shelfbench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) fail(errno_text("mkdtemp", pattern));
  return pattern;
}

int run(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  const Layout layout = layout_for(options.bench.quick);
  const std::string dir = make_state_dir(options.base_dir);
  std::fprintf(stderr, "shelf_bench: state dir %s (left behind on failure)\n", dir.c_str());
  const uint16_t port = free_port();
  const std::string config = write_config(dir, layout, port);
  const std::string log = dir + "/netshelf.log";
  const pid_t format = spawn({NETSHELF_BINARY, "format", "--config", config}, log);
  if (wait_exit(format, kStopTimeout) != 0) fail("netshelf format failed (see " + log + ")");

  std::vector<Row> rows;
  const pid_t shelf = spawn({NETSHELF_BINARY, "--config", config}, log);
  {
    asio::io_context io;
    AsioEnv asio_env(io, AsioEnvOptions{.compute_threads = 1,
                                        .blocking_io_threads = 1,
                                        .log_level = LogLevel::kWarn,
                                        .component = "bench-client"});
    asio::co_spawn(io,
                   run_rows(asio_env.env(), Address{"127.0.0.1", port}, shelf, dir, layout,
                            options.bench.seconds_per_row, rows),
                   [](std::exception_ptr error) {
                     if (error) std::rethrow_exception(error);  // a bug: abort via terminate
                   });
    io.run();
  }
  ::kill(shelf, SIGTERM);
  const int status = wait_exit(shelf, kStopTimeout);
  if (status != 0) fail("netshelf did not exit 0 on SIGTERM: " + std::to_string(status));
  print_table(rows, layout, options);
  print_json(rows, options);
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace splitarray::bench

int main(int argc, char** argv) { return splitarray::bench::run(argc, argv); }
