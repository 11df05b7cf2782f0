// netshelf/disk: the data path on a healthy disk (format, open, write, read, delete, reopen).
#include "tests/unit/netshelf/disk/disk_test_util.h"

namespace splitarray::netshelf::test {
namespace {

std::vector<uint8_t> payload_of(const std::vector<uint8_t>& fragment) {
  return std::vector<uint8_t>(fragment.begin() + protocol::kFragmentHeaderSize, fragment.end());
}

TEST_CASE("netshelf/disk: format then open round trip") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    auto formatted = co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk());
    REQUIRE(formatted.ok());
    const DiskInfo before = (*formatted)->info();
    CHECK(before.state == DiskState::kHealthy);
    CHECK(before.slots_total == 14);
    CHECK(before.slots_used == 0);
    CHECK(before.capacity_bytes == kTestCapacityBytes);
    CHECK(before.disk_generation == 1);
    formatted.value().reset();
    auto opened = co_await Disk::open(fx.env, fx.path(), test_identity());
    REQUIRE(opened.ok());
    const DiskInfo after = (*opened)->info();
    CHECK(after.slots_total == before.slots_total);
    CHECK(after.slot_payload_max_bytes == kTestPayloadBytes);
    CHECK(after.state == DiskState::kHealthy);
    CHECK(after.damaged_entries == 0);
    CHECK((*opened)->list().empty());
    CHECK((co_await Disk::open(fx.env, fx.path("missing"), test_identity())).code() ==
          Code::kNotFound);
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk: whole and range reads return exactly the bytes written") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
    // Sizes on and off 4 KiB block boundaries, including empty and full payloads.
    const std::vector<size_t> sizes = {0, 1, 4095, 4096, 4097, 3 * 4096 + 17, kTestPayloadBytes};
    for (size_t i = 0; i < sizes.size(); ++i) {
      const FragmentId id = fid(100 + i, static_cast<uint8_t>(i));
      const auto fragment = fragment_for(id, sizes[i]);
      REQUIRE((co_await disk->write_fragment(id, fragment)).ok());
      auto whole = co_await disk->read_fragment(id);
      REQUIRE(whole.ok());
      CHECK(*whole == fragment);
      const auto payload = payload_of(fragment);
      // Ranges starting and ending at and around every block boundary.
      for (size_t offset = 0; offset < payload.size(); offset += 1361) {
        for (const size_t length : {size_t{1}, size_t{4096}, size_t{5000}, payload.size()}) {
          const size_t n = std::min(length, payload.size() - offset);
          auto range = co_await disk->read_range(id, offset, n);
          REQUIRE(range.ok());
          CHECK(*range ==
                std::vector<uint8_t>(payload.begin() + static_cast<ptrdiff_t>(offset),
                                     payload.begin() + static_cast<ptrdiff_t>(offset + n)));
        }
      }
    }
    CHECK(disk->info().slots_used == sizes.size());
    CHECK(disk->list().size() == sizes.size());
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk: fragments, rewrites and deletes persist across reopen") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    {
      auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
      for (uint64_t c = 1; c <= 5; ++c) {
        REQUIRE((co_await disk->write_fragment(fid(c), fragment_for(fid(c), 5000 * c))).ok());
      }
      REQUIRE((co_await disk->write_fragment(fid(2, 0, 2), fragment_for(fid(2, 0, 2), 777))).ok());
      REQUIRE((co_await disk->delete_fragment(fid(4))).ok());
    }
    auto disk = (co_await Disk::open(fx.env, fx.path(), test_identity())).value();
    const std::vector<FragmentId> expected = {fid(1), fid(2, 0, 2), fid(3), fid(5)};
    CHECK(disk->list() == expected);
    for (const FragmentId& id : expected) {
      auto whole = co_await disk->read_fragment(id);
      REQUIRE(whole.ok());
      CHECK(*whole == fragment_for(id, id == fid(2, 0, 2) ? 777 : 5000 * id.container.value()));
    }
    CHECK((co_await disk->read_fragment(fid(4))).code() == Code::kNotFound);
    const DiskInfo info = disk->info();
    CHECK(info.slots_used == 4);
    CHECK(info.payload_bytes_used == 5000 + 777 + 15000 + 25000);
    // The freed slots are reusable after the restart: fill the disk exactly.
    for (uint64_t c = 10; c < 10 + info.slots_total - info.slots_used; ++c) {
      REQUIRE((co_await disk->write_fragment(fid(c), fragment_for(fid(c), 10))).ok());
    }
    CHECK(disk->info().slots_used == info.slots_total);
  };
  run_task(fx.io, body());
}

