// tests/unit/hostdriver/chunk/chunk_codec_test.cpp
// ChunkCodec: round trips with the right encoding at 4/8/64 KiB, the 1/8 rule at its boundary,
// and decompression of hostile chunks (truncated, wrong decoded size, several frames, garbage,
// bit flips, raw of the wrong length): always kCorruption or the exact size, never a write
// outside the output buffer (guard bytes here; ASan in CI).
#include <doctest/doctest.h>
#include <zstd.h>

#include <algorithm>
#include <array>

#include "hostdriver/chunk/chunk_codec.h"
#include "tests/unit/hostdriver/chunk/chunk_test_util.h"

namespace splitarray::hostdriver::chunk::test {
namespace {

constexpr std::array<size_t, 3> kSizes = {4 * kKiB, 8 * kKiB, 64 * kKiB};
constexpr size_t kGuardBytes = 64;
constexpr uint8_t kGuard = 0xA5;

// An output buffer with guard bytes on both sides.
struct Guarded {
  explicit Guarded(size_t size) : buffer(size + 2 * kGuardBytes, kGuard), size_bytes(size) {}
  std::span<uint8_t> out() { return std::span<uint8_t>(buffer).subspan(kGuardBytes, size_bytes); }
  bool guards_intact() const {
    const auto intact = [](uint8_t b) { return b == kGuard; };
    return std::all_of(buffer.begin(), buffer.begin() + kGuardBytes, intact) &&
           std::all_of(buffer.end() - kGuardBytes, buffer.end(), intact);
  }
  std::vector<uint8_t> buffer;
  size_t size_bytes;
};

// Data that compresses well: 8-byte tokens drawn from a small vocabulary.
std::vector<uint8_t> compressible_block(Prng& rng, size_t size) {
  std::array<uint64_t, 32> vocabulary{};
  for (uint64_t& token : vocabulary) token = rng.next_u64();
  std::vector<uint8_t> block(size);
  for (size_t i = 0; i < size; i += 8) {
    const uint64_t token = vocabulary[rng.below(vocabulary.size())];
    for (size_t j = 0; j < 8; ++j) block[i + j] = static_cast<uint8_t>(token >> (8 * j));
  }
  return block;
}

std::vector<uint8_t> plain_zstd(std::span<const uint8_t> input) {
  std::vector<uint8_t> out(ZSTD_compressBound(input.size()));
  const size_t n = ZSTD_compress(out.data(), out.size(), input.data(), input.size(), kZstdLevel);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// Decodes into a guarded buffer; checks the guards and, on success, the bytes.
Result<void> decode(ChunkCodec& codec, Encoding encoding, std::span<const uint8_t> bytes,
                    size_t block_size, std::span<const uint8_t> expect = {}) {
  Guarded guarded(block_size);
  Result<void> result = codec.decompress(encoding, bytes, block_size, guarded.out());
  CHECK(guarded.guards_intact());
  if (result.ok() && !expect.empty()) {
    CHECK(std::equal(expect.begin(), expect.end(), guarded.out().begin(), guarded.out().end()));
  }
  return result;
}

bool is_corruption(const Result<void>& result) {
  return !result.ok() && result.code() == Code::kCorruption;
}

TEST_CASE("hostdriver/chunk: round trips choose zstd for compressible and zero blocks") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  ChunkCodec codec;
  for (size_t size : kSizes) {
    CAPTURE(size);
    for (const auto& block : {compressible_block(rng, size), std::vector<uint8_t>(size, 0)}) {
      const EncodedChunk chunk = codec.compress(block);
      CHECK(chunk.encoding == Encoding::kZstd);
      CHECK(chunk.bytes.size() <= size / 2);
      CHECK(decode(codec, chunk.encoding, chunk.bytes, size, block).ok());
    }
  }
}

TEST_CASE("hostdriver/chunk: random blocks stay raw and round trip") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  ChunkCodec codec;
  for (size_t size : kSizes) {
    CAPTURE(size);
    const auto block = random_bytes(rng, size);
    const EncodedChunk chunk = codec.compress(block);
    CHECK(chunk.encoding == Encoding::kRaw);
    CHECK(chunk.bytes == block);
    CHECK(decode(codec, chunk.encoding, chunk.bytes, size, block).ok());
  }
}

TEST_CASE("hostdriver/chunk: compress_into writes only the chunk's bytes into a container") {
  Prng rng(seed_from_env());
  ChunkCodec codec;
  const auto block = compressible_block(rng, 4 * kKiB);
  Guarded container(4 * kKiB);
  const EncodeResult result = codec.compress_into(block, container.out());
  CHECK(container.guards_intact());
  REQUIRE(result.encoding == Encoding::kZstd);
  CHECK(decode(codec, result.encoding, container.out().first(result.size_bytes), 4 * kKiB, block)
            .ok());
}

// Zeros then r random bytes compress to r bytes plus a constant: the zeros are one match and the
// random tail is literals, all of them (a random prefix would not do: zstd level 1 skips ahead in
// incompressible input, so the size moves in steps). Sweeping r crosses the limit byte by byte.
TEST_CASE("hostdriver/chunk: the 1/8 rule holds exactly at its boundary") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  ChunkCodec codec;
  for (size_t size : kSizes) {
    CAPTURE(size);
    const size_t limit = zstd_bytes_max(size);
    CHECK(limit == size * 7 / 8);
    bool saw_at_limit = false;
    bool saw_over_limit = false;
    const auto noise = random_bytes(rng, size);
    for (size_t r = limit - 64; r <= limit + 8; ++r) {
      std::vector<uint8_t> block(size, 0);
      std::copy_n(noise.begin(), r, block.end() - static_cast<std::ptrdiff_t>(r));
      const size_t zstd_size = plain_zstd(block).size();
      const EncodedChunk chunk = codec.compress(block);
      if (zstd_size <= limit) {
        CHECK(chunk.encoding == Encoding::kZstd);
        CHECK(chunk.bytes == plain_zstd(block));
      } else {
        CHECK(chunk.encoding == Encoding::kRaw);
        CHECK(chunk.bytes == block);
      }
      saw_at_limit |= zstd_size == limit;
      saw_over_limit |= zstd_size == limit + 1;
      CHECK(decode(codec, chunk.encoding, chunk.bytes, size, block).ok());
    }
    CHECK(saw_at_limit);
    CHECK(saw_over_limit);
  }
}

