// NULL, GETATTR, SETATTR, ACCESS, FSSTAT, FSINFO and PATHCONF through Nfs3Program::call(), each
// checked by what a client sees afterwards (a following GETATTR, data read back).
#include <doctest/doctest.h>

#include "tests/unit/hostdriver/nfs3/nfs3_fixture.h"

namespace splitarray::hostdriver::nfs::nfs3::nfs3_test {
TEST_CASE("hostdriver/nfs3: NULL answers everyone, GETATTR of the root and of bad handles") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    std::vector<uint8_t> reply(1, 1);
    const std::vector<uint8_t> none;
    const std::vector<uint8_t> four(4, 0);
    CHECK(co_await c.raw(Proc::kNull, none, &reply) == AcceptStat::kSuccess);
    CHECK(reply.empty());
    CHECK(co_await c.raw(Proc::kNull, four, &reply) == AcceptStat::kGarbageArgs);
    c.peer = Address{"10.0.0.1", 800};  // not in the export: NULL still answers
    CHECK(co_await c.raw(Proc::kNull, none, &reply) == AcceptStat::kSuccess);
    c.peer = Address{"127.0.0.1", 800};

    GetattrRes root = co_await c.getattr(n.root);
    REQUIRE(root.status == Status::kOk);
    CHECK(root.attrs.type == Ftype::kDir);
    CHECK(root.attrs.fileid == fs::kRootInode);
    CHECK(root.attrs.fsid == n.fs.fs_id());
    CHECK(root.attrs.mode == 0755);
    CHECK(root.attrs.nlink == 2);
    CHECK(root.attrs.uid == 0);

    CHECK((co_await c.getattr(forged(n.root))).status == Status::kBadhandle);
    Fh short_handle = n.root;
    short_handle.bytes.pop_back();
    CHECK((co_await c.getattr(short_handle)).status == Status::kBadhandle);
    const Fh empty;
    CHECK((co_await c.getattr(empty)).status == Status::kBadhandle);
    CHECK(n.program.stats().bad_handles == 3);
    CHECK(n.program.stats().calls[proc_number(Proc::kGetattr)] == 4);
    CHECK(n.program.stats().errors[proc_number(Proc::kGetattr)] == 3);
  });
}

TEST_CASE("hostdriver/nfs3: FSINFO, FSSTAT and PATHCONF describe the file system") {
  Nfs3Options options;
  options.rtmax = 512 * 1024;
  options.rtpref = 256 * 1024;
  options.dtpref = 8192;
  with_nfs(
      [](Server& n) -> Task<void> {
        Client& c = n.client;
        FsinfoRes info = co_await c.fsinfo(n.root);
        REQUIRE(info.status == Status::kOk);
        CHECK(info.attrs.has_value());
        CHECK(info.rtmax == 512 * 1024);
        CHECK(info.rtpref == 256 * 1024);
        CHECK(info.wtmax == kWriteWireBytesMax);
        CHECK(info.rtmult == 4096);
        CHECK(info.wtmult == 4096);
        CHECK(info.dtpref == 8192);
        CHECK(info.maxfilesize == fs::kFileBytesMax);
        CHECK(info.time_delta == Time{0, 1});
        CHECK(info.properties == (kFsfLink | kFsfSymlink | kFsfHomogeneous | kFsfCanSetTime));

        FsstatRes stat = co_await c.fsstat(n.root);
        REQUIRE(stat.status == Status::kOk);
        CHECK(stat.total_bytes > 0);
        CHECK(stat.free_bytes <= stat.total_bytes);
        CHECK(stat.avail_bytes == stat.free_bytes);
        CHECK(stat.total_files == fs::kFilesMax);
        CHECK(stat.free_files < stat.total_files);  // the root directory is one
        const uint64_t free_files = stat.free_files;
        co_await c.make_file(n.root, "one");
        CHECK((co_await c.fsstat(n.root)).free_files == free_files - 1);

        PathconfRes conf = co_await c.pathconf(n.root);
        REQUIRE(conf.status == Status::kOk);
        CHECK(conf.linkmax == fs::kLinksMax);
        CHECK(conf.name_max == fs::kNameBytesMax);
        CHECK(conf.no_trunc);
        CHECK(conf.chown_restricted);
        CHECK_FALSE(conf.case_insensitive);
        CHECK(conf.case_preserving);

        // Errors: no attributes for a handle that names nothing.
        FsinfoRes bad_info = co_await c.fsinfo(forged(n.root));
        CHECK(bad_info.status == Status::kBadhandle);
        CHECK_FALSE(bad_info.attrs.has_value());
        CHECK((co_await c.fsstat(forged(n.root))).status == Status::kBadhandle);
        CHECK((co_await c.pathconf(forged(n.root))).status == Status::kBadhandle);
        Fh gone = co_await c.make_file(n.root, "gone");
        REQUIRE((co_await c.remove(n.root, "gone")).status == Status::kOk);
        CHECK((co_await c.fsstat(gone)).status == Status::kStale);
        CHECK((co_await c.pathconf(gone)).status == Status::kStale);
        CHECK((co_await c.fsinfo(gone)).status == Status::kStale);
      },
      test_export(), options);
}

