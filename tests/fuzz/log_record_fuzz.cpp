// tests/fuzz/log_record_fuzz.cpp
// libFuzzer target for the block store's NVRAM log record decoder
// (hostdriver/blockstore/log_record.h): records come back from the shelf at every host restart,
// and a decoder that crashed or misread one would lose or corrupt acknowledged writes.
//
// Input: byte 0 is a mode (bit 0: recompute both CRCs before decoding, so mutations reach the
// length and field checks behind them); the rest is the record.
// Oracles (__builtin_trap): every rejection is kCorruption; an accepted record re-encodes to
// exactly the bytes it was decoded from and satisfies the record limits.
#include <cstdint>
#include <span>
#include <vector>

#include "common/crc32c.h"
#include "common/endian.h"
#include "hostdriver/blockstore/log_record.h"

namespace splitarray::fuzz {
namespace {

namespace bs = hostdriver::blockstore;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

constexpr uint8_t kModePatchCrcs = 0x01;
constexpr size_t kAtBodyCrc = 40;
constexpr size_t kAtHeaderCrc = 44;

void patch_crcs(std::vector<uint8_t>& bytes) {
  if (bytes.size() < bs::kRecordHeaderBytes) return;
  std::span<uint8_t> out(bytes);
  put_u32(out, kAtBodyCrc, crc32c(out.subspan(bs::kRecordHeaderBytes)));
  put_u32(out, kAtHeaderCrc, crc32c(out.first(kAtHeaderCrc)));
}

}  // namespace
}  // namespace splitarray::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace splitarray;
  using namespace splitarray::fuzz;
  if (size < 1) return 0;
  std::vector<uint8_t> bytes(data + 1, data + size);
  if (data[0] & kModePatchCrcs) patch_crcs(bytes);
  auto decoded = bs::decode_record(bytes);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.code() == Code::kCorruption);
    return 0;
  }
  FUZZ_CHECK(decoded->updates.size() <= bs::kRecordUpdatesMax);
  FUZZ_CHECK(decoded->chunks.size() <= bs::kRecordChunksMax);
  for (const bs::NewChunk& chunk : decoded->chunks) {
    FUZZ_CHECK(!chunk.bytes.empty() && chunk.bytes.size() <= bs::kRecordChunkBytesMax);
    FUZZ_CHECK(chunk.location.length == chunk.bytes.size());
  }
  FUZZ_CHECK(decoded->fs_op.size() <= bs::kRecordFsOpBytesMax);
  FUZZ_CHECK(bs::encode_record(*decoded) == bytes);
  return 0;
}
