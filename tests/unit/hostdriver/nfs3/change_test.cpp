// REMOVE, RMDIR, RENAME and LINK through Nfs3Program::call(): names as a client sees them
// afterwards, handles that stay valid (a renamed file) or go stale (a removed one), exact WCC of
// every directory involved, sticky directories, and the errors.
#include <doctest/doctest.h>

#include "tests/unit/hostdriver/nfs3/nfs3_fixture.h"

namespace splitarray::hostdriver::nfs::nfs3::nfs3_test {

TEST_CASE("hostdriver/nfs3: REMOVE and RMDIR, with exact WCC, stale handles and errors") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh dir = co_await c.make_dir(n.root, "d");
    Fh file = co_await c.make_file(dir, "f");
    co_await c.put(file, 0, "bytes");
    Fh sub = co_await c.make_dir(dir, "sub");
    co_await c.make_file(sub, "inner");

    const Fattr before = co_await c.attrs(dir);
    WccRes removed = co_await c.remove(dir, "f");
    REQUIRE(removed.status == Status::kOk);
    const Fattr after = co_await c.attrs(dir);
    CHECK(wcc_is(removed.wcc, before, after));
    CHECK((co_await c.lookup(dir, "f")).status == Status::kNoent);
    CHECK((co_await c.getattr(file)).status == Status::kStale);
    CHECK((co_await c.read(file, 0, 5)).status == Status::kStale);

    WccRes missing = co_await c.remove(dir, "f");
    CHECK(missing.status == Status::kNoent);
    CHECK(missing.wcc.after.has_value());
    CHECK((co_await c.remove(dir, "sub")).status == Status::kIsdir);
    CHECK((co_await c.remove(dir, ".")).status == Status::kIsdir);
    CHECK((co_await c.remove(dir, "a/b")).status == Status::kInval);
    CHECK((co_await c.rmdir(dir, "sub")).status == Status::kNotempty);
    Fh other = co_await c.make_file(dir, "other");
    CHECK((co_await c.rmdir(dir, "other")).status == Status::kNotdir);
    CHECK((co_await c.rmdir(dir, ".")).status == Status::kInval);
    CHECK((co_await c.remove(other, "x")).status == Status::kNotdir);

    REQUIRE((co_await c.remove(sub, "inner")).status == Status::kOk);
    const Fattr dir_before = co_await c.attrs(dir);
    WccRes gone = co_await c.rmdir(dir, "sub");
    REQUIRE(gone.status == Status::kOk);
    const Fattr dir_after = co_await c.attrs(dir);
    CHECK(wcc_is(gone.wcc, dir_before, dir_after));
    CHECK(dir_after.nlink == dir_before.nlink - 1);
    CHECK((co_await c.getattr(sub)).status == Status::kStale);

    // Without write permission on the directory.
    c.who = user(1000, 100);
    WccRes denied = co_await c.remove(dir, "other");
    CHECK(denied.status == Status::kAcces);
    CHECK(wcc_is(denied.wcc, dir_after, dir_after));
    CHECK((co_await c.lookup(dir, "other")).status == Status::kOk);
  });
}

TEST_CASE("hostdriver/nfs3: a sticky directory keeps others' files") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh tmp = co_await c.make_dir(n.root, "tmp", 01777);
    CHECK((co_await c.attrs(tmp)).mode == 01777);
    c.who = user(1000, 100);
    co_await c.make_file(tmp, "alice", 0666);
    co_await c.make_dir(tmp, "alice-dir", 0777);
    c.who = user(1001, 100);
    co_await c.make_file(tmp, "bob", 0666);
    CHECK((co_await c.remove(tmp, "alice")).status == Status::kAcces);
    CHECK((co_await c.rmdir(tmp, "alice-dir")).status == Status::kAcces);
    CHECK((co_await c.rename(tmp, "alice", tmp, "mine")).status == Status::kAcces);
    CHECK((co_await c.rename(tmp, "bob", tmp, "alice")).status == Status::kAcces);  // replace
    CHECK((co_await c.remove(tmp, "bob")).status == Status::kOk);
    c.who = user(1000, 100);
    CHECK((co_await c.rename(tmp, "alice", tmp, "alice2")).status == Status::kOk);
    CHECK((co_await c.rmdir(tmp, "alice-dir")).status == Status::kOk);
    c.who = root();
    CHECK((co_await c.remove(tmp, "alice2")).status == Status::kOk);
  });
}

