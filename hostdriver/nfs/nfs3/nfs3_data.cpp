// hostdriver/nfs/nfs3/nfs3_data.cpp
// READ, WRITE, COMMIT.
#include <algorithm>

#include "common/assert.h"
#include "hostdriver/nfs/nfs3/nfs3_program.h"
#include "hostdriver/nfs/nfs3/permissions.h"

namespace splitarray::hostdriver::nfs::nfs3 {
namespace {

// READ, WRITE and COMMIT work on regular files.
Status regular_status(const fs::Attributes& file) {
  if (file.type == fs::FileType::kDirectory) return Status::kIsdir;
  if (file.type != fs::FileType::kRegular) return Status::kInval;
  return Status::kOk;
}

fs::Stability stability_of(StableHow how) {
  switch (how) {
    case StableHow::kUnstable:
      return fs::Stability::kUnstable;
    case StableHow::kDataSync:
      return fs::Stability::kDataSync;
    case StableHow::kFileSync:
      return fs::Stability::kFileSync;
  }
  UNREACHABLE("a stable_how the decoder let through");
}

// What a write reached: unstable stays unstable; a data-sync write is file-sync here, because a
// write's metadata (size, mtime) rides in the same NVRAM record as its data.
StableHow committed_of(StableHow asked) {
  return asked == StableHow::kUnstable ? StableHow::kUnstable : StableHow::kFileSync;
}

}  // namespace

Task<ReadRes> Nfs3Program::read(const Context& ctx, ReadArgs args) {
  ReadRes res;
  const Resolved file = co_await resolve(args.file);
  res.status = file.status;
  if (!file.ok()) co_return res;
  res.attrs = fattr(file.attrs);
  res.status = regular_status(file.attrs);
  if (res.status == Status::kOk) res.status = check_read(ctx.who, file.attrs);
  if (res.status == Status::kOk && !fits_int64(args.offset)) res.status = Status::kInval;
  if (res.status != Status::kOk) co_return res;
  const uint32_t count = std::min(args.count, options_.rtmax);
  auto got = co_await fs_.read(file.attrs.inode, args.offset, count);
  if (!got.ok()) {
    res.status = status_of(got.error(), NotFound::kStale);
    res.attrs = co_await post_op(file.attrs.inode);
    co_return res;
  }
  ASSERT(got->data.size() <= count);
  stats_.read_bytes += got->data.size();
  res.attrs = fattr(got->attrs);
  res.eof = got->eof;
  res.data = std::move(got->data);
  co_return res;
}

Task<WriteRes> Nfs3Program::write(const Context& ctx, WriteArgs args) {
  WriteRes res;
  const Resolved file = co_await resolve(args.file);
  res.status = file.status;
  if (!file.ok()) co_return res;
  res.wcc = wcc_unchanged(file.attrs);
  res.status = regular_status(file.attrs);
  if (res.status == Status::kOk) res.status = check_write(ctx.who, file.attrs);
  if (res.status == Status::kOk && !fits_int64(args.offset)) res.status = Status::kFbig;
  if (res.status != Status::kOk) co_return res;
  ASSERT(args.count == args.data.size());
  // Longer than wtmax: write what fits and say so (a short write; the client sends the rest).
  if (args.data.size() > options_.wtmax) args.data.resize(options_.wtmax);
  const auto count = static_cast<uint32_t>(args.data.size());
  auto written = co_await fs_.write(file.attrs.inode, args.offset, std::move(args.data),
                                    stability_of(args.stable));
  if (!written.ok()) {
    res.status = status_of(written.error(), NotFound::kStale);
    res.wcc = co_await wcc_after(file.attrs.inode);
    co_return res;
  }
  stats_.written_bytes += count;
  res.wcc = wcc_of(written->before, written->after);
  res.count = count;
  res.committed = committed_of(args.stable);
  res.verf = verifier_of(written->verifier);
  co_return res;
}

Task<CommitRes> Nfs3Program::commit(const Context& ctx, CommitArgs args) {
  CommitRes res;
  const Resolved file = co_await resolve(args.file);
  res.status = file.status;
  if (!file.ok()) co_return res;
  res.wcc = wcc_unchanged(file.attrs);
  res.status = regular_status(file.attrs);
  if (res.status == Status::kOk) res.status = check_write(ctx.who, file.attrs);
  if (res.status != Status::kOk) co_return res;
  // The whole file system's acknowledged writes become durable, whatever offset and count say.
  auto committed = co_await fs_.commit();
  if (!committed.ok()) {
    res.status = status_of(committed.error(), NotFound::kStale);
    res.wcc = co_await wcc_after(file.attrs.inode);
    co_return res;
  }
  // COMMIT changes no attributes: one snapshot taken now is both pre- and post-op.
  auto now = co_await fs_.getattr(file.attrs.inode);
  res.wcc = now.ok() ? wcc_unchanged(*now) : Wcc{};
  // The verifier now: if it differs from what the client's writes returned (the block store
  // reopened and unstable data may be lost), the client sends those writes again.
  res.verf = verifier_of(fs_.write_verifier());
  co_return res;
}

}  // namespace splitarray::hostdriver::nfs::nfs3
