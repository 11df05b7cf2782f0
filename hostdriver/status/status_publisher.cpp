#include "hostdriver/status/status_publisher.h"

#include <algorithm>
#include <vector>

namespace splitarray::hostdriver::status {
namespace {

// The directory is shared by hosts of every epoch, so nobody raises its epoch.
constexpr Epoch kDirectoryEpoch{0};

}  // namespace

StatusPublisher::StatusPublisher(Env& env, StatusPublisherConfig config, Snapshot snapshot)
    : env_(env),
      config_(std::move(config)),
      snapshot_(std::move(snapshot)),
      log_(env.log.child("status")),
      instance_(env.rng.next_u64()),
      created_at_(env.clock.wall_now()) {
  ASSERT_MSG(static_cast<bool>(snapshot_), "a publisher needs a snapshot callback");
  ASSERT(config_.interval >= kPublishIntervalMin);
  ASSERT(config_.request_timeout > Duration::zero());
}

StatusPublisher::~StatusPublisher() {
  ASSERT_MSG(!started_ || stopped_, "co_await stop() before destroying a started publisher");
  ASSERT(client_ == nullptr || !started_);
}

void StatusPublisher::start() {
  ASSERT_MSG(!started_, "start() twice");
  ASSERT(!stopping_);
  started_ = true;
  tasks_.spawn(env_.executor(), run());
}

void StatusPublisher::publish_soon() { wake_.notify(); }

Task<void> StatusPublisher::stop() {
  if (stopped_) co_return;
  stopping_ = true;
  wake_.notify();
  co_await tasks_.join();  // invariant (1): the loop is done before the last write
  if (started_ && !stats_.fenced) {
    HostStatus last = take_snapshot();
    last.state = HostState::kStopped;
    const Result<void> done = co_await publish(std::move(last));
    if (!done.ok()) {
      log_.warn("status.final_publish_failed",
                {{"host", config_.host.value()}, {"error", done.error().to_string()}});
    }
  }
  if (client_ != nullptr) {
    co_await client_->close();
    client_.reset();
  }
  stopped_ = true;
}

Task<void> StatusPublisher::run() {
  while (!stopping_ && !stats_.fenced) {
    const Result<void> done = co_await publish(take_snapshot());
    note_outcome(done);
    if (stopping_ || stats_.fenced) break;
    // A timer stop() can pre-empt: stopping never waits out an interval.
    timer_ = env_.clock.call_at(env_.clock.now() + config_.interval, [this] { wake_.notify(); });
    co_await wake_.wait();
    env_.clock.cancel(timer_);
    timer_ = 0;
  }
}

HostStatus StatusPublisher::take_snapshot() {
  HostStatus status = snapshot_();
  status.host = config_.host;
  status.instance = instance_;
  status.publish_interval = config_.interval;
  if (status.started_at.nanos == 0) status.started_at = created_at_;
  status.published_at = env_.clock.wall_now();
  return status;
}

void StatusPublisher::note_outcome(const Result<void>& outcome) {
  if (outcome.ok()) {
    if (failure_streak_ > 0) {
      log_.info("status.publishing_again",
                {{"host", config_.host.value()}, {"failed_ticks", failure_streak_}});
    }
    failure_streak_ = 0;
    return;
  }
  if (stats_.fenced) {
    log_.error("status.fenced", {{"host", config_.host.value()},
                                 {"epoch", config_.epoch.value()},
                                 {"error", outcome.error().to_string()}});
    return;
  }
  if (failure_streak_ % kFailureLogEvery == 0) {
    log_.warn("status.publish_failed", {{"host", config_.host.value()},
                                        {"failed_ticks", failure_streak_ + 1},
                                        {"error", outcome.error().to_string()}});
  }
  ++failure_streak_;
}

Task<Result<protocol::ShelfClient*>> StatusPublisher::client() {
  // The connection breaks when the shelf restarts or the network resets it: connect again.
  if (client_ != nullptr && !client_->rpc().broken()) co_return client_.get();
  if (client_ != nullptr) {
    co_await client_->close();
    client_.reset();
  }
  protocol::RpcClientOptions options;
  options.default_timeout = config_.request_timeout;
  auto connected = co_await protocol::ShelfClient::connect(env_, config_.shelf, options);
  if (!connected.ok()) co_return std::move(connected).take_error();
  client_ = std::move(connected).value();
  co_return client_.get();
}

Error StatusPublisher::failed(Error error) {
  ++stats_.failures;
  stats_.last_error = error.to_string();
  return error;
}

Task<Result<void>> StatusPublisher::publish(HostStatus status) {
  Result<std::vector<uint8_t>> encoded = encode_host_status(status);
  if (!encoded.ok()) co_return failed(std::move(encoded).take_error());
  Result<protocol::ShelfClient*> shelf = co_await client();
  if (!shelf.ok()) co_return failed(std::move(shelf).take_error());
  Result<uint64_t> version = co_await swap_record(**shelf, std::move(encoded).value());
  if (!version.ok()) co_return failed(std::move(version).take_error());
  ASSERT(*version > 0);
  ASSERT(*version == known_version_);
  ++stats_.published;
  stats_.last_version = *version;
  stats_.last_error.clear();
  if (!stats_.listed) {
    const Result<void> listed = co_await list_host(**shelf);
    // The record is out either way; the directory is retried next tick.
    if (!listed.ok() && directory_failures_++ % kFailureLogEvery == 0) {
      log_.warn("status.directory_failed",
                {{"host", config_.host.value()}, {"error", listed.error().to_string()}});
    }
  }
  co_return ok_result();
}

Task<Result<uint64_t>> StatusPublisher::swap_record(protocol::ShelfClient& shelf,
                                                    std::vector<uint8_t> value) {
  const std::string name = host_status_register(config_.host);
  uint64_t expected = known_version_;
  for (size_t attempt = 0; attempt < kCasAttemptsMax; ++attempt) {
    auto swapped = co_await shelf.register_cas(name, expected, value, config_.epoch);
    if (!swapped.ok()) {
      if (swapped.code() == Code::kStale) stats_.fenced = true;
      co_return std::move(swapped).take_error();
    }
    if (swapped->swapped) {
      ASSERT(swapped->current.exists);
      ASSERT(swapped->current.version == expected + 1);
      known_version_ = swapped->current.version;
      co_return known_version_;
    }
    // Someone else wrote since our last write (or before our first): take their version.
    if (known_version_ != 0) {
      ++stats_.conflicts;
      auto other = decode_host_status(swapped->current.value);
      log_.warn("status.record_overwritten",
                {{"host", config_.host.value()},
                 {"other_instance", other.ok() ? other->instance : uint64_t{0}},
                 {"instance", instance_}});
    }
    expected = swapped->current.exists ? swapped->current.version : 0;
    known_version_ = expected;
  }
  co_return make_error(Code::kBusy, "host status: lost the register swap " +
                                        std::to_string(kCasAttemptsMax) + " times");
}

Task<Result<void>> StatusPublisher::list_host(protocol::ShelfClient& shelf) {
  const std::string name = host_directory_register();
  for (size_t attempt = 0; attempt < kCasAttemptsMax; ++attempt) {
    auto current = co_await shelf.register_get(name);
    if (!current.ok()) co_return std::move(current).take_error();
    std::vector<HostId> hosts;
    if (current->exists && !current->value.empty()) {
      auto decoded = decode_host_directory(current->value);
      if (!decoded.ok()) co_return std::move(decoded).take_error();  // never overwrite it blind
      hosts = std::move(decoded).value();
    }
    if (std::binary_search(hosts.begin(), hosts.end(), config_.host)) {
      stats_.listed = true;
      co_return ok_result();
    }
    hosts.insert(std::upper_bound(hosts.begin(), hosts.end(), config_.host), config_.host);
    Result<std::vector<uint8_t>> encoded = encode_host_directory(hosts);
    if (!encoded.ok()) co_return std::move(encoded).take_error();
    const uint64_t expected = current->exists ? current->version : 0;
    std::vector<uint8_t> value = std::move(encoded).value();
    auto swapped = co_await shelf.register_cas(name, expected, std::move(value), kDirectoryEpoch);
    if (!swapped.ok()) co_return std::move(swapped).take_error();
    if (swapped->swapped) {
      stats_.listed = true;
      co_return ok_result();
    }
  }
  co_return make_error(Code::kBusy, "host directory: lost the register swap " +
                                        std::to_string(kCasAttemptsMax) + " times");
}

}  // namespace splitarray::hostdriver::status
