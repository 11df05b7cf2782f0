// tests/e2e/nfs_apps/nfs_servers.h
// The NFS servers the application tests run against, and the FUSE mount of their export.
//
//   HostDriverServer  the project's own: a real netshelf with file-backed disks, the datastore
//                     formatted with `safs format`, and a `hostdriver` process serving it.
//   GaneshaServer     nfs-ganesha in a private network namespace (ganesha_netns.sh), selected
//                     with SPLITARRAY_NFS_APPS_SERVER=ganesha: the same tests against a mature
//                     server tell a bug of the bridge or of a test from a bug of ours.
//
// Failures to start or stop are test failures (REQUIRE) carrying the process's log.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/support_process.h"

namespace splitarray::testing {

class ExportServer {
 public:
  virtual ~ExportServer() = default;
  virtual std::string name() const = 0;
  // Starts serving (first time, or again after stop() or crash()) on the same ports; returns
  // the export's libnfs URL.
  virtual std::string start() = 0;
  // Graceful stop: the server must exit cleanly.
  virtual void stop() = 0;
  // SIGKILL, as a crash.
  virtual void crash() = 0;
  // While stopped: checks the consistency of what the server stored (the datastore's fsck).
  virtual void check_stored_data() = 0;
  // The last lines the server logged, for failure messages.
  virtual std::string log_tail() const = 0;
  // The command prefix that runs a client where the server is reachable.
  virtual std::vector<std::string> client_prefix() const = 0;
};

// The server SPLITARRAY_NFS_APPS_SERVER names ("hostdriver", the default, or "ganesha"), with
// its state (disks, logs, exported data) under `dir`.
std::unique_ptr<ExportServer> make_export_server(const std::string& dir);

// nfs_fuse mounting `url` on `mountpoint`, in the foreground, its output in `log_path`.
class FuseMount final {
 public:
  FuseMount(const ExportServer& server, const std::string& url, std::string mountpoint,
            std::string log_path);
  ~FuseMount();  // unmounts (lazily if busy) and stops the bridge; never fails
  FuseMount(const FuseMount&) = delete;
  FuseMount& operator=(const FuseMount&) = delete;

  const std::string& path() const { return mountpoint_; }
  // Unmounts; the mount must not be busy and the bridge must exit cleanly.
  void unmount();

 private:
  bool release(bool lazy_if_busy);  // true if the unmount and the bridge's exit were clean

  std::string mountpoint_;
  std::string log_path_;
  std::unique_ptr<ChildProcess> bridge_;
};

}  // namespace splitarray::testing
