// tests/e2e/nfs/nfs_raw_client.h
// Synchronous NFS v3 and MOUNT v3 clients over libnfs 4.0's raw RPC API, for the conformance
// suite: every procedure is called with exact arguments and every result field can be inspected.
//
// Each call queues one libnfs async RPC (rpc_nfs3_*_async, rpc_mount3_*_async) and services the
// socket (poll + rpc_service) until its callback fires or kCallTimeout passes. Results are deep
// copied out of libnfs's buffers inside the callback (libnfs frees them when it returns).
// A call that times out or loses its connection leaves the connection broken: later calls fail
// at once (a test reconnects with a new client, as a real client would).
// Threading: one thread per client (a libnfs rpc_context is not thread-safe).
#pragma once

// libnfs.h first: it defines EXTERN, which the raw headers use.
#include <nfsc/libnfs.h>
// (separate blocks keep clang-format from sorting them)
#include <nfsc/libnfs-raw-nfs.h>
#include <nfsc/libnfs-raw.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace splitarray::e2e::nfs {

using Fh = std::vector<uint8_t>;
using Verf = std::array<uint8_t, 8>;

inline constexpr auto kCallTimeout = std::chrono::seconds(30);
inline constexpr int kNfsProgram = 100003;
inline constexpr int kMountProgram = 100005;
// mountstat3 values (libnfs-raw-mount.h is kept out of this header: its `name` typedef would
// shadow every variable called name).
inline constexpr int kMnt3Ok = 0;
inline constexpr int kMnt3ErrNoent = 2;
inline constexpr int kMnt3ErrAcces = 13;
inline constexpr int kMnt3ErrNametoolong = 63;

enum class RpcOutcome {
  kReplied,   // an accepted reply with results (the procedure's status says the rest)
  kFailed,    // an RPC-level error (PROG_MISMATCH, GARBAGE_ARGS, ...) or the connection failed
  kTimedOut,  // no reply within kCallTimeout
};

// What every call returns: the RPC outcome and the procedure's status (nfsstat3 or mountstat3).
struct Reply {
  RpcOutcome rpc = RpcOutcome::kFailed;
  std::string rpc_error;
  int status = -1;  // -1: no reply
  bool ok() const { return rpc == RpcOutcome::kReplied && status == 0; }
};

struct Wcc {
  std::optional<wcc_attr> before;
  std::optional<fattr3> after;
};

struct GetattrRes : Reply {
  fattr3 attrs{};
};
struct WccRes : Reply {  // SETATTR, REMOVE, RMDIR
  Wcc wcc;
};
struct LookupRes : Reply {
  Fh fh;
  std::optional<fattr3> obj;
  std::optional<fattr3> dir;
};
struct AccessRes : Reply {
  std::optional<fattr3> obj;
  uint32_t access = 0;
};
struct ReadlinkRes : Reply {
  std::optional<fattr3> attrs;
  std::string target;
};
struct ReadRes : Reply {
  std::optional<fattr3> attrs;
  uint32_t count = 0;
  bool eof = false;
  std::vector<uint8_t> data;
};
struct WriteRes : Reply {
  Wcc wcc;
  uint32_t count = 0;
  stable_how committed = UNSTABLE;
  Verf verf{};
};
struct CommitRes : Reply {
  Wcc wcc;
  Verf verf{};
};
struct CreateRes : Reply {  // CREATE, MKDIR, SYMLINK, MKNOD
  std::optional<Fh> fh;
  std::optional<fattr3> attrs;
  Wcc dir_wcc;
};
struct RenameRes : Reply {
  Wcc from_wcc;
  Wcc to_wcc;
};
struct LinkRes : Reply {
  std::optional<fattr3> attrs;
  Wcc dir_wcc;
};
struct DirEntry {
  uint64_t fileid = 0;
  std::string name;
  uint64_t cookie = 0;
  std::optional<fattr3> attrs;  // READDIRPLUS only
  std::optional<Fh> fh;         // READDIRPLUS only
};
struct ReaddirRes : Reply {  // READDIR, READDIRPLUS
  std::optional<fattr3> dir_attrs;
  Verf cookieverf{};
  std::vector<DirEntry> entries;
  bool eof = false;
};
struct FsstatRes : Reply {
  FSSTAT3resok res{};
};
struct FsinfoRes : Reply {
  FSINFO3resok res{};
};
struct PathconfRes : Reply {
  PATHCONF3resok res{};
};

struct MntRes : Reply {
  Fh root;
  std::vector<int> flavors;
};
struct ExportEntry {
  std::string dir;
  std::vector<std::string> groups;
};
struct ExportRes : Reply {
  std::vector<ExportEntry> exports;
};
struct MountEntry {
  std::string host;
  std::string dir;
};
struct DumpRes : Reply {
  std::vector<MountEntry> mounts;
};

// sattr3 without the unions: what to set.
struct Sattr {
  std::optional<uint32_t> mode{};
  std::optional<uint32_t> uid{};
  std::optional<uint32_t> gid{};
  std::optional<uint64_t> size{};
  time_how atime = DONT_CHANGE;
  nfstime3 atime_value{};  // SET_TO_CLIENT_TIME
  time_how mtime = DONT_CHANGE;
  nfstime3 mtime_value{};
  sattr3 wire() const;
};

