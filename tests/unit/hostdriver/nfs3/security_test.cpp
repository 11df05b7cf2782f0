// What the NFS v3 program refuses, through Nfs3Program::call(): forged and foreign handles,
// stale ones, peers outside the export, a read-only export, root squashing, and malformed calls
// (truncated, trailing bytes, unknown procedures and versions). Each refusal is checked by what
// a client sees afterwards: nothing changed.
#include <doctest/doctest.h>

#include "tests/unit/hostdriver/nfs3/nfs3_fixture.h"

namespace splitarray::hostdriver::nfs::nfs3::nfs3_test {
namespace {

Export squashing_export() {
  Export exported = test_export();
  exported.root_squash = true;
  return exported;
}

Export read_only_export() {
  Export exported = test_export();
  exported.read_only = true;
  return exported;
}

template <class Args>
std::vector<uint8_t> encoded(const Args& args) {
  XdrEncoder out;
  encode_args(out, args);
  return out.take();
}

}  // namespace

TEST_CASE("hostdriver/nfs3: forged, foreign and stale handles") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh file = co_await c.make_file(n.root, "f");
    co_await c.put(file, 0, "data");
    const Fattr attrs = co_await c.attrs(file);

    // Any changed byte: BADHANDLE, for every kind of call.
    for (size_t byte = 0; byte < file.bytes.size(); byte += 5) {
      Fh bad = file;
      bad.bytes[byte] ^= 0x40;
      CHECK((co_await c.getattr(bad)).status == Status::kBadhandle);
    }
    CHECK((co_await c.write(forged(file), 0, bytes_of("x"))).status == Status::kBadhandle);
    CHECK((co_await c.lookup(forged(n.root), "f")).status == Status::kBadhandle);
    CHECK((co_await c.create(forged(n.root), "g")).status == Status::kBadhandle);
    CHECK((co_await c.lookup(n.root, "g")).status == Status::kNoent);
    // Sealed with another key (another cluster): BADHANDLE.
    HandleKey other_key = test_key();
    other_key[0] ^= 1;
    const HandleCodec other(other_key);
    const FileHandle same_file{.fs_id = n.fs.fs_id(), .inode = attrs.fileid, .generation = 1};
    const Fh foreign{other.encode(same_file)};
    CHECK((co_await c.getattr(foreign)).status == Status::kBadhandle);
    // Authentic but for another datastore, or another generation of the inode: STALE.
    const HandleCodec ours(test_key());
    const FileHandle elsewhere{.fs_id = n.fs.fs_id() + 1, .inode = attrs.fileid, .generation = 1};
    const Fh other_fs{ours.encode(elsewhere)};
    CHECK((co_await c.getattr(other_fs)).status == Status::kStale);
    auto real = ours.decode(file.bytes);
    REQUIRE(real.ok());
    FileHandle older = *real;
    older.generation += 1;
    const Fh other_generation{ours.encode(older)};
    CHECK((co_await c.getattr(other_generation)).status == Status::kStale);
    FileHandle never = *real;
    never.inode = 999999;
    const Fh never_existed{ours.encode(never)};
    CHECK((co_await c.getattr(never_existed)).status == Status::kStale);
    // The file removed: its handle is stale, for reads and writes alike.
    REQUIRE((co_await c.remove(n.root, "f")).status == Status::kOk);
    CHECK((co_await c.getattr(file)).status == Status::kStale);
    WriteRes late = co_await c.write(file, 0, bytes_of("late"));
    CHECK(late.status == Status::kStale);
    CHECK_FALSE(late.wcc.after.has_value());
    CHECK(n.program.stats().stale_handles == 5);
  });
}

TEST_CASE("hostdriver/nfs3: a peer outside the export gets ACCES for everything but NULL") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh file = co_await c.make_file(n.root, "f");
    c.peer = Address{"192.168.1.10", 900};
    GetattrRes attrs = co_await c.getattr(n.root);
    CHECK(attrs.status == Status::kAcces);
    LookupRes lookup = co_await c.lookup(n.root, "f");
    CHECK(lookup.status == Status::kAcces);
    CHECK_FALSE(lookup.dir.has_value());  // nothing about the file system leaks
    CHECK((co_await c.create(n.root, "intruder")).status == Status::kAcces);
    CHECK((co_await c.write(file, 0, bytes_of("x"))).status == Status::kAcces);
    CHECK((co_await c.readdir(n.root, 0, 4096)).status == Status::kAcces);
    CHECK((co_await c.fsinfo(n.root)).status == Status::kAcces);
    const std::vector<uint8_t> none;
    CHECK(co_await c.raw(Proc::kNull, none, nullptr) == AcceptStat::kSuccess);
    c.peer = Address{"::1", 900};  // IPv6: in no IPv4 allow-list
    CHECK((co_await c.getattr(n.root)).status == Status::kAcces);
    c.peer = Address{"::ffff:127.0.0.1", 900};  // IPv4-mapped: allowed
    CHECK((co_await c.getattr(n.root)).status == Status::kOk);
    CHECK((co_await c.lookup(n.root, "intruder")).status == Status::kNoent);
    CHECK((co_await c.attrs(file)).size == 0);
    CHECK(n.program.stats().denied_peers == 7);
  });
}

