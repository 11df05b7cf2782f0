// netshelf/config/shelf_config.h
// The shelf's configuration file (JSON), parsed and validated up front with errors that name the
// offending key, so a typo never silently becomes a default. Example:
//   {
//     "cluster_id": 1, "shelf_id": 1, "listen": "127.0.0.1:20100",
//     "disks": [{"path": "/srv/shelf/disk0.img", "size_bytes": 1073741824}, ...],
//     "nvram": {"path": "/srv/shelf/nvram.img", "size_bytes": 268435456, "hosts_max": 16},
//     "index_dir": "/srv/shelf/index", "registers_path": "/srv/shelf/registers.log",
//     "log_level": "info"
//   }
// Optional keys and defaults are listed in README.md ("Shelf configuration").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/result.h"

namespace splitarray::netshelf {

inline constexpr size_t kDisksMax = 256;
inline constexpr uint64_t kDiskMinBytes = 16 * kMiB;
inline constexpr uint64_t kNvramMinBytes = 1 * kMiB;
inline constexpr uint32_t kNvramHostsMax = 1024;
inline constexpr uint64_t kConfigSlotPayloadBytesDefault = 1 * kMiB;
inline constexpr size_t kConfigMaxBytes = 1 * kMiB;

struct DiskConfig {
  std::string path;
  uint64_t size_bytes = 0;
};

struct NvramConfigFile {
  std::string path;
  uint64_t size_bytes = 0;
  uint32_t hosts_max = 16;
};

struct ShelfConfig {
  ClusterId cluster_id;
  ShelfId shelf_id;
  Address listen;
  std::vector<DiskConfig> disks;
  uint64_t slot_payload_bytes = kConfigSlotPayloadBytesDefault;  // fragment payload per slot
  NvramConfigFile nvram;
  std::string index_dir;
  std::string registers_path;
  LogLevel log_level = LogLevel::kInfo;
  size_t connections_max = 1024;
  size_t inflight_per_connection_max = 256;
};

// Parses and validates. Errors are kInvalidArgument with a message naming the key.
Result<ShelfConfig> parse_shelf_config(std::string_view json_text);

// Reads and parses a config file through Env storage.
Task<Result<ShelfConfig>> load_shelf_config(Env& env, const std::string& path);

}  // namespace splitarray::netshelf
