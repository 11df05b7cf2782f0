// Tests of the simulated storage (sim/env/sim_storage): what a write, flush, crash or power loss
// leaves on a machine's files, the errors each injected fault produces, where silent faults may
// land, and the namespace operations. Randomized tests take SPLITARRAY_SEED (printed).
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/sim/env/sim_bed.h"

namespace splitarray::sim {
namespace {

using namespace testing;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;

// Opens a file only if it exists.
constexpr FileOptions kExisting{};

// One line per operation, "name=outcome" (or yes/no), compared whole so a failure shows every step.
struct Log {
  std::string text;
  template <class T>
  void note(std::string_view name, const Result<T>& result) {
    add(name, outcome(result));
  }
  void note(std::string_view name, bool yes) { add(name, yes ? "yes" : "no"); }
  void add(std::string_view name, std::string_view what) {
    if (!text.empty()) text += ' ';
    text.append(name).append("=").append(what);
  }
};

// Random bytes, none of them zero, so a torn or lost write is told apart from zeros.
std::vector<uint8_t> nonzero_pattern(uint64_t seed, size_t size) {
  std::vector<uint8_t> bytes(size);
  Prng rng(seed);
  rng.fill(bytes);
  for (uint8_t& byte : bytes) byte |= 1;
  return bytes;
}

bool all_zero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t byte) { return byte == 0; });
}

// A world with one machine and the processes a test adds (each run of a "program" on the machine
// is a new process). Outcome structs written by coroutines are declared before the StorageBed.
struct StorageBed : testing::SimBed {
  explicit StorageBed(uint64_t seed) : SimBed(seed) {}

  // Runs `task` in a new process to completion, then ends the process as `ending` says.
  enum class Ending { kExit, kKill, kPowerLoss };
  template <class MakeTask>
  bool run_program(MakeTask make_task, Ending ending = Ending::kExit) {
    SimProcess& p = add("program");
    p.spawn(make_task(p.env()));
    const bool finished = run(minutes(10));
    if (ending == Ending::kKill) p.kill();
    if (ending == Ending::kPowerLoss) p.power_loss();
    if (finished) remove(p);
    return finished;
  }
};

// Writes each (offset, bytes) to `path` (created if missing), flushing at the end if asked.
struct Writes {
  std::string path{};
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> writes{};
  bool flush = false;
  uint64_t create_size_bytes = 0;
  Result<void> result = not_run();
};

Task<void> write_file(Env& env, Writes& w) {
  const FileOptions create{.create = true, .create_size_bytes = w.create_size_bytes};
  Result<std::unique_ptr<File>> file = co_await env.storage.open(w.path, create);
  w.result = status(file);
  if (!file.ok()) co_return;
  for (const auto& write : w.writes) {
    w.result = co_await (*file)->write_at(write.first, write.second);
    if (!w.result.ok()) co_return;
  }
  if (w.flush) w.result = co_await (*file)->flush();
}

// Reads the whole of `path`.
struct Contents {
  Result<void> result = not_run();
  std::vector<uint8_t> bytes;
};

Task<void> read_file(Env& env, std::string path, Contents& out) {
  Result<std::unique_ptr<File>> file = co_await env.storage.open(path, kExisting);
  out.result = status(file);
  if (!file.ok()) co_return;
  Result<uint64_t> size = (*file)->size();
  out.result = status(size);
  if (!size.ok()) co_return;
  out.bytes.resize(*size);
  out.result = co_await (*file)->read_at(0, out.bytes);
}

Contents read_back(StorageBed& bed, const std::string& path) {
  Contents contents;
  SimProcess& reader = bed.add("reader");
  reader.spawn(read_file(reader.env(), path, contents));
  const bool finished = bed.run(minutes(1));
  CHECK(finished);
  if (finished) bed.remove(reader);
  return contents;
}

// ---------------------------------------------------------------------------------------------
// Reads, writes and device time.

