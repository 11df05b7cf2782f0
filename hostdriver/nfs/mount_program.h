// hostdriver/nfs/mount_program.h
// The MOUNT protocol (RFC 1813 appendix I), versions 1 and 3: how a client turns an export path
// into the export's root file handle, and what showmount-style tools list.
//
// Versions: v3 is complete (NULL, MNT, DUMP, UMNT, UMNTALL, EXPORT). v1 answers NULL, DUMP, UMNT,
// UMNTALL and EXPORT the same way; its MNT checks the path and the client like v3 but cannot hand
// out a handle, because v1 handles are 32 bytes and ours are 44 (file_handle.h) and this server
// speaks no NFSv2 that would use one: an allowed v1 MNT gets EOPNOTSUPP, so probing clients move
// on to v3.
// Invariants:
//   (1) MNT answers a root handle only to a client the export allows (checked on every call).
//   (2) The mount list (DUMP) holds <= kMountListMax entries; it is advisory, as in every server.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hostdriver/nfs/exports.h"
#include "hostdriver/nfs/rpc_program.h"

namespace splitarray::hostdriver::nfs {

inline constexpr uint32_t kMountProgram = 100005;
inline constexpr size_t kMountListMax = 1024;
inline constexpr size_t kMountHostBytesMax = 255;  // MNTNAMLEN
inline constexpr uint32_t kMountV1HandleBytes = 32;

// RFC 1813 mountstat3.
enum class MountStat : uint32_t {
  kOk = 0,
  kPerm = 1,
  kNoEnt = 2,
  kIo = 5,
  kAccess = 13,
  kNotDir = 20,
  kInvalid = 22,
  kNameTooLong = 63,
  kNotSupported = 10004,
  kServerFault = 10006,
};
inline constexpr uint32_t kMountV1NotSupported = 95;  // EOPNOTSUPP, see the header comment

enum MountProcedure : uint32_t {
  kMountNull = 0,
  kMountMnt = 1,
  kMountDump = 2,
  kMountUmnt = 3,
  kMountUmntAll = 4,
  kMountExport = 5,
};

struct MountedExport {
  Export exported;
  std::vector<uint8_t> root_handle;  // the NFS v3 handle of the export's root directory
};

struct MountStats {
  uint64_t mounts = 0;
  uint64_t refused = 0;  // not allowed or no such export
  uint64_t unmounts = 0;
};

class MountProgram final : public RpcProgram {
 public:
  explicit MountProgram(std::vector<MountedExport> exports);

  uint32_t program() const override { return kMountProgram; }
  uint32_t version_min() const override { return 1; }
  uint32_t version_max() const override { return 3; }
  Task<AcceptStat> call(const RpcCall& call, XdrEncoder& results) override;
  // Every MOUNT procedure may run twice harmlessly.
  bool idempotent(uint32_t, uint32_t) const override { return true; }

  const MountStats& stats() const { return stats_; }

 private:
  AcceptStat mnt(const RpcCall& call, XdrDecoder& args, XdrEncoder& results);
  AcceptStat umnt(const RpcCall& call, XdrDecoder& args);
  void dump(XdrEncoder& results) const;
  void list_exports(XdrEncoder& results) const;
  const MountedExport* find(const std::string& path) const;

  std::vector<MountedExport> exports_;
  std::set<std::pair<std::string, std::string>> mounts_;  // (client address, path)
  MountStats stats_;
};

}  // namespace splitarray::hostdriver::nfs
