#include "protocol/shelf_client.h"

#include "common/crc32c.h"

namespace splitarray::protocol {
namespace {

Words words(const Frame& frame) { return frame.body_words(); }

}  // namespace

Task<Result<std::unique_ptr<ShelfClient>>> ShelfClient::connect(Env& env, Address address,
                                                                RpcClientOptions options) {
  CO_ASSIGN_OR_RETURN(std::unique_ptr<RpcClient> rpc,
                      co_await RpcClient::connect(env, std::move(address), std::move(options),
                                                  std::chrono::seconds(5)));
  co_return std::make_unique<ShelfClient>(std::move(rpc));
}

Task<Result<NvramAppendRep>> ShelfClient::nvram_append(
    HostId host, Epoch epoch, const std::vector<std::vector<uint8_t>>& records) {
  NvramAppendReq req{host.value(), epoch.value(), {}};
  std::vector<uint8_t> payload;
  size_t total = 0;
  for (const auto& r : records) total += r.size();
  payload.reserve(total);
  for (const auto& r : records) {
    req.record_lengths.push_back(static_cast<uint32_t>(r.size()));
    payload.insert(payload.end(), r.begin(), r.end());
  }
  CO_ASSIGN_OR_RETURN(
      Frame reply, co_await rpc_->call(MessageType::kNvramAppend, encode(req), std::move(payload)));
  co_return decode_NvramAppendRep(words(reply), FrameLimits{});
}

Task<Result<NvramRecords>> ShelfClient::nvram_read(HostId host, uint64_t from_sequence,
                                                   uint32_t max_bytes) {
  const NvramReadReq req{host.value(), from_sequence, max_bytes};
  CO_ASSIGN_OR_RETURN(Frame reply, co_await rpc_->call(MessageType::kNvramRead, encode(req), {}));
  CO_ASSIGN_OR_RETURN(NvramReadRep rep, decode_NvramReadRep(words(reply), FrameLimits{}));
  NvramRecords out{rep.first_sequence, rep.next_sequence, {}};
  size_t at = 0;
  for (uint32_t length : rep.record_lengths) {
    if (length > reply.payload.size() - at) {
      co_return make_error(Code::kProtocol, "nvram read reply: lengths exceed payload");
    }
    out.records.emplace_back(reply.payload.begin() + static_cast<ptrdiff_t>(at),
                             reply.payload.begin() + static_cast<ptrdiff_t>(at + length));
    at += length;
  }
  if (at != reply.payload.size()) {
    co_return make_error(Code::kProtocol, "nvram read reply: payload longer than its records");
  }
  co_return out;
}

Task<Result<void>> ShelfClient::nvram_trim(HostId host, Epoch epoch, uint64_t through_sequence) {
  const NvramTrimReq req{host.value(), epoch.value(), through_sequence};
  CO_ASSIGN_OR_RETURN(Frame reply, co_await rpc_->call(MessageType::kNvramTrim, encode(req), {}));
  (void)reply;  // an empty body: success is the absence of an error status
  co_return ok_result();
}

Task<Result<NvramUsageValue>> ShelfClient::nvram_usage(HostId host) {
  NvramUsageValue req;
  req.host_id = host.value();
  CO_ASSIGN_OR_RETURN(Frame reply, co_await rpc_->call(MessageType::kNvramUsage, encode(req), {}));
  co_return decode_NvramUsageValue(words(reply), FrameLimits{});
}

Task<Result<void>> ShelfClient::fragment_write(HostId host, Epoch epoch, DiskIndex disk,
                                               FragmentIdValue id, std::vector<uint8_t> fragment) {
  const FragmentWriteReq req{host.value(), epoch.value(), disk.value(), id, crc32c(fragment)};
  CO_ASSIGN_OR_RETURN(Frame reply, co_await rpc_->call(MessageType::kFragmentWrite, encode(req),
                                                       std::move(fragment)));
  (void)reply;
  co_return ok_result();
}

Task<Result<std::vector<uint8_t>>> ShelfClient::fragment_read(DiskIndex disk, FragmentIdValue id,
                                                              uint32_t offset, uint32_t length) {
  const FragmentReadReq req{disk.value(), id, offset, length};
  CO_ASSIGN_OR_RETURN(Frame reply,
                      co_await rpc_->call(MessageType::kFragmentRead, encode(req), {}));
  CO_ASSIGN_OR_RETURN(const FragmentReadRep rep,
                      decode_FragmentReadRep(words(reply), FrameLimits{}));
  // End to end: the shelf's CRC of what it read must match what arrived.
  if (crc32c(reply.payload) != rep.crc32c) {
    co_return make_error(Code::kCorruption, "fragment read: payload CRC mismatch in transit");
  }
  co_return std::move(reply.payload);
}

Task<Result<void>> ShelfClient::fragment_delete(HostId host, Epoch epoch, DiskIndex disk,
                                                FragmentIdValue id) {
  const FragmentDeleteReq req{host.value(), epoch.value(), disk.value(), id};
  CO_ASSIGN_OR_RETURN(Frame reply,
                      co_await rpc_->call(MessageType::kFragmentDelete, encode(req), {}));
  (void)reply;
  co_return ok_result();
}

Task<Result<void>> ShelfClient::disk_admin(Epoch epoch, DiskIndex disk, DiskActionValue action) {
  const DiskAdminReq req{epoch.value(), disk.value(), action};
  CO_ASSIGN_OR_RETURN(Frame reply, co_await rpc_->call(MessageType::kDiskAdmin, encode(req), {}));
  (void)reply;
  co_return ok_result();
}

Task<Result<FragmentListRep>> ShelfClient::fragment_list(DiskIndex disk, FragmentCursor from,
                                                         uint32_t max_entries) {
  const FragmentListReq req{disk.value(), from, max_entries};
  CO_ASSIGN_OR_RETURN(Frame reply,
                      co_await rpc_->call(MessageType::kFragmentList, encode(req), {}));
  CO_ASSIGN_OR_RETURN(FragmentListRep rep, decode_FragmentListRep(words(reply), FrameLimits{}));
  // The decoder checked the order within the page; the page must also start where we asked.
  if (!rep.fragments.empty()) {
    const FragmentIdValue& first = rep.fragments.front().id;
    if (FragmentCursor{first.container_id, first.index} < from) {
      co_return make_error(Code::kProtocol, "fragment list reply starts before its cursor");
    }
  }
  co_return rep;
}

Task<Result<IndexLookupRep>> ShelfClient::index_lookup(std::vector<Fingerprint> fps) {
  const IndexLookupReq req{std::move(fps)};
  CO_ASSIGN_OR_RETURN(Frame reply, co_await rpc_->call(MessageType::kIndexLookup, encode(req), {}));
  co_return decode_IndexLookupRep(words(reply), FrameLimits{});
}

Task<Result<IndexListRep>> ShelfClient::index_list(Fingerprint from, uint32_t max_entries) {
  const IndexListReq req{from, max_entries};
  CO_ASSIGN_OR_RETURN(Frame reply, co_await rpc_->call(MessageType::kIndexList, encode(req), {}));
  CO_ASSIGN_OR_RETURN(IndexListRep rep, decode_IndexListRep(words(reply), FrameLimits{}));
  if (!rep.fingerprints.empty() && rep.fingerprints.front() < from) {
    co_return make_error(Code::kProtocol, "index list reply starts before its cursor");
  }
  co_return rep;
}

Task<Result<IndexInsertRep>> ShelfClient::index_insert(HostId host, Epoch epoch,
                                                       std::vector<Fingerprint> fps,
                                                       std::vector<ChunkLocation> locations) {
  const IndexInsertReq req{host.value(), epoch.value(), std::move(fps), std::move(locations)};
  CO_ASSIGN_OR_RETURN(Frame reply, co_await rpc_->call(MessageType::kIndexInsert, encode(req), {}));
  co_return decode_IndexInsertRep(words(reply), FrameLimits{});
}

Task<Result<void>> ShelfClient::index_remove(HostId host, Epoch epoch,
                                             std::vector<Fingerprint> fps) {
  const IndexRemoveReq req{host.value(), epoch.value(), std::move(fps)};
  CO_ASSIGN_OR_RETURN(Frame reply, co_await rpc_->call(MessageType::kIndexRemove, encode(req), {}));
  (void)reply;
  co_return ok_result();
}

Task<Result<IndexRebuildRep>> ShelfClient::index_rebuild(IndexRebuildReq req) {
  CO_ASSIGN_OR_RETURN(Frame reply,
                      co_await rpc_->call(MessageType::kIndexRebuild, encode(req), {}));
  co_return decode_IndexRebuildRep(words(reply), FrameLimits{});
}

Task<Result<IndexRebuildRep>> ShelfClient::index_rebuild_begin(HostId host, Epoch epoch) {
  IndexRebuildReq req;
  req.host_id = host.value();
  req.epoch = epoch.value();
  req.phase = IndexRebuildPhase::kBegin;
  co_return co_await index_rebuild(std::move(req));
}

Task<Result<IndexRebuildRep>> ShelfClient::index_rebuild_entries(
    HostId host, Epoch epoch, uint64_t rebuild_id, std::vector<Fingerprint> fps,
    std::vector<ChunkLocation> locations) {
  IndexRebuildReq req;
  req.host_id = host.value();
  req.epoch = epoch.value();
  req.phase = IndexRebuildPhase::kEntries;
  req.rebuild_id = rebuild_id;
  req.fingerprints = std::move(fps);
  req.locations = std::move(locations);
  co_return co_await index_rebuild(std::move(req));
}

Task<Result<IndexRebuildRep>> ShelfClient::index_rebuild_finish(HostId host, Epoch epoch,
                                                                uint64_t rebuild_id) {
  IndexRebuildReq req;
  req.host_id = host.value();
  req.epoch = epoch.value();
  req.phase = IndexRebuildPhase::kFinish;
  req.rebuild_id = rebuild_id;
  co_return co_await index_rebuild(std::move(req));
}

Task<Result<RegisterValueRep>> ShelfClient::register_get(std::string name) {
  const RegisterGetReq req{std::move(name)};
  CO_ASSIGN_OR_RETURN(Frame reply, co_await rpc_->call(MessageType::kRegisterGet, encode(req), {}));
  co_return decode_RegisterValueRep(words(reply), FrameLimits{});
}

Task<Result<RegisterCasRep>> ShelfClient::register_cas(std::string name, uint64_t expected_version,
                                                       std::vector<uint8_t> new_value,
                                                       Epoch epoch) {
  const RegisterCasReq req{std::move(name), expected_version, std::move(new_value), epoch.value()};
  CO_ASSIGN_OR_RETURN(Frame reply, co_await rpc_->call(MessageType::kRegisterCas, encode(req), {}));
  co_return decode_RegisterCasRep(words(reply), FrameLimits{});
}

Task<Result<StatusRep>> ShelfClient::status() {
  CO_ASSIGN_OR_RETURN(Frame reply, co_await rpc_->call(MessageType::kStatus, encode_empty(), {}));
  co_return decode_StatusRep(words(reply), FrameLimits{});
}

}  // namespace splitarray::protocol