Task<void> basic_io(Env& env, Log& log) {
  const FileOptions create{.create = true};
  Result<std::unique_ptr<File>> file = co_await env.storage.open("/f", create);
  if (!file.ok()) co_return;
  const DiskModel model;
  const std::vector<uint8_t> data = nonzero_pattern(1, 2'000'000);
  const TimePoint before_write = env.clock.now();
  log.note("write", co_await (*file)->write_at(4096, data));
  // 2,000,000 bytes at 2 GB/s is 1 ms of transfer, plus the device latency.
  log.note("write_time", env.clock.now() - before_write == milliseconds(1) + model.latency);
  log.note("size", (*file)->size().value() == 4096 + data.size());
  std::vector<uint8_t> back(data.size());
  log.note("read", co_await (*file)->read_at(4096, back));
  log.note("same", back == data);
  std::vector<uint8_t> hole(4096, 0xFF);
  log.note("read_hole", co_await (*file)->read_at(0, hole));
  log.note("zeros", all_zero(hole));
  std::vector<uint8_t> past(20);
  log.note("read_past_end", co_await (*file)->read_at(4096 + data.size() - 10, past));
  const TimePoint before_flush = env.clock.now();
  log.note("flush", co_await (*file)->flush());
  log.note("flush_time", env.clock.now() - before_flush == model.latency + model.flush_latency);
}

TEST_CASE("sim/storage: a write reads back, holes read as zero, time follows the disk model") {
  Log log;
  StorageBed bed(1);
  SimProcess& p = bed.add("a");
  p.spawn(basic_io(p.env(), log));
  REQUIRE(bed.run(minutes(1)));
  CHECK(log.text ==
        "write=ok write_time=yes size=yes read=ok same=yes read_hole=ok zeros=yes "
        "read_past_end=io flush=ok flush_time=yes");
}

// ---------------------------------------------------------------------------------------------
// Crashes and power loss.

TEST_CASE("sim/storage: unflushed writes survive a process kill (the page cache outlives it)") {
  Writes w{.path = "/f",
           .writes = {{0, nonzero_pattern(1, 65536)}, {kMiB, nonzero_pattern(2, 4096)}}};
  StorageBed bed(2);
  auto writer = [&w](Env& env) { return write_file(env, w); };
  REQUIRE(bed.run_program(writer, StorageBed::Ending::kKill));
  REQUIRE(outcome(w.result) == "ok");
  REQUIRE(bed.machine.find("/f") != nullptr);
  CHECK(bed.machine.find("/f")->pending_writes() == 2);  // never flushed

  const Contents contents = read_back(bed, "/f");
  REQUIRE(outcome(contents.result) == "ok");
  REQUIRE(contents.bytes.size() == kMiB + 4096);
  const std::span<const uint8_t> bytes(contents.bytes);
  CHECK(std::equal(w.writes[0].second.begin(), w.writes[0].second.end(), bytes.begin()));
  CHECK(all_zero(bytes.subspan(65536, kMiB - 65536)));
  CHECK(std::equal(w.writes[1].second.begin(), w.writes[1].second.end(), bytes.begin() + kMiB));
}

// What one power-loss run left of each unflushed write.
struct Survival {
  int kept = 0;
  int lost = 0;
  int partial = 0;
  int flushed_damaged = 0;
};

