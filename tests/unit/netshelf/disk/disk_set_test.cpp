// netshelf/disk_set: the shelf's disks by index, status, failed members, replacement.
#include <filesystem>

#include "netshelf/disk/disk_set.h"
#include "tests/unit/netshelf/disk/disk_test_util.h"

namespace splitarray::netshelf::test {
namespace {

DiskSetConfig config_of(const Fixture& fx, int disks) {
  DiskSetConfig config{.cluster = ClusterId(7), .shelf = ShelfId(3), .disks = {}};
  for (int i = 0; i < disks; ++i) {
    config.disks.push_back(DiskSlotConfig{.index = DiskIndex(static_cast<uint16_t>(i * 2)),
                                          .path = fx.path("d" + std::to_string(i))});
  }
  return config;
}

TEST_CASE("netshelf/disk_set: format, reopen, lookup by index and per-disk status") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    {
      auto set = co_await DiskSet::format(fx.env, config_of(fx, 3), small_disk());
      REQUIRE(set.ok());
      auto disk = (*set)->disk(DiskIndex(2));
      REQUIRE(disk.ok());
      CHECK((*disk)->identity() == test_identity(2));
      REQUIRE((co_await (*disk)->write_fragment(fid(1), fragment_for(fid(1), 100))).ok());
    }
    auto set = (co_await DiskSet::open(fx.env, config_of(fx, 3))).value();
    CHECK(set->size() == 3);
    CHECK(set->disk(DiskIndex(1)).code() == Code::kNotFound);
    CHECK(set->disk(DiskIndex(999)).code() == Code::kNotFound);
    const auto infos = set->infos();
    REQUIRE(infos.size() == 3);
    for (size_t i = 0; i < infos.size(); ++i) {
      CHECK(infos[i].index == DiskIndex(static_cast<uint16_t>(2 * i)));
      CHECK(infos[i].state == DiskState::kHealthy);
      CHECK(infos[i].capacity_bytes == kTestCapacityBytes);
      CHECK(infos[i].slots_total == 14);
      CHECK(infos[i].disk_generation == 1);
      CHECK(infos[i].slots_used == (i == 1 ? 1u : 0u));
    }
    auto disk = set->disk(DiskIndex(2)).value();
    CHECK((co_await disk->read_fragment(fid(1))).value() == fragment_for(fid(1), 100));
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk_set: a missing or foreign disk is listed failed, the others serve") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    REQUIRE((co_await DiskSet::format(fx.env, config_of(fx, 3), small_disk())).ok());
    std::filesystem::remove(fx.path("d0"));
    // d1 now carries index 0's identity: a disk put in the wrong bay.
    REQUIRE((co_await Disk::format(fx.env, fx.path("d1"), test_identity(0), small_disk())).ok());
    auto set = (co_await DiskSet::open(fx.env, config_of(fx, 3))).value();
    CHECK(set->disk(DiskIndex(0)).code() == Code::kUnavailable);
    CHECK(set->disk(DiskIndex(2)).code() == Code::kUnavailable);
    REQUIRE(set->disk(DiskIndex(4)).ok());
    const auto infos = set->infos();
    CHECK(infos[0].state == DiskState::kFailed);
    CHECK(infos[1].state == DiskState::kFailed);
    CHECK(infos[1].failure.find("expected") != std::string::npos);
    CHECK(infos[2].state == DiskState::kHealthy);
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk_set: replace formats a fresh empty disk, generation + 1, rebuilding") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    auto set = (co_await DiskSet::format(fx.env, config_of(fx, 2), small_disk())).value();
    Disk* old = set->disk(DiskIndex(2)).value();
    REQUIRE((co_await old->write_fragment(fid(1), fragment_for(fid(1), 100))).ok());
    REQUIRE((co_await old->fail("bad sectors")).ok());
    CHECK(set->infos()[1].state == DiskState::kFailed);
    CHECK((co_await set->replace(DiskIndex(9), fx.path("x"))).code() == Code::kNotFound);
    REQUIRE((co_await set->replace(DiskIndex(2), fx.path("d1-new"))).ok());
    Disk* fresh = set->disk(DiskIndex(2)).value();
    CHECK(fresh->state() == DiskState::kRebuilding);
    CHECK(fresh->disk_generation() == 2);
    CHECK(fresh->list().empty());
    CHECK(fresh->info().capacity_bytes == kTestCapacityBytes);
    CHECK(fresh->info().slot_payload_max_bytes == kTestPayloadBytes);
    CHECK((co_await fresh->read_fragment(fid(1))).code() == Code::kNotFound);
    // The rebuild writes the fragment back, then the disk is declared healthy.
    REQUIRE((co_await fresh->write_fragment(fid(1), fragment_for(fid(1), 100))).ok());
    REQUIRE((co_await fresh->mark_healthy()).ok());
    // A replacement may reuse the old path too.
    REQUIRE((co_await set->replace(DiskIndex(0), fx.path("d0"))).ok());
    CHECK(set->disk(DiskIndex(0)).value()->disk_generation() == 2);
    CHECK(set->disk(DiskIndex(0)).value()->list().empty());
    set.reset();
    DiskSetConfig config = config_of(fx, 2);
    config.disks[1].path = fx.path("d1-new");
    auto reopened = (co_await DiskSet::open(fx.env, config)).value();
    const auto infos = reopened->infos();
    CHECK(infos[0].state == DiskState::kRebuilding);
    CHECK(infos[1].state == DiskState::kHealthy);
    CHECK(infos[1].disk_generation == 2);
    CHECK(infos[1].slots_used == 1);
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk_set: bad configurations are kInvalidArgument") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    DiskSetConfig empty = config_of(fx, 0);
    CHECK((co_await DiskSet::open(fx.env, empty)).code() == Code::kInvalidArgument);
    DiskSetConfig twice = config_of(fx, 2);
    twice.disks[1].index = twice.disks[0].index;
    CHECK((co_await DiskSet::open(fx.env, twice)).code() == Code::kInvalidArgument);
    DiskSetConfig same_path = config_of(fx, 2);
    same_path.disks[1].path = same_path.disks[0].path;
    CHECK((co_await DiskSet::open(fx.env, same_path)).code() == Code::kInvalidArgument);
    DiskSetConfig too_many = config_of(fx, static_cast<int>(kDisksPerShelfMax) + 1);
    CHECK((co_await DiskSet::format(fx.env, too_many, small_disk())).code() ==
          Code::kInvalidArgument);
  };
  run_task(fx.io, body());
}

}  // namespace
}  // namespace splitarray::netshelf::test
