// POSIX semantics of the file system's operations (file_system.h), each checked through what a
// client sees afterwards (lookups, attributes, listings, bytes read), and that all of it
// survives a clean restart and a crash (a new owner taking over).
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "common/async/task_group.h"
#include "common/async/yield.h"
#include "common/endian.h"
#include "tests/unit/hostdriver/fs/fs_fixture.h"

namespace splitarray::hostdriver::fs::fs_test {
namespace {

template <class T>
bool failed_with(const Result<T>& result, Code code) {
  return !result.ok() && result.code() == code;
}

// Every name in a directory (paging through readdir with a small page size).
Task<std::map<std::string, uint64_t>> list(FileSystem& fs, uint64_t dir, size_t page = 3) {
  std::map<std::string, uint64_t> names;
  uint64_t cookie = 0;
  for (int pages = 0; pages < 100000; ++pages) {
    auto got = co_await fs.readdir(dir, cookie, page);
    REQUIRE_MESSAGE(got.ok(), "readdir: " << why(got));
    for (const DirListEntry& entry : got->entries) {
      CHECK_MESSAGE(names.count(entry.name) == 0, "listed twice: " << entry.name);
      names[entry.name] = entry.inode;
      cookie = entry.cookie;
    }
    if (got->eof) co_return names;
    REQUIRE_MESSAGE(!got->entries.empty(), "a page without entries must be the last");
  }
  FAIL("readdir did not end");
  co_return names;
}

Task<std::vector<uint8_t>> read_all(FileSystem& fs, uint64_t inode) {
  auto attrs = value_or_fail(co_await fs.getattr(inode), "getattr");
  auto got = value_or_fail(co_await fs.read(inode, 0, static_cast<uint32_t>(attrs.size)), "read");
  CHECK(got.eof);
  co_return got.data;
}

TEST_CASE("hostdriver/fs: a new datastore has an empty root directory") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    auto root = value_or_fail(co_await fs->getattr(kRootInode), "getattr root");
    CHECK(root.type == FileType::kDirectory);
    CHECK(root.nlink == 2);
    CHECK(root.mode == 0755);
    auto names = co_await list(*fs, kRootInode);
    CHECK(names.size() == 2);
    CHECK(names["."] == kRootInode);
    CHECK(names[".."] == kRootInode);
    CHECK(failed_with(co_await fs->getattr(2), Code::kNotFound));
    // Formatting twice is refused.
    const FormatOptions options;
    auto again = co_await FileSystem::format(s.env(), s.config(), options);
    CHECK(failed_with(again, Code::kExists));
  });
}

