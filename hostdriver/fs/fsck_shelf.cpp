// hostdriver/fs/fsck_shelf.cpp
// The consistency check (fsck.h), its second half: the shelf. Given every chunk reference the
// walk collected (fsck.cpp), it reads each referenced container's stripe and re-encodes its
// parity, looks every referenced fp up in the index, then lists every disk's fragments and
// classifies each container found: referenced or not, and problems (a) to (e) (with
// fsck_leaks.cpp for (e)).
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/endian.h"
#include "hostdriver/blockstore/destager.h"
#include "hostdriver/container/container.h"
#include "hostdriver/ec/erasure_code.h"
#include "hostdriver/fs/file_system_impl.h"
#include "hostdriver/fs/fsck_walk.h"
#include "protocol/fragment_header.h"

namespace splitarray::hostdriver::fs {
namespace {

constexpr size_t kIndexLookupBatch = 4096;  // fps per index lookup request
// Fragments per listing request. The merge holds one page per disk at a time.
constexpr uint32_t kListPageFragments = 1024;
static_assert(kListPageFragments <= protocol::kFragmentListMax);
// Container ids: host id, then the host's counter (blockstore/destager.h).
constexpr uint32_t kContainerIdBits =
    blockstore::kHostIdBitsInContainerId + blockstore::kContainerCounterBits;
static_assert(kContainerIdBits < 64);
constexpr uint64_t kCounterMask = (uint64_t{1} << blockstore::kContainerCounterBits) - 1;

std::string container_name(uint64_t container) { return "container " + std::to_string(container); }

// --- the referenced containers' stripes ---------------------------------------------------------

// The footer's trailer (the end of data fragment k-1) must name this container and geometry.
void check_trailer(FsckWalk& walk, const container::ContainerGeometry& geometry, uint64_t container,
                   const std::vector<uint8_t>& last_data) {
  ASSERT(last_data.size() >= container::kTrailerBytes);
  const std::span<const uint8_t> tail =
      std::span<const uint8_t>(last_data).last(container::kTrailerBytes);
  auto trailer = container::parse_trailer(geometry, ContainerId(container), tail);
  if (!trailer.ok()) walk.inconsistent_container(container, trailer.error().to_string());
}

// One container: every fragment's identity and CRC, parity re-encoded from the data, trailer.
Task<Result<void>> check_stripe(FileSystemImpl& impl, FsckWalk& walk, uint64_t container,
                                protocol::ShelfClient& client) {
  const blockstore::BlockStoreConfig& config = impl.store().config();
  const int k = static_cast<int>(config.geometry.data_fragments);
  const int m = static_cast<int>(config.parity_fragments);
  const std::string where = container_name(container);
  auto placement = impl.store().placement(ContainerId(container));
  if (!placement.ok()) co_return placement.error();
  std::vector<std::vector<uint8_t>> payloads(static_cast<size_t>(k + m));
  bool complete = true;
  for (int i = 0; i < k + m; ++i) {
    const protocol::FragmentIdValue id{container, static_cast<uint8_t>(i),
                                       blockstore::kFragmentGeneration};
    auto bytes = co_await client.fragment_read((*placement)[size_t(i)], id, 0, 0);
    ++walk.report.fragments;
    if (!bytes.ok()) {
      walk.problem(where + " fragment " + std::to_string(i) + ": " + bytes.error().to_string());
      complete = false;
      continue;
    }
    auto header = protocol::verify_fragment(*bytes);
    if (!header.ok() || header->id.container.value() != container || header->id.index != i) {
      walk.problem(where + " fragment " + std::to_string(i) + ": bad header, identity or CRC");
      complete = false;
      continue;
    }
    payloads[size_t(i)].assign(bytes->begin() + protocol::kFragmentHeaderSize, bytes->end());
  }
  if (!complete) co_return ok_result();
  const size_t length = payloads[0].size();
  for (const auto& payload : payloads) {
    if (payload.size() != length) {
      walk.inconsistent_container(container, "fragments of different lengths");
      co_return ok_result();
    }
  }
  if (length != config.geometry.fragment_payload_bytes) {
    walk.inconsistent_container(container,
                                "fragments of " + std::to_string(length) +
                                    " payload bytes, the datastore's hold " +
                                    std::to_string(config.geometry.fragment_payload_bytes));
    co_return ok_result();
  }
  check_trailer(walk, config.geometry, container, payloads[size_t(k - 1)]);
  auto code = ec::ErasureCode::create(k, m);
  if (!code.ok()) co_return code.error();
  std::vector<std::span<const uint8_t>> data;
  for (int i = 0; i < k; ++i) data.emplace_back(payloads[size_t(i)]);
  std::vector<std::vector<uint8_t>> parity(static_cast<size_t>(m), std::vector<uint8_t>(length));
  std::vector<std::span<uint8_t>> parity_out;
  for (auto& p : parity) parity_out.emplace_back(p);
  code->encode(data, parity_out);
  for (int j = 0; j < m; ++j) {
    if (parity[size_t(j)] != payloads[size_t(k + j)]) {
      walk.problem(where + ": parity fragment " + std::to_string(k + j) +
                   " differs from the parity of its data");
    }
  }
  co_return ok_result();
}

// The shelf's fingerprint index is derived data, but the write path trusts it for dedup: after a
// destage every referenced fp must be in it (inserts follow durable stripes).
Task<Result<void>> check_index(FsckWalk& walk, protocol::ShelfClient& client) {
  std::vector<protocol::Fingerprint> fps;
  for (const auto& [location, chunk] : walk.locations) fps.push_back(chunk.fp);
  std::sort(fps.begin(), fps.end());
  fps.erase(std::unique(fps.begin(), fps.end()), fps.end());
  for (size_t at = 0; at < fps.size(); at += kIndexLookupBatch) {
    const size_t n = std::min(kIndexLookupBatch, fps.size() - at);
    std::vector<protocol::Fingerprint> batch(fps.begin() + static_cast<ptrdiff_t>(at),
                                             fps.begin() + static_cast<ptrdiff_t>(at + n));
    auto found = co_await client.index_lookup(batch);
    if (!found.ok()) co_return found.error();
    walk.report.index_lookups += n;
    for (size_t i = 0; i < n; ++i) {
      if (!found->found[i]) walk.problem("a referenced fingerprint is missing from the index");
    }
  }
  co_return ok_result();
}

// --- the listing ------------------------------------------------------------------------------

// One fragment as a disk listed it.
struct Listed {
  DiskIndex disk;
  uint8_t index = 0;
  uint32_t generation = 0;
  uint32_t payload_length = 0;
};

// One disk's listing: the page being merged and where the next page starts.
struct DiskListing {
  DiskIndex disk;
  std::vector<protocol::ListedFragmentValue> page;
  size_t at = 0;
  std::optional<protocol::FragmentCursor> next = protocol::FragmentCursor{};  // none: all listed
  const protocol::ListedFragmentValue* head() const {
    return at < page.size() ? &page[at] : nullptr;
  }
};

// Makes `listing` show its next fragment, unless it is listed to the end. A disk that fails while
// it is listed is skipped from there on: what it holds is unreadable now.
Task<Result<void>> refill(DiskListing& listing, protocol::ShelfClient& client, FsckWalk& walk) {
  while (listing.at == listing.page.size() && listing.next) {
    auto page = co_await client.fragment_list(listing.disk, *listing.next, kListPageFragments);
    listing.page.clear();
    listing.at = 0;
    if (!page.ok()) {
      if (page.code() != Code::kUnavailable) co_return page.error();
      ++walk.report.disks_skipped;
      listing.next.reset();
      break;
    }
    listing.page = std::move(page->fragments);
    if (page->end) {
      listing.next.reset();
      ++walk.report.disks_listed;
    } else {
      listing.next = page->next;
    }
  }
  co_return ok_result();
}

// Check (b): whether a container id was ever handed out. Every host's high-water mark is read
// at most once, plus once more for each id at or above it (the mark only grows, and other hosts
// may reserve while the listing runs: the re-read comes after the container was listed).
class Allocation final {
 public:
  explicit Allocation(protocol::ShelfClient& client) : client_(client) {}
  Allocation(const Allocation&) = delete;
  Allocation& operator=(const Allocation&) = delete;

