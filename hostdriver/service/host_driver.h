// hostdriver/service/host_driver.h
// HostDriver: one datastore served over NFS v3 from this host. It takes the datastore over
// (fs::FileSystem::open fences any previous owner), loads the handle key from the shelf, and
// serves the NFS v3, MOUNT and (optionally) portmapper programs on their ports.
//
// Lifecycle: start() -> serve() (returns after stop()) -> close(). close() checkpoints and closes
// the file system, so a restart replays nothing; a crash instead is recovered by the next open.
// config.close_timeout runs from stop() (or close(), without a stop): it bounds the calls in
// flight finishing as well as the closing checkpoint. When it passes (the shelf is unreachable)
// the host gives up on the shelf, the calls still waiting on it fail, and close() returns an
// error: what the shelf acknowledged is in its NVRAM, and the next start replays it.
// While it runs, the host publishes its status (state, export, datastore figures, NFS counters)
// to the shelf register hosts/<id>/status every 2 s, which `arrayctl status` shows.
// Threading: the Env's event loop.
#pragma once

#include <memory>

#include "common/env.h"
#include "hostdriver/fs/file_system.h"
#include "hostdriver/nfs/file_handle.h"
#include "hostdriver/nfs/mount_program.h"
#include "hostdriver/nfs/nfs3/nfs3_program.h"
#include "hostdriver/nfs/onc_rpc_server.h"
#include "hostdriver/nfs/portmap_program.h"
#include "hostdriver/service/host_config.h"
#include "hostdriver/status/status_publisher.h"

namespace splitarray::hostdriver::service {

class HostDriver final {
 public:
  // `fresh_key`: random bytes, used only if the datastore has no handle key yet.
  static Task<Result<std::unique_ptr<HostDriver>>> start(Env& env, HostConfig config,
                                                         nfs::HandleKey fresh_key);
  ~HostDriver();
  HostDriver(const HostDriver&) = delete;
  HostDriver& operator=(const HostDriver&) = delete;

  // The configuration with the ports actually bound (port 0 asks the OS for one).
  const HostConfig& config() const { return config_; }
  Task<void> serve();
  void stop();
  // The file system's close_error() (naming the timeout if it gave up on the shelf), else ok;
  // idempotent.
  Task<Result<void>> close();

  fs::FileSystem& file_system() { return *fs_; }
  const nfs::OncRpcServer& rpc() const { return *server_; }
  const nfs::nfs3::Nfs3Program& nfs() const { return *nfs3_; }

 private:
  HostDriver(Env& env, HostConfig config, std::unique_ptr<fs::FileSystem> fs);
  Result<void> bind(const nfs::HandleKey& key);
  void start_publishing();
  status::HostStatus snapshot() const;
  // Arms the close_timeout timer once; when it fires, the file system abandons the shelf.
  void arm_close_deadline();

  Env& env_;
  HostConfig config_;
  std::unique_ptr<fs::FileSystem> fs_;
  std::unique_ptr<nfs::nfs3::Nfs3Program> nfs3_;
  std::unique_ptr<nfs::MountProgram> mount_;
  std::unique_ptr<nfs::PortmapProgram> portmap_;
  std::unique_ptr<nfs::OncRpcServer> server_;
  std::unique_ptr<status::StatusPublisher> publisher_;
  bool stopping_ = false;
  bool closed_ = false;
  TimerId close_deadline_ = 0;               // armed by arm_close_deadline(), until close() ends
  bool gave_up_ = false;                     // close_deadline_ fired
  Result<void> close_result_ = ok_result();  // what close() returned (a second call repeats it)
};

}  // namespace splitarray::hostdriver::service
