// hostdriver/nfs/portmap_program.h
// A minimal portmapper (RFC 1833, version 2) so stock clients find the NFS and MOUNT ports
// without a system rpcbind: GETPORT and DUMP answer from a fixed table given at start; SET and
// UNSET are refused (no other program may register here); CALLIT is not offered.
#pragma once

#include <cstdint>
#include <vector>

#include "hostdriver/nfs/rpc_program.h"

namespace splitarray::hostdriver::nfs {

inline constexpr uint32_t kPortmapProgram = 100000;
inline constexpr uint32_t kPortmapPort = 111;
inline constexpr uint32_t kProtocolTcp = 6;
inline constexpr uint32_t kProtocolUdp = 17;

enum PortmapProcedure : uint32_t {
  kPortmapNull = 0,
  kPortmapSet = 1,
  kPortmapUnset = 2,
  kPortmapGetPort = 3,
  kPortmapDump = 4,
  kPortmapCallIt = 5,
};

struct PortMapping {
  uint32_t program = 0;
  uint32_t version = 0;
  uint32_t protocol = kProtocolTcp;
  uint32_t port = 0;
};

class PortmapProgram final : public RpcProgram {
 public:
  explicit PortmapProgram(std::vector<PortMapping> mappings) : mappings_(std::move(mappings)) {}

  uint32_t program() const override { return kPortmapProgram; }
  uint32_t version_min() const override { return 2; }
  uint32_t version_max() const override { return 2; }
  Task<AcceptStat> call(const RpcCall& call, XdrEncoder& results) override;
  bool idempotent(uint32_t, uint32_t) const override { return true; }

 private:
  std::vector<PortMapping> mappings_;
};

}  // namespace splitarray::hostdriver::nfs