// True when `page` lists exactly `ids`, in that order.
bool lists(const FragmentPage& page, std::initializer_list<FragmentId> ids) {
  std::vector<FragmentId> listed;
  for (const ListedFragment& fragment : page.fragments) listed.push_back(fragment.id);
  return listed == std::vector<FragmentId>(ids);
}

std::vector<FragmentId> listing_fragments() {
  return {fid(9, 1), fid(3, 4), fid(3, 0), fid(9, 0, 2)};
}

TEST_CASE("netshelf/disk: list_page pages through the fragments from a cursor") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
    for (const FragmentId& id : listing_fragments()) {
      REQUIRE((co_await disk->write_fragment(id, fragment_for(id, 1000 + id.index))).ok());
    }
    auto first = disk->list_page(fid(0, 0), 3);
    REQUIRE(first.ok());
    CHECK(lists(*first, {fid(3, 0), fid(3, 4), fid(9, 0, 2)}));
    CHECK(first->fragments[1].payload_length == 1004);
    REQUIRE(first->next.has_value());
    CHECK(*first->next == fid(9, 1));
    auto rest = disk->list_page(*first->next, 3);  // the cursor's generation does not matter
    REQUIRE(rest.ok());
    CHECK(lists(*rest, {fid(9, 1)}));
    CHECK_FALSE(rest->next.has_value());
    auto middle = disk->list_page(fid(3, 1, 7), 1);
    REQUIRE(middle.ok());
    CHECK(lists(*middle, {fid(3, 4)}));
    CHECK(*middle->next == fid(9, 0, 2));
    auto past = disk->list_page(fid(10, 0), 5);
    REQUIRE(past.ok());
    CHECK(past->fragments.empty());
    CHECK_FALSE(past->next.has_value());
    CHECK(disk->list_page(fid(0, 0), 100)->fragments.size() == disk->list().size());
    REQUIRE((co_await disk->fail("pulled")).ok());
    CHECK(disk->list_page(fid(0, 0), 1).code() == Code::kUnavailable);
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk: open rejects a disk of another cluster, shelf or index") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    REQUIRE((co_await Disk::format(fx.env, fx.path(), test_identity(2), small_disk())).ok());
    DiskIdentity wrong = test_identity(2);
    wrong.cluster = ClusterId(8);
    CHECK((co_await Disk::open(fx.env, fx.path(), wrong)).code() == Code::kInvalidArgument);
    wrong = test_identity(2);
    wrong.shelf = ShelfId(4);
    CHECK((co_await Disk::open(fx.env, fx.path(), wrong)).code() == Code::kInvalidArgument);
    CHECK((co_await Disk::open(fx.env, fx.path(), test_identity(3))).code() ==
          Code::kInvalidArgument);
    CHECK((co_await Disk::open(fx.env, fx.path(), test_identity(2))).ok());
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk: a rewrite replaces the fragment, older generations are refused") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
    REQUIRE((co_await disk->write_fragment(fid(1, 0, 1), fragment_for(fid(1, 0, 1), 9000))).ok());
    REQUIRE((co_await disk->write_fragment(fid(1, 0, 3), fragment_for(fid(1, 0, 3), 8000))).ok());
    CHECK(disk->info().slots_used == 1);
    CHECK(disk->info().payload_bytes_used == 8000);
    CHECK(disk->list() == std::vector<FragmentId>{fid(1, 0, 3)});
    CHECK((co_await disk->read_fragment(fid(1, 0, 3))).value() == fragment_for(fid(1, 0, 3), 8000));
    // Asking for the replaced generation: not here any more.
    CHECK((co_await disk->read_fragment(fid(1, 0, 1))).code() == Code::kNotFound);
    // Asking for a newer one than stored: the disk missed a rewrite, its copy is stale.
    CHECK((co_await disk->read_fragment(fid(1, 0, 4))).code() == Code::kCorruption);
    CHECK((co_await disk->read_range(fid(1, 0, 4), 0, 10)).code() == Code::kCorruption);
    // Writing an older generation over a newer one is refused; the same one is a replace.
    CHECK((co_await disk->write_fragment(fid(1, 0, 2), fragment_for(fid(1, 0, 2), 10))).code() ==
          Code::kStale);
    REQUIRE((co_await disk->write_fragment(fid(1, 0, 3), fragment_for(fid(1, 0, 3), 8000))).ok());
    CHECK(disk->info().slots_used == 1);
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk: kNoSpace when full, a delete makes room") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
    const uint32_t total = disk->info().slots_total;
    for (uint64_t c = 0; c < total; ++c) {
      REQUIRE((co_await disk->write_fragment(fid(c), fragment_for(fid(c), 100))).ok());
    }
    CHECK((co_await disk->write_fragment(fid(999), fragment_for(fid(999), 100))).code() ==
          Code::kNoSpace);
    // A rewrite needs a free slot too (new slot first, then the old one is freed).
    CHECK((co_await disk->write_fragment(fid(0, 0, 2), fragment_for(fid(0, 0, 2), 100))).code() ==
          Code::kNoSpace);
    CHECK(disk->state() == DiskState::kHealthy);
    REQUIRE((co_await disk->delete_fragment(fid(3))).ok());
    CHECK((co_await disk->read_fragment(fid(3))).code() == Code::kNotFound);
    REQUIRE((co_await disk->write_fragment(fid(999), fragment_for(fid(999), 100))).ok());
    CHECK(disk->info().slots_used == total);
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk: hostile requests get kInvalidArgument, kNotFound or kCorruption") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
    const FragmentId id = fid(1);
    auto fragment = fragment_for(id, 10000);
    REQUIRE((co_await disk->write_fragment(id, fragment)).ok());
    // Ranges past the end, huge and overflowing lengths, empty ranges.
    CHECK((co_await disk->read_range(id, 0, 10001)).code() == Code::kInvalidArgument);
    CHECK((co_await disk->read_range(id, 10000, 1)).code() == Code::kInvalidArgument);
    CHECK((co_await disk->read_range(id, 9999, 2)).code() == Code::kInvalidArgument);
    CHECK((co_await disk->read_range(id, 1, UINT64_MAX)).code() == Code::kInvalidArgument);
    CHECK((co_await disk->read_range(id, UINT64_MAX, 2)).code() == Code::kInvalidArgument);
    CHECK((co_await disk->read_range(id, 0, 0)).code() == Code::kInvalidArgument);
    CHECK((co_await disk->read_range(id, 9999, 1)).ok());
    // Unknown ids.
    CHECK((co_await disk->read_fragment(fid(2))).code() == Code::kNotFound);
    CHECK((co_await disk->read_fragment(fid(1, 1))).code() == Code::kNotFound);
    CHECK((co_await disk->read_range(fid(2), 0, 1)).code() == Code::kNotFound);
    CHECK((co_await disk->delete_fragment(fid(2))).code() == Code::kNotFound);
    CHECK((co_await disk->delete_fragment(fid(1, 0, 7))).code() == Code::kNotFound);
    // Writes whose bytes do not match the request, or do not fit.
    CHECK((co_await disk->write_fragment(fid(5), fragment)).code() == Code::kInvalidArgument);
    CHECK((co_await disk->write_fragment(fid(1, 0, 2), fragment)).code() == Code::kInvalidArgument);
    auto rotten = fragment;
    rotten[5000] ^= 1;
    CHECK((co_await disk->write_fragment(id, rotten)).code() == Code::kCorruption);
    CHECK((co_await disk->write_fragment(id, std::vector<uint8_t>(10, 0))).code() ==
          Code::kInvalidArgument);
    CHECK((co_await disk->write_fragment(id, std::vector<uint8_t>(64, 0))).code() ==
          Code::kCorruption);
    const auto too_big = fragment_for(fid(6), kTestPayloadBytes + 1);
    CHECK((co_await disk->write_fragment(fid(6), too_big)).code() == Code::kInvalidArgument);
    // None of that disturbed the stored fragment or the disk.
    CHECK((co_await disk->read_fragment(id)).value() == fragment);
    CHECK(disk->state() == DiskState::kHealthy);
    CHECK(disk->info().slots_used == 1);
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk: a damaged superblock copy is survived and repaired") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    {
      auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
      REQUIRE((co_await disk->write_fragment(fid(1), fragment_for(fid(1), 500))).ok());
    }
    for (const uint64_t copy : {kSuperblockOffsetA, kSuperblockOffsetB}) {
      testing::flip_bit_on_disk(fx.path(), copy + 30, 2);
      auto disk = co_await Disk::open(fx.env, fx.path(), test_identity());
      REQUIRE(disk.ok());
      CHECK((co_await (*disk)->read_fragment(fid(1))).value() == fragment_for(fid(1), 500));
    }
    // Open repaired each damaged copy from the other: both decode now.
    CHECK(decode_superblock(read_raw(fx.path(), kSuperblockOffsetA, kSuperblockSize)).ok());
    CHECK(decode_superblock(read_raw(fx.path(), kSuperblockOffsetB, kSuperblockSize)).ok());
    // Both copies gone: the disk is not trusted.
    testing::flip_bit_on_disk(fx.path(), kSuperblockOffsetA + 30, 2);
    testing::flip_bit_on_disk(fx.path(), kSuperblockOffsetB + 30, 2);
    CHECK((co_await Disk::open(fx.env, fx.path(), test_identity())).code() == Code::kCorruption);
  };
  run_task(fx.io, body());
}

