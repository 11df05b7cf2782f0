#include "hostdriver/arrayctl/status_report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace splitarray::hostdriver::arrayctl {
namespace {

using nlohmann::json;
using status::DatastoreStatus;
using status::HostStatus;

// --- formatting ----------------------------------------------------------------------------------

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

double percent(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

double round2(double value) { return std::round(value * 100.0) / 100.0; }

int64_t whole_seconds(Duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

// Columns padded to their widest cell; numeric columns right-aligned.
class Table {
 public:
  Table(std::vector<std::string> headers, std::vector<bool> right_aligned)
      : headers_(std::move(headers)), right_(std::move(right_aligned)) {
    ASSERT(headers_.size() == right_.size());
  }
  void add(std::vector<std::string> row) {
    ASSERT(row.size() == headers_.size());
    rows_.push_back(std::move(row));
  }
  std::string render() const {
    std::vector<size_t> widths(headers_.size());
    for (size_t c = 0; c < headers_.size(); ++c) widths[c] = headers_[c].size();
    for (const auto& row : rows_) {
      for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
    }
    std::string out = line(headers_, widths);
    for (const auto& row : rows_) out += line(row, widths);
    return out;
  }

 private:
  std::string line(const std::vector<std::string>& cells, const std::vector<size_t>& widths) const {
    std::string out = "  ";
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string pad(widths[c] - cells[c].size(), ' ');
      const bool last = c + 1 == cells.size();
      out += right_[c] ? pad + cells[c] : cells[c] + (last ? "" : pad);
      if (!last) out += "  ";
    }
    return out + "\n";
  }

  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// --- the view: which shelf counters and logs belong to which host ------------------------------

struct ShelfCounters {
  uint64_t requests = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

struct HostView {
  const HostRecord* record = nullptr;
  ShelfCounters shelf;
};

// Log ids that published hosts' datastores write (they are not hosts of their own).
std::map<uint32_t, std::string> claimed_logs(const StatusSnapshot& snapshot) {
  std::map<uint32_t, std::string> owners;  // log id -> "datastore@host N"
  for (const HostRecord& host : snapshot.hosts) {
    if (!host.status) continue;
    for (const DatastoreStatus& d : host.status->datastores) {
      if (d.log_id == 0) continue;
      owners.emplace(d.log_id, d.name + "@host " + std::to_string(host.id.value()));
    }
  }
  return owners;
}

std::vector<HostView> host_views(const StatusSnapshot& snapshot) {
  const std::map<uint32_t, std::string> claimed = claimed_logs(snapshot);
  std::vector<HostView> views;
  for (const HostRecord& host : snapshot.hosts) {
    if (!host.status && host.error.empty() && claimed.contains(host.id.value())) continue;
    std::set<uint32_t> ids{host.id.value()};
    if (host.status) {
      for (const DatastoreStatus& d : host.status->datastores) {
        if (d.log_id != 0) ids.insert(d.log_id);
      }
    }
    HostView view{&host, {}};
    for (const protocol::HostStatsValue& s : snapshot.shelf.hosts) {
      if (!ids.contains(s.host_id)) continue;
      view.shelf.requests += s.requests;
      view.shelf.bytes_in += s.bytes_in;
      view.shelf.bytes_out += s.bytes_out;
    }
    views.push_back(view);
  }
  return views;
}

uint64_t unattributed_requests(const StatusSnapshot& snapshot) {
  for (const protocol::HostStatsValue& s : snapshot.shelf.hosts) {
    if (s.host_id == 0) return s.requests;
  }
  return 0;
}

// The one-word state for JSON.
std::string host_state_word(const HostRecord& host, WallTime now) {
  if (!host.error.empty()) return "unreadable";
  if (!host.status) return "not_published";
  if (status::is_stale(*host.status, now)) return "stale";
  return std::string(status::host_state_name(host.status->state));
}

std::string exports_text(const HostStatus& status) {
  std::string out;
  for (const DatastoreStatus& d : status.datastores) {
    if (d.export_url.empty()) continue;
    out += (out.empty() ? "" : " ") + d.export_url;
  }
  return out.empty() ? "-" : out;
}

std::string counters_text(const HostStatus& status) {
  std::string out;
  for (const auto& [name, value] : status.counters) {
    out += (out.empty() ? "" : " ") + name + "=" + std::to_string(value);
  }
  return out.empty() ? "-" : out;
}

// --- table sections ----------------------------------------------------------------------------

std::string shelf_section(const StatusSnapshot& snapshot) {
  const protocol::StatusRep& shelf = snapshot.shelf;
  size_t healthy = 0;
  uint64_t capacity = 0;
  for (const protocol::DiskInfoValue& d : shelf.disks) {
    healthy += d.state == protocol::DiskStateValue::kHealthy ? 1 : 0;
    capacity += d.capacity_bytes;
  }
  std::string index = std::to_string(shelf.index.entries) + " entries";
  if (shelf.index.rebuilding) {
    index += ", REBUILDING (rebuild " + std::to_string(shelf.index.rebuild_id) + ")";
  } else {
    index += ", not rebuilding";
  }
  std::string out = "Shelf " + snapshot.shelf_address + "\n";
  out += "  cluster " + std::to_string(shelf.cluster_id) + ", shelf " +
         std::to_string(shelf.shelf_id) + ", " + std::to_string(shelf.disks.size()) + " disks (" +
         std::to_string(healthy) + " healthy), " + human_bytes(capacity) + " raw\n";
  out += "  index: " + index + "\n";
  out += "  unattributed requests: " + std::to_string(unattributed_requests(snapshot)) + "\n";
  return out;
}

std::string disks_section(const StatusSnapshot& snapshot) {
  Table table({"DISK", "STATE", "CAPACITY", "SLOTS USED", "SLOTS TOTAL", "USED"},
              {true, false, true, true, true, true});
  for (const protocol::DiskInfoValue& d : snapshot.shelf.disks) {
    table.add({std::to_string(d.index), std::string(disk_state_name(d.state)),
               human_bytes(d.capacity_bytes), std::to_string(d.slots_used),
               std::to_string(d.slots_total),
               format("%.1f%%", percent(d.slots_used, d.slots_total))});
  }
  return "\nDisks\n" + table.render();
}

std::string nvram_section(const StatusSnapshot& snapshot) {
  if (snapshot.shelf.nvram.empty()) return "\nNVRAM\n  (no log is in use)\n";
  const std::map<uint32_t, std::string> claimed = claimed_logs(snapshot);
  Table table({"LOG", "OWNER", "USED", "CAPACITY", "USED%", "RECORDS"},
              {true, false, true, true, true, true});
  for (const protocol::NvramUsageValue& n : snapshot.shelf.nvram) {
    const auto owner = claimed.find(n.host_id);
    const uint64_t records =
        n.next_sequence >= n.first_sequence ? n.next_sequence - n.first_sequence : 0;
    table.add({std::to_string(n.host_id), owner != claimed.end() ? owner->second : "-",
               human_bytes(n.used_bytes), human_bytes(n.capacity_bytes),
               format("%.1f%%", percent(n.used_bytes, n.capacity_bytes)), std::to_string(records)});
  }
  return "\nNVRAM\n" + table.render();
}

std::string hosts_section(const StatusSnapshot& snapshot, const std::vector<HostView>& views) {
  if (views.empty()) return "\nHosts\n  (no host has published a status record)\n";
  Table table({"HOST", "LABEL", "STATE", "LAST SEEN", "UP", "SHELF REQUESTS", "COUNTERS", "EXPORT"},
              {true, false, false, true, true, true, false, false});
  for (const HostView& view : views) {
    const HostRecord& host = *view.record;
    const std::string requests = std::to_string(view.shelf.requests);
    const std::string state = host_state_text(host, snapshot.taken_at);
    if (!host.status) {
      table.add({std::to_string(host.id.value()), "-", state, "-", "-", requests, "-", "-"});
      continue;
    }
    const HostStatus& s = *host.status;
    const Duration up(std::max<int64_t>(0, s.published_at.nanos - s.started_at.nanos));
    table.add({std::to_string(host.id.value()), s.label.empty() ? "-" : s.label, state,
               duration_text(status::age(s, snapshot.taken_at)) + " ago", duration_text(up),
               requests, counters_text(s), exports_text(s)});
  }
  return "\nHosts\n" + table.render();
}

std::string datastores_section(const StatusSnapshot& snapshot) {
  Table table({"DATASTORE", "HOST", "FILES", "LOGICAL", "UNIQUE", "STORED", "DEDUP", "COMPRESSION",
               "REDUCTION"},
              {false, true, true, true, true, true, true, true, true});
  size_t rows = 0;
  for (const HostRecord& host : snapshot.hosts) {
    if (!host.status) continue;
    for (const DatastoreStatus& d : host.status->datastores) {
      table.add({d.name, std::to_string(host.id.value()), std::to_string(d.inodes),
                 human_bytes(d.logical_bytes), human_bytes(d.unique_bytes),
                 human_bytes(d.stored_bytes), ratio_text(d.dedup_ratio()),
                 ratio_text(d.compression_ratio()), ratio_text(d.reduction_ratio())});
      ++rows;
    }
  }
  if (rows == 0) return "\nDatastores\n  (no host reports a datastore)\n";
  return "\nDatastores\n" + table.render();
}

// --- JSON ----------------------------------------------------------------------------------------

json shelf_json(const StatusSnapshot& snapshot) {
  const protocol::StatusRep& shelf = snapshot.shelf;
  return json{{"address", snapshot.shelf_address},
              {"cluster_id", shelf.cluster_id},
              {"shelf_id", shelf.shelf_id},
              {"index_entries", shelf.index.entries},
              {"index_rebuilding", shelf.index.rebuilding},
              {"index_rebuild_id", shelf.index.rebuild_id},
              {"unattributed_requests", unattributed_requests(snapshot)}};
}

json disks_json(const StatusSnapshot& snapshot) {
  json out = json::array();
  for (const protocol::DiskInfoValue& d : snapshot.shelf.disks) {
    out.push_back(json{{"index", d.index},
                       {"state", std::string(disk_state_name(d.state))},
                       {"capacity_bytes", d.capacity_bytes},
                       {"slots_used", d.slots_used},
                       {"slots_total", d.slots_total},
                       {"used_percent", round2(percent(d.slots_used, d.slots_total))},
                       {"generation", d.generation}});
  }
  return out;
}

json nvram_json(const StatusSnapshot& snapshot) {
  const std::map<uint32_t, std::string> claimed = claimed_logs(snapshot);
  json out = json::array();
  for (const protocol::NvramUsageValue& n : snapshot.shelf.nvram) {
    const auto owner = claimed.find(n.host_id);
    out.push_back(json{{"log_id", n.host_id},
                       {"owner", owner != claimed.end() ? owner->second : ""},
                       {"used_bytes", n.used_bytes},
                       {"capacity_bytes", n.capacity_bytes},
                       {"used_percent", round2(percent(n.used_bytes, n.capacity_bytes))},
                       {"first_sequence", n.first_sequence},
                       {"next_sequence", n.next_sequence}});
  }
  return out;
}

json host_json(const HostView& view, WallTime now) {
  const HostRecord& host = *view.record;
  json out{{"id", host.id.value()},
           {"state", host_state_word(host, now)},
           {"published", host.status.has_value()},
           {"shelf_requests", view.shelf.requests},
           {"shelf_bytes_in", view.shelf.bytes_in},
           {"shelf_bytes_out", view.shelf.bytes_out}};
  if (!host.error.empty()) out["error"] = host.error;
  if (!host.status) return out;
  const HostStatus& s = *host.status;
  json exports = json::array();
  for (const DatastoreStatus& d : s.datastores) {
    if (!d.export_url.empty()) exports.push_back(d.export_url);
  }
  out["reported_state"] = std::string(status::host_state_name(s.state));
  out["stale"] = status::is_stale(s, now);
  out["label"] = s.label;
  out["instance"] = s.instance;
  out["exports"] = std::move(exports);
  out["started_at_ns"] = s.started_at.nanos;
  out["published_at_ns"] = s.published_at.nanos;
  out["last_seen_seconds"] = whole_seconds(status::age(s, now));
  out["publish_interval_ms"] =
      std::chrono::duration_cast<std::chrono::milliseconds>(s.publish_interval).count();
  out["counters"] = json(s.counters);
  return out;
}

json datastore_json(const DatastoreStatus& d, HostId host, const StatusSnapshot& snapshot) {
  json out{{"name", d.name},
           {"host", host.value()},
           {"export", d.export_url},
           {"log_id", d.log_id},
           {"files", d.inodes},
           {"checkpoints", d.checkpoints},
           {"operations", d.operations},
           {"logical_bytes", d.logical_bytes},
           {"unique_bytes", d.unique_bytes},
           {"stored_bytes", d.stored_bytes},
           {"dedup_ratio", round2(d.dedup_ratio())},
           {"compression_ratio", round2(d.compression_ratio())},
           {"reduction_ratio", round2(d.reduction_ratio())},
           {"blocks_written", d.blocks_written},
           {"zero_blocks", d.zero_blocks},
           {"dedup_hits", d.dedup_hits},
           {"chunks_stored", d.chunks_stored},
           {"containers_destaged", d.containers_destaged},
           {"reads", d.reads},
           {"read_cache_hits", d.read_cache_hits},
           {"degraded_reads", d.degraded_reads},
           {"repairs", d.repairs},
           {"unrecoverable_blocks", d.unrecoverable_blocks}};
  for (const DatastoreRoot& root : snapshot.roots) {
    if (root.datastore != d.name) continue;
    out["root"] = json{{"exists", root.exists}, {"version", root.version}, {"epoch", root.epoch}};
  }
  return out;
}

}  // namespace

std::string human_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < kKiB) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes) / static_cast<double>(kKiB);
  size_t unit = 0;
  // Move up while the value would print as 1024.0 or more at one decimal.
  while (value >= 1023.95 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  return format("%.1f ", value) + kUnits[unit];
}

std::string ratio_text(double ratio) { return format("%.2fx", ratio); }

std::string duration_text(Duration d) {
  const int64_t total = std::max<int64_t>(0, whole_seconds(d));
  char text[32];
  if (total < 60) {
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(total));
  } else if (total < 3600) {
    std::snprintf(text, sizeof text, "%lldm %02llds", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  } else if (total < 86400) {
    std::snprintf(text, sizeof text, "%lldh %02lldm", static_cast<long long>(total / 3600),
                  static_cast<long long>(total % 3600 / 60));
  } else {
    std::snprintf(text, sizeof text, "%lldd %02lldh", static_cast<long long>(total / 86400),
                  static_cast<long long>(total % 86400 / 3600));
  }
  return text;
}

std::string_view disk_state_name(protocol::DiskStateValue state) {
  switch (state) {
    case protocol::DiskStateValue::kHealthy:
      return "healthy";
    case protocol::DiskStateValue::kFailed:
      return "failed";
    case protocol::DiskStateValue::kRebuilding:
      return "rebuilding";
  }
  UNREACHABLE("disk state");
}

std::string host_state_text(const HostRecord& host, WallTime now) {
  if (!host.error.empty()) return "unreadable";
  if (!host.status) return "not published";
  if (status::is_stale(*host.status, now)) {
    return "stale (last seen " + duration_text(status::age(*host.status, now)) + " ago)";
  }
  return std::string(status::host_state_name(host.status->state));
}

std::string render_table(const StatusSnapshot& snapshot) {
  const std::vector<HostView> views = host_views(snapshot);
  std::string out = shelf_section(snapshot);
  out += disks_section(snapshot);
  out += nvram_section(snapshot);
  out += hosts_section(snapshot, views);
  out += datastores_section(snapshot);
  for (const HostView& view : views) {
    if (!view.record->error.empty()) {
      out += "\nhost " + std::to_string(view.record->id.value()) + ": " + view.record->error + "\n";
    }
  }
  for (const std::string& warning : snapshot.warnings) out += "\nwarning: " + warning + "\n";
  return out;
}

std::string render_json(const StatusSnapshot& snapshot) {
  const std::vector<HostView> views = host_views(snapshot);
  json hosts = json::array();
  for (const HostView& view : views) hosts.push_back(host_json(view, snapshot.taken_at));
  json datastores = json::array();
  for (const HostRecord& host : snapshot.hosts) {
    if (!host.status) continue;
    for (const DatastoreStatus& d : host.status->datastores) {
      datastores.push_back(datastore_json(d, host.id, snapshot));
    }
  }
  json root{{"taken_at_ns", snapshot.taken_at.nanos},
            {"shelf", shelf_json(snapshot)},
            {"disks", disks_json(snapshot)},
            {"nvram", nvram_json(snapshot)},
            {"hosts", std::move(hosts)},
            {"datastores", std::move(datastores)},
            {"warnings", snapshot.warnings}};
  return root.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace splitarray::hostdriver::arrayctl