// Writes 16 flushed then 8 unflushed 4 KiB blocks, loses power, and classifies what is left.
void power_loss_run(uint64_t seed, double torn_probability, Survival& s) {
  constexpr uint64_t kBlock = 4096;
  constexpr int kFlushed = 16;
  constexpr int kUnflushed = 8;
  Writes flushed{.path = "/f", .flush = true};
  Writes unflushed{.path = "/f"};
  for (int i = 0; i < kFlushed; ++i)
    flushed.writes.emplace_back(i * kBlock, nonzero_pattern(i, kBlock));
  for (int i = kFlushed; i < kFlushed + kUnflushed; ++i) {
    unflushed.writes.emplace_back(i * kBlock, nonzero_pattern(i, kBlock));
  }
  StorageBed bed(seed);
  bed.plan.at(FaultSite::kDiskTornWrite) = torn_probability;
  auto write_flushed = [&flushed](Env& env) { return write_file(env, flushed); };
  auto write_unflushed = [&unflushed](Env& env) { return write_file(env, unflushed); };
  REQUIRE(bed.run_program(write_flushed));
  REQUIRE(bed.run_program(write_unflushed, StorageBed::Ending::kPowerLoss));
  REQUIRE(outcome(flushed.result) == "ok");
  REQUIRE(outcome(unflushed.result) == "ok");

  const Contents contents = read_back(bed, "/f");
  REQUIRE(outcome(contents.result) == "ok");
  const std::span<const uint8_t> bytes(contents.bytes);
  for (const auto& write : flushed.writes) {
    const bool intact = bytes.size() >= write.first + kBlock &&
                        std::equal(write.second.begin(), write.second.end(), &bytes[write.first]);
    if (!intact) ++s.flushed_damaged;
  }
  for (const auto& write : unflushed.writes) {
    const size_t present = bytes.size() > write.first ? bytes.size() - write.first : 0;
    const std::span<const uint8_t> region = bytes.subspan(write.first, std::min(present, kBlock));
    if (region.size() == kBlock && std::equal(region.begin(), region.end(), write.second.begin())) {
      ++s.kept;
    } else if (all_zero(region)) {
      ++s.lost;
    } else {
      ++s.partial;
    }
  }
}

TEST_CASE("sim/storage: power loss keeps or loses each unflushed write whole, flushed ones stay") {
  const uint64_t seed = seed_from_env();
  MESSAGE("seeds " << seed << ".." << seed + 63 << " (set SPLITARRAY_SEED to replay)");
  Survival s;
  for (uint64_t run = 0; run < 64; ++run) power_loss_run(seed + run, 0.0, s);
  CHECK(s.flushed_damaged == 0);
  CHECK(s.partial == 0);
  CHECK(s.kept > 0);
  CHECK(s.lost > 0);
  CHECK(s.kept + s.lost == 64 * 8);
}

TEST_CASE("sim/storage: flushed writes survive power loss even when unflushed ones tear") {
  const uint64_t seed = seed_from_env();
  MESSAGE("seeds " << seed << ".." << seed + 63 << " (set SPLITARRAY_SEED to replay)");
  Survival s;
  for (uint64_t run = 0; run < 64; ++run) power_loss_run(seed + run, 0.5, s);
  CHECK(s.flushed_damaged == 0);
  CHECK(s.partial > 0);  // the torn ones
}

// One torn write: how much of it landed, and whether the rest is untouched.
struct Torn {
  size_t prefix_bytes = 0;
  bool rest_zero = false;
  uint64_t size = 0;
};

Torn tear_one_write(uint64_t seed, uint64_t create_size_bytes, uint64_t offset, size_t size) {
  Writes w{.path = "/f", .create_size_bytes = create_size_bytes};
  w.writes.emplace_back(offset, nonzero_pattern(seed, size));
  StorageBed bed(seed);
  bed.plan.at(FaultSite::kDiskTornWrite) = 1.0;
  auto writer = [&w](Env& env) { return write_file(env, w); };
  Torn torn;
  REQUIRE(bed.run_program(writer, StorageBed::Ending::kPowerLoss));
  REQUIRE(outcome(w.result) == "ok");
  const Contents contents = read_back(bed, "/f");
  REQUIRE(outcome(contents.result) == "ok");
  torn.size = contents.bytes.size();
  const std::vector<uint8_t>& written = w.writes[0].second;
  const std::span<const uint8_t> bytes(contents.bytes);
  const uint64_t start = std::min<uint64_t>(offset, bytes.size());
  const uint64_t length = std::min<uint64_t>(written.size(), bytes.size() - start);
  const std::span<const uint8_t> region = bytes.subspan(start, length);
  while (torn.prefix_bytes < region.size() &&
         region[torn.prefix_bytes] == written[torn.prefix_bytes]) {
    ++torn.prefix_bytes;
  }
  torn.rest_zero = all_zero(region.subspan(torn.prefix_bytes));
  return torn;
}

