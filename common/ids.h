// common/ids.h
// Strong types for identifiers (STYLE.md "Interfaces, values, ownership"): a HostId cannot be
// passed where a DiskIndex is expected. Values: they copy, compare and hash.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace splitarray {

template <class Tag, class Rep>
class StrongId {
 public:
  using rep_type = Rep;
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep value) : value_(value) {}
  constexpr Rep value() const { return value_; }
  friend constexpr auto operator<=>(StrongId, StrongId) = default;

 private:
  Rep value_{};
};

using ClusterId = StrongId<struct ClusterIdTag, uint64_t>;
using ShelfId = StrongId<struct ShelfIdTag, uint32_t>;
using HostId = StrongId<struct HostIdTag, uint32_t>;
using DiskIndex = StrongId<struct DiskIndexTag, uint16_t>;
using ContainerId = StrongId<struct ContainerIdTag, uint64_t>;
using RequestId = StrongId<struct RequestIdTag, uint64_t>;
// A file of a datastore (NFS file handles carry it, so it is stable across restarts).
using InodeId = StrongId<struct InodeIdTag, uint64_t>;
// Ownership epoch carried by every mutating request; the shelf rejects older ones (fencing).
using Epoch = StrongId<struct EpochTag, uint64_t>;

}  // namespace splitarray

template <class Tag, class Rep>
struct std::hash<splitarray::StrongId<Tag, Rep>> {
  size_t operator()(splitarray::StrongId<Tag, Rep> id) const noexcept {
    return std::hash<Rep>{}(id.value());
  }
};
