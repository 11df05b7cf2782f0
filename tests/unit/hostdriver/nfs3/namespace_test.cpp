// LOOKUP, READLINK and the procedures that make names (CREATE in its three modes, MKDIR,
// SYMLINK, MKNOD) through Nfs3Program::call(): what they create as a client sees it, the
// directory's exact WCC, and their errors.
#include <doctest/doctest.h>

#include "tests/unit/hostdriver/nfs3/nfs3_fixture.h"

namespace splitarray::hostdriver::nfs::nfs3::nfs3_test {

TEST_CASE("hostdriver/nfs3: LOOKUP finds names, dot and dotdot, and says why it cannot") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh dir = co_await c.make_dir(n.root, "dir", 0700);
    Fh file = co_await c.make_file(dir, "file");
    const Fattr dir_attrs = co_await c.attrs(dir);

    LookupRes found = co_await c.lookup(dir, "file");
    REQUIRE(found.status == Status::kOk);
    CHECK(found.object == file);  // handles are stable: the same bytes each time
    REQUIRE(found.attrs.has_value());
    CHECK(*found.attrs == co_await c.attrs(file));
    REQUIRE(found.dir.has_value());
    CHECK(*found.dir == dir_attrs);
    LookupRes dot = co_await c.lookup(dir, ".");
    REQUIRE(dot.status == Status::kOk);
    CHECK(dot.object == dir);
    LookupRes dotdot = co_await c.lookup(dir, "..");
    REQUIRE(dotdot.status == Status::kOk);
    CHECK(dotdot.object == n.root);
    CHECK((co_await c.lookup(n.root, "..")).object == n.root);  // the root is its own parent

    LookupRes missing = co_await c.lookup(dir, "nope");
    CHECK(missing.status == Status::kNoent);
    CHECK(missing.dir.has_value());  // the directory's attributes come with the error
    CHECK((co_await c.lookup(dir, std::string(fs::kNameBytesMax + 1, 'x'))).status ==
          Status::kNametoolong);
    CHECK((co_await c.lookup(dir, std::string(fs::kNameBytesMax, 'x'))).status == Status::kNoent);
    CHECK((co_await c.lookup(dir, "a/b")).status == Status::kInval);
    CHECK((co_await c.lookup(dir, "")).status == Status::kInval);
    CHECK((co_await c.lookup(dir, std::string("a\0b", 3))).status == Status::kInval);
    CHECK((co_await c.lookup(file, "x")).status == Status::kNotdir);
    // Search permission: the directory is 0700 root's.
    c.who = user(1000, 100);
    LookupRes denied = co_await c.lookup(dir, "file");
    CHECK(denied.status == Status::kAcces);
    CHECK(denied.dir.has_value());
  });
}

TEST_CASE("hostdriver/nfs3: CREATE guarded and unchecked, owned by the caller, with exact WCC") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh dir = co_await c.make_dir(n.root, "home", 0777);
    const Fattr before = co_await c.attrs(dir);
    c.who = user(1000, 100, {300});
    CreateRes made = co_await c.create(dir, "a", with_mode(0640));
    REQUIRE(made.status == Status::kOk);
    REQUIRE(made.object.has_value());
    REQUIRE(made.attrs.has_value());
    const Fattr after = co_await c.attrs(dir);
    CHECK(wcc_is(made.dir, before, after));
    CHECK(after.mtime != before.mtime);
    const Fattr file = co_await c.attrs(*made.object);
    CHECK(*made.attrs == file);
    CHECK(file.type == Ftype::kReg);
    CHECK(file.mode == 0640);
    CHECK(file.uid == 1000);
    CHECK(file.gid == 100);
    CHECK(file.size == 0);
    CHECK(file.nlink == 1);

    // GUARDED on an existing name: EXIST, the directory unchanged (a failure the file system
    // reports comes with post-op attributes only).
    CreateRes again = co_await c.create(dir, "a", with_mode(0600));
    CHECK(again.status == Status::kExist);
    CHECK_FALSE(again.dir.before.has_value());
    REQUIRE(again.dir.after.has_value());
    CHECK(*again.dir.after == after);
    // UNCHECKED on an existing file: the same file, truncated when a size is given.
    co_await c.put(*made.object, 0, "some data");
    Sattr truncate = with_mode(0600);
    truncate.size = 0;
    CreateRes unchecked = co_await c.create(dir, "a", truncate, CreateHow::kUnchecked);
    REQUIRE(unchecked.status == Status::kOk);
    CHECK(unchecked.object == made.object);
    CHECK((co_await c.attrs(*made.object)).size == 0);
    // ... but not for someone who may not write that file.
    co_await c.put(*made.object, 0, "kept");
    c.who = user(1001, 100);
    CHECK((co_await c.create(dir, "a", truncate, CreateHow::kUnchecked)).status == Status::kAcces);
    CHECK((co_await c.attrs(*made.object)).size == 4);
    // A group of its own for the new file: one of the caller's groups only.
    c.who = user(1000, 100, {300});
    Sattr group = with_mode(0644);
    group.gid = 300;
    CreateRes in_group = co_await c.create(dir, "g", group);
    REQUIRE(in_group.status == Status::kOk);
    CHECK(in_group.attrs->gid == 300);
    group.gid = 301;
    CHECK((co_await c.create(dir, "g2", group)).status == Status::kPerm);
    Sattr owner = with_mode(0644);
    owner.uid = 0;
    CHECK((co_await c.create(dir, "u", owner)).status == Status::kPerm);
    CHECK((co_await c.lookup(dir, "u")).status == Status::kNoent);

    // Unchecked on a directory's name, dot names, long names, no write permission.
    CHECK((co_await c.mkdir(dir, "sub")).status == Status::kOk);
    CHECK((co_await c.create(dir, "sub", with_mode(0644), CreateHow::kUnchecked)).status ==
          Status::kExist);
    CHECK((co_await c.create(dir, ".")).status == Status::kExist);
    CHECK((co_await c.create(dir, "..")).status == Status::kExist);
    CHECK((co_await c.create(dir, std::string(256, 'n'))).status == Status::kNametoolong);
    CHECK((co_await c.create(n.root, "x")).status == Status::kAcces);  // 0755 root's
    CHECK((co_await c.create(*made.object, "x")).status == Status::kNotdir);
  });
}