TEST_CASE("sim/storage: a torn write leaves a 512-byte-aligned strict prefix, nothing else") {
  const uint64_t seed = seed_from_env();
  MESSAGE("seeds " << seed << ".." << seed + 31 << " (set SPLITARRAY_SEED to replay)");
  std::set<size_t> prefixes;
  std::set<size_t> append_prefixes;
  for (uint64_t run = 0; run < 32; ++run) {
    CAPTURE(run);
    // Inside a preallocated file: the size stays.
    const Torn inside = tear_one_write(seed + run, 256 * 1024, 100 * 1024, 64 * 1024);
    CHECK(inside.prefix_bytes % kSimSectorBytes == 0);
    CHECK(inside.prefix_bytes < 64 * 1024);
    CHECK(inside.rest_zero);
    CHECK(inside.size == 256 * 1024);
    prefixes.insert(inside.prefix_bytes);
    // Two sectors past the end of an empty file: the file ends where the landed prefix ends, and
    // a write of which nothing landed does not grow it.
    const Torn append = tear_one_write(seed + run, 0, 8192, 1024);
    CHECK(append.prefix_bytes % kSimSectorBytes == 0);
    CHECK(append.prefix_bytes < 1024);
    CHECK(append.size == (append.prefix_bytes == 0 ? 0 : 8192 + append.prefix_bytes));
    append_prefixes.insert(append.prefix_bytes);
  }
  CHECK(prefixes.size() > 1);
  CHECK(append_prefixes.size() == 2);  // 0 and 512
}

// ---------------------------------------------------------------------------------------------
// Injected errors and a crashed process's storage.

// Switches sites on and off through the shared plan between operations.
Task<void> provoke_errors(Env& env, FaultPlan& plan, Log& log) {
  const FileOptions create{.create = true};
  Result<std::unique_ptr<File>> file = co_await env.storage.open("/f", create);
  if (!file.ok()) co_return;
  File& f = **file;
  const std::vector<uint8_t> old_data = nonzero_pattern(1, 8192);
  const std::vector<uint8_t> new_data = nonzero_pattern(2, 8192);
  std::vector<uint8_t> back(old_data.size());
  log.note("write", co_await f.write_at(0, old_data));
  plan.at(FaultSite::kDiskWriteError) = 1.0;
  log.note("write", co_await f.write_at(0, new_data));
  plan.at(FaultSite::kDiskWriteError) = 0.0;
  plan.at(FaultSite::kDiskReadError) = 1.0;
  log.note("read", co_await f.read_at(0, back));
  plan.at(FaultSite::kDiskReadError) = 0.0;
  log.note("failed", f.failed());
  log.note("read", co_await f.read_at(0, back));
  log.note("unchanged", back == old_data);

  log.note("write", co_await f.write_at(0, new_data));
  plan.at(FaultSite::kDiskFlushError) = 1.0;
  log.note("flush", co_await f.flush());
  plan.at(FaultSite::kDiskFlushError) = 0.0;
  log.note("failed", f.failed());
  log.note("write", co_await f.write_at(0, old_data));
  log.note("read", co_await f.read_at(0, back));
  log.note("flush", co_await f.flush());

  // A new handle works; the failed flush left the write pending, not dropped.
  Result<std::unique_ptr<File>> again = co_await env.storage.open("/f", kExisting);
  if (!again.ok()) co_return;
  log.note("reopened_read", co_await (*again)->read_at(0, back));
  log.note("new_data", back == new_data);
  log.note("reopened_flush", co_await (*again)->flush());
}

TEST_CASE("sim/storage: read/write errors are kIo, a flush error also fails the handle for good") {
  Log log;
  StorageBed bed(3);
  SimProcess& p = bed.add("a");
  p.spawn(provoke_errors(p.env(), bed.plan, log));
  REQUIRE(bed.run(minutes(1)));
  CHECK(log.text ==
        "write=ok write=io read=io failed=no read=ok unchanged=yes "
        "write=ok flush=io failed=yes write=io read=io flush=io "
        "reopened_read=ok new_data=yes reopened_flush=ok");
  CHECK(bed.machine.find("/f")->pending_writes() == 0);
  CHECK(bed.plan.fired_count(FaultSite::kDiskWriteError) == 1);
  CHECK(bed.plan.fired_count(FaultSite::kDiskReadError) == 1);
  CHECK(bed.plan.fired_count(FaultSite::kDiskFlushError) == 1);
}

