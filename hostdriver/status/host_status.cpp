#include "hostdriver/status/host_status.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>

namespace splitarray::hostdriver::status {
namespace {

using nlohmann::json;

// The datastore's counters, in one table so encode and decode cannot drift apart.
struct CounterField {
  const char* key;
  uint64_t DatastoreStatus::*member;
};
constexpr CounterField kDatastoreCounters[] = {
    {"inodes", &DatastoreStatus::inodes},
    {"checkpoints", &DatastoreStatus::checkpoints},
    {"operations", &DatastoreStatus::operations},
    {"logical_bytes", &DatastoreStatus::logical_bytes},
    {"unique_bytes", &DatastoreStatus::unique_bytes},
    {"stored_bytes", &DatastoreStatus::stored_bytes},
    {"blocks_written", &DatastoreStatus::blocks_written},
    {"zero_blocks", &DatastoreStatus::zero_blocks},
    {"dedup_hits", &DatastoreStatus::dedup_hits},
    {"chunks_stored", &DatastoreStatus::chunks_stored},
    {"containers_destaged", &DatastoreStatus::containers_destaged},
    {"reads", &DatastoreStatus::reads},
    {"read_cache_hits", &DatastoreStatus::read_cache_hits},
    {"degraded_reads", &DatastoreStatus::degraded_reads},
    {"repairs", &DatastoreStatus::repairs},
    {"unrecoverable_blocks", &DatastoreStatus::unrecoverable_blocks},
};

constexpr const char* kStateNames[] = {"starting", "serving", "stopping", "stopped", "fenced"};

Error bad(const std::string& where, const std::string& what) {
  return make_error(Code::kProtocol, "host status: " + where + ": " + what);
}

double ratio(uint64_t numerator, uint64_t denominator) {
  return denominator == 0 ? 1.0 : static_cast<double>(numerator) / static_cast<double>(denominator);
}

// Serializes with invalid UTF-8 replaced (a label from the OS may hold anything), never throws.
Result<std::vector<uint8_t>> dump_bounded(const json& value, size_t bytes_max, const char* what) {
  std::string text;
  try {
    text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (const json::exception& e) {
    return make_error(Code::kInvalidArgument, std::string(what) + ": " + e.what());
  }
  if (text.size() > bytes_max) {
    return make_error(Code::kInvalidArgument, std::string(what) + " of " +
                                                  std::to_string(text.size()) + " bytes exceeds " +
                                                  std::to_string(bytes_max));
  }
  return std::vector<uint8_t>(text.begin(), text.end());
}

// Parses at most bytes_max bytes of JSON; never throws (nlohmann's parse errors are values here).
Result<json> parse_bounded(std::span<const uint8_t> bytes, size_t bytes_max, const char* what) {
  if (bytes.empty()) return bad(what, "empty");
  if (bytes.size() > bytes_max) {
    return bad(what, std::to_string(bytes.size()) + " bytes exceeds " + std::to_string(bytes_max));
  }
  json root = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return bad(what, "not JSON");
  if (!root.is_object()) return bad(what, "not a JSON object");
  return root;
}

// --- typed reads: a present key of the wrong type is an error; an absent optional key is 0 -------

Result<uint64_t> read_u64(const json& object, const char* key, bool required) {
  const auto it = object.find(key);
  if (it == object.end()) {
    if (required) return bad(key, "missing");
    return uint64_t{0};
  }
  if (!it->is_number_unsigned()) return bad(key, "must be a non-negative integer");
  return it->get<uint64_t>();
}

Result<int64_t> read_i64(const json& object, const char* key, bool required) {
  const auto it = object.find(key);
  if (it == object.end()) {
    if (required) return bad(key, "missing");
    return int64_t{0};
  }
  if (it->is_number_unsigned()) {
    if (it->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
      return bad(key, "out of range");
    }
    return static_cast<int64_t>(it->get<uint64_t>());
  }
  if (!it->is_number_integer()) return bad(key, "must be an integer");
  return it->get<int64_t>();
}

Result<std::string> read_string(const json& object, const char* key, bool required,
                                size_t bytes_max) {
  const auto it = object.find(key);
  if (it == object.end()) {
    if (required) return bad(key, "missing");
    return std::string();
  }
  if (!it->is_string()) return bad(key, "must be a string");
  std::string text = it->get<std::string>();
  if (text.size() > bytes_max) return bad(key, "longer than " + std::to_string(bytes_max));
  return text;
}

// --- the record --------------------------------------------------------------------------------

Result<void> check_limits(const HostStatus& status) {
  auto too_many = [](const std::string& what, size_t got, size_t max) {
    return make_error(Code::kInvalidArgument, "host status: " + what + ": " + std::to_string(got) +
                                                  " exceeds " + std::to_string(max));
  };
  if (status.label.size() > kLabelBytesMax)
    return too_many("label bytes", status.label.size(), kLabelBytesMax);
  if (status.datastores.size() > kDatastoresPerHostMax) {
    return too_many("datastores", status.datastores.size(), kDatastoresPerHostMax);
  }
  for (const DatastoreStatus& d : status.datastores) {
    if (d.name.size() > kLabelBytesMax)
      return too_many("datastore name bytes", d.name.size(), kLabelBytesMax);
    if (d.export_url.size() > kExportUrlBytesMax) {
      return too_many("export url bytes", d.export_url.size(), kExportUrlBytesMax);
    }
  }
  if (status.counters.size() > kCountersMax) {
    return too_many("counters", status.counters.size(), kCountersMax);
  }
  for (const auto& [name, value] : status.counters) {
    if (name.empty() || name.size() > kCounterNameBytesMax) {
      return too_many("counter name bytes", name.size(), kCounterNameBytesMax);
    }
  }
  return ok_result();
}

json datastore_to_json(const DatastoreStatus& d) {
  json out = json::object();
  out["name"] = d.name;
  out["export"] = d.export_url;
  out["log_id"] = d.log_id;
  for (const CounterField& field : kDatastoreCounters) out[field.key] = d.*field.member;
  return out;
}

Result<DatastoreStatus> datastore_from_json(const json& object) {
  if (!object.is_object()) return bad("datastores[]", "must be an object");
  DatastoreStatus d;
  ASSIGN_OR_RETURN(d.name, read_string(object, "name", true, kLabelBytesMax));
  ASSIGN_OR_RETURN(d.export_url, read_string(object, "export", false, kExportUrlBytesMax));
  ASSIGN_OR_RETURN(const uint64_t log_id, read_u64(object, "log_id", false));
  if (log_id > UINT32_MAX) return bad("log_id", "out of range");
  d.log_id = static_cast<uint32_t>(log_id);
  for (const CounterField& field : kDatastoreCounters) {
    ASSIGN_OR_RETURN(d.*field.member, read_u64(object, field.key, false));
  }
  return d;
}

Result<std::map<std::string, uint64_t>> counters_from_json(const json& root) {
  std::map<std::string, uint64_t> out;
  const auto it = root.find("counters");
  if (it == root.end()) return out;
  if (!it->is_object()) return bad("counters", "must be an object");
  if (it->size() > kCountersMax)
    return bad("counters", "more than " + std::to_string(kCountersMax));
  for (const auto& [name, value] : it->items()) {
    if (name.empty() || name.size() > kCounterNameBytesMax) return bad("counters", "bad name");
    if (!value.is_number_unsigned())
      return bad("counters." + name, "must be a non-negative integer");
    out.emplace(name, value.get<uint64_t>());
  }
  return out;
}

Result<HostStatus> host_from_json(const json& root) {
  ASSIGN_OR_RETURN(const uint64_t format, read_u64(root, "format", true));
  if (format != kHostStatusFormat) return bad("format", "unknown format " + std::to_string(format));
  HostStatus status;
  ASSIGN_OR_RETURN(const uint64_t host, read_u64(root, "host", true));
  if (host > UINT32_MAX) return bad("host", "out of range");
  status.host = HostId(static_cast<uint32_t>(host));
  ASSIGN_OR_RETURN(status.instance, read_u64(root, "instance", false));
  ASSIGN_OR_RETURN(status.label, read_string(root, "label", false, kLabelBytesMax));
  ASSIGN_OR_RETURN(const std::string state, read_string(root, "state", true, kLabelBytesMax));
  ASSIGN_OR_RETURN(status.state, parse_host_state(state));
  ASSIGN_OR_RETURN(status.started_at.nanos, read_i64(root, "started_at_ns", false));
  ASSIGN_OR_RETURN(status.published_at.nanos, read_i64(root, "published_at_ns", true));
  ASSIGN_OR_RETURN(const int64_t interval_ns, read_i64(root, "publish_interval_ns", false));
  if (interval_ns < 0) return bad("publish_interval_ns", "negative");
  status.publish_interval = Duration(interval_ns);
  if (const auto it = root.find("datastores"); it != root.end()) {
    if (!it->is_array()) return bad("datastores", "must be an array");
    if (it->size() > kDatastoresPerHostMax) {
      return bad("datastores", "more than " + std::to_string(kDatastoresPerHostMax));
    }
    for (const json& d : *it) {
      ASSIGN_OR_RETURN(DatastoreStatus datastore, datastore_from_json(d));
      status.datastores.push_back(std::move(datastore));
    }
  }
  ASSIGN_OR_RETURN(status.counters, counters_from_json(root));
  return status;
}

}  // namespace

std::string_view host_state_name(HostState state) {
  const size_t index = static_cast<size_t>(state);
  ASSERT(index < std::size(kStateNames));
  return kStateNames[index];
}

Result<HostState> parse_host_state(std::string_view text) {
  for (size_t i = 0; i < std::size(kStateNames); ++i) {
    if (text == kStateNames[i]) return static_cast<HostState>(i);
  }
  return bad("state", "unknown state '" + std::string(text) + "'");
}

double DatastoreStatus::dedup_ratio() const { return ratio(logical_bytes, unique_bytes); }
double DatastoreStatus::compression_ratio() const { return ratio(unique_bytes, stored_bytes); }
double DatastoreStatus::reduction_ratio() const { return ratio(logical_bytes, stored_bytes); }

Result<std::vector<uint8_t>> encode_host_status(const HostStatus& status) {
  RETURN_IF_ERROR(check_limits(status));
  json root = json::object();
  root["format"] = kHostStatusFormat;
  root["host"] = status.host.value();
  root["instance"] = status.instance;
  root["label"] = status.label;
  root["state"] = std::string(host_state_name(status.state));
  root["started_at_ns"] = status.started_at.nanos;
  root["published_at_ns"] = status.published_at.nanos;
  root["publish_interval_ns"] = status.publish_interval.count();
  json datastores = json::array();
  for (const DatastoreStatus& d : status.datastores) datastores.push_back(datastore_to_json(d));
  root["datastores"] = std::move(datastores);
  json counters = json::object();
  for (const auto& [name, value] : status.counters) counters[name] = value;
  root["counters"] = std::move(counters);
  return dump_bounded(root, kHostStatusBytesMax, "host status");
}

Result<HostStatus> decode_host_status(std::span<const uint8_t> bytes) {
  try {
    ASSIGN_OR_RETURN(const json root, parse_bounded(bytes, kHostStatusBytesMax, "host status"));
    return host_from_json(root);
  } catch (const json::exception& e) {
    return bad("record", e.what());  // a type check above missed a case: still not a crash
  }
}

Duration age(const HostStatus& status, WallTime now) {
  return Duration(std::max<int64_t>(0, now.nanos - status.published_at.nanos));
}

bool is_stale(const HostStatus& status, WallTime now) {
  if (status.state == HostState::kStopped) return false;  // said goodbye: not silent, gone
  const Duration interval = status.publish_interval > Duration::zero() ? status.publish_interval
                                                                       : kPublishIntervalDefault;
  return age(status, now) > kStaleIntervals * interval;
}

std::string host_status_register(HostId host) {
  return "hosts/" + std::to_string(host.value()) + "/status";
}

std::string host_directory_register() { return "hosts/directory"; }

Result<std::vector<uint8_t>> encode_host_directory(const std::vector<HostId>& hosts) {
  if (hosts.size() > kHostDirectoryMax) {
    return make_error(Code::kInvalidArgument,
                      "host directory: more than " + std::to_string(kHostDirectoryMax) + " hosts");
  }
  ASSERT(std::is_sorted(hosts.begin(), hosts.end()));
  json ids = json::array();
  for (HostId host : hosts) ids.push_back(host.value());
  json root = json::object();
  root["format"] = kHostStatusFormat;
  root["hosts"] = std::move(ids);
  return dump_bounded(root, kHostStatusBytesMax, "host directory");
}

Result<std::vector<HostId>> decode_host_directory(std::span<const uint8_t> bytes) {
  try {
    ASSIGN_OR_RETURN(const json root, parse_bounded(bytes, kHostStatusBytesMax, "host directory"));
    ASSIGN_OR_RETURN(const uint64_t format, read_u64(root, "format", true));
    if (format != kHostStatusFormat) return bad("format", "unknown format");
    const auto it = root.find("hosts");
    if (it == root.end() || !it->is_array()) return bad("hosts", "must be an array");
    if (it->size() > kHostDirectoryMax) return bad("hosts", "too many");
    std::vector<HostId> out;
    for (const json& id : *it) {
      if (!id.is_number_unsigned() || id.get<uint64_t>() > UINT32_MAX) {
        return bad("hosts[]", "must be a host id");
      }
      out.push_back(HostId(static_cast<uint32_t>(id.get<uint64_t>())));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  } catch (const json::exception& e) {
    return bad("directory", e.what());
  }
}

}  // namespace splitarray::hostdriver::status
