// tests/bench/datapath_data.h
// Data sets and compute limits for the datapath benchmark (datapath_bench.cpp).
//
// Data sets are generated from a seeded Prng, so a run is reproducible:
//   - "VM-like" compressible blocks (make_vm_like): each 4 KiB block starts with a 16-byte header
//     (magic, block number) that makes every block of the set distinct. 10% of the blocks are
//     otherwise random bytes (compressed files, media: ChunkCodec stores them raw); the others
//     are runs of 32-480 bytes chosen at random among
//       text     50%: lines drawn with a skew (u^3) from a fixed pool of 128 lines of 2-12 words
//                (a fixed 2048-word vocabulary of 2-10 random letters, words drawn with a u^3
//                skew), a quarter of the lines prefixed with a varying number: configuration
//                files, scripts, logs, man pages;
//       records  30%: 16-byte structs with a counter, a small-range field, flag bits, a constant
//                mode and zero padding: inode tables, ELF symbol tables, package databases;
//       zeros    20%: padding inside files and the zero tails of files' last blocks.
//     The mix is tuned so that zstd-1 on 4 KiB blocks gives ~2.3x, like the VM images FACTS.md
//     measured (~2.25x); the benchmark measures and prints the ratio of the set it made. Every
//     block is a pure function of (seed, block number).
//   - incompressible blocks: Prng bytes (make_random).
//
// Limits: the same compute the engine does per block, one thread, no I/O:
//   sha256      Fingerprinter (OpenSSL SHA-256) per block;
//   pipeline    SHA-256 + ChunkCodec (zstd-1, raw when saving < 1/8) packed into an 8 MiB payload
//               (k = 8 fragments of 1 MiB); every full payload: ErasureCode RS(8,2) encode and
//               CRC32C over each of the 10 fragments.
// Benchmarks may use threads and clocks directly (bench_report.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace splitarray::bench {

inline constexpr size_t kBlockBytes = 4096;

// Fills `out` (a multiple of kBlockBytes) with VM-like blocks numbered first_block, first_block+1,
// ... from `seed`. The same (seed, first_block) gives the same bytes.
void make_vm_like(uint64_t seed, uint64_t first_block, std::span<uint8_t> out);
// Fills `out` with incompressible Prng bytes.
void make_random(uint64_t seed, std::span<uint8_t> out);

struct LimitResult {
  double seconds = 0;      // wall time of the one thread
  double cpu_seconds = 0;  // its CPU time (less than seconds when the machine is busy)
  uint64_t bytes = 0;      // bytes processed by that thread
  double mbps_one = 0;     // 10^6 bytes per wall second on one thread
  double cpu_s_per_gb() const { return cpu_seconds / (static_cast<double>(bytes) / 1e9); }
  uint64_t stored_bytes = 0;  // pipeline only: chunk bytes after ChunkCodec
  uint32_t check = 0;         // folded from every digest and CRC, so none can be optimized out
};

// SHA-256 of the blocks of `data` (a multiple of kBlockBytes), cyclically, until min_seconds have
// passed, on the calling thread.
LimitResult sha256_limit(std::span<const uint8_t> data, double min_seconds);
// The whole per-block pipeline on the calling thread (see above), same repetition rule.
LimitResult pipeline_limit(std::span<const uint8_t> data, double min_seconds);

// zstd-1 ratio (block bytes / ChunkCodec bytes) of the blocks of `data`, one thread.
double chunk_compression_ratio(std::span<const uint8_t> data);

}  // namespace splitarray::bench
