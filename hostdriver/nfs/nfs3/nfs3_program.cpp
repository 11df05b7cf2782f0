// hostdriver/nfs/nfs3/nfs3_program.cpp
// Nfs3Program: dispatch, the checks every call makes, and the pieces the procedures share
// (handles, attributes, weak cache consistency, status mapping). The procedures themselves are
// in nfs3_attrs.cpp, nfs3_namespace.cpp, nfs3_change.cpp, nfs3_data.cpp and nfs3_dir.cpp.
#include "hostdriver/nfs/nfs3/nfs3_program.h"

#include "common/assert.h"
#include "hostdriver/nfs/nfs3/nfs3_xdr.h"

namespace splitarray::hostdriver::nfs::nfs3 {
namespace {

// fs_open.cpp formats the root directory with generation 1 (inode numbers are never reused, so
// the root keeps it for ever). A test resolves root_handle() to guard this.
constexpr uint64_t kRootGeneration = 1;

bool mutating(Proc proc) {
  switch (proc) {
    case Proc::kSetattr:
    case Proc::kWrite:
    case Proc::kCreate:
    case Proc::kMkdir:
    case Proc::kSymlink:
    case Proc::kMknod:
    case Proc::kRemove:
    case Proc::kRmdir:
    case Proc::kRename:
    case Proc::kLink:
    case Proc::kCommit:
      return true;
    default:
      return false;
  }
}

}  // namespace

Status name_status(const std::string& name) {
  if (name.size() > fs::kNameBytesMax) return Status::kNametoolong;
  if (name.empty()) return Status::kInval;
  if (name.find('/') != std::string::npos) return Status::kInval;
  if (name.find('\0') != std::string::npos) return Status::kInval;
  return Status::kOk;
}

bool is_dot_name(const std::string& name) { return name == "." || name == ".."; }

Nfs3Program::Nfs3Program(Env& env, fs::FileSystem& fs, Export exported, HandleCodec handles,
                         Nfs3Options options)
    : env_(env),
      fs_(fs),
      exported_(std::move(exported)),
      handles_(std::move(handles)),
      options_(options),
      log_(env.log.child("nfs3")) {
  ASSERT(options_.rtmax > 0 && options_.rtmax <= fs::kReadBytesMax);
  ASSERT(options_.wtmax > 0 && options_.wtmax <= kWriteWireBytesMax);
  ASSERT(options_.rtpref <= options_.rtmax);
  ASSERT(options_.wtpref <= options_.wtmax);
  ASSERT(options_.readdir_bytes_max >= readdir_fixed_bytes(true));
  ASSERT(options_.readdir_bytes_max <= kReaddirBytesMax);
}

bool Nfs3Program::idempotent(uint32_t version, uint32_t procedure) const {
  ASSERT(version == kNfsVersion);
  if (procedure >= kProcCount) return true;  // answered PROC_UNAVAIL, nothing to repeat
  const auto proc = static_cast<Proc>(procedure);
  return !mutating(proc) || proc == Proc::kCommit;
}

std::vector<uint8_t> Nfs3Program::root_handle() const {
  return handles_.encode(
      FileHandle{.fs_id = fs_.fs_id(), .inode = fs::kRootInode, .generation = kRootGeneration});
}

Task<AcceptStat> Nfs3Program::call(const RpcCall& call, XdrEncoder& results) {
  ASSERT(call.program == kNfsProgram);
  if (call.version != kNfsVersion) co_return AcceptStat::kProgMismatch;
  if (call.procedure >= kProcCount) co_return AcceptStat::kProcUnavail;
  co_return co_await dispatch(call, results);
}

template <class Args, class Res>
Task<AcceptStat> Nfs3Program::serve(const RpcCall& call, XdrEncoder& results,
                                    Task<Res> (Nfs3Program::*handler)(const Context&, Args)) {
  const auto proc = static_cast<Proc>(call.procedure);
  Args args;
  if (!decode_args(call.args, args)) {
    ++stats_.garbage_args;
    co_return AcceptStat::kGarbageArgs;
  }
  ++stats_.calls[call.procedure];
  Res res;
  if (!exported_.allows(call.peer)) {
    ++stats_.denied_peers;
    res.status = Status::kAcces;
  } else if (exported_.read_only && mutating(proc)) {
    res.status = Status::kRofs;
  } else {
    const Context ctx{exported_.effective(call.credentials)};
    Task<Res> task = (this->*handler)(ctx, std::move(args));
    res = co_await std::move(task);
  }
  if (res.status != Status::kOk) ++stats_.errors[call.procedure];
  const size_t start = results.size();
  encode_res(results, res);
  ASSERT(results.size() > start);
  co_return AcceptStat::kSuccess;
}

Task<AcceptStat> Nfs3Program::dispatch(const RpcCall& call, XdrEncoder& results) {
  switch (static_cast<Proc>(call.procedure)) {
    case Proc::kNull:
      if (!call.args.empty()) {
        ++stats_.garbage_args;
        co_return AcceptStat::kGarbageArgs;
      }
      ++stats_.calls[call.procedure];
      co_return AcceptStat::kSuccess;
    case Proc::kGetattr:
      co_return co_await serve(call, results, &Nfs3Program::getattr);
    case Proc::kSetattr:
      co_return co_await serve(call, results, &Nfs3Program::setattr);
    case Proc::kLookup:
      co_return co_await serve(call, results, &Nfs3Program::lookup);
    case Proc::kAccess:
      co_return co_await serve(call, results, &Nfs3Program::access);
    case Proc::kReadlink:
      co_return co_await serve(call, results, &Nfs3Program::readlink);
    case Proc::kRead:
      co_return co_await serve(call, results, &Nfs3Program::read);
    case Proc::kWrite:
      co_return co_await serve(call, results, &Nfs3Program::write);
    case Proc::kCreate:
      co_return co_await serve(call, results, &Nfs3Program::create);
    case Proc::kMkdir:
      co_return co_await serve(call, results, &Nfs3Program::mkdir);
    case Proc::kSymlink:
      co_return co_await serve(call, results, &Nfs3Program::symlink);
    case Proc::kMknod:
      co_return co_await serve(call, results, &Nfs3Program::mknod);
    case Proc::kRemove:
      co_return co_await serve(call, results, &Nfs3Program::remove);
    case Proc::kRmdir:
      co_return co_await serve(call, results, &Nfs3Program::rmdir);
    case Proc::kRename:
      co_return co_await serve(call, results, &Nfs3Program::rename);
    case Proc::kLink:
      co_return co_await serve(call, results, &Nfs3Program::link);
    case Proc::kReaddir:
      co_return co_await serve(call, results, &Nfs3Program::readdir);
    case Proc::kReaddirplus:
      co_return co_await serve(call, results, &Nfs3Program::readdirplus);
    case Proc::kFsstat:
      co_return co_await serve(call, results, &Nfs3Program::fsstat);
    case Proc::kFsinfo:
      co_return co_await serve(call, results, &Nfs3Program::fsinfo);
    case Proc::kPathconf:
      co_return co_await serve(call, results, &Nfs3Program::pathconf);
    case Proc::kCommit:
      co_return co_await serve(call, results, &Nfs3Program::commit);
  }
  UNREACHABLE("a procedure number call() did not check");
}

// --- Shared pieces -----------------------------------------------------------------------------

Task<Nfs3Program::Resolved> Nfs3Program::resolve(const Fh& fh) {
  Resolved out;
  auto handle = handles_.decode(fh.bytes);
  if (!handle.ok()) {
    ++stats_.bad_handles;
    out.status = Status::kBadhandle;
    co_return out;
  }
  // Authentic (our key) but naming another datastore: not a file here.
  if (handle->fs_id != fs_.fs_id()) {
    ++stats_.stale_handles;
    out.status = Status::kStale;
    co_return out;
  }
  auto attrs = co_await fs_.getattr(handle->inode);
  if (!attrs.ok()) {
    out.status = status_of(attrs.error(), NotFound::kStale);
    if (out.status == Status::kStale) ++stats_.stale_handles;
    co_return out;
  }
  // A reused slot is impossible (inode numbers are never reused), but an unlinked file not yet
  // reaped, or a handle from before a generation change, names nothing a client may use.
  if (attrs->generation != handle->generation || attrs->nlink == 0) {
    ++stats_.stale_handles;
    out.status = Status::kStale;
    co_return out;
  }
  out.attrs = *attrs;
  ASSERT(out.attrs.inode == handle->inode);
  co_return out;
}

Task<PostOpAttr> Nfs3Program::post_op(uint64_t inode) {
  auto attrs = co_await fs_.getattr(inode);
  if (!attrs.ok()) co_return std::nullopt;
  co_return fattr(*attrs);
}

Task<Wcc> Nfs3Program::wcc_after(uint64_t inode) {
  Wcc wcc;
  wcc.after = co_await post_op(inode);
  co_return wcc;
}

Fattr Nfs3Program::fattr(const fs::Attributes& attrs) const { return fattr_of(attrs, fs_.fs_id()); }

Fh Nfs3Program::handle_of(const fs::Attributes& attrs) const {
  ASSERT(attrs.inode != 0);
  Fh fh{handles_.encode(
      FileHandle{.fs_id = fs_.fs_id(), .inode = attrs.inode, .generation = attrs.generation})};
  ASSERT(fh.bytes.size() <= kFhBytesMax);
  return fh;
}

Wcc Nfs3Program::wcc_of(const fs::Attributes& before, const fs::Attributes& after) const {
  ASSERT(before.inode == after.inode);
  return Wcc{.before = wcc_attr_of(before), .after = fattr(after)};
}

Wcc Nfs3Program::wcc_unchanged(const fs::Attributes& attrs) const { return wcc_of(attrs, attrs); }

Status Nfs3Program::status_of(const Error& error, NotFound not_found) {
  switch (error.code) {
    case Code::kNotFound:
      return not_found == NotFound::kStale ? Status::kStale : Status::kNoent;
    case Code::kExists:
      return Status::kExist;
    case Code::kNotDirectory:
      return Status::kNotdir;
    case Code::kIsDirectory:
      return Status::kIsdir;
    case Code::kNotEmpty:
      return Status::kNotempty;
    case Code::kNameTooLong:
      return Status::kNametoolong;
    case Code::kFileTooLarge:
      return Status::kFbig;
    case Code::kInvalidArgument:
      // FileSystem::setattr's guard check (file_system.h).
      return error.message.starts_with("not_sync") ? Status::kNotSync : Status::kInval;
    case Code::kNoSpace:
      return Status::kNospc;
    case Code::kStale:
      ++stats_.fenced;
      return Status::kJukebox;
    case Code::kBusy:
    case Code::kTimeout:
    case Code::kUnavailable:
    case Code::kCancelled:
      return Status::kJukebox;
    case Code::kIo:
    case Code::kCorruption:
    case Code::kProtocol:
      log_.warn("nfs3.io_error", {{"error", error.to_string()}});
      return Status::kIo;
  }
  UNREACHABLE("an error code without an nfsstat3");
}

Status Nfs3Program::set_attributes_of(const Sattr& attrs, fs::SetAttributes& out) const {
  if (attrs.mode) out.mode = *attrs.mode & 07777;
  if (attrs.uid) out.uid = *attrs.uid;
  if (attrs.gid) out.gid = *attrs.gid;
  if (attrs.size) {
    if (!fits_int64(*attrs.size)) return Status::kFbig;
    out.size = *attrs.size;
  }
  const WallTime now = env_.clock.wall_now();
  if (attrs.atime_how == TimeHow::kServerTime) out.atime = now;
  if (attrs.mtime_how == TimeHow::kServerTime) out.mtime = now;
  if (attrs.atime_how == TimeHow::kClientTime) {
    if (attrs.atime.nseconds >= kNanosPerSecond) return Status::kInval;
    out.atime = wall_time_of(attrs.atime);
  }
  if (attrs.mtime_how == TimeHow::kClientTime) {
    if (attrs.mtime.nseconds >= kNanosPerSecond) return Status::kInval;
    out.mtime = wall_time_of(attrs.mtime);
  }
  return Status::kOk;
}

}  // namespace splitarray::hostdriver::nfs::nfs3
