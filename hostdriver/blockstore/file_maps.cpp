// hostdriver/blockstore/file_maps.cpp
#include "hostdriver/blockstore/file_maps.h"

#include "common/assert.h"

namespace splitarray::hostdriver::blockstore {

const BlockRef* FileMaps::find(InodeId inode, uint64_t block_index) const {
  auto file = files_.find(inode);
  if (file == files_.end()) return nullptr;
  auto entry = file->second.find(block_index);
  return entry == file->second.end() ? nullptr : &entry->second.ref;
}

void FileMaps::set(InodeId inode, uint64_t block_index, const BlockRef& ref, uint64_t ticket) {
  ASSERT(ref.location.container_id != 0);
  auto [it, inserted] = files_[inode].try_emplace(block_index, Entry{ref, ticket});
  if (inserted) {
    ++mapped_blocks_;
  } else {
    it->second = Entry{ref, ticket};
  }
  by_ticket_[ticket].emplace_back(inode, block_index);
}

void FileMaps::erase(InodeId inode, uint64_t block_index) {
  auto file = files_.find(inode);
  if (file == files_.end()) return;
  if (file->second.erase(block_index) == 1) {
    ASSERT(mapped_blocks_ > 0);
    --mapped_blocks_;
  }
  if (file->second.empty()) files_.erase(file);
}

void FileMaps::apply(InodeId inode, const MapUpdate& update, uint64_t ticket) {
  if (update.is_hole()) {
    erase(inode, update.block_index);
  } else {
    set(inode, update.block_index, BlockRef{update.fp, update.location}, ticket);
  }
}

void FileMaps::truncate_from(InodeId inode, uint64_t first_block) {
  auto file = files_.find(inode);
  if (file == files_.end()) return;
  FileMap& map = file->second;
  auto from = map.lower_bound(first_block);
  const auto dropped = static_cast<uint64_t>(std::distance(from, map.end()));
  ASSERT(dropped <= mapped_blocks_);
  map.erase(from, map.end());
  mapped_blocks_ -= dropped;
  if (map.empty()) files_.erase(file);
}

void FileMaps::apply(const LogRecord& record, uint64_t ticket) {
  if (record.truncate_from_block) truncate_from(record.inode, *record.truncate_from_block);
  for (const MapUpdate& update : record.updates) apply(record.inode, update, ticket);
}

std::vector<LogRecord> FileMaps::take_relog(uint64_t through_ticket, uint64_t new_ticket,
                                            size_t max_entries, size_t updates_per_record) {
  ASSERT(new_ticket > through_ticket);
  ASSERT(updates_per_record >= 1 && updates_per_record <= kRecordUpdatesMax);
  std::map<InodeId, LogRecord> by_inode;
  size_t taken = 0;
  while (!by_ticket_.empty() && by_ticket_.begin()->first <= through_ticket &&
         taken < max_entries) {
    auto& [ticket, pairs] = *by_ticket_.begin();
    while (!pairs.empty() && taken < max_entries) {
      const auto [inode, block_index] = pairs.back();
      pairs.pop_back();
      auto file = files_.find(inode);
      if (file == files_.end()) continue;
      auto entry = file->second.find(block_index);
      if (entry == file->second.end() || entry->second.ticket != ticket) continue;  // stale
      LogRecord& record = by_inode[inode];
      record.inode = inode;
      record.updates.push_back(
          MapUpdate{block_index, entry->second.ref.fp, entry->second.ref.location});
      entry->second.ticket = new_ticket;
      by_ticket_[new_ticket].emplace_back(inode, block_index);
      ++taken;
    }
    if (pairs.empty()) by_ticket_.erase(by_ticket_.begin());
  }
  std::vector<LogRecord> records;
  records.reserve(by_inode.size());
  for (auto& [inode, record] : by_inode) {
    // Split to the record limit (one inode may have many entries to relog).
    for (size_t at = 0; at < record.updates.size(); at += updates_per_record) {
      LogRecord part;
      part.inode = inode;
      const size_t end = std::min(record.updates.size(), at + updates_per_record);
      part.updates.assign(record.updates.begin() + static_cast<ptrdiff_t>(at),
                          record.updates.begin() + static_cast<ptrdiff_t>(end));
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
        auto entry = file->second.find(block_index);
        if (entry != file->second.end() && entry->second.ticket == ticket) return;
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
