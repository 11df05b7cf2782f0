// hostdriver/blockstore/destager.h
// Destager: packs new chunks into the open container and turns sealed containers into stripes on
// the shelf (DESIGN.md §4): k data + m parity fragments (ISA-L, on the compute pool), each with
// the 64-byte identity header and CRC32C, written to k+m distinct disks chosen by declustered
// placement; then the container's fps go into the shelf index. Only then is the container
// durable, and the log may be trimmed behind it (the block store's trim loop).
//
// Placement is recomputed, never stored: place_stripe(container, k+m, every disk the shelf has,
// failed or not). New container ids skip placements that touch a disk already failed (up to
// kPlacementSkipMax ids); a disk that fails later leaves its fragment to the rebuild.
// Container ids: host id in the top bits, then a per-host counter reserved in blocks of
// kContainerIdsPerReservation through the shelf register "hosts/<host>/container-ids" (CAS with
// the host's epoch), so ids never repeat across restarts or hosts.
//
// Invariants:
//   (1) A container's stripe is written only after every log record that packed a chunk into it
//       is durable, so what is on disk is always a subset of what replay can rebuild.
//   (2) sealed_.size() <= stripes_inflight_max + (chunks of one record may seal a few more).
//   (3) trim_limit(): every chunk record with a smaller ticket is in a durable container.
// Threading: the Env's event loop; encoding on the compute pool through Workers.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/async/condition.h"
#include "common/async/task_group.h"
#include "common/env.h"
#include "hostdriver/blockstore/block_store.h"
#include "hostdriver/blockstore/log_record.h"
#include "hostdriver/blockstore/log_writer.h"
#include "hostdriver/blockstore/shelf_link.h"
#include "hostdriver/blockstore/workers.h"
#include "hostdriver/container/container_builder.h"

namespace splitarray::hostdriver::blockstore {

inline constexpr uint64_t kContainerIdsPerReservation = 256;
inline constexpr int kPlacementSkipMax = 64;
inline constexpr uint32_t kHostIdBitsInContainerId = 12;
inline constexpr uint32_t kContainerCounterBits = 40 - kHostIdBitsInContainerId;
inline constexpr uint32_t kFragmentGeneration = 1;
inline constexpr Duration kDestageRetryDelay = std::chrono::milliseconds(200);

// The register holding `host`'s container-id high-water mark: 8 bytes (common/endian.h), the
// first counter no reservation has handed out, so every id the host used has a smaller counter.
// Read by fsck; reserve_ids() is its only writer.
inline std::string container_ids_register(HostId host) {
  return "hosts/" + std::to_string(host.value()) + "/container-ids";
}

struct DestagerStats {
  uint64_t containers_sealed = 0;
  uint64_t containers_destaged = 0;
  uint64_t stripes_written_degraded = 0;
  uint64_t fragment_write_retries = 0;
  uint64_t fragments_rebuilt = 0;  // built again for a retried write (its bytes went with the last)
  uint64_t fragment_writes_no_space = 0;  // fragment writes the shelf refused for lack of space
};

class Destager final {
 public:
  Destager(Env& env, const BlockStoreConfig& config, ShelfLink& link, Workers& workers);
  ~Destager();
  Destager(const Destager&) = delete;
  Destager& operator=(const Destager&) = delete;

  // Learns the shelf's disks and reserves the first container ids. Before anything else.
  Task<Result<void>> open();
  // The log writer exists only after replay; the destager needs it from start() on.
  void start(LogWriter& log);
  // Stops after the sealed containers are destaged (or at once when fenced / link closed).
  Task<void> stop();

  // Waits until `bytes` more chunk bytes can be packed without exceeding the limits. kNoSpace at
  // once when bytes > 0 and a fragment write is stuck on a full disk (space()).
  Task<Result<void>> wait_for_room(size_t bytes);
  // kNoSpace (naming the disk) while some fragment write is refused for lack of space. Such a
  // stripe keeps being retried (it holds acknowledged data, safe in the NVRAM log meanwhile);
  // the block store refuses new data instead of letting writers wait for room that no longer
  // comes. Clears once every such write has succeeded.
  Result<void> space() const;
  // Packs one chunk into the open container, sealing it first if it is full. Synchronous.
  ChunkLocation pack(const Fingerprint& fp, std::span<const uint8_t> stored,
                     uint32_t logical_bytes);
  // The record that carries every chunk packed since the previous call got `ticket`.
  void logged(uint64_t ticket);
  // Replay: puts a chunk found in the log back where it was packed. Chunks of containers whose
  // first records were trimmed (the container is durable) are skipped. kCorruption if the log
  // does not describe a container the builder can reproduce.
  Result<void> restore(const NewChunk& chunk, uint64_t ticket);

