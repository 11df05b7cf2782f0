#include "netshelf/service/shelf_handler.h"

#include <algorithm>
#include <cstring>

#include "common/crc32c.h"

namespace splitarray::netshelf {
namespace {

using protocol::Frame;
using protocol::FrameLimits;
using protocol::Reply;

// Connections remembered for host attribution; beyond this the oldest entries are dropped.
constexpr size_t kConnectionHostsMax = 65536;

Reply reply_of(protocol::Body body, std::vector<uint8_t> payload = {}) {
  return Reply{std::move(body), std::move(payload)};
}

protocol::FragmentId fragment_id(const protocol::FragmentIdValue& v) {
  return protocol::FragmentId{ContainerId(v.container_id), v.index, v.generation};
}

index::Fingerprint to_index_fp(const protocol::Fingerprint& fp) {
  index::Fingerprint out;
  out.bytes = fp;
  return out;
}

std::vector<index::IndexEntry> to_index_entries(const std::vector<protocol::Fingerprint>& fps,
                                                const std::vector<protocol::ChunkLocation>& locs) {
  ASSERT(fps.size() == locs.size());  // the decoder checked
  std::vector<index::IndexEntry> entries;
  entries.reserve(fps.size());
  for (size_t i = 0; i < fps.size(); ++i) {
    const protocol::ChunkLocation& l = locs[i];
    entries.push_back(
        index::IndexEntry{to_index_fp(fps[i]),
                          index::ChunkLocation{ContainerId(l.container_id), l.offset, l.length}});
  }
  return entries;
}

protocol::ChunkLocation to_wire(const index::ChunkLocation& l) {
  return protocol::ChunkLocation{l.container.value(), l.offset, l.length};
}

protocol::RegisterValueRep to_wire(const RegisterValue& v) {
  return protocol::RegisterValueRep{v.exists, v.value, v.version, v.epoch.value()};
}

}  // namespace

Task<Result<Reply>> ShelfHandler::handle(protocol::RequestContext& context, Frame request) {
  const TimePoint start = env_.clock.now();
  const uint64_t bytes_in = request.body_bytes().size() + request.payload.size();
  auto known = connection_host_.find(context.connection_id);
  HostId host = known != connection_host_.end() ? known->second : HostId(0);
  Result<Reply> reply = co_await dispatch(context, request, host);
  if (host != HostId(0)) {
    if (connection_host_.size() >= kConnectionHostsMax)
      connection_host_.erase(connection_host_.begin());
    connection_host_[context.connection_id] = host;
  }
  const uint64_t bytes_out =
      reply.ok() ? reply->body.size() * sizeof(capnp::word) + reply->payload.size() : 0;
  stats_.record(host, bytes_in, bytes_out, !reply.ok(), env_.clock.now() - start);
  co_return reply;
}

Task<Result<Reply>> ShelfHandler::dispatch(protocol::RequestContext& context, Frame& request,
                                           HostId& host) {
  using protocol::MessageType;
  switch (context.type) {
    case MessageType::kNvramAppend:
      co_return co_await nvram_append(request, host);
    case MessageType::kNvramRead:
      co_return co_await nvram_read(request, host);
    case MessageType::kNvramTrim:
      co_return co_await nvram_trim(request, host);
    case MessageType::kNvramUsage:
      co_return nvram_usage(request);
    case MessageType::kFragmentWrite:
      co_return co_await fragment_write(request, host);
    case MessageType::kFragmentRead:
      co_return co_await fragment_read(request);
    case MessageType::kFragmentDelete:
      co_return co_await fragment_delete(request, host);
    case MessageType::kDiskAdmin:
      co_return co_await disk_admin(request);
    case MessageType::kFragmentList:
      co_return fragment_list(request);
    case MessageType::kIndexLookup:
      co_return co_await index_lookup(request);
    case MessageType::kIndexList:
      co_return index_list(request);
    case MessageType::kIndexInsert:
      co_return co_await index_insert(request, host);
    case MessageType::kIndexRemove:
      co_return co_await index_remove(request, host);
    case MessageType::kIndexRebuild:
      co_return co_await index_rebuild(request, host);
    case MessageType::kRegisterGet:
      co_return co_await register_get(request);
    case MessageType::kRegisterCas:
      co_return co_await register_cas(request);
    case MessageType::kStatus:
    case MessageType::kDiskList:
      co_return status();
    case MessageType::kEcho:
    case MessageType::kCancel:
      break;
  }
  co_return make_error(Code::kInvalidArgument, "the shelf does not serve this message type");
}

// --- NVRAM ------------------------------------------------------------------------------------

Task<Result<Reply>> ShelfHandler::nvram_append(Frame& request, HostId& host) {
  CO_ASSIGN_OR_RETURN(const protocol::NvramAppendReq req,
                      protocol::decode_NvramAppendReq(request.body_words(), FrameLimits{}));
  host = HostId(req.host_id);
  // The lengths must carve the payload exactly: no record may run past it or leave bytes over.
  std::vector<std::span<const uint8_t>> records;
  size_t at = 0;
  for (uint32_t length : req.record_lengths) {
    if (length > request.payload.size() - at) {
      co_return make_error(Code::kInvalidArgument, "record lengths exceed the payload");
    }
    records.emplace_back(request.payload.data() + at, length);
    at += length;
  }
  if (at != request.payload.size()) {
    co_return make_error(Code::kInvalidArgument, "payload bytes beyond the listed records");
  }
  CO_ASSIGN_OR_RETURN(const nvram::AppendResult appended,
                      co_await shelf_.nvram().append(host, Epoch(req.epoch), records));
  co_return reply_of(protocol::encode(protocol::NvramAppendRep{
      appended.first_sequence, appended.used_bytes, appended.capacity_bytes}));
}

Task<Result<Reply>> ShelfHandler::nvram_read(Frame& request, HostId& host) {
  CO_ASSIGN_OR_RETURN(const protocol::NvramReadReq req,
                      protocol::decode_NvramReadReq(request.body_words(), FrameLimits{}));
  if (host == HostId(0)) host = HostId(req.host_id);
  // One reply must fit one frame payload.
  const uint64_t max_bytes = std::min<uint64_t>(
      req.max_bytes == 0 ? protocol::kPayloadMaxBytes : req.max_bytes, protocol::kPayloadMaxBytes);
  Result<nvram::ReadResult> read_result =
      co_await shelf_.nvram().read(HostId(req.host_id), req.from_sequence, max_bytes);
  if (!read_result.ok() && read_result.code() == Code::kNotFound &&
      !shelf_.nvram().usage(HostId(req.host_id)).ok()) {
    // A host that never appended has an empty log, not a missing one.
    co_return reply_of(protocol::encode(protocol::NvramReadRep{req.from_sequence, {}, 1}));
  }
  CO_ASSIGN_OR_RETURN(nvram::ReadResult read, std::move(read_result));
  protocol::NvramReadRep rep;
  rep.first_sequence = read.records.empty() ? req.from_sequence : read.records.front().sequence;
  rep.next_sequence = read.next_sequence;
  std::vector<uint8_t> payload;
  // One reply holds at most what the wire admits (kPayloadMaxBytes, kNvramRecordsPerAppendMax
  // records); the reader continues from the record after the last one it got. Small records
  // (file-system operations) reach the count limit long before the byte limit.
  for (const nvram::LogRecord& record : read.records) {
    if (payload.size() + record.bytes.size() > protocol::kPayloadMaxBytes) break;
    if (rep.record_lengths.size() == protocol::kNvramRecordsPerAppendMax) break;
    rep.record_lengths.push_back(static_cast<uint32_t>(record.bytes.size()));
    payload.insert(payload.end(), record.bytes.begin(), record.bytes.end());
  }
  co_return reply_of(protocol::encode(rep), std::move(payload));
}

Task<Result<Reply>> ShelfHandler::nvram_trim(Frame& request, HostId& host) {
  CO_ASSIGN_OR_RETURN(const protocol::NvramTrimReq req,
                      protocol::decode_NvramTrimReq(request.body_words(), FrameLimits{}));
  host = HostId(req.host_id);
  CO_RETURN_IF_ERROR(co_await shelf_.nvram().trim(host, Epoch(req.epoch), req.through_sequence));
  co_return reply_of(protocol::encode_empty());
}

Result<Reply> ShelfHandler::nvram_usage(Frame& request) {
  ASSIGN_OR_RETURN(const protocol::NvramUsageValue req,
                   protocol::decode_NvramUsageValue(request.body_words(), FrameLimits{}));
  ASSIGN_OR_RETURN(const nvram::LogUsage usage, shelf_.nvram().usage(HostId(req.host_id)));
  return reply_of(protocol::encode(
      protocol::NvramUsageValue{req.host_id, usage.used_bytes, usage.capacity_bytes,
                                usage.first_sequence, usage.next_sequence}));
}

// --- fragments and disks -------------------------------------------------------------------

Task<Result<Reply>> ShelfHandler::fragment_write(Frame& request, HostId& host) {
  CO_ASSIGN_OR_RETURN(const protocol::FragmentWriteReq req,
                      protocol::decode_FragmentWriteReq(request.body_words(), FrameLimits{}));
  host = HostId(req.host_id);
  CO_RETURN_IF_ERROR(shelf_.check_fence(host, Epoch(req.epoch)));
  // The frame's data CRC covered transit; this one is the host's end-to-end claim.
  if (crc32c(request.payload) != req.crc32c) {
    co_return make_error(Code::kCorruption, "fragment bytes do not match the request's CRC");
  }
  CO_ASSIGN_OR_RETURN(Disk* const disk, shelf_.disks().disk(DiskIndex(req.disk)));
  CO_RETURN_IF_ERROR(co_await disk->write_fragment(fragment_id(req.id), request.payload));
  co_return reply_of(protocol::encode_empty());
}

Task<Result<Reply>> ShelfHandler::fragment_read(Frame& request) {
  CO_ASSIGN_OR_RETURN(const protocol::FragmentReadReq req,
                      protocol::decode_FragmentReadReq(request.body_words(), FrameLimits{}));
  CO_ASSIGN_OR_RETURN(Disk* const disk, shelf_.disks().disk(DiskIndex(req.disk)));
  // (if/else, not ?: — GCC 12 miscompiles co_await inside a conditional expression.)
  Result<std::vector<uint8_t>> bytes = make_error(Code::kInvalidArgument, "unread");
  if (req.length == 0) {
    bytes = co_await disk->read_fragment(fragment_id(req.id));
  } else {
    bytes = co_await disk->read_range(fragment_id(req.id), req.offset, req.length);
  }
  if (!bytes.ok()) co_return std::move(bytes).take_error();
  const uint32_t crc = crc32c(*bytes);
  co_return reply_of(protocol::encode(protocol::FragmentReadRep{crc}), std::move(bytes).value());
}

Task<Result<Reply>> ShelfHandler::fragment_delete(Frame& request, HostId& host) {
  CO_ASSIGN_OR_RETURN(const protocol::FragmentDeleteReq req,
                      protocol::decode_FragmentDeleteReq(request.body_words(), FrameLimits{}));
  host = HostId(req.host_id);
  CO_RETURN_IF_ERROR(shelf_.check_fence(host, Epoch(req.epoch)));
  CO_ASSIGN_OR_RETURN(Disk* const disk, shelf_.disks().disk(DiskIndex(req.disk)));
  CO_RETURN_IF_ERROR(co_await disk->delete_fragment(fragment_id(req.id)));
  co_return reply_of(protocol::encode_empty());
}

// One page of a disk's fragments (fsck). Synchronous: the disk answers from its table in memory.
Result<Reply> ShelfHandler::fragment_list(Frame& request) {
  ASSIGN_OR_RETURN(const protocol::FragmentListReq req,
                   protocol::decode_FragmentListReq(request.body_words(), FrameLimits{}));
  ASSIGN_OR_RETURN(Disk* const disk, shelf_.disks().disk(DiskIndex(req.disk)));
  const size_t max = req.max_entries == 0
                         ? protocol::kFragmentListMax
                         : std::min<size_t>(req.max_entries, protocol::kFragmentListMax);
  const protocol::FragmentId from{ContainerId(req.from.container_id), req.from.index, 0};
  ASSIGN_OR_RETURN(const FragmentPage page, disk->list_page(from, max));
  protocol::FragmentListRep rep;
  rep.fragments.reserve(page.fragments.size());
  for (const ListedFragment& listed : page.fragments) {
    const protocol::FragmentId& id = listed.id;
    rep.fragments.push_back(protocol::ListedFragmentValue{
        protocol::FragmentIdValue{id.container.value(), id.index, id.generation},
        listed.payload_length});
  }
  rep.end = !page.next.has_value();
  if (page.next)
    rep.next = protocol::FragmentCursor{page.next->container.value(), page.next->index};
  ASSERT(rep.fragments.size() <= max);
  return reply_of(protocol::encode(rep));
}

Task<Result<Reply>> ShelfHandler::disk_admin(Frame& request) {
  CO_ASSIGN_OR_RETURN(const protocol::DiskAdminReq req,
                      protocol::decode_DiskAdminReq(request.body_words(), FrameLimits{}));
  const DiskIndex index(req.disk);
  if (req.action == protocol::DiskActionValue::kFail) {
    CO_ASSIGN_OR_RETURN(Disk* const disk, shelf_.disks().disk(index));
    CO_RETURN_IF_ERROR(co_await disk->fail("failed by admin request"));
  } else {
    if (index.value() >= shelf_.config().disks.size()) {
      co_return make_error(Code::kNotFound, "no disk " + std::to_string(req.disk));
    }
    const DiskConfig& configured = shelf_.config().disks[index.value()];
    CO_RETURN_IF_ERROR(
        co_await shelf_.disks().replace(index, configured.path, configured.size_bytes));
  }
  env_.log.warn("shelf.disk_admin",
                {{"disk", req.disk},
                 {"action", req.action == protocol::DiskActionValue::kFail ? "fail" : "replace"}});
  co_return reply_of(protocol::encode_empty());
}

// --- index -----------------------------------------------------------------------------------

Task<Result<Reply>> ShelfHandler::index_lookup(Frame& request) {
  CO_ASSIGN_OR_RETURN(const protocol::IndexLookupReq req,
                      protocol::decode_IndexLookupReq(request.body_words(), FrameLimits{}));
  std::vector<index::Fingerprint> fps;
  fps.reserve(req.fingerprints.size());
  for (const auto& fp : req.fingerprints) fps.push_back(to_index_fp(fp));
  CO_ASSIGN_OR_RETURN(const std::vector<index::LookupResult> found, shelf_.index().lookup(fps));
  protocol::IndexLookupRep rep;
  for (const index::LookupResult& r : found) {
    rep.found.push_back(r.found);
    rep.locations.push_back(to_wire(r.location));
  }
  co_return reply_of(protocol::encode(rep));
}

// One page of the index's fps in order (a host fills its Bloom filter from them). Synchronous:
// the index is in memory, and a page costs O(page) (FingerprintIndex::list_from).
Result<Reply> ShelfHandler::index_list(Frame& request) {
  ASSIGN_OR_RETURN(const protocol::IndexListReq req,
                   protocol::decode_IndexListReq(request.body_words(), FrameLimits{}));
  const size_t max = req.max_entries == 0
                         ? protocol::kIndexListMax
                         : std::min<size_t>(req.max_entries, protocol::kIndexListMax);
  const index::FingerprintIndex::ListPage page =
      shelf_.index().memory().list_from(to_index_fp(req.from), max);
  protocol::IndexListRep rep;
  rep.fingerprints.reserve(page.fps.size());
  for (const index::Fingerprint& fp : page.fps) rep.fingerprints.push_back(fp.bytes);
  rep.end = !page.next.has_value();
  if (page.next) rep.next = page.next->bytes;
  rep.rebuilding = shelf_.index().rebuilding();
  ASSERT(rep.fingerprints.size() <= max);
  return reply_of(protocol::encode(rep));
}

Task<Result<Reply>> ShelfHandler::index_insert(Frame& request, HostId& host) {
  CO_ASSIGN_OR_RETURN(protocol::IndexInsertReq req,
                      protocol::decode_IndexInsertReq(request.body_words(), FrameLimits{}));
  host = HostId(req.host_id);
  CO_RETURN_IF_ERROR(shelf_.check_fence(host, Epoch(req.epoch)));
  std::vector<index::IndexEntry> entries = to_index_entries(req.fingerprints, req.locations);
  CO_ASSIGN_OR_RETURN(const std::vector<index::InsertResult> results,
                      co_await shelf_.index().insert(std::move(entries)));
  protocol::IndexInsertRep rep;
  for (const index::InsertResult& r : results) {
    rep.inserted.push_back(r.inserted);
    rep.existing.push_back(to_wire(r.existing));
  }
  co_await maybe_snapshot_index();
  co_return reply_of(protocol::encode(rep));
}

Task<void> ShelfHandler::maybe_snapshot_index() {
  if (!shelf_.index().snapshot_due() || snapshotting_) co_return;
  snapshotting_ = true;
  Result<void> snap = co_await shelf_.index().snapshot();
  snapshotting_ = false;
  // kBusy: a rebuild begin is rotating the log right now, which does the same.
  if (!snap.ok() && snap.code() != Code::kBusy) {
    env_.log.error("shelf.index_snapshot_failed", {{"error", snap.error().to_string()}});
  }
}

Task<Result<Reply>> ShelfHandler::index_remove(Frame& request, HostId& host) {
  CO_ASSIGN_OR_RETURN(protocol::IndexRemoveReq req,
                      protocol::decode_IndexRemoveReq(request.body_words(), FrameLimits{}));
  host = HostId(req.host_id);
  CO_RETURN_IF_ERROR(shelf_.check_fence(host, Epoch(req.epoch)));
  std::vector<index::Fingerprint> fps;
  for (const auto& fp : req.fingerprints) fps.push_back(to_index_fp(fp));
  CO_ASSIGN_OR_RETURN(const std::vector<index::LookupResult> removed,
                      co_await shelf_.index().remove(std::move(fps)));
  (void)removed;  // removing an absent fp is not an error (idempotent GC)
  co_return reply_of(protocol::encode_empty());
}

// Rebuilding the index from container footers: the admin tool reads the footers and sends their
// entries; the shelf only re-inserts them (netshelf/index/index_store.h has the crash safety).
Task<Result<Reply>> ShelfHandler::index_rebuild(Frame& request, HostId& host) {
  CO_ASSIGN_OR_RETURN(protocol::IndexRebuildReq req,
                      protocol::decode_IndexRebuildReq(request.body_words(), FrameLimits{}));
  host = HostId(req.host_id);
  CO_RETURN_IF_ERROR(shelf_.check_fence(host, Epoch(req.epoch)));
  index::IndexStore& store = shelf_.index();
  protocol::IndexRebuildRep rep;
  rep.rebuild_id = req.rebuild_id;
  if (req.phase == protocol::IndexRebuildPhase::kBegin) {
    CO_ASSIGN_OR_RETURN(rep.rebuild_id, co_await store.begin_rebuild());
    env_.log.warn("shelf.index_rebuild_begun",
                  {{"host", req.host_id}, {"epoch", req.epoch}, {"rebuild_id", rep.rebuild_id}});
  } else if (req.phase == protocol::IndexRebuildPhase::kEntries) {
    std::vector<index::IndexEntry> entries = to_index_entries(req.fingerprints, req.locations);
    CO_ASSIGN_OR_RETURN(const index::BulkInsertSummary summary,
                        co_await store.rebuild_insert(req.rebuild_id, std::move(entries)));
    rep.inserted = summary.inserted;
    rep.already_present = summary.already_present;
    co_await maybe_snapshot_index();  // a large rebuild logs a lot
  } else {
    ASSERT(req.phase == protocol::IndexRebuildPhase::kFinish);
    CO_RETURN_IF_ERROR(co_await store.finish_rebuild(req.rebuild_id));
    env_.log.warn("shelf.index_rebuild_finished", {{"host", req.host_id},
                                                   {"rebuild_id", req.rebuild_id},
                                                   {"entries", store.memory().size()}});
  }
  rep.entries = store.memory().size();
  co_return reply_of(protocol::encode(rep));
}

// --- registers and status ---------------------------------------------------------------------

Task<Result<Reply>> ShelfHandler::register_get(Frame& request) {
  CO_ASSIGN_OR_RETURN(protocol::RegisterGetReq req,
                      protocol::decode_RegisterGetReq(request.body_words(), FrameLimits{}));
  CO_ASSIGN_OR_RETURN(const RegisterValue value,
                      co_await shelf_.registers().get(std::move(req.name)));
  co_return reply_of(protocol::encode(to_wire(value)));
}

Task<Result<Reply>> ShelfHandler::register_cas(Frame& request) {
  CO_ASSIGN_OR_RETURN(protocol::RegisterCasReq req,
                      protocol::decode_RegisterCasReq(request.body_words(), FrameLimits{}));
  CO_ASSIGN_OR_RETURN(const CasOutcome outcome, co_await shelf_.registers().compare_and_swap(
                                                    std::move(req.name), req.expected_version,
                                                    std::move(req.new_value), Epoch(req.epoch)));
  co_return reply_of(
      protocol::encode(protocol::RegisterCasRep{outcome.swapped, to_wire(outcome.current)}));
}

Result<Reply> ShelfHandler::status() { return reply_of(protocol::encode(shelf_.status(stats_))); }

}  // namespace splitarray::netshelf
