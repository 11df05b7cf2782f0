// tests/unit/hostdriver/nfs3/nfs3_fixture.h
// Scaffolding for the NFS v3 program's tests: a FileSystem on the file-system tests' real shelf
// (tests/unit/hostdriver/fs/fs_fixture.h), an Nfs3Program over it, and a Client that encodes
// arguments with the client-side XDR (nfs3_client_xdr.h), calls Nfs3Program::call() as the RPC
// server would, and decodes the replies. Every reply must decode exactly: a test that gets a
// malformed reply fails there.
#pragma once

#include "tests/unit/hostdriver/fs/fs_fixture.h"

#include <doctest/doctest.h>

#include <ostream>
#include <string>
#include <vector>

#include "hostdriver/nfs/nfs3/nfs3_client_xdr.h"
#include "hostdriver/nfs/nfs3/nfs3_program.h"

namespace splitarray::hostdriver::nfs::nfs3 {

// doctest prints these in failed checks.
inline std::ostream& operator<<(std::ostream& out, Status status) {
  return out << status_name(status);
}
inline std::ostream& operator<<(std::ostream& out, StableHow how) {
  return out << "stable_how " << static_cast<uint32_t>(how);
}

namespace nfs3_test {

using fs::fs_test::bytes_of;
using fs::fs_test::FsSession;

inline HandleKey test_key() {
  HandleKey key;
  key.fill(0x5a);
  return key;
}

inline Export test_export() {
  Export exported;
  exported.path = "/ds";
  exported.clients = {ClientNetwork::parse("127.0.0.0/8").value()};
  exported.root_squash = false;  // ESXi's setting; tests of squashing turn it on
  return exported;
}

inline Credentials user(uint32_t uid, uint32_t gid, std::vector<uint32_t> gids = {}) {
  Credentials who;
  who.flavor = kAuthSys;
  who.uid = uid;
  who.gid = gid;
  who.gids = std::move(gids);
  who.machine = "client";
  return who;
}
inline Credentials root() { return user(0, 0); }

inline Sattr with_mode(uint32_t mode) {
  Sattr attrs;
  attrs.mode = mode;
  return attrs;
}

// The handle with its last MAC bit flipped.
inline Fh forged(Fh fh) {
  fh.bytes.back() ^= 1;
  return fh;
}

inline uint32_t proc_number(Proc proc) { return static_cast<uint32_t>(proc); }

// Talks to one Nfs3Program as one client (address and credentials can change between calls).
class Client {
 public:
  explicit Client(Nfs3Program& program) : program_(program) {}

  Credentials who = root();
  Address peer{"127.0.0.1", 800};

  // One call with raw argument bytes; the reply bytes land in `reply` when given.
  Task<AcceptStat> raw(Proc proc, std::vector<uint8_t> args, std::vector<uint8_t>* reply) {
    RpcCall call;
    call.xid = ++xid_;
    call.program = kNfsProgram;
    call.version = kNfsVersion;
    call.procedure = proc_number(proc);
    call.credentials = who;
    call.peer = peer;
    call.connection_id = 1;
    call.args = args;
    XdrEncoder results;
    const AcceptStat stat = co_await program_.call(call, results);
    if (reply != nullptr) *reply = results.take();
    co_return stat;
  }

  template <class Res, class Args>
  Task<Res> call(Proc proc, Args args) {
    XdrEncoder encoder;
    encode_args(encoder, args);
    std::vector<uint8_t> bytes = encoder.take();
    std::vector<uint8_t> reply;
    const AcceptStat stat = co_await raw(proc, std::move(bytes), &reply);
    REQUIRE_MESSAGE(stat == AcceptStat::kSuccess,
                    proc_name(proc) << ": accept_stat " << static_cast<int>(stat));
    Res res;
    REQUIRE_MESSAGE(decode_res(reply, res), proc_name(proc) << ": the reply does not decode");
    co_return res;
  }

