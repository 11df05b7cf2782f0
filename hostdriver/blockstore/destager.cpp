// hostdriver/blockstore/destager.cpp
#include "hostdriver/blockstore/destager.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/async/compute.h"
#include "common/endian.h"
#include "hostdriver/blockstore/stripe_fragments.h"
#include "hostdriver/ec/placement.h"
#include "protocol/fragment_header.h"

namespace splitarray::hostdriver::blockstore {
namespace {

container::ChunkEncoding encoding_of(size_t stored_bytes, uint32_t logical_bytes) {
  return stored_bytes == logical_bytes ? container::ChunkEncoding::kRaw
                                       : container::ChunkEncoding::kZstd;
}

}  // namespace

Destager::Destager(Env& env, const BlockStoreConfig& config, ShelfLink& link, Workers& workers)
    : env_(env),
      config_(config),
      link_(link),
      workers_(workers),
      width_(static_cast<int>(config.geometry.data_fragments + config.parity_fragments)) {
  ASSERT(config.host.value() < (1u << kHostIdBitsInContainerId));
}

Destager::~Destager() {
  ASSERT_MSG(tasks_.live() == 0 && stripes_.live() == 0, "Destager destroyed running");
}

Task<Result<void>> Destager::open() {
  CO_RETURN_IF_ERROR(co_await refresh_disks());
  if (disks_.size() < static_cast<size_t>(width_)) {
    co_return make_error(Code::kInvalidArgument,
                         "the shelf has " + std::to_string(disks_.size()) +
                             " disks; a stripe of k+m = " + std::to_string(width_) +
                             " fragments needs that many distinct disks");
  }
  // Refused before anything is written: a fragment no slot can hold would stop the first
  // destage, with acknowledged writes stuck in the NVRAM log.
  const uint32_t fragment_bytes = config_.geometry.fragment_payload_bytes;
  if (slot_payload_min_ != 0 && fragment_bytes > slot_payload_min_) {
    co_return make_error(Code::kInvalidArgument,
                         "container fragments of " + std::to_string(fragment_bytes) +
                             " bytes do not fit the shelf's disk slots of " +
                             std::to_string(slot_payload_min_) +
                             " bytes: use fragments no larger than the slots");
  }
  CO_RETURN_IF_ERROR(co_await reserve_ids());
  co_return ok_result();
}

Task<Result<void>> Destager::refresh_disks() {
  auto client = co_await link_.client();
  if (!client.ok()) co_return client.error();
  auto status = co_await (*client)->status();
  if (!status.ok()) {
    link_.reset_if_broken(status.error());
    co_return status.error();
  }
  disks_.clear();
  slot_payload_min_ = 0;
  for (const protocol::DiskInfoValue& disk : status->disks) {
    if (disk.slot_payload_max_bytes != 0 &&
        (slot_payload_min_ == 0 || disk.slot_payload_max_bytes < slot_payload_min_)) {
      slot_payload_min_ = disk.slot_payload_max_bytes;
    }
    disks_.push_back(DiskIndex(disk.index));
    disk_failed_[DiskIndex(disk.index)] = disk.state == protocol::DiskStateValue::kFailed;
  }
  co_return ok_result();
}

Task<Result<void>> Destager::reserve_ids() {
  const std::string name = container_ids_register(config_.host);
  while (true) {
    auto client = co_await link_.client();
    if (!client.ok()) co_return client.error();
    auto current = co_await (*client)->register_get(name);
    if (!current.ok()) {
      link_.reset_if_broken(current.error());
      co_return current.error();
    }
    uint64_t next = 1;  // counter 0 is never used: container id 0 means "no container"
    if (current->exists) {
      if (current->value.size() != 8) {
        co_return make_error(Code::kCorruption, "register " + name + " is not 8 bytes");
      }
      next = get_u64(current->value, 0);
    }
    const uint64_t end = next + kContainerIdsPerReservation;
    if (end >= (uint64_t{1} << kContainerCounterBits)) {
      co_return make_error(Code::kNoSpace, "host " + std::to_string(config_.host.value()) +
                                               " has used every container id");
    }
    std::vector<uint8_t> value(8);
    put_u64(value, 0, end);
    auto cas = co_await (*client)->register_cas(name, current->version, value, config_.epoch);
    if (!cas.ok()) {
      link_.reset_if_broken(cas.error());
      co_return cas.error();
    }
    if (!cas->swapped) continue;  // raced with ourselves after a reconnect: read again
    for (uint64_t counter = next; counter < end; ++counter) {
      free_ids_.push_back(uint64_t{config_.host.value()} << kContainerCounterBits | counter);
    }
    co_return ok_result();
  }
}

ContainerId Destager::take_id() {
  ASSERT(!free_ids_.empty());
  // Prefer an id whose stripe avoids the disks known to be failed; ids skipped are not reused.
  for (int attempt = 0; attempt < kPlacementSkipMax && free_ids_.size() > 1; ++attempt) {
    const ContainerId candidate(free_ids_.front());
    auto disks = ec::place_stripe(candidate, width_, disks_);
    ASSERT(disks.ok());
    const bool clean =
        std::none_of(disks->begin(), disks->end(), [&](DiskIndex d) { return disk_failed_[d]; });
    if (clean) break;
    free_ids_.pop_front();
  }
  const ContainerId id(free_ids_.front());
  free_ids_.pop_front();
  if (free_ids_.size() < kContainerIdsPerReservation / 2 && !reserving_ && !stopping_) {
    reserving_ = true;
    auto refill = [](Destager* self) -> Task<void> {
      auto reserved = co_await self->reserve_ids();
      if (!reserved.ok())
        self->env_.log.warn("container id reservation: " + reserved.error().to_string());
      self->reserving_ = false;
      self->progress_.notify_all();
    };
    tasks_.spawn(env_.executor(), refill(this));
  }
  return id;
}

void Destager::open_new() {
  ASSERT(open_ == nullptr);
  auto c = std::make_unique<Container>();
  const ContainerId id = take_id();
  c->builder = std::make_unique<container::ContainerBuilder>(config_.geometry, id);
  by_id_[id.value()] = c.get();
  open_ = std::move(c);
}

void Destager::start(LogWriter& log) {
  log_ = &log;
  tasks_.spawn(env_.executor(), run());
}

Task<void> Destager::stop() {
  stopping_ = true;
  work_.notify();
  co_await tasks_.join();
  co_await stripes_.join();
}

Result<void> Destager::space() const {
  if (writes_without_space_ == 0) return ok_result();
  ASSERT(no_space_.has_value());
  return *no_space_;
}

Task<Result<void>> Destager::wait_for_room(size_t bytes) {
  const uint64_t payload = config_.geometry.payload_bytes();
  const size_t ids_needed = 2 + bytes / (payload / 2);
  while (true) {
    if (failed_) co_return *failed_;
    if (stopping_) co_return make_error(Code::kUnavailable, "block store closing");
    if (bytes > 0) CO_RETURN_IF_ERROR(space());
    if (sealed_.size() < config_.stripes_inflight_max && free_ids_.size() >= ids_needed) {
      co_return ok_result();
    }
    if (free_ids_.size() < ids_needed && !reserving_) {
      reserving_ = true;
      auto reserved = co_await reserve_ids();
      reserving_ = false;
      if (!reserved.ok()) {
        if (reserved.code() == Code::kStale || link_.closed()) co_return reserved.error();
        co_await sleep_for(env_.clock, kDestageRetryDelay);
      }
      continue;
    }
    co_await progress_.wait();
  }
}

ChunkLocation Destager::pack(const Fingerprint& fp, std::span<const uint8_t> stored,
                             uint32_t logical_bytes) {
  const auto encoding = encoding_of(stored.size(), logical_bytes);
  if (open_ == nullptr) open_new();
  if (!open_->builder->fits(stored.size())) {
    seal_open();
    open_new();
  }
  auto placed = open_->builder->add(fp, encoding, stored, logical_bytes);
  ASSERT_MSG(placed.ok(), "an empty container accepts every valid chunk");
  open_->awaiting_ticket = true;
  last_pack_ = env_.clock.now();
  return placed->location(open_->builder->container());
}

void Destager::logged(uint64_t ticket) {
  auto note = [&](Container& c) {
    if (!c.awaiting_ticket) return;
    c.awaiting_ticket = false;
    c.first_ticket = std::min(c.first_ticket, ticket);
    c.last_ticket = std::max(c.last_ticket, ticket);
  };
  if (open_) note(*open_);
  for (auto& c : sealed_) note(*c);
  work_.notify();
}

Result<void> Destager::restore(const NewChunk& chunk, uint64_t ticket) {
  const uint64_t id = chunk.location.container_id;
  if (replay_skip_ == id) return ok_result();
  if (open_ == nullptr || open_->builder->container().value() != id) {
    if (chunk.location.offset != 0) {
      // Its first records were trimmed: the container is durable on the shelf already.
      replay_skip_ = id;
      return ok_result();
    }
    if (open_ != nullptr) seal_open();
    auto c = std::make_unique<Container>();
    c->builder = std::make_unique<container::ContainerBuilder>(config_.geometry, ContainerId(id));
    by_id_[id] = c.get();
    open_ = std::move(c);
  }
  if (chunk.location.offset < open_->builder->bytes_used()) {
    // Already placed: the record was stored twice (an append retried after its reply was lost
    // is stored again). Replaying it again must change nothing; different bytes would be damage.
    const std::span<const uint8_t> payload = open_->builder->payload();
    const size_t end = std::min<size_t>(payload.size(), chunk.location.offset + chunk.bytes.size());
    const std::span<const uint8_t> placed_bytes =
        payload.subspan(chunk.location.offset, end - chunk.location.offset);
    if (std::equal(placed_bytes.begin(), placed_bytes.end(), chunk.bytes.begin(),
                   chunk.bytes.end())) {
      return ok_result();
    }
    return make_error(Code::kCorruption, "log replay: chunk of container " + std::to_string(id) +
                                             " at offset " + std::to_string(chunk.location.offset) +
                                             " differs from the chunk replayed there before");
  }
  const uint32_t logical = config_.block_size;
  auto placed =
      open_->builder->add(chunk.fp, encoding_of(chunk.bytes.size(), logical), chunk.bytes, logical);
  if (!placed.ok() || placed->offset != chunk.location.offset) {
    return make_error(Code::kCorruption, "log replay: chunk of container " + std::to_string(id) +
                                             " does not land at offset " +
                                             std::to_string(chunk.location.offset));
  }
  open_->awaiting_ticket = false;
  open_->first_ticket = std::min(open_->first_ticket, ticket);
  open_->last_ticket = std::max(open_->last_ticket, ticket);
  return ok_result();
}

std::optional<std::span<const uint8_t>> Destager::staged(const ChunkLocation& location) const {
  auto it = by_id_.find(location.container_id);
  if (it == by_id_.end()) return std::nullopt;
  const Container& c = *it->second;
  std::span<const uint8_t> payload =
      c.builder ? c.builder->payload() : std::span<const uint8_t>(c.sealed.payload);
  if (uint64_t{location.offset} + location.length > payload.size()) return std::nullopt;
  return payload.subspan(location.offset, location.length);
}

void Destager::seal_open() {
  if (open_ == nullptr || open_->builder->chunk_count() == 0) return;
  open_->sealed = open_->builder->seal();
  open_->builder.reset();
  sealed_.push_back(std::move(open_));
  ++stats_.containers_sealed;
  work_.notify();
  // Learn about failed (or replaced) disks, so the next container ids avoid them.
  if (!refreshing_ && !stopping_) {
    refreshing_ = true;
    auto refresh = [](Destager* self) -> Task<void> {
      auto refreshed = co_await self->refresh_disks();
      if (!refreshed.ok()) {
        self->env_.log.info("blockstore.disk_refresh_failed",
                            {{"error", refreshed.error().to_string()}});
      }
      self->refreshing_ = false;
    };
    tasks_.spawn(env_.executor(), refresh(this));
  }
}

Task<Result<void>> Destager::drain() {
  while (!sealed_.empty()) {
    if (failed_) co_return *failed_;
    CO_RETURN_IF_ERROR(space());  // a full shelf: the stripe keeps retrying; do not wait on it
    co_await progress_.wait();
  }
  if (failed_) co_return *failed_;
  co_return ok_result();
}

uint64_t Destager::trim_limit() const {
  uint64_t limit = UINT64_MAX;
  for (const auto& c : sealed_) limit = std::min(limit, c->first_ticket);
  if (open_) limit = std::min(limit, open_->first_ticket);
  return limit;
}

Result<std::vector<DiskIndex>> Destager::placement(ContainerId container) const {
  return ec::place_stripe(container, width_, disks_);
}

void Destager::fail(const Error& error) {
  if (!failed_) failed_ = error;
  progress_.notify_all();
}

Task<void> Destager::run() {
  // Starts stripes oldest first, at most stripes_inflight_max at a time.
  while (!failed_) {
    for (auto& sealed : sealed_) {
      if (inflight_ >= config_.stripes_inflight_max) break;
      Container* c = sealed.get();
      if (c->started || c->awaiting_ticket) continue;
      c->started = true;
      ++inflight_;
      auto one = [](Destager* self, Container* container) -> Task<void> {
        auto done = co_await self->destage(*container);
        --self->inflight_;
        if (!done.ok()) {
          self->fail(done.error());
        } else {
          container->durable = true;
          ++self->stats_.containers_destaged;
          while (!self->sealed_.empty() && self->sealed_.front()->durable) {
            self->by_id_.erase(self->sealed_.front()->sealed.container.value());
            self->sealed_.pop_front();
          }
        }
        self->work_.notify();
        self->progress_.notify_all();
      };
      stripes_.spawn(env_.executor(), one(this, c));
    }
    if (stopping_ && sealed_.empty()) break;
    if (stopping_ && link_.closed()) break;
    co_await work_.wait();
  }
  progress_.notify_all();
}

Task<Result<void>> Destager::destage(Container& c) {
  CO_RETURN_IF_ERROR(co_await log_->wait_durable(c.last_ticket));
  CO_RETURN_IF_ERROR(co_await encode(c));
  auto disks = ec::place_stripe(c.sealed.container, width_, disks_);
  if (!disks.ok()) co_return disks.error();
  CO_RETURN_IF_ERROR(co_await write_fragments(c, *disks));
  CO_RETURN_IF_ERROR(co_await insert_index(c));
  c.fragments.clear();
  c.fragments.shrink_to_fit();
  co_return ok_result();
}

// On a compute thread: the copies and the code are the bulk of a container's CPU outside hashing
// and compression, and the event loop has the network to serve.
Task<Result<std::vector<std::vector<uint8_t>>>> Destager::build_on_pool(
    const Container& c, std::optional<size_t> only) {
  Worker* worker = co_await workers_.acquire();
  auto work = [&c, worker, width = static_cast<size_t>(width_),
               only]() -> Result<std::vector<std::vector<uint8_t>>> {
    return build_fragments(c.sealed, width, worker->erasure, kFragmentGeneration, only);
  };
  auto built = co_await async::run_compute(env_.compute, std::move(work));
  workers_.release(worker);
  co_return built;
}

Task<Result<void>> Destager::encode(Container& c) {
  ASSERT(c.fragments.empty());
  auto fragments = co_await build_on_pool(c, std::nullopt);
  if (!fragments.ok()) co_return fragments.error();
  ASSERT(fragments->size() == static_cast<size_t>(width_));
  c.fragments = std::move(fragments).value();
  co_return ok_result();
}

Task<Result<std::vector<uint8_t>>> Destager::take_fragment(Container& c, int index) {
  const auto slot = static_cast<size_t>(index);
  ASSERT(slot < c.fragments.size());
  if (!c.fragments[slot].empty()) {
    std::vector<uint8_t> taken;
    taken.swap(c.fragments[slot]);  // leaves an empty slot: "taken" (a fragment never is empty)
    co_return taken;
  }
  // A retry: the previous attempt's bytes went with its request. Sealing and the code are
  // deterministic, so building the fragment again gives the same bytes.
  auto rebuilt = co_await build_on_pool(c, slot);
  if (!rebuilt.ok()) co_return rebuilt.error();
  ASSERT(rebuilt->size() == 1);
  ++stats_.fragments_rebuilt;
  co_return std::move(rebuilt->front());
}

Task<Result<void>> Destager::write_fragments(Container& c, const std::vector<DiskIndex>& disks) {
  std::vector<bool> done(static_cast<size_t>(width_), false);
  while (true) {
    std::vector<Result<void>> outcomes(static_cast<size_t>(width_), ok_result());
    auto skipped = std::make_unique<bool[]>(
        static_cast<size_t>(width_));  // not vector<bool>: taking addresses
    async::TaskGroup writes;
    auto one = [](Destager* self, Container* container, int index, DiskIndex disk, bool* skip,
                  Result<void>* out) -> Task<void> {
      *out = co_await self->write_fragment(*container, index, disk, skip);
    };
    for (int i = 0; i < width_; ++i) {
      const auto slot = static_cast<size_t>(i);
      if (done[slot]) continue;
      bool* skip_flag = &skipped[slot];
      *skip_flag = false;
      writes.spawn(env_.executor(), one(this, &c, i, disks[slot], skip_flag, &outcomes[slot]));
    }
    co_await writes.join();
    size_t durable = 0;
    size_t failed_disks = 0;
    for (size_t i = 0; i < done.size(); ++i) {
      if (!outcomes[i].ok()) co_return outcomes[i].error();  // fenced or closing
      if (skipped[i]) {
        ++failed_disks;
      } else {
        done[i] = true;
      }
      if (done[i]) ++durable;
    }
    if (durable == done.size()) co_return ok_result();
    // With some of its disks failed a stripe is written with less redundancy, as a RAID array
    // keeps writing degraded; below k fragments it could not be read back at all.
    if (durable >= c.sealed.geometry.data_fragments && failed_disks + durable == done.size()) {
      ++stats_.stripes_written_degraded;
      env_.log.warn("container " + std::to_string(c.sealed.container.value()) + " written with " +
                    std::to_string(failed_disks) + " fragment(s) on failed disks");
      co_return ok_result();
    }
    // Too few disks to hold the stripe: wait for disks to come back (unless closing).
    if (stopping_) co_return make_error(Code::kUnavailable, "block store closing");
    if (log_->fenced()) co_return *log_->fenced();
    // The fragment writes above skip failed disks without asking the shelf, so only this notices
    // a link that closed for good (the process is going away).
    if (link_.closed()) co_return make_error(Code::kUnavailable, "shelf link closed");
    co_await sleep_for(env_.clock, kDestageRetryDelay);
    auto refreshed = co_await refresh_disks();
    if (!refreshed.ok() && refreshed.code() == Code::kStale) co_return refreshed.error();
  }
}

Task<Result<void>> Destager::write_fragment(Container& c, int index, DiskIndex disk,
                                            bool* skipped) {
  const protocol::FragmentIdValue id{c.sealed.container.value(), static_cast<uint8_t>(index),
                                     kFragmentGeneration};
  // Counted in writes_without_space_ from its first kNoSpace until it ends, however it ends.
  bool without_space = false;
  Result<void> result =
      co_await write_fragment_until_done(c, index, disk, id, skipped, without_space);
  if (without_space) {
    ASSERT(writes_without_space_ > 0);
    --writes_without_space_;
    if (writes_without_space_ == 0) no_space_.reset();
  }
  co_return result;
}

Task<Result<void>> Destager::write_fragment_until_done(Container& c, int index, DiskIndex disk,
                                                       const protocol::FragmentIdValue& id,
                                                       bool* skipped, bool& without_space) {
  // Moved into the request, not copied: a fragment is a megabyte, ten per container.
  std::vector<uint8_t> fragment;
  while (true) {
    if (stopping_) co_return make_error(Code::kUnavailable, "block store closing");
    if (log_->fenced()) co_return *log_->fenced();  // this store is done; a new one redoes it
    if (disk_failed_[disk]) {
      *skipped = true;
      co_return ok_result();
    }
    if (fragment.empty()) {
      // Taken before the client, and the checks above run again after it: a rebuild waits, and
      // a link reset meanwhile destroys the client a pointer would still name.
      auto taken = co_await take_fragment(c, index);
      if (!taken.ok()) co_return taken.error();
      fragment = std::move(taken).value();
      continue;
    }
    ASSERT(fragment.size() ==
           protocol::kFragmentHeaderSize + size_t{c.sealed.geometry.fragment_payload_bytes});
    auto client = co_await link_.client();
    if (!client.ok()) {
      if (link_.closed()) co_return client.error();
      co_await sleep_for(env_.clock, kReconnectDelay);
      continue;
    }
    auto written = co_await (*client)->fragment_write(config_.host, config_.epoch, disk, id,
                                                      std::move(fragment));
    fragment.clear();  // moved from: the next attempt takes it again
    if (written.ok()) co_return ok_result();
    const Error& error = written.error();
    if (error.code == Code::kStale) co_return error;
    if (error.code == Code::kInvalidArgument) {
      // The shelf refuses the fragment itself (larger than its disks' slots, say): no retry can
      // succeed. The store fails with the reason; acknowledged writes stay in the NVRAM log.
      co_return make_error(Code::kInvalidArgument,
                           "disk " + std::to_string(disk.value()) + " refused fragment " +
                               std::to_string(index) + " of container " +
                               std::to_string(c.sealed.container.value()) + ": " + error.message);
    }
    ++stats_.fragment_write_retries;
    if (error.code == Code::kNoSpace) {
      note_no_space(disk, error, without_space);
      co_await sleep_for(env_.clock, kDestageRetryDelay);
      continue;
    }
    if (is_connection_error(error) && (*client)->rpc().broken()) {
      link_.reset_if_broken(error);
      co_await sleep_for(env_.clock, kReconnectDelay);
      continue;
    }
    if (error.code == Code::kUnavailable || error.code == Code::kIo) {
      // The disk is failed (or just failed on this write): its fragment is the rebuild's job.
      env_.log.warn("fragment write to disk " + std::to_string(disk.value()) + ": " +
                    error.to_string());
      disk_failed_[disk] = true;
      continue;
    }
    env_.log.warn("fragment write to disk " + std::to_string(disk.value()) +
                  " failed, retrying: " + error.to_string());
    co_await sleep_for(env_.clock, kDestageRetryDelay);
  }
}

void Destager::note_no_space(DiskIndex disk, const Error& error, bool& without_space) {
  ASSERT(error.code == Code::kNoSpace);
  ++stats_.fragment_writes_no_space;
  if (without_space) return;
  without_space = true;
  ++writes_without_space_;
  no_space_ = make_error(Code::kNoSpace, "the shelf is out of space (disk " +
                                             std::to_string(disk.value()) + ": " + error.message +
                                             "); new data is refused until it has room again");
  env_.log.warn("fragment write to disk " + std::to_string(disk.value()) +
                " refused for lack of space; new data is refused, retrying: " + error.to_string());
  // Writers waiting for room (here or for log space) re-check and get kNoSpace.
  progress_.notify_all();
  log_->wake_waiters();
}

Task<Result<void>> Destager::insert_index(const Container& c) {
  // The chunks of the sealed container, from its footer (the builder's list).
  auto footer = container::parse_footer(c.sealed.geometry, c.sealed.container, c.sealed.payload);
  ASSERT_MSG(footer.ok(), "the builder re-parses what it seals");
  const auto& chunks = footer->chunks;
  for (size_t at = 0; at < chunks.size(); at += protocol::kIndexBatchMax) {
    const size_t end = std::min(chunks.size(), at + protocol::kIndexBatchMax);
    std::vector<Fingerprint> fps;
    std::vector<ChunkLocation> locations;
    for (size_t i = at; i < end; ++i) {
      fps.push_back(chunks[i].fp);
      locations.push_back(
          ChunkLocation{c.sealed.container.value(), chunks[i].offset, chunks[i].stored_bytes});
    }
    while (true) {
      if (stopping_) co_return make_error(Code::kUnavailable, "block store closing");
      if (log_->fenced()) co_return *log_->fenced();
      auto client = co_await link_.client();
      if (!client.ok()) {
        if (link_.closed()) co_return client.error();
        co_await sleep_for(env_.clock, kReconnectDelay);
        continue;
      }
      auto inserted = co_await (*client)->index_insert(config_.host, config_.epoch, fps, locations);
      if (inserted.ok()) break;  // first writer wins: an existing entry is fine
      if (inserted.code() == Code::kStale) co_return inserted.error();
      link_.reset_if_broken(inserted.error());
      env_.log.warn("index insert failed, retrying: " + inserted.error().to_string());
      co_await sleep_for(env_.clock, kDestageRetryDelay);
    }
  }
  co_return ok_result();
}

}  // namespace splitarray::hostdriver::blockstore
