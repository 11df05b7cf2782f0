// hostdriver/nfs/rpc_message.h
// ONC RPC version 2 messages (RFC 5531): decoding a call's header and credentials, encoding the
// accepted and denied replies. Pure functions over XDR.
#pragma once

#include <cstdint>
#include <optional>

#include "hostdriver/nfs/rpc_program.h"
#include "hostdriver/nfs/xdr.h"

namespace splitarray::hostdriver::nfs {

inline constexpr uint32_t kRpcVersion = 2;
inline constexpr uint32_t kMsgCall = 0;
inline constexpr uint32_t kMsgReply = 1;

// RFC 5531 auth_stat values the server sends.
enum class AuthStat : uint32_t {
  kBadCred = 1,  // credentials malformed
  kTooWeak = 5,  // flavor not accepted
};

struct CallHeader {
  uint32_t xid = 0;
  uint32_t program = 0;
  uint32_t version = 0;
  uint32_t procedure = 0;
  Credentials credentials;
};

// What to do with a record that claims to be a call.
enum class CallVerdict : uint8_t {
  kAccept,       // header decoded; the decoder is at the procedure's arguments
  kRpcMismatch,  // rpcvers != 2: reply MSG_DENIED RPC_MISMATCH
  kBadCred,      // credentials malformed: reply MSG_DENIED AUTH_ERROR AUTH_BADCRED
  kTooWeak,      // a flavor other than AUTH_NONE / AUTH_SYS: AUTH_ERROR AUTH_TOOWEAK
  kDrop,         // not a call, or too short to carry an xid: no reply possible, close
};

struct DecodedCall {
  CallVerdict verdict = CallVerdict::kDrop;
  CallHeader header;  // xid valid unless kDrop; the rest valid for kAccept
};

DecodedCall decode_call(XdrDecoder& in);

// MSG_ACCEPTED with an AUTH_NONE verifier. For kProgMismatch, `mismatch` is (low, high).
// Results (kSuccess only) follow: the caller encodes them after this header.
void encode_accepted_header(XdrEncoder& out, uint32_t xid, AcceptStat stat,
                            std::optional<std::pair<uint32_t, uint32_t>> mismatch = std::nullopt);
void encode_rpc_mismatch(XdrEncoder& out, uint32_t xid);
void encode_auth_error(XdrEncoder& out, uint32_t xid, AuthStat stat);

// Client side (tests, the benchmark): a call header with AUTH_SYS or AUTH_NONE credentials.
void encode_call_header(XdrEncoder& out, const CallHeader& header);

}  // namespace splitarray::hostdriver::nfs
