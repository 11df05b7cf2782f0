// hostdriver/nfs/nfs3/nfs3_program.h
// Nfs3Program: the NFS version 3 program (RFC 1813), all 22 procedures, over one FileSystem and
// one Export. The RPC server (hostdriver/nfs) hands it decoded calls; it decodes the arguments
// (nfs3_xdr.h), checks the caller, runs the procedure on the file system and encodes the result.
//
// Every call:
//   1. Arguments that do not decode, or leave bytes over, are RPC GARBAGE_ARGS.
//   2. A peer the export does not allow gets NFS3ERR_ACCES (NULL always answers), a mutating
//      procedure on a read-only export NFS3ERR_ROFS.
//   3. Handles: one that does not decode (size, version, MAC) is NFS3ERR_BADHANDLE; one of
//      another file system (fs_id), of a removed inode or an older generation is NFS3ERR_STALE.
//   4. Permissions are checked with the export's effective credentials (permissions.h), which
//      also own what the call creates.
//
// Replies (what ESXi and Linux clients rely on):
//   - Weak cache consistency is exact: pre-op attributes are the file system's own `before`
//     (taken in the same step as the change) and post-op its `after`. When a call fails without
//     changing anything, before and after are one snapshot (true: nothing changed).
//   - WRITE honours stable_how and answers the level reached (UNSTABLE, or FILE_SYNC for
//     DATA_SYNC and FILE_SYNC: a write's metadata rides in its data record) and the file
//     system's write verifier, which COMMIT returns too.
//   - READDIR(PLUS) cookies are the file system's (stable hashes of names, "." 1, ".." 2) and the
//     cookie verifier is always zero: a cookie stays valid across changes and restarts, so no
//     verifier is needed and none is ever refused. count / maxcount / dircount are honoured
//     exactly (encoded sizes are computed, not estimated).
//
// Status mapping of file-system errors: kNotFound NOENT (STALE for a handle's inode), kExists
// EXIST, kNotDirectory NOTDIR, kIsDirectory ISDIR, kNotEmpty NOTEMPTY, kNameTooLong NAMETOOLONG,
// kFileTooLarge FBIG, kInvalidArgument INVAL ("not_sync..." NOT_SYNC), kNoSpace NOSPC,
// kIo / kCorruption / kProtocol IO, kBusy / kTimeout / kUnavailable / kCancelled JUKEBOX, and
// kStale (this host was fenced: another host took the datastore over) JUKEBOX as well: the
// client retries, and its retries succeed once the datastore's new owner serves its address.
// stats().fenced counts those refusals. A fenced host keeps answering JUKEBOX (reads included;
// fs.fenced is logged, its status record says "fenced") until an operator stops it: exiting by
// itself would let a supervisor restart it, and the restart would take the datastore back.
//
// Threading: runs on the Env's event loop, like the FileSystem.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/env.h"
#include "hostdriver/fs/file_system.h"
#include "hostdriver/nfs/exports.h"
#include "hostdriver/nfs/file_handle.h"
#include "hostdriver/nfs/nfs3/nfs3_types.h"
#include "hostdriver/nfs/rpc_program.h"

namespace splitarray::hostdriver::nfs::nfs3 {

struct Nfs3Options {
  uint32_t rtmax = fs::kReadBytesMax;  // largest READ (count is capped here)
  uint32_t rtpref = fs::kReadBytesMax;
  // Largest WRITE: data up to kWriteWireBytesMax decodes and anything above wtmax is shortened
  // (a short write); data beyond kWriteWireBytesMax is GARBAGE_ARGS (RFC 1813 allows either).
  uint32_t wtmax = kWriteWireBytesMax;
  uint32_t wtpref = kWriteWireBytesMax;
  uint32_t io_multiple = 4096;                    // rtmult and wtmult: the block size
  uint32_t dtpref = 64 * kKiB;                    // preferred READDIR count
  uint32_t readdir_bytes_max = kReaddirBytesMax;  // READDIR count / READDIRPLUS maxcount cap
};

struct Nfs3Stats {
  std::array<uint64_t, kProcCount> calls{};   // per procedure, decoded calls
  std::array<uint64_t, kProcCount> errors{};  // per procedure, replies other than NFS3_OK
  uint64_t garbage_args = 0;
  uint64_t denied_peers = 0;  // calls from peers the export does not allow
  uint64_t bad_handles = 0;
  uint64_t stale_handles = 0;
  uint64_t fenced = 0;  // file-system calls refused because another host took the datastore
  uint64_t read_bytes = 0;
  uint64_t written_bytes = 0;
};

class Nfs3Program final : public RpcProgram {
 public:
  // `fs` outlives the program. Handles are sealed with `handles`' key.
  Nfs3Program(Env& env, fs::FileSystem& fs, Export exported, HandleCodec handles,
              Nfs3Options options);
  Nfs3Program(const Nfs3Program&) = delete;
  Nfs3Program& operator=(const Nfs3Program&) = delete;

  uint32_t program() const override { return kNfsProgram; }
  uint32_t version_min() const override { return kNfsVersion; }
  uint32_t version_max() const override { return kNfsVersion; }
  Task<AcceptStat> call(const RpcCall& call, XdrEncoder& results) override;
  // Like knfsd's reply cache: every procedure that changes something is non-idempotent:
  // SETATTR, WRITE, CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR, RENAME, LINK. (A retried
  // SETATTR of the size after a later WRITE, or a retried WRITE after a later one to the same
  // range, would undo the later call.) COMMIT and the reads are idempotent.
  bool idempotent(uint32_t version, uint32_t procedure) const override;

