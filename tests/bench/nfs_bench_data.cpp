#include "tests/bench/nfs_bench_data.h"

#include <cstdio>
#include <cstring>
#include <string_view>

#include "common/assert.h"
#include "common/crc32c.h"
#include "common/prng.h"

namespace splitarray::bench::nfs {
namespace {

// 3/8 of each block is PRNG bytes: every block unique, and with the text an overall zstd-1
// ratio of ~1.6x per 4 KiB block (half random would be ~1.35x, a quarter ~2.0x; VM images
// measure ~2.25x, FACTS.md).
constexpr size_t kRandomBytes = kBlockBytes * 3 / 8;

// Text-like bytes: lines from a small set of templates (as in logs, configs and package lists),
// each with a varying number, so the text half of a block compresses ~4x with zstd-1.
constexpr std::string_view kLines[] = {
    "usr/lib/x86_64-linux-gnu/libc.so.6 size=",
    "Nov 22 02:45:27 host kernel: [ 1.042] eth0: link up, speed ",
    "Package: libssl3\nVersion: 3.0.11-1~deb12u2\nInstalled-Size: ",
    "#define CONFIG_NR_CPUS ",
    "GET /index.html HTTP/1.1\" 200 ",
    "  <property name=\"dfs.block.size\" value=\"",
    "static int handle_request(struct request *req, int flags) /* line ",
    "export PATH=/usr/local/bin:/usr/bin:/bin # ",
    "INSERT INTO files (name, size) VALUES ('data.bin', ",
    "systemd[1]: Started Session ",
    "drwxr-xr-x 2 root root 4096 Nov 22 ",
    "-rw-r--r-- 1 root root ",
    "    return -EINVAL; /* errno ",
    "<li class=\"item\"><a href=\"/page/",
    "[INFO] request completed in ",
    "etc/ssl/certs/ca-certificates.crt inode ",
};
static_assert(std::size(kLines) == 16);

uint64_t block_seed(uint64_t seed, uint64_t index) {
  // splitmix64 of the pair: neighbouring indexes give unrelated streams.
  uint64_t z = seed ^ (index * 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void append(std::span<uint8_t> out, size_t& at, std::string_view text) {
  const size_t n = std::min(text.size(), out.size() - at);
  std::memcpy(out.data() + at, text.data(), n);
  at += n;
}

void fill_text(Prng& prng, std::span<uint8_t> out) {
  size_t at = 0;
  char number[24];
  while (at < out.size()) {
    const uint64_t r = prng.next_u64();
    append(out, at, kLines[r & 15]);
    const int n = std::snprintf(number, sizeof number, "%llu\n",
                                static_cast<unsigned long long>((r >> 4) % 100000));
    append(out, at, std::string_view(number, static_cast<size_t>(n)));
  }
}

}  // namespace

void fill_block(uint64_t seed, uint64_t index, std::span<uint8_t> out) {
  ASSERT(out.size() == kBlockBytes);
  Prng prng(block_seed(seed, index));
  prng.fill(out.first(kRandomBytes));
  fill_text(prng, out.subspan(kRandomBytes));
}

void fill_blocks(uint64_t seed, uint64_t first_index, std::span<uint8_t> out) {
  ASSERT(out.size() % kBlockBytes == 0);
  for (size_t i = 0; i < out.size() / kBlockBytes; ++i) {
    fill_block(seed, first_index + i, out.subspan(i * kBlockBytes, kBlockBytes));
  }
}

std::vector<uint32_t> piece_crcs(std::span<const uint8_t> data, size_t piece_bytes) {
  ASSERT(piece_bytes > 0);
  ASSERT(data.size() % piece_bytes == 0);
  std::vector<uint32_t> crcs(data.size() / piece_bytes);
  for (size_t i = 0; i < crcs.size(); ++i)
    crcs[i] = crc32c(data.subspan(i * piece_bytes, piece_bytes));
  return crcs;
}

}  // namespace splitarray::bench::nfs
