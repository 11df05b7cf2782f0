#include "netshelf/config/shelf_config.h"

#include <nlohmann/json.hpp>

#include <set>

namespace splitarray::netshelf {
namespace {

using nlohmann::json;

Error bad(const std::string& where, const std::string& what) {
  return make_error(Code::kInvalidArgument, "config: " + where + ": " + what);
}

// Rejects keys the schema does not know: a misspelt optional key must not become a default.
Result<void> only_keys(const json& object, const std::string& where,
                       std::initializer_list<std::string_view> known) {
  if (!object.is_object()) return bad(where, "must be an object");
  for (const auto& [key, value] : object.items()) {
    bool found = false;
    for (std::string_view k : known) found |= (key == k);
    if (!found) return bad(where.empty() ? key : where + "." + key, "unknown key");
  }
  return ok_result();
}

Result<uint64_t> get_u64(const json& object, const std::string& where, const char* key,
                         std::optional<uint64_t> fallback, uint64_t min, uint64_t max) {
  const std::string path = where.empty() ? key : where + "." + key;
  if (!object.contains(key)) {
    if (fallback.has_value()) return *fallback;
    return bad(path, "missing");
  }
  const json& v = object.at(key);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    return bad(path, "must be a non-negative integer");
  }
  const uint64_t n = v.get<uint64_t>();
  if (n < min || n > max) {
    return bad(path, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return n;
}

Result<std::string> get_string(const json& object, const std::string& where, const char* key,
                               std::optional<std::string> fallback) {
  const std::string path = where.empty() ? key : where + "." + key;
  if (!object.contains(key)) {
    if (fallback.has_value()) return *fallback;
    return bad(path, "missing");
  }
  const json& v = object.at(key);
  if (!v.is_string()) return bad(path, "must be a string");
  std::string s = v.get<std::string>();
  if (s.empty()) return bad(path, "must not be empty");
  return s;
}

Result<std::vector<DiskConfig>> parse_disks(const json& root) {
  if (!root.contains("disks")) return bad("disks", "missing");
  const json& disks = root.at("disks");
  if (!disks.is_array() || disks.empty()) return bad("disks", "must be a non-empty array");
  if (disks.size() > kDisksMax) return bad("disks", "more than " + std::to_string(kDisksMax));
  std::vector<DiskConfig> out;
  std::set<std::string> paths;
  for (size_t i = 0; i < disks.size(); ++i) {
    const std::string where = "disks[" + std::to_string(i) + "]";
    RETURN_IF_ERROR(only_keys(disks[i], where, {"path", "size_bytes"}));
    DiskConfig disk;
    ASSIGN_OR_RETURN(disk.path, get_string(disks[i], where, "path", std::nullopt));
    ASSIGN_OR_RETURN(disk.size_bytes, get_u64(disks[i], where, "size_bytes", std::nullopt,
                                              kDiskMinBytes, UINT64_MAX));
    if (!paths.insert(disk.path).second) return bad(where + ".path", "used twice: " + disk.path);
    out.push_back(std::move(disk));
  }
  return out;
}

Result<NvramConfigFile> parse_nvram(const json& root) {
  if (!root.contains("nvram")) return bad("nvram", "missing");
  const json& nvram = root.at("nvram");
  RETURN_IF_ERROR(only_keys(nvram, "nvram", {"path", "size_bytes", "hosts_max"}));
  NvramConfigFile out;
  ASSIGN_OR_RETURN(out.path, get_string(nvram, "nvram", "path", std::nullopt));
  ASSIGN_OR_RETURN(out.size_bytes,
                   get_u64(nvram, "nvram", "size_bytes", std::nullopt, kNvramMinBytes, UINT64_MAX));
  ASSIGN_OR_RETURN(const uint64_t hosts,
                   get_u64(nvram, "nvram", "hosts_max", 16, 1, kNvramHostsMax));
  out.hosts_max = static_cast<uint32_t>(hosts);
  return out;
}

Result<ShelfConfig> parse_root(const json& root) {
  RETURN_IF_ERROR(only_keys(
      root, "",
      {"cluster_id", "shelf_id", "listen", "disks", "slot_payload_bytes", "nvram", "index_dir",
       "registers_path", "log_level", "connections_max", "inflight_per_connection_max"}));
  ShelfConfig config;
  ASSIGN_OR_RETURN(const uint64_t cluster,
                   get_u64(root, "", "cluster_id", std::nullopt, 1, UINT64_MAX));
  config.cluster_id = ClusterId(cluster);
  ASSIGN_OR_RETURN(const uint64_t shelf,
                   get_u64(root, "", "shelf_id", std::nullopt, 1, UINT32_MAX));
  config.shelf_id = ShelfId(static_cast<uint32_t>(shelf));
  ASSIGN_OR_RETURN(const std::string listen, get_string(root, "", "listen", std::nullopt));
  Result<Address> address = Address::parse(listen);
  if (!address.ok()) return bad("listen", address.error().message);
  config.listen = std::move(address).value();
  ASSIGN_OR_RETURN(config.disks, parse_disks(root));
  ASSIGN_OR_RETURN(
      config.slot_payload_bytes,
      get_u64(root, "", "slot_payload_bytes", kConfigSlotPayloadBytesDefault, 4 * kKiB, 16 * kMiB));
  if (config.slot_payload_bytes % (4 * kKiB) != 0) {
    return bad("slot_payload_bytes", "must be a multiple of 4096");
  }
  ASSIGN_OR_RETURN(config.nvram, parse_nvram(root));
  ASSIGN_OR_RETURN(config.index_dir, get_string(root, "", "index_dir", std::nullopt));
  ASSIGN_OR_RETURN(config.registers_path, get_string(root, "", "registers_path", std::nullopt));
  ASSIGN_OR_RETURN(const std::string level, get_string(root, "", "log_level", "info"));
  if (!parse_log_level(level, &config.log_level)) {
    return bad("log_level", "must be debug, info, warn, error or off");
  }
  ASSIGN_OR_RETURN(config.connections_max, get_u64(root, "", "connections_max", 1024, 1, 65536));
  ASSIGN_OR_RETURN(config.inflight_per_connection_max,
                   get_u64(root, "", "inflight_per_connection_max", 256, 1, 65536));
  // Every file the shelf owns is distinct: two roles sharing one file would corrupt both.
  std::set<std::string> files;
  for (const DiskConfig& disk : config.disks) files.insert(disk.path);
  for (const std::string* path : {&config.nvram.path, &config.registers_path, &config.index_dir}) {
    if (!files.insert(*path).second) return bad("file", *path + " is also used elsewhere");
  }
  return config;
}

}  // namespace

Result<ShelfConfig> parse_shelf_config(std::string_view json_text) {
  if (json_text.size() > kConfigMaxBytes) return bad("file", "larger than 1 MiB");
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    return make_error(Code::kInvalidArgument, std::string("config: not valid JSON: ") + e.what());
  }
  return parse_root(root);
}

Task<Result<ShelfConfig>> load_shelf_config(Env& env, const std::string& path) {
  auto file = co_await env.storage.open(path, {});
  if (!file.ok()) {
    co_return make_error(file.code(), "config: cannot open " + path + ": " + file.error().message);
  }
  CO_ASSIGN_OR_RETURN(const uint64_t size, (*file)->size());
  if (size > kConfigMaxBytes) co_return bad(path, "larger than 1 MiB");
  std::vector<uint8_t> bytes(size);
  CO_RETURN_IF_ERROR(co_await (*file)->read_at(0, bytes));
  co_return parse_shelf_config(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace splitarray::netshelf
