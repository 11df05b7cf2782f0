// hostdriver/nfs/nfs3/nfs3_client_xdr.cpp
#include "hostdriver/nfs/nfs3/nfs3_client_xdr.h"

#include "common/assert.h"
#include "hostdriver/nfs/nfs3/nfs3_xdr_parts.h"

namespace splitarray::hostdriver::nfs::nfs3 {
namespace {

// The result's status, and whether the resok arm follows.
bool get_ok(XdrDecoder& in, Status& status) {
  status = get_status(in);
  return in.ok() && status == Status::kOk;
}

}  // namespace

// --- Arguments -----------------------------------------------------------------------------------

void encode_args(XdrEncoder& out, const FhArgs& args) { put_fh(out, args.object); }

void encode_args(XdrEncoder& out, const SetattrArgs& args) {
  put_fh(out, args.object);
  put_sattr(out, args.attrs);
  out.boolean(args.guard_ctime.has_value());
  if (args.guard_ctime) put_time(out, *args.guard_ctime);
}

void encode_args(XdrEncoder& out, const DirOpArgs& args) { put_dirop(out, args); }

void encode_args(XdrEncoder& out, const AccessArgs& args) {
  put_fh(out, args.object);
  out.u32(args.access);
}

void encode_args(XdrEncoder& out, const ReadArgs& args) {
  put_fh(out, args.file);
  out.u64(args.offset);
  out.u32(args.count);
}

void encode_args(XdrEncoder& out, const WriteArgs& args) {
  ASSERT(args.data.size() <= kWriteWireBytesMax);
  put_fh(out, args.file);
  out.u64(args.offset);
  out.u32(args.count);
  out.u32(static_cast<uint32_t>(args.stable));
  out.opaque(args.data);
}

void encode_args(XdrEncoder& out, const CreateArgs& args) {
  put_dirop(out, args.where);
  out.u32(static_cast<uint32_t>(args.how));
  if (args.how == CreateHow::kExclusive) {
    put_verifier(out, args.verf);
  } else {
    put_sattr(out, args.attrs);
  }
}

void encode_args(XdrEncoder& out, const MkdirArgs& args) {
  put_dirop(out, args.where);
  put_sattr(out, args.attrs);
}

void encode_args(XdrEncoder& out, const SymlinkArgs& args) {
  ASSERT(args.target.size() <= kPathWireBytesMax);
  put_dirop(out, args.where);
  put_sattr(out, args.attrs);
  out.string(args.target);
}

void encode_args(XdrEncoder& out, const MknodArgs& args) {
  put_dirop(out, args.where);
  out.u32(static_cast<uint32_t>(args.type));
  switch (args.type) {
    case Ftype::kChr:
    case Ftype::kBlk:
      put_sattr(out, args.attrs);
      out.u32(args.rdev_major);
      out.u32(args.rdev_minor);
      break;
    case Ftype::kSock:
    case Ftype::kFifo:
      put_sattr(out, args.attrs);
      break;
    default:
      break;
  }
}

void encode_args(XdrEncoder& out, const RenameArgs& args) {
  put_dirop(out, args.from);
  put_dirop(out, args.to);
}

void encode_args(XdrEncoder& out, const LinkArgs& args) {
  put_fh(out, args.file);
  put_dirop(out, args.link);
}

void encode_args(XdrEncoder& out, const ReaddirArgs& args) {
  put_fh(out, args.dir);
  out.u64(args.cookie);
  put_verifier(out, args.verf);
  out.u32(args.count);
}

void encode_args(XdrEncoder& out, const ReaddirplusArgs& args) {
  put_fh(out, args.dir);
  out.u64(args.cookie);
  put_verifier(out, args.verf);
  out.u32(args.dircount);
  out.u32(args.maxcount);
}

void encode_args(XdrEncoder& out, const CommitArgs& args) {
  put_fh(out, args.file);
  out.u64(args.offset);
  out.u32(args.count);
}

// --- Results -------------------------------------------------------------------------------------

bool decode_res(std::span<const uint8_t> bytes, GetattrRes& out) {
  out = GetattrRes{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    if (get_ok(in, out.status)) out.attrs = get_fattr(in);
  });
}

bool decode_res(std::span<const uint8_t> bytes, WccRes& out) {
  out = WccRes{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    out.status = get_status(in);
    out.wcc = get_wcc(in);
  });
}

bool decode_res(std::span<const uint8_t> bytes, LookupRes& out) {
  out = LookupRes{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    if (get_ok(in, out.status)) {
      out.object = get_fh(in);
      out.attrs = get_post_op_attr(in);
    }
    out.dir = get_post_op_attr(in);
  });
}

bool decode_res(std::span<const uint8_t> bytes, AccessRes& out) {
  out = AccessRes{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    const bool ok = get_ok(in, out.status);
    out.attrs = get_post_op_attr(in);
    if (ok) out.access = in.u32();
  });
}

