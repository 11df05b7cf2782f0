// netshelf/index/index_format.cpp
#include "netshelf/index/index_format.h"

#include <cstring>

#include "common/crc32c.h"
#include "common/endian.h"

namespace splitarray::netshelf::index {
namespace {

constexpr size_t kRecordCrcOffset = 32;
static_assert(kLogRecordHeaderBytes == kRecordCrcOffset + 8);
static_assert(kSnapshotHeaderBytes >= 52);
static_assert(kLogHeaderBytes >= 28);
static_assert(kRebuildMarkerBytes >= 32);

uint32_t record_crc(std::span<const uint8_t> header, std::span<const uint8_t> payload) {
  return crc32c(payload, crc32c(header.first(kRecordCrcOffset)));
}

void put_fp(std::span<uint8_t> out, size_t offset, const Fingerprint& fp) {
  ASSERT(offset + kFingerprintBytes <= out.size());
  std::memcpy(out.data() + offset, fp.bytes.data(), kFingerprintBytes);
}

Fingerprint get_fp(std::span<const uint8_t> in, size_t offset) {
  ASSERT(offset + kFingerprintBytes <= in.size());
  Fingerprint fp;
  std::memcpy(fp.bytes.data(), in.data() + offset, kFingerprintBytes);
  return fp;
}

// Appends one record; fill(payload) writes the payload bytes.
template <class Fill>
void append_record(std::vector<uint8_t>* out, LogRecordKind kind, uint32_t count,
                   size_t entry_bytes, uint64_t sequence, uint64_t durable_through, Fill fill) {
  ASSERT(count <= kIndexBatchMax);
  ASSERT(sequence > durable_through);
  const size_t start = out->size();
  const size_t payload_bytes = count * entry_bytes;
  out->resize(start + kLogRecordHeaderBytes + payload_bytes);
  std::span<uint8_t> header(out->data() + start, kLogRecordHeaderBytes);
  std::span<uint8_t> payload(out->data() + start + kLogRecordHeaderBytes, payload_bytes);
  put_u32(header, 0, kLogRecordMagic);
  header[4] = static_cast<uint8_t>(kind);
  header[5] = header[6] = header[7] = 0;
  put_u32(header, 8, count);
  put_u32(header, 12, static_cast<uint32_t>(payload_bytes));
  put_u64(header, 16, sequence);
  put_u64(header, 24, durable_through);
  fill(payload);
  put_u32(header, kRecordCrcOffset, record_crc(header, payload));
  put_u32(header, kRecordCrcOffset + 4, 0);
}

}  // namespace

std::vector<uint8_t> encode_log_file_header(uint64_t generation) {
  std::vector<uint8_t> out(kLogHeaderBytes, 0);
  put_u64(out, 0, kLogFileMagic);
  put_u32(out, 8, kIndexFormatVersion);
  put_u32(out, 12, static_cast<uint32_t>(kLogHeaderBytes));
  put_u64(out, 16, generation);
  put_u32(out, 24, crc32c(std::span<const uint8_t>(out).first(24)));
  return out;
}

Result<uint64_t> decode_log_file_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < kLogHeaderBytes) {
    return make_error(Code::kCorruption, "index log: header is short");
  }
  if (get_u64(bytes, 0) != kLogFileMagic || get_u32(bytes, 8) != kIndexFormatVersion ||
      get_u32(bytes, 12) != kLogHeaderBytes) {
    return make_error(Code::kCorruption, "index log: bad magic, version or header size");
  }
  if (get_u32(bytes, 24) != crc32c(bytes.first(24))) {
    return make_error(Code::kCorruption, "index log: header CRC mismatch");
  }
  return get_u64(bytes, 16);
}