TEST_CASE("hostdriver/nfs3: CREATE exclusive is idempotent for its verifier only") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    const Sattr none;  // exclusive creates carry no attributes
    CreateRes first = co_await c.create(n.root, "x", none, CreateHow::kExclusive, 0x1234);
    REQUIRE(first.status == Status::kOk);
    REQUIRE(first.object.has_value());
    const Fattr root_after = co_await c.attrs(n.root);
    // A retry (same verifier) gets the same file and changes nothing.
    CreateRes retry = co_await c.create(n.root, "x", none, CreateHow::kExclusive, 0x1234);
    REQUIRE(retry.status == Status::kOk);
    CHECK(retry.object == first.object);
    CHECK(wcc_is(retry.dir, root_after, root_after));
    // Another client's create of the same name does not.
    CreateRes other = co_await c.create(n.root, "x", none, CreateHow::kExclusive, 0x9999);
    CHECK(other.status == Status::kExist);
    CHECK((co_await c.create(n.root, "x")).status == Status::kExist);
    // The client's SETATTR after an exclusive create sets the mode.
    REQUIRE((co_await c.setattr(*first.object, with_mode(0600))).status == Status::kOk);
    CHECK((co_await c.attrs(*first.object)).mode == 0600);
  });
}

TEST_CASE("hostdriver/nfs3: MKDIR makes directories, setgid directories pass on their group") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    const Fattr root_before = co_await c.attrs(n.root);
    CreateRes made = co_await c.mkdir(n.root, "d", with_mode(0750));
    REQUIRE(made.status == Status::kOk);
    const Fattr root_after = co_await c.attrs(n.root);
    CHECK(wcc_is(made.dir, root_before, root_after));
    CHECK(root_after.nlink == root_before.nlink + 1);
    REQUIRE(made.attrs.has_value());
    CHECK(made.attrs->type == Ftype::kDir);
    CHECK(made.attrs->mode == 0750);
    CHECK(made.attrs->nlink == 2);
    CHECK((co_await c.mkdir(n.root, "d")).status == Status::kExist);
    Fh file = co_await c.make_file(n.root, "f");
    CHECK((co_await c.mkdir(file, "x")).status == Status::kNotdir);
    CHECK((co_await c.mkdir(n.root, "..")).status == Status::kExist);

    // A setgid directory of group 500: new files and directories get group 500; directories
    // inherit setgid.
    Sattr shared = with_mode(02777);
    shared.gid = 500;
    CreateRes group_dir = co_await c.mkdir(n.root, "shared", shared);
    REQUIRE(group_dir.status == Status::kOk);
    CHECK(group_dir.attrs->mode == 02777);
    c.who = user(1000, 100);
    CreateRes sub = co_await c.mkdir(*group_dir.object, "sub", with_mode(0755));
    REQUIRE(sub.status == Status::kOk);
    CHECK(sub.attrs->gid == 500);
    CHECK(sub.attrs->mode == 02755);
    CHECK(sub.attrs->uid == 1000);
    CreateRes inner = co_await c.create(*group_dir.object, "file", with_mode(0644));
    REQUIRE(inner.status == Status::kOk);
    CHECK(inner.attrs->gid == 500);
    CHECK((co_await c.mkdir(n.root, "mine")).status == Status::kAcces);
  });
}