  // Why `container`'s id was never allocated; empty when it was.
  Task<Result<std::string>> check(uint64_t container) {
    if ((container >> kContainerIdBits) != 0) {
      co_return std::string("its id does not fit the host and counter bits of container ids");
    }
    const uint64_t host = container >> blockstore::kContainerCounterBits;
    const uint64_t counter = container & kCounterMask;
    if (counter == 0) co_return std::string("its counter is 0, which no host allocates");
    auto known = high_water_.find(host);
    if (known != high_water_.end() && counter < known->second) co_return std::string();
    auto mark = co_await read_high_water(host);
    if (!mark.ok()) co_return mark.error();
    high_water_[host] = *mark;
    if (counter < *mark) co_return std::string();
    if (*mark == 0) co_return "host " + std::to_string(host) + " never reserved container ids";
    co_return "its counter " + std::to_string(counter) + " is at or above host " +
        std::to_string(host) + "'s container-id high-water mark " + std::to_string(*mark);
  }

 private:
  // 0: the host never reserved ids (counters start at 1).
  Task<Result<uint64_t>> read_high_water(uint64_t host) {
    const std::string name =
        blockstore::container_ids_register(HostId(static_cast<uint32_t>(host)));
    auto value = co_await client_.register_get(name);
    if (!value.ok()) co_return value.error();
    if (!value->exists) co_return uint64_t{0};
    if (value->value.size() != sizeof(uint64_t)) {
      co_return make_error(Code::kCorruption, "register " + name + " is not 8 bytes");
    }
    co_return get_u64(value->value, 0);
  }