TEST_CASE("hostdriver/nfs3: a read-only export answers ROFS to every change") {
  with_nfs(
      [](Server& n) -> Task<void> {
        Client& c = n.client;
        // A file made behind the export's back, straight in the file system.
        fs::SetAttributes mode;
        mode.mode = 0644;
        auto made = co_await n.fs.create(fs::kRootInode, "f", fs::CreateMode::kGuarded, mode, 0);
        REQUIRE(made.ok());
        Fh file = co_await c.find(n.root, "f");
        CHECK((co_await c.read(file, 0, 10)).status == Status::kOk);
        CHECK((co_await c.readdir(n.root, 0, 4096)).status == Status::kOk);
        CHECK((co_await c.access(file, kAccessAll)).access == kAccessRead);

        CHECK((co_await c.setattr(file, with_mode(0600))).status == Status::kRofs);
        CHECK((co_await c.write(file, 0, bytes_of("x"))).status == Status::kRofs);
        CHECK((co_await c.create(n.root, "g")).status == Status::kRofs);
        CHECK((co_await c.mkdir(n.root, "d")).status == Status::kRofs);
        CHECK((co_await c.symlink(n.root, "l", "f")).status == Status::kRofs);
        CHECK((co_await c.mknod(n.root, "p", Ftype::kFifo)).status == Status::kRofs);
        CHECK((co_await c.remove(n.root, "f")).status == Status::kRofs);
        CHECK((co_await c.rmdir(n.root, "f")).status == Status::kRofs);
        CHECK((co_await c.rename(n.root, "f", n.root, "g")).status == Status::kRofs);
        CHECK((co_await c.link(file, n.root, "h")).status == Status::kRofs);
        CHECK((co_await c.commit(file)).status == Status::kRofs);
        // Nothing changed.
        const Fattr after = co_await c.attrs(file);
        CHECK(after.mode == 0644);
        CHECK(after.size == 0);
        CHECK(after.nlink == 1);
        ReaddirRes listing = co_await c.readdir(n.root, 0, 4096);
        CHECK(listing.entries.size() == 3);
      },
      read_only_export());
}

TEST_CASE("hostdriver/nfs3: root squashing makes root the anonymous user") {
  with_nfs(
      [](Server& n) -> Task<void> {
        Client& c = n.client;  // uid 0, squashed to 65534
        // Root's own 0644 file and a world-writable directory, made in the file system.
        fs::SetAttributes mode;
        mode.mode = 0644;
        mode.uid = 0;
        mode.gid = 0;
        auto made =
            co_await n.fs.create(fs::kRootInode, "roots", fs::CreateMode::kGuarded, mode, 0);
        REQUIRE(made.ok());
        fs::SetAttributes open_mode;
        open_mode.mode = 0777;
        auto dir = co_await n.fs.mkdir(fs::kRootInode, "tmp", open_mode);
        REQUIRE(dir.ok());
        Fh roots = co_await c.find(n.root, "roots");
        Fh tmp = co_await c.find(n.root, "tmp");

        CHECK((co_await c.read(roots, 0, 10)).status == Status::kOk);  // others may read
        CHECK((co_await c.write(roots, 0, bytes_of("x"))).status == Status::kAcces);
        CHECK((co_await c.setattr(roots, with_mode(0666))).status == Status::kPerm);
        CHECK((co_await c.create(n.root, "top")).status == Status::kAcces);  // 0755 root's
        CreateRes mine = co_await c.create(tmp, "mine");
        REQUIRE(mine.status == Status::kOk);
        CHECK(mine.attrs->uid == kUidNobody);
        CHECK(mine.attrs->gid == kGidNobody);
        CHECK((co_await c.attrs(roots)).mode == 0644);
        // AUTH_NONE callers are anonymous too.
        c.who = Credentials{};
        CHECK((co_await c.write(roots, 0, bytes_of("x"))).status == Status::kAcces);
        CHECK((co_await c.write(*mine.object, 0, bytes_of("ok"))).status == Status::kOk);
      },
      squashing_export());
}

