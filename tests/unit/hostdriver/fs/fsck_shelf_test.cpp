// fsck's shelf listing (hostdriver/fs/fsck.h): every container on the disks is accounted for as
// referenced or unreferenced (garbage if the index names it: not a problem), and the listing finds
// what reading the checkpoint's references alone cannot: a referenced container with too few
// fragments left to read it, fragments whose container id was never allocated, one id on two
// stripes, and a leaked container (unreferenced and named by no index entry).
//
// The tests seal containers only on purpose (seal_idle is an hour; fsck destages), so a file of
// exactly two containers' worth of incompressible blocks, written right after an fsck, fills
// exactly two fresh containers, and the next fsck's checkpoint nodes go into one more.
#include <doctest/doctest.h>

#include <set>

#include "common/crc32c.h"
#include "common/endian.h"
#include "hostdriver/blockstore/destager.h"
#include "hostdriver/container/container_builder.h"
#include "hostdriver/ec/erasure_code.h"
#include "hostdriver/fs/fsck.h"
#include "protocol/fragment_header.h"
#include "tests/unit/hostdriver/fs/fs_fixture.h"

namespace splitarray::hostdriver::fs::fs_test {
namespace {

using blockstore::bs_test::kDataFragments;
using blockstore::bs_test::kFragmentPayloadBytes;
using blockstore::bs_test::kParityFragments;
using blockstore::bs_test::kStripeFragments;
using blockstore::bs_test::random_bytes;

constexpr uint64_t kFileSeed = 20260301;
constexpr size_t kWriteBlocks = 16;  // blocks per write call
constexpr uint64_t kContainerBytesOnDisks = uint64_t{kStripeFragments} * kFragmentPayloadBytes;

// How many incompressible blocks (raw chunks) one container of the tests' geometry holds.
size_t blocks_per_container() {
  container::ContainerBuilder builder(
      container::ContainerGeometry{kDataFragments, kFragmentPayloadBytes}, ContainerId(1));
  const std::vector<uint8_t> block(kBlockBytes, 1);
  size_t blocks = 0;
  while (builder.fits(block.size())) {
    protocol::Fingerprint fp{};
    put_u64(fp, 0, blocks + 1);
    REQUIRE(builder.add(fp, container::ChunkEncoding::kRaw, block, kBlockBytes).ok());
    ++blocks;
  }
  REQUIRE(blocks > 0);
  return blocks;
}

FsConfig sealing_on_purpose(FsSession& s) {
  FsConfig config = s.config();
  config.store.seal_idle = std::chrono::hours(1);
  return config;
}

// Writes `blocks` incompressible blocks to `inode` from offset 0 (FILE_SYNC).
Task<void> write_blocks(FileSystem& fs, uint64_t inode, size_t blocks, Prng& rng) {
  for (size_t at = 0; at < blocks; at += kWriteBlocks) {
    const size_t n = std::min(kWriteBlocks, blocks - at);
    std::vector<uint8_t> data = random_bytes(rng, n * kBlockBytes);
    auto wrote = co_await fs.write(inode, at * kBlockBytes, std::move(data), Stability::kFileSync);
    REQUIRE_MESSAGE(wrote.ok(), why(wrote));
  }
}

Task<uint64_t> create_file(FileSystem& fs, std::string name) {
  SetAttributes attributes;
  auto made = co_await fs.create(kRootInode, std::move(name), CreateMode::kGuarded, attributes, 0);
  REQUIRE_MESSAGE(made.ok(), why(made));
  co_return made->attrs.inode;
}

// fsck must succeed and find nothing wrong; its report.
Task<FsckReport> clean_fsck(FileSystem& fs, const char* when) {
  auto report = value_or_fail(co_await fsck(fs), when);
  for (const std::string& problem : report.problems) MESSAGE(when << ": " << problem);
  CHECK_MESSAGE(report.ok(), when << ": " << report.summary());
  co_return report;
}

// Problems of each kind: all zero, or exactly the given ones.
struct Kinds {
  uint64_t unreadable = 0;
  uint64_t unallocated = 0;
  uint64_t inconsistent = 0;
  uint64_t duplicated = 0;
};
void check_kinds(const FsckReport& report, const Kinds& kinds) {
  CHECK(report.containers_unreadable == kinds.unreadable);
  CHECK(report.containers_unallocated == kinds.unallocated);
  CHECK(report.containers_inconsistent == kinds.inconsistent);
  CHECK(report.containers_duplicated == kinds.duplicated);
  CHECK(report.locations_doubly_referenced == 0);
}

// The accounting every listing must satisfy on the tests' shelf (12 healthy disks, whole
// stripes): each container found is referenced or not, with k+m fragments of F bytes.
void check_accounting(const FsckReport& report) {
  CHECK(report.disks_listed == blockstore::bs_test::kTestDisks);
  CHECK(report.disks_skipped == 0);
  CHECK(report.containers_on_shelf == report.containers + report.containers_unreferenced);
  CHECK(report.fragments_on_shelf == report.containers_on_shelf * kStripeFragments);
  CHECK(report.unreferenced_bytes == report.containers_unreferenced * kContainerBytesOnDisks);
}

// The shelf's own count of stored fragments (slots used on every disk).
Task<uint64_t> fragments_stored(protocol::ShelfClient& admin) {
  auto status = value_or_fail(co_await admin.status(), "status");
  uint64_t used = 0;
  for (const protocol::DiskInfoValue& disk : status.disks) used += disk.slots_used;
  co_return used;
}

size_t count_naming(const FsckReport& report, uint64_t container, const std::string& what) {
  const std::string name = "container " + std::to_string(container);
  size_t n = 0;
  for (const std::string& problem : report.problems) {
    n += problem.find(name) != std::string::npos && problem.find(what) != std::string::npos;
  }
  return n;
}

TEST_CASE("hostdriver/fs: fsck accounts for every container on the shelf, garbage included") {
  with_fs([](FsSession& s) -> Task<void> {
    const size_t per_container = blocks_per_container();
    FileSystem* fs = co_await s.open(sealing_on_purpose(s));
    auto admin = value_or_fail(
        co_await protocol::ShelfClient::connect(s.env(), s.shelf().address()), "connect");
    Prng rng(kFileSeed);
    const uint64_t file = co_await create_file(*fs, "big");
    const FsckReport first = co_await clean_fsck(*fs, "fsck of a new datastore");
    MESSAGE(first.summary());
    check_kinds(first, Kinds{});
    check_accounting(first);
    CHECK(first.containers == 1);  // the checkpoint's inode table and root directory nodes
    CHECK(first.fragments_on_shelf == co_await fragments_stored(*admin));

    // Two containers of data, then the checkpoint's nodes in a third: all referenced. The first
    // checkpoint's container stays referenced: it holds the root directory's node (unchanged).
    co_await write_blocks(*fs, file, 2 * per_container, rng);
    const FsckReport written = co_await clean_fsck(*fs, "fsck after writing");
    MESSAGE(written.summary());
    check_kinds(written, Kinds{});
    check_accounting(written);
    CHECK(written.containers_on_shelf == first.containers_on_shelf + 3);
    CHECK(written.containers == first.containers + 3);
    CHECK(written.containers_unreferenced == first.containers_unreferenced);
    CHECK(written.fragments_on_shelf == co_await fragments_stored(*admin));

    // Overwriting every block: two new data containers and one of nodes. Now garbage, counted
    // and not a problem: the two old data containers, and the previous checkpoint's container,
    // whose nodes (inode table, the file's block map) were all rewritten.
    co_await write_blocks(*fs, file, 2 * per_container, rng);
    const FsckReport overwritten = co_await clean_fsck(*fs, "fsck after overwriting");
    MESSAGE(overwritten.summary());
    check_kinds(overwritten, Kinds{});
    check_accounting(overwritten);
    CHECK(overwritten.containers_on_shelf == written.containers_on_shelf + 3);
    CHECK(overwritten.containers_unreferenced == written.containers_unreferenced + 3);
    CHECK(overwritten.unreferenced_bytes ==
          written.unreferenced_bytes + 3 * kContainerBytesOnDisks);
    CHECK(overwritten.containers == written.containers);
    CHECK(overwritten.fragments_on_shelf == co_await fragments_stored(*admin));

    // The same after a crash: a new owner lists the same shelf.
    fs = co_await s.crash(fs);
    const FsckReport reborn = co_await clean_fsck(*fs, "fsck after a crash");
    check_accounting(reborn);
    CHECK(reborn.containers_unreferenced >= overwritten.containers_unreferenced);
    co_await admin->close();
  });
}

// Deletes fragment `index` of `container` from its placement disk, behind the file system's back.
Task<void> delete_fragment(protocol::ShelfClient& admin, FileSystem& fs, uint64_t container,
                           uint8_t index) {
  auto disks = value_or_fail(fs.store().placement(ContainerId(container)), "placement");
  const protocol::FragmentIdValue id{container, index, blockstore::kFragmentGeneration};
  auto deleted = co_await admin.fragment_delete(HostId(3), Epoch(1), disks[index], id);
  REQUIRE_MESSAGE(deleted.ok(), why(deleted));
}

TEST_CASE("hostdriver/fs: fsck names a referenced container too few fragments are left to read") {
  with_fs([](FsSession& s) -> Task<void> {
    s.final_fsck = false;  // this test damages the shelf on purpose
    const size_t per_container = blocks_per_container();
    FileSystem* fs = co_await s.open(sealing_on_purpose(s));
    auto admin = value_or_fail(
        co_await protocol::ShelfClient::connect(s.env(), s.shelf().address()), "connect");
    Prng rng(kFileSeed + 1);
    const uint64_t file = co_await create_file(*fs, "data");
    co_await clean_fsck(*fs, "fsck before writing");
    co_await write_blocks(*fs, file, 2 * per_container, rng);
    const FsckReport clean = co_await clean_fsck(*fs, "fsck after writing");
    // The first block's container holds only this file's data, so losing it breaks no tree.
    auto ref = value_or_fail(co_await fs->store().lookup_block(InodeId(file), 0), "lookup_block");
    REQUIRE(ref.has_value());
    const uint64_t container = ref->location.container_id;
    FsckOptions no_data;  // reading the blocks would report them too
    no_data.check_data = false;

    // m = 2 fragments gone: every fragment read reports its loss, but it is still readable.
    co_await delete_fragment(*admin, *fs, container, 0);
    co_await delete_fragment(*admin, *fs, container, 1);
    auto degraded = value_or_fail(co_await fsck(*fs, no_data), "fsck");
    for (const std::string& problem : degraded.problems) MESSAGE(problem);
    CHECK(degraded.problems_total == 2);
    check_kinds(degraded, Kinds{});
    CHECK(count_naming(degraded, container, "fragment 0") == 1);
    CHECK(count_naming(degraded, container, "fragment 1") == 1);
    CHECK(degraded.containers == clean.containers);
    CHECK(degraded.fragments_on_shelf == clean.fragments_on_shelf - 2);

    // One more: 7 of 10 left, 8 needed.
    co_await delete_fragment(*admin, *fs, container, 2);
    auto lost = value_or_fail(co_await fsck(*fs, no_data), "fsck");
    for (const std::string& problem : lost.problems) MESSAGE(problem);
    CHECK(lost.problems_total == 4);  // three fragment reads and the container
    check_kinds(lost, Kinds{.unreadable = 1});
    CHECK(count_naming(lost, container, "only 7 of its 10 fragments") == 1);
    CHECK(lost.containers == clean.containers);
    CHECK(lost.containers_on_shelf == clean.containers_on_shelf);
    CHECK(lost.containers_unreferenced == clean.containers_unreferenced);
    CHECK(lost.fragments_on_shelf == clean.fragments_on_shelf - 3);
    co_await admin->close();
  });
}

// Container ids as the destager makes them: host id, then the host's counter.
uint64_t make_container_id(uint64_t host, uint64_t counter) {
  return host << blockstore::kContainerCounterBits | counter;
}

// Writes a small, valid fragment for (container, index) on `disk`, as no host driver would.
Task<void> plant(protocol::ShelfClient& admin, uint64_t container, uint8_t index, DiskIndex disk) {
  const protocol::FragmentId id{ContainerId(container), index, blockstore::kFragmentGeneration};
  const std::vector<uint8_t> payload(kBlockBytes, 0x6b);
  const protocol::FragmentIdValue wire{container, index, blockstore::kFragmentGeneration};
  auto written = co_await admin.fragment_write(HostId(3), Epoch(1), disk, wire,
                                               protocol::build_fragment(id, payload));
  REQUIRE_MESSAGE(written.ok(), why(written));
}

Task<void> unplant(protocol::ShelfClient& admin, uint64_t container, uint8_t index,
                   DiskIndex disk) {
  const protocol::FragmentIdValue wire{container, index, blockstore::kFragmentGeneration};
  auto deleted = co_await admin.fragment_delete(HostId(3), Epoch(1), disk, wire);
  REQUIRE_MESSAGE(deleted.ok(), why(deleted));
}

TEST_CASE("hostdriver/fs: fsck reports fragments whose container id was never allocated") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open(sealing_on_purpose(s));
    auto admin = value_or_fail(
        co_await protocol::ShelfClient::connect(s.env(), s.shelf().address()), "connect");
    Prng rng(kFileSeed + 2);
    const uint64_t file = co_await create_file(*fs, "small");
    co_await write_blocks(*fs, file, 3, rng);
    co_await clean_fsck(*fs, "fsck before planting");
    const FsckReport clean = co_await clean_fsck(*fs, "fsck of a quiet datastore");
    auto mark_value = value_or_fail(
        co_await admin->register_get(blockstore::container_ids_register(HostId(1))), "register");
    REQUIRE(mark_value.exists);
    const uint64_t mark = get_u64(mark_value.value, 0);
    // Far above the mark (fsck's own destage may reserve more ids meanwhile), a host that never
    // reserved any, and counter 0.
    const uint64_t above = make_container_id(1, mark + 1000000);
    const uint64_t foreign = make_container_id(7, 5);
    const uint64_t zero = make_container_id(1, 0);
    co_await plant(*admin, above, 0, DiskIndex(0));
    co_await plant(*admin, foreign, 3, DiskIndex(1));
    co_await plant(*admin, zero, 1, DiskIndex(2));