  protocol::ShelfClient& client_;
  std::map<uint64_t, uint64_t> high_water_;  // host -> first counter never handed out
};

// Checks (c) and (d) that hold for any datastore's containers: one fragment per index, one
// generation (the one readers ask for), one payload length. One problem per kind per container.
void check_agreement(FsckWalk& walk, uint64_t container, const std::vector<Listed>& fragments) {
  ASSERT(!fragments.empty());
  std::map<uint8_t, DiskIndex> disk_of;
  for (const Listed& f : fragments) {
    auto [it, inserted] = disk_of.emplace(f.index, f.disk);
    if (inserted) continue;
    ++walk.report.containers_duplicated;
    walk.problem(container_name(container) + ": fragment " + std::to_string(f.index) +
                 " is stored on disk " + std::to_string(it->second.value()) + " and on disk " +
                 std::to_string(f.disk.value()) + ": two stripes claim the id");
    break;
  }
  const Listed& first = fragments.front();
  for (const Listed& f : fragments) {
    const std::string name =
        "fragment " + std::to_string(f.index) + " on disk " + std::to_string(f.disk.value());
    if (f.generation != blockstore::kFragmentGeneration) {
      walk.inconsistent_container(container, name + " has generation " +
                                                 std::to_string(f.generation) + ", readers ask " +
                                                 std::to_string(blockstore::kFragmentGeneration));
      return;
    }
    if (f.payload_length != first.payload_length) {
      walk.inconsistent_container(container, name + " holds " + std::to_string(f.payload_length) +
                                                 " payload bytes, fragment " +
                                                 std::to_string(first.index) + " holds " +
                                                 std::to_string(first.payload_length));
      return;
    }
  }
}

// Checks (c) and (a) for a referenced container, whose geometry and placement are this
// datastore's. `fragments` may be empty (nothing listed).
Result<void> check_referenced(FileSystemImpl& impl, FsckWalk& walk, uint64_t container,
                              const std::vector<Listed>& fragments) {
  const blockstore::BlockStoreConfig& config = impl.store().config();
  const uint32_t k = config.geometry.data_fragments;
  const uint32_t width = k + config.parity_fragments;
  ASSIGN_OR_RETURN(const std::vector<DiskIndex> placement,
                   impl.store().placement(ContainerId(container)));
  ASSERT(placement.size() == width);
  uint32_t readable = 0;
  std::string wrong;
  for (const Listed& f : fragments) {
    const std::string name = "fragment " + std::to_string(f.index);
    if (f.index >= width) {
      if (wrong.empty()) wrong = name + " is outside its stripe of " + std::to_string(width);
    } else if (placement[f.index] != f.disk) {
      if (wrong.empty()) {
        wrong = name + " is on disk " + std::to_string(f.disk.value()) +
                ", its placement is disk " + std::to_string(placement[f.index].value());
      }
    } else if (f.payload_length != config.geometry.fragment_payload_bytes) {
      if (wrong.empty()) {
        wrong = name + " holds " + std::to_string(f.payload_length) +
                " payload bytes, the datastore's fragments " +
                std::to_string(config.geometry.fragment_payload_bytes);
      }
    } else if (f.generation == blockstore::kFragmentGeneration) {
      ++readable;  // on its own placement disk: at most one per index
    }
  }
  ASSERT(readable <= width);
  if (!wrong.empty()) walk.inconsistent_container(container, wrong);
  if (readable < k) {
    ++walk.report.containers_unreadable;
    walk.problem(container_name(container) + ": unreadable: referenced, but only " +
                 std::to_string(readable) + " of its " + std::to_string(width) +
                 " fragments are on the shelf where its " + "placement puts them; " +
                 std::to_string(k) + " are needed to read it");
  }
  return ok_result();
}

// Every check of one container id found on the disks.
Task<Result<void>> check_listed(FileSystemImpl& impl, FsckWalk& walk, Allocation& allocation,
                                protocol::ShelfClient& client, uint64_t container,
                                const std::vector<Listed>& fragments, bool referenced) {
  ASSERT(!fragments.empty());
  ++walk.report.containers_on_shelf;
  walk.report.fragments_on_shelf += fragments.size();
  uint64_t bytes_on_disks = 0;
  for (const Listed& f : fragments) bytes_on_disks += f.payload_length;
  if (!referenced) {
    ++walk.report.containers_unreferenced;
    walk.report.unreferenced_bytes += bytes_on_disks;
  }
  auto unallocated = co_await allocation.check(container);
  if (!unallocated.ok()) co_return unallocated.error();
  if (!unallocated->empty()) {
    ++walk.report.containers_unallocated;
    walk.problem(container_name(container) +
                 " is on disks but was never allocated: " + *unallocated);
  }
  check_agreement(walk, container, fragments);
  if (referenced) {
    CO_RETURN_IF_ERROR(check_referenced(impl, walk, container, fragments));
  } else if (unallocated->empty() && !walk.inconsistent.contains(container)) {
    // (e): a container already reported is not judged again.
    CO_RETURN_IF_ERROR(co_await check_unreferenced(impl, walk, client, container, bytes_on_disks));
  }
  co_return ok_result();
}

// The smallest container id at the head of any disk's listing; none when all are listed.
std::optional<uint64_t> next_container(const std::vector<DiskListing>& disks) {
  std::optional<uint64_t> smallest;
  for (const DiskListing& d : disks) {
    const protocol::ListedFragmentValue* head = d.head();
    if (head != nullptr && (!smallest || head->id.container_id < *smallest)) {
      smallest = head->id.container_id;
    }
  }
  return smallest;
}

// Lists every disk that is not failed, merging the listings by container id (each disk lists in
// id order), and checks each container as it completes. `referenced` is sorted, so a referenced
// container no disk lists is found between two listed ones.
Task<Result<void>> check_listing(FileSystemImpl& impl, FsckWalk& walk,
                                 protocol::ShelfClient& client,
                                 const std::set<uint64_t>& referenced) {
  auto status = co_await client.status();
  if (!status.ok()) co_return status.error();
  std::vector<DiskListing> disks;
  for (const protocol::DiskInfoValue& info : status->disks) {
    if (info.state == protocol::DiskStateValue::kFailed) {
      ++walk.report.disks_skipped;
      continue;
    }
    disks.emplace_back();
    disks.back().disk = DiskIndex(info.index);
  }
  Allocation allocation(client);
  const std::vector<Listed> none;
  std::vector<Listed> fragments;
  auto next_referenced = referenced.begin();
  while (true) {
    for (DiskListing& d : disks) CO_RETURN_IF_ERROR(co_await refill(d, client, walk));
    const std::optional<uint64_t> container = next_container(disks);
    if (!container) break;
    fragments.clear();
    for (DiskListing& d : disks) {
      while (d.head() != nullptr && d.head()->id.container_id == *container) {
        const protocol::ListedFragmentValue& head = *d.head();
        Listed listed;
        listed.disk = d.disk;
        listed.index = head.id.index;
        listed.generation = head.id.generation;
        listed.payload_length = head.payload_length;
        fragments.push_back(listed);
        ++d.at;
        CO_RETURN_IF_ERROR(co_await refill(d, client, walk));
      }
    }
    for (; next_referenced != referenced.end() && *next_referenced < *container;
         ++next_referenced) {
      CO_RETURN_IF_ERROR(check_referenced(impl, walk, *next_referenced, none));
    }
    const bool is_referenced =
        next_referenced != referenced.end() && *next_referenced == *container;
    if (is_referenced) ++next_referenced;
    CO_RETURN_IF_ERROR(co_await check_listed(impl, walk, allocation, client, *container, fragments,
                                             is_referenced));
  }
  for (; next_referenced != referenced.end(); ++next_referenced) {
    CO_RETURN_IF_ERROR(check_referenced(impl, walk, *next_referenced, none));
  }
  co_return ok_result();
}

}  // namespace

Task<Result<void>> check_shelf(FileSystemImpl& impl, FsckWalk& walk, const FsckOptions& options) {
  const uint64_t payload_bytes = impl.store().config().geometry.payload_bytes();
  std::set<uint64_t> referenced;
  for (const auto& [location, chunk] : walk.locations) {
    referenced.insert(location.first);
    if (location.second + uint64_t{chunk.length} > payload_bytes) {
      walk.problem(container_name(location.first) + ": offset " + std::to_string(location.second) +
                   " length " + std::to_string(chunk.length) + " outside its payload");
    }
  }
  walk.report.containers = referenced.size();
  // Both need every referenced container on disk: fsck destaged (only) for check_fragments.
  if (!options.check_fragments) co_return ok_result();
  auto client = co_await protocol::ShelfClient::connect(impl.env(), impl.store().config().shelf);
  if (!client.ok()) co_return client.error();
  Result<void> result = ok_result();
  for (uint64_t container : referenced) {
    result = co_await check_stripe(impl, walk, container, **client);
    if (!result.ok()) break;
  }
  if (result.ok()) result = co_await check_index(walk, **client);
  if (result.ok() && options.check_listing) {
    result = co_await check_listing(impl, walk, **client, referenced);
  }
  co_await (*client)->close();
  co_return result;
}

}  // namespace splitarray::hostdriver::fs
