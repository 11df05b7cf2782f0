#include "netshelf/disk/disk.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "common/crc32c.h"

namespace splitarray::netshelf {

using protocol::FragmentHeader;
using protocol::kFragmentHeaderSize;

Disk::Disk(Env& env, std::string path, std::unique_ptr<File> file, Superblock sb)
    : log_(env.log.child("disk")),
      path_(std::move(path)),
      file_(std::move(file)),
      sb_(sb),
      state_(sb.state),
      slots_(sb.geometry.slot_count) {
  ASSERT(file_ != nullptr);
  ASSERT(sb_.geometry.slot_count > 0);
}

// Not inside a coroutine: GCC 12 reports -Wmismatched-new-delete for a `new` in a coroutine body.
std::unique_ptr<Disk> Disk::make(Env& env, std::string path, std::unique_ptr<File> file,
                                 Superblock sb) {
  return std::unique_ptr<Disk>(new Disk(env, std::move(path), std::move(file), sb));
}

Disk::~Disk() { ASSERT_MSG(inflight_ == 0, "Disk destroyed with operations in flight"); }

// ---------------------------------------------------------------------------------------------
// Format and open.

Task<Result<std::unique_ptr<Disk>>> Disk::format(Env& env, std::string path, DiskIdentity identity,
                                                 DiskFormatOptions options) {
  if (options.state == DiskState::kFailed)
    co_return invalid_argument_error("cannot format a disk as failed");
  const FileOptions file_options{.create = true, .create_size_bytes = options.capacity_bytes};
  CO_ASSIGN_OR_RETURN(auto file, co_await env.storage.open(path, file_options));
  CO_ASSIGN_OR_RETURN(const uint64_t size, file->size());
  const uint64_t capacity = options.capacity_bytes > 0 ? options.capacity_bytes : size;
  if (size < capacity) co_return make_error(Code::kIo, "disk file is smaller than its capacity");
  CO_ASSIGN_OR_RETURN(DiskGeometry geometry,
                      plan_geometry(capacity, options.slot_payload_max_bytes));
  uint64_t nonce = 0;
  while (nonce == 0) nonce = env.rng.next_u64();  // 0 would match never-written entries
  Superblock sb{.identity = identity,
                .sequence = 1,
                .disk_generation = options.disk_generation,
                .state = options.state,
                .format_nonce = nonce,
                .capacity_bytes = capacity,
                .geometry = geometry};
  // Invalidate copy B first, so a crash mid-format never leaves a new copy A beside an old B
  // that could win on sequence: the file is either the old disk (A intact) or the new one.
  const std::vector<uint8_t> zeros(kSuperblockSize, 0);
  CO_RETURN_IF_ERROR(co_await file->write_at(kSuperblockOffsetB, zeros));
  CO_RETURN_IF_ERROR(co_await file->flush());
  auto disk = make(env, std::move(path), std::move(file), sb);
  CO_RETURN_IF_ERROR(co_await disk->write_superblocks());
  // A new nonce makes every old table entry and slot page foreign: all slots are free.
  disk->free_slots_.reserve(geometry.slot_count);
  for (uint32_t slot = geometry.slot_count; slot-- > 0;) disk->free_slots_.push_back(slot);
  disk->log_.info("disk.formatted", {{"path", disk->path_},
                                     {"disk", unsigned{identity.index.value()}},
                                     {"slots", geometry.slot_count},
                                     {"generation", options.disk_generation}});
  co_return disk;
}

Task<Result<std::unique_ptr<Disk>>> Disk::open(Env& env, std::string path, DiskIdentity expected) {
  CO_ASSIGN_OR_RETURN(auto file, co_await env.storage.open(path, {}));
  std::vector<uint8_t> both(2 * kSuperblockSize);
  CO_RETURN_IF_ERROR(co_await file->read_at(kSuperblockOffsetA, both));
  auto a = decode_superblock(std::span<const uint8_t>(both).first(kSuperblockSize));
  auto b = decode_superblock(std::span<const uint8_t>(both).subspan(kSuperblockSize));
  if (!a.ok() && !b.ok()) {
    co_return corruption_error("no valid superblock on " + path + ": " + a.error().message);
  }
  const bool a_wins = a.ok() && (!b.ok() || a->sequence >= b->sequence);
  const Superblock sb = a_wins ? a.value() : b.value();
  if (!(sb.identity == expected)) {
    co_return invalid_argument_error(path + " holds " + sb.identity.to_string() + ", expected " +
                                     expected.to_string());
  }
  CO_ASSIGN_OR_RETURN(const uint64_t size, file->size());
  if (size < sb.geometry.end_offset()) {
    co_return corruption_error(path + " is shorter than its superblock says");
  }
  const bool repair = !a.ok() || !b.ok() || a->sequence != b->sequence;
  auto disk = make(env, std::move(path), std::move(file), sb);
  if (disk->state_ == DiskState::kFailed) {
    disk->failure_ = "persisted as failed";
    co_return disk;  // its table is not trusted or needed: a failed disk serves nothing
  }
  // Keep two good copies, so the next torn superblock write is survivable too.
  if (repair) CO_RETURN_IF_ERROR(co_await disk->write_superblocks());
  CO_RETURN_IF_ERROR(co_await disk->load_table());
  disk->log_.info("disk.opened", {{"path", disk->path_},
                                  {"disk", unsigned{expected.index.value()}},
                                  {"used", static_cast<uint64_t>(disk->index_.size())},
                                  {"damaged", disk->damaged_entries_}});
  co_return disk;
}

// Writes copy A, flushes, then copy B, flushes: at every moment one copy is whole.
Task<Result<void>> Disk::write_superblocks() {
  sb_.state = state_;
  const auto bytes = encode_superblock(sb_);
  for (const uint64_t offset : {kSuperblockOffsetA, kSuperblockOffsetB}) {
    auto written = co_await file_->write_at(offset, bytes);
    if (!written.ok()) co_return fail_now("superblock write: " + written.error().message);
    auto flushed = co_await file_->flush();
    if (!flushed.ok()) co_return fail_now("superblock flush: " + flushed.error().message);
  }
  co_return ok_result();
}

// Rebuilds the in-memory map from the table alone (invariant 6). Two used entries for one
// (container, index) exist only after a crash between a rewrite's commit and the old slot's
// tombstone; the higher (generation, sequence) wins, as at runtime, and the loser is cleared
// durably before serving so that deleting the winner can never resurrect it.
Task<Result<void>> Disk::load_table() {
  const DiskGeometry& g = sb_.geometry;
  std::vector<uint8_t> chunk;
  std::vector<uint32_t> losers;
  uint64_t max_sequence = 0;
  for (uint32_t first = 0; first < g.slot_count; first += kTableReadChunkEntries) {
    const uint32_t n = std::min(kTableReadChunkEntries, g.slot_count - first);
    chunk.resize(size_t{n} * kTableEntrySize);
    CO_RETURN_IF_ERROR(co_await file_->read_at(g.table_entry_offset(first), chunk));
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t slot = first + i;
      const auto bytes =
          std::span<const uint8_t>(chunk).subspan(size_t{i} * kTableEntrySize, kTableEntrySize);
      DecodedEntry d = decode_table_entry(bytes, slot, sb_.format_nonce, g.slot_payload_max_bytes);
      if (d.kind == EntryKind::kDamaged) {
        ++damaged_entries_;
        log_.warn("disk.table_entry_damaged", {{"path", path_}, {"slot", slot}});
        continue;
      }
      max_sequence = std::max(max_sequence, d.entry.sequence);
      if (d.kind == EntryKind::kFree) continue;
      const auto [it, inserted] = index_.try_emplace(key_of(d.entry.id), slot);
      uint32_t loser = slot;
      if (!inserted) {
        const TableEntry& held = slots_[it->second].entry;
        if (std::pair(d.entry.id.generation, d.entry.sequence) >
            std::pair(held.id.generation, held.sequence)) {
          loser = std::exchange(it->second, slot);
        }
        losers.push_back(loser);
      }
      slots_[slot] = SlotMeta{.use = SlotUse::kUsed, .readers = 0, .entry = d.entry};
      if (!inserted) slots_[loser].use = SlotUse::kReleasing;
    }
  }
  next_sequence_ = max_sequence + 1;
  for (uint32_t slot = g.slot_count; slot-- > 0;) {
    if (slots_[slot].use == SlotUse::kFree) free_slots_.push_back(slot);
    if (slots_[slot].use == SlotUse::kUsed)
      payload_bytes_used_ += slots_[slot].entry.payload_length;
  }
  for (const uint32_t loser : losers) CO_RETURN_IF_ERROR(co_await clear_slot(loser));
  co_return ok_result();
}

