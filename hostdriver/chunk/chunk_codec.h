// hostdriver/chunk/chunk_codec.h
// ChunkCodec turns a block into a chunk's stored bytes and back (DESIGN.md §2, §3 step 5):
// zstd level 1, or the raw block when compression saves less than 1/8 of it.
// Invariants:
//   (1) A kZstd chunk holds exactly one zstd frame of at most zstd_bytes_max(block_size) bytes
//       that decodes to exactly block_size bytes; a kRaw chunk is the block itself.
//   (2) decompress never writes outside out[0, block_size) and never allocates according to a
//       frame's declared sizes: it decodes into the caller's fixed buffer, and any chunk that
//       breaks (1) is Code::kCorruption (bytes from disk or a peer), never a crash.
//   (3) Frames carry no zstd checksum: the fingerprint of the decoded block is the end-to-end
//       check (DESIGN.md §6 step 3), so a damaged frame that still decodes is caught there.
// Threading: an instance owns one ZSTD_CCtx and one ZSTD_DCtx (measured with zstd 1.5.4 at level
// 1: 72 KiB + 94 KiB after 4 KiB blocks, the CCtx 297 KiB after 64 KiB ones) and a 64 KiB scratch
// buffer; it is single-threaded state: one user at a time (blockstore hands one to each job).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"
#include "common/units.h"

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

namespace splitarray::hostdriver::chunk {

// Block sizes a datastore may choose (DESIGN.md §2: 4-64 KiB, default 4 KiB); powers of two.
inline constexpr size_t kBlockSizeMin = 4 * kKiB;
inline constexpr size_t kBlockSizeMax = 64 * kKiB;
inline constexpr size_t kBlockSizeDefault = 4 * kKiB;
inline constexpr int kZstdLevel = 1;
// Decoder window limit: no frame we write needs more than the block itself (single segment).
inline constexpr int kZstdWindowLogMax = 16;
static_assert((size_t{1} << kZstdWindowLogMax) >= kBlockSizeMax);
static_assert(kBlockSizeMin <= kBlockSizeDefault && kBlockSizeDefault <= kBlockSizeMax);

constexpr bool is_valid_block_size(size_t block_size) {
  return block_size >= kBlockSizeMin && block_size <= kBlockSizeMax &&
         (block_size & (block_size - 1)) == 0;
}

// The largest kZstd chunk of a block: compression must save at least 1/8 or the chunk is raw.
constexpr size_t zstd_bytes_max(size_t block_size) { return block_size - block_size / 8; }

// Stored as one byte next to the chunk (log record, container footer); values are fixed.
enum class Encoding : uint8_t { kRaw = 0, kZstd = 1 };

// An encoding byte read from disk or a peer: the Encoding, or kCorruption.
Result<Encoding> decode_encoding(uint8_t byte);

struct EncodedChunk {
  Encoding encoding = Encoding::kRaw;
  std::vector<uint8_t> bytes;
};

struct EncodeResult {
  Encoding encoding = Encoding::kRaw;
  size_t size_bytes = 0;
};

class ChunkCodec final {
 public:
  ChunkCodec();
  ~ChunkCodec();
  ChunkCodec(const ChunkCodec&) = delete;
  ChunkCodec& operator=(const ChunkCodec&) = delete;
  ChunkCodec(ChunkCodec&&) = delete;
  ChunkCodec& operator=(ChunkCodec&&) = delete;

  // block.size() must be a valid block size. Writes the chunk to out[0, size_bytes); out must
  // hold block.size() bytes (a raw chunk is that long), e.g. the tail of an open container.
  EncodeResult compress_into(std::span<const uint8_t> block, std::span<uint8_t> out);
  // The same into a new vector.
  EncodedChunk compress(std::span<const uint8_t> block);

  // Decodes a chunk of a block of block_size bytes into out (out.size() == block_size).
  // kCorruption unless the chunk satisfies invariant (1); out's contents are then unspecified.
  Result<void> decompress(Encoding encoding, std::span<const uint8_t> bytes, size_t block_size,
                          std::span<uint8_t> out);

 private:
  Result<void> decompress_zstd(std::span<const uint8_t> bytes, std::span<uint8_t> out);

  ZSTD_CCtx_s* cctx_ = nullptr;  // owned: ZSTD_freeCCtx
  ZSTD_DCtx_s* dctx_ = nullptr;  // owned: ZSTD_freeDCtx
  // compress() encodes here first, so each chunk's vector is allocated at its final size and
  // never zero-filled (kBlockSizeMax bytes, not initialised).
  std::unique_ptr<uint8_t[]> scratch_;
};

}  // namespace splitarray::hostdriver::chunk
