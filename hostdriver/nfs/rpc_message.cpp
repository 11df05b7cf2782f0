// hostdriver/nfs/rpc_message.cpp
#include "hostdriver/nfs/rpc_message.h"

#include "common/assert.h"

namespace splitarray::hostdriver::nfs {
namespace {

constexpr uint32_t kReplyAccepted = 0;
constexpr uint32_t kReplyDenied = 1;
constexpr uint32_t kRejectRpcMismatch = 0;
constexpr uint32_t kRejectAuthError = 1;

// AUTH_SYS body (RFC 5531 appendix A): stamp, machinename<255>, uid, gid, gids<16>.
bool decode_auth_sys(std::span<const uint8_t> body, Credentials& out) {
  XdrDecoder in(body);
  (void)in.u32();  // stamp
  out.machine = in.string(kAuthSysMachineBytesMax);
  out.uid = in.u32();
  out.gid = in.u32();
  const uint32_t count = in.u32();
  if (!in.ok() || count > kAuthSysGidsMax) return false;
  out.gids.clear();
  for (uint32_t i = 0; i < count; ++i) out.gids.push_back(in.u32());
  return in.ok() && in.at_end();
}

}  // namespace

DecodedCall decode_call(XdrDecoder& in) {
  DecodedCall call;
  call.header.xid = in.u32();
  const uint32_t type = in.u32();
  if (!in.ok() || type != kMsgCall) return call;  // kDrop
  const uint32_t rpc_version = in.u32();
  if (!in.ok()) return call;
  if (rpc_version != kRpcVersion) {
    call.verdict = CallVerdict::kRpcMismatch;
    return call;
  }
  call.header.program = in.u32();
  call.header.version = in.u32();
  call.header.procedure = in.u32();
  const uint32_t flavor = in.u32();
  const std::span<const uint8_t> body = in.opaque_view(kAuthBodyBytesMax);
  (void)in.u32();                     // verifier flavor: ignored (AUTH_NONE/AUTH_SYS)
  in.skip_opaque(kAuthBodyBytesMax);  // verifier body
  if (!in.ok()) {
    call.verdict = CallVerdict::kBadCred;
    return call;
  }
  call.header.credentials.flavor = flavor;
  if (flavor == kAuthSys) {
    if (!decode_auth_sys(body, call.header.credentials)) {
      call.verdict = CallVerdict::kBadCred;
      return call;
    }
  } else if (flavor != kAuthNone) {
    call.verdict = CallVerdict::kTooWeak;
    return call;
  }
  call.verdict = CallVerdict::kAccept;
  return call;
}

void encode_accepted_header(XdrEncoder& out, uint32_t xid, AcceptStat stat,
                            std::optional<std::pair<uint32_t, uint32_t>> mismatch) {
  ASSERT(mismatch.has_value() == (stat == AcceptStat::kProgMismatch));
  out.u32(xid);
  out.u32(kMsgReply);
  out.u32(kReplyAccepted);
  out.u32(kAuthNone);  // verifier
  out.u32(0);
  out.u32(static_cast<uint32_t>(stat));
  if (mismatch) {
    out.u32(mismatch->first);
    out.u32(mismatch->second);
  }
}

void encode_rpc_mismatch(XdrEncoder& out, uint32_t xid) {
  out.u32(xid);
  out.u32(kMsgReply);
  out.u32(kReplyDenied);
  out.u32(kRejectRpcMismatch);
  out.u32(kRpcVersion);
  out.u32(kRpcVersion);
}

void encode_auth_error(XdrEncoder& out, uint32_t xid, AuthStat stat) {
  out.u32(xid);
  out.u32(kMsgReply);
  out.u32(kReplyDenied);
  out.u32(kRejectAuthError);
  out.u32(static_cast<uint32_t>(stat));
}

void encode_call_header(XdrEncoder& out, const CallHeader& header) {
  out.u32(header.xid);
  out.u32(kMsgCall);
  out.u32(kRpcVersion);
  out.u32(header.program);
  out.u32(header.version);
  out.u32(header.procedure);
  const Credentials& credentials = header.credentials;
  out.u32(credentials.flavor);
  if (credentials.flavor == kAuthSys) {
    XdrEncoder body;
    body.u32(0);  // stamp
    body.string(credentials.machine);
    body.u32(credentials.uid);
    body.u32(credentials.gid);
    body.u32(static_cast<uint32_t>(credentials.gids.size()));
    for (uint32_t gid : credentials.gids) body.u32(gid);
    out.opaque(body.bytes());
  } else {
    out.u32(0);
  }
  out.u32(kAuthNone);  // verifier
  out.u32(0);
}

}  // namespace splitarray::hostdriver::nfs