    auto report = value_or_fail(co_await fsck(*fs), "fsck");
    for (const std::string& problem : report.problems) MESSAGE(problem);
    CHECK(report.problems_total == 3);
    check_kinds(report, Kinds{.unallocated = 3});
    CHECK(count_naming(report, above, "high-water mark " + std::to_string(mark)) == 1);
    CHECK(count_naming(report, foreign, "host 7 never reserved") == 1);
    CHECK(count_naming(report, zero, "counter is 0") == 1);
    CHECK(report.containers == clean.containers);
    CHECK(report.containers_on_shelf == clean.containers_on_shelf + 3);
    CHECK(report.containers_unreferenced == clean.containers_unreferenced + 3);
    CHECK(report.unreferenced_bytes == clean.unreferenced_bytes + 3 * kBlockBytes);
    CHECK(report.fragments_on_shelf == clean.fragments_on_shelf + 3);

    // Gone again: clean, as the final fsck of every test checks too.
    co_await unplant(*admin, above, 0, DiskIndex(0));
    co_await unplant(*admin, foreign, 3, DiskIndex(1));
    co_await unplant(*admin, zero, 1, DiskIndex(2));
    const FsckReport again = co_await clean_fsck(*fs, "fsck after removing them");
    CHECK(again.containers_on_shelf == clean.containers_on_shelf);
    co_await admin->close();
  });
}

