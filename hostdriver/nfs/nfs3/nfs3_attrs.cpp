// hostdriver/nfs/nfs3/nfs3_attrs.cpp
// GETATTR, SETATTR, ACCESS, FSSTAT, FSINFO, PATHCONF.
#include "common/assert.h"
#include "hostdriver/nfs/nfs3/nfs3_program.h"
#include "hostdriver/nfs/nfs3/permissions.h"

namespace splitarray::hostdriver::nfs::nfs3 {
namespace {

constexpr Time kTimeDelta{0, 1};  // the file system keeps nanoseconds
constexpr uint32_t kFsProperties = kFsfLink | kFsfSymlink | kFsfHomogeneous | kFsfCanSetTime;

AttrChange change_of(const Sattr& attrs) {
  AttrChange change;
  change.mode = attrs.mode.has_value();
  change.uid = attrs.uid;
  change.gid = attrs.gid;
  change.size = attrs.size.has_value();
  change.times_now =
      attrs.atime_how == TimeHow::kServerTime || attrs.mtime_how == TimeHow::kServerTime;
  change.times_explicit =
      attrs.atime_how == TimeHow::kClientTime || attrs.mtime_how == TimeHow::kClientTime;
  return change;
}

}  // namespace

Task<GetattrRes> Nfs3Program::getattr(const Context& /*ctx*/, FhArgs args) {
  GetattrRes res;
  const Resolved object = co_await resolve(args.object);
  res.status = object.status;
  if (object.ok()) res.attrs = fattr(object.attrs);
  co_return res;
}

Task<WccRes> Nfs3Program::setattr(const Context& ctx, SetattrArgs args) {
  WccRes res;
  const Resolved object = co_await resolve(args.object);
  if (!object.ok()) {
    res.status = object.status;
    co_return res;
  }
  const fs::Attributes& file = object.attrs;
  res.wcc = wcc_unchanged(file);
  fs::SetAttributes set;
  res.status = set_attributes_of(args.attrs, set);
  if (res.status != Status::kOk) co_return res;
  std::optional<WallTime> guard;
  if (args.guard_ctime) {
    if (args.guard_ctime->nseconds >= kNanosPerSecond) {
      res.status = Status::kInval;
      co_return res;
    }
    guard = wall_time_of(*args.guard_ctime);
  }
  res.status = check_setattr(ctx.who, file, change_of(args.attrs));
  if (res.status != Status::kOk) co_return res;
  if (set.mode) set.mode = allowed_mode(ctx.who, set.gid.value_or(file.gid), *set.mode);
  auto changed = co_await fs_.setattr(file.inode, set, guard);
  if (!changed.ok()) {
    res.status = status_of(changed.error(), NotFound::kStale);
    res.wcc = co_await wcc_after(file.inode);
    co_return res;
  }
  res.wcc = wcc_of(changed->before, changed->after);
  co_return res;
}

Task<AccessRes> Nfs3Program::access(const Context& ctx, AccessArgs args) {
  AccessRes res;
  const Resolved object = co_await resolve(args.object);
  res.status = object.status;
  if (!object.ok()) co_return res;
  res.attrs = fattr(object.attrs);
  res.access = access_granted(ctx.who, object.attrs, args.access & kAccessAll, exported_.read_only);
  co_return res;
}

Task<FsstatRes> Nfs3Program::fsstat(const Context& /*ctx*/, FhArgs args) {
  FsstatRes res;
  const Resolved object = co_await resolve(args.object);
  res.status = object.status;
  if (!object.ok()) co_return res;
  res.attrs = fattr(object.attrs);
  auto stat = co_await fs_.fsstat();
  if (!stat.ok()) {
    res.status = status_of(stat.error());
    co_return res;
  }
  res.total_bytes = stat->total_bytes;
  res.free_bytes = stat->free_bytes;
  res.avail_bytes = stat->free_bytes;  // no reservation for root
  res.total_files = stat->total_files;
  res.free_files = stat->free_files;
  res.avail_files = stat->free_files;
  res.invarsec = 0;  // the figures change at any time
  co_return res;
}

Task<FsinfoRes> Nfs3Program::fsinfo(const Context& /*ctx*/, FhArgs args) {
  FsinfoRes res;
  const Resolved object = co_await resolve(args.object);
  res.status = object.status;
  if (!object.ok()) co_return res;
  res.attrs = fattr(object.attrs);
  res.rtmax = options_.rtmax;
  res.rtpref = options_.rtpref;
  res.rtmult = options_.io_multiple;
  res.wtmax = options_.wtmax;
  res.wtpref = options_.wtpref;
  res.wtmult = options_.io_multiple;
  res.dtpref = options_.dtpref;
  res.maxfilesize = fs::kFileBytesMax;
  res.time_delta = kTimeDelta;
  res.properties = kFsProperties;
  co_return res;
}

Task<PathconfRes> Nfs3Program::pathconf(const Context& /*ctx*/, FhArgs args) {
  PathconfRes res;
  const Resolved object = co_await resolve(args.object);
  res.status = object.status;
  if (!object.ok()) co_return res;
  res.attrs = fattr(object.attrs);
  res.linkmax = fs::kLinksMax;
  res.name_max = static_cast<uint32_t>(fs::kNameBytesMax);
  res.no_trunc = true;  // a longer name is NAMETOOLONG, never cut
  res.chown_restricted = true;
  res.case_insensitive = false;
  res.case_preserving = true;
  co_return res;
}

}  // namespace splitarray::hostdriver::nfs::nfs3