TEST_CASE("hostdriver/chunk: truncated zstd chunks are corruption") {
  Prng rng(seed_from_env());
  ChunkCodec codec;
  for (size_t size : kSizes) {
    CAPTURE(size);
    const auto block = compressible_block(rng, size);
    const EncodedChunk chunk = codec.compress(block);
    REQUIRE(chunk.encoding == Encoding::kZstd);
    for (size_t length = 0; length < chunk.bytes.size(); ++length) {
      CAPTURE(length);
      CHECK(is_corruption(decode(codec, Encoding::kZstd,
                                 std::span<const uint8_t>(chunk.bytes).first(length), size)));
    }
  }
}

TEST_CASE("hostdriver/chunk: frames that decode to more or fewer bytes than the block") {
  Prng rng(seed_from_env());
  ChunkCodec codec;
  for (size_t size : kSizes) {
    CAPTURE(size);
    const auto big = compressible_block(rng, 2 * size);
    for (size_t decoded :
         {size_t{0}, size_t{1}, size / 2, size - 1, size + 1, size + 8, 2 * size}) {
      CAPTURE(decoded);
      const auto frame = plain_zstd(std::span<const uint8_t>(big).first(decoded));
      REQUIRE(frame.size() <= zstd_bytes_max(size));
      CHECK(is_corruption(decode(codec, Encoding::kZstd, frame, size)));
    }
    // The same frame of exactly the block's size decodes: the rejections above are about size.
    const auto exact = std::span<const uint8_t>(big).first(size);
    CHECK(decode(codec, Encoding::kZstd, plain_zstd(exact), size, exact).ok());
  }
}

TEST_CASE("hostdriver/chunk: extra frames, trailing bytes and oversized chunks are corruption") {
  Prng rng(seed_from_env());
  ChunkCodec codec;
  const size_t size = 4 * kKiB;
  const auto block = compressible_block(rng, size);
  const auto frame = plain_zstd(block);
  // Two frames whose outputs add up to the block.
  auto two = plain_zstd(std::span<const uint8_t>(block).first(size / 2));
  const auto second = plain_zstd(std::span<const uint8_t>(block).subspan(size / 2));
  two.insert(two.end(), second.begin(), second.end());
  CHECK(is_corruption(decode(codec, Encoding::kZstd, two, size)));
  // A valid frame followed by one byte, or by a skippable frame.
  auto trailing = frame;
  trailing.push_back(0);
  CHECK(is_corruption(decode(codec, Encoding::kZstd, trailing, size)));
  std::vector<uint8_t> skippable = {0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4};
  auto with_skippable = frame;
  with_skippable.insert(with_skippable.end(), skippable.begin(), skippable.end());
  CHECK(is_corruption(decode(codec, Encoding::kZstd, with_skippable, size)));
  CHECK(is_corruption(decode(codec, Encoding::kZstd, skippable, size)));
  // A valid frame of the block that is larger than a kZstd chunk may be (we would store it raw).
  const auto noise = random_bytes(rng, size);
  const auto oversized = plain_zstd(noise);
  REQUIRE(oversized.size() > zstd_bytes_max(size));
  CHECK(is_corruption(decode(codec, Encoding::kZstd, oversized, size)));
}

