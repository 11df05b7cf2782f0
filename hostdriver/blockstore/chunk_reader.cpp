// hostdriver/blockstore/chunk_reader.cpp
#include "hostdriver/blockstore/chunk_reader.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "hostdriver/container/container.h"
#include "protocol/fragment_header.h"

namespace splitarray::hostdriver::blockstore {
namespace {

std::string describe(const ChunkLocation& location) {
  return "container " + std::to_string(location.container_id) + " offset " +
         std::to_string(location.offset) + " length " + std::to_string(location.length);
}

}  // namespace

ChunkReader::ChunkReader(Env& env, const BlockStoreConfig& config, ShelfLink& link,
                         Destager& destager, Workers& workers, ReadCache& cache)
    : env_(env),
      config_(config),
      link_(link),
      destager_(destager),
      workers_(workers),
      cache_(cache),
      k_(static_cast<int>(config.geometry.data_fragments)),
      width_(static_cast<int>(config.geometry.data_fragments + config.parity_fragments)) {}

ChunkReader::~ChunkReader() { ASSERT(background_.live() == 0); }

Task<void> ChunkReader::stop() { co_await background_.join(); }

Result<void> ChunkReader::decode_with(Worker& worker, uint32_t block_size, const BlockRef& ref,
                                      std::span<const uint8_t> stored, std::span<uint8_t> out) {
  ASSERT(out.size() == block_size);
  const chunk::Encoding encoding =
      stored.size() == block_size ? chunk::Encoding::kRaw : chunk::Encoding::kZstd;
  RETURN_IF_ERROR(worker.codec.decompress(encoding, stored, block_size, out));
  if (worker.fingerprinter.fingerprint(out) != ref.fp) {
    return make_error(Code::kCorruption,
                      "chunk at " + describe(ref.location) + " does not match its fingerprint");
  }
  return ok_result();
}

Result<void> ChunkReader::decode_and_verify(const BlockRef& ref, std::span<const uint8_t> stored,
                                            std::span<uint8_t> out) {
  return decode_with(workers_.inline_worker(), config_.block_size, ref, stored, out);
}

Task<Result<void>> ChunkReader::read(const BlockRef& ref, std::span<uint8_t> out) {
  if (cache_.lookup(ref.location, out)) {
    ++stats_.cache_hits;
    co_return ok_result();
  }
  if (auto staged = destager_.staged(ref.location)) {
    ++stats_.staged_hits;
    // Bytes we packed ourselves: a mismatch here is a bug, not damage.
    auto decoded = decode_and_verify(ref, *staged, out);
    ASSERT_MSG(decoded.ok(), "a staged chunk failed to decode");
    co_return ok_result();
  }
  int suspect = -1;  // a fragment whose bytes passed the shelf's CRC but not our fp check
  auto stored = co_await read_range(ref);
  if (stored.ok()) {
    auto decoded = decode_and_verify(ref, *stored, out);
    if (decoded.ok()) {
      cache_.insert(ref.location, out);
      co_return ok_result();
    }
    env_.log.warn("read: " + decoded.error().message + "; reading degraded");
    // The shelf's checks passed but the bytes are wrong: do not trust this fragment.
    suspect = static_cast<int>(placed_index(ref));
  } else if (stored.code() == Code::kTimeout ||
             (stored.code() == Code::kUnavailable && link_.closed())) {
    co_return stored.error();
  } else {
    env_.log.warn("read of " + describe(ref.location) + ": " + stored.error().to_string() +
                  "; reading degraded");
  }
  ++stats_.degraded_reads;
  auto degraded = co_await read_degraded(ref, suspect, out);
  if (!degraded.ok()) {
    if (degraded.code() == Code::kCorruption) ++stats_.unrecoverable;
    co_return degraded.error();
  }
  cache_.insert(ref.location, out);
  co_return ok_result();
}

Task<Result<std::vector<uint8_t>>> ChunkReader::fragment_read(protocol::ShelfClient& client,
                                                              DiskIndex disk,
                                                              protocol::FragmentIdValue id,
                                                              uint32_t offset, uint32_t length) {
  // At most kFragmentReadsInflightMax at once (the shelf answers kBusy past its own limits);
  // kBusy from the shelf is backpressure, never damage: wait and ask again.
  while (reads_inflight_ >= kFragmentReadsInflightMax) co_await read_slot_.wait();
  ++reads_inflight_;
  Result<std::vector<uint8_t>> bytes = make_error(Code::kBusy, "not sent");
  for (int busy = 0;; ++busy) {
    bytes = co_await client.fragment_read(disk, id, offset, length);
    if (bytes.ok() || bytes.code() != Code::kBusy || client.rpc().broken()) break;
    ++stats_.busy_retries;
    co_await sleep_for(env_.clock, kBusyReadRetryDelay);
  }
  --reads_inflight_;
  read_slot_.notify_all();
  co_return bytes;
}

Task<Result<std::vector<uint8_t>>> ChunkReader::read_range(const BlockRef& ref) {
  auto placed =
      container::locate_checked(config_.geometry, ref.location.offset, ref.location.length);
  if (!placed.ok()) co_return placed.error();
  co_return co_await read_placed(ref.location.container_id, placed->fragment_index,
                                 placed->offset_in_fragment, placed->length);
}

Task<Result<std::vector<uint8_t>>> ChunkReader::read_placed(uint64_t container,
                                                            uint32_t fragment_index,
                                                            uint32_t offset_in_fragment,
                                                            uint32_t length) {
  auto disks = destager_.placement(ContainerId(container));
  if (!disks.ok()) co_return disks.error();
  ASSERT(fragment_index < disks->size());
  const protocol::FragmentIdValue id{container, static_cast<uint8_t>(fragment_index),
                                     kFragmentGeneration};
  const DiskIndex disk = (*disks)[fragment_index];
  for (int attempt = 1;; ++attempt) {
    auto client = co_await link_.client();
    if (!client.ok()) co_return client.error();
    ++stats_.range_reads;
    auto bytes = co_await fragment_read(**client, disk, id, offset_in_fragment, length);
    if (bytes.ok()) {
      if (bytes->size() != length) co_return make_error(Code::kCorruption, "short fragment read");
      co_return std::move(bytes).value();
    }
    const bool broken = (*client)->rpc().broken() || bytes.code() == Code::kTimeout;
    link_.reset_if_broken(bytes.error());
    if (!broken) co_return bytes.error();  // the shelf's answer about the fragment or disk
    if (attempt >= kReadAttemptsMax) co_return bytes.error();
  }
}

uint32_t ChunkReader::placed_index(const BlockRef& ref) const {
  return container::locate(config_.geometry, ref.location.offset, ref.location.length)
      .fragment_index;
}

Task<Result<void>> ChunkReader::read_degraded(const BlockRef& ref, int suspect,
                                              std::span<uint8_t> out) {
  const uint64_t container = ref.location.container_id;
  std::shared_ptr<Reconstruction> r;
  for (const auto& existing : reconstructions_) {
    if (existing->container == container && existing->suspect == suspect) r = existing;
  }
  if (r == nullptr) {
    r = std::make_shared<Reconstruction>();
    r->container = container;
    r->suspect = suspect;
    reconstructions_.push_back(r);
    background_.spawn(env_.executor(), reconstruct(r));
  }
  while (!r->done) co_await r->finished.wait();
  if (!r->outcome.ok()) co_return r->outcome;
  auto placed =
      container::locate_checked(config_.geometry, ref.location.offset, ref.location.length);
  if (!placed.ok()) co_return placed.error();
  const std::vector<uint8_t>& payload = r->payloads[placed->fragment_index];
  ASSERT(payload.size() == config_.geometry.fragment_payload_bytes);
  auto stored =
      std::span<const uint8_t>(payload).subspan(placed->offset_in_fragment, placed->length);
  auto decoded = decode_and_verify(ref, stored, out);
  if (!decoded.ok()) {
    co_return make_error(Code::kCorruption,
                         "unrecoverable: " + decoded.error().message + " after reconstruction");
  }
  co_return ok_result();
}

Task<void> ChunkReader::reconstruct(std::shared_ptr<Reconstruction> r) {
  ++stats_.reconstructions;
  const uint32_t fragment_bytes = config_.geometry.fragment_payload_bytes;
  const auto width = static_cast<size_t>(width_);
  std::vector<Result<std::vector<uint8_t>>> fragments(width,
                                                      make_error(Code::kNotFound, "not read"));
  auto disks = destager_.placement(ContainerId(r->container));
  if (!disks.ok()) {
    r->outcome = disks.error();
  } else {
    // Read every fragment whole, in parallel, and check each one's CRC, identity and length.
    async::TaskGroup reads;
    bool connection_lost = false;
    auto one = [](ChunkReader* self, uint64_t container, int index, DiskIndex disk,
                  Result<std::vector<uint8_t>>* slot, bool* lost) -> Task<void> {
      const protocol::FragmentIdValue id{container, static_cast<uint8_t>(index),
                                         kFragmentGeneration};
      auto client = co_await self->link_.client();
      if (!client.ok()) {
        *slot = client.error();
        *lost = true;
        co_return;
      }
      auto bytes = co_await self->fragment_read(**client, disk, id, 0, 0);
      if (!bytes.ok()) {
        if ((*client)->rpc().broken() || bytes.code() == Code::kTimeout) *lost = true;
        self->link_.reset_if_broken(bytes.error());
        *slot = bytes.error();
        co_return;
      }
      auto header = protocol::verify_fragment(*bytes);
      const protocol::FragmentId expected{ContainerId(container), static_cast<uint8_t>(index),
                                          kFragmentGeneration};
      if (!header.ok()) {
        *slot = header.error();
      } else if (header->id != expected ||
                 header->payload_length != self->config_.geometry.fragment_payload_bytes) {
        *slot =
            make_error(Code::kCorruption, "fragment " + header->id.to_string() + " found where " +
                                              expected.to_string() + " belongs");
      } else {
        bytes->erase(bytes->begin(), bytes->begin() + protocol::kFragmentHeaderSize);
        *slot = std::move(bytes).value();
      }
    };
    for (size_t i = 0; i < width; ++i) {
      reads.spawn(env_.executor(), one(this, r->container, static_cast<int>(i), (*disks)[i],
                                       &fragments[i], &connection_lost));
    }
    co_await reads.join();
    std::vector<ec::PresentFragment> present;
    std::vector<int> missing;
    if (r->suspect >= 0 && fragments[static_cast<size_t>(r->suspect)].ok()) {
      fragments[static_cast<size_t>(r->suspect)] =
          make_error(Code::kCorruption, "passed its CRC but holds a chunk with the wrong fp");
    }
    for (size_t i = 0; i < width; ++i) {
      if (fragments[i].ok()) {
        present.push_back({static_cast<int>(i), *fragments[i]});
      } else {
        missing.push_back(static_cast<int>(i));
        env_.log.warn("degraded read: container " + std::to_string(r->container) + " fragment " +
                      std::to_string(i) + ": " + fragments[i].error().to_string());
      }
    }
    r->payloads.assign(width, {});
    std::vector<ec::WantedFragment> wanted;
    for (int index : missing) {
      r->payloads[static_cast<size_t>(index)].assign(fragment_bytes, 0);
      wanted.push_back({index, r->payloads[static_cast<size_t>(index)]});
    }
    Result<void> rebuilt = ok_result();
    if (!wanted.empty()) {
      rebuilt = workers_.inline_worker().erasure.reconstruct(present, wanted);
    }
    if (!rebuilt.ok() && connection_lost) {
      r->outcome = make_error(Code::kUnavailable, "shelf unreachable during a degraded read");
    } else if (!rebuilt.ok()) {
      r->outcome = make_error(Code::kCorruption, "container " + std::to_string(r->container) +
                                                     ": " + rebuilt.error().message);
    } else {
      for (size_t i = 0; i < width; ++i) {
        if (fragments[i].ok()) r->payloads[i] = std::move(fragments[i]).value();
      }
      // Repair what was bad on disks that can take a write (a failed disk answers
      // kUnavailable; its fragments are the rebuild's job).
      for (int index : missing) {
        const auto slot = static_cast<size_t>(index);
        if (fragments[slot].code() == Code::kUnavailable) continue;
        if (repairs_inflight_.size() >= kRepairsInflightMax) continue;  // a later read will
        // One repair per fragment at a time: reads that reconstructed while it was in flight
        // must not write it again after someone else changed the fragment.
        if (!repairs_inflight_.insert({r->container, index}).second) continue;
        background_.spawn(env_.executor(),
                          repair(r->container, index, (*disks)[slot], r->payloads[slot]));
      }
    }
  }
  r->done = true;
  // Readers already waiting share this result; later reads start afresh (by then the repair has
  // usually landed, and if not, a new reconstruction sees the stripe as it is now and repairs
  // what is bad now).
  std::erase(reconstructions_, r);
  r->finished.notify_all();
}

Task<void> ChunkReader::repair(uint64_t container, int index, DiskIndex disk,
                               std::vector<uint8_t> payload) {
  const protocol::FragmentId id{ContainerId(container), static_cast<uint8_t>(index),
                                kFragmentGeneration};
  std::vector<uint8_t> fragment = protocol::build_fragment(id, payload);
  const protocol::FragmentIdValue wire_id{container, static_cast<uint8_t>(index),
                                          kFragmentGeneration};
  auto client = co_await link_.client();
  // Another reconstruction may have repaired it meanwhile: write only what is still bad, so a
  // late repair never overwrites what changed since (a rewrite, a delete).
  bool still_bad = true;
  if (client.ok()) {
    auto now = co_await fragment_read(**client, disk, wire_id, 0, 0);
    if (now.ok()) {
      // Bad unless it is exactly what we reconstructed (a forged fragment passes its CRC).
      auto header = protocol::verify_fragment(*now);
      still_bad = !header.ok() || header->id != id ||
                  !std::equal(now->begin() + protocol::kFragmentHeaderSize, now->end(),
                              payload.begin(), payload.end());
    } else {
      link_.reset_if_broken(now.error());
      still_bad = now.code() == Code::kNotFound || now.code() == Code::kCorruption;
    }
  }
  if (client.ok() && still_bad) {
    auto written = co_await (*client)->fragment_write(config_.host, config_.epoch, disk, wire_id,
                                                      std::move(fragment));
    if (written.ok()) {
      ++stats_.repairs;
      env_.log.info("repaired container " + std::to_string(container) + " fragment " +
                    std::to_string(index) + " on disk " + std::to_string(disk.value()));
    } else {
      link_.reset_if_broken(written.error());
      env_.log.warn("repair of container " + std::to_string(container) + " fragment " +
                    std::to_string(index) + " failed: " + written.error().to_string());
    }
  }
  repairs_inflight_.erase({container, index});
}

}  // namespace splitarray::hostdriver::blockstore
