#include "netshelf/service/shelf.h"

// Hosts batch at most kNvramRecordsPerAppendDefault records per append; the shelf must take them.
static_assert(splitarray::netshelf::nvram::NvramConfig{}.append_records_max >=
                  splitarray::protocol::kNvramRecordsPerAppendDefault,
              "the shelf's default append limit refuses what hosts send");

namespace splitarray::netshelf {
namespace {

nvram::NvramConfig nvram_config(const ShelfConfig& config) {
  nvram::NvramConfig out;
  out.file_bytes = config.nvram.size_bytes;
  out.max_hosts = config.nvram.hosts_max;
  // One append may take at most a quarter of a host's ring, so a full ring is never the only
  // thing standing between a host and progress after one trim.
  out.append_max_bytes = std::min<uint64_t>(out.append_max_bytes,
                                            config.nvram.size_bytes / config.nvram.hosts_max / 4);
  return out;
}

// Formatting creates a complete (empty) index. Opening finds one, or — when the index directory
// was emptied or moved away (DESIGN.md §5: the index is derived data) — starts an empty one
// marked rebuilding, so status says it must be rebuilt rather than serving it as complete.
index::IndexStoreConfig index_config(const ShelfConfig& config, bool formatting) {
  index::IndexStoreConfig out;
  out.dir = config.index_dir;
  out.create_if_missing = true;
  out.mark_created_rebuilding = !formatting;
  return out;
}

RegisterStoreConfig register_config(const ShelfConfig& config) {
  RegisterStoreConfig out;
  out.path = config.registers_path;
  return out;
}

protocol::DiskStateValue to_wire(DiskState state) {
  switch (state) {
    case DiskState::kHealthy:
      return protocol::DiskStateValue::kHealthy;
    case DiskState::kFailed:
      return protocol::DiskStateValue::kFailed;
    case DiskState::kRebuilding:
      return protocol::DiskStateValue::kRebuilding;
  }
  UNREACHABLE("disk state");
}

}  // namespace

DiskSetConfig disk_set_config(const ShelfConfig& config) {
  DiskSetConfig out;
  out.cluster = config.cluster_id;
  out.shelf = config.shelf_id;
  out.slot_payload_max_bytes = static_cast<uint32_t>(config.slot_payload_bytes);
  for (size_t i = 0; i < config.disks.size(); ++i) {
    out.disks.push_back(DiskSlotConfig{DiskIndex(static_cast<uint16_t>(i)), config.disks[i].path});
  }
  return out;
}

Task<Result<void>> Shelf::format(Env& env, const ShelfConfig& config, bool overwrite) {
  if (!overwrite) {
    auto existing = co_await env.storage.open(config.nvram.path, {});
    if (existing.ok()) {
      co_return make_error(Code::kInvalidArgument,
                           config.nvram.path +
                               " exists: this shelf is already formatted (formatting again "
                               "destroys its data; pass --force to do it anyway)");
    }
  }
  DiskFormatOptions disk_options;
  disk_options.slot_payload_max_bytes = static_cast<uint32_t>(config.slot_payload_bytes);
  // Each disk is created at its configured size; DiskSet::format extends missing files.
  DiskSetConfig disks = disk_set_config(config);
  for (size_t i = 0; i < config.disks.size(); ++i) {
    disk_options.capacity_bytes = config.disks[i].size_bytes;
    DiskSetConfig one = disks;
    one.disks = {disks.disks[i]};
    CO_ASSIGN_OR_RETURN(std::unique_ptr<DiskSet> formatted,
                        co_await DiskSet::format(env, one, disk_options));
    const std::vector<DiskInfo> infos = formatted->infos();
    if (infos.empty() || infos[0].state != DiskState::kHealthy) {
      co_return make_error(Code::kIo, "formatting " + config.disks[i].path +
                                          " failed: " + (infos.empty() ? "" : infos[0].failure));
    }
  }
  CO_ASSIGN_OR_RETURN(
      std::unique_ptr<nvram::NvramLog> log,
      co_await nvram::NvramLog::format(env, config.nvram.path, nvram_config(config)));
  CO_RETURN_IF_ERROR(co_await env.storage.make_directory(config.index_dir));
  CO_ASSIGN_OR_RETURN(std::unique_ptr<index::IndexStore> index,
                      co_await index::IndexStore::open(env, index_config(config, true)));
  CO_ASSIGN_OR_RETURN(std::unique_ptr<RegisterStore> registers,
                      co_await RegisterStore::open(env, register_config(config)));
  co_await registers->close();
  co_return ok_result();
}

Task<Result<std::unique_ptr<Shelf>>> Shelf::open(Env& env, ShelfConfig config) {
  std::unique_ptr<Shelf> shelf(new Shelf(std::move(config)));
  const ShelfConfig& c = shelf->config_;
  // Disks first: a disk that cannot be opened is listed as failed, never fatal.
  CO_ASSIGN_OR_RETURN(shelf->disks_, co_await DiskSet::open(env, disk_set_config(c)));
  for (const DiskInfo& info : shelf->disks_->infos()) {
    if (info.state == DiskState::kFailed) {
      env.log.warn("shelf.disk_failed", {{"disk", info.index.value()}, {"reason", info.failure}});
      continue;
    }
    // A disk formatted at another size than the config says is a config error, not a fault.
    if (info.slot_payload_max_bytes != c.slot_payload_bytes) {
      co_return make_error(Code::kInvalidArgument,
                           "config: slot_payload_bytes is " + std::to_string(c.slot_payload_bytes) +
                               " but disk " + std::to_string(info.index.value()) +
                               " was formatted with " +
                               std::to_string(info.slot_payload_max_bytes));
    }
    const uint64_t configured = c.disks[info.index.value()].size_bytes;
    if (info.capacity_bytes != configured) {
      co_return make_error(Code::kInvalidArgument,
                           "config: disks[" + std::to_string(info.index.value()) + "] (" +
                               c.disks[info.index.value()].path + "): size_bytes is " +
                               std::to_string(configured) + " but the disk was formatted with " +
                               std::to_string(info.capacity_bytes));
    }
  }
  CO_ASSIGN_OR_RETURN(shelf->nvram_,
                      co_await nvram::NvramLog::open(env, c.nvram.path, nvram_config(c)));
  for (HostId host : shelf->nvram_->hosts()) {
    if (auto damage = shelf->nvram_->damage(host); damage.has_value()) {
      env.log.error("shelf.nvram_damaged",
                    {{"host", host.value()}, {"error", damage->to_string()}});
    }
  }
  CO_RETURN_IF_ERROR(co_await env.storage.make_directory(c.index_dir));  // it may have been moved
  CO_ASSIGN_OR_RETURN(shelf->index_, co_await index::IndexStore::open(env, index_config(c, false)));
  if (shelf->index_->rebuilding()) {
    env.log.error("shelf.index_rebuilding",
                  {{"dir", c.index_dir},
                   {"rebuild_id", shelf->index_->rebuild_id()},
                   {"action", "run the index rebuild admin request (netshelf/README.md)"}});
  }
  CO_ASSIGN_OR_RETURN(shelf->registers_, co_await RegisterStore::open(env, register_config(c)));
  co_return shelf;
}

Shelf::~Shelf() { ASSERT_MSG(closed_ || registers_ == nullptr, "Shelf destroyed without close()"); }

Task<void> Shelf::close() {
  if (closed_) co_return;
  closed_ = true;
  if (registers_ != nullptr) co_await registers_->close();
}

Result<void> Shelf::check_fence(HostId host, Epoch epoch) const {
  Result<nvram::LogUsage> usage = nvram_->usage(host);
  if (!usage.ok()) return ok_result();  // no log yet: nothing to fence against
  if (epoch < usage->fence) {
    return make_error(Code::kStale, "epoch " + std::to_string(epoch.value()) +
                                        " is older than host " + std::to_string(host.value()) +
                                        "'s fence " + std::to_string(usage->fence.value()));
  }
  return ok_result();
}

protocol::StatusRep Shelf::status(const HostStats& stats) const {
  protocol::StatusRep rep;
  rep.cluster_id = config_.cluster_id.value();
  rep.shelf_id = config_.shelf_id.value();
  for (const DiskInfo& d : disks_->infos()) {
    rep.disks.push_back(protocol::DiskInfoValue{d.index.value(), to_wire(d.state), d.capacity_bytes,
                                                d.slots_total, d.slots_used, d.disk_generation,
                                                d.slot_payload_max_bytes});
  }
  for (HostId host : nvram_->hosts()) {
    Result<nvram::LogUsage> u = nvram_->usage(host);
    if (!u.ok()) continue;
    rep.nvram.push_back(protocol::NvramUsageValue{host.value(), u->used_bytes, u->capacity_bytes,
                                                  u->first_sequence, u->next_sequence});
  }
  for (const auto& [host, c] : stats.hosts()) {
    rep.hosts.push_back(protocol::HostStatsValue{
        host.value(), c.requests, c.bytes_in, c.bytes_out,
        std::vector<uint64_t>(c.latency_buckets.begin(), c.latency_buckets.end())});
  }
  rep.index = protocol::IndexStatusValue{index_->memory().size(), index_->rebuilding(),
                                         index_->rebuild_id()};
  return rep;
}

}  // namespace splitarray::netshelf