// A streamed frame (no content size, a 1 MiB window): ZSTD_decompressDCtx ignores windowLogMax in
// one-shot mode, so the fixed output buffer is the only bound, and it must be enough.
std::vector<uint8_t> streamed_zstd(std::span<const uint8_t> input) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  REQUIRE(cctx != nullptr);
  REQUIRE_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 20)));
  std::vector<uint8_t> out(ZSTD_compressBound(input.size()) + 64);
  ZSTD_outBuffer output{out.data(), out.size(), 0};
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  REQUIRE_FALSE(ZSTD_isError(ZSTD_compressStream2(cctx, &output, &in, ZSTD_e_continue)));
  ZSTD_inBuffer none{nullptr, 0, 0};
  REQUIRE(ZSTD_compressStream2(cctx, &output, &none, ZSTD_e_end) == 0);
  ZSTD_freeCCtx(cctx);
  out.resize(output.pos);
  REQUIRE(ZSTD_getFrameContentSize(out.data(), out.size()) == ZSTD_CONTENTSIZE_UNKNOWN);
  return out;
}

TEST_CASE("hostdriver/chunk: frames without a content size decode only into the block") {
  Prng rng(seed_from_env());
  ChunkCodec codec;
  for (size_t size : kSizes) {
    CAPTURE(size);
    const auto big = compressible_block(rng, 2 * size);
    for (size_t decoded : {size - 1, size + 1, 2 * size}) {
      CAPTURE(decoded);
      const auto frame = streamed_zstd(std::span<const uint8_t>(big).first(decoded));
      CHECK(is_corruption(decode(codec, Encoding::kZstd, frame, size)));
    }
    const auto exact = std::span<const uint8_t>(big).first(size);
    CHECK(decode(codec, Encoding::kZstd, streamed_zstd(exact), size, exact).ok());
  }
}

TEST_CASE("hostdriver/chunk: garbage and bit-flipped chunks never overflow the block") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  ChunkCodec codec;
  for (size_t size : kSizes) {
    CAPTURE(size);
    for (int i = 0; i < 200; ++i) {
      auto garbage = random_bytes(rng, 1 + rng.below(zstd_bytes_max(size)));
      CHECK(is_corruption(decode(codec, Encoding::kZstd, garbage, size)));
      // Behind a valid magic number, so the frame parser gets further.
      if (garbage.size() >= 4) {
        const uint8_t magic[] = {0x28, 0xB5, 0x2F, 0xFD};
        std::copy(std::begin(magic), std::end(magic), garbage.begin());
        CHECK(is_corruption(decode(codec, Encoding::kZstd, garbage, size)));
      }
    }
  }
  // Every single-bit flip of a small frame: an error, or exactly one block (the fp catches
  // wrong bytes; there is no frame checksum).
  const auto block = compressible_block(rng, 4 * kKiB);
  const EncodedChunk chunk = codec.compress(block);
  REQUIRE(chunk.encoding == Encoding::kZstd);
  int rejected = 0;
  for (size_t bit = 0; bit < chunk.bytes.size() * 8; ++bit) {
    auto flipped = chunk.bytes;
    flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    const Result<void> result = decode(codec, Encoding::kZstd, flipped, 4 * kKiB);
    CHECK((result.ok() || is_corruption(result)));
    rejected += result.ok() ? 0 : 1;
  }
  CHECK(rejected > 0);
}

TEST_CASE("hostdriver/chunk: raw chunks of the wrong length and unknown encodings") {
  ChunkCodec codec;
  for (size_t size : kSizes) {
    CAPTURE(size);
    const std::vector<uint8_t> bytes(size + 1, 7);
    for (size_t length : {size_t{0}, size_t{1}, size - 1, size + 1}) {
      CHECK(is_corruption(
          decode(codec, Encoding::kRaw, std::span<const uint8_t>(bytes).first(length), size)));
    }
    const auto exact = std::span<const uint8_t>(bytes).first(size);
    CHECK(decode(codec, Encoding::kRaw, exact, size, exact).ok());
    CHECK(is_corruption(decode(codec, static_cast<Encoding>(7), exact, size)));
  }
  CHECK(decode_encoding(0).value() == Encoding::kRaw);
  CHECK(decode_encoding(1).value() == Encoding::kZstd);
  for (int byte = 2; byte < 256; ++byte) {
    const auto result = decode_encoding(static_cast<uint8_t>(byte));
    REQUIRE_FALSE(result.ok());
    CHECK(result.code() == Code::kCorruption);
  }
}

TEST_CASE("hostdriver/chunk: block sizes are powers of two from 4 to 64 KiB") {
  CHECK(is_valid_block_size(4 * kKiB));
  CHECK(is_valid_block_size(16 * kKiB));
  CHECK(is_valid_block_size(64 * kKiB));
  CHECK_FALSE(is_valid_block_size(2 * kKiB));
  CHECK_FALSE(is_valid_block_size(128 * kKiB));
  CHECK_FALSE(is_valid_block_size(12 * kKiB));
  CHECK_FALSE(is_valid_block_size(0));
}

}  // namespace
}  // namespace splitarray::hostdriver::chunk::test
