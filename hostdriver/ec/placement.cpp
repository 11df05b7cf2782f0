#include "hostdriver/ec/placement.h"

#include <algorithm>
#include <array>
#include <string>

#include "common/assert.h"

namespace splitarray::hostdriver::ec {
namespace {

// Salts so that the container mix and the (index, disk) mix are not the same function.
constexpr uint64_t kContainerSalt = 0x9e3779b97f4a7c15;
constexpr uint64_t kPairSalt = 0xd1b54a32d192ed03;
constexpr size_t kNoPosition = static_cast<size_t>(-1);

// A bijective 64-bit mix with full avalanche (splitmix64's finalizer, Stafford's variant 13).
constexpr uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9;
  x ^= x >> 27;
  x *= 0x94d049bb133111eb;
  x ^= x >> 31;
  return x;
}

uint64_t pair_weight(uint64_t container_mix, int fragment_index, DiskIndex disk) {
  const uint64_t pair = (uint64_t{disk.value()} << 8) | static_cast<uint64_t>(fragment_index);
  return mix64(container_mix ^ pair ^ kPairSalt);
}

struct Candidate {
  uint64_t weight = 0;
  DiskIndex disk;
  size_t position = kNoPosition;  // in the caller's span
};

// The order on (fragment index, disk) pairs: heavier weight first, then the higher disk index.
// (Equal weight and disk for two indices: the caller keeps the lower index.)
bool heavier(const Candidate& a, const Candidate& b) {
  if (a.weight != b.weight) return a.weight > b.weight;
  return a.disk > b.disk;
}

// The heaviest disk not yet used, for one fragment index.
Candidate best_free(uint64_t container_mix, int fragment_index, std::span<const DiskIndex> disks,
                    const std::vector<bool>& used) {
  Candidate best;
  for (size_t i = 0; i < disks.size(); ++i) {
    if (used[i]) continue;
    const Candidate candidate{.weight = pair_weight(container_mix, fragment_index, disks[i]),
                              .disk = disks[i],
                              .position = i};
    if (best.position == kNoPosition || heavier(candidate, best)) best = candidate;
  }
  ASSERT_MSG(best.position != kNoPosition, "fewer free disks than unplaced fragments");
  return best;
}

Result<void> check_disks(std::span<const DiskIndex> disks, int width) {
  if (disks.size() > kPlacementDisksMax) {
    return make_error(Code::kInvalidArgument, "placement: " + std::to_string(disks.size()) +
                                                  " disks, at most " +
                                                  std::to_string(kPlacementDisksMax));
  }
  std::vector<DiskIndex> sorted(disks.begin(), disks.end());
  std::sort(sorted.begin(), sorted.end());
  const auto duplicate = std::adjacent_find(sorted.begin(), sorted.end());
  if (duplicate != sorted.end()) {
    return make_error(Code::kInvalidArgument,
                      "placement: disk " + std::to_string(duplicate->value()) + " listed twice");
  }
  if (disks.size() < static_cast<size_t>(width)) {
    return make_error(Code::kUnavailable, "placement: " + std::to_string(disks.size()) +
                                              " usable disks for a stripe of " +
                                              std::to_string(width));
  }
  return ok_result();
}

bool all_distinct(std::vector<DiskIndex> placement) {
  std::sort(placement.begin(), placement.end());
  return std::adjacent_find(placement.begin(), placement.end()) == placement.end();
}

}  // namespace

uint64_t placement_weight(ContainerId container, int fragment_index, DiskIndex disk) {
  ASSERT(fragment_index >= 0);
  ASSERT(fragment_index < kStripeWidthMax);
  return pair_weight(mix64(container.value() ^ kContainerSalt), fragment_index, disk);
}

Result<std::vector<DiskIndex>> place_stripe(ContainerId container, int width,
                                            std::span<const DiskIndex> disks) {
  ASSERT(width >= 1);
  ASSERT(width <= kStripeWidthMax);
  static_assert(kStripeWidthMax <= 256, "fragment indices take the low 8 bits of a pair");
  RETURN_IF_ERROR(check_disks(disks, width));
  const uint64_t container_mix = mix64(container.value() ^ kContainerSalt);
  std::vector<bool> used(disks.size(), false);
  std::array<Candidate, kStripeWidthMax> best{};
  for (int index = 0; index < width; ++index) {
    best[index] = best_free(container_mix, index, disks, used);
  }
  // Greedy stable matching: repeatedly match the heaviest remaining (index, disk) pair. Each
  // unplaced index tracks its heaviest free disk; only the indices whose favourite was just
  // taken look again.
  std::vector<DiskIndex> placement(static_cast<size_t>(width));
  std::array<bool, kStripeWidthMax> placed{};
  for (int round = 0; round < width; ++round) {
    int chosen = -1;
    for (int index = 0; index < width; ++index) {
      if (placed[index]) continue;
      if (chosen < 0 || heavier(best[index], best[chosen])) chosen = index;
    }
    ASSERT(chosen >= 0);
    const size_t taken = best[chosen].position;
    placement[chosen] = best[chosen].disk;
    placed[chosen] = true;
    used[taken] = true;
    for (int index = 0; index < width; ++index) {
      if (!placed[index] && best[index].position == taken) {
        best[index] = best_free(container_mix, index, disks, used);
      }
    }
  }
  ASSERT_MSG(all_distinct(placement), "two fragments of a stripe on one disk");
  return placement;
}

}  // namespace splitarray::hostdriver::ec
