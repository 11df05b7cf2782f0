#include "tests/bench/datapath_data.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <string>

#include "common/assert.h"
#include "common/crc32c.h"
#include "common/endian.h"
#include "common/prng.h"
#include "common/units.h"
#include "hostdriver/chunk/chunk_codec.h"
#include "hostdriver/chunk/fingerprinter.h"
#include "hostdriver/ec/erasure_code.h"
#include "tests/bench/bench_report.h"

namespace splitarray::bench {
namespace {

// --- VM-like blocks ---------------------------------------------------------------------------
constexpr uint32_t kBlockMagic = 0x4D565053;  // "SPVM"
constexpr size_t kBlockHeaderBytes = 16;
constexpr uint64_t kTextSeed = 0x564F434142;  // "VOCAB"
constexpr size_t kVocabularyWords = 2048;
constexpr uint64_t kWordLettersMin = 2;
constexpr uint64_t kWordLettersMax = 10;
constexpr size_t kLines = 128;
constexpr uint64_t kLineWordsMin = 2;
constexpr uint64_t kLineWordsMax = 12;
constexpr uint64_t kRunBytesMin = 32;
constexpr uint64_t kRunBytesMax = 480;
// Whole blocks of random bytes (compressed files, media): stored raw by ChunkCodec.
constexpr uint64_t kRandomBlockPercent = 10;
// The run mix of the other blocks, in percent. With these, zstd-1 per 4 KiB block gives ~2.29x
// (text runs alone ~2.2x, record runs alone ~3x).
constexpr uint64_t kTextPercent = 50;
constexpr uint64_t kRecordPercent = 30;
constexpr uint64_t kZeroPercent = 20;
constexpr size_t kRecordBytes = 16;
constexpr uint64_t kBlockSeedMix = 0x9E3779B97F4A7C15;
static_assert(kRandomBlockPercent <= 100);
static_assert(kTextPercent + kRecordPercent + kZeroPercent == 100);
static_assert(kBlockBytes % kRecordBytes == 0);

// --- The pipeline limit's container -----------------------------------------------------------
constexpr int kDataFragments = 8;
constexpr int kParityFragments = 2;
constexpr size_t kFragmentBytes = 1 * kMiB;
constexpr size_t kPayloadBytes = kDataFragments * kFragmentBytes;
// Room left for the footer (48 bytes per chunk, 2048+ chunks per container at most).
constexpr size_t kFooterReserveBytes = 128 * kKiB;
// The limit loops look at the clock once per this many bytes.
constexpr size_t kLimitCheckBytes = 1 * kMiB;

namespace ec = hostdriver::ec;

// Text as it appears in a root file system: lines (config files, scripts, logs, man pages)
// drawn with a skew from a fixed pool of lines made of words from a fixed vocabulary, each line
// prefixed with a number (a timestamp, a pid, a version) that varies.
class TextModel final {
 public:
  TextModel() {
    Prng rng(kTextSeed);
    std::vector<std::string> words;
    words.reserve(kVocabularyWords);
    for (size_t i = 0; i < kVocabularyWords; ++i) {
      std::string word(rng.between(kWordLettersMin, kWordLettersMax), 'a');
      for (char& c : word) c = static_cast<char>('a' + rng.below(26));
      words.push_back(std::move(word));
    }
    lines_.reserve(kLines);
    for (size_t i = 0; i < kLines; ++i) {
      std::string line;
      const uint64_t n = rng.between(kLineWordsMin, kLineWordsMax);
      for (uint64_t w = 0; w < n; ++w) {
        line += words[skewed(rng, words.size(), 3)];
        line += w + 1 < n ? separator(rng) : '\n';
      }
      lines_.push_back(std::move(line));
    }
  }

  void fill(Prng& rng, std::span<uint8_t> out) const {
    size_t at = 0;
    while (at < out.size()) {
      const std::string prefix = rng.below(4) == 0 ? std::to_string(rng.below(100000)) + ' ' : "";
      const std::string& line = lines_[skewed(rng, lines_.size(), 3)];
      for (const std::string* part : {&prefix, &line}) {
        const size_t n = std::min(part->size(), out.size() - at);
        std::memcpy(out.data() + at, part->data(), n);
        at += n;
      }
    }
  }

