// netshelf/service/shelf.h
// Shelf: the shelf's durable state — disks, the NVRAM log, the fingerprint index and the
// registers — created by `netshelf format` and opened by `netshelf --config`. It never hashes,
// compresses, erasure-codes or interprets file data (DESIGN.md §7).
//
// Fencing: every mutating request carries (host, epoch). The NVRAM log keeps a durable fence
// epoch per host; fragment and index mutations are checked against that same fence, so a host
// fenced off its log is fenced off everything (check_fence). Registers carry their own epochs.
// Threading: the Env's event loop.
#pragma once

#include <memory>

#include "netshelf/config/shelf_config.h"
#include "netshelf/disk/disk_set.h"
#include "netshelf/index/index_store.h"
#include "netshelf/nvram/nvram_log.h"
#include "netshelf/registers/registers.h"
#include "netshelf/service/host_stats.h"
#include "protocol/shelf_messages.h"

namespace splitarray::netshelf {

class Shelf final {
 public:
  // Creates every file and directory the config names, fresh. Refuses (kInvalidArgument) when
  // the NVRAM file already exists unless `overwrite`: formatting destroys acknowledged data.
  static Task<Result<void>> format(Env& env, const ShelfConfig& config, bool overwrite);
  static Task<Result<std::unique_ptr<Shelf>>> open(Env& env, ShelfConfig config);
  ~Shelf();
  Shelf(const Shelf&) = delete;
  Shelf& operator=(const Shelf&) = delete;

  // Flushes and closes the components. Must be awaited before destruction.
  Task<void> close();

  // kStale when `epoch` is older than the host's fence.
  Result<void> check_fence(HostId host, Epoch epoch) const;

  protocol::StatusRep status(const HostStats& stats) const;

  const ShelfConfig& config() const { return config_; }
  DiskSet& disks() { return *disks_; }
  nvram::NvramLog& nvram() { return *nvram_; }
  index::IndexStore& index() { return *index_; }
  RegisterStore& registers() { return *registers_; }

 private:
  explicit Shelf(ShelfConfig config) : config_(std::move(config)) {}

  const ShelfConfig config_;
  std::unique_ptr<DiskSet> disks_;
  std::unique_ptr<nvram::NvramLog> nvram_;
  std::unique_ptr<index::IndexStore> index_;
  std::unique_ptr<RegisterStore> registers_;
  bool closed_ = false;
};

DiskSetConfig disk_set_config(const ShelfConfig& config);

}  // namespace splitarray::netshelf