  // The export's root directory (the MOUNT program's answer).
  std::vector<uint8_t> root_handle() const;
  const Nfs3Stats& stats() const { return stats_; }
  const Export& exported() const { return exported_; }
  const Nfs3Options& options() const { return options_; }

 private:
  struct Context {
    Credentials who;  // the export's effective credentials
  };
  // A handle resolved to its file's current attributes, or the status to answer.
  struct Resolved {
    Status status = Status::kOk;
    fs::Attributes attrs;
    bool ok() const { return status == Status::kOk; }
  };
  enum class NotFound { kNoent, kStale };  // what kNotFound means for a call
  enum class NodeKind { kFile, kDirectory, kSymlink, kSpecial };
  struct NodeSpec {  // what CREATE, MKDIR, SYMLINK and MKNOD make
    NodeKind kind = NodeKind::kFile;
    fs::CreateMode mode = fs::CreateMode::kGuarded;
    uint64_t verifier = 0;
    std::string target;
    fs::FileType type = fs::FileType::kRegular;
    uint32_t rdev_major = 0;
    uint32_t rdev_minor = 0;
  };

  template <class Args, class Res>
  Task<AcceptStat> serve(const RpcCall& call, XdrEncoder& results,
                         Task<Res> (Nfs3Program::*handler)(const Context&, Args));
  Task<AcceptStat> dispatch(const RpcCall& call, XdrEncoder& results);

  // nfs3_attrs.cpp
  Task<GetattrRes> getattr(const Context& ctx, FhArgs args);
  Task<WccRes> setattr(const Context& ctx, SetattrArgs args);
  Task<AccessRes> access(const Context& ctx, AccessArgs args);
  Task<FsstatRes> fsstat(const Context& ctx, FhArgs args);
  Task<FsinfoRes> fsinfo(const Context& ctx, FhArgs args);
  Task<PathconfRes> pathconf(const Context& ctx, FhArgs args);
  // nfs3_namespace.cpp
  Task<LookupRes> lookup(const Context& ctx, DirOpArgs args);
  Task<ReadlinkRes> readlink(const Context& ctx, FhArgs args);
  Task<CreateRes> create(const Context& ctx, CreateArgs args);
  Task<CreateRes> mkdir(const Context& ctx, MkdirArgs args);
  Task<CreateRes> symlink(const Context& ctx, SymlinkArgs args);
  Task<CreateRes> mknod(const Context& ctx, MknodArgs args);
  Task<CreateRes> make_node(const Context& ctx, const DirOpArgs& where, const Sattr& attrs,
                            NodeSpec spec);
  Task<Result<fs::CreateResult>> fs_make(uint64_t dir, const std::string& name,
                                         const NodeSpec& spec, fs::SetAttributes set);
  // nfs3_change.cpp
  Task<WccRes> remove(const Context& ctx, DirOpArgs args);
  Task<WccRes> rmdir(const Context& ctx, DirOpArgs args);
  Task<WccRes> remove_entry(const Context& ctx, const DirOpArgs& args, bool directory);
  Task<RenameRes> rename(const Context& ctx, RenameArgs args);
  Task<LinkRes> link(const Context& ctx, LinkArgs args);
  // nfs3_data.cpp
  Task<ReadRes> read(const Context& ctx, ReadArgs args);
  Task<WriteRes> write(const Context& ctx, WriteArgs args);
  Task<CommitRes> commit(const Context& ctx, CommitArgs args);
  // nfs3_dir.cpp
  Task<ReaddirRes> readdir(const Context& ctx, ReaddirArgs args);
  Task<ReaddirplusRes> readdirplus(const Context& ctx, ReaddirplusArgs args);
  template <bool kPlus>
  Task<ReaddirResOf<kPlus>> list(const Context& ctx, const Fh& dir, uint64_t cookie,
                                 uint32_t maxcount, uint32_t dircount);

  // nfs3_program.cpp: shared pieces.
  Task<Resolved> resolve(const Fh& fh);
  Task<PostOpAttr> post_op(uint64_t inode);  // the inode's attributes now, if it has any
  Task<Wcc> wcc_after(uint64_t inode);       // no pre-op, post-op now (a call that failed)
  Fattr fattr(const fs::Attributes& attrs) const;
  Fh handle_of(const fs::Attributes& attrs) const;
  Wcc wcc_of(const fs::Attributes& before, const fs::Attributes& after) const;
  Wcc wcc_unchanged(const fs::Attributes& attrs) const;  // a call that changed nothing
  Status status_of(const Error& error, NotFound not_found = NotFound::kNoent);
  // The caller's request as file-system attributes (times "now" from the Env's clock); kOk, or
  // INVAL (nseconds of a second or more), FBIG (a size beyond INT64_MAX).
  Status set_attributes_of(const Sattr& attrs, fs::SetAttributes& out) const;

  Env& env_;
  fs::FileSystem& fs_;
  const Export exported_;
  const HandleCodec handles_;
  const Nfs3Options options_;
  Logger log_;
  Nfs3Stats stats_;
};

// A name's status before the file system sees it: NAMETOOLONG over fs::kNameBytesMax; INVAL for
// an empty name or one holding '/' or NUL (no file can have it); kOk otherwise ("." and ".."
// included: each procedure decides about those).
Status name_status(const std::string& name);
bool is_dot_name(const std::string& name);

}  // namespace splitarray::hostdriver::nfs::nfs3
