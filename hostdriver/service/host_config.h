// hostdriver/service/host_config.h
// The host driver's settings, from its command line:
//   hostdriver --shelf HOST:PORT [--datastore NAME] [--host-id N]
//              [--listen ADDR] [--nfs-port N] [--mount-port N] [--portmap-port N]
//              [--export PATH] [--clients NET[,NET...]] [--no-root-squash] [--read-only]
//              [--close-timeout SECONDS] [--read-cache-mib N] [--poll-us N]
//              [geometry: --block-size B --data-fragments K --parity-fragments M
//                         --fragment-bytes F]
// Defaults serve the datastore "default" as /default on 127.0.0.1 (NFS 20490, MOUNT 20048, no
// portmapper) to 127.0.0.1 only, with root squashing: nothing is exposed that was not asked for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hostdriver/fs/file_system.h"
#include "hostdriver/nfs/exports.h"

namespace splitarray::hostdriver::service {

inline constexpr uint16_t kNfsPortDefault = 20490;
inline constexpr uint16_t kMountPortDefault = 20048;
// How long a stop may spend on its final checkpoint before it gives up on the shelf (an
// unreachable shelf would otherwise hold the stop forever); acknowledged writes stay safe.
inline constexpr Duration kCloseTimeoutDefault = std::chrono::seconds(30);
inline constexpr int64_t kCloseTimeoutSecondsMax = 3600;
// Host memory for decoded blocks (blockstore/read_cache.h), filled by reads and by writes of new
// blocks. The block store's own default (64 MiB) suits tests and the simulator; a host driver
// serving virtual machines gets 1 GiB, so a working set of that size is read from host memory
// rather than from the shelf (the role DESIGN.md gives the host's flash cache, which does not
// exist yet). Its pages are committed only as it fills.
inline constexpr uint64_t kReadCacheMibDefault = 1024;
inline constexpr uint64_t kReadCacheMibMax = 256 * 1024;
// How long the event loop keeps polling after it runs out of work before it blocks
// (common/env_asio/event_loop.h): a queue-depth-1 client's next call then finds it awake. 200 us
// covers a loopback client's turn-around here; 20 us was too short to matter. Measured with
// nfs_bench, fresh cluster each (rows that changed most): 4 KiB random read qd 1 6.3-7.2k ->
// 13-17k IOPS, readdir 114k -> 179-210k entries/s, stat 9.7k -> 19k ops/s; the host driver's CPU
// over the random rows rose ~25%. 0 blocks at once (no polling).
inline constexpr int64_t kPollUsDefault = 200;
inline constexpr int64_t kPollUsMax = 10'000;

struct HostConfig {
  fs::FsConfig fs;  // shelf address, datastore, host id, geometry
  std::string listen_host = "127.0.0.1";
  uint16_t nfs_port = kNfsPortDefault;
  uint16_t mount_port = kMountPortDefault;
  uint16_t portmap_port = 0;  // 0: no portmapper (111 for stock clients)
  nfs::Export exported;
  std::string label;  // how `arrayctl status` names this host (main sets the hostname)
  Duration close_timeout = kCloseTimeoutDefault;
  Duration poll = std::chrono::microseconds(kPollUsDefault);
};

// Parses argv[1..]; kInvalidArgument naming the bad option.
Result<HostConfig> parse_host_config(int argc, const char* const* argv);
std::string host_usage();

// The libnfs URL of the export (what the quick start prints).
std::string export_url(const HostConfig& config);

}  // namespace splitarray::hostdriver::service