Task<void> write_while_killed(Env& env, Log& log) {
  const FileOptions create{.create = true};
  Result<std::unique_ptr<File>> file = co_await env.storage.open("/f", create);
  if (!file.ok()) co_return;
  File& f = **file;
  const std::vector<uint8_t> first = nonzero_pattern(1, 4096);
  log.note("write", co_await f.write_at(0, first));
  log.note("flush", co_await f.flush());
  // 64 MiB at 2 GB/s: about 34 ms on the device; the process is killed at 10 ms.
  const std::vector<uint8_t> big = nonzero_pattern(2, 64 * kMiB);
  log.note("in_flight_write", co_await f.write_at(0, big));
  log.note("write", co_await f.write_at(0, big));
  std::vector<uint8_t> back(4096);
  log.note("read", co_await f.read_at(0, back));
  log.note("flush", co_await f.flush());
  log.note("size", f.size());
  log.note("open", co_await env.storage.open("/f", kExisting));
  log.note("rename", co_await env.storage.rename("/f", "/g"));
  log.note("remove", co_await env.storage.remove("/f"));
  log.note("mkdir", co_await env.storage.make_directory("/d"));
}

TEST_CASE("sim/storage: a killed process's storage fails everything, in flight too, with kIo") {
  Log log;
  StorageBed bed(5);
  SimProcess& p = bed.add("a");
  p.spawn(write_while_killed(p.env(), log));
  bed.world.run_for(milliseconds(10));
  REQUIRE_FALSE(p.finished());
  p.kill();
  REQUIRE(bed.run(minutes(1)));
  CHECK(log.text ==
        "write=ok flush=ok in_flight_write=io write=io read=io flush=io size=io open=io "
        "rename=io remove=io mkdir=io");
  bed.remove(p);

  // Nothing the dead process attempted happened.
  const Contents contents = read_back(bed, "/f");
  REQUIRE(outcome(contents.result) == "ok");
  CHECK(contents.bytes == nonzero_pattern(1, 4096));
  CHECK(bed.machine.find("/g") == nullptr);
  CHECK_FALSE(bed.machine.directory_exists("/d"));
}

// Silent faults: one 4 KiB write at 8 KiB into a 64 KiB file, on an allowed and a protected path.
struct SilentResult {
  uint64_t data_faults = 0;
  uint64_t meta_faults = 0;
  std::vector<uint8_t> data;  // the whole file
  std::vector<uint8_t> expected;
  bool meta_exact = false;
};

SilentResult run_silent(uint64_t seed, FaultSite site) {
  const std::vector<uint8_t> block = nonzero_pattern(seed, 4096);
  Writes data{.path = "/data/f", .writes = {{8192, block}}, .create_size_bytes = 64 * 1024};
  Writes meta{.path = "/meta/f", .writes = {{8192, block}}, .create_size_bytes = 64 * 1024};
  StorageBed bed(seed);
  bed.machine.add_directory("/data");
  bed.machine.add_directory("/meta");
  bed.machine.allow_silent_faults(
      [](const std::string& path) { return path.starts_with("/data/"); });
  bed.plan.at(site) = 1.0;
  auto write_data = [&data](Env& env) { return write_file(env, data); };
  auto write_meta = [&meta](Env& env) { return write_file(env, meta); };
  REQUIRE(bed.run_program(write_data));
  REQUIRE(bed.run_program(write_meta));
  REQUIRE(outcome(data.result) == "ok");  // silent: acknowledged like any good write
  REQUIRE(outcome(meta.result) == "ok");
  SilentResult r;
  r.expected.assign(64 * 1024, 0);
  std::copy(block.begin(), block.end(), r.expected.begin() + 8192);
  r.meta_exact = read_back(bed, "/meta/f").bytes == r.expected;
  r.data = read_back(bed, "/data/f").bytes;
  r.data_faults = bed.machine.find("/data/f")->silent_faults();
  r.meta_faults = bed.machine.find("/meta/f")->silent_faults();
  CHECK(bed.plan.fired_count(site) == 1);  // fired for the allowed path only
  return r;
}