TEST_CASE("hostdriver/fs: names, attributes and data survive restart and crash") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    SetAttributes mode600;
    mode600.mode = 0600;
    mode600.uid = 1000;
    mode600.gid = 100;
    auto file = value_or_fail(
        co_await fs->create(kRootInode, "a.txt", CreateMode::kGuarded, mode600, 0), "create");
    CHECK(file.attrs.type == FileType::kRegular);
    CHECK(file.attrs.mode == 0600);
    CHECK(file.attrs.uid == 1000);
    CHECK(file.attrs.nlink == 1);
    CHECK(file.dir.after.mtime >= file.dir.before.mtime);
    CHECK(file.dir.after.size == file.dir.before.size + kDirEntrySizeUnit);
    const uint64_t a = file.attrs.inode;
    // Guarded create of an existing name fails; unchecked returns the same file.
    CHECK(failed_with(co_await fs->create(kRootInode, "a.txt", CreateMode::kGuarded, {}, 0),
                      Code::kExists));
    auto same = value_or_fail(
        co_await fs->create(kRootInode, "a.txt", CreateMode::kUnchecked, {}, 0), "unchecked");
    CHECK(same.attrs.inode == a);
    // Exclusive: a retry with the same verifier succeeds, another verifier fails.
    auto excl = value_or_fail(co_await fs->create(kRootInode, "x", CreateMode::kExclusive, {}, 77),
                              "exclusive");
    auto retry = value_or_fail(co_await fs->create(kRootInode, "x", CreateMode::kExclusive, {}, 77),
                               "retry");
    CHECK(retry.attrs.inode == excl.attrs.inode);
    CHECK(failed_with(co_await fs->create(kRootInode, "x", CreateMode::kExclusive, {}, 78),
                      Code::kExists));

    auto dir = value_or_fail(co_await fs->mkdir(kRootInode, "d", {}), "mkdir");
    CHECK(dir.attrs.nlink == 2);
    CHECK(dir.dir.after.nlink == 3);  // root gained a subdirectory
    const uint64_t d = dir.attrs.inode;
    auto link = value_or_fail(co_await fs->symlink(d, "l", "../a.txt", {}), "symlink");
    CHECK(link.attrs.size == 8);
    CHECK(value_or_fail(co_await fs->readlink(link.attrs.inode), "readlink") == "../a.txt");

    std::vector<uint8_t> data(3 * kBlockBytes + 100);
    for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7);
    auto wrote = value_or_fail(co_await fs->write(a, 0, data, Stability::kFileSync), "write");
    CHECK(wrote.after.size == data.size());
    CHECK(wrote.before.size == 0);
    auto hard = value_or_fail(co_await fs->link(a, d, "hard"), "link");
    CHECK(hard.attrs.nlink == 2);
    CHECK(failed_with(co_await fs->link(d, kRootInode, "dirlink"), Code::kIsDirectory));

    // Errors a client relies on.
    CHECK(failed_with(co_await fs->lookup(kRootInode, "nope"), Code::kNotFound));
    CHECK(failed_with(co_await fs->lookup(a, "x"), Code::kNotDirectory));
    CHECK(failed_with(co_await fs->rmdir(kRootInode, "d"), Code::kNotEmpty));
    CHECK(failed_with(co_await fs->rmdir(kRootInode, "a.txt"), Code::kNotDirectory));
    CHECK(failed_with(co_await fs->remove(kRootInode, "d"), Code::kIsDirectory));
    CHECK(
        failed_with(co_await fs->mkdir(kRootInode, std::string(256, 'n'), {}), Code::kNameTooLong));
    CHECK(failed_with(co_await fs->mkdir(kRootInode, "a/b", {}), Code::kInvalidArgument));
    CHECK(failed_with(co_await fs->rename(kRootInode, "d", d, "inside"), Code::kInvalidArgument));

    auto check_all = [&](FileSystem& now, const char* when) -> Task<void> {
      INFO(when);
      auto names = co_await list(now, kRootInode);
      CHECK(names.size() == 5);  // . .. a.txt x d
      CHECK(names["a.txt"] == a);
      CHECK(names["d"] == d);
      auto in_d = co_await list(now, d);
      CHECK(in_d.size() == 4);  // . .. l hard
      CHECK(in_d[".."] == kRootInode);
      CHECK(in_d["hard"] == a);
      auto got = co_await read_all(now, a);
      CHECK_MESSAGE(got == data, first_difference(got, data));
      auto attrs = value_or_fail(co_await now.getattr(a), "getattr");
      CHECK(attrs.nlink == 2);
      CHECK(attrs.mode == 0600);
      CHECK(attrs.size == data.size());
      auto found = value_or_fail(co_await now.lookup(d, "l"), "lookup l");
      CHECK(found.type == FileType::kSymlink);
      CHECK(value_or_fail(co_await now.readlink(found.inode), "readlink") == "../a.txt");
      auto root = value_or_fail(co_await now.getattr(kRootInode), "root");
      CHECK(root.nlink == 3);
    };
    co_await check_all(*fs, "before restart");
    fs = co_await s.restart(fs);
    co_await check_all(*fs, "after a clean restart");
    fs = co_await s.crash(fs);
    co_await check_all(*fs, "after a crash");
  });
}

