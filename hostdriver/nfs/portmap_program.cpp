// hostdriver/nfs/portmap_program.cpp
#include "hostdriver/nfs/portmap_program.h"

namespace splitarray::hostdriver::nfs {

Task<AcceptStat> PortmapProgram::call(const RpcCall& call, XdrEncoder& results) {
  XdrDecoder args(call.args);
  switch (call.procedure) {
    case kPortmapNull:
      co_return args.at_end() ? AcceptStat::kSuccess : AcceptStat::kGarbageArgs;
    case kPortmapSet:
    case kPortmapUnset: {
      for (int i = 0; i < 4; ++i) (void)args.u32();
      if (!args.ok() || !args.at_end()) co_return AcceptStat::kGarbageArgs;
      results.boolean(false);  // the table is fixed
      co_return AcceptStat::kSuccess;
    }
    case kPortmapGetPort: {
      PortMapping wanted{
          .program = args.u32(), .version = args.u32(), .protocol = args.u32(), .port = args.u32()};
      if (!args.ok() || !args.at_end()) co_return AcceptStat::kGarbageArgs;
      uint32_t port = 0;  // 0: not registered
      for (const PortMapping& mapping : mappings_) {
        if (mapping.program == wanted.program && mapping.version == wanted.version &&
            mapping.protocol == wanted.protocol) {
          port = mapping.port;
        }
      }
      results.u32(port);
      co_return AcceptStat::kSuccess;
    }
    case kPortmapDump:
      if (!args.at_end()) co_return AcceptStat::kGarbageArgs;
      for (const PortMapping& mapping : mappings_) {
        results.boolean(true);
        results.u32(mapping.program);
        results.u32(mapping.version);
        results.u32(mapping.protocol);
        results.u32(mapping.port);
      }
      results.boolean(false);
      co_return AcceptStat::kSuccess;
    default:
      co_return AcceptStat::kProcUnavail;
  }
}

}  // namespace splitarray::hostdriver::nfs
