#include "hostdriver/arrayctl/status_collect.h"

#include <set>

namespace splitarray::hostdriver::arrayctl {
namespace {

// The ids to look up: every host that ever published, and every id the shelf counts requests or
// keeps a log for (0 is the shelf's bucket for requests without a host id, never a host).
Task<std::set<uint32_t>> host_ids(protocol::ShelfClient& shelf, StatusSnapshot& snapshot) {
  std::set<uint32_t> ids;
  for (const protocol::HostStatsValue& s : snapshot.shelf.hosts) ids.insert(s.host_id);
  for (const protocol::NvramUsageValue& n : snapshot.shelf.nvram) ids.insert(n.host_id);
  auto directory = co_await shelf.register_get(status::host_directory_register());
  if (!directory.ok()) {
    snapshot.warnings.push_back("host directory: " + directory.error().to_string());
  } else if (directory->exists && !directory->value.empty()) {
    auto listed = status::decode_host_directory(directory->value);
    if (listed.ok()) {
      for (HostId id : *listed) ids.insert(id.value());
    } else {
      snapshot.warnings.push_back("host directory: " + listed.error().to_string());
    }
  }
  ids.erase(0);
  co_return ids;
}

Task<HostRecord> read_host(protocol::ShelfClient& shelf, HostId id) {
  HostRecord record;
  record.id = id;
  auto value = co_await shelf.register_get(status::host_status_register(id));
  if (!value.ok()) {
    record.error = "reading " + status::host_status_register(id) + ": " + value.error().to_string();
    co_return record;
  }
  if (!value->exists || value->value.empty()) co_return record;  // not published
  auto decoded = status::decode_host_status(value->value);
  if (!decoded.ok()) {
    record.error = decoded.error().to_string();
  } else if (decoded->host != id) {
    record.error = "the record under host " + std::to_string(id.value()) + " names host " +
                   std::to_string(decoded->host.value());
  } else {
    record.status = std::move(decoded).value();
  }
  co_return record;
}

Task<void> read_roots(protocol::ShelfClient& shelf, StatusSnapshot& snapshot) {
  std::set<std::string> names;
  for (const HostRecord& host : snapshot.hosts) {
    if (!host.status) continue;
    for (const status::DatastoreStatus& d : host.status->datastores) names.insert(d.name);
  }
  for (const std::string& name : names) {
    auto value = co_await shelf.register_get(datastore_root_register(name));
    if (!value.ok()) {
      snapshot.warnings.push_back("root of datastore " + name + ": " + value.error().to_string());
      continue;
    }
    snapshot.roots.push_back(DatastoreRoot{name, value->exists, value->version, value->epoch});
  }
}

}  // namespace

std::string datastore_root_register(std::string_view datastore) {
  return "datastores/" + std::string(datastore) + "/root";
}

Task<Result<StatusSnapshot>> collect_status(Env& env, protocol::ShelfClient& shelf,
                                            std::string shelf_address) {
  StatusSnapshot snapshot;
  snapshot.shelf_address = std::move(shelf_address);
  CO_ASSIGN_OR_RETURN(snapshot.shelf, co_await shelf.status());
  const std::set<uint32_t> ids = co_await host_ids(shelf, snapshot);
  size_t read = 0;
  for (uint32_t id : ids) {
    if (read == kHostsReadMax) {
      snapshot.warnings.push_back(std::to_string(ids.size() - read) +
                                  " more hosts not read (at most " + std::to_string(kHostsReadMax) +
                                  ")");
      break;
    }
    snapshot.hosts.push_back(co_await read_host(shelf, HostId(id)));
    ++read;
  }
  co_await read_roots(shelf, snapshot);
  // After the records: a record published while we read is not "in the future".
  snapshot.taken_at = env.clock.wall_now();
  ASSERT(snapshot.hosts.size() <= kHostsReadMax);
  co_return snapshot;
}

}  // namespace splitarray::hostdriver::arrayctl