TEST_CASE("hostdriver/fs: rename moves, replaces and is atomic across a crash") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    const uint64_t d1 = value_or_fail(co_await fs->mkdir(kRootInode, "d1", {}), "d1").attrs.inode;
    const uint64_t d2 = value_or_fail(co_await fs->mkdir(kRootInode, "d2", {}), "d2").attrs.inode;
    const uint64_t f =
        value_or_fail(co_await fs->create(d1, "f", CreateMode::kGuarded, {}, 0), "f").attrs.inode;
    const uint64_t g =
        value_or_fail(co_await fs->create(d2, "g", CreateMode::kGuarded, {}, 0), "g").attrs.inode;
    auto written = co_await fs->write(g, 0, bytes_of("old target"), Stability::kFileSync);
    REQUIRE(written.ok());
    // Over an existing file: g's only link goes, so g is gone and its data dropped.
    auto moved = value_or_fail(co_await fs->rename(d1, "f", d2, "g"), "rename over");
    CHECK(moved.from.after.size + kDirEntrySizeUnit == moved.from.before.size);
    CHECK(moved.to.after.size == moved.to.before.size);
    CHECK(failed_with(co_await fs->getattr(g), Code::kNotFound));
    CHECK(value_or_fail(co_await fs->lookup(d2, "g"), "lookup").inode == f);
    CHECK(failed_with(co_await fs->lookup(d1, "f"), Code::kNotFound));
    // A directory moves with its parent pointer and link counts.
    auto sub = value_or_fail(co_await fs->mkdir(d1, "sub", {}), "sub");
    auto dmove = value_or_fail(co_await fs->rename(d1, "sub", d2, "sub2"), "rename dir");
    CHECK(dmove.from.after.nlink == 2);
    CHECK(dmove.to.after.nlink == 3);
    CHECK(value_or_fail(co_await fs->lookup(sub.attrs.inode, ".."), "..").inode == d2);
    // Renaming onto a hard link of itself does nothing.
    REQUIRE((co_await fs->link(f, d2, "f2")).ok());
    REQUIRE((co_await fs->rename(d2, "g", d2, "f2")).ok());
    CHECK(value_or_fail(co_await fs->lookup(d2, "g"), "still there").inode == f);

    fs = co_await s.crash(fs);
    CHECK(fs->stats().replayed_operations > 0);
    CHECK(failed_with(co_await fs->getattr(g), Code::kNotFound));
    CHECK(value_or_fail(co_await fs->lookup(d2, "g"), "after crash").inode == f);
    CHECK(value_or_fail(co_await fs->lookup(d2, "sub2"), "after crash").inode == sub.attrs.inode);
    CHECK(value_or_fail(co_await fs->getattr(d2), "d2").nlink == 3);
    CHECK(value_or_fail(co_await fs->getattr(d1), "d1").nlink == 2);
    CHECK(value_or_fail(co_await fs->getattr(f), "f").nlink == 2);
    auto names = co_await list(*fs, d2);
    CHECK(names.size() == 5);  // . .. g sub2 f2
  });
}

TEST_CASE("hostdriver/fs: a remove and its data's reap reach the shelf in one append") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    const uint64_t f =
        value_or_fail(co_await fs->create(kRootInode, "f", CreateMode::kGuarded, {}, 0), "f")
            .attrs.inode;
    std::vector<uint8_t> data(2 * kBlockBytes, uint8_t{0x5a});
    REQUIRE((co_await fs->write(f, 0, data, Stability::kFileSync)).ok());
    const FsStats before = fs->stats();
    REQUIRE((co_await fs->remove(kRootInode, "f")).ok());
    REQUIRE((co_await fs->store().commit()).ok());  // the reap is unstable: wait for it too
    const FsStats after = fs->stats();
    CHECK(after.reaped_orphans == before.reaped_orphans + 1);
    // One round trip to the shelf, not two: the reap's record rode with the unlink's.
    CHECK(after.store.log_appends == before.store.log_appends + 1);
    CHECK(failed_with(co_await fs->getattr(f), Code::kNotFound));
    CHECK(!fs->store().block_ref(InodeId(f), 0).ok());

    // Durable when answered: a crash right after the remove keeps the file gone, with nothing
    // left to reap.
    fs = co_await s.crash(fs);
    CHECK(fs->stats().reaped_orphans == 0);
    CHECK(failed_with(co_await fs->lookup(kRootInode, "f"), Code::kNotFound));
    CHECK(failed_with(co_await fs->getattr(f), Code::kNotFound));
    CHECK(!fs->store().block_ref(InodeId(f), 0).ok());
  });
}

TEST_CASE("hostdriver/fs: cached attributes answer from memory only and agree with getattr") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    const uint64_t f =
        value_or_fail(co_await fs->create(kRootInode, "f", CreateMode::kGuarded, {}, 0), "f")
            .attrs.inode;
    REQUIRE((co_await fs->write(f, 0, bytes_of("twelve bytes"), Stability::kFileSync)).ok());
    auto cached = fs->cached_attributes(f);
    REQUIRE(cached.has_value());
    CHECK(*cached == value_or_fail(co_await fs->getattr(f), "getattr"));
    CHECK(cached->size == 12);
    CHECK_FALSE(fs->cached_attributes(f + 1000).has_value());  // no such inode

    // After a clean restart the inode is in the tree, not in memory, until getattr loads it.
    fs = co_await s.restart(fs);
    CHECK_FALSE(fs->cached_attributes(f).has_value());
    const Attributes loaded = value_or_fail(co_await fs->getattr(f), "getattr after restart");
    CHECK(loaded.size == 12);
    cached = fs->cached_attributes(f);
    REQUIRE(cached.has_value());
    CHECK(*cached == loaded);

    REQUIRE((co_await fs->remove(kRootInode, "f")).ok());
    CHECK_FALSE(fs->cached_attributes(f).has_value());
  });
}

Task<void> checkpoint_into(FileSystem& fs, Result<void>& out) { out = co_await fs.checkpoint(); }

