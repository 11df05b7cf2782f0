// tests/fuzz/fs_records_fuzz.cpp
// libFuzzer target for the file system's record decoders (hostdriver/fs/records.h): inode
// records, dir entries, superblocks and leases come back from the shelf at every mount and
// operations at every log replay; a decoder that crashed or misread one would corrupt the tree.
//
// Input: byte 0 is a mode: bits 0..6 select the decoder (modulo 5: inode, dir entry, operation,
// superblock, lease); bit 7 recomputes the trailing CRC32C before decoding, so mutations reach
// the length, enum and name checks behind it. The rest is the record.
// Oracles (__builtin_trap): every rejection is kCorruption; an accepted record re-encodes to
// exactly the bytes it was decoded from (and the encoder's ASSERTs hold for it); a version 1
// superblock, which re-encodes as version 2, decodes again to the same value, with zero figures.
#include <cstdint>
#include <span>
#include <vector>

#include "common/crc32c.h"
#include "common/endian.h"
#include "hostdriver/fs/records.h"

namespace splitarray::fuzz {
namespace {

namespace fs = hostdriver::fs;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

constexpr uint8_t kModePatchCrc = 0x80;
constexpr uint8_t kDecoderMask = 0x7f;
constexpr size_t kDecoders = 5;
constexpr size_t kCrcBytes = 4;

void patch_crc(std::vector<uint8_t>& bytes) {
  if (bytes.size() < kCrcBytes) return;
  const size_t body = bytes.size() - kCrcBytes;
  put_u32(bytes, body, crc32c(std::span<const uint8_t>(bytes).first(body)));
}

// Decodes with one decoder and checks its oracles; true if the bytes were accepted.
template <class Decode, class Encode>
bool check(const std::vector<uint8_t>& bytes, Decode decode, Encode encode) {
  auto decoded = decode(std::span<const uint8_t>(bytes));
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.code() == Code::kCorruption);
    return false;
  }
  FUZZ_CHECK(encode(decoded.value()) == bytes);
  return true;
}

}  // namespace
}  // namespace splitarray::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace splitarray;
  using namespace splitarray::fuzz;
  if (size < 1) return 0;
  std::vector<uint8_t> bytes(data + 1, data + size);
  if (data[0] & kModePatchCrc) patch_crc(bytes);
  switch ((data[0] & kDecoderMask) % kDecoders) {
    case 0:
      check(bytes, fs::decode_inode, fs::encode_inode);
      break;
    case 1:
      check(bytes, fs::decode_dir_entry, fs::encode_dir_entry);
      break;
    case 2:
      if (check(bytes, fs::decode_op, fs::encode_op)) {
        FUZZ_CHECK(bytes.size() <= fs::kFsOpBytesMax);
      }
      break;
    case 3:
      if (bytes.size() >= 2 && bytes[1] == 1) {
        // A version 1 superblock (before DataFigures) re-encodes as version 2: the oracle is
        // then that the new encoding decodes to the same value.
        auto decoded = fs::decode_superblock(bytes);
        if (!decoded.ok()) {
          FUZZ_CHECK(decoded.code() == Code::kCorruption);
          break;
        }
        FUZZ_CHECK(decoded->figures == fs::DataFigures{});
        auto again = fs::decode_superblock(fs::encode_superblock(*decoded));
        FUZZ_CHECK(again.ok() && *again == *decoded);
      } else {
        check(bytes, fs::decode_superblock, fs::encode_superblock);
      }
      break;
    default:
      check(bytes, fs::decode_lease, fs::encode_lease);
      break;
  }
  return 0;
}
