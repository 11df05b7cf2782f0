#include "netshelf/registers/register_log.h"

#include <algorithm>
#include <optional>

#include "common/crc32c.h"
#include "common/endian.h"

namespace splitarray::netshelf {
namespace {

static_assert(kLogFileHeaderBytes == 32 && kLogBatchHeaderBytes == 32);
static_assert(kLogRecordHeaderBytes == 2 + 2 + 4 + 8 + 8);

uint32_t salt_seed(uint64_t salt) {
  uint8_t bytes[8];
  put_u64(bytes, 0, salt);
  return crc32c(bytes);
}

// CRC of the batch header's bytes 8..32 (everything after the CRC field), seeded with the salt.
uint32_t batch_header_crc(uint64_t salt, std::span<const uint8_t> header) {
  ASSERT(header.size() >= kLogBatchHeaderBytes);
  return crc32c(header.subspan(8, kLogBatchHeaderBytes - 8), salt_seed(salt));
}

struct BatchHeader {
  uint64_t seq = 0;
  uint32_t body_len = 0;
  uint32_t record_count = 0;
  uint32_t body_crc = 0;
};

// The header at the front of `at`, if its magic and salted CRC check out.
std::optional<BatchHeader> parse_batch_header(uint64_t salt, std::span<const uint8_t> at) {
  if (at.size() < kLogBatchHeaderBytes) return std::nullopt;
  if (get_u32(at, 0) != kLogBatchMagic) return std::nullopt;
  if (get_u32(at, 4) != batch_header_crc(salt, at)) return std::nullopt;
  if (get_u32(at, 28) != 0) return std::nullopt;
  return BatchHeader{.seq = get_u64(at, 8),
                     .body_len = get_u32(at, 16),
                     .record_count = get_u32(at, 20),
                     .body_crc = get_u32(at, 24)};
}

Error corruption(uint64_t offset, const std::string& what) {
  return make_error(Code::kCorruption,
                    "register log: " + what + " at offset " + std::to_string(offset));
}

// Applies the records of one CRC-valid batch body to `registers`.
Result<void> apply_body(std::span<const uint8_t> body, uint32_t record_count, uint64_t offset,
                        RegisterMap& registers) {
  size_t pos = 0;
  for (uint32_t i = 0; i < record_count; ++i) {
    if (body.size() - pos < kLogRecordHeaderBytes) return corruption(offset, "short record");
    const auto rec = body.subspan(pos);
    const size_t name_len = get_u16(rec, 0);
    const size_t value_len = get_u32(rec, 4);
    const uint64_t version = get_u64(rec, 8);
    const uint64_t epoch = get_u64(rec, 16);
    if (get_u16(rec, 2) != 0) return corruption(offset, "record reserved field set");
    if (rec.size() - kLogRecordHeaderBytes < name_len + value_len) {
      return corruption(offset, "record overruns its batch");
    }
    if (name_len == 0 || version == 0) return corruption(offset, "empty name or version 0");
    std::string name(reinterpret_cast<const char*>(rec.data() + kLogRecordHeaderBytes), name_len);
    const auto value = rec.subspan(kLogRecordHeaderBytes + name_len, value_len);
    StoredRegister& slot = registers[name];
    if (version <= slot.version) return corruption(offset, "register version did not increase");
    slot = StoredRegister{.value = std::vector<uint8_t>(value.begin(), value.end()),
                          .version = version,
                          .epoch = Epoch(epoch)};
    pos += kLogRecordHeaderBytes + name_len + value_len;
  }
  if (pos != body.size()) return corruption(offset, "bytes after the last record of a batch");
  return ok_result();
}

// True if a valid batch of this file (header and body check out, seq > after_seq) starts at any
// offset in (from, end). Only runs when recovery met a bad batch, to tell a torn tail (nothing
// valid after it) from corruption in the middle.
bool valid_batch_after(std::span<const uint8_t> image, uint64_t salt, size_t from,
                       uint64_t after_seq) {
  for (size_t q = from + 1; q + kLogBatchHeaderBytes <= image.size(); ++q) {
    const auto header = parse_batch_header(salt, image.subspan(q));
    if (!header || header->seq <= after_seq) continue;
    if (image.size() - q - kLogBatchHeaderBytes < header->body_len) continue;
    const auto body = image.subspan(q + kLogBatchHeaderBytes, header->body_len);
    if (crc32c(body, salt_seed(salt)) == header->body_crc) return true;
  }
  return false;
}

}  // namespace

size_t encoded_record_bytes(size_t name_bytes, size_t value_bytes) {
  return kLogRecordHeaderBytes + name_bytes + value_bytes;
}

std::vector<uint8_t> encode_file_header(uint64_t salt) {
  std::vector<uint8_t> out(kLogFileHeaderBytes, 0);
  put_u64(out, 0, kLogFileMagic);
  put_u32(out, 8, kLogFormatVersion);
  put_u64(out, 16, salt);
  put_u32(out, 28, crc32c(std::span<const uint8_t>(out).first(28)));
  return out;
}

void encode_batch(uint64_t salt, uint64_t seq, std::span<const LogRecord> records,
                  std::vector<uint8_t>& out) {
  ASSERT(seq >= 1);
  ASSERT(!records.empty());
  const size_t start = out.size();
  size_t body_len = 0;
  for (const LogRecord& r : records)
    body_len += encoded_record_bytes(r.name.size(), r.state.value.size());
  ASSERT(body_len <= kLogBatchBodyBytesCeiling);
  out.resize(start + kLogBatchHeaderBytes + body_len, 0);
  const std::span<uint8_t> batch = std::span<uint8_t>(out).subspan(start);
  size_t pos = kLogBatchHeaderBytes;
  for (const LogRecord& r : records) {
    ASSERT(!r.name.empty() && r.name.size() <= kLogNameBytesCeiling);
    ASSERT(r.state.version >= 1);
    put_u16(batch, pos, static_cast<uint16_t>(r.name.size()));
    put_u32(batch, pos + 4, static_cast<uint32_t>(r.state.value.size()));
    put_u64(batch, pos + 8, r.state.version);
    put_u64(batch, pos + 16, r.state.epoch.value());
    pos += kLogRecordHeaderBytes;
    std::copy(r.name.begin(), r.name.end(), batch.begin() + static_cast<ptrdiff_t>(pos));
    pos += r.name.size();
    std::copy(r.state.value.begin(), r.state.value.end(),
              batch.begin() + static_cast<ptrdiff_t>(pos));
    pos += r.state.value.size();
  }
  ASSERT(pos == batch.size());
  put_u32(batch, 0, kLogBatchMagic);
  put_u64(batch, 8, seq);
  put_u32(batch, 16, static_cast<uint32_t>(body_len));
  put_u32(batch, 20, static_cast<uint32_t>(records.size()));
  put_u32(batch, 24, crc32c(batch.subspan(kLogBatchHeaderBytes), salt_seed(salt)));
  put_u32(batch, 4, batch_header_crc(salt, batch));
  // Pair check: what we are about to write parses back.
  ASSERT(parse_batch_header(salt, batch).has_value());
}

Result<RecoveredLog> recover_log(std::span<const uint8_t> image) {
  if (image.size() < kLogFileHeaderBytes) return corruption(0, "file shorter than its header");
  if (get_u64(image, 0) != kLogFileMagic) return corruption(0, "bad file magic");
  if (get_u32(image, 28) != crc32c(image.first(28))) return corruption(0, "bad file header crc");
  if (get_u32(image, 8) != kLogFormatVersion) return corruption(0, "unknown format version");
  RecoveredLog log;
  log.salt = get_u64(image, 16);
  size_t pos = kLogFileHeaderBytes;
  while (pos < image.size()) {
    const auto at = image.subspan(pos);
    const auto header = parse_batch_header(log.salt, at);
    const bool body_ok = header && at.size() - kLogBatchHeaderBytes >= header->body_len &&
                         crc32c(at.subspan(kLogBatchHeaderBytes, header->body_len),
                                salt_seed(log.salt)) == header->body_crc;
    if (!body_ok) {
      if (valid_batch_after(image, log.salt, pos, log.batches)) {
        return corruption(pos, "bad batch followed by valid batches");
      }
      log.torn_tail_bytes = image.size() - pos;
      break;
    }
    if (header->seq != log.batches + 1) return corruption(pos, "batch sequence gap");
    const auto body = at.subspan(kLogBatchHeaderBytes, header->body_len);
    RETURN_IF_ERROR(apply_body(body, header->record_count, pos, log.registers));
    ++log.batches;
    pos += kLogBatchHeaderBytes + header->body_len;
  }
  log.valid_bytes = pos;
  ASSERT(log.valid_bytes + log.torn_tail_bytes == image.size());
  return log;
}

}  // namespace splitarray::netshelf