TEST_CASE("hostdriver/fs: a directory removed while a checkpoint yields is merged and dropped") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    // More than 512 entry changes: the checkpoint yields to the loop while merging `big`.
    const uint64_t big =
        value_or_fail(co_await fs->mkdir(kRootInode, "big", {}), "big").attrs.inode;
    constexpr int kFiles = 600;
    for (int i = 0; i < kFiles; ++i) {
      REQUIRE(
          (co_await fs->create(big, "f" + std::to_string(i), CreateMode::kGuarded, {}, 0)).ok());
    }
    // `late` (merged after `big`: a higher inode) has entry changes but ends up empty.
    const uint64_t late =
        value_or_fail(co_await fs->mkdir(kRootInode, "late", {}), "late").attrs.inode;
    REQUIRE(late > big);
    REQUIRE((co_await fs->create(late, "x", CreateMode::kGuarded, {}, 0)).ok());
    REQUIRE((co_await fs->remove(late, "x")).ok());

    Result<void> checkpointed = make_error(Code::kUnavailable, "did not run");
    async::TaskGroup group;
    const auto executor = co_await asio::this_coro::executor;
    group.spawn(executor, checkpoint_into(*fs, checkpointed));
    co_await async::yield_to_loop();  // the checkpoint freezes and merges until its first yield
    REQUIRE((co_await fs->rmdir(kRootInode, "late")).ok());
    co_await group.join();
    REQUIRE_MESSAGE(checkpointed.ok(), why(checkpointed));

    auto check = [&](FileSystem& now, const char* when) -> Task<void> {
      INFO(when);
      CHECK(failed_with(co_await now.lookup(kRootInode, "late"), Code::kNotFound));
      CHECK(failed_with(co_await now.getattr(late), Code::kNotFound));
      auto names = co_await list(now, big, 256);
      CHECK(names.size() == kFiles + 2);  // and . ..
    };
    co_await check(*fs, "after the checkpoint");
    fs = co_await s.crash(fs);
    co_await check(*fs, "after a crash");
  });
}

TEST_CASE("hostdriver/fs: setattr truncates and extends, times and modes stick") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    const uint64_t f =
        value_or_fail(co_await fs->create(kRootInode, "f", CreateMode::kGuarded, {}, 0), "f")
            .attrs.inode;
    std::vector<uint8_t> data(2 * kBlockBytes, 0xab);
    REQUIRE((co_await fs->write(f, 0, data, Stability::kUnstable)).ok());
    REQUIRE((co_await fs->commit()).ok());
    SetAttributes shrink;
    shrink.size = 100;
    auto small = value_or_fail(co_await fs->setattr(f, shrink, std::nullopt), "shrink");
    CHECK(small.before.size == data.size());
    CHECK(small.after.size == 100);
    SetAttributes grow;
    grow.size = 3 * kBlockBytes;
    grow.mode = 0640;
    grow.mtime = WallTime{123456789};
    auto big = value_or_fail(co_await fs->setattr(f, grow, std::nullopt), "grow");
    CHECK(big.after.size == 3 * kBlockBytes);
    CHECK(big.after.mode == 0640);
    CHECK(big.after.mtime == WallTime{123456789});
    // A guard that does not match changes nothing.
    SetAttributes mode;
    mode.mode = 0777;
    const WallTime wrong_guard{1};
    CHECK(failed_with(co_await fs->setattr(f, mode, wrong_guard), Code::kInvalidArgument));
    fs = co_await s.crash(fs);
    auto attrs = value_or_fail(co_await fs->getattr(f), "getattr");
    CHECK(attrs.size == 3 * kBlockBytes);
    CHECK(attrs.mode == 0640);
    auto got = value_or_fail(co_await fs->read(f, 0, 3 * kBlockBytes), "read");
    std::vector<uint8_t> want(3 * kBlockBytes, 0);
    std::fill(want.begin(), want.begin() + 100, uint8_t{0xab});
    CHECK_MESSAGE(got.data == want, first_difference(got.data, want));
    CHECK(got.eof);
  });
}

