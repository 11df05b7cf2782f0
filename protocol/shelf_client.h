// protocol/shelf_client.h
// ShelfClient: typed calls for the shelf surface (DESIGN.md §7) over one RpcClient connection.
// Each call encodes a validated request, awaits the reply and decodes it; errors from the shelf
// arrive as their Error (kStale, kBusy, kCorruption, ...). Bulk bytes go in the frame payload.
// Threading: the Env's event loop, like RpcClient.
#pragma once

#include <memory>

#include "protocol/rpc_client.h"
#include "protocol/shelf_messages.h"

namespace splitarray::protocol {

struct NvramRecords {
  uint64_t first_sequence = 0;
  uint64_t next_sequence = 0;  // one past the last record in the log
  std::vector<std::vector<uint8_t>> records;
};

class ShelfClient final {
 public:
  static Task<Result<std::unique_ptr<ShelfClient>>> connect(Env& env, Address address,
                                                            RpcClientOptions options = {});
  explicit ShelfClient(std::unique_ptr<RpcClient> rpc) : rpc_(std::move(rpc)) {}

  Task<Result<NvramAppendRep>> nvram_append(HostId host, Epoch epoch,
                                            const std::vector<std::vector<uint8_t>>& records);
  Task<Result<NvramRecords>> nvram_read(HostId host, uint64_t from_sequence, uint32_t max_bytes);
  Task<Result<void>> nvram_trim(HostId host, Epoch epoch, uint64_t through_sequence);
  Task<Result<NvramUsageValue>> nvram_usage(HostId host);

  // `fragment` is the whole fragment as stored: protocol/fragment_header.h header + payload.
  Task<Result<void>> fragment_write(HostId host, Epoch epoch, DiskIndex disk, FragmentIdValue id,
                                    std::vector<uint8_t> fragment);
  // length 0 reads the whole fragment.
  Task<Result<std::vector<uint8_t>>> fragment_read(DiskIndex disk, FragmentIdValue id,
                                                   uint32_t offset, uint32_t length);
  Task<Result<void>> fragment_delete(HostId host, Epoch epoch, DiskIndex disk, FragmentIdValue id);
  Task<Result<void>> disk_admin(Epoch epoch, DiskIndex disk, DiskActionValue action);
  // One page of the fragments `disk` stores, from `from` on (inclusive), at most `max_entries`
  // (0: kFragmentListMax). Continue from `next` until `end`. kUnavailable: the disk is failed.
  Task<Result<FragmentListRep>> fragment_list(DiskIndex disk, FragmentCursor from,
                                              uint32_t max_entries);

  Task<Result<IndexLookupRep>> index_lookup(std::vector<Fingerprint> fps);
  // One page of the index's fps from `from` on (IndexListRequest in schema/shelf.capnp); checks
  // the page starts at or after `from`.
  Task<Result<IndexListRep>> index_list(Fingerprint from, uint32_t max_entries);
  Task<Result<IndexInsertRep>> index_insert(HostId host, Epoch epoch, std::vector<Fingerprint> fps,
                                            std::vector<ChunkLocation> locations);
  Task<Result<void>> index_remove(HostId host, Epoch epoch, std::vector<Fingerprint> fps);

  // Rebuilding the index from container footers (admin; netshelf/README.md "Rebuilding the
  // fingerprint index"): begin answers the rebuild id that entries and finish must carry.
  // Batches go as given (at most kIndexBatchMax each; the shelf refuses larger ones).
  Task<Result<IndexRebuildRep>> index_rebuild_begin(HostId host, Epoch epoch);
  Task<Result<IndexRebuildRep>> index_rebuild_entries(HostId host, Epoch epoch, uint64_t rebuild_id,
                                                      std::vector<Fingerprint> fps,
                                                      std::vector<ChunkLocation> locations);
  Task<Result<IndexRebuildRep>> index_rebuild_finish(HostId host, Epoch epoch, uint64_t rebuild_id);

  Task<Result<RegisterValueRep>> register_get(std::string name);
  Task<Result<RegisterCasRep>> register_cas(std::string name, uint64_t expected_version,
                                            std::vector<uint8_t> new_value, Epoch epoch);

  Task<Result<StatusRep>> status();

  RpcClient& rpc() { return *rpc_; }
  Task<void> close() { co_await rpc_->close(); }

 private:
  Task<Result<IndexRebuildRep>> index_rebuild(IndexRebuildReq req);

  std::unique_ptr<RpcClient> rpc_;
};

}  // namespace splitarray::protocol