TEST_CASE("hostdriver/fs: fsck reports one container id stored on two stripes") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open(sealing_on_purpose(s));
    auto admin = value_or_fail(
        co_await protocol::ShelfClient::connect(s.env(), s.shelf().address()), "connect");
    Prng rng(kFileSeed + 3);
    const uint64_t file = co_await create_file(*fs, "twice");
    co_await write_blocks(*fs, file, 3, rng);
    const FsckReport clean = co_await clean_fsck(*fs, "fsck before copying");
    auto ref = value_or_fail(co_await fs->store().lookup_block(InodeId(file), 0), "lookup_block");
    REQUIRE(ref.has_value());
    const uint64_t container = ref->location.container_id;
    auto disks = value_or_fail(fs->store().placement(ContainerId(container)), "placement");
    // A copy of fragment 5 on a disk outside the stripe: the id claims two disk sets.
    const std::set<DiskIndex> stripe(disks.begin(), disks.end());
    DiskIndex outside(0);
    while (stripe.count(outside) != 0) outside = DiskIndex(outside.value() + 1);
    const protocol::FragmentIdValue id{container, 5, blockstore::kFragmentGeneration};
    auto bytes = value_or_fail(co_await admin->fragment_read(disks[5], id, 0, 0), "read");
    auto copied = co_await admin->fragment_write(HostId(3), Epoch(1), outside, id, bytes);
    REQUIRE_MESSAGE(copied.ok(), why(copied));

    auto report = value_or_fail(co_await fsck(*fs), "fsck");
    for (const std::string& problem : report.problems) MESSAGE(problem);
    CHECK(report.problems_total == 2);  // the id on two disks; a fragment off its placement
    check_kinds(report, Kinds{.inconsistent = 1, .duplicated = 1});
    CHECK(count_naming(report, container, "two stripes claim the id") == 1);
    CHECK(count_naming(report, container, "its placement is disk") == 1);
    CHECK(report.containers == clean.containers);
    CHECK(report.fragments_on_shelf == clean.fragments_on_shelf + 1);

    auto removed = co_await admin->fragment_delete(HostId(3), Epoch(1), outside, id);
    REQUIRE_MESSAGE(removed.ok(), why(removed));
    co_await admin->close();
  });
}