TEST_CASE(
    "hostdriver/fs: block maps leave memory at checkpoints and survive truncates and crashes") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    const uint64_t f =
        value_or_fail(co_await fs->create(kRootInode, "big", CreateMode::kGuarded, {}, 0), "f")
            .attrs.inode;
    // 1,200 blocks written in 64 KiB writes, each block distinct.
    constexpr uint64_t kBlocks = 1200;
    constexpr uint64_t kWritePiece = 16 * kBlockBytes;
    auto block_bytes = [](uint64_t block, uint8_t round) {
      std::vector<uint8_t> bytes(kBlockBytes);
      for (size_t i = 0; i < bytes.size(); i += 8) put_u64(bytes, i, block * 1000003 + round + i);
      return bytes;
    };
    std::vector<uint8_t> want(kBlocks * kBlockBytes);
    for (uint64_t b = 0; b < kBlocks; ++b) {
      const std::vector<uint8_t> bytes = block_bytes(b, 1);
      std::copy(bytes.begin(), bytes.end(), want.begin() + static_cast<ptrdiff_t>(b * kBlockBytes));
    }
    for (uint64_t at = 0; at < want.size(); at += kWritePiece) {
      std::vector<uint8_t> piece(want.begin() + static_cast<ptrdiff_t>(at),
                                 want.begin() + static_cast<ptrdiff_t>(at + kWritePiece));
      REQUIRE((co_await fs->write(f, at, std::move(piece), Stability::kUnstable)).ok());
    }
    REQUIRE((co_await fs->commit()).ok());
    CHECK(fs->store().map_entries() >= kBlocks);
    REQUIRE((co_await fs->checkpoint()).ok());
    CHECK(fs->store().map_entries() == 0);  // all of it is in the file's tree now
    // Truncate into the middle, overwrite some blocks, extend again: memory over the tree.
    SetAttributes shrink;
    shrink.size = 700 * kBlockBytes + 123;
    REQUIRE((co_await fs->setattr(f, shrink, std::nullopt)).ok());
    want.resize(700 * kBlockBytes + 123);
    const std::vector<uint8_t> fresh = block_bytes(10, 2);
    REQUIRE((co_await fs->write(f, 10 * kBlockBytes, fresh, Stability::kFileSync)).ok());
    std::copy(fresh.begin(), fresh.end(), want.begin() + 10 * kBlockBytes);
    SetAttributes grow;
    grow.size = 900 * kBlockBytes;
    REQUIRE((co_await fs->setattr(f, grow, std::nullopt)).ok());
    want.resize(900 * kBlockBytes, 0);
    auto check = [&](FileSystem& now, const char* when) -> Task<void> {
      INFO(when);
      for (uint64_t at = 0; at < want.size(); at += kReadBytesMax) {
        const uint64_t n = std::min<uint64_t>(kReadBytesMax, want.size() - at);
        auto got = value_or_fail(co_await now.read(f, at, static_cast<uint32_t>(n)), "read");
        std::vector<uint8_t> expect(want.begin() + static_cast<ptrdiff_t>(at),
                                    want.begin() + static_cast<ptrdiff_t>(at + n));
        CHECK_MESSAGE(got.data == expect,
                      "at " << at << ": " << first_difference(got.data, expect));
      }
    };
    co_await check(*fs, "before the checkpoint");
    REQUIRE((co_await fs->checkpoint()).ok());
    CHECK(fs->store().map_entries() == 0);
    co_await check(*fs, "after the checkpoint");
    const std::vector<uint8_t> late = block_bytes(800, 3);  // only in the log at the crash
    REQUIRE((co_await fs->write(f, 800 * kBlockBytes, late, Stability::kFileSync)).ok());
    std::copy(late.begin(), late.end(), want.begin() + 800 * kBlockBytes);
    fs = co_await s.crash(fs);
    co_await check(*fs, "after a crash");
  });
}

TEST_CASE("hostdriver/fs: a 1 TiB sparse file costs only its written blocks") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    const uint64_t f =
        value_or_fail(co_await fs->create(kRootInode, "sparse", CreateMode::kGuarded, {}, 0), "f")
            .attrs.inode;
    constexpr uint64_t kTiB = uint64_t{1} << 40;
    const std::vector<uint8_t> head = bytes_of("first bytes");
    const std::vector<uint8_t> tail = bytes_of("last bytes of a terabyte");
    REQUIRE((co_await fs->write(f, 0, head, Stability::kFileSync)).ok());
    REQUIRE((co_await fs->write(f, kTiB - tail.size(), tail, Stability::kFileSync)).ok());
    REQUIRE((co_await fs->write(f, kTiB / 2 + 12345, head, Stability::kFileSync)).ok());
    auto check = [&](FileSystem& now, const char* when) -> Task<void> {
      INFO(when);
      auto attrs = value_or_fail(co_await now.getattr(f), "getattr");
      CHECK(attrs.size == kTiB);
      auto got = value_or_fail(co_await now.read(f, kTiB - tail.size(), 4096), "read tail");
      CHECK(got.data == tail);
      CHECK(got.eof);
      got = value_or_fail(co_await now.read(f, 0, static_cast<uint32_t>(head.size())), "head");
      CHECK(got.data == head);
      got = value_or_fail(co_await now.read(f, kTiB / 2 + 12345, 20), "middle");
      CHECK(std::equal(head.begin(), head.end(), got.data.begin()));
      got = value_or_fail(co_await now.read(f, kTiB / 4, 1 << 20), "a hole");
      CHECK(got.data == std::vector<uint8_t>(1 << 20, 0));
    };
    co_await check(*fs, "written");
    REQUIRE((co_await fs->checkpoint()).ok());
    CHECK(fs->store().map_entries() == 0);
    CHECK(fs->stats().store.blocks_written <= 4);  // three small writes, nothing else stored
    fs = co_await s.crash(fs);
    co_await check(*fs, "after a crash");
    // Truncating it to zero and back drops every block.
    SetAttributes zero;
    zero.size = 0;
    REQUIRE((co_await fs->setattr(f, zero, std::nullopt)).ok());
    SetAttributes again;
    again.size = kTiB;
    REQUIRE((co_await fs->setattr(f, again, std::nullopt)).ok());
    auto hole = value_or_fail(co_await fs->read(f, kTiB - tail.size(), 4096), "after truncate");
    CHECK(hole.data == std::vector<uint8_t>(tail.size(), 0));
  });
}

