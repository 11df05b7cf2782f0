// hostdriver/nfs/nfs3/nfs3_namespace.cpp
// LOOKUP, READLINK and the procedures that make names: CREATE, MKDIR, SYMLINK, MKNOD.
#include "common/assert.h"
#include "hostdriver/nfs/nfs3/nfs3_program.h"
#include "hostdriver/nfs/nfs3/permissions.h"

namespace splitarray::hostdriver::nfs::nfs3 {
namespace {

constexpr uint32_t kDirModeDefault = 0755;  // what the file system gives a mkdir without a mode

// The owner and group of a new object: the caller's unless given, the directory's group in a
// setgid directory. A non-root caller may give only itself and its own groups.
Status owner_of(const Credentials& who, const fs::Attributes& dir, fs::SetAttributes& set) {
  const bool setgid_dir = (dir.mode & kModeSetgid) != 0;
  if (!who.is_root()) {
    if (set.uid && *set.uid != who.uid) return Status::kPerm;
    if (set.gid && !in_group(who, *set.gid) && !(setgid_dir && *set.gid == dir.gid)) {
      return Status::kPerm;
    }
  }
  if (!set.uid) set.uid = who.uid;
  if (!set.gid) set.gid = setgid_dir ? dir.gid : who.gid;
  return Status::kOk;
}

std::optional<fs::FileType> special_type_of(Ftype type) {
  switch (type) {
    case Ftype::kChr:
      return fs::FileType::kCharDevice;
    case Ftype::kBlk:
      return fs::FileType::kBlockDevice;
    case Ftype::kSock:
      return fs::FileType::kSocket;
    case Ftype::kFifo:
      return fs::FileType::kFifo;
    default:
      return std::nullopt;  // MKNOD does not make files, directories or symlinks
  }
}

}  // namespace

Task<LookupRes> Nfs3Program::lookup(const Context& ctx, DirOpArgs args) {
  LookupRes res;
  const Resolved dir = co_await resolve(args.dir);
  res.status = dir.status;
  if (!dir.ok()) co_return res;
  res.dir = fattr(dir.attrs);
  res.status = name_status(args.name);
  if (res.status != Status::kOk) co_return res;
  res.status = check_lookup(ctx.who, dir.attrs);
  if (res.status != Status::kOk) co_return res;
  auto found = co_await fs_.lookup(dir.attrs.inode, args.name);
  if (!found.ok()) {
    res.status = status_of(found.error());
    co_return res;
  }
  res.object = handle_of(*found);
  res.attrs = fattr(*found);
  co_return res;
}

Task<ReadlinkRes> Nfs3Program::readlink(const Context& /*ctx*/, FhArgs args) {
  ReadlinkRes res;
  const Resolved link = co_await resolve(args.object);
  res.status = link.status;
  if (!link.ok()) co_return res;
  res.attrs = fattr(link.attrs);
  if (link.attrs.type != fs::FileType::kSymlink) {
    res.status = Status::kInval;
    co_return res;
  }
  auto target = co_await fs_.readlink(link.attrs.inode);
  if (!target.ok()) {
    res.status = status_of(target.error(), NotFound::kStale);
    co_return res;
  }
  res.target = std::move(target).value();
  ASSERT(res.target.size() <= fs::kSymlinkBytesMax);
  co_return res;
}

Task<CreateRes> Nfs3Program::create(const Context& ctx, CreateArgs args) {
  NodeSpec spec;
  spec.kind = NodeKind::kFile;
  switch (args.how) {
    case CreateHow::kUnchecked:
      spec.mode = fs::CreateMode::kUnchecked;
      break;
    case CreateHow::kGuarded:
      spec.mode = fs::CreateMode::kGuarded;
      break;
    case CreateHow::kExclusive:
      spec.mode = fs::CreateMode::kExclusive;
      spec.verifier = value_of(args.verf);
      break;
  }
  co_return co_await make_node(ctx, args.where, args.attrs, std::move(spec));
}

Task<CreateRes> Nfs3Program::mkdir(const Context& ctx, MkdirArgs args) {
  NodeSpec spec;
  spec.kind = NodeKind::kDirectory;
  co_return co_await make_node(ctx, args.where, args.attrs, std::move(spec));
}

Task<CreateRes> Nfs3Program::symlink(const Context& ctx, SymlinkArgs args) {
  NodeSpec spec;
  spec.kind = NodeKind::kSymlink;
  spec.target = std::move(args.target);
  co_return co_await make_node(ctx, args.where, args.attrs, std::move(spec));
}

Task<CreateRes> Nfs3Program::mknod(const Context& ctx, MknodArgs args) {
  const std::optional<fs::FileType> type = special_type_of(args.type);
  if (!type) {
    CreateRes res;
    const Resolved dir = co_await resolve(args.where.dir);
    res.status = dir.ok() ? Status::kBadtype : dir.status;
    if (dir.ok()) res.dir = wcc_unchanged(dir.attrs);
    co_return res;
  }
  NodeSpec spec;
  spec.kind = NodeKind::kSpecial;
  spec.type = *type;
  spec.rdev_major = args.rdev_major;
  spec.rdev_minor = args.rdev_minor;
  co_return co_await make_node(ctx, args.where, args.attrs, std::move(spec));
}

Task<CreateRes> Nfs3Program::make_node(const Context& ctx, const DirOpArgs& where,
                                       const Sattr& attrs, NodeSpec spec) {
  CreateRes res;
  const Resolved dir = co_await resolve(where.dir);
  res.status = dir.status;
  if (!dir.ok()) co_return res;
  res.dir = wcc_unchanged(dir.attrs);
  res.status = name_status(where.name);
  if (res.status == Status::kOk && is_dot_name(where.name)) res.status = Status::kExist;
  if (res.status == Status::kOk) res.status = check_dir_change(ctx.who, dir.attrs);
  fs::SetAttributes set;
  if (res.status == Status::kOk) res.status = set_attributes_of(attrs, set);
  if (res.status == Status::kOk) res.status = owner_of(ctx.who, dir.attrs, set);
  if (res.status == Status::kOk && spec.kind == NodeKind::kSymlink &&
      spec.target.size() > fs::kSymlinkBytesMax) {
    res.status = Status::kNametoolong;
  }
  const bool device =
      spec.type == fs::FileType::kCharDevice || spec.type == fs::FileType::kBlockDevice;
  if (res.status == Status::kOk && spec.kind == NodeKind::kSpecial && device &&
      !ctx.who.is_root()) {
    res.status = Status::kPerm;  // like mknod(2) without CAP_MKNOD
  }
  if (res.status != Status::kOk) co_return res;
  if (set.mode) set.mode = allowed_mode(ctx.who, *set.gid, *set.mode);
  if (spec.kind == NodeKind::kDirectory && (dir.attrs.mode & kModeSetgid)) {
    set.mode = set.mode.value_or(kDirModeDefault) | kModeSetgid;  // setgid is inherited
  }
  if (spec.kind == NodeKind::kFile && spec.mode == fs::CreateMode::kUnchecked && set.size) {
    // An unchecked create of an existing file truncates it: that needs write permission.
    auto existing = co_await fs_.lookup(dir.attrs.inode, where.name);
    if (existing.ok() && existing->type == fs::FileType::kRegular) {
      res.status = check_write(ctx.who, *existing);
      if (res.status != Status::kOk) co_return res;
    }
  }
  auto made = co_await fs_make(dir.attrs.inode, where.name, spec, set);
  if (!made.ok()) {
    // Only the directory has to exist for these: kNotFound means it went away.
    res.status = status_of(made.error(), NotFound::kStale);
    res.dir = co_await wcc_after(dir.attrs.inode);
    co_return res;
  }
  res.object = handle_of(made->attrs);
  res.attrs = fattr(made->attrs);
  res.dir = wcc_of(made->dir.before, made->dir.after);
  co_return res;
}

Task<Result<fs::CreateResult>> Nfs3Program::fs_make(uint64_t dir, const std::string& name,
                                                    const NodeSpec& spec, fs::SetAttributes set) {
  switch (spec.kind) {
    case NodeKind::kFile:
      co_return co_await fs_.create(dir, name, spec.mode, set, spec.verifier);
    case NodeKind::kDirectory:
      co_return co_await fs_.mkdir(dir, name, set);
    case NodeKind::kSymlink:
      co_return co_await fs_.symlink(dir, name, spec.target, set);
    case NodeKind::kSpecial:
      co_return co_await fs_.mknod(dir, name, spec.type, set, spec.rdev_major, spec.rdev_minor);
  }
  UNREACHABLE("a node kind fs_make does not make");
}

}  // namespace splitarray::hostdriver::nfs::nfs3