  // One wrapper per procedure.
  Task<GetattrRes> getattr(Fh object) {
    FhArgs args{object};
    co_return co_await call<GetattrRes>(Proc::kGetattr, std::move(args));
  }
  Task<WccRes> setattr(Fh object, Sattr attrs, std::optional<Time> guard = std::nullopt) {
    SetattrArgs args;
    args.object = std::move(object);
    args.attrs = attrs;
    args.guard_ctime = guard;
    co_return co_await call<WccRes>(Proc::kSetattr, std::move(args));
  }
  Task<LookupRes> lookup(Fh dir, std::string name) {
    DirOpArgs args = dirop(std::move(dir), std::move(name));
    co_return co_await call<LookupRes>(Proc::kLookup, std::move(args));
  }
  Task<AccessRes> access(Fh object, uint32_t bits) {
    AccessArgs args;
    args.object = std::move(object);
    args.access = bits;
    co_return co_await call<AccessRes>(Proc::kAccess, std::move(args));
  }
  Task<ReadlinkRes> readlink(Fh link) {
    FhArgs args{std::move(link)};
    co_return co_await call<ReadlinkRes>(Proc::kReadlink, std::move(args));
  }
  Task<ReadRes> read(Fh file, uint64_t offset, uint32_t count) {
    ReadArgs args;
    args.file = std::move(file);
    args.offset = offset;
    args.count = count;
    co_return co_await call<ReadRes>(Proc::kRead, std::move(args));
  }
  Task<WriteRes> write(Fh file, uint64_t offset, std::vector<uint8_t> data,
                       StableHow stable = StableHow::kFileSync) {
    WriteArgs args;
    args.file = std::move(file);
    args.offset = offset;
    args.count = static_cast<uint32_t>(data.size());
    args.stable = stable;
    args.data = std::move(data);
    co_return co_await call<WriteRes>(Proc::kWrite, std::move(args));
  }
  Task<CreateRes> create(Fh dir, std::string name, Sattr attrs = with_mode(0644),
                         CreateHow how = CreateHow::kGuarded, uint64_t verifier = 0) {
    CreateArgs args;
    args.where = dirop(std::move(dir), std::move(name));
    args.how = how;
    args.attrs = attrs;
    args.verf = verifier_of(verifier);
    co_return co_await call<CreateRes>(Proc::kCreate, std::move(args));
  }
  Task<CreateRes> mkdir(Fh dir, std::string name, Sattr attrs = with_mode(0755)) {
    MkdirArgs args;
    args.where = dirop(std::move(dir), std::move(name));
    args.attrs = attrs;
    co_return co_await call<CreateRes>(Proc::kMkdir, std::move(args));
  }
  Task<CreateRes> symlink(Fh dir, std::string name, std::string target) {
    SymlinkArgs args;
    args.where = dirop(std::move(dir), std::move(name));
    args.target = std::move(target);
    co_return co_await call<CreateRes>(Proc::kSymlink, std::move(args));
  }
  Task<CreateRes> mknod(Fh dir, std::string name, Ftype type, uint32_t major = 0,
                        uint32_t minor = 0) {
    MknodArgs args;
    args.where = dirop(std::move(dir), std::move(name));
    args.type = type;
    args.attrs = with_mode(0600);
    args.rdev_major = major;
    args.rdev_minor = minor;
    co_return co_await call<CreateRes>(Proc::kMknod, std::move(args));
  }
  Task<WccRes> remove(Fh dir, std::string name) {
    DirOpArgs args = dirop(std::move(dir), std::move(name));
    co_return co_await call<WccRes>(Proc::kRemove, std::move(args));
  }
  Task<WccRes> rmdir(Fh dir, std::string name) {
    DirOpArgs args = dirop(std::move(dir), std::move(name));
    co_return co_await call<WccRes>(Proc::kRmdir, std::move(args));
  }
  Task<RenameRes> rename(Fh from, std::string from_name, Fh to, std::string to_name) {
    RenameArgs args;
    args.from = dirop(std::move(from), std::move(from_name));
    args.to = dirop(std::move(to), std::move(to_name));
    co_return co_await call<RenameRes>(Proc::kRename, std::move(args));
  }
  Task<LinkRes> link(Fh file, Fh dir, std::string name) {
    LinkArgs args;
    args.file = std::move(file);
    args.link = dirop(std::move(dir), std::move(name));
    co_return co_await call<LinkRes>(Proc::kLink, std::move(args));
  }
  Task<ReaddirRes> readdir(Fh dir, uint64_t cookie, uint32_t count) {
    ReaddirArgs args;
    args.dir = std::move(dir);
    args.cookie = cookie;
    args.count = count;
    co_return co_await call<ReaddirRes>(Proc::kReaddir, std::move(args));
  }
  Task<ReaddirplusRes> readdirplus(Fh dir, uint64_t cookie, uint32_t dircount, uint32_t maxcount) {
    ReaddirplusArgs args;
    args.dir = std::move(dir);
    args.cookie = cookie;
    args.dircount = dircount;
    args.maxcount = maxcount;
    co_return co_await call<ReaddirplusRes>(Proc::kReaddirplus, std::move(args));
  }
  Task<FsstatRes> fsstat(Fh object) {
    FhArgs args{std::move(object)};
    co_return co_await call<FsstatRes>(Proc::kFsstat, std::move(args));
  }
  Task<FsinfoRes> fsinfo(Fh object) {
    FhArgs args{std::move(object)};
    co_return co_await call<FsinfoRes>(Proc::kFsinfo, std::move(args));
  }
  Task<PathconfRes> pathconf(Fh object) {
    FhArgs args{std::move(object)};
    co_return co_await call<PathconfRes>(Proc::kPathconf, std::move(args));
  }
  Task<CommitRes> commit(Fh file) {
    CommitArgs args;
    args.file = std::move(file);
    co_return co_await call<CommitRes>(Proc::kCommit, std::move(args));
  }