  // Bytes of a chunk that is not durable yet (open or sealed container in memory).
  std::optional<std::span<const uint8_t>> staged(const ChunkLocation& location) const;
  // Seals the open container if it holds chunks.
  void seal_open();
  // Waits until every container sealed so far is durable (kNoSpace when space() says so).
  Task<Result<void>> drain();
  uint64_t trim_limit() const;
  // Signalled whenever a container becomes durable (or the destager fails).
  async::Condition& progress() { return progress_; }
  TimePoint last_pack() const { return last_pack_; }
  bool open_has_chunks() const { return open_ && open_->builder->chunk_count() > 0; }

  Result<std::vector<DiskIndex>> placement(ContainerId container) const;
  const DestagerStats& stats() const { return stats_; }
  const std::optional<Error>& failed() const { return failed_; }

 private:
  struct Container {
    std::unique_ptr<container::ContainerBuilder> builder;  // while open
    container::SealedContainer sealed;                     // once sealed
    uint64_t first_ticket = UINT64_MAX;
    uint64_t last_ticket = 0;
    bool awaiting_ticket = false;
    bool started = false;  // its stripe is being written
    bool durable = false;
    // Header + payload, k+m of them, from encode() until each is moved into its first write.
    std::vector<std::vector<uint8_t>> fragments;
  };

  Task<Result<void>> reserve_ids();
  Task<Result<void>> refresh_disks();
  // The next container id whose placement avoids failed disks (or the first if none does).
  ContainerId take_id();
  void open_new();
  Task<void> run();
  Task<Result<void>> destage(Container& c);
  // On the compute pool: the container's k+m fragments, or fragment `only` alone.
  Task<Result<std::vector<std::vector<uint8_t>>>> build_on_pool(const Container& c,
                                                                std::optional<size_t> only);
  // All k+m fragments into c.fragments.
  Task<Result<void>> encode(Container& c);
  // Fragment `index`, to be moved into its write request: taken from c.fragments on the first
  // attempt, built again on a retry (the previous attempt's bytes went with its request).
  Task<Result<std::vector<uint8_t>>> take_fragment(Container& c, int index);
  Task<Result<void>> write_fragments(Container& c, const std::vector<DiskIndex>& disks);
  Task<Result<void>> write_fragment(Container& c, int index, DiskIndex disk, bool* skipped);
  // write_fragment's retry loop; sets without_space (and counts it) on the first kNoSpace.
  Task<Result<void>> write_fragment_until_done(Container& c, int index, DiskIndex disk,
                                               const protocol::FragmentIdValue& id, bool* skipped,
                                               bool& without_space);
  // A fragment write refused for lack of space: counts it and, on its first kNoSpace, makes
  // space() refuse new data and wakes every writer waiting for room.
  void note_no_space(DiskIndex disk, const Error& error, bool& without_space);
  Task<Result<void>> insert_index(const Container& c);
  void fail(const Error& error);

  Env& env_;
  const BlockStoreConfig config_;
  ShelfLink& link_;
  LogWriter* log_ = nullptr;
  Workers& workers_;
  const int width_;
  std::vector<DiskIndex> disks_;           // every disk of the shelf
  std::map<DiskIndex, bool> disk_failed_;  // as last seen
  uint32_t slot_payload_min_ = 0;          // smallest slot payload the shelf reported (0: none)
  std::deque<uint64_t> free_ids_;
  bool reserving_ = false;
  bool refreshing_ = false;
  std::unique_ptr<Container> open_;
  std::deque<std::unique_ptr<Container>> sealed_;  // oldest first; removed when durable
  std::map<uint64_t, Container*> by_id_;           // open and sealed, for staged reads
  std::optional<uint64_t> replay_skip_;            // container whose chunks replay skips
  TimePoint last_pack_{};
  std::optional<Error> failed_;
  size_t writes_without_space_ = 0;  // fragment writes now waiting on a full disk
  std::optional<Error> no_space_;    // the latest such refusal (valid while the count > 0)
  bool stopping_ = false;
  size_t inflight_ = 0;
  async::Notify work_;
  async::Condition progress_;
  async::TaskGroup tasks_;
  async::TaskGroup stripes_;
  DestagerStats stats_;
};

}  // namespace splitarray::hostdriver::blockstore