// ---------------------------------------------------------------------------------------------
// Helpers.

Result<void> Disk::admit(bool mutating) const {
  if (state_ == DiskState::kFailed) {
    return make_error(Code::kUnavailable, path_ + " is failed: " + failure_);
  }
  if (inflight_ >= kDiskInflightMax) return make_error(Code::kBusy, "disk queue full");
  (void)mutating;  // rebuilding disks accept reads and writes alike
  return ok_result();
}

// Finds the slot holding `id`. A stored older generation means this disk missed a rewrite:
// its bytes are stale, which is corruption for the reader. A newer one means `id` was replaced.
Result<uint32_t> Disk::lookup(const FragmentId& id) const {
  const auto it = index_.find(key_of(id));
  if (it == index_.end()) return make_error(Code::kNotFound, "no fragment " + id.to_string());
  const TableEntry& entry = slots_[it->second].entry;
  ASSERT(slots_[it->second].use == SlotUse::kUsed);
  if (entry.id.generation < id.generation) {
    return corruption_error("stale fragment: disk holds generation " +
                            std::to_string(entry.id.generation) + " of " + id.to_string());
  }
  if (entry.id.generation > id.generation) {
    return make_error(Code::kNotFound, id.to_string() + " was replaced by generation " +
                                           std::to_string(entry.id.generation));
  }
  return it->second;
}

