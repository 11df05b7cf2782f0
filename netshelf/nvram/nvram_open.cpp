// netshelf/nvram/nvram_open.cpp
// Format, open and recovery of the NVRAM file (README "Layout" and "Recovery").
#include <string>

#include "netshelf/nvram/nvram_log.h"
#include "netshelf/nvram/nvram_log_internal.h"

namespace splitarray::netshelf::nvram {
namespace {

// Recovery reads a ring in pieces of at most this many bytes (bounded single I/Os).
constexpr uint64_t kRecoveryReadBytes = 4 * 1024 * 1024;

}  // namespace

NvramLog::NvramLog(Env& env, std::unique_ptr<LogDevice> device, NvramConfig config,
                   FileHeader geometry)
    : log_(env.log.child("nvram")),
      device_(std::move(device)),
      config_(config),
      geometry_(geometry) {
  ASSERT(device_ != nullptr);
  ASSERT(record_footprint(config_.append_max_bytes) <= geometry_.ring_bytes());
}

Result<void> NvramLog::validate_config(const NvramConfig& config) {
  if (config.append_max_bytes == 0 || config.append_max_bytes > kAppendMaxBytesLimit) {
    return make_error(Code::kInvalidArgument, "nvram: append_max_bytes out of range");
  }
  if (config.append_records_max == 0 || config.append_records_max > kAppendRecordsMax) {
    return make_error(Code::kInvalidArgument, "nvram: append_records_max out of range");
  }
  if (config.read_max_bytes == 0 || config.read_max_bytes > kReadMaxBytesLimit) {
    return make_error(Code::kInvalidArgument, "nvram: read_max_bytes out of range");
  }
  return ok_result();
}

Task<Result<std::unique_ptr<NvramLog>>> NvramLog::format(Env& env, std::string path,
                                                         NvramConfig config) {
  CO_RETURN_IF_ERROR(validate_config(config));
  CO_ASSIGN_OR_RETURN(FileHeader geometry,
                      plan_geometry(config.file_bytes, config.max_hosts, env.rng.next_u64()));
  if (record_footprint(config.append_max_bytes) > geometry.ring_bytes()) {
    co_return make_error(Code::kInvalidArgument,
                         "nvram: append_max_bytes does not fit a host ring of " +
                             std::to_string(geometry.ring_bytes()) + " bytes");
  }
  CO_ASSIGN_OR_RETURN(
      std::unique_ptr<File> file,
      co_await env.storage.open(path, {.create = true, .create_size_bytes = config.file_bytes}));
  auto device = std::make_unique<FileLogDevice>(std::move(file));
  std::vector<uint8_t> block(kFileHeaderAreaBytes, 0);
  encode_file_header(geometry, block);
  CO_RETURN_IF_ERROR(co_await device->write_at(0, block));
  // Both header slots of every region say "free" (generations 0 and 1): the next update goes to
  // slot 0 and a torn update there leaves slot 1 valid.
  std::vector<uint8_t> slots(kRegionHeaderAreaBytes, 0);
  for (uint64_t generation = 0; generation < kRegionHeaderSlots; ++generation) {
    RegionHeader free_header;
    free_header.generation = generation;
    encode_region_header(free_header, std::span(slots).subspan(generation * kBlockBytes));
  }
  for (uint32_t region = 0; region < geometry.max_hosts; ++region) {
    CO_RETURN_IF_ERROR(co_await device->write_at(geometry.region_offset(region), slots));
  }
  CO_RETURN_IF_ERROR(co_await device->flush());
  env.log.child("nvram").info("nvram.formatted", {{"path", path},
                                                  {"file_bytes", geometry.file_bytes},
                                                  {"max_hosts", geometry.max_hosts},
                                                  {"ring_bytes", geometry.ring_bytes()}});
  co_return co_await open_device(env, std::move(device), config);
}

Task<Result<std::unique_ptr<NvramLog>>> NvramLog::open(Env& env, std::string path,
                                                       NvramConfig config) {
  CO_ASSIGN_OR_RETURN(std::unique_ptr<File> file, co_await env.storage.open(path, {}));
  co_return co_await open_device(env, std::make_unique<FileLogDevice>(std::move(file)), config);
}

Task<Result<std::unique_ptr<NvramLog>>> NvramLog::open_device(Env& env,
                                                              std::unique_ptr<LogDevice> device,
                                                              NvramConfig config) {
  CO_RETURN_IF_ERROR(validate_config(config));
  CO_ASSIGN_OR_RETURN(uint64_t size, device->size());
  if (size < kFileHeaderAreaBytes) {
    co_return make_error(Code::kCorruption, "nvram: " + device->name() + " is too small");
  }
  // Recovery may read records a predecessor wrote but was killed before flushing (they are in
  // the page cache). Everything it accepts is durable from here on (recover_host): flush first,
  // so a later power loss cannot take back records hosts have already replayed.
  CO_RETURN_IF_ERROR(co_await device->flush());
  std::vector<uint8_t> block(kFileHeaderBytes);
  CO_RETURN_IF_ERROR(co_await device->read_at(0, block));
  CO_ASSIGN_OR_RETURN(FileHeader geometry, decode_file_header(block, size));
  if (record_footprint(config.append_max_bytes) > geometry.ring_bytes()) {
    co_return make_error(Code::kInvalidArgument, "nvram: append_max_bytes exceeds the ring");
  }
  std::unique_ptr<NvramLog> log(new NvramLog(env, std::move(device), config, geometry));
  std::vector<uint8_t> ring_buffer;  // one ring at a time (README "Recovery")
  for (uint32_t region = 0; region < geometry.max_hosts; ++region) {
    CO_RETURN_IF_ERROR(co_await log->recover_region(region, ring_buffer));
  }
  log->log_.info("nvram.opened", {{"hosts", log->hosts_.size()},
                                  {"torn_discarded", log->stats_.torn_records_discarded}});
  co_return log;
}

Task<Result<void>> NvramLog::recover_region(uint32_t index, std::vector<uint8_t>& ring_buffer) {
  std::vector<uint8_t> slots(kRegionHeaderAreaBytes);
  CO_RETURN_IF_ERROR(co_await device_->read_at(geometry_.region_offset(index), slots));
  std::optional<RegionHeader> best;
  for (uint64_t slot = 0; slot < kRegionHeaderSlots; ++slot) {
    auto header = decode_region_header(std::span(slots).subspan(slot * kBlockBytes, kBlockBytes),
                                       geometry_.ring_bytes());
    // A valid header sits in the slot its generation names; anything else is misplaced.
    if (!header || header->generation % kRegionHeaderSlots != slot) continue;
    if (!best || header->generation > best->generation) best = header;
  }
  if (!best) {
    co_return make_error(Code::kCorruption, "nvram: region " + std::to_string(index) +
                                                " has no valid header in either slot");
  }
  if (!best->in_use) {
    free_regions_.emplace(index, best->generation);
    co_return ok_result();
  }
  if (hosts_.contains(best->host)) {
    co_return make_error(Code::kCorruption,
                         "nvram: host " + std::to_string(best->host.value()) + " owns two regions");
  }
  co_return co_await recover_host(index, *best, ring_buffer);
}

Task<Result<void>> NvramLog::recover_host(uint32_t index, const RegionHeader& header,
                                          std::vector<uint8_t>& ring_buffer) {
  const uint64_t ring = geometry_.ring_bytes();
  ring_buffer.resize(ring);
  for (uint64_t done = 0; done < ring; done += kRecoveryReadBytes) {
    const uint64_t n = std::min(kRecoveryReadBytes, ring - done);
    CO_RETURN_IF_ERROR(co_await device_->read_at(geometry_.ring_offset(index) + done,
                                                 std::span(ring_buffer).subspan(done, n)));
  }
  const ScanParams params{.host = header.host,
                          .incarnation = geometry_.incarnation,
                          .head_offset = header.head_offset,
                          .first_sequence = header.trimmed_through + 1,
                          .head_prev_crc = header.head_prev_crc,
                          .record_max_bytes = config_.append_max_bytes};
  ScanResult scan = scan_ring(ring_buffer, params);

  auto log = std::make_unique<HostLog>();
  log->region = index;
  log->host = header.host;
  log->header = header;
  log->fence_target = header.fence;
  log->head_offset = header.head_offset;
  log->tail_offset = scan.tail_offset;
  log->used_bytes = scan.used_bytes;
  log->index.assign(scan.records.begin(), scan.records.end());
  log->next_sequence = header.trimmed_through + 1 + scan.records.size();
  log->durable_next = log->next_sequence;  // everything that survived recovery is durable
  log->last_stamped_crc = scan.records.empty() ? header.head_prev_crc : scan.records.back().crc;
  ASSERT(log->index.empty() || log->index.front().offset == log->head_offset);
  if (scan.damage) {
    log->damage = scan.damage;
    log->after_damage.assign(scan.after_damage.begin(), scan.after_damage.end());
    ASSERT(!log->after_damage.empty());
    // The damaged record and everything after it stay in place: count them as used.
    const RecordLoc& last = log->after_damage.back();
    const uint64_t end = (last.offset + record_footprint(last.length)) % ring;
    log->used_bytes = (end + ring - log->head_offset) % ring;
    if (log->used_bytes == 0) log->used_bytes = ring;
    log->tail_offset = end;
    log_.error("nvram.damaged", {{"host", header.host.value()},
                                 {"sequence", scan.damage->sequence},
                                 {"ring_offset", scan.damage->offset},
                                 {"evidence_sequence", scan.damage->evidence_sequence},
                                 {"records_after", scan.after_damage.size()}});
  } else if (scan.torn_discarded > 0 || scan.stopped_at_invalid) {
    stats_.torn_records_discarded += scan.torn_discarded;
    log_.warn("nvram.torn_tail", {{"host", header.host.value()},
                                  {"sequence", log->next_sequence},
                                  {"ring_offset", scan.tail_offset},
                                  {"unacknowledged_discarded", scan.torn_discarded}});
  }
  hosts_.emplace(header.host, std::move(log));
  co_return ok_result();
}

}  // namespace splitarray::netshelf::nvram