TEST_CASE("hostdriver/fs: fsstat reports the shelf's capacity after parity and the inodes used") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    auto before = value_or_fail(co_await fs->fsstat(), "fsstat");
    // 12 disks of 16 MiB with 64 KiB slots, RS(8,2): about 12 x 16 MiB x 8/10 of file bytes.
    CHECK(before.total_bytes > 100 * kMiB);
    CHECK(before.total_bytes < 12 * 16 * kMiB);
    CHECK(before.free_bytes <= before.total_bytes);
    CHECK(before.total_files - before.free_files == 1);  // the root
    const uint64_t f =
        value_or_fail(co_await fs->create(kRootInode, "f", CreateMode::kGuarded, {}, 0), "f")
            .attrs.inode;
    std::vector<uint8_t> data(4 * kMiB);
    for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 2654435761u >> 13);
    for (uint64_t at = 0; at < data.size(); at += kMiB) {
      std::vector<uint8_t> piece(data.begin() + static_cast<ptrdiff_t>(at),
                                 data.begin() + static_cast<ptrdiff_t>(at + kMiB));
      REQUIRE((co_await fs->write(f, at, std::move(piece), Stability::kUnstable)).ok());
    }
    REQUIRE((co_await fs->store().destage_all()).ok());
    auto after = value_or_fail(co_await fs->fsstat(), "fsstat");
    CHECK(after.total_bytes == before.total_bytes);
    CHECK(after.free_bytes < before.free_bytes);
    CHECK(after.total_files - after.free_files == 2);
  });
}

TEST_CASE("hostdriver/fs: a big directory lists every entry once across checkpoints") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    const uint64_t d =
        value_or_fail(co_await fs->mkdir(kRootInode, "big", {}), "mkdir").attrs.inode;
    std::set<std::string> expected;
    for (int i = 0; i < 2000; ++i) {
      std::string name = "file-" + std::to_string(i) + std::string(size_t(i % 50), 'x');
      REQUIRE((co_await fs->create(d, name, CreateMode::kGuarded, {}, 0)).ok());
      expected.insert(name);
      if (i % 700 == 699) REQUIRE((co_await fs->checkpoint()).ok());
    }
    for (int i = 0; i < 2000; i += 3) {
      std::string name = "file-" + std::to_string(i) + std::string(size_t(i % 50), 'x');
      REQUIRE((co_await fs->remove(d, name)).ok());
      expected.erase(name);
    }
    auto check = [&](FileSystem& now) -> Task<void> {
      auto names = co_await list(now, d, 97);
      names.erase(".");
      names.erase("..");
      CHECK(names.size() == expected.size());
      for (const std::string& name : expected) CHECK_MESSAGE(names.count(name) == 1, name);
      CHECK(value_or_fail(co_await now.getattr(d), "dir").size ==
            expected.size() * kDirEntrySizeUnit);
    };
    co_await check(*fs);
    fs = co_await s.crash(fs);
    co_await check(*fs);
    REQUIRE((co_await fs->checkpoint()).ok());
    fs = co_await s.restart(fs);
    co_await check(*fs);
    CHECK(fs->stats().replayed_operations == 0);
  });
}

