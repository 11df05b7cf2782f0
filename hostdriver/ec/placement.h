// hostdriver/ec/placement.h
// Declustered stripe placement (DESIGN.md §4, §13): which disk holds each fragment of a
// container's stripe. Every container gets its own pseudo-random choice of k+m distinct disks
// from all usable disks, so the fragments of the stripes that shared a failed disk are spread
// over every surviving disk and a rebuild reads from (and is as fast as) all of them.
//
// Method: rendezvous (highest-random-weight) hashing per slot. Each (container, fragment index,
// disk) triple has a 64-bit weight from a strong mix; the placement is the stable matching of
// fragment indices to disks when both sides rank by that weight, which is the greedy one: the
// heaviest (index, disk) pair is matched first, then the heaviest pair among what is left, and
// so on. Ties (equal weights, i.e. hash collisions) go to the higher disk index, then the lower
// fragment index, so the result depends only on the SET of disks, never on their order.
//
// Guarantees (tested in tests/unit/hostdriver/ec/placement_test.cpp):
//   (1) The width disks are distinct and all come from the given set.
//   (2) Deterministic: a pure function of (container, width, set of disks).
//   (3) Uniform: by symmetry every disk has the same chance of holding each fragment index;
//       for any one disk the other fragments of its stripes are spread evenly over the others.
//   (4) Adding a disk D changes only stripes whose new placement includes D; in each such stripe
//       exactly one old disk leaves (D replaces it) and the other width-1 disks stay in the
//       stripe. Removing a disk X changes only stripes that used X; exactly one new disk joins.
//       (Stable matchings: adding a disk makes no old disk better off, so no unused disk
//       enters; removing one makes no disk worse off, so no used disk leaves.)
//   (5) NOT guaranteed: that the surviving disks keep their fragment indices. The disk that D
//       displaces can take another index from a disk ranked below it, and so on. No pure function
//       of the disk set can avoid this with more disks than fragments; measured for RS(8,2) over
//       24 disks it costs ~1.1 changed indices per changed stripe (1.0 would be the minimum).
// Too few disks (fewer than width) is kUnavailable: a valid set that cannot hold a stripe now;
// more disks may come back. A malformed set (duplicates, more than kPlacementDisksMax) is
// kInvalidArgument. A width outside 1..kStripeWidthMax is a bug (ASSERT).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/ids.h"
#include "common/result.h"
#include "hostdriver/ec/erasure_code.h"

namespace splitarray::hostdriver::ec {

// Disks a placement chooses from (all shelves together). Bounds the work per call at
// width * disks weights.
inline constexpr size_t kPlacementDisksMax = 4096;

// The weight of putting fragment `fragment_index` of `container` on `disk`. Exposed for tests;
// part of the on-disk format if placements are recomputed, so never change it casually.
uint64_t placement_weight(ContainerId container, int fragment_index, DiskIndex disk);

// The disk for each fragment index 0..width-1 of `container`'s stripe, chosen from `disks` (any
// order). See the guarantees above.
Result<std::vector<DiskIndex>> place_stripe(ContainerId container, int width,
                                            std::span<const DiskIndex> disks);

}  // namespace splitarray::hostdriver::ec