bool decode_res(std::span<const uint8_t> bytes, ReadlinkRes& out) {
  out = ReadlinkRes{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    const bool ok = get_ok(in, out.status);
    out.attrs = get_post_op_attr(in);
    if (ok) out.target = in.string(kPathWireBytesMax);
  });
}

bool decode_res(std::span<const uint8_t> bytes, ReadRes& out) {
  out = ReadRes{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    const bool ok = get_ok(in, out.status);
    out.attrs = get_post_op_attr(in);
    if (!ok) return;
    const uint32_t count = in.u32();
    out.eof = in.boolean();
    out.data = in.opaque(kReadWireBytesMax);
    if (count != out.data.size()) in.fail();
  });
}

bool decode_res(std::span<const uint8_t> bytes, WriteRes& out) {
  out = WriteRes{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    const bool ok = get_ok(in, out.status);
    out.wcc = get_wcc(in);
    if (!ok) return;
    out.count = in.u32();
    out.committed = static_cast<StableHow>(in.enumeration(kStableHowMax));
    out.verf = get_verifier(in);
  });
}

bool decode_res(std::span<const uint8_t> bytes, CreateRes& out) {
  out = CreateRes{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    if (get_ok(in, out.status)) {
      out.object = get_post_op_fh(in);
      out.attrs = get_post_op_attr(in);
    }
    out.dir = get_wcc(in);
  });
}

bool decode_res(std::span<const uint8_t> bytes, RenameRes& out) {
  out = RenameRes{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    out.status = get_status(in);
    out.from = get_wcc(in);
    out.to = get_wcc(in);
  });
}

bool decode_res(std::span<const uint8_t> bytes, LinkRes& out) {
  out = LinkRes{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    out.status = get_status(in);
    out.attrs = get_post_op_attr(in);
    out.dir = get_wcc(in);
  });
}

namespace {

template <bool kPlus>
bool decode_listing(std::span<const uint8_t> bytes, ReaddirResOf<kPlus>& out) {
  out = ReaddirResOf<kPlus>{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    const bool ok = get_ok(in, out.status);
    out.dir = get_post_op_attr(in);
    if (!ok) return;
    out.verf = get_verifier(in);
    while (in.ok() && in.boolean()) {
      if (out.entries.size() >= kReaddirEntriesWireMax) {
        in.fail();
        return;
      }
      ListEntry entry;
      entry.fileid = in.u64();
      entry.name = get_name(in);
      entry.cookie = in.u64();
      if (kPlus) {
        entry.attrs = get_post_op_attr(in);
        entry.handle = get_post_op_fh(in);
      }
      out.entries.push_back(std::move(entry));
    }
    out.eof = in.boolean();
  });
}

}  // namespace

bool decode_res(std::span<const uint8_t> bytes, ReaddirRes& out) {
  return decode_listing(bytes, out);
}
bool decode_res(std::span<const uint8_t> bytes, ReaddirplusRes& out) {
  return decode_listing(bytes, out);
}

bool decode_res(std::span<const uint8_t> bytes, FsstatRes& out) {
  out = FsstatRes{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    const bool ok = get_ok(in, out.status);
    out.attrs = get_post_op_attr(in);
    if (!ok) return;
    out.total_bytes = in.u64();
    out.free_bytes = in.u64();
    out.avail_bytes = in.u64();
    out.total_files = in.u64();
    out.free_files = in.u64();
    out.avail_files = in.u64();
    out.invarsec = in.u32();
  });
}

bool decode_res(std::span<const uint8_t> bytes, FsinfoRes& out) {
  out = FsinfoRes{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    const bool ok = get_ok(in, out.status);
    out.attrs = get_post_op_attr(in);
    if (!ok) return;
    out.rtmax = in.u32();
    out.rtpref = in.u32();
    out.rtmult = in.u32();
    out.wtmax = in.u32();
    out.wtpref = in.u32();
    out.wtmult = in.u32();
    out.dtpref = in.u32();
    out.maxfilesize = in.u64();
    out.time_delta = get_time(in);
    out.properties = in.u32();
  });
}

bool decode_res(std::span<const uint8_t> bytes, PathconfRes& out) {
  out = PathconfRes{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    const bool ok = get_ok(in, out.status);
    out.attrs = get_post_op_attr(in);
    if (!ok) return;
    out.linkmax = in.u32();
    out.name_max = in.u32();
    out.no_trunc = in.boolean();
    out.chown_restricted = in.boolean();
    out.case_insensitive = in.boolean();
    out.case_preserving = in.boolean();
  });
}

bool decode_res(std::span<const uint8_t> bytes, CommitRes& out) {
  out = CommitRes{};
  return decode_whole(bytes, [&](XdrDecoder& in) {
    const bool ok = get_ok(in, out.status);
    out.wcc = get_wcc(in);
    if (ok) out.verf = get_verifier(in);
  });
}

}  // namespace splitarray::hostdriver::nfs::nfs3