// Writes a whole stripe for `container` where its placement puts it, as the destager would: one
// chunk of `fp` in a container of the tests' geometry, parity computed, every header valid. No
// index entry is inserted: nothing names it.
Task<void> plant_stripe(protocol::ShelfClient& admin, FileSystem& fs, uint64_t container,
                        const protocol::Fingerprint& fp) {
  container::ContainerBuilder builder(
      container::ContainerGeometry{kDataFragments, kFragmentPayloadBytes}, ContainerId(container));
  const std::vector<uint8_t> block(kBlockBytes, 0x5c);
  REQUIRE(builder.add(fp, container::ChunkEncoding::kRaw, block, kBlockBytes).ok());
  const container::SealedContainer sealed = builder.seal();
  auto code = value_or_fail(ec::ErasureCode::create(kDataFragments, kParityFragments), "code");
  std::vector<std::span<const uint8_t>> data;
  for (uint32_t i = 0; i < kDataFragments; ++i) data.push_back(sealed.fragment(i));
  std::vector<std::vector<uint8_t>> parity(kParityFragments,
                                           std::vector<uint8_t>(kFragmentPayloadBytes));
  std::vector<std::span<uint8_t>> parity_out(parity.begin(), parity.end());
  code.encode(data, parity_out);
  auto disks = value_or_fail(fs.store().placement(ContainerId(container)), "placement");
  for (uint32_t i = 0; i < kStripeFragments; ++i) {
    const uint8_t index = static_cast<uint8_t>(i);
    const protocol::FragmentId id{ContainerId(container), index, blockstore::kFragmentGeneration};
    const std::span<const uint8_t> payload =
        i < kDataFragments ? data[i] : std::span<const uint8_t>(parity[i - kDataFragments]);
    const protocol::FragmentIdValue wire{container, index, blockstore::kFragmentGeneration};
    auto written = co_await admin.fragment_write(HostId(3), Epoch(1), disks[i], wire,
                                                 protocol::build_fragment(id, payload));
    REQUIRE_MESSAGE(written.ok(), why(written));
  }
}

