// netshelf/nvram/ring_scan.cpp
#include "netshelf/nvram/ring_scan.h"

#include <algorithm>

#include "common/assert.h"
#include "common/crc32c.h"
#include "netshelf/nvram/nvram_format.h"

namespace splitarray::netshelf::nvram {
namespace {

// CRC32C of `length` bytes starting at ring offset `offset`, wrapping at the ring's end.
uint32_t ring_crc(std::span<const uint8_t> ring, uint64_t offset, uint64_t length) {
  ASSERT(offset < ring.size());
  ASSERT(length <= ring.size());
  const uint64_t first = std::min<uint64_t>(length, ring.size() - offset);
  uint32_t crc = crc32c(ring.subspan(offset, first));
  if (first < length) crc = crc32c(ring.first(length - first), crc);
  return crc;
}

bool links(const RecordLoc& loc, uint64_t sequence, uint32_t prev_crc) {
  return loc.sequence == sequence && loc.prev_crc == prev_crc;
}

// Follows the chain starting with `first` for at most `budget_bytes` of ring.
std::vector<RecordLoc> follow_chain(std::span<const uint8_t> ring, const RecordLoc& first,
                                    uint64_t budget_bytes, const ScanParams& params) {
  std::vector<RecordLoc> chain{first};
  uint64_t spent = record_footprint(first.length);
  uint64_t pos = (first.offset + spent) % ring.size();
  while (spent < budget_bytes) {
    auto next = parse_record_at(ring, pos, params);
    if (!next || !links(*next, chain.back().sequence + 1, chain.back().crc)) break;
    const uint64_t footprint = record_footprint(next->length);
    if (spent + footprint > budget_bytes) break;
    chain.push_back(*next);
    spent += footprint;
    pos = (pos + footprint) % ring.size();
  }
  return chain;
}

}  // namespace

std::optional<RecordLoc> parse_record_at(std::span<const uint8_t> ring, uint64_t offset,
                                         const ScanParams& params) {
  ASSERT(offset % kBlockBytes == 0);
  ASSERT(offset + kRecordHeaderBytes <= ring.size());  // headers never straddle the ring end
  auto header = decode_record_header(ring.subspan(offset, kRecordHeaderBytes));
  if (!header) return std::nullopt;
  if (header->host != params.host || header->incarnation != params.incarnation) {
    return std::nullopt;
  }
  // The length is checked before it is used to read the payload.
  if (header->length > params.record_max_bytes || record_footprint(header->length) > ring.size()) {
    return std::nullopt;
  }
  const uint64_t payload_offset = (offset + kRecordHeaderBytes) % ring.size();
  const uint32_t payload_crc = ring_crc(ring, payload_offset, header->length);
  if (record_crc(*header, payload_crc) != header->crc) return std::nullopt;
  return RecordLoc{.sequence = header->sequence,
                   .offset = offset,
                   .length = header->length,
                   .crc = header->crc,
                   .prev_crc = header->prev_crc,
                   .committed_through = header->committed_through};
}

ScanResult scan_ring(std::span<const uint8_t> ring, const ScanParams& params) {
  ASSERT(!ring.empty() && ring.size() % kBlockBytes == 0);
  ASSERT(params.head_offset < ring.size() && params.head_offset % kBlockBytes == 0);
  ScanResult out;
  uint64_t pos = params.head_offset;
  uint64_t expected = params.first_sequence;
  uint32_t prev_crc = params.head_prev_crc;
  bool clean_end = true;
  while (out.used_bytes < ring.size()) {
    auto loc = parse_record_at(ring, pos, params);
    const bool fits = loc && out.used_bytes + record_footprint(loc->length) <= ring.size();
    if (!loc || !fits || !links(*loc, expected, prev_crc)) {
      // An intact record of an older lap (lower sequence) or never-written bytes are a clean
      // end; anything else (bad CRC, broken link) is worth the look-ahead below.
      clean_end = loc && loc->sequence < expected;
      break;
    }
    out.records.push_back(*loc);
    out.used_bytes += record_footprint(loc->length);
    pos = (pos + record_footprint(loc->length)) % ring.size();
    prev_crc = loc->crc;
    ++expected;
  }
  out.tail_offset = pos;
  out.stopped_at_invalid = !clean_end;
  if (out.used_bytes == ring.size()) return out;

  // Look ahead over the free part of the ring for intact records that continue the log.
  const uint64_t free_bytes = ring.size() - out.used_bytes;
  for (uint64_t skip = kBlockBytes; skip < free_bytes; skip += kBlockBytes) {
    const uint64_t at = (pos + skip) % ring.size();
    auto loc = parse_record_at(ring, at, params);
    if (!loc || loc->sequence <= expected) continue;  // stale laps carry lower sequences
    std::vector<RecordLoc> chain = follow_chain(ring, *loc, free_bytes - skip, params);
    for (const RecordLoc& later : chain) {
      if (later.committed_through >= expected) {
        out.damage = Damage{.sequence = expected,
                            .offset = pos,
                            .evidence_sequence = later.sequence,
                            .evidence_offset = later.offset,
                            .evidence_committed_through = later.committed_through};
        break;
      }
    }
    if (out.damage) {
      out.after_damage = std::move(chain);
    } else {
      out.torn_discarded = chain.size();
    }
    break;
  }
  ASSERT(out.used_bytes <= ring.size());
  return out;
}

}  // namespace splitarray::netshelf::nvram