TEST_CASE("hostdriver/fs: a fenced owner cannot change anything") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* a = co_await s.open();
    const uint64_t f =
        value_or_fail(co_await a->create(kRootInode, "f", CreateMode::kGuarded, {}, 0), "f")
            .attrs.inode;
    FileSystem* b = co_await s.open(s.config(HostId(2)));
    // Every mutating call of the old owner fails with kStale and leaves nothing behind.
    CHECK(failed_with(co_await a->create(kRootInode, "late", CreateMode::kGuarded, {}, 0),
                      Code::kStale));
    CHECK(
        failed_with(co_await a->write(f, 0, bytes_of("late"), Stability::kFileSync), Code::kStale));
    CHECK(failed_with(co_await a->mkdir(kRootInode, "late-dir", {}), Code::kStale));
    CHECK(failed_with(co_await a->checkpoint(), Code::kStale));
    CHECK(failed_with(co_await b->lookup(kRootInode, "late"), Code::kNotFound));
    CHECK(failed_with(co_await b->lookup(kRootInode, "late-dir"), Code::kNotFound));
    CHECK(value_or_fail(co_await b->getattr(f), "f").size == 0);
    auto ok = co_await b->write(f, 0, bytes_of("new owner"), Stability::kFileSync);
    CHECK(ok.ok());
    FileSystem* c = co_await s.crash(b);
    auto got = value_or_fail(co_await c->read(f, 0, 100), "read");
    CHECK(got.data == bytes_of("new owner"));
  });
}

// The figures arrayctl's ratios come from count since format, not since the process started.
TEST_CASE("hostdriver/fs: the datastore's data figures survive a restart") {
  with_fs([](FsSession& s) -> Task<void> {
    FileSystem* fs = co_await s.open();
    const uint64_t f =
        value_or_fail(co_await fs->create(kRootInode, "f", CreateMode::kGuarded, {}, 0), "f")
            .attrs.inode;
    const DataFigures at_start = fs->stats().figures;
    // 8 blocks of one repeated block (1 unique), then 4 zero blocks (holes: not counted).
    std::vector<uint8_t> same(8 * kBlockBytes);
    for (size_t i = 0; i < same.size(); ++i) same[i] = static_cast<uint8_t>(i % kBlockBytes % 251);
    REQUIRE((co_await fs->write(f, 0, same, Stability::kFileSync)).ok());
    REQUIRE((co_await fs->write(f, same.size(), std::vector<uint8_t>(4 * kBlockBytes, 0),
                                Stability::kFileSync))
                .ok());
    const DataFigures written = fs->stats().figures;
    CHECK(written.written_bytes - at_start.written_bytes == 8 * kBlockBytes);
    CHECK(written.unique_bytes - at_start.unique_bytes >= kBlockBytes);
    CHECK(written.unique_bytes - at_start.unique_bytes < 8 * kBlockBytes);  // deduplicated
    CHECK(written.stored_bytes > at_start.stored_bytes);
    fs = co_await s.restart(fs);  // a clean stop checkpoints
    const DataFigures reopened = fs->stats().figures;
    CHECK(reopened.written_bytes == written.written_bytes);
    // The closing checkpoint stores metadata chunks after the figures it records were taken:
    // those are counted again by nobody, so the reopened figures may only be a little lower.
    CHECK(reopened.unique_bytes <= written.unique_bytes + 64 * kBlockBytes);
    CHECK(reopened.unique_bytes + 64 * kBlockBytes >= written.unique_bytes);
    CHECK(reopened.stored_bytes > 0);
    REQUIRE((co_await fs->write(f, 0, same, Stability::kFileSync)).ok());  // an overwrite counts
    CHECK(fs->stats().figures.written_bytes == written.written_bytes + 8 * kBlockBytes);
  });
}

// An owner that only serves reads never has a change refused: the lease watch tells it, so it
// stops answering from memory that misses the new owner's changes.
TEST_CASE(
    "hostdriver/fs: an owner that only reads learns from its lease watch that it was fenced") {
  with_fs([](FsSession& s) -> Task<void> {
    FsConfig watched = s.config();
    watched.lease_check_interval = std::chrono::milliseconds(20);
    FileSystem* a = co_await s.open(watched);
    const uint64_t f =
        value_or_fail(co_await a->create(kRootInode, "f", CreateMode::kGuarded, {}, 0), "f")
            .attrs.inode;
    REQUIRE((co_await a->write(f, 0, bytes_of("first owner"), Stability::kFileSync)).ok());
    CHECK(!a->fenced().has_value());
    FileSystem* b = co_await s.open(s.config(HostId(2)));
    REQUIRE((co_await b->write(f, 0, bytes_of("second owner"), Stability::kFileSync)).ok());
    // A reads until the watch fences it: never the new owner's bytes, then kStale for good.
    constexpr int kPollsMax = 500;  // 500 x 10 ms: far beyond a 20 ms check interval
    int polls = 0;
    for (; polls < kPollsMax && !a->fenced(); ++polls) {
      auto read = co_await a->read(f, 0, 100);
      if (read.ok()) CHECK(read->data == bytes_of("first owner"));
      co_await sleep_for(s.env().clock, std::chrono::milliseconds(10));
    }
    REQUIRE_MESSAGE(a->fenced().has_value(), "not fenced after " << polls << " polls");
    CHECK(a->fenced()->code == Code::kStale);
    CHECK(a->fenced()->message.find("taken over by host 2") != std::string::npos);
    CHECK(a->stats().lease_checks >= 1);
    CHECK(failed_with(co_await a->read(f, 0, 100), Code::kStale));
    CHECK(failed_with(co_await a->getattr(f), Code::kStale));
    CHECK(failed_with(co_await a->lookup(kRootInode, "f"), Code::kStale));
    CHECK(!b->fenced().has_value());
    CHECK(value_or_fail(co_await b->read(f, 0, 100), "read").data == bytes_of("second owner"));
  });
}

