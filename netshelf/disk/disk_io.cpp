// Disk's fragment operations: write, read whole, read range, delete (the data path). Format,
// open, table loading, slot bookkeeping and admin live in disk.cpp.
#include <algorithm>
#include <utility>

#include "common/crc32c.h"
#include "netshelf/disk/disk.h"

namespace splitarray::netshelf {

using protocol::FragmentHeader;
using protocol::kFragmentHeaderSize;

namespace {

// The header read back must be the one the table recorded: same identity, length and CRC.
// Anything else is a stale or misdirected fragment (or rot in the header itself).
Result<void> check_header_matches(const FragmentHeader& header, const TableEntry& entry) {
  if (header.id != entry.id) {
    return corruption_error("slot holds " + header.id.to_string() + ", table says " +
                            entry.id.to_string());
  }
  if (header.payload_length != entry.payload_length || header.crc32c != entry.fragment_crc) {
    return corruption_error("fragment header differs from the one written for " +
                            entry.id.to_string());
  }
  return ok_result();
}

}  // namespace

Task<Result<void>> Disk::write_fragment(FragmentId id, std::span<const uint8_t> fragment) {
  CO_RETURN_IF_ERROR(admit(true));
  Inflight guard(*this);
  if (fragment.size() < kFragmentHeaderSize)
    co_return invalid_argument_error("fragment shorter than a header");
  if (fragment.size() - kFragmentHeaderSize > sb_.geometry.slot_payload_max_bytes) {
    co_return invalid_argument_error(
        "fragment payload of " + std::to_string(fragment.size() - kFragmentHeaderSize) +
        " bytes is larger than this disk's slots (" +
        std::to_string(sb_.geometry.slot_payload_max_bytes) +
        " bytes): format the datastore with fragments no larger than that");
  }
  CO_ASSIGN_OR_RETURN(const FragmentHeader header, protocol::verify_fragment(fragment));
  if (header.id != id) {
    co_return invalid_argument_error("fragment header names " + header.id.to_string() +
                                     ", request names " + id.to_string());
  }
  if (const auto it = index_.find(key_of(id)); it != index_.end()) {
    const uint32_t held = slots_[it->second].entry.id.generation;
    if (held > id.generation) {
      co_return make_error(Code::kStale, "disk holds newer generation " + std::to_string(held) +
                                             " of " + id.to_string());
    }
  }
  if (free_slots_.empty()) co_return make_error(Code::kNoSpace, path_ + " has no free slot");
  const uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  ASSERT(slots_[slot].use == SlotUse::kFree);
  ASSERT(slots_[slot].readers == 0);
  slots_[slot].use = SlotUse::kWriting;

  TableEntry entry{.used = true,
                   .slot = slot,
                   .format_nonce = sb_.format_nonce,
                   .sequence = 0,  // assigned at commit
                   .id = id,
                   .payload_length = header.payload_length,
                   .fragment_crc = header.crc32c,
                   .page_crc = 0};
  // The slot image: our page (identity + block CRCs), then the fragment exactly as the host
  // sealed it, in one write so the page and the bytes it describes land (or fail) together.
  std::vector<uint8_t> image(kSlotPageOwnBytes + fragment.size());
  const auto image_span = std::span<uint8_t>(image);
  entry.page_crc = encode_slot_page(page_key(entry), fragment.subspan(kFragmentHeaderSize),
                                    image_span.first(kSlotPageOwnBytes));
  std::copy(fragment.begin(), fragment.end(), image.begin() + kSlotPageOwnBytes);
  ASSERT(image.size() <= sb_.geometry.slot_size_bytes);

  // Invariant (1): the bytes are durable before any table entry points to them.
  auto written = co_await file_->write_at(sb_.geometry.slot_offset(slot), image);
  if (!written.ok()) co_return fail_now("slot write: " + written.error().message);
  auto flushed = co_await file_->flush();
  if (!flushed.ok()) co_return fail_now("slot flush: " + flushed.error().message);
  co_return co_await commit_write(slot, entry);
}

// Writes and flushes the entry (the commit point), then retires whatever it replaced. If a
// write of the same (container, index) committed meanwhile, the higher (generation, sequence)
// wins, the same rule load_table() applies after a crash.
Task<Result<void>> Disk::commit_write(uint32_t slot, TableEntry entry) {
  ASSERT(slots_[slot].use == SlotUse::kWriting);
  entry.sequence = next_sequence_++;
  CO_RETURN_IF_ERROR(co_await write_entry(entry));
  const Key key = key_of(entry.id);
  std::optional<uint32_t> replaced;
  if (const auto it = index_.find(key); it != index_.end()) {
    const TableEntry& held = slots_[it->second].entry;
    if (std::pair(held.id.generation, held.sequence) >
        std::pair(entry.id.generation, entry.sequence)) {
      slots_[slot] = SlotMeta{.use = SlotUse::kReleasing, .readers = 0, .entry = entry};
      CO_RETURN_IF_ERROR(co_await clear_slot(slot));
      co_return make_error(Code::kStale, "a newer write of " + entry.id.to_string() + " won");
    }
    replaced = it->second;
  }
  index_[key] = slot;
  slots_[slot] = SlotMeta{.use = SlotUse::kUsed, .readers = 0, .entry = entry};
  payload_bytes_used_ += entry.payload_length;
  if (replaced.has_value()) {
    SlotMeta& old = slots_[*replaced];
    ASSERT(old.use == SlotUse::kUsed);
    payload_bytes_used_ -= old.entry.payload_length;
    old.use = SlotUse::kReleasing;
    CO_RETURN_IF_ERROR(co_await clear_slot(*replaced));
  }
  co_return ok_result();
}

Task<Result<std::vector<uint8_t>>> Disk::read_fragment(FragmentId id) {
  CO_RETURN_IF_ERROR(admit(false));
  Inflight guard(*this);
  CO_ASSIGN_OR_RETURN(const uint32_t slot, lookup(id));
  ReadPin pin(*this, slot);
  const TableEntry entry = slots_[slot].entry;  // a copy: the map may change while we read
  std::vector<uint8_t> bytes(kFragmentHeaderSize + entry.payload_length);
  CO_RETURN_IF_ERROR(
      co_await file_->read_at(sb_.geometry.slot_offset(slot) + kSlotHeaderOffset, bytes));
  // Invariant (2): the whole-fragment CRC and the identity, before a byte leaves.
  auto header = protocol::verify_fragment(bytes);
  Result<void> matches = header.ok() ? check_header_matches(*header, entry) : header.error();
  if (!matches.ok()) {
    log_.warn("disk.corruption",
              {{"path", path_}, {"slot", slot}, {"why", matches.error().message}});
    co_return corruption_error(path_ + ": " + matches.error().message);
  }
  co_return bytes;
}

Task<Result<std::vector<uint8_t>>> Disk::read_range(FragmentId id, uint64_t offset,
                                                    uint64_t length) {
  CO_RETURN_IF_ERROR(admit(false));
  Inflight guard(*this);
  if (length == 0) co_return invalid_argument_error("empty range");
  CO_ASSIGN_OR_RETURN(const uint32_t slot, lookup(id));
  ReadPin pin(*this, slot);
  const TableEntry entry = slots_[slot].entry;
  // Written so that no sum can overflow, whatever a hostile request carries.
  if (offset > entry.payload_length || length > entry.payload_length - offset) {
    co_return invalid_argument_error("range past the end of the payload (" +
                                     std::to_string(entry.payload_length) + " bytes)");
  }
  auto range = co_await read_verified_range(entry, offset, length);
  if (!range.ok() && range.code() == Code::kCorruption) {
    log_.warn("disk.corruption", {{"path", path_}, {"slot", slot}, {"why", range.error().message}});
  }
  co_return range;
}

// Range reads cannot check the whole-fragment CRC without reading the whole slot, so they check
// (a) the slot page: its CRC equals the one the table recorded and it names this fragment;
// (b) the fragment header: identity, length and CRC field equal the table's;
// (c) the CRC32C of every 4 KiB payload block overlapping the range, against the page.
// Cost: one 4 KiB read for page + header, the range rounded out to 4 KiB blocks, and CRC32C
// over both (README.md has the figures).
Task<Result<std::vector<uint8_t>>> Disk::read_verified_range(TableEntry entry, uint64_t offset,
                                                             uint64_t length) {
  ASSERT(length > 0);
  ASSERT(offset + length <= entry.payload_length);
  const uint64_t base = sb_.geometry.slot_offset(entry.slot);
  std::vector<uint8_t> page(kSlotPageSize);
  CO_RETURN_IF_ERROR(co_await file_->read_at(base, page));
  const auto page_span = std::span<const uint8_t>(page);
  CO_RETURN_IF_ERROR(
      check_slot_page(page_span.first(kSlotPageOwnBytes), page_key(entry), entry.page_crc));
  CO_ASSIGN_OR_RETURN(const FragmentHeader header,
                      protocol::decode_fragment_header(page_span.subspan(kSlotHeaderOffset)));
  CO_RETURN_IF_ERROR(check_header_matches(header, entry));

  const uint32_t first_block = static_cast<uint32_t>(offset / kCrcBlockSize);
  const uint32_t last_block = static_cast<uint32_t>((offset + length - 1) / kCrcBlockSize);
  const uint64_t begin = uint64_t{first_block} * kCrcBlockSize;
  const uint64_t end =
      std::min<uint64_t>(uint64_t{last_block + 1} * kCrcBlockSize, entry.payload_length);
  std::vector<uint8_t> blocks(end - begin);
  CO_RETURN_IF_ERROR(co_await file_->read_at(base + kSlotPageSize + begin, blocks));
  const auto blocks_span = std::span<const uint8_t>(blocks);
  for (uint32_t block = first_block; block <= last_block; ++block) {
    const uint64_t at = uint64_t{block - first_block} * kCrcBlockSize;
    const auto bytes =
        blocks_span.subspan(at, std::min<uint64_t>(kCrcBlockSize, blocks.size() - at));
    if (crc32c(bytes) != slot_page_block_crc(page_span.first(kSlotPageOwnBytes), block)) {
      co_return corruption_error("payload block " + std::to_string(block) + " of " +
                                 entry.id.to_string() + " fails its CRC32C");
    }
  }
  const auto from = blocks.begin() + static_cast<ptrdiff_t>(offset - begin);
  co_return std::vector<uint8_t>(from, from + static_cast<ptrdiff_t>(length));
}

Task<Result<void>> Disk::delete_fragment(FragmentId id) {
  CO_RETURN_IF_ERROR(admit(true));
  Inflight guard(*this);
  const auto it = index_.find(key_of(id));
  if (it == index_.end() || slots_[it->second].entry.id != id) {
    co_return make_error(Code::kNotFound, "no fragment " + id.to_string());
  }
  const uint32_t slot = it->second;
  index_.erase(it);
  SlotMeta& meta = slots_[slot];
  ASSERT(meta.use == SlotUse::kUsed);
  payload_bytes_used_ -= meta.entry.payload_length;
  meta.use = SlotUse::kReleasing;
  co_return co_await clear_slot(slot);
}

}  // namespace splitarray::netshelf