 private:
  // Index in [0, size) with a Zipf-like skew: u^power puts most choices near 0.
  static size_t skewed(Prng& rng, size_t size, int power) {
    double u = rng.unit();
    double x = u;
    for (int i = 1; i < power; ++i) x *= u;
    return std::min(static_cast<size_t>(x * static_cast<double>(size)), size - 1);
  }
  static char separator(Prng& rng) {
    static constexpr std::array<char, 8> kSeparators = {' ', ' ', ' ', ' ', '=', '/', '.', ','};
    return kSeparators[rng.below(kSeparators.size())];
  }

  std::vector<std::string> lines_;
};

void fill_records(Prng& rng, std::span<uint8_t> out) {
  std::array<uint8_t, kRecordBytes> record{};
  auto counter = static_cast<uint32_t>(rng.below(1u << 20));
  for (size_t at = 0; at < out.size(); at += kRecordBytes) {
    record.fill(0);
    put_u32(record, 0, counter++);
    put_u16(record, 4, static_cast<uint16_t>(rng.below(64)));
    record[6] = static_cast<uint8_t>(rng.below(4));
    put_u32(record, 8, 0x1ED);  // a mode field, the same in most records
    const size_t n = std::min(kRecordBytes, out.size() - at);
    std::memcpy(out.data() + at, record.data(), n);
  }
}

void fill_vm_block(const TextModel& text, uint64_t seed, uint64_t number,
                   std::span<uint8_t> block) {
  ASSERT(block.size() == kBlockBytes);
  Prng rng(seed ^ (number * kBlockSeedMix));
  put_u32(block, 0, kBlockMagic);
  put_u32(block, 4, 0);
  put_u64(block, 8, number);
  const std::span<uint8_t> body = block.subspan(kBlockHeaderBytes);
  if (rng.below(100) < kRandomBlockPercent) {
    rng.fill(body);
    return;
  }
  size_t at = 0;
  while (at < body.size()) {
    const size_t n = std::min<size_t>(rng.between(kRunBytesMin, kRunBytesMax), body.size() - at);
    const std::span<uint8_t> run = body.subspan(at, n);
    const uint64_t kind = rng.below(100);
    if (kind < kTextPercent) {
      text.fill(rng, run);
    } else if (kind < kTextPercent + kRecordPercent) {
      fill_records(rng, run);
    } else {
      std::fill(run.begin(), run.end(), uint8_t{0});
    }
    at += n;
  }
  ASSERT(at == body.size());
}

double thread_cpu_seconds() {
  timespec now{};
  const int rc = ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  ASSERT(rc == 0);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

double seconds_since(BenchClock::time_point start) {
  return std::chrono::duration<double>(BenchClock::now() - start).count();
}

// Packs chunks into an 8 MiB payload the way a container does (no chunk straddles a fragment),
// and when it is full, encodes parity and checksums every fragment.
class PipelineContainer final {
 public:
  PipelineContainer()
      : code_(ec::ErasureCode::create(kDataFragments, kParityFragments).value()),
        payload_(kPayloadBytes),
        parity_(kParityFragments * kFragmentBytes) {}

  // Where the next chunk of up to kBlockBytes goes; seals first when the payload is full.
  std::span<uint8_t> next_out() {
    const size_t in_fragment = fill_ % kFragmentBytes;
    if (in_fragment + kBlockBytes > kFragmentBytes) fill_ += kFragmentBytes - in_fragment;
    if (fill_ + kBlockBytes > kPayloadBytes - kFooterReserveBytes) seal();
    return std::span<uint8_t>(payload_).subspan(fill_, kBlockBytes);
  }
  void append(size_t stored_bytes) {
    ASSERT(stored_bytes >= 1 && stored_bytes <= kBlockBytes);
    fill_ += stored_bytes;
  }
  uint32_t checksum() const { return crc_sum_; }

 private:
  void seal() {
    std::array<std::span<const uint8_t>, kDataFragments> data;
    std::array<std::span<uint8_t>, kParityFragments> parity;
    for (int i = 0; i < kDataFragments; ++i) {
      data[i] = std::span<const uint8_t>(payload_).subspan(i * kFragmentBytes, kFragmentBytes);
    }
    for (int i = 0; i < kParityFragments; ++i) {
      parity[i] = std::span<uint8_t>(parity_).subspan(i * kFragmentBytes, kFragmentBytes);
    }
    code_.encode(data, parity);
    for (const auto& fragment : data) crc_sum_ ^= crc32c(fragment);
    for (const auto& fragment : parity) crc_sum_ ^= crc32c(fragment);
    fill_ = 0;
  }

  ec::ErasureCode code_;
  std::vector<uint8_t> payload_;
  std::vector<uint8_t> parity_;
  size_t fill_ = 0;
  uint32_t crc_sum_ = 0;
};

// Runs step(block) over the blocks of data cyclically, on the calling thread, until min_seconds
// have passed (checked every kLimitCheckBytes).
template <class Step>
LimitResult run_limit(std::span<const uint8_t> data, double min_seconds, Step&& step) {
  ASSERT(!data.empty() && data.size() % kBlockBytes == 0);
  LimitResult result;
  const double cpu_start = thread_cpu_seconds();
  const auto start = BenchClock::now();
  size_t at = 0;
  do {
    const size_t end = std::min(data.size(), at + kLimitCheckBytes);
    result.bytes += end - at;
    for (; at < end; at += kBlockBytes) step(data.subspan(at, kBlockBytes));
    if (at == data.size()) at = 0;
  } while (seconds_since(start) < min_seconds);
  result.seconds = seconds_since(start);
  result.cpu_seconds = thread_cpu_seconds() - cpu_start;
  result.mbps_one = static_cast<double>(result.bytes) / result.seconds / 1e6;
  return result;
}

}  // namespace

void make_vm_like(uint64_t seed, uint64_t first_block, std::span<uint8_t> out) {
  ASSERT(out.size() % kBlockBytes == 0);
  const TextModel text;
  for (size_t i = 0; i < out.size() / kBlockBytes; ++i) {
    fill_vm_block(text, seed, first_block + i, out.subspan(i * kBlockBytes, kBlockBytes));
  }
}

void make_random(uint64_t seed, std::span<uint8_t> out) { Prng(seed).fill(out); }

LimitResult sha256_limit(std::span<const uint8_t> data, double min_seconds) {
  hostdriver::chunk::Fingerprinter fingerprinter;
  uint8_t fold = 0;
  LimitResult result = run_limit(data, min_seconds, [&](std::span<const uint8_t> block) {
    fold ^= fingerprinter.fingerprint(block)[0];
  });
  result.check = fold;
  return result;
}

LimitResult pipeline_limit(std::span<const uint8_t> data, double min_seconds) {
  hostdriver::chunk::Fingerprinter fingerprinter;
  hostdriver::chunk::ChunkCodec codec;
  PipelineContainer container;
  uint8_t fold = 0;
  uint64_t stored = 0;
  LimitResult result = run_limit(data, min_seconds, [&](std::span<const uint8_t> block) {
    fold ^= fingerprinter.fingerprint(block)[0];
    const hostdriver::chunk::EncodeResult encoded =
        codec.compress_into(block, container.next_out());
    container.append(encoded.size_bytes);
    stored += encoded.size_bytes;
  });
  result.stored_bytes = stored;
  result.check = fold ^ container.checksum();
  return result;
}

double chunk_compression_ratio(std::span<const uint8_t> data) {
  ASSERT(!data.empty() && data.size() % kBlockBytes == 0);
  hostdriver::chunk::ChunkCodec codec;
  std::vector<uint8_t> out(kBlockBytes);
  uint64_t stored = 0;
  for (size_t at = 0; at < data.size(); at += kBlockBytes) {
    stored += codec.compress_into(data.subspan(at, kBlockBytes), out).size_bytes;
  }
  return static_cast<double>(data.size()) / static_cast<double>(stored);
}

}  // namespace splitarray::bench
