// hostdriver/nfs/nfs3/nfs3_change.cpp
// The procedures that change names of existing files: REMOVE, RMDIR, RENAME, LINK.
#include "common/assert.h"
#include "hostdriver/nfs/nfs3/nfs3_program.h"
#include "hostdriver/nfs/nfs3/permissions.h"

namespace splitarray::hostdriver::nfs::nfs3 {

Task<WccRes> Nfs3Program::remove(const Context& ctx, DirOpArgs args) {
  co_return co_await remove_entry(ctx, args, false);
}

Task<WccRes> Nfs3Program::rmdir(const Context& ctx, DirOpArgs args) {
  co_return co_await remove_entry(ctx, args, true);
}

Task<WccRes> Nfs3Program::remove_entry(const Context& ctx, const DirOpArgs& args, bool directory) {
  WccRes res;
  const Resolved dir = co_await resolve(args.dir);
  res.status = dir.status;
  if (!dir.ok()) co_return res;
  res.wcc = wcc_unchanged(dir.attrs);
  res.status = name_status(args.name);
  if (res.status == Status::kOk) res.status = check_dir_change(ctx.who, dir.attrs);
  if (res.status != Status::kOk) co_return res;
  if ((dir.attrs.mode & kModeSticky) && !is_dot_name(args.name)) {
    auto entry = co_await fs_.lookup(dir.attrs.inode, args.name);
    if (entry.ok()) res.status = check_sticky(ctx.who, dir.attrs, *entry);
    if (res.status != Status::kOk) co_return res;
  }
  // "." and "..": the file system answers (ISDIR for REMOVE, INVAL for RMDIR).
  Task<Result<fs::RemoveResult>> task =
      directory ? fs_.rmdir(dir.attrs.inode, args.name) : fs_.remove(dir.attrs.inode, args.name);
  auto removed = co_await std::move(task);
  if (!removed.ok()) {
    res.status = status_of(removed.error());
    res.wcc = co_await wcc_after(dir.attrs.inode);
    co_return res;
  }
  res.wcc = wcc_of(removed->dir.before, removed->dir.after);
  co_return res;
}

Task<RenameRes> Nfs3Program::rename(const Context& ctx, RenameArgs args) {
  RenameRes res;
  const Resolved from = co_await resolve(args.from.dir);
  res.status = from.status;
  if (!from.ok()) co_return res;
  const Resolved to = co_await resolve(args.to.dir);
  res.status = to.status;
  if (!to.ok()) co_return res;
  res.from = wcc_unchanged(from.attrs);
  res.to = wcc_unchanged(to.attrs);
  res.status = name_status(args.from.name);
  if (res.status == Status::kOk) res.status = name_status(args.to.name);
  if (res.status == Status::kOk && (is_dot_name(args.from.name) || is_dot_name(args.to.name))) {
    res.status = Status::kInval;  // rename(2): EINVAL / EBUSY
  }
  if (res.status == Status::kOk) res.status = check_dir_change(ctx.who, from.attrs);
  if (res.status == Status::kOk) res.status = check_dir_change(ctx.who, to.attrs);
  if (res.status != Status::kOk) co_return res;
  const bool moves = from.attrs.inode != to.attrs.inode;
  if ((from.attrs.mode & kModeSticky) || moves) {
    auto source = co_await fs_.lookup(from.attrs.inode, args.from.name);
    if (!source.ok()) {
      res.status = status_of(source.error());
      co_return res;
    }
    res.status = check_sticky(ctx.who, from.attrs, *source);
    // A directory moving to another parent changes its "..": that needs write permission on it.
    if (res.status == Status::kOk && moves && source->type == fs::FileType::kDirectory &&
        !may(ctx.who, *source, kModeWrite)) {
      res.status = Status::kAcces;
    }
    if (res.status != Status::kOk) co_return res;
  }
  if (to.attrs.mode & kModeSticky) {
    auto target = co_await fs_.lookup(to.attrs.inode, args.to.name);
    if (target.ok()) res.status = check_sticky(ctx.who, to.attrs, *target);
    if (res.status != Status::kOk) co_return res;
  }
  auto renamed =
      co_await fs_.rename(from.attrs.inode, args.from.name, to.attrs.inode, args.to.name);
  if (!renamed.ok()) {
    res.status = status_of(renamed.error());
    res.from = co_await wcc_after(from.attrs.inode);
    res.to = co_await wcc_after(to.attrs.inode);
    co_return res;
  }
  res.from = wcc_of(renamed->from.before, renamed->from.after);
  res.to = wcc_of(renamed->to.before, renamed->to.after);
  co_return res;
}

Task<LinkRes> Nfs3Program::link(const Context& ctx, LinkArgs args) {
  LinkRes res;
  const Resolved file = co_await resolve(args.file);
  res.status = file.status;
  if (!file.ok()) co_return res;
  res.attrs = fattr(file.attrs);
  const Resolved dir = co_await resolve(args.link.dir);
  res.status = dir.status;
  if (!dir.ok()) co_return res;
  res.dir = wcc_unchanged(dir.attrs);
  res.status = name_status(args.link.name);
  if (res.status == Status::kOk && is_dot_name(args.link.name)) res.status = Status::kExist;
  // link(2) of a directory is EPERM.
  if (res.status == Status::kOk && file.attrs.type == fs::FileType::kDirectory) {
    res.status = Status::kPerm;
  }
  if (res.status == Status::kOk && file.attrs.nlink >= fs::kLinksMax) res.status = Status::kMlink;
  if (res.status == Status::kOk) res.status = check_dir_change(ctx.who, dir.attrs);
  if (res.status != Status::kOk) co_return res;
  auto linked = co_await fs_.link(file.attrs.inode, dir.attrs.inode, args.link.name);
  if (!linked.ok()) {
    // Both the file and the directory came from handles: kNotFound means one went away.
    res.status = status_of(linked.error(), NotFound::kStale);
    res.attrs = co_await post_op(file.attrs.inode);
    res.dir = co_await wcc_after(dir.attrs.inode);
    co_return res;
  }
  ASSERT(linked->attrs.inode == file.attrs.inode);
  res.attrs = fattr(linked->attrs);
  res.dir = wcc_of(linked->dir.before, linked->dir.after);
  co_return res;
}

}  // namespace splitarray::hostdriver::nfs::nfs3
