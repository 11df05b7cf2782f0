// hostdriver/fs/fsck_leaks.cpp
// The consistency check (fsck.h), check (e): is an unreferenced container garbage or leaked?
// Garbage is what overwrites, unlinks and superseded checkpoints leave: its chunks were indexed
// when it was destaged (the index only grows until space reclamation exists), so the index still
// names it and a later write may deduplicate against it. A leaked container is one nothing names
// at all: no reference of the checkpoint, no index entry. Nothing can ever read it again; only a
// sweep could free it. Destage makes this impossible for a finished stripe (index inserts follow
// durable fragments, and a crash before them replays the same container id from the NVRAM log and
// writes it again), so a leak is a bug: a write the destager does not account for.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "hostdriver/blockstore/destager.h"
#include "hostdriver/container/container.h"
#include "hostdriver/fs/file_system_impl.h"
#include "hostdriver/fs/fsck_walk.h"

namespace splitarray::hostdriver::fs {
namespace {

constexpr size_t kFooterLookupBatch = 4096;  // fps per index lookup request

// Payload bytes [from, P) of `container`, read fragment by fragment from its placement.
Task<Result<std::vector<uint8_t>>> read_payload_tail(protocol::ShelfClient& client,
                                                     const container::ContainerGeometry& geometry,
                                                     const std::vector<DiskIndex>& placement,
                                                     uint64_t container, uint64_t from) {
  const uint32_t fragment_bytes = geometry.fragment_payload_bytes;
  std::vector<uint8_t> tail;
  for (uint64_t at = from; at < geometry.payload_bytes();) {
    const uint32_t index = static_cast<uint32_t>(at / fragment_bytes);
    const uint32_t offset = static_cast<uint32_t>(at % fragment_bytes);
    ASSERT(index < placement.size());
    const protocol::FragmentIdValue id{container, static_cast<uint8_t>(index),
                                       blockstore::kFragmentGeneration};
    auto bytes =
        co_await client.fragment_read(placement[index], id, offset, fragment_bytes - offset);
    if (!bytes.ok()) co_return bytes.error();
    if (bytes->size() != fragment_bytes - offset) {
      co_return make_error(Code::kProtocol, "the shelf answered a short fragment range");
    }
    tail.insert(tail.end(), bytes->begin(), bytes->end());
    at += bytes->size();
  }
  co_return tail;
}

// A container's footer as read from the tails of its data fragments: first the trailer, then
// whatever more of the footer it says there is.
struct FooterRead {
  std::optional<container::Footer> footer;
  std::optional<Error> unreadable;  // a fragment read failed: missing, failed disk, bad CRC
  std::optional<Error> malformed;   // the bytes were read but are no footer of this container
};

Task<Result<FooterRead>> read_footer(FileSystemImpl& impl, protocol::ShelfClient& client,
                                     uint64_t container) {
  const container::ContainerGeometry& geometry = impl.store().config().geometry;
  ASSERT(geometry.fragment_payload_bytes >= container::kTrailerBytes);
  auto placement = impl.store().placement(ContainerId(container));
  if (!placement.ok()) co_return placement.error();
  FooterRead read;
  auto last = co_await read_payload_tail(client, geometry, *placement, container,
                                         geometry.payload_bytes() - container::kTrailerBytes);
  if (!last.ok()) {
    if (last.code() == Code::kProtocol) co_return last.error();
    read.unreadable = last.error();
    co_return read;
  }
  auto trailer = container::parse_trailer(geometry, ContainerId(container), *last);
  if (!trailer.ok()) {
    read.malformed = trailer.error();
    co_return read;
  }
  auto whole =
      co_await read_payload_tail(client, geometry, *placement, container, trailer->footer_offset());
  if (!whole.ok()) {
    if (whole.code() == Code::kProtocol) co_return whole.error();
    read.unreadable = whole.error();
    co_return read;
  }
  auto footer = container::parse_footer(geometry, ContainerId(container), *whole);
  if (!footer.ok()) {
    read.malformed = footer.error();
  } else {
    read.footer = std::move(footer).value();
  }
  co_return read;
}

// Whether some index entry for one of `footer`'s chunks names `container`.
Task<Result<bool>> indexed(protocol::ShelfClient& client, FsckWalk& walk, uint64_t container,
                           const container::Footer& footer) {
  for (size_t at = 0; at < footer.chunks.size(); at += kFooterLookupBatch) {
    const size_t n = std::min(kFooterLookupBatch, footer.chunks.size() - at);
    std::vector<protocol::Fingerprint> batch;
    batch.reserve(n);
    for (size_t i = at; i < at + n; ++i) batch.push_back(footer.chunks[i].fp);
    auto found = co_await client.index_lookup(std::move(batch));
    if (!found.ok()) co_return found.error();
    if (found->found.size() != n || found->locations.size() != n) {
      co_return make_error(Code::kProtocol, "the index answered a lookup of the wrong size");
    }
    walk.report.index_lookups += n;
    for (size_t i = 0; i < n; ++i) {
      if (found->found[i] && found->locations[i].container_id == container) co_return true;
    }
  }
  co_return false;
}

}  // namespace

Task<Result<void>> check_unreferenced(FileSystemImpl& impl, FsckWalk& walk,
                                      protocol::ShelfClient& client, uint64_t container,
                                      uint64_t bytes_on_disks) {
  const blockstore::BlockStoreConfig& config = impl.store().config();
  // Another host's container may be a stripe it is writing right now (indexed a moment later),
  // or belong to a datastore this checkpoint knows nothing of: fsck cannot judge it.
  if ((container >> blockstore::kContainerCounterBits) != config.host.value()) {
    ++walk.report.containers_not_judged;
    co_return ok_result();
  }
  auto read = co_await read_footer(impl, client, container);
  if (!read.ok()) co_return read.error();
  if (read->malformed) {
    walk.inconsistent_container(
        container, "unreferenced, and its footer is malformed: " + read->malformed->to_string());
    co_return ok_result();
  }
  // Nothing else reports a fragment of an unreferenced container that is missing or fails its
  // checks: only referenced containers must be readable. Counted, not judged.
  if (read->unreadable) {
    ++walk.report.containers_not_judged;
    co_return ok_result();
  }
  ASSERT(read->footer.has_value());
  const container::Footer& footer = *read->footer;
  auto named = co_await indexed(client, walk, container, footer);
  if (!named.ok()) co_return named.error();
  if (*named) co_return ok_result();  // garbage
  ++walk.report.containers_leaked;
  walk.report.leaked_bytes += bytes_on_disks;
  walk.problem("container " + std::to_string(container) + " is leaked: none of its " +
               std::to_string(footer.chunks.size()) +
               " chunks is referenced by the checkpoint or named by the index, so nothing can "
               "read its " +
               std::to_string(bytes_on_disks) + " bytes again");
  co_return ok_result();
}

}  // namespace splitarray::hostdriver::fs
