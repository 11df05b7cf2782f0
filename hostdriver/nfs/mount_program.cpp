// hostdriver/nfs/mount_program.cpp
#include "hostdriver/nfs/mount_program.h"

#include "common/assert.h"

namespace splitarray::hostdriver::nfs {
namespace {

// "/default/" and "/default" name the same export.
std::string normalized(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

MountProgram::MountProgram(std::vector<MountedExport> exports) : exports_(std::move(exports)) {
  for (const MountedExport& exported : exports_) {
    ASSERT(!exported.root_handle.empty());
    ASSERT(exported.exported.path.starts_with('/'));
  }
}

const MountedExport* MountProgram::find(const std::string& path) const {
  const std::string wanted = normalized(path);
  for (const MountedExport& exported : exports_) {
    if (normalized(exported.exported.path) == wanted) return &exported;
  }
  return nullptr;
}

Task<AcceptStat> MountProgram::call(const RpcCall& call, XdrEncoder& results) {
  XdrDecoder args(call.args);
  switch (call.procedure) {
    case kMountNull:
      co_return args.at_end() ? AcceptStat::kSuccess : AcceptStat::kGarbageArgs;
    case kMountMnt:
      co_return mnt(call, args, results);
    case kMountDump:
      if (!args.at_end()) co_return AcceptStat::kGarbageArgs;
      dump(results);
      co_return AcceptStat::kSuccess;
    case kMountUmnt:
      co_return umnt(call, args);
    case kMountUmntAll:
      if (!args.at_end()) co_return AcceptStat::kGarbageArgs;
      std::erase_if(mounts_, [&](const auto& mount) { return mount.first == call.peer.host; });
      ++stats_.unmounts;
      co_return AcceptStat::kSuccess;
    case kMountExport:
      if (!args.at_end()) co_return AcceptStat::kGarbageArgs;
      list_exports(results);
      co_return AcceptStat::kSuccess;
    default:
      co_return AcceptStat::kProcUnavail;
  }
}

AcceptStat MountProgram::mnt(const RpcCall& call, XdrDecoder& args, XdrEncoder& results) {
  // Decode generously, then answer NAMETOOLONG rather than GARBAGE_ARGS for a long path.
  const std::string path = args.string(2 * kExportPathBytesMax);
  if (!args.ok() || !args.at_end()) return AcceptStat::kGarbageArgs;
  const bool v3 = call.version == 3;
  auto refuse = [&](MountStat stat, uint32_t v1_errno) {
    ++stats_.refused;
    results.u32(v3 ? static_cast<uint32_t>(stat) : v1_errno);
    return AcceptStat::kSuccess;
  };
  if (path.size() > kExportPathBytesMax) return refuse(MountStat::kNameTooLong, 63);
  const MountedExport* exported = find(path);
  if (exported == nullptr) return refuse(MountStat::kNoEnt, 2);
  if (!exported->exported.allows(call.peer)) return refuse(MountStat::kAccess, 13);
  if (!v3) return refuse(MountStat::kNotSupported, kMountV1NotSupported);

  results.u32(static_cast<uint32_t>(MountStat::kOk));
  results.opaque(exported->root_handle);
  results.u32(1);  // auth flavors the export accepts
  results.u32(kAuthSys);
  if (mounts_.size() < kMountListMax) mounts_.emplace(call.peer.host, normalized(path));
  ++stats_.mounts;
  return AcceptStat::kSuccess;
}

AcceptStat MountProgram::umnt(const RpcCall& call, XdrDecoder& args) {
  const std::string path = args.string(kExportPathBytesMax);
  if (!args.ok() || !args.at_end()) return AcceptStat::kGarbageArgs;
  mounts_.erase({call.peer.host, normalized(path)});
  ++stats_.unmounts;
  return AcceptStat::kSuccess;
}

void MountProgram::dump(XdrEncoder& results) const {
  for (const auto& [client, path] : mounts_) {
    results.boolean(true);  // another entry follows
    results.string(client.substr(0, kMountHostBytesMax));
    results.string(path);
  }
  results.boolean(false);
}

void MountProgram::list_exports(XdrEncoder& results) const {
  for (const MountedExport& exported : exports_) {
    results.boolean(true);
    results.string(exported.exported.path);
    for (const ClientNetwork& network : exported.exported.clients) {
      results.boolean(true);
      results.string(network.to_string());
    }
    results.boolean(false);  // end of groups
  }
  results.boolean(false);  // end of exports
}

}  // namespace splitarray::hostdriver::nfs
