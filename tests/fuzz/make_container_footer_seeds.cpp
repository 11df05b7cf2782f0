// tests/fuzz/make_container_footer_seeds.cpp
// Writes the seed corpus for container_footer_fuzz: footers of containers sealed by
// hostdriver/container's ContainerBuilder in each fuzz geometry (empty, a few chunks, chunks at
// fragment boundaries, many tiny chunks), as the footer alone or with bytes in front of it.
// Each file is one mode byte (see container_footer_fuzz.h) followed by a payload tail.
// Output is deterministic; tests/fuzz/corpus/container_footer/ holds the committed result:
//   make_container_footer_seeds tests/fuzz/corpus/container_footer
// Every seed is parsed with the fuzz target's settings and must give its chunks back.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/prng.h"
#include "container_footer_fuzz.h"
#include "hostdriver/container/container.h"
#include "hostdriver/container/container_builder.h"

namespace splitarray::fuzz {
namespace {

namespace hc = hostdriver::container;

constexpr uint64_t kSeedsPrngSeed = 0xC0117A1;

struct Seed {
  std::string name;
  uint8_t mode = 0;
  std::vector<uint8_t> bytes;  // mode byte + tail
};

// Chunk sizes added in order; stored bytes `size`, zstd unless size is a whole 4 KiB block.
Seed make_seed(std::string name, uint8_t mode, const std::vector<uint32_t>& sizes,
               size_t bytes_before_footer, Prng& rng) {
  const ContainerGeometry& geometry = kFuzzGeometries[mode & kModeGeometryMask];
  const ContainerId id =
      (mode & kModeOtherId) != 0 ? ContainerId(kFuzzContainerId.value() + 1) : kFuzzContainerId;
  hc::ContainerBuilder builder(geometry, id);
  for (const uint32_t size : sizes) {
    std::vector<uint8_t> stored(size);
    rng.fill(stored);
    hc::Fingerprint fp;
    rng.fill(fp);
    const bool raw = size % 4096 == 0;
    const uint32_t logical = raw ? size : (size / 4096 + 1) * 4096;
    const auto placement =
        builder.add(fp, raw ? hc::ChunkEncoding::kRaw : hc::ChunkEncoding::kZstd, stored, logical);
    ASSERT(placement.ok());
  }
  const hc::SealedContainer sealed = builder.seal();
  const uint64_t tail_bytes = builder.footer_bytes() + bytes_before_footer;
  ASSERT(tail_bytes <= sealed.payload.size());
  const auto tail = std::span<const uint8_t>(sealed.payload).last(tail_bytes);
  const auto footer = hc::parse_footer(geometry, id, tail);
  ASSERT(footer.ok());
  ASSERT(footer->chunks == builder.chunks());

  Seed seed{std::move(name), mode, {mode}};
  seed.bytes.insert(seed.bytes.end(), tail.begin(), tail.end());
  return seed;
}

std::vector<Seed> make_seeds() {
  Prng rng(kSeedsPrngSeed);
  const uint32_t kFragment = 64 * 1024;
  std::vector<Seed> seeds;
  seeds.push_back(make_seed("empty-2x64k", 0, {}, 0, rng));
  seeds.push_back(make_seed("empty-default-patch", 3 | kModePatchCrcs, {}, 0, rng));
  seeds.push_back(make_seed("three-chunks-2x64k", kModePatchCrcs, {4096, 1000, 8192}, 0, rng));
  seeds.push_back(make_seed("three-chunks-as-is", 0, {4096, 1000, 8192}, 0, rng));
  // A chunk that does not fit the end of fragment 0 starts fragment 1.
  seeds.push_back(make_seed("boundary-4x64k", 1 | kModePatchCrcs,
                            {kFragment - 100, 200, kFragment, 7, 4096}, 0, rng));
  seeds.push_back(make_seed("largest-chunk-1x64k", 2 | kModePatchCrcs, {kFragment}, 0, rng));
  std::vector<uint32_t> tiny(40);
  for (size_t i = 0; i < tiny.size(); ++i) tiny[i] = static_cast<uint32_t>(1 + i % 5);
  seeds.push_back(make_seed("forty-tiny-4x64k", 1 | kModePatchCrcs, tiny, 0, rng));
  seeds.push_back(make_seed("with-padding-before", kModePatchCrcs, {300, 5000}, 256, rng));
  seeds.push_back(make_seed("default-geometry", 3 | kModePatchCrcs,
                            {4096, 4096, 2000, 65536, 12345, 1}, 0, rng));
  seeds.push_back(make_seed("other-id", kModeOtherId | kModePatchCrcs, {4096, 77}, 0, rng));
  return seeds;
}

int run(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const std::vector<Seed> seeds = make_seeds();
  size_t total_bytes = 0;
  for (size_t i = 0; i < seeds.size(); ++i) {
    const std::vector<uint8_t>& bytes = seeds[i].bytes;
    // Two-digit index prefix keeps `ls` in generation order.
    const std::string prefix = (i < 10 ? "0" : "") + std::to_string(i) + "-";
    const std::filesystem::path path = dir / (prefix + seeds[i].name);
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    if (!file.good()) {
      std::fprintf(stderr, "make_container_footer_seeds: cannot write %s\n", path.c_str());
      return 1;
    }
    total_bytes += bytes.size();
  }
  std::printf("wrote %zu seeds, %zu bytes, to %s\n", seeds.size(), total_bytes, dir.c_str());
  return 0;
}

}  // namespace
}  // namespace splitarray::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  return splitarray::fuzz::run(argv[1]);
}
