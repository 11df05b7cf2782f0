// netshelf/disk under faults: crashes at every write, torn writes, lost unflushed writes, write,
// flush and read errors, bit rot, misdirected writes and stale bytes.
#include <map>
#include <optional>

#include "tests/unit/netshelf/disk/disk_test_util.h"

namespace splitarray::netshelf::test {
namespace {

// ---------------------------------------------------------------------------------------------
// A crashing storage: writes sit in a volatile "cache" until flush(); the write numbered
// `crash_at` is the power cut: a prefix of it (torn_bytes) reaches the platter, the unflushed
// cache is dropped or kept (keep_unflushed), and every later operation fails.

struct CrashPlan {
  int64_t crash_at = -1;  // -1: never
  size_t torn_bytes = 0;
  bool keep_unflushed = false;
  int64_t writes = 0;
  bool crashed = false;
};

class CrashFile final : public File {
 public:
  CrashFile(std::unique_ptr<File> inner, CrashPlan& plan) : inner_(std::move(inner)), plan_(plan) {}

  Task<Result<void>> read_at(uint64_t offset, std::span<uint8_t> out) override {
    if (plan_.crashed) co_return make_error(Code::kIo, "crashed");
    CO_RETURN_IF_ERROR(co_await inner_->read_at(offset, out));
    for (const auto& [at, bytes] : pending_) {  // read your own unflushed writes
      for (size_t i = 0; i < bytes.size(); ++i) {
        if (at + i >= offset && at + i < offset + out.size()) out[at + i - offset] = bytes[i];
      }
    }
    co_return ok_result();
  }

  Task<Result<void>> write_at(uint64_t offset, std::span<const uint8_t> data) override {
    if (plan_.crashed) co_return make_error(Code::kIo, "crashed");
    if (plan_.writes++ == plan_.crash_at) {
      plan_.crashed = true;
      if (plan_.keep_unflushed) CO_RETURN_IF_ERROR(co_await apply_pending());
      pending_.clear();
      const auto torn = data.first(std::min(plan_.torn_bytes, data.size()));
      if (!torn.empty()) CO_RETURN_IF_ERROR(co_await inner_->write_at(offset, torn));
      co_return make_error(Code::kIo, "crashed");
    }
    pending_.emplace_back(offset, std::vector<uint8_t>(data.begin(), data.end()));
    co_return ok_result();
  }

  Task<Result<void>> flush() override {
    if (plan_.crashed) co_return make_error(Code::kIo, "crashed");
    CO_RETURN_IF_ERROR(co_await apply_pending());
    pending_.clear();
    co_return co_await inner_->flush();
  }

  Result<uint64_t> size() const override { return inner_->size(); }
  bool failed() const override { return plan_.crashed; }
  const std::string& path() const override { return inner_->path(); }

 private:
  Task<Result<void>> apply_pending() {
    for (const auto& [at, bytes] : pending_)
      CO_RETURN_IF_ERROR(co_await inner_->write_at(at, bytes));
    co_return ok_result();
  }

  std::unique_ptr<File> inner_;
  CrashPlan& plan_;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> pending_;
};

class CrashStorage final : public Storage {
 public:
  CrashStorage(Storage& inner, CrashPlan& plan) : inner_(inner), plan_(plan) {}
  Task<Result<std::unique_ptr<File>>> open(const std::string& path, FileOptions options) override {
    CO_ASSIGN_OR_RETURN(auto file, co_await inner_.open(path, options));
    co_return std::unique_ptr<File>(std::make_unique<CrashFile>(std::move(file), plan_));
  }
  Task<Result<void>> rename(const std::string& from, const std::string& to) override {
    co_return co_await inner_.rename(from, to);
  }
  Task<Result<void>> remove(const std::string& path) override {
    co_return co_await inner_.remove(path);
  }
  Task<Result<void>> make_directory(const std::string& path) override {
    co_return co_await inner_.make_directory(path);
  }

