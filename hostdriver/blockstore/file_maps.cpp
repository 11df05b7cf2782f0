// hostdriver/blockstore/file_maps.cpp
#include "hostdriver/blockstore/file_maps.h"

#include <algorithm>

#include "common/assert.h"

namespace splitarray::hostdriver::blockstore {

const BlockRef* FileMaps::find(InodeId inode, uint64_t block_index) const {
  auto file = files_.find(inode);
  if (file == files_.end()) return nullptr;
  auto entry = file->second.blocks.find(block_index);
  if (entry == file->second.blocks.end()) return nullptr;
  return entry->second.ref.location.container_id == 0 ? nullptr : &entry->second.ref;
}

MapHit FileMaps::lookup(InodeId inode, uint64_t block_index, BlockRef* ref) const {
  auto file = files_.find(inode);
  if (file == files_.end()) return overlay_ ? MapHit::kUnknown : MapHit::kHole;
  auto entry = file->second.blocks.find(block_index);
  if (entry != file->second.blocks.end()) {
    if (entry->second.ref.location.container_id == 0) return MapHit::kHole;
    *ref = entry->second.ref;
    return MapHit::kMapped;
  }
  if (!overlay_) return MapHit::kHole;
  for (const Mark& mark : file->second.marks) {
    if (block_index >= mark.first_block) return MapHit::kHole;
  }
  return MapHit::kUnknown;
}

void FileMaps::set(InodeId inode, uint64_t block_index, const BlockRef& ref, uint64_t ticket) {
  FileMap& file = files_[inode];
  set_in(file, file.blocks.end(), block_index, ref, ticket);
  by_ticket_[ticket].emplace_back(inode, block_index);
}

std::map<uint64_t, FileMaps::Entry>::iterator FileMaps::set_in(
    FileMap& file, std::map<uint64_t, Entry>::iterator hint, uint64_t block_index,
    const BlockRef& ref, uint64_t ticket) {
  ASSERT(overlay_ || ref.location.container_id != 0);
  const bool mapped = ref.location.container_id != 0;
  const size_t before = file.blocks.size();
  // The hint makes a run of ascending blocks (one write) amortized O(1) per block.
  auto it = file.blocks.try_emplace(hint, block_index, Entry{ref, ticket});
  if (file.blocks.size() != before) {
    ++entries_;
    if (mapped) ++mapped_blocks_;
  } else {
    const bool was_mapped = it->second.ref.location.container_id != 0;
    if (was_mapped != mapped) {
      if (mapped) {
        ++mapped_blocks_;
      } else {
        --mapped_blocks_;
      }
    }
    note_replaced(ticket, it->second.ticket);
    it->second = Entry{ref, ticket};
  }
  return it;
}

void FileMaps::erase_entry(std::map<uint64_t, Entry>::iterator it,
                           std::map<uint64_t, Entry>& blocks) {
  if (it->second.ref.location.container_id != 0) {
    ASSERT(mapped_blocks_ > 0);
    --mapped_blocks_;
  }
  ASSERT(entries_ > 0);
  --entries_;
  blocks.erase(it);
}

void FileMaps::note_replaced(uint64_t by_ticket, uint64_t old_ticket) {
  if (old_ticket >= by_ticket) return;  // replay applies a record twice: nothing older is needed
  auto [it, inserted] = replaced_.try_emplace(by_ticket, old_ticket);
  if (!inserted) it->second = std::min(it->second, old_ticket);
}

uint64_t FileMaps::oldest_replaced_by_undurable(uint64_t durable_ticket) {
  replaced_.erase(replaced_.begin(), replaced_.upper_bound(durable_ticket));
  uint64_t oldest = UINT64_MAX;
  for (const auto& [by_ticket, old_ticket] : replaced_) oldest = std::min(oldest, old_ticket);
  return oldest;
}

void FileMaps::erase(InodeId inode, uint64_t block_index, uint64_t ticket) {
  auto file = files_.find(inode);
  if (file == files_.end()) return;
  auto it = file->second.blocks.find(block_index);
  if (it != file->second.blocks.end()) {
    note_replaced(ticket, it->second.ticket);
    erase_entry(it, file->second.blocks);
  }
  if (file->second.empty()) files_.erase(file);
}

void FileMaps::apply(InodeId inode, const MapUpdate& update, uint64_t ticket) {
  if (update.is_hole() && !overlay_) {
    erase(inode, update.block_index, ticket);
  } else {
    set(inode, update.block_index, BlockRef{update.fp, update.location}, ticket);
  }
}

void FileMaps::truncate_from(InodeId inode, uint64_t first_block, uint64_t ticket) {
  auto file = files_.find(inode);
  if (file == files_.end()) {
    if (!overlay_) return;
    file = files_.try_emplace(inode).first;
  }
  std::map<uint64_t, Entry>& blocks = file->second.blocks;
  for (auto it = blocks.lower_bound(first_block); it != blocks.end();) {
    auto next = std::next(it);
    note_replaced(ticket, it->second.ticket);
    erase_entry(it, blocks);
    it = next;
  }
  if (overlay_) {
    file->second.marks.push_back(Mark{first_block, ticket});
    by_ticket_[ticket].emplace_back(inode, kMarkPair);
  }
  if (file->second.empty()) files_.erase(file);
}

void FileMaps::apply(const LogRecord& record, uint64_t ticket) {
  if (record.inode.value() == 0) return;  // metadata chunks / fs operations only
  if (record.truncate_from_block) {
    truncate_from(record.inode, *record.truncate_from_block, ticket);
  }
  // One file and one ticket list for the whole record; holes erase in whole mode (and may
  // drop the file), so a record with them takes the general path.
  const bool has_erase = !overlay_ && std::any_of(record.updates.begin(), record.updates.end(),
                                                  [](const MapUpdate& u) { return u.is_hole(); });
  if (has_erase || record.updates.empty()) {
    for (const MapUpdate& update : record.updates) apply(record.inode, update, ticket);
    return;
  }
  FileMap& file = files_[record.inode];
  std::vector<std::pair<InodeId, uint64_t>>& listed = by_ticket_[ticket];
  listed.reserve(listed.size() + record.updates.size());
  auto hint = file.blocks.lower_bound(record.updates.front().block_index);
  for (const MapUpdate& update : record.updates) {
    hint = std::next(
        set_in(file, hint, update.block_index, BlockRef{update.fp, update.location}, ticket));
    listed.emplace_back(record.inode, update.block_index);
  }
}

std::map<InodeId, FileMapChanges> FileMaps::changes(uint64_t through) const {
  ASSERT(overlay_);
  std::map<InodeId, FileMapChanges> out;
  for (const auto& [inode, file] : files_) {
    FileMapChanges change;
    for (const Mark& mark : file.marks) {
      if (mark.ticket > through) continue;
      change.truncate_from = std::min(change.truncate_from.value_or(UINT64_MAX), mark.first_block);
    }
    for (const auto& [block, entry] : file.blocks) {
      if (entry.ticket > through) continue;
      if (entry.ref.location.container_id == 0) {
        change.blocks.emplace_back(block, std::nullopt);
      } else {
        change.blocks.emplace_back(block, entry.ref);
      }
    }
    if (change.truncate_from || !change.blocks.empty()) out.emplace(inode, std::move(change));
  }
  return out;
}

void FileMaps::drop_through(uint64_t through) {
  ASSERT(overlay_);
  for (auto file = files_.begin(); file != files_.end();) {
    std::map<uint64_t, Entry>& blocks = file->second.blocks;
    for (auto it = blocks.begin(); it != blocks.end();) {
      auto next = std::next(it);
      if (it->second.ticket <= through) erase_entry(it, blocks);
      it = next;
    }
    std::vector<Mark>& marks = file->second.marks;
    marks.erase(std::remove_if(marks.begin(), marks.end(),
                               [through](const Mark& mark) { return mark.ticket <= through; }),
                marks.end());
    file = file->second.empty() ? files_.erase(file) : std::next(file);
  }
  prune_front();
}

std::vector<LogRecord> FileMaps::take_relog(uint64_t through_ticket, uint64_t new_ticket,
                                            size_t max_entries, size_t updates_per_record) {
  ASSERT(new_ticket > through_ticket);
  ASSERT(updates_per_record >= 1 && updates_per_record <= kRecordUpdatesMax);
  ASSERT(!overlay_);  // an overlay is covered by checkpoints, never relogged
  // Hot when the map is large (every live entry passes here about once per half lap of the
  // ring), so the lookups that stay the same along a run are made once: the new ticket's list
  // (std::map references are stable), the file and the record of the current inode, and the
  // position of the previous block (a record's pairs pop off in descending block order).
  std::vector<std::pair<InodeId, uint64_t>>& relisted = by_ticket_[new_ticket];
  std::map<InodeId, LogRecord> by_inode;
  auto file = files_.end();
  LogRecord* record = nullptr;
  std::map<uint64_t, Entry>::iterator previous;
  bool have_previous = false;
  size_t taken = 0;
  while (by_ticket_.begin()->first <= through_ticket && taken < max_entries) {
    auto& [ticket, pairs] = *by_ticket_.begin();
    bool relogged_any = false;
    while (!pairs.empty() && taken < max_entries) {
      const auto [inode, block_index] = pairs.back();
      pairs.pop_back();
      if (file == files_.end() || file->first != inode) {
        file = files_.find(inode);
        record = nullptr;
        have_previous = false;
        if (file == files_.end()) continue;
      }
      std::map<uint64_t, Entry>& blocks = file->second.blocks;
      auto entry = blocks.end();
      if (have_previous && previous != blocks.begin() &&
          std::prev(previous)->first == block_index) {
        entry = std::prev(previous);
      } else {
        entry = blocks.find(block_index);
      }
      if (entry == blocks.end()) continue;
      previous = entry;
      have_previous = true;
      if (entry->second.ticket != ticket) continue;  // stale
      if (record == nullptr) {
        record = &by_inode[inode];
        record->inode = inode;
      }
      record->updates.push_back(
          MapUpdate{block_index, entry->second.ref.fp, entry->second.ref.location});
      entry->second.ticket = new_ticket;
      relisted.emplace_back(inode, block_index);
      relogged_any = true;
      ++taken;
    }
    if (relogged_any) note_replaced(new_ticket, ticket);
    if (pairs.empty()) by_ticket_.erase(by_ticket_.begin());
  }
  if (relisted.empty()) by_ticket_.erase(new_ticket);
  std::vector<LogRecord> records;
  records.reserve(by_inode.size());
  for (auto& [inode, whole] : by_inode) {
    // Split to the record limit (one inode may have many entries to relog).
    if (whole.updates.size() <= updates_per_record) {
      records.push_back(std::move(whole));
      continue;
    }
    for (size_t at = 0; at < whole.updates.size(); at += updates_per_record) {
      LogRecord part;
      part.inode = inode;
      const size_t end = std::min(whole.updates.size(), at + updates_per_record);
      part.updates.assign(whole.updates.begin() + static_cast<ptrdiff_t>(at),
                          whole.updates.begin() + static_cast<ptrdiff_t>(end));
      records.push_back(std::move(part));
    }
  }
  return records;
}

void FileMaps::prune_front() {
  while (!by_ticket_.empty()) {
    auto& [ticket, pairs] = *by_ticket_.begin();
    while (!pairs.empty()) {
      const auto [inode, block_index] = pairs.back();
      auto file = files_.find(inode);
      if (file != files_.end()) {
        if (block_index == kMarkPair) {
          for (const Mark& mark : file->second.marks) {
            if (mark.ticket == ticket) return;
          }
        } else {
          auto entry = file->second.blocks.find(block_index);
          if (entry != file->second.blocks.end() && entry->second.ticket == ticket) return;
        }
      }
      pairs.pop_back();
    }
    by_ticket_.erase(by_ticket_.begin());
  }
}

uint64_t FileMaps::oldest_ticket() {
  prune_front();
  return by_ticket_.empty() ? UINT64_MAX : by_ticket_.begin()->first;
}

}  // namespace splitarray::hostdriver::blockstore
