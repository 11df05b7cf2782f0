// tests/e2e/nfs/mount_client.cpp
// MountClient (MOUNT v3 over libnfs's raw API) and the printing / comparing helpers.
#include "tests/e2e/nfs/nfs_raw_client.h"  // first: libnfs.h before the raw headers

#include <nfsc/libnfs-raw-mount.h>

#include <sstream>

namespace splitarray::e2e::nfs {
namespace {

char* wire_path(const std::string& path) { return const_cast<char*>(path.c_str()); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// MountClient

std::unique_ptr<MountClient> MountClient::connect(uint16_t mount_port, std::string* error) {
  auto rpc = RpcConnection::connect(mount_port, kMountProgram, 3, error);
  if (rpc == nullptr) return nullptr;
  return std::unique_ptr<MountClient>(new MountClient(std::move(rpc)));
}

Reply MountClient::null() { return rpc_->null_of(kMountProgram, 3); }

MntRes MountClient::mnt(const std::string& path) {
  MntRes res;
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_mount3_mnt_async(rpc_->context(), cb, wire_path(path), priv);
      },
      [&](void* data) {
        auto* r = static_cast<mountres3*>(data);
        res.status = r->fhs_status;
        if (r->fhs_status != MNT3_OK) return;
        const mountres3_ok& ok = r->mountres3_u.mountinfo;
        const auto* bytes = reinterpret_cast<const uint8_t*>(ok.fhandle.fhandle3_val);
        res.root.assign(bytes, bytes + ok.fhandle.fhandle3_len);
        res.flavors.assign(ok.auth_flavors.auth_flavors_val,
                           ok.auth_flavors.auth_flavors_val + ok.auth_flavors.auth_flavors_len);
      });
  return res;
}

DumpRes MountClient::dump() {
  DumpRes res;
  rpc_->call(
      res, [&](rpc_cb cb, void* priv) { return rpc_mount3_dump_async(rpc_->context(), cb, priv); },
      [&](void* data) {
        res.status = 0;
        for (mountbody* m = *static_cast<mountlist*>(data); m != nullptr; m = m->ml_next) {
          res.mounts.push_back(MountEntry{m->ml_hostname, m->ml_directory});
        }
      });
  return res;
}

Reply MountClient::umnt(const std::string& path) {
  Reply res;
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_mount3_umnt_async(rpc_->context(), cb, wire_path(path), priv);
      },
      [&](void*) { res.status = 0; });
  return res;
}

ExportRes MountClient::exports() {
  ExportRes res;
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) { return rpc_mount3_export_async(rpc_->context(), cb, priv); },
      [&](void* data) {
        res.status = 0;
        for (exportnode* e = *static_cast<::exports*>(data); e != nullptr; e = e->ex_next) {
          ExportEntry entry{e->ex_dir, {}};
          for (groupnode* g = e->ex_groups; g != nullptr; g = g->gr_next) {
            entry.groups.push_back(g->gr_name);
          }
          res.exports.push_back(std::move(entry));
        }
      });
  return res;
}

// ---------------------------------------------------------------------------------------------
// Printing and comparing.

std::string status_name(int status) {
  if (status == -1) return "no reply";
  return std::string(nfsstat3_to_str(status)) + "(" + std::to_string(status) + ")";
}

std::string describe(const fattr3& a) {
  std::ostringstream out;
  out << "{type " << a.type << " mode " << std::oct << a.mode << std::dec << " nlink " << a.nlink
      << " uid " << a.uid << " gid " << a.gid << " size " << a.size << " used " << a.used
      << " fsid " << a.fsid << " fileid " << a.fileid << " atime " << a.atime.seconds << "."
      << a.atime.nseconds << " mtime " << a.mtime.seconds << "." << a.mtime.nseconds << " ctime "
      << a.ctime.seconds << "." << a.ctime.nseconds << "}";
  return out.str();
}

std::string describe(const Reply& reply) {
  switch (reply.rpc) {
    case RpcOutcome::kReplied:
      return status_name(reply.status);
    case RpcOutcome::kFailed:
      return "RPC failed: " + reply.rpc_error;
    case RpcOutcome::kTimedOut:
      return "RPC timed out: " + reply.rpc_error;
  }
  return "?";
}

bool same_time(const nfstime3& a, const nfstime3& b) {
  return a.seconds == b.seconds && a.nseconds == b.nseconds;
}

bool time_before(const nfstime3& a, const nfstime3& b) {
  return a.seconds < b.seconds || (a.seconds == b.seconds && a.nseconds < b.nseconds);
}

bool same_attrs(const fattr3& a, const fattr3& b) {
  return a.type == b.type && a.mode == b.mode && a.nlink == b.nlink && a.uid == b.uid &&
         a.gid == b.gid && a.size == b.size && a.used == b.used &&
         a.rdev.specdata1 == b.rdev.specdata1 && a.rdev.specdata2 == b.rdev.specdata2 &&
         a.fsid == b.fsid && a.fileid == b.fileid && same_time(a.atime, b.atime) &&
         same_time(a.mtime, b.mtime) && same_time(a.ctime, b.ctime);
}

}  // namespace splitarray::e2e::nfs
