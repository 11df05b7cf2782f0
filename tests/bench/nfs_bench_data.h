// tests/bench/nfs_bench_data.h
// The bytes nfs_bench writes: the same for every server, neither zeros nor trivially dedupable.
// Each 4 KiB block is a pure function of (seed, index): its first 3/8 are PRNG bytes (so no two
// blocks are equal and nothing dedups), the rest text-like lines from a few templates with varying
// numbers (so a block compresses: zstd-1 gives ~1.6x per 4 KiB block, a VM image ~2.25x).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace splitarray::bench::nfs {

inline constexpr size_t kBlockBytes = 4096;

// Fills `out` (kBlockBytes) with block `index` of the stream `seed`.
void fill_block(uint64_t seed, uint64_t index, std::span<uint8_t> out);

// Fills `out` (a multiple of kBlockBytes) with blocks first_index, first_index + 1, ...
void fill_blocks(uint64_t seed, uint64_t first_index, std::span<uint8_t> out);

// CRC32C of each `piece_bytes` piece of `data` (data.size() a multiple of piece_bytes).
std::vector<uint32_t> piece_crcs(std::span<const uint8_t> data, size_t piece_bytes);

}  // namespace splitarray::bench::nfs