 private:
  Storage& inner_;
  CrashPlan& plan_;
};

// ---------------------------------------------------------------------------------------------
// The crash scenario: a model of what is acknowledged, checked after a restart.

struct Op {
  bool write = true;
  FragmentId id;
};
using Model = std::map<std::pair<uint64_t, uint8_t>, FragmentId>;

size_t size_of(const FragmentId& id) { return 3000 + id.container.value() * 4100 + id.generation; }

void apply(Model& model, const Op& op) {
  const auto key = std::pair(op.id.container.value(), op.id.index);
  if (op.write) {
    model[key] = op.id;
  } else {
    model.erase(key);
  }
}

std::vector<FragmentId> ids_of(const Model& model) {
  std::vector<FragmentId> out;
  for (const auto& [key, id] : model) out.push_back(id);
  return out;
}

const std::vector<Op> kScenario = {
    {true, fid(1)}, {true, fid(2)},        {true, fid(1, 0, 2)}, {false, fid(2)},
    {true, fid(3)}, {false, fid(1, 0, 2)}, {true, fid(2, 0, 5)},
};

// Runs the scenario until the crash; returns the states the disk may legally show afterwards.
Task<std::vector<Model>> run_until_crash(Env& env, const std::string& path) {
  auto disk = (co_await Disk::open(env, path, test_identity())).value();
  Model acked;
  for (const Op& op : kScenario) {
    const auto fragment = fragment_for(op.id, size_of(op.id));
    // No co_await inside ?: (GCC 12 miscompiles it): one statement per branch.
    Result<void> result = ok_result();
    if (op.write) {
      result = co_await disk->write_fragment(op.id, fragment);
    } else {
      result = co_await disk->delete_fragment(op.id);
    }
    if (!result.ok()) {
      CHECK(result.code() == Code::kIo);
      CHECK(disk->state() == DiskState::kFailed);
      Model maybe = acked;
      apply(maybe, op);
      co_return std::vector<Model>{acked, maybe};
    }
    apply(acked, op);
  }
  co_return std::vector<Model>{acked};
}

TEST_CASE("netshelf/disk: a crash at any write leaves every fragment whole or absent") {
  Fixture fx;
  int crashes = 0;
  for (int64_t crash_at = 0;; ++crash_at) {
    bool crashed_somewhere = false;
    for (const size_t torn : {size_t{0}, size_t{256}, size_t{5000}}) {
      for (const bool keep_unflushed : {false, true}) {
        CAPTURE(crash_at);
        CAPTURE(torn);
        CAPTURE(keep_unflushed);
        CrashPlan plan{.crash_at = crash_at,
                       .torn_bytes = torn,
                       .keep_unflushed = keep_unflushed,
                       .writes = 0,
                       .crashed = false};
        CrashStorage crash_storage(fx.faulty, plan);
        Env crash_env{.io = fx.io,
                      .clock = fx.env.clock,
                      .network = fx.env.network,
                      .storage = crash_storage,
                      .compute = fx.env.compute,
                      .faults = fx.env.faults,
                      .log = fx.env.log,
                      .rng = fx.env.rng.fork()};
        auto body = [&]() -> Task<void> {
          REQUIRE((co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).ok());
          const std::vector<Model> legal = co_await run_until_crash(crash_env, fx.path());
          crashed_somewhere = crashed_somewhere || plan.crashed;
          // Restart on the real storage: whatever reached the file is all there is.
          auto disk = (co_await Disk::open(fx.env, fx.path(), test_identity())).value();
          const auto listed = disk->list();
          bool matches = false;
          for (const Model& model : legal) matches = matches || listed == ids_of(model);
          CHECK(matches);
          for (const FragmentId& id : listed) {
            auto whole = co_await disk->read_fragment(id);
            REQUIRE(whole.ok());
            CHECK(*whole == fragment_for(id, size_of(id)));
          }
          // And the disk works: a new write after the restart commits, and deleting everything
          // leaves nothing to resurrect at the next restart (no half-retired duplicate).
          for (const FragmentId& id : listed) REQUIRE((co_await disk->delete_fragment(id)).ok());
          disk.reset();
          disk = (co_await Disk::open(fx.env, fx.path(), test_identity())).value();
          CHECK(disk->list().empty());
          REQUIRE((co_await disk->write_fragment(fid(50), fragment_for(fid(50), 10))).ok());
        };
        run_task(fx.io, body());
        ++crashes;
      }
    }
    if (!crashed_somewhere) break;  // crash_at is past the scenario's last write
  }
  CHECK(crashes > 40);
}

// ---------------------------------------------------------------------------------------------
// Scripted faults through FaultyStorage.

TEST_CASE("netshelf/disk: a write error fails the disk, the failed write is absent after restart") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    {
      auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
      REQUIRE((co_await disk->write_fragment(fid(1), fragment_for(fid(1), 900))).ok());
      fx.faulty.plan(fx.path()).fail_writes = 1;
      CHECK((co_await disk->write_fragment(fid(2), fragment_for(fid(2), 900))).code() == Code::kIo);
      CHECK(disk->state() == DiskState::kFailed);
      CHECK_FALSE(disk->info().failure.empty());
      CHECK((co_await disk->read_fragment(fid(1))).code() == Code::kUnavailable);
      CHECK((co_await disk->read_range(fid(1), 0, 1)).code() == Code::kUnavailable);
      CHECK((co_await disk->delete_fragment(fid(1))).code() == Code::kUnavailable);
      CHECK((co_await disk->write_fragment(fid(3), fragment_for(fid(3), 9))).code() ==
            Code::kUnavailable);
    }
    auto disk = (co_await Disk::open(fx.env, fx.path(), test_identity())).value();
    CHECK(disk->list() == std::vector<FragmentId>{fid(1)});
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk: a flush error fails the disk for good") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
    fx.faulty.plan(fx.path()).fail_flushes = 1;
    CHECK((co_await disk->write_fragment(fid(2), fragment_for(fid(2), 900))).code() == Code::kIo);
    CHECK(disk->state() == DiskState::kFailed);
    CHECK((co_await disk->write_fragment(fid(2), fragment_for(fid(2), 900))).code() ==
          Code::kUnavailable);
    CHECK(disk->info().state == DiskState::kFailed);
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk: a read error is kIo and does not fail the disk") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
    REQUIRE((co_await disk->write_fragment(fid(1), fragment_for(fid(1), 900))).ok());
    fx.faulty.plan(fx.path()).fail_reads = 2;
    CHECK((co_await disk->read_fragment(fid(1))).code() == Code::kIo);
    CHECK((co_await disk->read_range(fid(1), 0, 10)).code() == Code::kIo);
    CHECK(disk->state() == DiskState::kHealthy);
    CHECK((co_await disk->read_fragment(fid(1))).value() == fragment_for(fid(1), 900));
  };
  run_task(fx.io, body());
}