size_t differing_bits(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  REQUIRE(a.size() == b.size());
  size_t bits = 0;
  for (size_t i = 0; i < a.size(); ++i) bits += std::popcount(static_cast<uint8_t>(a[i] ^ b[i]));
  return bits;
}

TEST_CASE("sim/storage: silent faults hit only allowed paths and are counted") {
  const uint64_t seed = seed_from_env();
  MESSAGE("seed " << seed << " (set SPLITARRAY_SEED to replay)");
  SUBCASE("lost write: acknowledged, never lands") {
    const SilentResult r = run_silent(seed, FaultSite::kDiskLostWrite);
    CHECK(r.meta_exact);
    CHECK(r.meta_faults == 0);
    CHECK(r.data_faults == 1);
    CHECK(r.data.size() == 64 * 1024);
    CHECK(all_zero(r.data));
  }
  SUBCASE("bit rot: exactly one bit flipped") {
    const SilentResult r = run_silent(seed, FaultSite::kDiskBitRot);
    CHECK(r.meta_exact);
    CHECK(r.meta_faults == 0);
    CHECK(r.data_faults == 1);
    CHECK(differing_bits(r.data, r.expected) == 1);
  }
  SUBCASE("misdirected write: lands whole at another 4 KiB-aligned offset") {
    for (uint64_t run = 0; run < 8; ++run) {
      const SilentResult r = run_silent(seed + run, FaultSite::kDiskMisdirectedWrite);
      CHECK(r.meta_exact);
      CHECK(r.meta_faults == 0);
      REQUIRE(r.data.size() == 64 * 1024);
      const std::span<const uint8_t> block(r.expected.data() + 8192, 4096);
      std::vector<uint64_t> found_at;
      for (uint64_t offset = 0; offset < r.data.size(); offset += 4096) {
        if (std::equal(block.begin(), block.end(), r.data.begin() + offset)) {
          found_at.push_back(offset);
        } else {
          CHECK(all_zero(std::span<const uint8_t>(r.data).subspan(offset, 4096)));
        }
      }
      REQUIRE(found_at.size() == 1);
      // Landing where it was aimed (a 1-in-16 draw here) is no fault and not counted.
      CHECK(r.data_faults == (found_at[0] == 8192 ? 0u : 1u));
    }
  }
}

TEST_CASE("sim/storage: FileImage::flip_bit rots one bit of data at rest") {
  FileImage image;
  const std::vector<uint8_t> data = nonzero_pattern(4, 10000);
  image.write(0, data);
  CHECK(image.pending_writes() == 1);
  image.flip_bit(5000, 6);
  CHECK(image.pending_writes() == 0);  // rot happens to data at rest: the write became durable
  std::vector<uint8_t> back(data.size());
  image.read(0, back);
  CHECK(differing_bits(back, data) == 1);
  CHECK((back[5000] ^ data[5000]) == (1 << 6));
}

// ---------------------------------------------------------------------------------------------
// The namespace.

Task<void> directories(Env& env, Log& log) {
  const FileOptions create{.create = true};
  log.note("open", co_await env.storage.open("/f", kExisting));
  log.note("create_in_missing_dir", co_await env.storage.open("/dir/f", create));
  log.note("mkdir", co_await env.storage.make_directory("/dir/sub/deepest"));
  log.note("mkdir_existing", co_await env.storage.make_directory("/dir/sub"));
  // make_directory made the parents too.
  log.note("create", co_await env.storage.open("/dir/f", create));
  log.note("create", co_await env.storage.open("/dir/sub/f", create));
  log.note("create", co_await env.storage.open("/dir/sub/deepest/f", create));
  const FileOptions sized{.create = true, .create_size_bytes = kMiB};
  Result<std::unique_ptr<File>> file = co_await env.storage.open("/sized", sized);
  if (!file.ok()) co_return;
  log.note("sized", (*file)->size().value() == kMiB);
  const std::vector<uint8_t> data = nonzero_pattern(3, 100);
  log.note("write", co_await (*file)->write_at(0, data));
  // Create on an existing file opens it as it is.
  Result<std::unique_ptr<File>> again = co_await env.storage.open("/sized", sized);
  if (!again.ok()) co_return;
  std::vector<uint8_t> back(data.size());
  log.note("read", co_await (*again)->read_at(0, back));
  log.note("kept", back == data && (*again)->size().value() == kMiB);
}

