// hostdriver/blockstore/trimmer.cpp
// Trimming the NVRAM log behind durable containers. Trimming through ticket T needs:
//   (a) every chunk in records <= T in a durable container (Destager::trim_limit), and
//   (b) every block-map entry still current whose newest record is <= T logged again in a newer
//       record ("relog"), durable before the trim: until the file system's checkpoints cover
//       block maps, the log is where block maps survive a restart; and
//   (c) every file-system operation in records <= T covered by a durable checkpoint
//       (fs_ops_covered). When (c) holds back a trim the ring needs, log_pressure() asks the file
//       system for a checkpoint; and
//   (d) no record <= T holds an entry that only a record not yet durable replaced or erased
//       (an acknowledged write overwritten by an unstable one): a crash may lose the newer record
//       and replay then needs the older one.
// The trimmer runs after each container becomes durable, after each checkpoint, and when
// writers ask (request_trim: the ring passed kTrimStartShare, or a writer waits for room).
// Records without chunks (dedup hits, fs ops) make no container, so only the last two ever
// trim them. A second loop seals a container that has held chunks for seal_idle without new
// ones, so a quiet host's log still drains.
#include <algorithm>

#include "hostdriver/blockstore/block_store_impl.h"

namespace splitarray::hostdriver::blockstore {

size_t BlockStoreImpl::relog_entries_fitting(size_t per_record) const {
  // The relog records must fit the ring as it is now: only the trim after them frees space, so
  // records larger than the free space would be refused as busy until a trim that cannot come
  // (writers fill at most kClientShareOfRing, but appends stored twice and earlier relogs can
  // eat the rest). With room for two full records, a full record; otherwise as many entries as
  // fit even if every one lands in a record of its own (one per file).
  const size_t free_bytes = log_->ring_free_bytes();
  const size_t full_record = ring_footprint(kRecordHeaderBytes + per_record * kRecordUpdateBytes);
  if (free_bytes >= 2 * full_record) return per_record;
  const size_t own_record = ring_footprint(kRecordHeaderBytes + kRecordUpdateBytes);
  return std::clamp<size_t>(free_bytes / own_record, 1, per_record);
}

Task<Result<void>> BlockStoreImpl::trim_once(bool everything) {
  const uint64_t limit = destager_->trim_limit();
  // Records still queued (not durable) are never trimmed; neither is anything past them.
  uint64_t target = std::min(limit == UINT64_MAX ? UINT64_MAX : limit - 1, log_->durable_ticket());
  const auto capacity = static_cast<double>(log_->capacity_bytes());
  if (!everything && capacity > 0) {
    // Lazily: only past kTrimStartShare of the ring, and only the oldest records.
    if (static_cast<double>(log_->untrimmed_bytes()) < kTrimStartShare * capacity) {
      co_return ok_result();
    }
    target =
        std::min(target, log_->trim_point_keeping(static_cast<size_t>(kTrimKeepShare * capacity)));
  }
  const uint64_t fs_limit = oldest_uncovered_fs_op();
  if (target >= fs_limit) {
    target = fs_limit - 1;
    if (!everything) set_log_pressure(true);
  }
  // In steps: relog a bounded batch of the oldest live entries, then trim up to the oldest entry
  // still waiting. Each step frees at least what it relogged (a record carries every entry it
  // set), so trimming progresses even in a nearly full ring.
  while (true) {
    // Never through a record whose entries only records not durable yet replaced: a crash could
    // lose those, and replay would need it (FileMaps::oldest_replaced_by_undurable). Recomputed
    // every step: writes go on meanwhile.
    const uint64_t step_target =
        std::min(target, maps_.oldest_replaced_by_undurable(log_->durable_ticket()) - 1);
    if (step_target <= log_->trimmed_ticket()) break;
    // First trim what carries no live entry any more: that needs no relog, so it frees ring
    // space even when the ring is too full for relog records (e.g. appends that were stored
    // twice after lost replies take space the host's own accounting does not see).
    const uint64_t free_step = std::min(step_target, maps_.oldest_ticket() - 1);
    if (free_step > log_->trimmed_ticket()) {
      CO_RETURN_IF_ERROR(co_await log_->trim_through(free_step));
      log_space_.notify_all();
      continue;
    }
    if (maps_.overlay()) {
      // Block maps over a base are made durable by the file system's checkpoint, not relog.
      set_log_pressure(!everything);
      break;
    }
    // The oldest record still carries live entries: log one record's worth of them again.
    const uint64_t first_new = log_->last_ticket() + 1;
    const size_t per_record = (log_->record_bytes_max() - kRecordHeaderBytes) / kRecordUpdateBytes;
    std::vector<LogRecord> relog =
        maps_.take_relog(step_target, first_new, relog_entries_fitting(per_record), per_record);
    ASSERT_MSG(!relog.empty(), "a live entry at or below the target must be relogged");
    uint64_t last = 0;
    for (const LogRecord& record : relog) {
      stats_.log_relogged_entries += record.updates.size();
      CO_RETURN_IF_ERROR(co_await log_->wait_for_room(encoded_size(record)));
      last = log_->enqueue(encode_record(record));
    }
    CO_RETURN_IF_ERROR(co_await log_->wait_durable(last));
  }
  co_return ok_result();
}

void BlockStoreImpl::request_trim() {
  trim_requested_ = true;
  destager_->progress().notify_all();  // the condition the trimmer waits on
}

void BlockStoreImpl::note_log_growth() {
  // Standalone (no base), only relog makes map entries durable, and destages already pace it.
  if (log_pressure_ || !maps_.overlay()) return;
  const auto capacity = static_cast<double>(log_->capacity_bytes());
  if (static_cast<double>(log_->untrimmed_bytes()) < kTrimStartShare * capacity) return;
  // Over a base, map entries and fs ops leave the log only through a checkpoint. Past the share
  // at which the trimmer starts, ask for one now (as trim_once would), before writers run out
  // of room; its fs_ops_covered then asks the trimmer for the pass. Only when they are what
  // holds the oldest records: while those wait for their container, a checkpoint would free
  // nothing, and checkpoints would follow each other back to back. (Set directly rather than
  // by a trimmer pass per record, which would cost a scan of the ring each.)
  const uint64_t limit = destager_->trim_limit();
  const uint64_t trimmable =
      std::min(limit == UINT64_MAX ? UINT64_MAX : limit - 1, log_->durable_ticket());
  if (trimmable <= log_->trimmed_ticket()) return;
  if (std::min(maps_.oldest_ticket(), oldest_uncovered_fs_op()) <= trimmable) {
    set_log_pressure(true);
  }
}

Task<void> BlockStoreImpl::run_trimmer() {
  while (!closing_) {
    const uint64_t destaged_before = destager_->stats().containers_destaged;
    trim_requested_ = false;
    auto trimmed = co_await trim_once(false);
    if (!trimmed.ok()) {
      if (usable().ok() && !closing_) {
        env_.log.warn("blockstore.trim_failed", {{"error", trimmed.error().to_string()}});
        co_await sleep_for(env_.clock, kReconnectDelay);
        continue;
      }
      break;
    }
    if (closing_ || destager_->failed() || log_->fenced()) break;
    // A container that became durable while trim_once ran moved the trim limit, and its progress
    // notification found nobody waiting (Condition keeps no permit): go round again, as for a
    // request_trim() meanwhile. Waiting instead could wait forever: a writer blocked on ring
    // space makes no new containers.
    if (destager_->stats().containers_destaged != destaged_before || trim_requested_) continue;
    co_await destager_->progress().wait();
  }
  log_space_.notify_all();
}

Task<void> BlockStoreImpl::run_idle_sealer() {
  while (!closing_) {
    // A timer close() can cancel, so closing never waits for a sleep.
    idle_timer_ = env_.clock.call_at(env_.clock.now() + config_.seal_idle / 2,
                                     [this] { idle_tick_.notify(); });
    co_await idle_tick_.wait();
    idle_timer_ = 0;
    if (closing_) break;
    if (destager_->open_has_chunks() &&
        env_.clock.now() - destager_->last_pack() >= config_.seal_idle) {
      destager_->seal_open();
    }
  }
}

}  // namespace splitarray::hostdriver::blockstore