  // Helpers that require success.
  Task<Fattr> attrs(Fh object) {
    GetattrRes res = co_await getattr(std::move(object));
    REQUIRE_MESSAGE(res.status == Status::kOk, "GETATTR: " << res.status);
    co_return res.attrs;
  }
  Task<Fh> find(Fh dir, std::string name) {
    LookupRes res = co_await lookup(std::move(dir), name);
    REQUIRE_MESSAGE(res.status == Status::kOk, "LOOKUP " << name << ": " << res.status);
    co_return res.object;
  }
  Task<Fh> make_file(Fh dir, std::string name, uint32_t mode = 0644) {
    CreateRes res = co_await create(std::move(dir), name, with_mode(mode));
    REQUIRE_MESSAGE(res.status == Status::kOk, "CREATE " << name << ": " << res.status);
    REQUIRE(res.object.has_value());
    co_return *res.object;
  }
  Task<Fh> make_dir(Fh dir, std::string name, uint32_t mode = 0755) {
    CreateRes res = co_await mkdir(std::move(dir), name, with_mode(mode));
    REQUIRE_MESSAGE(res.status == Status::kOk, "MKDIR " << name << ": " << res.status);
    REQUIRE(res.object.has_value());
    co_return *res.object;
  }
  Task<void> put(Fh file, uint64_t offset, std::string_view text) {
    WriteRes res = co_await write(std::move(file), offset, bytes_of(text));
    REQUIRE_MESSAGE(res.status == Status::kOk, "WRITE: " << res.status);
  }

  static DirOpArgs dirop(Fh dir, std::string name) {
    DirOpArgs args;
    args.dir = std::move(dir);
    args.name = std::move(name);
    return args;
  }

 private:
  Nfs3Program& program_;
  uint32_t xid_ = 0;
};

// What a test body gets: the file system, the program over it and a client.
struct Server {
  Server(FsSession& session_, fs::FileSystem& fs_, Export exported, Nfs3Options options)
      : session(session_),
        fs(fs_),
        program(session_.env(), fs_, std::move(exported), HandleCodec(test_key()), options),
        client(program),
        root{program.root_handle()} {}

  FsSession& session;
  fs::FileSystem& fs;
  Nfs3Program program;
  Client client;
  Fh root;
};

// Runs body(Server&) with a formatted, opened datastore exported as `exported`.
template <class Body>
void with_nfs(Body body, Export exported = test_export(), Nfs3Options options = {}) {
  fs::fs_test::with_fs([&](FsSession& s) -> Task<void> {
    fs::FileSystem* fs = co_await s.open();
    Server server(s, *fs, exported, options);
    co_await body(server);
  });
}

// True when the wcc_data says exactly: before == `before` (size, mtime, ctime) and after ==
// `after`.
inline bool wcc_is(const Wcc& wcc, const Fattr& before, const Fattr& after) {
  return wcc.before.has_value() && wcc.after.has_value() && wcc.before->size == before.size &&
         wcc.before->mtime == before.mtime && wcc.before->ctime == before.ctime &&
         *wcc.after == after;
}

}  // namespace nfs3_test
}  // namespace splitarray::hostdriver::nfs::nfs3
