// NFS v3 conformance through libnfs, part 3: REMOVE, RMDIR, RENAME, LINK (RFC 1813 §3.3.12-
// 3.3.15), with exact WCC on the directories and nlink on the files.
#include "tests/e2e/nfs/conformance_support.h"

namespace splitarray::e2e::nfs {
namespace {

TEST_CASE("e2e/nfs: REMOVE with WCC and nlink, NOENT, ISDIR, NOTDIR, STALE afterwards") {
  Session s("remove");
  const Fh file = make_file(*s.nfs, s.root, "f", pattern(5, 0, 100));
  REQUIRE_OK(s.nfs->link(file, s.root, "f2"));
  CHECK(attrs_of(*s.nfs, file).nlink == 2);

  // Removing one of two names: the file lives on with nlink 1 and a newer ctime.
  fattr3 dir_before = attrs_of(*s.nfs, s.root);
  const fattr3 file_before = attrs_of(*s.nfs, file);
  WccRes res = s.nfs->remove(s.root, "f2");
  REQUIRE_OK(res);
  fattr3 dir_after = attrs_of(*s.nfs, s.root);
  check_wcc(res.wcc, dir_before, dir_after, "REMOVE of one link");
  check_dir_changed(dir_before, dir_after, "REMOVE of one link");
  const fattr3 file_after = attrs_of(*s.nfs, file);
  CHECK(file_after.nlink == 1);
  CHECK(time_before(file_before.ctime, file_after.ctime));
  CHECK_STATUS(s.nfs->lookup(s.root, "f2"), NFS3ERR_NOENT);

  // Removing the last name: the handle is STALE from then on.
  dir_before = dir_after;
  res = s.nfs->remove(s.root, "f");
  REQUIRE_OK(res);
  dir_after = attrs_of(*s.nfs, s.root);
  check_wcc(res.wcc, dir_before, dir_after, "REMOVE of the last link");
  CHECK_STATUS(s.nfs->getattr(file), NFS3ERR_STALE);
  CHECK_STATUS(s.nfs->read(file, 0, 10), NFS3ERR_STALE);

  const fattr3 dir_now = attrs_of(*s.nfs, s.root);
  res = s.nfs->remove(s.root, "f");
  CHECK_STATUS(res, NFS3ERR_NOENT);
  check_unchanged_wcc(res.wcc, dir_now, "REMOVE NOENT");
  make_dir(*s.nfs, s.root, "d");
  CHECK_STATUS(s.nfs->remove(s.root, "d"), NFS3ERR_ISDIR);  // REMOVE is not RMDIR
  CHECK_OK(s.nfs->lookup(s.root, "d"));
  const Fh other = make_file(*s.nfs, s.root, "other");
  CHECK_STATUS(s.nfs->remove(other, "x"), NFS3ERR_NOTDIR);
  CHECK_STATUS(s.nfs->remove(s.root, std::string(256, 'r')), NFS3ERR_NAMETOOLONG);
  CHECK_STATUS(s.nfs->remove(bit_flipped(s.root), "other"), NFS3ERR_BADHANDLE);
}

TEST_CASE("e2e/nfs: a sticky directory lets only owners remove or rename entries: ACCES") {
  Session s("sticky");
  const CreateRes tmp = s.nfs->mkdir(s.root, "tmp", Sattr{.mode = 01777});
  REQUIRE_OK(tmp);
  REQUIRE(tmp.attrs.has_value());
  CHECK((tmp.attrs->mode & 07777) == 01777);
  const Fh dir = *tmp.fh;
  s.nfs->rpc().set_credentials(1000, 1000);
  REQUIRE_OK(s.nfs->create(dir, "alice", GUARDED, Sattr{.mode = 0666}));
  s.nfs->rpc().set_credentials(1001, 1001);
  REQUIRE_OK(s.nfs->create(dir, "bob", GUARDED, Sattr{.mode = 0666}));
  CHECK_STATUS(s.nfs->remove(dir, "alice"), NFS3ERR_ACCES);
  CHECK_STATUS(s.nfs->rename(dir, "alice", dir, "stolen"), NFS3ERR_ACCES);
  CHECK_STATUS(s.nfs->rename(dir, "bob", dir, "alice"), NFS3ERR_ACCES);  // would replace alice's
  CHECK_OK(s.nfs->remove(dir, "bob"));                                   // its own file
  s.nfs->rpc().set_credentials(0, 0);
  CHECK_OK(s.nfs->lookup(dir, "alice"));
  CHECK_OK(s.nfs->remove(dir, "alice"));  // root may
}

TEST_CASE("e2e/nfs: RMDIR with WCC and parent nlink, NOTEMPTY, NOTDIR, NOENT, INVAL for '.'") {
  Session s("rmdir");
  const Fh dir = make_dir(*s.nfs, s.root, "d");
  make_file(*s.nfs, dir, "inside");

  const fattr3 dir_now = attrs_of(*s.nfs, s.root);
  WccRes res = s.nfs->rmdir(s.root, "d");
  CHECK_STATUS(res, NFS3ERR_NOTEMPTY);
  check_unchanged_wcc(res.wcc, dir_now, "RMDIR NOTEMPTY");
  CHECK_OK(s.nfs->lookup(dir, "inside"));

  REQUIRE_OK(s.nfs->remove(dir, "inside"));
  const fattr3 before = attrs_of(*s.nfs, s.root);
  res = s.nfs->rmdir(s.root, "d");
  REQUIRE_OK(res);
  const fattr3 after = attrs_of(*s.nfs, s.root);
  check_wcc(res.wcc, before, after, "RMDIR");
  check_dir_changed(before, after, "RMDIR");
  CHECK(after.nlink == before.nlink - 1);  // its ".." is gone
  CHECK_STATUS(s.nfs->getattr(dir), NFS3ERR_STALE);

  CHECK_STATUS(s.nfs->rmdir(s.root, "d"), NFS3ERR_NOENT);
  make_file(*s.nfs, s.root, "f");
  CHECK_STATUS(s.nfs->rmdir(s.root, "f"), NFS3ERR_NOTDIR);
  const Fh d2 = make_dir(*s.nfs, s.root, "d2");
  CHECK_STATUS(s.nfs->rmdir(d2, "."), NFS3ERR_INVAL);
  const WccRes dotdot = s.nfs->rmdir(d2, "..");
  CHECK_MESSAGE((dotdot.status == NFS3ERR_INVAL || dotdot.status == NFS3ERR_NOTEMPTY ||
                 dotdot.status == NFS3ERR_EXIST),
                "RMDIR '..': " << describe(dotdot));
  CHECK_OK(s.nfs->getattr(s.root));
  CHECK_STATUS(s.nfs->rmdir(bit_flipped(s.root), "d2"), NFS3ERR_BADHANDLE);
}

TEST_CASE("e2e/nfs: RENAME within and across directories with WCC, NOENT, EXIST, INVAL") {
  Session s("rename");
  const Fh a = make_dir(*s.nfs, s.root, "a");
  const Fh b = make_dir(*s.nfs, s.root, "b");
  const Fh file = make_file(*s.nfs, a, "f", pattern(6, 0, 64));

  SUBCASE("within one directory: one WCC, the handle keeps working") {
    const fattr3 before = attrs_of(*s.nfs, a);
    const RenameRes res = s.nfs->rename(a, "f", a, "g");
    REQUIRE_OK(res);
    const fattr3 after = attrs_of(*s.nfs, a);
    check_wcc(res.from_wcc, before, after, "RENAME from");
    check_wcc(res.to_wcc, before, after, "RENAME to (same directory)");
    check_dir_changed(before, after, "RENAME");
    CHECK_STATUS(s.nfs->lookup(a, "f"), NFS3ERR_NOENT);
    const LookupRes found = s.nfs->lookup(a, "g");
    REQUIRE_OK(found);
    CHECK(found.fh == file);
    const ReadRes read = s.nfs->read(file, 0, 64);
    REQUIRE_OK(read);
    CHECK(read.data == pattern(6, 0, 64));
  }
  SUBCASE("across directories: both WCCs exact") {
    const fattr3 a_before = attrs_of(*s.nfs, a);
    const fattr3 b_before = attrs_of(*s.nfs, b);
    const RenameRes res = s.nfs->rename(a, "f", b, "f");
    REQUIRE_OK(res);
    const fattr3 a_after = attrs_of(*s.nfs, a);
    const fattr3 b_after = attrs_of(*s.nfs, b);
    check_wcc(res.from_wcc, a_before, a_after, "RENAME fromdir");
    check_wcc(res.to_wcc, b_before, b_after, "RENAME todir");
    check_dir_changed(a_before, a_after, "RENAME fromdir");
    check_dir_changed(b_before, b_after, "RENAME todir");
    const LookupRes found = s.nfs->lookup(b, "f");
    REQUIRE_OK(found);
    CHECK(found.fh == file);
  }
  SUBCASE("over an existing file: the target is replaced and its handle goes STALE") {
    const Fh victim = make_file(*s.nfs, b, "v", pattern(7, 0, 10));
    REQUIRE_OK(s.nfs->rename(a, "f", b, "v"));
    const LookupRes found = s.nfs->lookup(b, "v");
    REQUIRE_OK(found);
    CHECK(found.fh == file);
    CHECK_STATUS(s.nfs->getattr(victim), NFS3ERR_STALE);
  }
  SUBCASE("a directory moves: nlinks of both parents follow") {
    const Fh sub = make_dir(*s.nfs, a, "sub");
    const uint32_t a_links = attrs_of(*s.nfs, a).nlink;
    const uint32_t b_links = attrs_of(*s.nfs, b).nlink;
    REQUIRE_OK(s.nfs->rename(a, "sub", b, "sub"));
    CHECK(attrs_of(*s.nfs, a).nlink == a_links - 1);
    CHECK(attrs_of(*s.nfs, b).nlink == b_links + 1);
    const LookupRes up = s.nfs->lookup(sub, "..");
    REQUIRE_OK(up);
    CHECK(up.fh == b);
  }
  SUBCASE("errors") {
    const fattr3 a_now = attrs_of(*s.nfs, a);
    const fattr3 b_now = attrs_of(*s.nfs, b);
    RenameRes res = s.nfs->rename(a, "missing", b, "x");
    CHECK_STATUS(res, NFS3ERR_NOENT);
    check_unchanged_wcc(res.from_wcc, a_now, "RENAME NOENT from");
    check_unchanged_wcc(res.to_wcc, b_now, "RENAME NOENT to");
    // A file over a directory, or a directory over a non-empty directory: RFC 1813 §3.3.14
    // says EXIST ("not compatible"); Linux answers ISDIR / NOTEMPTY. Nothing may change.
    make_dir(*s.nfs, b, "dir");
    res = s.nfs->rename(a, "f", b, "dir");
    CHECK_MESSAGE((res.status == NFS3ERR_EXIST || res.status == NFS3ERR_ISDIR),
                  "file over directory: " << describe(res));
    make_file(*s.nfs, b, "plain");
    res = s.nfs->rename(b, "dir", b, "plain");
    CHECK_MESSAGE((res.status == NFS3ERR_EXIST || res.status == NFS3ERR_NOTDIR),
                  "directory over file: " << describe(res));
    const Fh full = make_dir(*s.nfs, s.root, "full");
    make_file(*s.nfs, full, "x");
    res = s.nfs->rename(s.root, "a", s.root, "full");
    CHECK_MESSAGE((res.status == NFS3ERR_EXIST || res.status == NFS3ERR_NOTEMPTY),
                  "directory over non-empty directory: " << describe(res));
    CHECK_OK(s.nfs->lookup(full, "x"));
    CHECK_OK(s.nfs->lookup(a, "f"));
    // A directory into its own subtree.
    const Fh inner = make_dir(*s.nfs, a, "inner");
    res = s.nfs->rename(s.root, "a", inner, "a");
    CHECK_STATUS(res, NFS3ERR_INVAL);
    CHECK_STATUS(s.nfs->rename(a, ".", b, "x"), NFS3ERR_INVAL);
    CHECK_STATUS(s.nfs->rename(a, "f", file, "x"), NFS3ERR_NOTDIR);
    CHECK_STATUS(s.nfs->rename(a, "f", b, std::string(256, 'n')), NFS3ERR_NAMETOOLONG);
    CHECK_STATUS(s.nfs->rename(bit_flipped(a), "f", b, "x"), NFS3ERR_BADHANDLE);
    CHECK_OK(s.nfs->lookup(a, "f"));
  }
  SUBCASE("onto itself: OK and nothing changes") {
    const RenameRes res = s.nfs->rename(a, "f", a, "f");
    CHECK_OK(res);
    CHECK_OK(s.nfs->lookup(a, "f"));
  }
}

TEST_CASE("e2e/nfs: LINK with WCC and nlink, EXIST, NOTDIR, directories refused") {
  Session s("link");
  const Fh file = make_file(*s.nfs, s.root, "f", pattern(8, 0, 50));
  const Fh dir = make_dir(*s.nfs, s.root, "d");

  const fattr3 dir_before = attrs_of(*s.nfs, dir);
  const fattr3 file_before = attrs_of(*s.nfs, file);
  const LinkRes res = s.nfs->link(file, dir, "f-link");
  REQUIRE_OK(res);
  const fattr3 dir_after = attrs_of(*s.nfs, dir);
  const fattr3 file_after = attrs_of(*s.nfs, file);
  check_wcc(res.dir_wcc, dir_before, dir_after, "LINK directory");
  check_dir_changed(dir_before, dir_after, "LINK");
  REQUIRE(res.attrs.has_value());
  CHECK(same_attrs(*res.attrs, file_after));
  CHECK(file_after.nlink == file_before.nlink + 1);
  CHECK(time_before(file_before.ctime, file_after.ctime));
  const LookupRes found = s.nfs->lookup(dir, "f-link");
  REQUIRE_OK(found);
  CHECK(found.fh == file);

  const fattr3 dir_now = attrs_of(*s.nfs, dir);
  const LinkRes exists = s.nfs->link(file, dir, "f-link");
  CHECK_STATUS(exists, NFS3ERR_EXIST);
  check_unchanged_wcc(exists.dir_wcc, dir_now, "LINK EXIST");
  CHECK(attrs_of(*s.nfs, file).nlink == 2);
  CHECK_STATUS(s.nfs->link(file, file, "x"), NFS3ERR_NOTDIR);
  const LinkRes of_dir = s.nfs->link(dir, s.root, "d-link");
  // RFC 1813 lists no ISDIR for LINK; link(2) of a directory is EPERM.
  CHECK_MESSAGE((of_dir.status == NFS3ERR_PERM || of_dir.status == NFS3ERR_ISDIR ||
                 of_dir.status == NFS3ERR_INVAL),
                "LINK of a directory: " << describe(of_dir));
  CHECK_STATUS(s.nfs->lookup(s.root, "d-link"), NFS3ERR_NOENT);
  CHECK_STATUS(s.nfs->link(file, dir, std::string(256, 'k')), NFS3ERR_NAMETOOLONG);
  CHECK_STATUS(s.nfs->link(bit_flipped(file), dir, "y"), NFS3ERR_BADHANDLE);
  const Fh stale = removed_file_handle(*s.nfs, s.root, "gone");
  CHECK_STATUS(s.nfs->link(stale, dir, "z"), NFS3ERR_STALE);
  CHECK_STATUS(s.nfs->lookup(dir, "z"), NFS3ERR_NOENT);
}

}  // namespace
}  // namespace splitarray::e2e::nfs