// One TCP connection to one RPC program, driven synchronously.
class RpcConnection final {
 public:
  // nullptr (and `error`) when no connection is made within kCallTimeout.
  static std::unique_ptr<RpcConnection> connect(uint16_t port, int program, int version,
                                                std::string* error);
  ~RpcConnection();
  RpcConnection(const RpcConnection&) = delete;
  RpcConnection& operator=(const RpcConnection&) = delete;

  // AUTH_SYS credentials for the calls that follow (supplementary `groups`, at most 16).
  void set_credentials(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups = {});
  // AUTH_NONE for the calls that follow.
  void set_auth_none();
  // The xid of the next call (libnfs counts up from there).
  void set_next_xid(uint32_t xid);
  bool broken() const { return broken_; }
  rpc_context* context() { return rpc_; }

  // Queues one call with `queue(callback, private_data)` (a libnfs *_async function; nonzero
  // means it could not be queued) and services the socket until it completes. On success
  // `copy(data)` runs inside the callback with libnfs's decoded result.
  void call(Reply& reply, const std::function<int(rpc_cb, void*)>& queue,
            std::function<void(void*)> copy);
  // NULL of any program and version (for PROG_MISMATCH / PROG_UNAVAIL checks).
  Reply null_of(int program, int version);

 private:
  struct Pending;
  explicit RpcConnection(rpc_context* rpc);
  static void on_reply(rpc_context* rpc, int status, void* data, void* private_data);
  RpcOutcome wait(const Pending& pending);

  rpc_context* rpc_;
  bool broken_ = false;
  // Calls queued but maybe not completed: libnfs may call back into them until the context is
  // destroyed, so they live as long as the connection.
  std::vector<std::unique_ptr<Pending>> pending_;
};

class NfsClient final {
 public:
  static std::unique_ptr<NfsClient> connect(uint16_t nfs_port, std::string* error);
  RpcConnection& rpc() { return *rpc_; }

  Reply null();
  GetattrRes getattr(const Fh& fh);
  WccRes setattr(const Fh& fh, const Sattr& attrs, std::optional<nfstime3> guard_ctime = {});
  LookupRes lookup(const Fh& dir, const std::string& name);
  AccessRes access(const Fh& fh, uint32_t access);
  ReadlinkRes readlink(const Fh& fh);
  ReadRes read(const Fh& fh, uint64_t offset, uint32_t count);
  // `count` other than data.size() makes a malformed call (the server must refuse it).
  WriteRes write(const Fh& fh, uint64_t offset, std::span<const uint8_t> data, stable_how stable,
                 std::optional<uint32_t> count = {});
  CreateRes create(const Fh& dir, const std::string& name, createmode3 mode,
                   const Sattr& attrs = {}, Verf verf = {});
  CreateRes mkdir(const Fh& dir, const std::string& name, const Sattr& attrs = {});
  CreateRes symlink(const Fh& dir, const std::string& name, const std::string& target,
                    const Sattr& attrs = {});
  CreateRes mknod(const Fh& dir, const std::string& name, ftype3 type, const Sattr& attrs = {},
                  specdata3 spec = {});
  WccRes remove(const Fh& dir, const std::string& name);
  WccRes rmdir(const Fh& dir, const std::string& name);
  RenameRes rename(const Fh& from_dir, const std::string& from_name, const Fh& to_dir,
                   const std::string& to_name);
  LinkRes link(const Fh& file, const Fh& dir, const std::string& name);
  ReaddirRes readdir(const Fh& dir, uint64_t cookie, Verf verf, uint32_t count);
  ReaddirRes readdirplus(const Fh& dir, uint64_t cookie, Verf verf, uint32_t dircount,
                         uint32_t maxcount);
  FsstatRes fsstat(const Fh& fh);
  FsinfoRes fsinfo(const Fh& fh);
  PathconfRes pathconf(const Fh& fh);
  CommitRes commit(const Fh& fh, uint64_t offset, uint32_t count);

 private:
  explicit NfsClient(std::unique_ptr<RpcConnection> rpc) : rpc_(std::move(rpc)) {}
  std::unique_ptr<RpcConnection> rpc_;
};

class MountClient final {
 public:
  static std::unique_ptr<MountClient> connect(uint16_t mount_port, std::string* error);
  RpcConnection& rpc() { return *rpc_; }

  Reply null();
  MntRes mnt(const std::string& path);
  DumpRes dump();
  Reply umnt(const std::string& path);
  ExportRes exports();

 private:
  explicit MountClient(std::unique_ptr<RpcConnection> rpc) : rpc_(std::move(rpc)) {}
  std::unique_ptr<RpcConnection> rpc_;
};

// "NFS3ERR_NOENT(2)"; "no reply" for -1.
std::string status_name(int status);
std::string describe(const fattr3& attrs);
std::string describe(const Reply& reply);  // status, or the RPC error
bool same_attrs(const fattr3& a, const fattr3& b);
bool same_time(const nfstime3& a, const nfstime3& b);
bool time_before(const nfstime3& a, const nfstime3& b);  // a < b

}  // namespace splitarray::e2e::nfs