Task<void> delete_stripe(protocol::ShelfClient& admin, FileSystem& fs, uint64_t container) {
  auto disks = value_or_fail(fs.store().placement(ContainerId(container)), "placement");
  for (uint32_t i = 0; i < kStripeFragments; ++i) {
    const protocol::FragmentIdValue wire{container, static_cast<uint8_t>(i),
                                         blockstore::kFragmentGeneration};
    auto deleted = co_await admin.fragment_delete(HostId(3), Epoch(1), disks[i], wire);
    if (!deleted.ok()) REQUIRE(deleted.code() == Code::kNotFound);  // deleted before
  }
}

TEST_CASE("hostdriver/fs: fsck reports a leaked container and tells it from garbage") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open(sealing_on_purpose(s));
    auto admin = value_or_fail(
        co_await protocol::ShelfClient::connect(s.env(), s.shelf().address()), "connect");
    Prng rng(kFileSeed + 5);
    const uint64_t file = co_await create_file(*fs, "kept");
    co_await write_blocks(*fs, file, 3, rng);
    co_await write_blocks(*fs, file, 3, rng);  // an overwrite: garbage, and no leak
    const FsckReport clean = co_await clean_fsck(*fs, "fsck before planting");
    CHECK(clean.containers_unreferenced > 0);
    CHECK(clean.containers_not_judged == 0);
    CHECK(clean.containers_leaked == 0);
    // An id host 1 (the owner fsck runs as) reserved but has not used yet: the last of its
    // current reservation, which these few writes do not reach.
    auto mark_value = value_or_fail(
        co_await admin->register_get(blockstore::container_ids_register(HostId(1))), "register");
    REQUIRE(mark_value.exists);
    const uint64_t leaked = make_container_id(1, get_u64(mark_value.value, 0) - 1);
    protocol::Fingerprint fp{};
    put_u64(fp, 0, 0x1eaced);
    co_await plant_stripe(*admin, *fs, leaked, fp);

    FsckOptions no_data;
    no_data.check_data = false;
    auto report = value_or_fail(co_await fsck(*fs, no_data), "fsck");
    for (const std::string& problem : report.problems) MESSAGE(problem);
    CHECK(report.problems_total == 1);
    check_kinds(report, Kinds{});
    CHECK(report.containers_leaked == 1);
    CHECK(report.leaked_bytes == kContainerBytesOnDisks);
    CHECK(count_naming(report, leaked, "is leaked: none of its 1 chunks") == 1);
    CHECK(report.containers_unreferenced == clean.containers_unreferenced + 1);
    CHECK(report.containers_not_judged == 0);

    // Once the index names it, it is garbage like any other.
    std::vector<protocol::Fingerprint> fps(1, fp);
    protocol::ChunkLocation location;
    location.container_id = leaked;
    location.length = kBlockBytes;
    std::vector<protocol::ChunkLocation> locations(1, location);
    auto inserted =
        value_or_fail(co_await admin->index_insert(HostId(1), fs->store().config().epoch,
                                                   std::move(fps), std::move(locations)),
                      "index_insert");
    REQUIRE(inserted.inserted.size() == 1);
    CHECK(inserted.inserted[0]);
    auto indexed = value_or_fail(co_await fsck(*fs, no_data), "fsck");
    for (const std::string& problem : indexed.problems) MESSAGE(problem);
    CHECK(indexed.ok());
    CHECK(indexed.containers_leaked == 0);
    CHECK(indexed.containers_unreferenced == clean.containers_unreferenced + 1);

    // Without the data fragment holding its footer fsck cannot tell: counted, no problem.
    auto disks = value_or_fail(fs->store().placement(ContainerId(leaked)), "placement");
    const protocol::FragmentIdValue last{leaked, kDataFragments - 1,
                                         blockstore::kFragmentGeneration};
    auto deleted = co_await admin->fragment_delete(HostId(3), Epoch(1), disks[last.index], last);
    REQUIRE_MESSAGE(deleted.ok(), why(deleted));
    auto unjudged = value_or_fail(co_await fsck(*fs, no_data), "fsck");
    CHECK(unjudged.ok());
    CHECK(unjudged.containers_not_judged == 1);
    CHECK(unjudged.containers_leaked == 0);

    co_await delete_stripe(*admin, *fs, leaked);
    co_await clean_fsck(*fs, "fsck after removing it");
    co_await admin->close();
  });
}