TEST_CASE("hostdriver/nfs3: SYMLINK and READLINK") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    const Fattr root_before = co_await c.attrs(n.root);
    CreateRes link = co_await c.symlink(n.root, "l", "../some/where");
    REQUIRE(link.status == Status::kOk);
    CHECK(wcc_is(link.dir, root_before, co_await c.attrs(n.root)));
    REQUIRE(link.attrs.has_value());
    CHECK(link.attrs->type == Ftype::kLnk);
    CHECK(link.attrs->size == 13);
    ReadlinkRes target = co_await c.readlink(*link.object);
    REQUIRE(target.status == Status::kOk);
    CHECK(target.target == "../some/where");
    CHECK(target.attrs.has_value());
    const std::string longest(fs::kSymlinkBytesMax, 't');
    CreateRes longest_link = co_await c.symlink(n.root, "long", longest);
    REQUIRE(longest_link.status == Status::kOk);
    CHECK((co_await c.readlink(*longest_link.object)).target == longest);

    CHECK((co_await c.symlink(n.root, "l", "x")).status == Status::kExist);
    CHECK((co_await c.symlink(n.root, "too-long", longest + "t")).status == Status::kNametoolong);
    CHECK((co_await c.symlink(n.root, "empty", "")).status == Status::kInval);
    Fh file = co_await c.make_file(n.root, "f");
    ReadlinkRes not_link = co_await c.readlink(file);
    CHECK(not_link.status == Status::kInval);
    CHECK(not_link.attrs.has_value());
    REQUIRE((co_await c.remove(n.root, "l")).status == Status::kOk);
    CHECK((co_await c.readlink(*link.object)).status == Status::kStale);
  });
}

TEST_CASE("hostdriver/nfs3: MKNOD makes devices, sockets and fifos, and nothing else") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    CreateRes fifo = co_await c.mknod(n.root, "fifo", Ftype::kFifo);
    REQUIRE(fifo.status == Status::kOk);
    CHECK(fifo.attrs->type == Ftype::kFifo);
    CHECK(fifo.attrs->mode == 0600);
    CreateRes sock = co_await c.mknod(n.root, "sock", Ftype::kSock);
    REQUIRE(sock.status == Status::kOk);
    CHECK(sock.attrs->type == Ftype::kSock);
    const Fattr root_before = co_await c.attrs(n.root);
    CreateRes chr = co_await c.mknod(n.root, "null", Ftype::kChr, 1, 3);
    REQUIRE(chr.status == Status::kOk);
    CHECK(wcc_is(chr.dir, root_before, co_await c.attrs(n.root)));
    const Fattr device = co_await c.attrs(*chr.object);
    CHECK(device.type == Ftype::kChr);
    CHECK(device.rdev_major == 1);
    CHECK(device.rdev_minor == 3);
    CreateRes blk = co_await c.mknod(n.root, "sda", Ftype::kBlk, 8, 0);
    REQUIRE(blk.status == Status::kOk);
    CHECK(blk.attrs->type == Ftype::kBlk);

    for (Ftype type : {Ftype::kReg, Ftype::kDir, Ftype::kLnk}) {
      CreateRes bad = co_await c.mknod(n.root, "bad", type);
      CHECK(bad.status == Status::kBadtype);
      CHECK(bad.dir.after.has_value());
    }
    CHECK((co_await c.lookup(n.root, "bad")).status == Status::kNoent);
    CHECK((co_await c.mknod(n.root, "fifo", Ftype::kFifo)).status == Status::kExist);
    // Only root makes device nodes; anyone with write permission makes fifos.
    Fh open_dir = co_await c.make_dir(n.root, "tmp", 0777);
    c.who = user(1000, 100);
    CHECK((co_await c.mknod(open_dir, "tty", Ftype::kChr, 4, 1)).status == Status::kPerm);
    CHECK((co_await c.mknod(open_dir, "pipe", Ftype::kFifo)).status == Status::kOk);
    CHECK((co_await c.mknod(n.root, "pipe", Ftype::kFifo)).status == Status::kAcces);
  });
}

}  // namespace splitarray::hostdriver::nfs::nfs3::nfs3_test
