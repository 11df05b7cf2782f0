// fsck (hostdriver/fs/fsck.h): clean on a file system after mixed work, and it finds damage a
// read of the files alone would not: a parity fragment whose CRC is valid but whose bytes are not
// the parity of its data, and a fragment rotted on disk.
#include <doctest/doctest.h>

#include "hostdriver/blockstore/destager.h"
#include "hostdriver/fs/fsck.h"
#include "protocol/fragment_header.h"
#include "tests/unit/hostdriver/fs/fs_fixture.h"

namespace splitarray::hostdriver::fs::fs_test {
namespace {

using blockstore::bs_test::locate_slot;
using blockstore::bs_test::read_file_range;
using blockstore::bs_test::write_file_range;

// Some of everything: nested directories, files with data (some shared: dedup), links, a
// symlink, renames and removals.
// Returns a file whose first block is data (not a hole).
Task<uint64_t> populate(FileSystem& fs) {
  const uint64_t d = value_or_fail(co_await fs.mkdir(kRootInode, "d", {}), "mkdir").attrs.inode;
  const uint64_t e = value_or_fail(co_await fs.mkdir(d, "e", {}), "mkdir").attrs.inode;
  uint64_t first = 0;
  for (int i = 0; i < 40; ++i) {
    const uint64_t parent = i % 2 ? d : e;
    auto made = value_or_fail(
        co_await fs.create(parent, "f" + std::to_string(i), CreateMode::kGuarded, {}, 0), "create");
    if (i == 5) first = made.attrs.inode;  // its data is not all zeros
    std::vector<uint8_t> data(size_t(1 + i % 5) * kBlockBytes + size_t(i), uint8_t(i % 7));
    auto wrote = co_await fs.write(made.attrs.inode, 0, data, Stability::kFileSync);
    REQUIRE_MESSAGE(wrote.ok(), why(wrote));
  }
  REQUIRE((co_await fs.link(first, kRootInode, "hard")).ok());
  REQUIRE((co_await fs.symlink(kRootInode, "s", "d/e/f0", {})).ok());
  REQUIRE((co_await fs.rename(d, "f1", e, "moved")).ok());
  REQUIRE((co_await fs.remove(d, "f3")).ok());
  REQUIRE((co_await fs.rename(e, "f2", e, "f4")).ok());  // over an existing file
  co_return first;
}

TEST_CASE("hostdriver/fs: fsck is clean after mixed work, restart and crash") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    co_await populate(*fs);
    auto report = value_or_fail(co_await fsck(*fs), "fsck");
    MESSAGE(report.summary());
    CHECK_MESSAGE(report.ok(), report.summary());
    for (const std::string& problem : report.problems) MESSAGE(problem);
    CHECK(report.inodes == 42);  // root, d, e, 40 files, a symlink, minus f2 and f3
    CHECK(report.directories == 3);
    CHECK(report.containers > 0);
    CHECK(report.fragments == report.containers * 10);
    fs = co_await s.crash(fs);
    report = value_or_fail(co_await fsck(*fs), "fsck after crash");
    CHECK_MESSAGE(report.ok(), report.summary());
    CHECK(report.inodes == 42);
  });
}

TEST_CASE("hostdriver/fs: fsck finds wrong parity and rotted fragments") {
  with_fs([](FsSession& s) -> Task<void> {
    s.final_fsck = false;  // this test damages the shelf on purpose
    FileSystem* fs = co_await s.open();
    const uint64_t file = co_await populate(*fs);
    auto clean = value_or_fail(co_await fsck(*fs), "fsck");
    REQUIRE_MESSAGE(clean.ok(), clean.summary());
    auto ref = value_or_fail(co_await fs->store().lookup_block(InodeId(file), 0), "lookup_block");
    REQUIRE(ref.has_value());
    const uint64_t container = ref->location.container_id;
    auto disks = value_or_fail(fs->store().placement(ContainerId(container)), "placement");

    // A forged parity fragment: valid header and CRC, wrong bytes.
    auto admin = value_or_fail(
        co_await protocol::ShelfClient::connect(s.env(), s.shelf().address()), "connect");
    const protocol::FragmentIdValue parity{container, 8, blockstore::kFragmentGeneration};
    auto bytes = value_or_fail(co_await admin->fragment_read(disks[8], parity, 0, 0), "read");
    std::vector<uint8_t> payload(bytes.begin() + protocol::kFragmentHeaderSize, bytes.end());
    payload[17] ^= 0x5a;
    const protocol::FragmentId id{ContainerId(container), 8, blockstore::kFragmentGeneration};
    const std::vector<uint8_t> forged = protocol::build_fragment(id, payload);
    auto forged_write =
        co_await admin->fragment_write(HostId(3), Epoch(1), disks[8], parity, forged);
    REQUIRE_MESSAGE(forged_write.ok(), why(forged_write));
    auto report = value_or_fail(co_await fsck(*fs), "fsck");
    CHECK(!report.ok());
    bool parity_found = false;
    for (const std::string& problem : report.problems) {
      MESSAGE(problem);
      parity_found |= problem.find("parity fragment 8") != std::string::npos;
    }
    CHECK(parity_found);

    // A byte rotted on disk in another fragment of the same stripe.
    const std::string path = s.shelf().disk_path(disks[3]);
    const auto slot = locate_slot(
        path, protocol::FragmentId{ContainerId(container), 3, blockstore::kFragmentGeneration});
    std::vector<uint8_t> byte = read_file_range(path, slot.payload_offset() + 300, 1);
    byte[0] ^= 0xff;
    write_file_range(path, slot.payload_offset() + 300, byte);
    report = value_or_fail(co_await fsck(*fs), "fsck");
    bool rot_found = false;
    for (const std::string& problem : report.problems) {
      rot_found |= problem.find("fragment 3") != std::string::npos;
    }
    CHECK_MESSAGE(rot_found, report.summary());
    co_await admin->close();
  });
}

}  // namespace
}  // namespace splitarray::hostdriver::fs::fs_test