void append_insert_record(std::vector<uint8_t>* out, uint64_t sequence, uint64_t durable_through,
                          std::span<const IndexEntry> entries) {
  auto fill = [entries](std::span<uint8_t> payload) {
    for (size_t i = 0; i < entries.size(); ++i) {
      const size_t at = i * kLogInsertEntryBytes;
      const IndexEntry& e = entries[i];
      put_fp(payload, at, e.fp);
      put_u64(payload, at + 32, e.location.container.value());
      put_u32(payload, at + 40, e.location.offset);
      put_u32(payload, at + 44, e.location.length);
    }
  };
  append_record(out, LogRecordKind::kInsert, static_cast<uint32_t>(entries.size()),
                kLogInsertEntryBytes, sequence, durable_through, fill);
}

void append_remove_record(std::vector<uint8_t>* out, uint64_t sequence, uint64_t durable_through,
                          std::span<const Fingerprint> fps) {
  auto fill = [fps](std::span<uint8_t> payload) {
    for (size_t i = 0; i < fps.size(); ++i) put_fp(payload, i * kLogRemoveEntryBytes, fps[i]);
  };
  append_record(out, LogRecordKind::kRemove, static_cast<uint32_t>(fps.size()),
                kLogRemoveEntryBytes, sequence, durable_through, fill);
}

std::optional<LogRecordHeader> parse_log_record_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < kLogRecordHeaderBytes) return std::nullopt;
  if (get_u32(bytes, 0) != kLogRecordMagic) return std::nullopt;
  LogRecordHeader h;
  const uint8_t kind = bytes[4];
  size_t entry_bytes = 0;
  if (kind == static_cast<uint8_t>(LogRecordKind::kInsert)) {
    entry_bytes = kLogInsertEntryBytes;
  } else if (kind == static_cast<uint8_t>(LogRecordKind::kRemove)) {
    entry_bytes = kLogRemoveEntryBytes;
  } else {
    return std::nullopt;
  }
  h.kind = static_cast<LogRecordKind>(kind);
  h.count = get_u32(bytes, 8);
  h.payload_bytes = get_u32(bytes, 12);
  h.sequence = get_u64(bytes, 16);
  h.durable_through = get_u64(bytes, 24);
  h.crc = get_u32(bytes, kRecordCrcOffset);
  if (h.count == 0 || h.count > kIndexBatchMax) return std::nullopt;
  if (h.payload_bytes != uint64_t{h.count} * entry_bytes) return std::nullopt;
  if (h.sequence == 0 || h.durable_through >= h.sequence) return std::nullopt;
  return h;
}

bool log_record_crc_ok(const LogRecordHeader& header, std::span<const uint8_t> record) {
  ASSERT(record.size() == kLogRecordHeaderBytes + header.payload_bytes);
  return header.crc ==
         record_crc(record.first(kLogRecordHeaderBytes), record.subspan(kLogRecordHeaderBytes));
}

Result<std::vector<IndexEntry>> decode_insert_payload(std::span<const uint8_t> payload,
                                                      uint32_t count) {
  ASSERT(payload.size() == size_t{count} * kLogInsertEntryBytes);
  std::vector<IndexEntry> entries(count);
  for (size_t i = 0; i < count; ++i) {
    const size_t at = i * kLogInsertEntryBytes;
    IndexEntry& e = entries[i];
    e.fp = get_fp(payload, at);
    e.location = ChunkLocation{.container = ContainerId(get_u64(payload, at + 32)),
                               .offset = get_u32(payload, at + 40),
                               .length = get_u32(payload, at + 44)};
    auto valid = validate_location(e.location);
    if (!valid.ok()) {
      return make_error(Code::kCorruption,
                        "index log: insert record with " + valid.error().message);
    }
  }
  return entries;
}

std::vector<Fingerprint> decode_remove_payload(std::span<const uint8_t> payload, uint32_t count) {
  ASSERT(payload.size() == size_t{count} * kLogRemoveEntryBytes);
  std::vector<Fingerprint> fps(count);
  for (size_t i = 0; i < count; ++i) fps[i] = get_fp(payload, i * kLogRemoveEntryBytes);
  return fps;
}

