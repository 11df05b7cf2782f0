// hostdriver/nfs/nfs3/nfs3_xdr_parts.cpp
#include "hostdriver/nfs/nfs3/nfs3_xdr_parts.h"

#include "common/assert.h"

namespace splitarray::hostdriver::nfs::nfs3 {

Fh get_fh(XdrDecoder& in) { return Fh{in.opaque(kFhBytesMax)}; }

void put_fh(XdrEncoder& out, const Fh& fh) {
  ASSERT(fh.bytes.size() <= kFhBytesMax);
  out.opaque(fh.bytes);
}

std::string get_name(XdrDecoder& in) { return in.string(kNameWireBytesMax); }

void put_name(XdrEncoder& out, const std::string& name) {
  ASSERT(name.size() <= kNameWireBytesMax);
  out.string(name);
}

Verifier get_verifier(XdrDecoder& in) {
  Verifier verifier{};
  in.fixed(verifier);
  return verifier;
}

void put_verifier(XdrEncoder& out, const Verifier& verifier) { out.fixed(verifier); }

Time get_time(XdrDecoder& in) {
  Time time;
  time.seconds = in.u32();
  time.nseconds = in.u32();
  return time;
}

void put_time(XdrEncoder& out, const Time& time) {
  out.u32(time.seconds);
  out.u32(time.nseconds);
}

Ftype get_ftype(XdrDecoder& in) {
  const uint32_t value = in.enumeration(kFtypeMax);
  if (value == 0) {
    in.fail();
    return Ftype::kReg;
  }
  return static_cast<Ftype>(value);
}

DirOpArgs get_dirop(XdrDecoder& in) {
  DirOpArgs dirop;
  dirop.dir = get_fh(in);
  dirop.name = get_name(in);
  return dirop;
}

void put_dirop(XdrEncoder& out, const DirOpArgs& dirop) {
  put_fh(out, dirop.dir);
  put_name(out, dirop.name);
}

Fattr get_fattr(XdrDecoder& in) {
  Fattr attrs;
  attrs.type = get_ftype(in);
  attrs.mode = in.u32();
  attrs.nlink = in.u32();
  attrs.uid = in.u32();
  attrs.gid = in.u32();
  attrs.size = in.u64();
  attrs.used = in.u64();
  attrs.rdev_major = in.u32();
  attrs.rdev_minor = in.u32();
  attrs.fsid = in.u64();
  attrs.fileid = in.u64();
  attrs.atime = get_time(in);
  attrs.mtime = get_time(in);
  attrs.ctime = get_time(in);
  return attrs;
}

void put_fattr(XdrEncoder& out, const Fattr& attrs) {
  const size_t start = out.size();
  out.u32(static_cast<uint32_t>(attrs.type));
  out.u32(attrs.mode);
  out.u32(attrs.nlink);
  out.u32(attrs.uid);
  out.u32(attrs.gid);
  out.u64(attrs.size);
  out.u64(attrs.used);
  out.u32(attrs.rdev_major);
  out.u32(attrs.rdev_minor);
  out.u64(attrs.fsid);
  out.u64(attrs.fileid);
  put_time(out, attrs.atime);
  put_time(out, attrs.mtime);
  put_time(out, attrs.ctime);
  ASSERT(out.size() - start == kFattrBytes);
}

PostOpAttr get_post_op_attr(XdrDecoder& in) {
  if (!in.boolean()) return std::nullopt;
  return get_fattr(in);
}

void put_post_op_attr(XdrEncoder& out, const PostOpAttr& attrs) {
  out.boolean(attrs.has_value());
  if (attrs) put_fattr(out, *attrs);
}

std::optional<Fh> get_post_op_fh(XdrDecoder& in) {
  if (!in.boolean()) return std::nullopt;
  return get_fh(in);
}

void put_post_op_fh(XdrEncoder& out, const std::optional<Fh>& fh) {
  out.boolean(fh.has_value());
  if (fh) put_fh(out, *fh);
}

Wcc get_wcc(XdrDecoder& in) {
  Wcc wcc;
  if (in.boolean()) {
    WccAttr before;
    before.size = in.u64();
    before.mtime = get_time(in);
    before.ctime = get_time(in);
    wcc.before = before;
  }
  wcc.after = get_post_op_attr(in);
  return wcc;
}

void put_wcc(XdrEncoder& out, const Wcc& wcc) {
  out.boolean(wcc.before.has_value());
  if (wcc.before) {
    out.u64(wcc.before->size);
    put_time(out, wcc.before->mtime);
    put_time(out, wcc.before->ctime);
  }
  put_post_op_attr(out, wcc.after);
}

namespace {

TimeHow get_time_how(XdrDecoder& in, Time& time) {
  const auto how = static_cast<TimeHow>(in.enumeration(kTimeHowMax));
  if (how == TimeHow::kClientTime) time = get_time(in);
  return how;
}

void put_time_how(XdrEncoder& out, TimeHow how, const Time& time) {
  out.u32(static_cast<uint32_t>(how));
  if (how == TimeHow::kClientTime) put_time(out, time);
}

}  // namespace

Sattr get_sattr(XdrDecoder& in) {
  Sattr attrs;
  if (in.boolean()) attrs.mode = in.u32();
  if (in.boolean()) attrs.uid = in.u32();
  if (in.boolean()) attrs.gid = in.u32();
  if (in.boolean()) attrs.size = in.u64();
  attrs.atime_how = get_time_how(in, attrs.atime);
  attrs.mtime_how = get_time_how(in, attrs.mtime);
  return attrs;
}

void put_sattr(XdrEncoder& out, const Sattr& attrs) {
  out.boolean(attrs.mode.has_value());
  if (attrs.mode) out.u32(*attrs.mode);
  out.boolean(attrs.uid.has_value());
  if (attrs.uid) out.u32(*attrs.uid);
  out.boolean(attrs.gid.has_value());
  if (attrs.gid) out.u32(*attrs.gid);
  out.boolean(attrs.size.has_value());
  if (attrs.size) out.u64(*attrs.size);
  put_time_how(out, attrs.atime_how, attrs.atime);
  put_time_how(out, attrs.mtime_how, attrs.mtime);
}

Status get_status(XdrDecoder& in) {
  const uint32_t value = in.u32();
  if (!is_status(value)) {
    in.fail();
    return Status::kServerfault;
  }
  return static_cast<Status>(value);
}

void put_status(XdrEncoder& out, Status status) {
  ASSERT(is_status(static_cast<uint32_t>(status)));
  out.u32(static_cast<uint32_t>(status));
}

}  // namespace splitarray::hostdriver::nfs::nfs3