// A lease raised without a takeover (here `format` against an existing datastore: it takes the
// lease, then finds the root and gives up with kExists) fences nothing: the watch judges by the
// root register, which only a takeover raises.
TEST_CASE("hostdriver/fs: a lease raised by a failed takeover does not fence the owner") {
  with_fs([](FsSession& s) -> Task<void> {
    FsConfig watched = s.config();
    watched.lease_check_interval = std::chrono::milliseconds(10);
    FileSystem* a = co_await s.open(watched);
    const uint64_t f =
        value_or_fail(co_await a->create(kRootInode, "f", CreateMode::kGuarded, {}, 0), "f")
            .attrs.inode;
    const FormatOptions options;
    auto formatted = co_await FileSystem::format(s.env(), s.config(HostId(2)), options);
    CHECK(formatted.code() == Code::kExists);
    const uint64_t checks = a->stats().lease_checks;
    constexpr int kPollsMax = 2000;  // 1 ms each; a check every 10 ms
    for (int i = 0; i < kPollsMax && a->stats().lease_checks < checks + 5; ++i) {
      co_await sleep_for(s.env().clock, std::chrono::milliseconds(1));
    }
    REQUIRE(a->stats().lease_checks >= checks + 5);
    CHECK(!a->fenced().has_value());
    CHECK((co_await a->write(f, 0, bytes_of("still mine"), Stability::kFileSync)).ok());
    CHECK(value_or_fail(co_await a->read(f, 0, 100), "read").data == bytes_of("still mine"));
    FsConfig zero = s.config(HostId(3));
    zero.lease_check_interval = Duration::zero();
    CHECK(failed_with(co_await FileSystem::open(s.env(), zero), Code::kInvalidArgument));
  });
}

}  // namespace
// Regression: a log of more small records than one shelf read reply may carry (4,096) must replay
// in several reads; the shelf once answered with all of them and the reopen failed for good.
// The whole NVRAM for one host: 4,600 records stay below the share of its ring at which the
// block store asks for a checkpoint (kTrimStartShare).
constexpr blockstore::bs_test::ShelfShape kOneHostShelf{.nvram_hosts = 1};
TEST_CASE("hostdriver/fs: a crash with thousands of unflushed operations replays them all") {
  with_fs(
      [](FsSession& s) -> Task<void> {
        FsConfig roomy = s.config();
        roomy.dirty_bytes_max = 256 * kMiB;  // no checkpoint: every operation stays in the log
        roomy.node_cache_bytes = 32 * kMiB;
        auto opened = co_await s.try_open(roomy);
        REQUIRE(opened.ok());
        FileSystem* fs = *opened;
        const uint64_t d =
            value_or_fail(co_await fs->mkdir(kRootInode, "many", {}), "mkdir").attrs.inode;
        constexpr int kFiles = 4600;
        const uint64_t checkpoints = fs->stats().checkpoints;
        for (int i = 0; i < kFiles; ++i) {
          REQUIRE(
              (co_await fs->create(d, "f" + std::to_string(i), CreateMode::kGuarded, {}, 0)).ok());
        }
        CHECK(fs->stats().checkpoints == checkpoints);  // nothing left the log
        fs = co_await s.crash(fs);
        CHECK(fs->stats().replayed_operations >= kFiles);
        auto names = co_await list(*fs, d, 4096);
        CHECK(names.size() == kFiles + 2);  // with "." and ".."
        CHECK(names.count("f0") == 1);
        CHECK(names.count("f" + std::to_string(kFiles - 1)) == 1);
      },
      kOneHostShelf);
}

}  // namespace splitarray::hostdriver::fs::fs_test
