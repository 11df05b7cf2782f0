#include "sim/harness/shelf_workload.h"

#include <algorithm>

#include "common/endian.h"
#include "protocol/fragment_header.h"

namespace splitarray::sim {
namespace {

using protocol::ChunkLocation;
using protocol::Fingerprint;
using protocol::ShelfClient;

// Container ids and other per-host ids carry the host in their top bits, so hosts never collide.
constexpr unsigned kHostShift = 40;
constexpr uint64_t kRecordBytesMax = 4096;
constexpr uint64_t kFragmentPayloadMax = 48 * 1024;  // fits the harness's 64 KiB slots
constexpr uint64_t kIndexInsertBatchMax = 16;
constexpr uint32_t kNvramReadBytes = 1 << 20;
constexpr int kNvramReadRoundsMax = 100'000;

uint64_t host_key(HostId host, uint64_t id) {
  return (static_cast<uint64_t>(host.value()) << kHostShift) | id;
}

Fingerprint fingerprint_of(HostId host, uint64_t id) {
  Prng rng(host_key(host, id) * 0xA24BAED4963EE407ULL + 3);
  Fingerprint fp;
  rng.fill(fp);
  return fp;
}

ChunkLocation location_of(HostId host, uint64_t id) {
  ChunkLocation location;
  location.container_id = host_key(host, id / 64 + 1);
  location.offset = static_cast<uint32_t>((id % 64) * 4096);
  location.length = static_cast<uint32_t>(1 + id % 4096);
  return location;
}

std::vector<uint8_t> counter_value(uint64_t version) {
  std::vector<uint8_t> v(16);
  put_u64(v, 0, version);
  put_u64(v, 8, ~version);
  return v;
}

protocol::FragmentIdValue fragment_id(uint64_t container) {
  return protocol::FragmentIdValue{container, 0, 1};
}

// Errors after which the connection is dropped and the outcome of the request is unknown.
bool connection_level(const Error& error) {
  return error.code != Code::kBusy && error.code != Code::kNoSpace &&
         error.code != Code::kNotFound && error.code != Code::kCorruption;
}

// Each op returns false when the connection should be dropped.
Task<bool> append_records(ShelfClient& shelf, HostModel& model, Prng& rng) {
  std::vector<uint64_t> ids;
  std::vector<std::vector<uint8_t>> records;
  for (uint64_t n = rng.between(1, 4); n > 0; --n) {
    ids.push_back(model.next_record_id++);
    records.push_back(sim_record_bytes(model.host, ids.back()));
  }
  auto appended = co_await shelf.nvram_append(model.host, model.epoch, records);
  if (appended.ok()) {
    for (size_t i = 0; i < ids.size(); ++i) model.records[appended->first_sequence + i] = ids[i];
    ++model.acked_ops;
    co_return true;
  }
  ++model.failed_ops;
  if (appended.code() != Code::kBusy) co_return false;
  // Full: trim what is acknowledged so far, as a destage would.
  const uint64_t through = model.records.empty() ? 0 : model.records.rbegin()->first;
  if (through <= model.trimmed_through) co_return true;
  model.trim_requested = std::max(model.trim_requested, through);
  Result<void> trimmed = co_await shelf.nvram_trim(model.host, model.epoch, through);
  if (!trimmed.ok()) co_return !connection_level(trimmed.error());
  model.trimmed_through = std::max(model.trimmed_through, through);
  ++model.acked_ops;
  co_return true;
}

Task<bool> write_fragment(ShelfClient& shelf, HostModel& model, uint16_t disks) {
  const uint64_t container = sim_container_id(model.host, model.next_container++);
  const DiskIndex disk(sim_fragment_disk(container, disks));
  const protocol::FragmentIdValue id = fragment_id(container);
  std::vector<uint8_t> bytes = sim_fragment_bytes(model.host, container);
  Result<void> written = co_await shelf.fragment_write(model.host, model.epoch, disk, id, bytes);
  if (written.ok()) {
    model.fragments.insert(container);
    ++model.acked_ops;
    co_return true;
  }
  ++model.failed_ops;
  co_return !connection_level(written.error());
}

Task<bool> read_fragment(ShelfClient& shelf, HostModel& model, const ShelfWorkloadOptions& options,
                         Prng& rng, Violations& violations) {
  if (model.fragments.empty()) co_return true;
  auto it = model.fragments.begin();
  std::advance(it, static_cast<long>(rng.below(model.fragments.size())));
  const uint64_t container = *it;
  const uint16_t disk = sim_fragment_disk(container, options.disks);
  const protocol::FragmentIdValue id = fragment_id(container);
  auto got = co_await shelf.fragment_read(DiskIndex(disk), id, 0, 0);
  if (got.ok()) {
    if (*got != sim_fragment_bytes(model.host, container)) {
      violations.add("fragment " + std::to_string(container) + " read back wrong bytes");
    }
    ++model.acked_ops;
    co_return true;
  }
  ++model.failed_ops;
  if (connection_level(got.error())) co_return false;
  if (!options.disk_may_lose_data(disk)) {
    violations.add("acknowledged fragment " + std::to_string(container) + " on disk " +
                   std::to_string(disk) + ": " + got.error().to_string());
  }
  co_return true;
}

Task<bool> insert_fingerprints(ShelfClient& shelf, HostModel& model, Prng& rng) {
  std::vector<uint64_t> ids;
  std::vector<Fingerprint> fps;
  std::vector<ChunkLocation> locations;
  for (uint64_t n = rng.between(1, kIndexInsertBatchMax); n > 0; --n) {
    ids.push_back(model.next_fingerprint++);
    fps.push_back(fingerprint_of(model.host, ids.back()));
    locations.push_back(location_of(model.host, ids.back()));
  }
  auto inserted = co_await shelf.index_insert(model.host, model.epoch, fps, locations);
  if (!inserted.ok()) {
    ++model.failed_ops;
    co_return !connection_level(inserted.error());
  }
  model.fingerprints.insert(ids.begin(), ids.end());
  ++model.acked_ops;
  co_return true;
}

Task<bool> cas_register(ShelfClient& shelf, HostModel& model) {
  const uint64_t expected = model.register_version;
  std::vector<uint8_t> value = counter_value(expected + 1);
  auto cas =
      co_await shelf.register_cas(sim_register_name(model.host), expected, value, model.epoch);
  if (!cas.ok()) {
    ++model.failed_ops;
    co_return !connection_level(cas.error());
  }
  // Not swapped: an earlier CAS whose reply was lost did happen; catch up.
  const uint64_t now_at = cas->swapped ? expected + 1 : cas->current.version;
  model.register_version = std::max(model.register_version, now_at);
  ++model.acked_ops;
  co_return true;
}

Task<bool> one_operation(ShelfClient& shelf, HostModel& model, const ShelfWorkloadOptions& options,
                         Prng& rng, Violations& violations) {
  const uint64_t pick = rng.below(100);
  bool keep = false;
  if (pick < 40) {
    keep = co_await append_records(shelf, model, rng);
  } else if (pick < 60) {
    keep = co_await write_fragment(shelf, model, options.disks);
  } else if (pick < 70) {
    keep = co_await read_fragment(shelf, model, options, rng, violations);
  } else if (pick < 88) {
    keep = co_await insert_fingerprints(shelf, model, rng);
  } else {
    keep = co_await cas_register(shelf, model);
  }
  co_return keep;
}

}  // namespace

std::vector<uint8_t> sim_record_bytes(HostId host, uint64_t id) {
  Prng rng(host_key(host, id) * 0x9E3779B97F4A7C15ULL + 1);
  std::vector<uint8_t> out(8 + rng.between(0, kRecordBytesMax));
  put_u64(out, 0, host_key(host, id));
  rng.fill(std::span<uint8_t>(out).subspan(8));
  return out;
}

std::vector<uint8_t> sim_fragment_bytes(HostId host, uint64_t container) {
  Prng rng(container * 0xD1B54A32D192ED03ULL + host.value());
  std::vector<uint8_t> payload(rng.between(1, kFragmentPayloadMax));
  rng.fill(payload);
  const protocol::FragmentId id{ContainerId(container), 0, 1};
  return protocol::build_fragment(id, payload);
}

uint64_t sim_container_id(HostId host, uint64_t n) { return host_key(host, n); }

uint16_t sim_fragment_disk(uint64_t container_id, uint16_t disks) {
  ASSERT(disks > 0);
  return static_cast<uint16_t>((container_id * 0x9E3779B97F4A7C15ULL >> 32) % disks);
}

std::string sim_register_name(HostId host) {
  return "sim/host/" + std::to_string(host.value()) + "/counter";
}

Task<void> run_host_workload(Env& env, Address address, HostModel& model,
                             ShelfWorkloadOptions options, Prng rng, const bool* stop,
                             Violations& violations) {
  protocol::RpcClientOptions rpc_options;
  rpc_options.default_timeout = options.request_timeout;
  while (!*stop) {
    auto client = co_await ShelfClient::connect(env, address, rpc_options);
    if (!client.ok()) {
      co_await sleep_for(env.clock, options.reconnect_delay);
      continue;
    }
    while (!*stop) {
      const bool keep = co_await one_operation(**client, model, options, rng, violations);
      if (!keep) break;
      const Duration think(rng.below(static_cast<uint64_t>(options.think_time_max.count()) + 1));
      co_await sleep_for(env.clock, think);
    }
    co_await (*client)->close();
  }
}

namespace {

// The whole log as the shelf has it now: sequence -> bytes.
Task<Result<std::map<uint64_t, std::vector<uint8_t>>>> read_log(ShelfClient& shelf, HostId host,
                                                                uint64_t from) {
  std::map<uint64_t, std::vector<uint8_t>> present;
  for (int rounds = 0; rounds < kNvramReadRoundsMax; ++rounds) {
    auto read = co_await shelf.nvram_read(host, from, kNvramReadBytes);
    if (!read.ok()) co_return read.error();
    for (size_t i = 0; i < read->records.size(); ++i) {
      present[read->first_sequence + i] = std::move(read->records[i]);
    }
    if (read->records.empty() ||
        read->first_sequence + read->records.size() >= read->next_sequence) {
      co_return present;
    }
    from = read->first_sequence + read->records.size();
  }
  co_return make_error(Code::kUnavailable, "NVRAM read did not reach the end of the log");
}

Task<Result<void>> verify_log(ShelfClient& shelf, const HostModel& model, Violations& violations) {
  // The log starts after the last acknowledged trim at the earliest (a trim can be durable
  // without its reply arriving) and never after the last trim requested.
  uint64_t first = model.trimmed_through + 1;
  auto usage = co_await shelf.nvram_usage(model.host);
  if (usage.ok()) {
    if (usage->first_sequence > model.trim_requested + 1) {
      violations.add("host " + std::to_string(model.host.value()) + ": log starts at " +
                     std::to_string(usage->first_sequence) + " but no trim past " +
                     std::to_string(model.trim_requested) + " was ever sent");
    }
    first = std::max(first, usage->first_sequence);
  } else if (usage.code() != Code::kNotFound) {
    co_return usage.error();
  }
  CO_ASSIGN_OR_RETURN(auto present, co_await read_log(shelf, model.host, first));
  for (const auto& record : model.records) {
    if (record.first < first) continue;
    auto it = present.find(record.first);
    if (it == present.end()) {
      violations.add("host " + std::to_string(model.host.value()) + ": acknowledged record " +
                     std::to_string(record.first) + " lost");
    } else if (it->second != sim_record_bytes(model.host, record.second)) {
      violations.add("host " + std::to_string(model.host.value()) + ": record " +
                     std::to_string(record.first) + " differs from what was acknowledged");
    }
  }
  for (const auto& entry : present) {
    const std::vector<uint8_t>& bytes = entry.second;
    const bool whole =
        bytes.size() >= 8 && (get_u64(bytes, 0) >> kHostShift) == model.host.value() &&
        bytes ==
            sim_record_bytes(model.host, get_u64(bytes, 0) & ((uint64_t{1} << kHostShift) - 1));
    if (!whole) {
      violations.add("host " + std::to_string(model.host.value()) + ": record " +
                     std::to_string(entry.first) + " is not whole");
    }
  }
  co_return ok_result();
}

Task<Result<void>> verify_fragments(ShelfClient& shelf, const HostModel& model,
                                    const ShelfWorkloadOptions& options,
                                    const std::set<uint16_t>& failed_disks,
                                    Violations& violations) {
  for (uint64_t n = 1; n < model.next_container; ++n) {
    const uint64_t container = sim_container_id(model.host, n);
    const uint16_t disk = sim_fragment_disk(container, options.disks);
    const protocol::FragmentIdValue id = fragment_id(container);
    auto got = co_await shelf.fragment_read(DiskIndex(disk), id, 0, 0);
    if (got.ok()) {
      if (*got != sim_fragment_bytes(model.host, container)) {
        violations.add("fragment " + std::to_string(container) + " read back wrong bytes");
      }
      continue;
    }
    if (got.code() == Code::kTimeout || got.code() == Code::kCancelled) co_return got.error();
    const bool acked = model.fragments.contains(container);
    const bool excused = failed_disks.contains(disk) || options.disk_may_lose_data(disk);
    if (acked && !excused) {
      violations.add("acknowledged fragment " + std::to_string(container) + " on disk " +
                     std::to_string(disk) + ": " + got.error().to_string());
    } else if (!acked && got.code() != Code::kNotFound && !excused) {
      violations.add("unacknowledged fragment " + std::to_string(container) +
                     " is neither whole nor absent: " + got.error().to_string());
    }
  }
  co_return ok_result();
}

Task<Result<void>> verify_index(ShelfClient& shelf, const HostModel& model,
                                Violations& violations) {
  std::vector<uint64_t> ids;
  for (uint64_t id = 1; id < model.next_fingerprint; ++id) ids.push_back(id);
  for (size_t at = 0; at < ids.size(); at += protocol::kIndexBatchMax) {
    const size_t end = std::min(ids.size(), at + protocol::kIndexBatchMax);
    std::vector<Fingerprint> fps;
    for (size_t i = at; i < end; ++i) fps.push_back(fingerprint_of(model.host, ids[i]));
    CO_ASSIGN_OR_RETURN(protocol::IndexLookupRep found, co_await shelf.index_lookup(fps));
    for (size_t i = at; i < end; ++i) {
      const bool acked = model.fingerprints.contains(ids[i]);
      if (!found.found[i - at]) {
        if (acked) violations.add("acknowledged index entry " + std::to_string(ids[i]) + " lost");
      } else if (!(found.locations[i - at] == location_of(model.host, ids[i]))) {
        violations.add("index entry " + std::to_string(ids[i]) + " has a wrong location");
      }
    }
  }
  co_return ok_result();
}

Task<Result<void>> verify_register(ShelfClient& shelf, const HostModel& model,
                                   Violations& violations) {
  CO_ASSIGN_OR_RETURN(protocol::RegisterValueRep reg,
                      co_await shelf.register_get(sim_register_name(model.host)));
  if (reg.version < model.register_version) {
    violations.add("register of host " + std::to_string(model.host.value()) + " went back from " +
                   std::to_string(model.register_version) + " to " + std::to_string(reg.version));
  }
  if (reg.exists && reg.value != counter_value(reg.version)) {
    violations.add("register of host " + std::to_string(model.host.value()) +
                   " holds a value that was never written");
  }
  co_return ok_result();
}

}  // namespace

Task<bool> verify_host(Env& env, Address address, const HostModel& model,
                       ShelfWorkloadOptions options, Violations& violations) {
  protocol::RpcClientOptions rpc_options;
  rpc_options.default_timeout = std::chrono::seconds(30);
  auto client = co_await ShelfClient::connect(env, address, rpc_options);
  if (!client.ok()) co_return false;
  ShelfClient& shelf = **client;
  std::set<uint16_t> failed_disks;
  auto status = co_await shelf.status();
  bool reached = status.ok();
  if (reached) {
    for (const auto& disk : status->disks) {
      if (disk.state != protocol::DiskStateValue::kHealthy) failed_disks.insert(disk.index);
    }
  }
  // Every check runs on one connection; any failure to talk to the shelf means "retry".
  Violations found;
  if (reached) reached = (co_await verify_log(shelf, model, found)).ok();
  if (reached)
    reached = (co_await verify_fragments(shelf, model, options, failed_disks, found)).ok();
  if (reached) reached = (co_await verify_index(shelf, model, found)).ok();
  if (reached) reached = (co_await verify_register(shelf, model, found)).ok();
  co_await shelf.close();
  if (!reached) co_return false;
  for (std::string& what : found.list) violations.add(std::move(what));
  co_return true;
}

}  // namespace splitarray::sim
