// NFS v3 conformance through libnfs, part 1: NULL, GETATTR, SETATTR, ACCESS, FSSTAT, FSINFO,
// PATHCONF and the MOUNT program, against a real hostdriver (RFC 1813 §3.3.0-3.3.20, §5).
#include "tests/e2e/nfs/conformance_support.h"

namespace splitarray::e2e::nfs {
namespace {

constexpr uint32_t kAccessAll = ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_EXTEND |
                                ACCESS3_DELETE | ACCESS3_EXECUTE;

TEST_CASE("e2e/nfs: NULL answers, and other versions and programs are refused") {
  Session s("null");
  CHECK(s.nfs->null().ok());
  // RFC 5531: a version the program does not serve is PROG_MISMATCH, an unknown program
  // PROG_UNAVAIL; libnfs reports both as an RPC error. The connection stays usable.
  const Reply v2 = s.nfs->rpc().null_of(kNfsProgram, 2);
  CHECK_MESSAGE(v2.rpc == RpcOutcome::kFailed, "NFS v2 NULL: " << describe(v2));
  const Reply v4 = s.nfs->rpc().null_of(kNfsProgram, 4);
  CHECK_MESSAGE(v4.rpc == RpcOutcome::kFailed, "NFS v4 NULL: " << describe(v4));
  const Reply unknown = s.nfs->rpc().null_of(100099, 1);
  CHECK_MESSAGE(unknown.rpc == RpcOutcome::kFailed, "program 100099 NULL: " << describe(unknown));
  CHECK(!s.nfs->rpc().broken());
  CHECK(s.nfs->null().ok());
  auto mount = s.cluster.mount_client();
  CHECK(mount->null().ok());
}

TEST_CASE("e2e/nfs: GETATTR of the root and a file, STALE and BADHANDLE") {
  Session s("getattr");
  const fattr3 root = attrs_of(*s.nfs, s.root);
  CHECK(root.type == NF3DIR);
  CHECK(root.nlink >= 2);
  CHECK(root.fileid != 0);
  const std::vector<uint8_t> data = pattern(1, 0, 5000);
  const Fh file = make_file(*s.nfs, s.root, "f", data);
  const fattr3 attrs = attrs_of(*s.nfs, file);
  CHECK(attrs.type == NF3REG);
  CHECK((attrs.mode & 07777) == 0644);
  CHECK(attrs.nlink == 1);
  CHECK(attrs.uid == 0);  // --no-root-squash: root creates as root
  CHECK(attrs.size == data.size());
  CHECK(attrs.fsid == root.fsid);
  CHECK(attrs.fileid != root.fileid);
  CHECK(file.size() <= 56);  // ESXi takes handles up to 56 bytes
  // Same handle, same answer (nothing changed in between).
  CHECK(same_attrs(attrs_of(*s.nfs, file), attrs));

  const Fh stale = removed_file_handle(*s.nfs, s.root, "gone");
  CHECK_STATUS(s.nfs->getattr(stale), NFS3ERR_STALE);
  CHECK_STATUS(s.nfs->getattr(bit_flipped(file)), NFS3ERR_BADHANDLE);
  CHECK_STATUS(s.nfs->getattr(Fh(file.begin(), file.begin() + 8)), NFS3ERR_BADHANDLE);
  CHECK_STATUS(s.nfs->getattr(Fh{}), NFS3ERR_BADHANDLE);
  Fh zeros(file.size(), 0);
  CHECK_STATUS(s.nfs->getattr(zeros), NFS3ERR_BADHANDLE);
}

TEST_CASE("e2e/nfs: SETATTR mode, size, times with exact WCC, NOT_SYNC, INVAL, STALE, BADHANDLE") {
  Session s("setattr");
  const Fh file = make_file(*s.nfs, s.root, "f", pattern(2, 0, 100));

  SUBCASE("mode") {
    const fattr3 before = attrs_of(*s.nfs, file);
    const WccRes res = s.nfs->setattr(file, Sattr{.mode = 0600});
    REQUIRE_OK(res);
    const fattr3 after = attrs_of(*s.nfs, file);
    check_wcc(res.wcc, before, after, "SETATTR mode");
    CHECK((after.mode & 07777) == 0600);
    CHECK(time_before(before.ctime, after.ctime));
  }
  SUBCASE("size: truncate, then extend with zeros") {
    fattr3 before = attrs_of(*s.nfs, file);
    WccRes res = s.nfs->setattr(file, Sattr{.size = 10});
    REQUIRE_OK(res);
    fattr3 after = attrs_of(*s.nfs, file);
    check_wcc(res.wcc, before, after, "SETATTR truncate");
    CHECK(after.size == 10);
    CHECK(time_before(before.mtime, after.mtime));
    before = after;
    res = s.nfs->setattr(file, Sattr{.size = 100});
    REQUIRE_OK(res);
    after = attrs_of(*s.nfs, file);
    check_wcc(res.wcc, before, after, "SETATTR extend");
    CHECK(after.size == 100);
    const ReadRes read = s.nfs->read(file, 0, 200);
    REQUIRE_OK(read);
    std::vector<uint8_t> expected = pattern(2, 0, 10);
    expected.resize(100, 0);
    CHECK(read.data == expected);
    CHECK(read.eof);
  }
  SUBCASE("times from the client, then from the server") {
    const fattr3 before = attrs_of(*s.nfs, file);
    const nfstime3 when{1'600'000'000, 123'456'789};
    WccRes res = s.nfs->setattr(file, Sattr{.atime = SET_TO_CLIENT_TIME,
                                            .atime_value = when,
                                            .mtime = SET_TO_CLIENT_TIME,
                                            .mtime_value = when});
    REQUIRE_OK(res);
    fattr3 after = attrs_of(*s.nfs, file);
    check_wcc(res.wcc, before, after, "SETATTR client times");
    CHECK(same_time(after.mtime, when));
    CHECK(same_time(after.atime, when));
    const fattr3 middle = after;
    res = s.nfs->setattr(file, Sattr{.mtime = SET_TO_SERVER_TIME});
    REQUIRE_OK(res);
    after = attrs_of(*s.nfs, file);
    check_wcc(res.wcc, middle, after, "SETATTR server time");
    CHECK(time_before(when, after.mtime));
  }
  SUBCASE("client times at the ends of nfstime3 round-trip exactly") {
    for (const nfstime3 when : {nfstime3{0, 0}, nfstime3{1, 1}, nfstime3{0x7fffffff, 999'999'999},
                                nfstime3{0xffffffff, 999'999'999}}) {
      const WccRes res = s.nfs->setattr(file, Sattr{.atime = SET_TO_CLIENT_TIME,
                                                    .atime_value = when,
                                                    .mtime = SET_TO_CLIENT_TIME,
                                                    .mtime_value = when});
      REQUIRE_OK(res);
      const fattr3 after = attrs_of(*s.nfs, file);
      CHECK_MESSAGE(same_time(after.mtime, when), "mtime set to " << when.seconds << "."
                                                                  << when.nseconds << ", got "
                                                                  << describe(after));
      CHECK(same_time(after.atime, when));
    }
  }
  SUBCASE("chown by root; a non-owner may not chown") {
    const fattr3 before = attrs_of(*s.nfs, file);
    const WccRes res = s.nfs->setattr(file, Sattr{.uid = 1000, .gid = 1000});
    REQUIRE_OK(res);
    const fattr3 after = attrs_of(*s.nfs, file);
    check_wcc(res.wcc, before, after, "SETATTR chown");
    CHECK(after.uid == 1000);
    CHECK(after.gid == 1000);
    CHECK(time_before(before.ctime, after.ctime));
    s.nfs->rpc().set_credentials(1001, 1001);
    CHECK_STATUS(s.nfs->setattr(file, Sattr{.uid = 1001}), NFS3ERR_PERM);
    s.nfs->rpc().set_credentials(0, 0);
    CHECK(attrs_of(*s.nfs, file).uid == 1000);
  }
  SUBCASE("guard: the right ctime applies, a wrong one is NOT_SYNC and changes nothing") {
    fattr3 before = attrs_of(*s.nfs, file);
    WccRes res = s.nfs->setattr(file, Sattr{.mode = 0640}, before.ctime);
    REQUIRE_OK(res);
    fattr3 after = attrs_of(*s.nfs, file);
    check_wcc(res.wcc, before, after, "guarded SETATTR");
    CHECK((after.mode & 07777) == 0640);
    // The old ctime no longer matches.
    res = s.nfs->setattr(file, Sattr{.mode = 0600}, before.ctime);
    CHECK_STATUS(res, NFS3ERR_NOT_SYNC);
    const fattr3 now = attrs_of(*s.nfs, file);
    CHECK(same_attrs(now, after));
    check_unchanged_wcc(res.wcc, now, "NOT_SYNC wcc");
  }
  SUBCASE("nseconds of a second or more is INVAL") {
    const fattr3 before = attrs_of(*s.nfs, file);
    const WccRes res = s.nfs->setattr(
        file,
        Sattr{.mtime = SET_TO_CLIENT_TIME, .mtime_value = nfstime3{1'600'000'000, 1'000'000'000}});
    CHECK_STATUS(res, NFS3ERR_INVAL);
    CHECK(same_attrs(attrs_of(*s.nfs, file), before));
  }
  SUBCASE("a size beyond the largest file is FBIG (or INVAL); nothing changes") {
    const fattr3 before = attrs_of(*s.nfs, file);
    const WccRes res = s.nfs->setattr(file, Sattr{.size = uint64_t{1} << 63});
    CHECK_MESSAGE((res.status == NFS3ERR_FBIG || res.status == NFS3ERR_INVAL),
                  "SETATTR size 2^63: " << describe(res));
    CHECK(same_attrs(attrs_of(*s.nfs, file), before));
  }
  SUBCASE("STALE and BADHANDLE") {
    const Fh stale = removed_file_handle(*s.nfs, s.root, "gone");
    CHECK_STATUS(s.nfs->setattr(stale, Sattr{.mode = 0600}), NFS3ERR_STALE);
    CHECK_STATUS(s.nfs->setattr(bit_flipped(file), Sattr{.mode = 0600}), NFS3ERR_BADHANDLE);
  }
  SUBCASE("a non-owner may not chmod: PERM") {
    const fattr3 before = attrs_of(*s.nfs, file);
    s.nfs->rpc().set_credentials(1000, 1000);
    const WccRes res = s.nfs->setattr(file, Sattr{.mode = 0666});
    CHECK_STATUS(res, NFS3ERR_PERM);
    s.nfs->rpc().set_credentials(0, 0);
    CHECK(same_attrs(attrs_of(*s.nfs, file), before));
  }
}

TEST_CASE("e2e/nfs: ACCESS grants by mode and caller, STALE and BADHANDLE") {
  Session s("access");
  const Fh file = make_file(*s.nfs, s.root, "f");  // root-owned, 0644
  const Fh dir = make_dir(*s.nfs, s.root, "d");    // root-owned, 0755

  AccessRes res = s.nfs->access(file, kAccessAll);
  REQUIRE_OK(res);
  CHECK((res.access & ~kAccessAll) == 0);
  CHECK((res.access & ACCESS3_READ) != 0);
  CHECK((res.access & ACCESS3_MODIFY) != 0);
  CHECK((res.access & ACCESS3_EXTEND) != 0);
  CHECK((res.access & ACCESS3_EXECUTE) == 0);  // no x bit anywhere: not even root executes
  REQUIRE(res.obj.has_value());
  CHECK(same_attrs(*res.obj, attrs_of(*s.nfs, file)));

  res = s.nfs->access(file, ACCESS3_READ);
  REQUIRE_OK(res);
  CHECK(res.access == ACCESS3_READ);  // only what was asked

  res = s.nfs->access(dir, kAccessAll);
  REQUIRE_OK(res);
  for (uint32_t bit :
       {ACCESS3_READ, ACCESS3_LOOKUP, ACCESS3_MODIFY, ACCESS3_EXTEND, ACCESS3_DELETE}) {
    CHECK_MESSAGE((res.access & bit) != 0, "directory access bit " << bit << " missing");
  }

  // Another user: others' bits (r-- on the file, r-x on the directory).
  s.nfs->rpc().set_credentials(1000, 1000);
  res = s.nfs->access(file, kAccessAll);
  REQUIRE_OK(res);
  CHECK(res.access == ACCESS3_READ);
  res = s.nfs->access(dir, kAccessAll);
  REQUIRE_OK(res);
  CHECK((res.access & (ACCESS3_READ | ACCESS3_LOOKUP)) == (ACCESS3_READ | ACCESS3_LOOKUP));
  CHECK((res.access & (ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE)) == 0);
  s.nfs->rpc().set_credentials(0, 0);

  // Group permissions come from the primary and the supplementary groups.
  const CreateRes shared =
      s.nfs->create(s.root, "group-file", GUARDED, Sattr{.mode = 0664, .uid = 0, .gid = 2000});
  REQUIRE_OK(shared);
  s.nfs->rpc().set_credentials(1000, 1000, {3000, 2000});
  CHECK_OK(s.nfs->write(*shared.fh, 0, pattern(9, 0, 10), FILE_SYNC));
  res = s.nfs->access(*shared.fh, ACCESS3_READ | ACCESS3_MODIFY);
  REQUIRE_OK(res);
  CHECK(res.access == (ACCESS3_READ | ACCESS3_MODIFY));
  s.nfs->rpc().set_credentials(1000, 1000, {3000});
  CHECK_STATUS(s.nfs->write(*shared.fh, 0, pattern(9, 0, 10), FILE_SYNC), NFS3ERR_ACCES);
  // AUTH_NONE callers are anonymous (nobody), even on an export without root squash.
  s.nfs->rpc().set_auth_none();
  CHECK_STATUS(s.nfs->write(file, 0, pattern(9, 0, 10), FILE_SYNC), NFS3ERR_ACCES);
  res = s.nfs->access(file, kAccessAll);
  REQUIRE_OK(res);
  CHECK(res.access == ACCESS3_READ);
  s.nfs->rpc().set_credentials(0, 0);

  const Fh stale = removed_file_handle(*s.nfs, s.root, "gone");
  CHECK_STATUS(s.nfs->access(stale, kAccessAll), NFS3ERR_STALE);
  CHECK_STATUS(s.nfs->access(bit_flipped(file), kAccessAll), NFS3ERR_BADHANDLE);
}

TEST_CASE("e2e/nfs: FSSTAT reports consistent figures, STALE and BADHANDLE") {
  Session s("fsstat");
  const FsstatRes res = s.nfs->fsstat(s.root);
  REQUIRE_OK(res);
  CHECK(res.res.tbytes > 0);
  CHECK(res.res.fbytes <= res.res.tbytes);
  CHECK(res.res.abytes <= res.res.fbytes);
  CHECK(res.res.ffiles <= res.res.tfiles);
  CHECK(res.res.afiles <= res.res.ffiles);
  REQUIRE(res.res.obj_attributes.attributes_follow);
  CHECK(same_attrs(res.res.obj_attributes.post_op_attr_u.attributes, attrs_of(*s.nfs, s.root)));
  const Fh file = make_file(*s.nfs, s.root, "f");
  CHECK_OK(s.nfs->fsstat(file));  // any handle of the file system will do
  const Fh stale = removed_file_handle(*s.nfs, s.root, "gone");
  CHECK_STATUS(s.nfs->fsstat(stale), NFS3ERR_STALE);
  CHECK_STATUS(s.nfs->fsstat(bit_flipped(s.root)), NFS3ERR_BADHANDLE);
}

TEST_CASE("e2e/nfs: FSINFO limits and properties, STALE and BADHANDLE") {
  Session s("fsinfo");
  const FsinfoRes res = s.nfs->fsinfo(s.root);
  REQUIRE_OK(res);
  const FSINFO3resok& info = res.res;
  MESSAGE("rtmax " << info.rtmax << " rtpref " << info.rtpref << " wtmax " << info.wtmax
                   << " wtpref " << info.wtpref << " dtpref " << info.dtpref << " maxfilesize "
                   << info.maxfilesize);
  CHECK(info.rtmax > 0);
  CHECK(info.rtpref > 0);
  CHECK(info.rtpref <= info.rtmax);
  CHECK(info.wtmax > 0);
  CHECK(info.wtpref > 0);
  CHECK(info.wtpref <= info.wtmax);
  CHECK(info.wtmax >= 64 * 1024);  // ESXi and Linux use large transfers
  CHECK(info.dtpref > 0);
  CHECK(info.maxfilesize >= (uint64_t{1} << 41));  // at least 2 TiB (a VMDK)
  CHECK((info.properties & FSF3_LINK) != 0);
  CHECK((info.properties & FSF3_SYMLINK) != 0);
  CHECK((info.properties & FSF3_CANSETTIME) != 0);
  CHECK(info.obj_attributes.attributes_follow);
  const Fh stale = removed_file_handle(*s.nfs, s.root, "gone");
  CHECK_STATUS(s.nfs->fsinfo(stale), NFS3ERR_STALE);
  CHECK_STATUS(s.nfs->fsinfo(bit_flipped(s.root)), NFS3ERR_BADHANDLE);
}

TEST_CASE("e2e/nfs: PATHCONF matches what names the server takes, STALE and BADHANDLE") {
  Session s("pathconf");
  const PathconfRes res = s.nfs->pathconf(s.root);
  REQUIRE_OK(res);
  CHECK(res.res.name_max == 255);
  CHECK(res.res.no_trunc);
  CHECK(res.res.case_preserving);
  CHECK(!res.res.case_insensitive);
  CHECK(res.res.linkmax >= 2);
  // name_max is exact: a name of name_max bytes works, one more is NAMETOOLONG (no_trunc).
  const std::string longest(res.res.name_max, 'n');
  CHECK_OK(s.nfs->create(s.root, longest, GUARDED));
  CHECK_OK(s.nfs->lookup(s.root, longest));
  CHECK_STATUS(s.nfs->create(s.root, longest + "n", GUARDED), NFS3ERR_NAMETOOLONG);
  const Fh stale = removed_file_handle(*s.nfs, s.root, "gone");
  CHECK_STATUS(s.nfs->pathconf(stale), NFS3ERR_STALE);
  CHECK_STATUS(s.nfs->pathconf(bit_flipped(s.root)), NFS3ERR_BADHANDLE);
}

TEST_CASE("e2e/nfs: MOUNT MNT, EXPORT, DUMP, UMNT, NOENT for a wrong path") {
  Session s("mount");
  auto mount = s.cluster.mount_client();
  const ExportRes exported = mount->exports();
  REQUIRE_OK(exported);
  REQUIRE(exported.exports.size() == 1);
  CHECK(exported.exports[0].dir == "/default");

  const MntRes mnt = mount->mnt("/default");
  REQUIRE_OK(mnt);
  CHECK(mnt.root == s.root);     // the root handle is stable
  CHECK(mnt.root.size() <= 56);  // ESXi takes handles up to 56 bytes
  CHECK_MESSAGE(std::find(mnt.flavors.begin(), mnt.flavors.end(), 1) != mnt.flavors.end(),
                "AUTH_SYS not among the flavors");

  DumpRes dump = mount->dump();
  REQUIRE_OK(dump);
  bool listed = false;
  for (const MountEntry& m : dump.mounts) listed = listed || m.dir == "/default";
  CHECK_MESSAGE(listed, "DUMP does not list /default after MNT");

  const MntRes slash = mount->mnt("/default/");
  REQUIRE_OK(slash);
  CHECK(slash.root == s.root);
  const MntRes wrong = mount->mnt("/nonexistent");
  CHECK_MESSAGE(wrong.status == kMnt3ErrNoent, "MNT /nonexistent: " << describe(wrong));
  const MntRes sub = mount->mnt("/default/sub");
  CHECK_MESSAGE(sub.status != kMnt3Ok, "MNT /default/sub: " << describe(sub));
  const MntRes relative = mount->mnt("default");
  CHECK_MESSAGE(relative.status != kMnt3Ok, "MNT default: " << describe(relative));

  REQUIRE(mount->umnt("/default").rpc == RpcOutcome::kReplied);
  dump = mount->dump();
  REQUIRE_OK(dump);
  // Session's MNT and ours came from the same address; after UMNT none is left for it.
  listed = false;
  for (const MountEntry& m : dump.mounts) listed = listed || m.dir == "/default";
  CHECK_MESSAGE(!listed, "DUMP still lists /default after UMNT");
  // Handles do not depend on a mount: the root still answers.
  CHECK_OK(s.nfs->getattr(s.root));
}

}  // namespace
}  // namespace splitarray::e2e::nfs