TEST_CASE("netshelf/disk: admin fail persists, replacement rebuilding -> healthy persists") {
  Fixture fx;
  auto body = [&]() -> Task<void> {
    {
      auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), small_disk())).value();
      REQUIRE((co_await disk->write_fragment(fid(1), fragment_for(fid(1), 500))).ok());
      REQUIRE((co_await disk->fail("operator pulled it")).ok());
      CHECK(disk->state() == DiskState::kFailed);
      CHECK((co_await disk->read_fragment(fid(1))).code() == Code::kUnavailable);
      CHECK((co_await disk->write_fragment(fid(2), fragment_for(fid(2), 5))).code() ==
            Code::kUnavailable);
      CHECK((co_await disk->mark_healthy()).code() == Code::kUnavailable);
    }
    {
      auto disk = (co_await Disk::open(fx.env, fx.path(), test_identity())).value();
      CHECK(disk->state() == DiskState::kFailed);
      CHECK((co_await disk->read_fragment(fid(1))).code() == Code::kUnavailable);
    }
    DiskFormatOptions options = small_disk();
    options.state = DiskState::kRebuilding;
    options.disk_generation = 2;
    {
      auto disk = (co_await Disk::format(fx.env, fx.path(), test_identity(), options)).value();
      CHECK(disk->state() == DiskState::kRebuilding);
      CHECK(disk->list().empty());
      REQUIRE((co_await disk->write_fragment(fid(1), fragment_for(fid(1), 500))).ok());
    }
    auto disk = (co_await Disk::open(fx.env, fx.path(), test_identity())).value();
    CHECK(disk->state() == DiskState::kRebuilding);
    CHECK(disk->disk_generation() == 2);
    REQUIRE((co_await disk->mark_healthy()).ok());
    CHECK((co_await disk->mark_healthy()).code() == Code::kInvalidArgument);
    disk.reset();
    disk = (co_await Disk::open(fx.env, fx.path(), test_identity())).value();
    CHECK(disk->state() == DiskState::kHealthy);
    CHECK((co_await disk->read_fragment(fid(1))).value() == fragment_for(fid(1), 500));
  };
  run_task(fx.io, body());
}

}  // namespace
}  // namespace splitarray::netshelf::test