void Disk::mark_failed(std::string reason) {
  if (state_ == DiskState::kFailed) return;
  state_ = DiskState::kFailed;
  log_.error("disk.failed", {{"path", path_}, {"why", reason}});
  failure_ = std::move(reason);
}

Error Disk::fail_now(std::string reason) {
  mark_failed(reason);
  return make_error(Code::kIo, path_ + ": " + reason);
}

TableEntry Disk::tombstone(uint32_t slot) {
  return TableEntry{.used = false,
                    .slot = slot,
                    .format_nonce = sb_.format_nonce,
                    .sequence = next_sequence_++,
                    .id = {},
                    .payload_length = 0,
                    .fragment_crc = 0,
                    .page_crc = 0};
}

SlotPageKey Disk::page_key(const TableEntry& entry) const {
  return SlotPageKey{.slot = entry.slot,
                     .format_nonce = sb_.format_nonce,
                     .id = entry.id,
                     .payload_length = entry.payload_length};
}

// Writes one table entry and flushes it; any error fails the disk (invariant 3).
Task<Result<void>> Disk::write_entry(const TableEntry& entry) {
  std::array<uint8_t, kTableEntrySize> bytes;
  encode_table_entry(entry, bytes);
  auto written = co_await file_->write_at(sb_.geometry.table_entry_offset(entry.slot), bytes);
  if (!written.ok()) co_return fail_now("table write: " + written.error().message);
  auto flushed = co_await file_->flush();
  if (!flushed.ok()) co_return fail_now("table flush: " + flushed.error().message);
  co_return ok_result();
}

// Makes the slot's tombstone durable, then frees it (invariant 4).
Task<Result<void>> Disk::clear_slot(uint32_t slot) {
  ASSERT(slots_[slot].use == SlotUse::kReleasing);
  CO_RETURN_IF_ERROR(co_await write_entry(tombstone(slot)));
  release_slot(slot);
  co_return ok_result();
}

void Disk::release_slot(uint32_t slot) {
  SlotMeta& meta = slots_[slot];
  ASSERT(meta.use == SlotUse::kReleasing || meta.use == SlotUse::kWriting);
  meta.entry = TableEntry{};
  if (meta.readers > 0) return;  // the last reader frees it (unpin)
  meta.use = SlotUse::kFree;
  free_slots_.push_back(slot);
}

void Disk::unpin(uint32_t slot) {
  SlotMeta& meta = slots_[slot];
  ASSERT(meta.readers > 0);
  --meta.readers;
  // A slot whose tombstone is durable has an empty entry; give it back once unread.
  if (meta.readers == 0 && meta.use == SlotUse::kReleasing && !meta.entry.used) {
    meta.use = SlotUse::kFree;
    free_slots_.push_back(slot);
  }
}

// ---------------------------------------------------------------------------------------------
// Status and admin.

std::vector<FragmentId> Disk::list() const {
  std::vector<FragmentId> out;
  out.reserve(index_.size());
  for (const auto& [key, slot] : index_) out.push_back(slots_[slot].entry.id);
  return out;
}

Result<FragmentPage> Disk::list_page(const FragmentId& from, size_t max) const {
  ASSERT(max > 0);
  if (state_ == DiskState::kFailed) {
    return make_error(Code::kUnavailable, path_ + " is failed: " + failure_);
  }
  FragmentPage page;
  auto it = index_.lower_bound(key_of(from));
  for (; it != index_.end() && page.fragments.size() < max; ++it) {
    ASSERT(slots_[it->second].use == SlotUse::kUsed);
    const TableEntry& entry = slots_[it->second].entry;
    page.fragments.push_back(ListedFragment{entry.id, entry.payload_length});
  }
  if (it != index_.end()) page.next = slots_[it->second].entry.id;
  ASSERT(page.fragments.size() <= max);
  return page;
}

DiskInfo Disk::info() const {
  return DiskInfo{.index = sb_.identity.index,
                  .state = state_,
                  .capacity_bytes = sb_.capacity_bytes,
                  .slot_payload_max_bytes = sb_.geometry.slot_payload_max_bytes,
                  .slots_total = sb_.geometry.slot_count,
                  .slots_used = static_cast<uint32_t>(index_.size()),
                  .payload_bytes_used = payload_bytes_used_,
                  .disk_generation = sb_.disk_generation,
                  .damaged_entries = damaged_entries_,
                  .failure = failure_};
}

Task<Result<void>> Disk::fail(std::string reason) {
  if (state_ == DiskState::kFailed) co_return ok_result();
  mark_failed("admin: " + reason);
  // Best effort: persist the state so a restart does not bring a failed disk back.
  sb_.sequence++;
  ignore_result(co_await write_superblocks(), "the disk is failed whether or not this lands");
  co_return ok_result();
}

Task<Result<void>> Disk::mark_healthy() {
  CO_RETURN_IF_ERROR(admit(true));
  if (state_ != DiskState::kRebuilding)
    co_return invalid_argument_error(path_ + " is not rebuilding");
  Inflight guard(*this);
  state_ = DiskState::kHealthy;
  sb_.sequence++;
  co_return co_await write_superblocks();
}

}  // namespace splitarray::netshelf