// Data fragment k-1 of `container` as stored, with its footer's trailer naming `other` instead
// (trailer CRC and fragment CRC made valid again): the stripe's bytes claim another identity.
std::vector<uint8_t> trailer_naming(const std::vector<uint8_t>& fragment, uint64_t container,
                                    uint64_t other) {
  std::vector<uint8_t> payload(fragment.begin() + protocol::kFragmentHeaderSize, fragment.end());
  REQUIRE(payload.size() == kFragmentPayloadBytes);
  const std::span<uint8_t> trailer = std::span<uint8_t>(payload).last(container::kTrailerBytes);
  REQUIRE(get_u64(trailer, 8) == container);
  put_u64(trailer, 8, other);
  put_u32(trailer, 60, crc32c(trailer.first(60)));
  const protocol::FragmentId id{ContainerId(container), kDataFragments - 1,
                                blockstore::kFragmentGeneration};
  return protocol::build_fragment(id, payload);
}

TEST_CASE("hostdriver/fs: fsck reports a stripe whose footer names another container") {
  with_fs([](FsSession& s) -> Task<void> {
    s.final_fsck = false;  // this test damages the shelf on purpose
    FileSystem* fs = co_await s.open(sealing_on_purpose(s));
    auto admin = value_or_fail(
        co_await protocol::ShelfClient::connect(s.env(), s.shelf().address()), "connect");
    Prng rng(kFileSeed + 4);
    const uint64_t file = co_await create_file(*fs, "named");
    co_await write_blocks(*fs, file, 3, rng);
    const FsckReport clean = co_await clean_fsck(*fs, "fsck before forging");
    auto ref = value_or_fail(co_await fs->store().lookup_block(InodeId(file), 0), "lookup_block");
    REQUIRE(ref.has_value());
    const uint64_t container = ref->location.container_id;
    auto disks = value_or_fail(fs->store().placement(ContainerId(container)), "placement");
    const protocol::FragmentIdValue id{container, kDataFragments - 1,
                                       blockstore::kFragmentGeneration};
    auto bytes = value_or_fail(co_await admin->fragment_read(disks[id.index], id, 0, 0), "read");
    std::vector<uint8_t> forged = trailer_naming(bytes, container, container + 1);
    auto written =
        co_await admin->fragment_write(HostId(3), Epoch(1), disks[id.index], id, std::move(forged));
    REQUIRE_MESSAGE(written.ok(), why(written));

    FsckOptions no_data;  // the chunks are intact; reading them adds nothing
    no_data.check_data = false;
    auto report = value_or_fail(co_await fsck(*fs, no_data), "fsck");
    for (const std::string& problem : report.problems) MESSAGE(problem);
    // The trailer, and both parity fragments (no longer the parity of the changed data).
    CHECK(report.problems_total == 3);
    check_kinds(report, Kinds{.inconsistent = 1});
    CHECK(count_naming(report, container, "trailer names container") == 1);
    CHECK(count_naming(report, container, "parity fragment") == 2);
    CHECK(report.containers == clean.containers);
    co_await admin->close();
  });
}

}  // namespace
}  // namespace splitarray::hostdriver::fs::fs_test
