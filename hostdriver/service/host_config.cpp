// hostdriver/service/host_config.cpp
#include "hostdriver/service/host_config.h"

#include <charconv>

namespace splitarray::hostdriver::service {
namespace {

template <class T>
bool parse_number(std::string_view text, T& out) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

Result<std::vector<nfs::ClientNetwork>> parse_clients(std::string_view text) {
  std::vector<nfs::ClientNetwork> clients;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    auto network = nfs::ClientNetwork::parse(text.substr(0, comma));
    if (!network.ok()) return make_error(Code::kInvalidArgument, "bad --clients entry");
    if (clients.size() == nfs::kExportClientsMax) {
      return make_error(Code::kInvalidArgument, "too many --clients entries");
    }
    clients.push_back(*network);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  return clients;
}

Result<void> parse_option(HostConfig& config, std::string_view option, std::string_view value) {
  auto bad = [&] { return make_error(Code::kInvalidArgument, "bad " + std::string(option)); };
  blockstore::BlockStoreConfig& store = config.fs.store;
  if (option == "--shelf") {
    auto address = Address::parse(value);
    if (!address.ok()) return bad();
    store.shelf = *address;
  } else if (option == "--datastore") {
    if (value.empty()) return bad();
    config.fs.datastore = value;
  } else if (option == "--host-id") {
    uint32_t id = 0;
    if (!parse_number(value, id) || id == 0) return bad();
    config.fs.host = HostId(id);
  } else if (option == "--listen") {
    if (!nfs::parse_ipv4(value).ok()) return bad();
    config.listen_host = value;
  } else if (option == "--nfs-port") {
    if (!parse_number(value, config.nfs_port)) return bad();
  } else if (option == "--mount-port") {
    if (!parse_number(value, config.mount_port)) return bad();
  } else if (option == "--portmap-port") {
    if (!parse_number(value, config.portmap_port)) return bad();
  } else if (option == "--export") {
    if (!value.starts_with('/') || value.size() > nfs::kExportPathBytesMax) return bad();
    config.exported.path = value;
  } else if (option == "--clients") {
    auto clients = parse_clients(value);
    if (!clients.ok() || clients->empty()) return bad();
    config.exported.clients = std::move(clients).value();
  } else if (option == "--close-timeout") {
    int64_t seconds = 0;
    if (!parse_number(value, seconds) || seconds < 1 || seconds > kCloseTimeoutSecondsMax) {
      return bad();
    }
    config.close_timeout = std::chrono::seconds(seconds);
  } else if (option == "--read-cache-mib") {
    uint64_t mib = 0;
    if (!parse_number(value, mib) || mib > kReadCacheMibMax) return bad();
    store.read_cache_bytes = mib * kMiB;
  } else if (option == "--poll-us") {
    int64_t micros = 0;
    if (!parse_number(value, micros) || micros < 0 || micros > kPollUsMax) return bad();
    config.poll = std::chrono::microseconds(micros);
  } else if (option == "--block-size") {
    if (!parse_number(value, store.block_size)) return bad();
  } else if (option == "--data-fragments") {
    if (!parse_number(value, store.geometry.data_fragments)) return bad();
  } else if (option == "--parity-fragments") {
    if (!parse_number(value, store.parity_fragments)) return bad();
  } else if (option == "--fragment-bytes") {
    if (!parse_number(value, store.geometry.fragment_payload_bytes)) return bad();
  } else {
    return make_error(Code::kInvalidArgument, "unknown option " + std::string(option));
  }
  return ok_result();
}

}  // namespace

Result<HostConfig> parse_host_config(int argc, const char* const* argv) {
  HostConfig config;
  config.fs.store.read_cache_bytes = kReadCacheMibDefault * kMiB;
  config.exported.clients = {nfs::ClientNetwork::parse("127.0.0.1").value()};
  bool shelf = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view option = argv[i];
    if (option == "--no-root-squash") {
      config.exported.root_squash = false;
      continue;
    }
    if (option == "--read-only") {
      config.exported.read_only = true;
      continue;
    }
    if (i + 1 >= argc)
      return make_error(Code::kInvalidArgument, std::string(option) + " needs a value");
    RETURN_IF_ERROR(parse_option(config, option, argv[++i]));
    shelf = shelf || option == "--shelf";
  }
  if (!shelf) return make_error(Code::kInvalidArgument, "--shelf is required");
  if (config.nfs_port != 0 && config.nfs_port == config.mount_port) {
    return make_error(Code::kInvalidArgument, "--nfs-port and --mount-port must differ");
  }
  RETURN_IF_ERROR(blockstore::validate_config(config.fs.store));
  return config;
}

std::string host_usage() {
  return "usage: hostdriver --shelf HOST:PORT [--datastore NAME] [--host-id N]\n"
         "         [--listen ADDR] [--nfs-port N] [--mount-port N] [--portmap-port N]\n"
         "         [--export PATH] [--clients NET[,NET...]] [--no-root-squash] [--read-only]\n"
         "         [--close-timeout SECONDS (default 30)] [--read-cache-mib N (default 1024)]\n"
         "         [--poll-us N (default 200; 0: the event loop never polls)]\n"
         "         [--block-size B] [--data-fragments K] [--parity-fragments M] "
         "[--fragment-bytes F]\n";
}

std::string export_url(const HostConfig& config) {
  return "nfs://" + config.listen_host + config.exported.path +
         "?nfsport=" + std::to_string(config.nfs_port) +
         "&mountport=" + std::to_string(config.mount_port);
}

}  // namespace splitarray::hostdriver::service
