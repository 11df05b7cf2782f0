// hostdriver/nfs/rpc_program.h
// The seam between the ONC RPC server (rpc_server.h: record marking, call headers, replies,
// connections) and the programs it serves (NFS v3, MOUNT v3, the portmapper). A program sees one
// decoded call at a time, with the caller's credentials and address, and encodes its results.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/env.h"
#include "hostdriver/nfs/xdr.h"

namespace splitarray::hostdriver::nfs {

// RFC 5531 auth flavors the server accepts.
inline constexpr uint32_t kAuthNone = 0;
inline constexpr uint32_t kAuthSys = 1;
inline constexpr uint32_t kUidNobody = 65534;
inline constexpr uint32_t kGidNobody = 65534;
inline constexpr size_t kAuthBodyBytesMax = 400;  // RFC 5531: opaque_auth body <= 400 bytes
inline constexpr size_t kAuthSysMachineBytesMax = 255;
inline constexpr size_t kAuthSysGidsMax = 16;

struct Credentials {
  uint32_t flavor = kAuthNone;
  uint32_t uid = kUidNobody;  // AUTH_NONE calls are treated as nobody
  uint32_t gid = kGidNobody;
  std::vector<uint32_t> gids;  // supplementary groups, <= kAuthSysGidsMax
  std::string machine;
  bool is_root() const { return uid == 0; }
};

// RFC 5531 accept_stat.
enum class AcceptStat : uint32_t {
  kSuccess = 0,
  kProgUnavail = 1,
  kProgMismatch = 2,
  kProcUnavail = 3,
  kGarbageArgs = 4,
  kSystemErr = 5,
};

struct RpcCall {
  uint32_t xid = 0;
  uint32_t program = 0;
  uint32_t version = 0;  // within the program's [version_min, version_max]
  uint32_t procedure = 0;
  Credentials credentials;  // as the client sent them; squashing is per export, the program's
  Address peer;
  uint64_t connection_id = 0;
  std::span<const uint8_t> args;  // valid until call() completes
};

class RpcProgram {
 public:
  virtual ~RpcProgram() = default;
  virtual uint32_t program() const = 0;
  virtual uint32_t version_min() const = 0;
  virtual uint32_t version_max() const = 0;
  // Handles one call. On kSuccess the results are in `results`; on any other stat `results` is
  // ignored (kGarbageArgs when the arguments do not decode or have trailing bytes).
  virtual Task<AcceptStat> call(const RpcCall& call, XdrEncoder& results) = 0;
  // False for procedures whose retry must not be executed twice (CREATE, REMOVE, RENAME, ...):
  // their replies go through the duplicate request cache.
  virtual bool idempotent(uint32_t version, uint32_t procedure) const = 0;
};

}  // namespace splitarray::hostdriver::nfs