TEST_CASE("hostdriver/nfs3: SETATTR changes mode, size and times with exact WCC") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh file = co_await c.make_file(n.root, "f", 0644);
    co_await c.put(file, 0, "hello, world");
    const Fattr before = co_await c.attrs(file);

    WccRes chmod = co_await c.setattr(file, with_mode(0600));
    REQUIRE(chmod.status == Status::kOk);
    const Fattr after_chmod = co_await c.attrs(file);
    CHECK(wcc_is(chmod.wcc, before, after_chmod));
    CHECK(after_chmod.mode == 0600);
    CHECK(after_chmod.size == before.size);

    Sattr grow;
    grow.size = 100;
    WccRes truncate = co_await c.setattr(file, grow);
    REQUIRE(truncate.status == Status::kOk);
    const Fattr after_grow = co_await c.attrs(file);
    CHECK(wcc_is(truncate.wcc, after_chmod, after_grow));
    CHECK(after_grow.size == 100);
    ReadRes data = co_await c.read(file, 0, 200);
    REQUIRE(data.status == Status::kOk);
    CHECK(data.data.size() == 100);
    CHECK(std::string(data.data.begin(), data.data.begin() + 12) == "hello, world");
    CHECK(data.data[99] == 0);

    Sattr times;
    times.atime_how = TimeHow::kClientTime;
    times.atime = Time{1'000'000'000, 5};
    times.mtime_how = TimeHow::kClientTime;
    times.mtime = Time{1'100'000'000, 7};
    REQUIRE((co_await c.setattr(file, times)).status == Status::kOk);
    const Fattr timed = co_await c.attrs(file);
    CHECK(timed.atime == Time{1'000'000'000, 5});
    CHECK(timed.mtime == Time{1'100'000'000, 7});
    Sattr now;
    now.mtime_how = TimeHow::kServerTime;
    REQUIRE((co_await c.setattr(file, now)).status == Status::kOk);
    CHECK((co_await c.attrs(file)).mtime.seconds > 1'100'000'000);

    // Owner and group (root may).
    Sattr chown;
    chown.uid = 1000;
    chown.gid = 100;
    REQUIRE((co_await c.setattr(file, chown)).status == Status::kOk);
    const Fattr owned = co_await c.attrs(file);
    CHECK(owned.uid == 1000);
    CHECK(owned.gid == 100);
  });
}

TEST_CASE("hostdriver/nfs3: SETATTR refuses a stale guard, bad values and non-owners") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh file = co_await c.make_file(n.root, "f", 0644);
    const Fattr attrs = co_await c.attrs(file);

    // The guard: a ctime other than the file's is NOT_SYNC and changes nothing.
    Time wrong = attrs.ctime;
    wrong.nseconds = (wrong.nseconds + 1) % kNanosPerSecond;
    WccRes refused = co_await c.setattr(file, with_mode(0600), wrong);
    CHECK(refused.status == Status::kNotSync);
    CHECK((co_await c.attrs(file)).mode == 0644);
    REQUIRE(refused.wcc.after.has_value());
    CHECK(refused.wcc.after->ctime == attrs.ctime);  // the client learns the real ctime
    WccRes guarded = co_await c.setattr(file, with_mode(0600), attrs.ctime);
    CHECK(guarded.status == Status::kOk);
    CHECK((co_await c.attrs(file)).mode == 0600);

    Sattr bad_time;
    bad_time.mtime_how = TimeHow::kClientTime;
    bad_time.mtime = Time{5, kNanosPerSecond};
    CHECK((co_await c.setattr(file, bad_time)).status == Status::kInval);
    Sattr huge;
    huge.size = uint64_t{INT64_MAX} + 1;
    CHECK((co_await c.setattr(file, huge)).status == Status::kFbig);
    Sattr dir_size;
    dir_size.size = 0;
    CHECK((co_await c.setattr(n.root, dir_size)).status == Status::kIsdir);
    CHECK((co_await c.setattr(forged(file), with_mode(0))).status == Status::kBadhandle);

    // Another user: no chmod (PERM), no truncate without write permission (ACCES); the
    // reply still carries the unchanged attributes as wcc.
    c.who = user(1001, 1001);
    WccRes other = co_await c.setattr(file, with_mode(0777));
    CHECK(other.status == Status::kPerm);
    const Fattr unchanged = co_await c.attrs(file);
    CHECK(wcc_is(other.wcc, unchanged, unchanged));
    Sattr truncate;
    truncate.size = 0;
    CHECK((co_await c.setattr(file, truncate)).status == Status::kAcces);
    Sattr give;
    give.uid = 1001;
    CHECK((co_await c.setattr(file, give)).status == Status::kPerm);
    CHECK((co_await c.attrs(file)).uid == 0);
  });
}

TEST_CASE("hostdriver/nfs3: ACCESS returns the allowed subset of what was asked") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    AccessRes root_dir = co_await c.access(n.root, kAccessAll);
    REQUIRE(root_dir.status == Status::kOk);
    CHECK(root_dir.attrs.has_value());
    CHECK(root_dir.access ==
          (kAccessRead | kAccessLookup | kAccessModify | kAccessExtend | kAccessDelete));
    Fh mine = co_await c.make_file(n.root, "mine", 0644);
    Sattr give;
    give.uid = 1000;
    REQUIRE((co_await c.setattr(mine, give)).status == Status::kOk);

    c.who = user(1000, 100);
    CHECK((co_await c.access(n.root, kAccessAll)).access == (kAccessRead | kAccessLookup));
    CHECK((co_await c.access(mine, kAccessAll)).access ==
          (kAccessRead | kAccessModify | kAccessExtend));
    CHECK((co_await c.access(mine, kAccessExecute)).access == 0);
    CHECK((co_await c.access(mine, 0xffffffff)).access ==
          (kAccessRead | kAccessModify | kAccessExtend));  // unknown bits are not granted
    c.who = user(1001, 100);
    CHECK((co_await c.access(mine, kAccessAll)).access == kAccessRead);

    CHECK((co_await c.access(forged(mine), kAccessRead)).status == Status::kBadhandle);
    c.who = root();
    REQUIRE((co_await c.remove(n.root, "mine")).status == Status::kOk);
    AccessRes stale = co_await c.access(mine, kAccessRead);
    CHECK(stale.status == Status::kStale);
    CHECK_FALSE(stale.attrs.has_value());
  });
}

}  // namespace splitarray::hostdriver::nfs::nfs3::nfs3_test
