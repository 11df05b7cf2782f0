#include "netshelf/disk/disk_set.h"

#include <set>
#include <utility>

namespace splitarray::netshelf {

DiskSet::DiskSet(Env& env, DiskSetConfig config) : env_(env), config_(std::move(config)) {}

// Not inside a coroutine: GCC 12 reports -Wmismatched-new-delete for a `new` in a coroutine body.
std::unique_ptr<DiskSet> DiskSet::make(Env& env, DiskSetConfig config) {
  return std::unique_ptr<DiskSet>(new DiskSet(env, std::move(config)));
}

Result<void> DiskSet::validate(const DiskSetConfig& config) {
  if (config.disks.empty()) return make_error(Code::kInvalidArgument, "no disks configured");
  if (config.disks.size() > kDisksPerShelfMax) {
    return make_error(Code::kInvalidArgument,
                      "more than " + std::to_string(kDisksPerShelfMax) + " disks configured");
  }
  std::set<DiskIndex> indexes;
  std::set<std::string> paths;
  for (const DiskSlotConfig& d : config.disks) {
    if (d.path.empty()) return make_error(Code::kInvalidArgument, "disk with an empty path");
    if (!indexes.insert(d.index).second) {
      return make_error(Code::kInvalidArgument,
                        "disk index " + std::to_string(d.index.value()) + " configured twice");
    }
    if (!paths.insert(d.path).second) {
      return make_error(Code::kInvalidArgument, "disk path " + d.path + " configured twice");
    }
  }
  return ok_result();
}

DiskIdentity DiskSet::identity_of(DiskIndex index) const {
  return DiskIdentity{.cluster = config_.cluster, .shelf = config_.shelf, .index = index};
}

Task<Result<std::unique_ptr<DiskSet>>> DiskSet::open(Env& env, DiskSetConfig config) {
  CO_RETURN_IF_ERROR(validate(config));
  auto set = make(env, std::move(config));
  for (const DiskSlotConfig& d : set->config_.disks) {
    Member member{.path = d.path, .disk = nullptr, .open_error = ""};
    auto opened = co_await Disk::open(env, d.path, set->identity_of(d.index));
    if (opened.ok()) {
      member.disk = std::move(opened).value();
    } else {
      member.open_error = opened.error().to_string();
      env.log.error("disk.open_failed", {{"path", d.path}, {"why", member.open_error}});
    }
    set->members_.emplace(d.index, std::move(member));
  }
  ASSERT(set->members_.size() == set->config_.disks.size());
  co_return set;
}

Task<Result<std::unique_ptr<DiskSet>>> DiskSet::format(Env& env, DiskSetConfig config,
                                                       DiskFormatOptions options) {
  CO_RETURN_IF_ERROR(validate(config));
  for (const DiskSlotConfig& d : config.disks) {
    const DiskIdentity identity{.cluster = config.cluster, .shelf = config.shelf, .index = d.index};
    CO_ASSIGN_OR_RETURN(auto disk, co_await Disk::format(env, d.path, identity, options));
    ASSERT(disk->inflight() == 0);
  }
  co_return co_await open(env, std::move(config));
}

Result<Disk*> DiskSet::disk(DiskIndex index) {
  const auto it = members_.find(index);
  if (it == members_.end()) {
    return make_error(Code::kNotFound, "no disk " + std::to_string(index.value()));
  }
  if (it->second.disk == nullptr) {
    return make_error(Code::kUnavailable, "disk " + std::to_string(index.value()) +
                                              " did not open: " + it->second.open_error);
  }
  return it->second.disk.get();
}

std::vector<DiskInfo> DiskSet::infos() const {
  std::vector<DiskInfo> out;
  out.reserve(members_.size());
  for (const auto& [index, member] : members_) {
    if (member.disk != nullptr) {
      out.push_back(member.disk->info());
    } else {
      DiskInfo info;
      info.index = index;
      info.state = DiskState::kFailed;
      info.failure = member.open_error;
      out.push_back(std::move(info));
    }
  }
  return out;
}

Task<Result<void>> DiskSet::replace(DiskIndex index, std::string path, uint64_t capacity_bytes) {
  const auto it = members_.find(index);
  if (it == members_.end()) {
    co_return make_error(Code::kNotFound, "no disk " + std::to_string(index.value()));
  }
  Member& member = it->second;
  DiskFormatOptions options;
  options.capacity_bytes = capacity_bytes;
  options.state = DiskState::kRebuilding;
  // Unknown generation (the old disk never opened) counts as 0, so the replacement gets 1.
  options.disk_generation = 1;
  options.slot_payload_max_bytes = config_.slot_payload_max_bytes;
  if (member.disk != nullptr) {
    if (member.disk->inflight() > 0) co_return make_error(Code::kBusy, "disk has I/O in flight");
    const DiskInfo old = member.disk->info();
    options.disk_generation = old.disk_generation + 1;
    options.slot_payload_max_bytes = old.slot_payload_max_bytes;
    if (capacity_bytes == 0) options.capacity_bytes = old.capacity_bytes;
    member.disk.reset();  // close the old file before the new format may reuse its path
  }
  auto formatted = co_await Disk::format(env_, path, identity_of(index), options);
  if (!formatted.ok()) {
    member.open_error = "replacement format failed: " + formatted.error().to_string();
    co_return std::move(formatted).take_error();
  }
  member.disk = std::move(formatted).value();
  member.path = std::move(path);
  member.open_error.clear();
  env_.log.info("disk.replaced", {{"path", member.path},
                                  {"disk", unsigned{index.value()}},
                                  {"generation", member.disk->disk_generation()}});
  co_return ok_result();
}

}  // namespace splitarray::netshelf
