// hostdriver/chunk/chunk_codec.cpp
#include "hostdriver/chunk/chunk_codec.h"

#include <zstd.h>
#include <zstd_errors.h>

#include <cstring>
#include <string>

#include "common/assert.h"

namespace splitarray::hostdriver::chunk {
namespace {

void set_cparam(ZSTD_CCtx* cctx, ZSTD_cParameter param, int value) {
  const size_t rc = ZSTD_CCtx_setParameter(cctx, param, value);
  ASSERT_MSG(!ZSTD_isError(rc), "ZSTD_CCtx_setParameter");
}

}  // namespace

Result<Encoding> decode_encoding(uint8_t byte) {
  switch (byte) {
    case static_cast<uint8_t>(Encoding::kRaw):
      return Encoding::kRaw;
    case static_cast<uint8_t>(Encoding::kZstd):
      return Encoding::kZstd;
    default:
      return corruption_error("unknown chunk encoding " + std::to_string(byte));
  }
}

ChunkCodec::ChunkCodec() : scratch_(std::make_unique_for_overwrite<uint8_t[]>(kBlockSizeMax)) {
  cctx_ = ZSTD_createCCtx();
  ASSERT_MSG(cctx_ != nullptr, "ZSTD_createCCtx failed");
  dctx_ = ZSTD_createDCtx();
  ASSERT_MSG(dctx_ != nullptr, "ZSTD_createDCtx failed");
  set_cparam(cctx_, ZSTD_c_compressionLevel, kZstdLevel);
  // The fingerprint checks the decoded block end to end; a frame checksum would only cost bytes.
  set_cparam(cctx_, ZSTD_c_checksumFlag, 0);
  set_cparam(cctx_, ZSTD_c_contentSizeFlag, 1);
  set_cparam(cctx_, ZSTD_c_dictIDFlag, 0);
  const size_t rc = ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, kZstdWindowLogMax);
  ASSERT_MSG(!ZSTD_isError(rc), "ZSTD_DCtx_setParameter(windowLogMax)");
}

ChunkCodec::~ChunkCodec() {
  ZSTD_freeDCtx(dctx_);
  ZSTD_freeCCtx(cctx_);
}

EncodeResult ChunkCodec::compress_into(std::span<const uint8_t> block, std::span<uint8_t> out) {
  ASSERT(is_valid_block_size(block.size()));
  ASSERT(out.size() >= block.size());
  // Room for the whole block, not just zstd_bytes_max: zstd needs ~8 bytes of slack beyond the
  // frame it writes (its bit writer stores whole words) and would report dstSize_tooSmall for
  // frames just under the limit. A frame that does not fit in block.size() is over the limit.
  const size_t limit = zstd_bytes_max(block.size());
  const size_t n = ZSTD_compress2(cctx_, out.data(), block.size(), block.data(), block.size());
  if (!ZSTD_isError(n) && n <= limit) {
    ASSERT(n > 0);
    return EncodeResult{Encoding::kZstd, n};
  }
  ASSERT_MSG(!ZSTD_isError(n) || ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall,
             "ZSTD_compress2 failed");
  std::memcpy(out.data(), block.data(), block.size());
  return EncodeResult{Encoding::kRaw, block.size()};
}

EncodedChunk ChunkCodec::compress(std::span<const uint8_t> block) {
  const EncodeResult result =
      compress_into(block, std::span<uint8_t>(scratch_.get(), block.size()));
  ASSERT(result.size_bytes <= block.size());
  ASSERT((result.encoding == Encoding::kRaw) == (result.size_bytes == block.size()));
  EncodedChunk chunk;
  chunk.encoding = result.encoding;
  if (result.encoding == Encoding::kRaw) {
    chunk.bytes.assign(block.begin(), block.end());
  } else {
    chunk.bytes.assign(scratch_.get(), scratch_.get() + result.size_bytes);
  }
  return chunk;
}

Result<void> ChunkCodec::decompress(Encoding encoding, std::span<const uint8_t> bytes,
                                    size_t block_size, std::span<uint8_t> out) {
  ASSERT(is_valid_block_size(block_size));
  ASSERT(out.size() == block_size);
  switch (encoding) {
    case Encoding::kRaw:
      if (bytes.size() != block_size) {
        return corruption_error("raw chunk of " + std::to_string(bytes.size()) +
                                " bytes, block is " + std::to_string(block_size));
      }
      std::memcpy(out.data(), bytes.data(), block_size);
      return ok_result();
    case Encoding::kZstd:
      return decompress_zstd(bytes, out);
  }
  return corruption_error("unknown chunk encoding");
}

Result<void> ChunkCodec::decompress_zstd(std::span<const uint8_t> bytes, std::span<uint8_t> out) {
  const size_t block_size = out.size();
  if (bytes.empty() || bytes.size() > zstd_bytes_max(block_size)) {
    return corruption_error("zstd chunk of " + std::to_string(bytes.size()) +
                            " bytes for a block of " + std::to_string(block_size));
  }
  // Exactly one frame, nothing after it: ZSTD_decompressDCtx would also accept several frames
  // (or skippable ones) whose outputs happen to add up to block_size.
  const size_t frame_bytes = ZSTD_findFrameCompressedSize(bytes.data(), bytes.size());
  if (ZSTD_isError(frame_bytes)) {
    return corruption_error(std::string("zstd chunk: ") + ZSTD_getErrorName(frame_bytes));
  }
  if (frame_bytes != bytes.size()) {
    return corruption_error("zstd chunk has " + std::to_string(bytes.size() - frame_bytes) +
                            " bytes after its frame");
  }
  // The output buffer is the bound: a frame that decodes to more fails with dstSize_tooSmall.
  const size_t n = ZSTD_decompressDCtx(dctx_, out.data(), block_size, bytes.data(), bytes.size());
  if (ZSTD_isError(n)) {
    return corruption_error(std::string("zstd chunk: ") + ZSTD_getErrorName(n));
  }
  if (n != block_size) {
    return corruption_error("zstd chunk decodes to " + std::to_string(n) + " bytes, block is " +
                            std::to_string(block_size));
  }
  return ok_result();
}

}  // namespace splitarray::hostdriver::chunk