TEST_CASE("hostdriver/nfs3: malformed calls are GARBAGE_ARGS and change nothing") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    std::vector<std::pair<Proc, std::vector<uint8_t>>> calls;
    calls.emplace_back(Proc::kGetattr, encoded(FhArgs{n.root}));
    calls.emplace_back(Proc::kLookup, encoded(Client::dirop(n.root, "x")));
    CreateArgs create;
    create.where = Client::dirop(n.root, "new");
    create.attrs = with_mode(0644);
    calls.emplace_back(Proc::kCreate, encoded(create));
    WriteArgs write;
    write.file = n.root;
    write.count = 3;
    write.data = bytes_of("abc");
    calls.emplace_back(Proc::kWrite, encoded(write));
    RenameArgs rename;
    rename.from = Client::dirop(n.root, "a");
    rename.to = Client::dirop(n.root, "b");
    calls.emplace_back(Proc::kRename, encoded(rename));
    ReaddirplusArgs plus;
    plus.dir = n.root;
    plus.maxcount = 4096;
    calls.emplace_back(Proc::kReaddirplus, encoded(plus));

    uint64_t garbage = 0;
    for (const auto& call : calls) {
      const std::vector<uint8_t>& bytes = call.second;
      // Cut anywhere: garbage. Trailing bytes: garbage.
      for (size_t cut : {size_t{0}, size_t{3}, bytes.size() / 2, bytes.size() - 1}) {
        const std::vector<uint8_t> truncated(bytes.begin(), bytes.begin() + cut);
        CHECK(co_await c.raw(call.first, truncated, nullptr) == AcceptStat::kGarbageArgs);
        ++garbage;
      }
      std::vector<uint8_t> longer = bytes;
      longer.insert(longer.end(), 4, 0);
      CHECK(co_await c.raw(call.first, longer, nullptr) == AcceptStat::kGarbageArgs);
      ++garbage;
    }
    CHECK(n.program.stats().garbage_args == garbage);
    CHECK((co_await c.lookup(n.root, "new")).status == Status::kNoent);
    // A handle longer than NFS3_FHSIZE: garbage before it is even a bad handle.
    XdrEncoder long_handle;
    long_handle.opaque(std::vector<uint8_t>(kFhBytesMax + 1, 0));
    std::vector<uint8_t> long_bytes = long_handle.take();
    CHECK(co_await c.raw(Proc::kGetattr, long_bytes, nullptr) == AcceptStat::kGarbageArgs);

    // Unknown procedure and version.
    RpcCall call;
    call.program = kNfsProgram;
    call.version = kNfsVersion;
    call.procedure = kProcCount;
    call.credentials = root();
    call.peer = c.peer;
    XdrEncoder results;
    CHECK(co_await n.program.call(call, results) == AcceptStat::kProcUnavail);
    call.procedure = proc_number(Proc::kNull);
    call.version = 2;
    CHECK(co_await n.program.call(call, results) == AcceptStat::kProgMismatch);
  });
}

TEST_CASE("hostdriver/nfs3: program identity, idempotent procedures and the root handle") {
  with_nfs([](Server& n) -> Task<void> {
    const Nfs3Program& program = n.program;
    CHECK(program.program() == 100003);
    CHECK(program.version_min() == 3);
    CHECK(program.version_max() == 3);
    for (Proc proc : {Proc::kNull, Proc::kGetattr, Proc::kLookup, Proc::kAccess, Proc::kReadlink,
                      Proc::kRead, Proc::kReaddir, Proc::kReaddirplus, Proc::kFsstat, Proc::kFsinfo,
                      Proc::kPathconf, Proc::kCommit}) {
      CHECK_MESSAGE(program.idempotent(3, proc_number(proc)), proc_name(proc));
    }
    for (Proc proc : {Proc::kSetattr, Proc::kWrite, Proc::kCreate, Proc::kMkdir, Proc::kSymlink,
                      Proc::kMknod, Proc::kRemove, Proc::kRmdir, Proc::kRename, Proc::kLink}) {
      CHECK_MESSAGE(!program.idempotent(3, proc_number(proc)), proc_name(proc));
    }
    // The root handle is the MOUNT program's answer: it resolves, and it is 44 bytes (ESXi
    // takes at most 56).
    CHECK(n.root.bytes.size() == kFileHandleBytes);
    const Fattr root = co_await n.client.attrs(n.root);
    CHECK(root.fileid == fs::kRootInode);
    CHECK(program.root_handle() == n.root.bytes);
  });
}

}  // namespace splitarray::hostdriver::nfs::nfs3::nfs3_test
