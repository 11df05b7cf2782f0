// Tests for hostdriver/ec/placement.h: distinct disks, determinism, even spread (of fragments and
// of rebuild reads), and the movement guarantees when a disk is added or removed. Randomized
// parts print their seed and take SPLITARRAY_SEED.
#include "hostdriver/ec/placement.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "common/prng.h"
#include "tests/unit/hostdriver/ec/ec_test_util.h"

namespace splitarray::hostdriver::ec {
namespace {

using testing::test_seed;
using Placement = std::vector<DiskIndex>;

constexpr int kWidth = 10;  // RS(8,2), the default stripe
constexpr uint64_t kContainers = 100000;
constexpr uint16_t kDisks = 24;

std::vector<DiskIndex> disk_range(uint16_t first, uint16_t count) {
  std::vector<DiskIndex> disks;
  for (uint16_t i = 0; i < count; ++i) disks.push_back(DiskIndex(static_cast<uint16_t>(first + i)));
  return disks;
}

Placement place(uint64_t container, int width, std::span<const DiskIndex> disks) {
  Result<Placement> placement = place_stripe(ContainerId(container), width, disks);
  REQUIRE(placement.ok());
  REQUIRE(placement->size() == static_cast<size_t>(width));
  return std::move(placement).value();
}

std::set<DiskIndex> as_set(const Placement& placement) {
  return {placement.begin(), placement.end()};
}

// Largest relative deviation of any count from the mean.
double max_deviation(const std::vector<uint64_t>& counts) {
  double sum = 0;
  for (uint64_t count : counts) sum += static_cast<double>(count);
  const double mean = sum / static_cast<double>(counts.size());
  double worst = 0;
  for (uint64_t count : counts) {
    worst = std::max(worst, std::abs(static_cast<double>(count) - mean) / mean);
  }
  return worst;
}

TEST_CASE("hostdriver/ec: placement puts every fragment on a distinct usable disk") {
  Prng rng(test_seed());
  uint64_t bad = 0;
  uint64_t placements = 0;
  for (int width = 1; width <= kStripeWidthMax; ++width) {
    // A random set of width..width+30 disks with scattered indices (up to the top of the range).
    std::set<DiskIndex> chosen;
    const size_t count = static_cast<size_t>(width) + rng.below(31);
    while (chosen.size() < count) chosen.insert(DiskIndex(static_cast<uint16_t>(rng.below(65536))));
    const std::vector<DiskIndex> disks(chosen.begin(), chosen.end());
    for (uint64_t container = 0; container < 500; ++container) {
      const Placement placement = place(rng.next_u64(), width, disks);
      const std::set<DiskIndex> used = as_set(placement);
      const bool distinct = used.size() == placement.size();
      const bool usable = std::includes(chosen.begin(), chosen.end(), used.begin(), used.end());
      bad += distinct && usable ? 0 : 1;
      ++placements;
    }
  }
  CHECK(bad == 0);
  CHECK(placements == 500 * kStripeWidthMax);
}

TEST_CASE("hostdriver/ec: placement is deterministic and ignores the order of the disks") {
  Prng rng(test_seed());
  std::vector<DiskIndex> disks = disk_range(100, 30);
  std::vector<Placement> first;
  for (uint64_t container = 0; container < 2000; ++container) {
    first.push_back(place(container, kWidth, disks));
  }
  uint64_t differ = 0;
  for (int round = 0; round < 3; ++round) {
    for (size_t i = disks.size() - 1; i > 0; --i) std::swap(disks[i], disks[rng.below(i + 1)]);
    for (uint64_t container = 0; container < 2000; ++container) {
      differ += place(container, kWidth, disks) == first[container] ? 0 : 1;
    }
  }
  CHECK(differ == 0);
  // Pinned: placements are recomputed from (container, disks), so changing the hash or the
  // matching would move every stored fragment. Update only with a migration plan.
  const std::vector<DiskIndex> all = disk_range(0, kDisks);
  std::vector<uint16_t> golden;
  for (DiskIndex disk : place(1, kWidth, all)) golden.push_back(disk.value());
  CHECK(golden == std::vector<uint16_t>{9, 18, 2, 0, 8, 16, 22, 5, 10, 17});
}

TEST_CASE("hostdriver/ec: placement spreads fragments evenly over all disks") {
  const std::vector<DiskIndex> disks = disk_range(0, kDisks);
  std::vector<uint64_t> per_disk(kDisks);
  std::vector<uint64_t> per_disk_and_index(kDisks * kWidth);  // data vs parity load too
  for (uint64_t container = 0; container < kContainers; ++container) {
    const Placement placement = place(container, kWidth, disks);
    for (int index = 0; index < kWidth; ++index) {
      ++per_disk[placement[index].value()];
      ++per_disk_and_index[placement[index].value() * kWidth + index];
    }
  }
  const double disk_deviation = max_deviation(per_disk);
  const double cell_deviation = max_deviation(per_disk_and_index);
  MESSAGE("100k stripes of 10 over 24 disks: max deviation per disk "
          << disk_deviation * 100 << "%, per (disk, fragment index) " << cell_deviation * 100
          << "%");
  CHECK(disk_deviation < 0.10);
  CHECK(cell_deviation < 0.10);
}

TEST_CASE("hostdriver/ec: a failed disk's rebuild reads evenly from every surviving disk") {
  const std::vector<DiskIndex> disks = disk_range(0, kDisks);
  std::vector<Placement> placements;
  for (uint64_t container = 0; container < kContainers; ++container) {
    placements.push_back(place(container, kWidth, disks));
  }
  double worst = 0;
  for (uint16_t failed = 0; failed < kDisks; ++failed) {
    // Fragments a rebuild of `failed` can read, per surviving disk.
    std::vector<uint64_t> readable(kDisks);
    for (const Placement& placement : placements) {
      if (std::find(placement.begin(), placement.end(), DiskIndex(failed)) == placement.end()) {
        continue;
      }
      for (DiskIndex disk : placement) readable[disk.value()] += disk.value() != failed ? 1 : 0;
    }
    readable.erase(readable.begin() + failed);
    CHECK(std::count(readable.begin(), readable.end(), 0u) == 0);
    worst = std::max(worst, max_deviation(readable));
  }
  MESSAGE("rebuild sources per surviving disk: max deviation " << worst * 100 << "%");
  CHECK(worst < 0.10);
}

struct Movement {
  uint64_t changed_stripes = 0;
  uint64_t changed_slots = 0;
  uint64_t violations = 0;  // stripes that broke guarantee (4) of placement.h
};

// Compares placements before and after a disk set change. `joined` is the added disk (if any),
// `left` the removed one (if any).
Movement compare(const std::vector<Placement>& before, const std::vector<Placement>& after,
                 std::optional<DiskIndex> joined, std::optional<DiskIndex> left) {
  Movement movement;
  for (size_t c = 0; c < before.size(); ++c) {
    if (before[c] == after[c]) {
      const std::set<DiskIndex> used = as_set(after[c]);
      // Unchanged stripes must not use the new disk and must not have used the removed one.
      if ((joined && used.count(*joined)) || (left && used.count(*left))) ++movement.violations;
      continue;
    }
    ++movement.changed_stripes;
    for (size_t i = 0; i < before[c].size(); ++i)
      movement.changed_slots += before[c][i] != after[c][i];
    const std::set<DiskIndex> old_set = as_set(before[c]);
    const std::set<DiskIndex> new_set = as_set(after[c]);
    std::vector<DiskIndex> gone;
    std::vector<DiskIndex> came;
    std::set_difference(old_set.begin(), old_set.end(), new_set.begin(), new_set.end(),
                        std::back_inserter(gone));
    std::set_difference(new_set.begin(), new_set.end(), old_set.begin(), old_set.end(),
                        std::back_inserter(came));
    const bool one_swap = gone.size() == 1 && came.size() == 1;
    const bool right_disk =
        (!joined || (one_swap && came[0] == *joined)) && (!left || (one_swap && gone[0] == *left));
    movement.violations += one_swap && right_disk ? 0 : 1;
  }
  return movement;
}

std::vector<Placement> place_all(uint64_t containers, const std::vector<DiskIndex>& disks) {
  std::vector<Placement> placements;
  for (uint64_t container = 0; container < containers; ++container) {
    placements.push_back(place(container, kWidth, disks));
  }
  return placements;
}

TEST_CASE("hostdriver/ec: adding a disk moves only stripes that now use it, one disk each") {
  const std::vector<DiskIndex> before_disks = disk_range(0, kDisks);
  const std::vector<DiskIndex> after_disks = disk_range(0, kDisks + 1);
  const Movement movement = compare(place_all(kContainers, before_disks),
                                    place_all(kContainers, after_disks), DiskIndex(kDisks), {});
  const double changed = static_cast<double>(movement.changed_stripes) / kContainers;
  const double slots_per_stripe =
      static_cast<double>(movement.changed_slots) / static_cast<double>(movement.changed_stripes);
  MESSAGE("24 -> 25 disks: " << changed * 100 << "% of stripes changed (ideal 40%), "
                             << slots_per_stripe << " fragment indices moved per changed stripe"
                             << " (ideal 1)");
  CHECK(movement.violations == 0);
  CHECK(changed == doctest::Approx(kWidth / 25.0).epsilon(0.05));
  CHECK(slots_per_stripe < 1.25);
}

TEST_CASE("hostdriver/ec: removing a disk moves only stripes that used it, one disk each") {
  const std::vector<DiskIndex> before_disks = disk_range(0, kDisks);
  std::vector<DiskIndex> after_disks = before_disks;
  const DiskIndex removed(7);
  after_disks.erase(after_disks.begin() + 7);
  const Movement movement = compare(place_all(kContainers, before_disks),
                                    place_all(kContainers, after_disks), {}, removed);
  const double changed = static_cast<double>(movement.changed_stripes) / kContainers;
  const double slots_per_stripe =
      static_cast<double>(movement.changed_slots) / static_cast<double>(movement.changed_stripes);
  MESSAGE("24 -> 23 disks: " << changed * 100 << "% of stripes changed (ideal 41.7%), "
                             << slots_per_stripe << " fragment indices moved per changed stripe");
  CHECK(movement.violations == 0);
  CHECK(changed == doctest::Approx(kWidth / 24.0).epsilon(0.05));
  CHECK(slots_per_stripe < 1.25);
}

TEST_CASE("hostdriver/ec: random disk additions and removals keep the movement guarantees") {
  Prng rng(test_seed());
  std::set<DiskIndex> current;
  while (current.size() < 16) current.insert(DiskIndex(static_cast<uint16_t>(rng.below(200))));
  constexpr uint64_t kStripes = 3000;
  std::vector<Placement> before = place_all(kStripes, {current.begin(), current.end()});
  uint64_t violations = 0;
  for (int step = 0; step < 40; ++step) {
    std::optional<DiskIndex> joined;
    std::optional<DiskIndex> left;
    if (current.size() > static_cast<size_t>(kWidth) && rng.chance(0.5)) {
      auto it = current.begin();
      std::advance(it, static_cast<long>(rng.below(current.size())));
      left = *it;
      current.erase(it);
    } else {
      DiskIndex disk;
      do disk = DiskIndex(static_cast<uint16_t>(rng.below(200)));
      while (current.count(disk));
      joined = disk;
      current.insert(disk);
    }
    std::vector<Placement> after = place_all(kStripes, {current.begin(), current.end()});
    violations += compare(before, after, joined, left).violations;
    before = std::move(after);
  }
  CHECK(violations == 0);
}

TEST_CASE("hostdriver/ec: too few disks is kUnavailable, a malformed set kInvalidArgument") {
  const std::vector<DiskIndex> nine = disk_range(0, 9);
  const Result<Placement> short_set = place_stripe(ContainerId(5), kWidth, nine);
  REQUIRE_FALSE(short_set.ok());
  CHECK(short_set.code() == Code::kUnavailable);
  const Result<Placement> empty = place_stripe(ContainerId(5), kWidth, {});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.code() == Code::kUnavailable);
  // Exactly width disks: every disk holds one fragment of every stripe.
  const std::vector<DiskIndex> ten = disk_range(40, 10);
  for (uint64_t container = 0; container < 100; ++container) {
    const std::set<DiskIndex> used = as_set(place(container, kWidth, ten));
    CHECK(used == std::set<DiskIndex>(ten.begin(), ten.end()));
  }
  std::vector<DiskIndex> duplicated = disk_range(0, 12);
  duplicated.push_back(DiskIndex(3));
  const Result<Placement> twice = place_stripe(ContainerId(5), kWidth, duplicated);
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.code() == Code::kInvalidArgument);
  const std::vector<DiskIndex> too_many = disk_range(0, kPlacementDisksMax + 1);
  const Result<Placement> many = place_stripe(ContainerId(5), kWidth, too_many);
  REQUIRE_FALSE(many.ok());
  CHECK(many.code() == Code::kInvalidArgument);
  CHECK(place_stripe(ContainerId(5), kWidth, disk_range(0, kPlacementDisksMax)).ok());
}

}  // namespace
}  // namespace splitarray::hostdriver::ec