std::vector<uint8_t> encode_snapshot_header(const SnapshotHeader& header) {
  std::vector<uint8_t> out(kSnapshotHeaderBytes, 0);
  put_u64(out, 0, kSnapshotMagic);
  put_u32(out, 8, kIndexFormatVersion);
  put_u32(out, 12, static_cast<uint32_t>(kPartitionBits));
  put_u64(out, 16, header.log_generation);
  put_u64(out, 24, header.first_sequence);
  put_u64(out, 32, header.entry_count);
  put_u32(out, 40, header.table_crc);
  put_u32(out, 44, kSnapshotBlockEntries);
  put_u32(out, 48, crc32c(std::span<const uint8_t>(out).first(48)));
  return out;
}

Result<SnapshotHeader> decode_snapshot_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < kSnapshotHeaderBytes) {
    return make_error(Code::kCorruption, "header is short");
  }
  if (get_u64(bytes, 0) != kSnapshotMagic) return make_error(Code::kCorruption, "bad magic");
  if (get_u32(bytes, 48) != crc32c(bytes.first(48))) {
    return make_error(Code::kCorruption, "header CRC mismatch");
  }
  if (get_u32(bytes, 8) != kIndexFormatVersion || get_u32(bytes, 12) != kPartitionBits ||
      get_u32(bytes, 44) != kSnapshotBlockEntries) {
    return make_error(Code::kCorruption, "unsupported version, partition bits or block size");
  }
  SnapshotHeader h;
  h.log_generation = get_u64(bytes, 16);
  h.first_sequence = get_u64(bytes, 24);
  h.entry_count = get_u64(bytes, 32);
  h.table_crc = get_u32(bytes, 40);
  if (h.log_generation == 0 || h.first_sequence == 0) {
    return make_error(Code::kCorruption, "zero log generation or sequence");
  }
  return h;
}

uint64_t snapshot_file_bytes(uint64_t entry_count) {
  const uint64_t blocks = (entry_count + kSnapshotBlockEntries - 1) / kSnapshotBlockEntries;
  return kSnapshotHeaderBytes + kSnapshotTableBytes + entry_count * kSnapshotEntryBytes +
         blocks * 4;
}

void encode_snapshot_entry(const IndexEntry& entry, uint8_t* out) {
  std::memcpy(out, entry.fp.bytes.data(), kFingerprintBytes);
  pack_location(entry.location, out + kFingerprintBytes);
}

IndexEntry decode_snapshot_entry(const uint8_t* in) {
  IndexEntry entry;
  std::memcpy(entry.fp.bytes.data(), in, kFingerprintBytes);
  entry.location = unpack_location(in + kFingerprintBytes);
  return entry;
}

// --- rebuild marker ------------------------------------------------------------------------

std::vector<uint8_t> encode_rebuild_marker(uint64_t rebuild_id) {
  ASSERT(rebuild_id > 0);
  std::vector<uint8_t> out(kRebuildMarkerBytes, 0);
  put_u64(out, 0, kRebuildMarkerMagic);
  put_u32(out, 8, kIndexFormatVersion);
  put_u64(out, 16, rebuild_id);
  put_u32(out, 24, crc32c(std::span<const uint8_t>(out).first(24)));
  return out;
}

Result<uint64_t> decode_rebuild_marker(std::span<const uint8_t> bytes) {
  if (bytes.size() < kRebuildMarkerBytes) {
    return make_error(Code::kCorruption, "index rebuild marker: short");
  }
  if (get_u64(bytes, 0) != kRebuildMarkerMagic || get_u32(bytes, 8) != kIndexFormatVersion) {
    return make_error(Code::kCorruption, "index rebuild marker: bad magic or version");
  }
  if (get_u32(bytes, 24) != crc32c(bytes.first(24))) {
    return make_error(Code::kCorruption, "index rebuild marker: CRC mismatch");
  }
  const uint64_t id = get_u64(bytes, 16);
  if (id == 0) return make_error(Code::kCorruption, "index rebuild marker: id 0");
  return id;
}

}  // namespace splitarray::netshelf::index