// Range reads over a 20000-byte payload: blocks 0..4 (the last one partial).
struct RangeCase {
  uint64_t offset;
  uint64_t length;
};

TEST_CASE("netshelf/disk: bit rot in a payload is kCorruption for whole and covering ranges") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
    const auto fragment = fragment_for(fid(1), 20000);
    REQUIRE((co_await disk->write_fragment(fid(1), fragment)).ok());
    // Payload byte 5000 (block 1), then byte 19999 (the last, partial block 4).
    for (const uint64_t at : {uint64_t{5000}, uint64_t{19999}}) {
      testing::flip_bit_on_disk(fx.path(), disk->geometry().slot_offset(0) + kSlotPageSize + at, 3);
      CHECK((co_await disk->read_fragment(fid(1))).code() == Code::kCorruption);
      for (const RangeCase r : {RangeCase{at, 1}, RangeCase{at - at % 4096, 4096},
                                RangeCase{at - 100, 100 + 1}, RangeCase{0, 20000}}) {
        CHECK((co_await disk->read_range(fid(1), r.offset,
                                         std::min<uint64_t>(r.length, 20000 - r.offset)))
                  .code() == Code::kCorruption);
      }
      // Blocks that do not hold the rotten byte are still served, byte-identical.
      auto clean = co_await disk->read_range(fid(1), 12288, 100);
      REQUIRE(clean.ok());
      CHECK(*clean ==
            std::vector<uint8_t>(fragment.begin() + 64 + 12288, fragment.begin() + 64 + 12388));
      testing::flip_bit_on_disk(fx.path(), disk->geometry().slot_offset(0) + kSlotPageSize + at, 3);
    }
    CHECK((co_await disk->read_fragment(fid(1))).value() == fragment);
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk: bit rot in the fragment header or slot page is kCorruption") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
    const auto fragment = fragment_for(fid(1), 20000);
    REQUIRE((co_await disk->write_fragment(fid(1), fragment)).ok());
    const uint64_t slot = disk->geometry().slot_offset(0);
    // Every byte of the 64-byte header, one bit each: both read kinds refuse.
    for (uint64_t byte = 0; byte < protocol::kFragmentHeaderSize; ++byte) {
      CAPTURE(byte);
      testing::flip_bit_on_disk(fx.path(), slot + kSlotHeaderOffset + byte, 5);
      CHECK((co_await disk->read_fragment(fid(1))).code() == Code::kCorruption);
      CHECK((co_await disk->read_range(fid(1), 8000, 10)).code() == Code::kCorruption);
      testing::flip_bit_on_disk(fx.path(), slot + kSlotHeaderOffset + byte, 5);
    }
    // The slot page (block CRCs) is only used by range reads; the whole-fragment CRC does not
    // depend on it, so a whole read of intact fragment bytes still succeeds.
    for (const uint64_t byte : {uint64_t{0}, uint64_t{20}, uint64_t{kSlotPageCrcsOffset + 4}}) {
      testing::flip_bit_on_disk(fx.path(), slot + byte, 0);
      CHECK((co_await disk->read_range(fid(1), 5000, 10)).code() == Code::kCorruption);
      CHECK((co_await disk->read_fragment(fid(1))).value() == fragment);
      testing::flip_bit_on_disk(fx.path(), slot + byte, 0);
    }
    CHECK((co_await disk->read_range(fid(1), 5000, 10)).ok());
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk: a misdirected write is detected on read, for both victims") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
    const auto slot_size = static_cast<int64_t>(disk->geometry().slot_size_bytes);
    REQUIRE((co_await disk->write_fragment(fid(1), fragment_for(fid(1), 9000))).ok());  // slot 0
    // B goes to slot 1, but its bytes land on slot 0 (over A); the write reports success.
    fx.faulty.plan(fx.path()).misdirect_next_write_by = -slot_size;
    REQUIRE((co_await disk->write_fragment(fid(2), fragment_for(fid(2), 9000))).ok());
    for (const FragmentId& id : {fid(1), fid(2)}) {
      CHECK((co_await disk->read_fragment(id)).code() == Code::kCorruption);
      CHECK((co_await disk->read_range(id, 4096, 100)).code() == Code::kCorruption);
    }
    // Into a free slot: the victim is only the fragment itself.
    fx.faulty.plan(fx.path()).misdirect_next_write_by = slot_size;
    REQUIRE((co_await disk->write_fragment(fid(3), fragment_for(fid(3), 9000))).ok());  // slot 2
    CHECK((co_await disk->read_fragment(fid(3))).code() == Code::kCorruption);
    CHECK((co_await disk->read_range(fid(3), 0, 9000)).code() == Code::kCorruption);
    // Still detected after a restart (the table is right; the slots are not).
    disk.reset();
    disk = (co_await Disk::open(fx.env, fx.path(), test_identity())).value();
    CHECK((co_await disk->read_fragment(fid(2))).code() == Code::kCorruption);
    CHECK((co_await disk->read_range(fid(3), 10, 10)).code() == Code::kCorruption);
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk: stale bytes of an older generation are detected on read") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
    REQUIRE((co_await disk->write_fragment(fid(1, 0, 1), fragment_for(fid(1, 0, 1), 9000))).ok());
    REQUIRE((co_await disk->write_fragment(fid(1, 0, 2), fragment_for(fid(1, 0, 2), 9000))).ok());
    const DiskGeometry& g = disk->geometry();
    // Slot 0 still physically holds generation 1. Make slot 1 (generation 2) look like a lost
    // write: the device "returns" the old image there.
    const auto old_image = read_raw(fx.path(), g.slot_offset(0), g.slot_size_bytes);
    const auto new_image = read_raw(fx.path(), g.slot_offset(1), g.slot_size_bytes);
    write_raw(fx.path(), g.slot_offset(1), old_image);
    CHECK((co_await disk->read_fragment(fid(1, 0, 2))).code() == Code::kCorruption);
    CHECK((co_await disk->read_range(fid(1, 0, 2), 0, 100)).code() == Code::kCorruption);
    // Only the page is stale (header and payload are current): range reads still refuse.
    auto mixed = new_image;
    std::copy(old_image.begin(), old_image.begin() + kSlotPageOwnBytes, mixed.begin());
    write_raw(fx.path(), g.slot_offset(1), mixed);
    CHECK((co_await disk->read_range(fid(1, 0, 2), 0, 100)).code() == Code::kCorruption);
    write_raw(fx.path(), g.slot_offset(1), new_image);
    CHECK((co_await disk->read_fragment(fid(1, 0, 2))).value() == fragment_for(fid(1, 0, 2), 9000));
  };
  run_task(fx.io, body());
}

}  // namespace
}  // namespace splitarray::netshelf::test