TEST_CASE("hostdriver/nfs3: RENAME keeps handles, replaces targets, and reports both dirs") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh a = co_await c.make_dir(n.root, "a");
    Fh b = co_await c.make_dir(n.root, "b");
    Fh file = co_await c.make_file(a, "f");
    co_await c.put(file, 0, "payload");

    // Within one directory: the handle still names the file.
    RenameRes same = co_await c.rename(a, "f", a, "g");
    REQUIRE(same.status == Status::kOk);
    CHECK(same.from == same.to);
    CHECK((co_await c.find(a, "g")) == file);
    CHECK((co_await c.attrs(file)).size == 7);

    // Across directories: both WCCs exact.
    const Fattr a_before = co_await c.attrs(a);
    const Fattr b_before = co_await c.attrs(b);
    RenameRes moved = co_await c.rename(a, "g", b, "h");
    REQUIRE(moved.status == Status::kOk);
    CHECK(wcc_is(moved.from, a_before, co_await c.attrs(a)));
    CHECK(wcc_is(moved.to, b_before, co_await c.attrs(b)));
    CHECK((co_await c.lookup(a, "g")).status == Status::kNoent);
    CHECK((co_await c.find(b, "h")) == file);

    // Onto an existing file: it is replaced, its handle goes stale.
    Fh victim = co_await c.make_file(b, "victim");
    REQUIRE((co_await c.rename(b, "h", b, "victim")).status == Status::kOk);
    CHECK((co_await c.find(b, "victim")) == file);
    CHECK((co_await c.getattr(victim)).status == Status::kStale);

    // A directory moves with its contents; ".." follows.
    Fh sub = co_await c.make_dir(a, "sub");
    co_await c.make_file(sub, "x");
    REQUIRE((co_await c.rename(a, "sub", b, "sub")).status == Status::kOk);
    CHECK((co_await c.find(sub, "..")) == b);
    CHECK((co_await c.lookup(sub, "x")).status == Status::kOk);

    // Errors.
    RenameRes missing = co_await c.rename(a, "nothing", b, "x");
    CHECK(missing.status == Status::kNoent);
    CHECK(missing.from.after.has_value());
    CHECK(missing.to.after.has_value());
    Fh full = co_await c.make_dir(b, "full");
    co_await c.make_file(full, "entry");
    CHECK((co_await c.rename(b, "sub", b, "full")).status == Status::kNotempty);
    CHECK((co_await c.rename(b, "victim", b, "sub")).status == Status::kIsdir);
    CHECK((co_await c.rename(b, "sub", b, "victim")).status == Status::kNotdir);
    CHECK((co_await c.rename(n.root, "b", sub, "inside")).status == Status::kInval);
    CHECK((co_await c.rename(b, ".", a, "dot")).status == Status::kInval);
    CHECK((co_await c.rename(b, "victim", a, std::string(256, 'v'))).status ==
          Status::kNametoolong);
    CHECK((co_await c.rename(b, "victim", file, "x")).status == Status::kNotdir);
    // Write permission on both directories, and on a directory that changes parent.
    Fh open_dir = co_await c.make_dir(n.root, "open", 0777);
    c.who = user(1000, 100);
    CHECK((co_await c.rename(b, "victim", open_dir, "v")).status == Status::kAcces);
    Fh mine = co_await c.make_dir(open_dir, "mine", 0555);
    Fh open_sub = co_await c.make_dir(open_dir, "sub", 0777);
    CHECK((co_await c.rename(open_dir, "mine", open_sub, "mine")).status == Status::kAcces);
    CHECK((co_await c.rename(open_dir, "mine", open_dir, "renamed")).status == Status::kOk);
    CHECK((co_await c.find(open_dir, "renamed")) == mine);
  });
}

TEST_CASE("hostdriver/nfs3: LINK adds a name to a file, with exact WCC") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh dir = co_await c.make_dir(n.root, "d");
    Fh file = co_await c.make_file(n.root, "f");
    co_await c.put(file, 0, "shared");
    const Fattr dir_before = co_await c.attrs(dir);
    LinkRes linked = co_await c.link(file, dir, "hard");
    REQUIRE(linked.status == Status::kOk);
    CHECK(wcc_is(linked.dir, dir_before, co_await c.attrs(dir)));
    REQUIRE(linked.attrs.has_value());
    CHECK(linked.attrs->nlink == 2);
    CHECK(*linked.attrs == co_await c.attrs(file));
    CHECK((co_await c.find(dir, "hard")) == file);
    // Removing one name leaves the file to the other.
    REQUIRE((co_await c.remove(n.root, "f")).status == Status::kOk);
    ReadRes data = co_await c.read(file, 0, 100);
    REQUIRE(data.status == Status::kOk);
    CHECK(std::string(data.data.begin(), data.data.end()) == "shared");
    CHECK((co_await c.attrs(file)).nlink == 1);

    LinkRes exists = co_await c.link(file, dir, "hard");
    CHECK(exists.status == Status::kExist);
    CHECK(exists.attrs.has_value());
    CHECK(exists.dir.after.has_value());
    CHECK((co_await c.link(file, dir, "..")).status == Status::kExist);
    CHECK((co_await c.link(dir, n.root, "dirlink")).status == Status::kPerm);
    CHECK((co_await c.link(file, file, "x")).status == Status::kNotdir);
    CHECK((co_await c.link(file, dir, std::string(300, 'l'))).status == Status::kNametoolong);
    c.who = user(1000, 100);
    CHECK((co_await c.link(file, dir, "mine")).status == Status::kAcces);
    c.who = root();
    REQUIRE((co_await c.remove(dir, "hard")).status == Status::kOk);
    LinkRes stale = co_await c.link(file, dir, "again");
    CHECK(stale.status == Status::kStale);
  });
}

}  // namespace splitarray::hostdriver::nfs::nfs3::nfs3_test