TEST_CASE("sim/storage: open without create is kNotFound, create needs its directory to exist") {
  Log log;
  StorageBed bed(6);
  SimProcess& p = bed.add("a");
  p.spawn(directories(p.env(), log));
  REQUIRE(bed.run(minutes(1)));
  CHECK(log.text ==
        "open=not_found create_in_missing_dir=not_found mkdir=ok mkdir_existing=ok create=ok "
        "create=ok create=ok sized=yes write=ok read=ok kept=yes");
}

Task<void> read_all_into(File& file, std::vector<uint8_t>& out) {
  out.resize(file.size().value());
  ignore_result(co_await file.read_at(0, out), "the caller compares the bytes");
}

Task<void> renames(Env& env, Log& log) {
  const std::vector<uint8_t> a_data = nonzero_pattern(10, 5000);
  const std::vector<uint8_t> b_data = nonzero_pattern(11, 3000);
  Writes a{.path = "/a", .writes = {{0, a_data}}, .flush = true};
  Writes b{.path = "/b", .writes = {{0, b_data}}, .flush = true};
  co_await write_file(env, a);
  co_await write_file(env, b);
  Result<std::unique_ptr<File>> old_b = co_await env.storage.open("/b", kExisting);
  if (!old_b.ok()) co_return;

  log.note("rename", co_await env.storage.rename("/a", "/b"));
  log.note("open_from", co_await env.storage.open("/a", kExisting));
  Result<std::unique_ptr<File>> new_b = co_await env.storage.open("/b", kExisting);
  if (!new_b.ok()) co_return;
  std::vector<uint8_t> bytes;
  co_await read_all_into(**new_b, bytes);
  log.note("to_has_from", bytes == a_data);
  co_await read_all_into(**old_b, bytes);
  log.note("old_handle_has_old", bytes == b_data);  // an open handle keeps its inode
  log.note("rename_missing", co_await env.storage.rename("/missing", "/x"));

  log.note("remove", co_await env.storage.remove("/b"));
  log.note("open_removed", co_await env.storage.open("/b", kExisting));
  log.note("remove_again", co_await env.storage.remove("/b"));
  co_await read_all_into(**new_b, bytes);
  log.note("removed_handle_reads", bytes == a_data);

  Writes c{.path = "/c.tmp", .writes = {{0, b_data}}, .flush = true};
  co_await write_file(env, c);
  log.note("rename", co_await env.storage.rename("/c.tmp", "/c"));
}

TEST_CASE(
    "sim/storage: rename replaces atomically, remove deletes, both durable; handles live on") {
  Log log;
  StorageBed bed(7);
  auto program = [&log](Env& env) { return renames(env, log); };
  REQUIRE(bed.run_program(program, StorageBed::Ending::kPowerLoss));
  CHECK(log.text ==
        "rename=ok open_from=not_found to_has_from=yes old_handle_has_old=yes "
        "rename_missing=not_found remove=ok open_removed=not_found remove_again=not_found "
        "removed_handle_reads=yes rename=ok");

  // After the power loss the namespace is as the completed operations left it.
  CHECK(outcome(read_back(bed, "/a").result) == "not_found");
  CHECK(outcome(read_back(bed, "/b").result) == "not_found");
  CHECK(outcome(read_back(bed, "/c.tmp").result) == "not_found");
  const Contents c = read_back(bed, "/c");
  CHECK(outcome(c.result) == "ok");
  CHECK(c.bytes == nonzero_pattern(11, 3000));
}

}  // namespace
}  // namespace splitarray::sim
