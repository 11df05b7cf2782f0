// NFS v3 conformance through libnfs, part 2: LOOKUP, READLINK, CREATE, MKDIR, SYMLINK, MKNOD
// (RFC 1813 §3.3.3, 3.3.5, 3.3.8-3.3.11), with exact WCC on the directory.
#include <map>
#include <set>

#include "tests/e2e/nfs/conformance_support.h"

namespace splitarray::e2e::nfs {
namespace {

// Runs a CREATE-like call and checks its WCC against GETATTRs of the directory around it, its
// post-op handle and attributes against a GETATTR and LOOKUP of the new name.
template <class Call>
CreateRes checked_make(NfsClient& nfs, const Fh& dir, const std::string& name, Call call,
                       const char* what) {
  const fattr3 before = attrs_of(nfs, dir);
  CreateRes res = call();
  REQUIRE_MESSAGE(res.ok(), what << ": " << describe(res));
  const fattr3 after = attrs_of(nfs, dir);
  check_wcc(res.dir_wcc, before, after, what);
  check_dir_changed(before, after, what);
  REQUIRE_MESSAGE(res.fh.has_value(), what << ": no post-op handle");
  REQUIRE_MESSAGE(res.attrs.has_value(), what << ": no post-op attributes");
  CHECK(same_attrs(*res.attrs, attrs_of(nfs, *res.fh)));
  const LookupRes found = nfs.lookup(dir, name);
  REQUIRE_OK(found);
  CHECK(found.fh == *res.fh);
  return res;
}

TEST_CASE("e2e/nfs: LOOKUP finds names, '.' and '..', NOENT, NOTDIR, NAMETOOLONG, BADHANDLE") {
  Session s("lookup");
  const Fh dir = make_dir(*s.nfs, s.root, "d");
  const Fh file = make_file(*s.nfs, dir, "f", pattern(3, 0, 10));

  LookupRes res = s.nfs->lookup(dir, "f");
  REQUIRE_OK(res);
  CHECK(res.fh == file);  // handles are stable: the same file, the same handle
  REQUIRE(res.obj.has_value());
  CHECK(same_attrs(*res.obj, attrs_of(*s.nfs, file)));
  REQUIRE(res.dir.has_value());
  CHECK(same_attrs(*res.dir, attrs_of(*s.nfs, dir)));

  res = s.nfs->lookup(dir, ".");
  REQUIRE_OK(res);
  CHECK(res.fh == dir);
  res = s.nfs->lookup(dir, "..");
  REQUIRE_OK(res);
  CHECK(res.fh == s.root);
  res = s.nfs->lookup(s.root, "..");  // the export's root is its own parent
  REQUIRE_OK(res);
  CHECK(res.fh == s.root);

  res = s.nfs->lookup(dir, "missing");
  CHECK_STATUS(res, NFS3ERR_NOENT);
  REQUIRE(res.dir.has_value());  // the directory's attributes come back on failure too
  CHECK(same_attrs(*res.dir, attrs_of(*s.nfs, dir)));
  CHECK_STATUS(s.nfs->lookup(file, "x"), NFS3ERR_NOTDIR);
  CHECK_STATUS(s.nfs->lookup(dir, std::string(256, 'x')), NFS3ERR_NAMETOOLONG);
  CHECK_STATUS(s.nfs->lookup(bit_flipped(dir), "f"), NFS3ERR_BADHANDLE);
  const Fh stale = removed_file_handle(*s.nfs, s.root, "gone");
  CHECK_STATUS(s.nfs->lookup(stale, "x"), NFS3ERR_STALE);
}

TEST_CASE("e2e/nfs: names are opaque bytes: UTF-8, spaces, 8-bit bytes round-trip exactly") {
  // RFC 1813 §2.5 / §3.2: a filename is any bytes except '/' and NUL; the server keeps them as
  // they came.
  Session s("names");
  const std::vector<std::string> names = {"h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93",
                                          "with space",
                                          "\xff\xfe\x80 raw",
                                          "-dash",
                                          ".hidden",
                                          "..dots",
                                          "UPPER",
                                          "upper",
                                          std::string(85, '\xe2')};
  std::map<std::string, Fh> made;
  for (const std::string& n : names) {
    const CreateRes res = s.nfs->create(s.root, n, GUARDED);
    REQUIRE_MESSAGE(res.ok(), "CREATE of a " << n.size() << "-byte name: " << describe(res));
    made[n] = *res.fh;
  }
  for (const std::string& n : names) {
    const LookupRes found = s.nfs->lookup(s.root, n);
    REQUIRE_OK(found);
    CHECK(found.fh == made[n]);  // "UPPER" and "upper" are different files: case-sensitive
  }
  const ReaddirRes listing = s.nfs->readdir(s.root, 0, Verf{}, 65536);
  REQUIRE_OK(listing);
  std::set<std::string> listed;
  for (const DirEntry& e : listing.entries) listed.insert(e.name);
  for (const std::string& n : names) CHECK_MESSAGE(listed.count(n) == 1, "not listed: " << n);
}

TEST_CASE("e2e/nfs: READLINK returns the target, INVAL for a non-link, STALE, BADHANDLE") {
  Session s("readlink");
  const std::string target = "../some/where/else with spaces";
  const CreateRes link = s.nfs->symlink(s.root, "l", target);
  REQUIRE_OK(link);
  REQUIRE(link.fh.has_value());
  ReadlinkRes res = s.nfs->readlink(*link.fh);
  REQUIRE_OK(res);
  CHECK(res.target == target);
  REQUIRE(res.attrs.has_value());
  CHECK(res.attrs->type == NF3LNK);
  CHECK(res.attrs->size == target.size());

  const Fh file = make_file(*s.nfs, s.root, "f");
  CHECK_STATUS(s.nfs->readlink(file), NFS3ERR_INVAL);
  CHECK_STATUS(s.nfs->readlink(s.root), NFS3ERR_INVAL);
  REQUIRE_OK(s.nfs->remove(s.root, "l"));
  CHECK_STATUS(s.nfs->readlink(*link.fh), NFS3ERR_STALE);
  CHECK_STATUS(s.nfs->readlink(bit_flipped(file)), NFS3ERR_BADHANDLE);
}

TEST_CASE("e2e/nfs: CREATE UNCHECKED, GUARDED, EXCLUSIVE, EXIST, NOTDIR, NAMETOOLONG") {
  Session s("create");
  const CreateRes made = checked_make(
      *s.nfs, s.root, "g", [&] { return s.nfs->create(s.root, "g", GUARDED, Sattr{.mode = 0640}); },
      "CREATE GUARDED");
  CHECK(made.attrs->type == NF3REG);
  CHECK((made.attrs->mode & 07777) == 0640);
  CHECK(made.attrs->size == 0);
  CHECK(made.attrs->nlink == 1);
  REQUIRE_OK(s.nfs->write(*made.fh, 0, pattern(4, 0, 300), FILE_SYNC));

  // GUARDED on an existing name: EXIST, nothing changes.
  fattr3 dir_now = attrs_of(*s.nfs, s.root);
  CreateRes res = s.nfs->create(s.root, "g", GUARDED, Sattr{.mode = 0600});
  CHECK_STATUS(res, NFS3ERR_EXIST);
  check_unchanged_wcc(res.dir_wcc, dir_now, "CREATE GUARDED EXIST");
  CHECK(attrs_of(*s.nfs, *made.fh).size == 300);

  // UNCHECKED on an existing file: succeeds with the same file; a size in the attributes
  // truncates it (RFC 1813 §3.3.8).
  res = s.nfs->create(s.root, "g", UNCHECKED, Sattr{});
  REQUIRE_OK(res);
  REQUIRE(res.fh.has_value());
  CHECK(*res.fh == *made.fh);
  CHECK(attrs_of(*s.nfs, *made.fh).size == 300);
  res = s.nfs->create(s.root, "g", UNCHECKED, Sattr{.size = 0});
  REQUIRE_OK(res);
  CHECK(attrs_of(*s.nfs, *made.fh).size == 0);

  // EXCLUSIVE: a retry with the same verifier is the same create; another verifier is EXIST.
  const Verf verf{1, 2, 3, 4, 5, 6, 7, 8};
  const CreateRes ex = checked_make(
      *s.nfs, s.root, "x", [&] { return s.nfs->create(s.root, "x", EXCLUSIVE, {}, verf); },
      "CREATE EXCLUSIVE");
  res = s.nfs->create(s.root, "x", EXCLUSIVE, {}, verf);
  REQUIRE_OK(res);
  REQUIRE(res.fh.has_value());
  CHECK(*res.fh == *ex.fh);
  res = s.nfs->create(s.root, "x", EXCLUSIVE, {}, Verf{8, 7, 6, 5, 4, 3, 2, 1});
  CHECK_STATUS(res, NFS3ERR_EXIST);
  // The client sets the real attributes after an exclusive create.
  CHECK_OK(s.nfs->setattr(*ex.fh, Sattr{.mode = 0644}));

  CHECK_STATUS(s.nfs->create(*made.fh, "y", GUARDED), NFS3ERR_NOTDIR);
  CHECK_STATUS(s.nfs->create(s.root, std::string(256, 'y'), GUARDED), NFS3ERR_NAMETOOLONG);
  CHECK_STATUS(s.nfs->create(s.root, ".", GUARDED), NFS3ERR_EXIST);
  CHECK_STATUS(s.nfs->create(s.root, "a/b", GUARDED), NFS3ERR_INVAL);
  CHECK_STATUS(s.nfs->create(bit_flipped(s.root), "z", GUARDED), NFS3ERR_BADHANDLE);
  const Fh gone_dir = make_dir(*s.nfs, s.root, "gone");
  REQUIRE_OK(s.nfs->rmdir(s.root, "gone"));
  CHECK_STATUS(s.nfs->create(gone_dir, "z", GUARDED), NFS3ERR_STALE);
}

TEST_CASE("e2e/nfs: MKDIR with WCC and nlink, EXIST, NOTDIR, NAMETOOLONG") {
  Session s("mkdir");
  const fattr3 root_before = attrs_of(*s.nfs, s.root);
  const CreateRes made = checked_make(
      *s.nfs, s.root, "d", [&] { return s.nfs->mkdir(s.root, "d", Sattr{.mode = 0750}); }, "MKDIR");
  CHECK(made.attrs->type == NF3DIR);
  CHECK((made.attrs->mode & 07777) == 0750);
  CHECK(made.attrs->nlink == 2);
  // The new directory's ".." is a link to the parent.
  CHECK(attrs_of(*s.nfs, s.root).nlink == root_before.nlink + 1);

  const fattr3 dir_now = attrs_of(*s.nfs, s.root);
  const CreateRes again = s.nfs->mkdir(s.root, "d");
  CHECK_STATUS(again, NFS3ERR_EXIST);
  check_unchanged_wcc(again.dir_wcc, dir_now, "MKDIR EXIST");
  const Fh file = make_file(*s.nfs, s.root, "f");
  CHECK_STATUS(s.nfs->mkdir(s.root, "f"), NFS3ERR_EXIST);
  CHECK_STATUS(s.nfs->mkdir(file, "sub"), NFS3ERR_NOTDIR);
  CHECK_STATUS(s.nfs->mkdir(s.root, std::string(300, 'd')), NFS3ERR_NAMETOOLONG);
  CHECK_STATUS(s.nfs->mkdir(s.root, ".."), NFS3ERR_EXIST);
  CHECK_STATUS(s.nfs->mkdir(bit_flipped(s.root), "e"), NFS3ERR_BADHANDLE);
  // Nested: a directory inside the new one.
  checked_make(
      *s.nfs, *made.fh, "inner", [&] { return s.nfs->mkdir(*made.fh, "inner"); }, "MKDIR nested");
  CHECK(attrs_of(*s.nfs, *made.fh).nlink == 3);
}

TEST_CASE("e2e/nfs: SYMLINK with WCC, EXIST, NOTDIR, NAMETOOLONG") {
  Session s("symlink");
  const CreateRes made = checked_make(
      *s.nfs, s.root, "l", [&] { return s.nfs->symlink(s.root, "l", "target/path"); }, "SYMLINK");
  CHECK(made.attrs->type == NF3LNK);
  CHECK(made.attrs->size == std::string("target/path").size());
  // A dangling link is fine; LOOKUP does not follow it.
  const LookupRes found = s.nfs->lookup(s.root, "l");
  REQUIRE_OK(found);
  REQUIRE(found.obj.has_value());
  CHECK(found.obj->type == NF3LNK);

  const fattr3 dir_now = attrs_of(*s.nfs, s.root);
  const CreateRes again = s.nfs->symlink(s.root, "l", "other");
  CHECK_STATUS(again, NFS3ERR_EXIST);
  check_unchanged_wcc(again.dir_wcc, dir_now, "SYMLINK EXIST");
  const ReadlinkRes still = s.nfs->readlink(*made.fh);
  REQUIRE_OK(still);
  CHECK(still.target == "target/path");
  // Targets up to the server's limit (PATH_MAX-like) are kept byte for byte; longer ones are
  // NAMETOOLONG.
  const std::string longest(1024, 't');
  const CreateRes long_link = s.nfs->symlink(s.root, "long", longest);
  REQUIRE_OK(long_link);
  const ReadlinkRes long_target = s.nfs->readlink(*long_link.fh);
  REQUIRE_OK(long_target);
  CHECK(long_target.target == longest);
  CHECK_STATUS(s.nfs->symlink(s.root, "longer", longest + "t"), NFS3ERR_NAMETOOLONG);
  CHECK_STATUS(s.nfs->lookup(s.root, "longer"), NFS3ERR_NOENT);
  const Fh file = make_file(*s.nfs, s.root, "f");
  CHECK_STATUS(s.nfs->symlink(file, "l2", "t"), NFS3ERR_NOTDIR);
  CHECK_STATUS(s.nfs->symlink(s.root, std::string(256, 'l'), "t"), NFS3ERR_NAMETOOLONG);
  CHECK_STATUS(s.nfs->symlink(bit_flipped(s.root), "l3", "t"), NFS3ERR_BADHANDLE);
}

TEST_CASE("e2e/nfs: MKNOD FIFO, socket and devices, BADTYPE, EXIST, NOTDIR, PERM") {
  Session s("mknod");
  const CreateRes fifo = checked_make(
      *s.nfs, s.root, "p", [&] { return s.nfs->mknod(s.root, "p", NF3FIFO, Sattr{.mode = 0600}); },
      "MKNOD FIFO");
  CHECK(fifo.attrs->type == NF3FIFO);
  CHECK((fifo.attrs->mode & 07777) == 0600);
  const CreateRes sock = checked_make(
      *s.nfs, s.root, "s", [&] { return s.nfs->mknod(s.root, "s", NF3SOCK); }, "MKNOD SOCK");
  CHECK(sock.attrs->type == NF3SOCK);
  const CreateRes chr = checked_make(
      *s.nfs, s.root, "c",
      [&] {
        return s.nfs->mknod(s.root, "c", NF3CHR, Sattr{.mode = 0644}, specdata3{1, 3});
      },
      "MKNOD CHR");
  CHECK(chr.attrs->type == NF3CHR);
  CHECK(chr.attrs->rdev.specdata1 == 1);
  CHECK(chr.attrs->rdev.specdata2 == 3);

  // RFC 1813 §3.3.11: a regular file, directory or symlink type is BADTYPE.
  const fattr3 dir_now = attrs_of(*s.nfs, s.root);
  for (ftype3 type : {NF3REG, NF3DIR, NF3LNK}) {
    const CreateRes res = s.nfs->mknod(s.root, "bad", type);
    CHECK_STATUS(res, NFS3ERR_BADTYPE);
    check_unchanged_wcc(res.dir_wcc, dir_now, "MKNOD BADTYPE");
  }
  CHECK_STATUS(s.nfs->lookup(s.root, "bad"), NFS3ERR_NOENT);
  CHECK_STATUS(s.nfs->mknod(s.root, "p", NF3FIFO), NFS3ERR_EXIST);
  const Fh file = make_file(*s.nfs, s.root, "f");
  CHECK_STATUS(s.nfs->mknod(file, "p2", NF3FIFO), NFS3ERR_NOTDIR);
  CHECK_STATUS(s.nfs->mknod(s.root, std::string(256, 'p'), NF3FIFO), NFS3ERR_NAMETOOLONG);
  // Devices need root, like mknod(2).
  const CreateRes open_dir_made =
      s.nfs->mkdir(s.root, "open", Sattr{.mode = 0755, .uid = 1000, .gid = 1000});
  REQUIRE_OK(open_dir_made);
  const Fh open_dir = *open_dir_made.fh;
  s.nfs->rpc().set_credentials(1000, 1000);
  CHECK_STATUS(s.nfs->mknod(open_dir, "b", NF3BLK, {}, specdata3{8, 0}), NFS3ERR_PERM);
  CHECK_OK(s.nfs->mknod(open_dir, "p", NF3FIFO));
  s.nfs->rpc().set_credentials(0, 0);
}

}  // namespace
}  // namespace splitarray::e2e::nfs
