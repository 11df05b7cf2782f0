// hostdriver/service/host_driver.cpp
#include "hostdriver/service/host_driver.h"

#include <utility>

#include "hostdriver/service/handle_key.h"
#include "hostdriver/status/fs_figures.h"

namespace splitarray::hostdriver::service {
namespace {

constexpr uint32_t kNfsProgram = 100003;

}  // namespace

HostDriver::HostDriver(Env& env, HostConfig config, std::unique_ptr<fs::FileSystem> fs)
    : env_(env), config_(std::move(config)), fs_(std::move(fs)) {}

HostDriver::~HostDriver() {
  ASSERT_MSG(closed_, "HostDriver destroyed without close()");
  ASSERT_MSG(close_deadline_ == 0, "HostDriver destroyed with its close deadline armed");
}

Task<Result<std::unique_ptr<HostDriver>>> HostDriver::start(Env& env, HostConfig config,
                                                            nfs::HandleKey fresh_key) {
  auto shelf = co_await protocol::ShelfClient::connect(env, config.fs.store.shelf);
  if (!shelf.ok()) co_return std::move(shelf).take_error();
  auto key = co_await load_or_create_handle_key(**shelf, config.fs.datastore, fresh_key);
  co_await (*shelf)->close();
  if (!key.ok()) co_return std::move(key).take_error();

  auto opened = co_await fs::FileSystem::open(env, config.fs);
  if (!opened.ok()) co_return std::move(opened).take_error();
  std::unique_ptr<HostDriver> driver(
      new HostDriver(env, std::move(config), std::move(opened).value()));
  Result<void> bound = driver->bind(*key);
  if (!bound.ok()) {
    Result<void> closed = co_await driver->close();
    if (!closed.ok()) {
      env.log.warn("hostdriver.close_failed", {{"error", closed.error().to_string()}});
    }
    co_return std::move(bound).take_error();
  }
  driver->start_publishing();
  co_return driver;
}

Result<void> HostDriver::bind(const nfs::HandleKey& key) {
  nfs3_ = std::make_unique<nfs::nfs3::Nfs3Program>(env_, *fs_, config_.exported,
                                                   nfs::HandleCodec(key), nfs::nfs3::Nfs3Options{});
  std::vector<nfs::MountedExport> exports;
  exports.push_back(nfs::MountedExport{config_.exported, nfs3_->root_handle()});
  mount_ = std::make_unique<nfs::MountProgram>(std::move(exports));
  server_ = std::make_unique<nfs::OncRpcServer>(env_, nfs::OncRpcServerOptions{});
  server_->add_program(*nfs3_);
  server_->add_program(*mount_);

  ASSIGN_OR_RETURN(Address nfs_address,
                   server_->listen(Address{config_.listen_host, config_.nfs_port}));
  ASSIGN_OR_RETURN(Address mount_address,
                   server_->listen(Address{config_.listen_host, config_.mount_port}));
  config_.nfs_port = nfs_address.port;
  config_.mount_port = mount_address.port;
  if (config_.portmap_port != 0) {
    std::vector<nfs::PortMapping> table;
    for (uint32_t version : {1u, 2u, 3u}) {
      table.push_back({.program = nfs::kMountProgram,
                       .version = version,
                       .protocol = nfs::kProtocolTcp,
                       .port = config_.mount_port});
    }
    table.push_back({.program = kNfsProgram,
                     .version = 3,
                     .protocol = nfs::kProtocolTcp,
                     .port = config_.nfs_port});
    table.push_back({.program = nfs::kPortmapProgram,
                     .version = 2,
                     .protocol = nfs::kProtocolTcp,
                     .port = config_.portmap_port});
    portmap_ = std::make_unique<nfs::PortmapProgram>(std::move(table));
    server_->add_program(*portmap_);
    ASSIGN_OR_RETURN(Address portmap_address,
                     server_->listen(Address{config_.listen_host, config_.portmap_port}));
    config_.portmap_port = portmap_address.port;
  }
  return ok_result();
}

void HostDriver::start_publishing() {
  status::StatusPublisherConfig publish;
  publish.shelf = config_.fs.store.shelf;
  publish.host = config_.fs.host;
  publish.epoch = fs_->store().config().epoch;  // the lease epoch: a newer incarnation fences us
  publisher_ =
      std::make_unique<status::StatusPublisher>(env_, publish, [this] { return snapshot(); });
  publisher_->start();
}

status::HostStatus HostDriver::snapshot() const {
  status::HostStatus host;
  host.label = config_.label;
  host.state = stopping_       ? status::HostState::kStopping
               : fs_->fenced() ? status::HostState::kFenced
                               : status::HostState::kServing;
  host.datastores.push_back(status::datastore_status(
      config_.fs.datastore, export_url(config_), fs_->store().config().host.value(), fs_->stats()));
  const nfs::OncRpcServerStats rpc = server_->stats();
  const nfs::nfs3::Nfs3Stats& nfs = nfs3_->stats();
  uint64_t calls = 0;
  uint64_t errors = 0;
  for (uint64_t count : nfs.calls) calls += count;
  for (uint64_t count : nfs.errors) errors += count;
  host.counters["nfs.calls"] = calls;
  host.counters["nfs.errors"] = errors;
  host.counters["nfs.read_bytes"] = nfs.read_bytes;
  host.counters["nfs.written_bytes"] = nfs.written_bytes;
  host.counters["rpc.connections"] = server_->connections();
  host.counters["rpc.garbage_args"] = rpc.garbage_args;
  host.counters["rpc.drc_replays"] = rpc.drc.replays;
  host.counters["rpc.closed_for_errors"] = rpc.connections_closed_for_errors;
  return host;
}

Task<void> HostDriver::serve() {
  ASSERT(server_ != nullptr);
  co_await server_->serve();
}

void HostDriver::stop() {
  stopping_ = true;
  // From here: a call in flight that waits on an unreachable shelf must not hold the stop.
  // (Once close() began it armed the deadline itself; after it ended, nothing may fire.)
  if (!closed_) arm_close_deadline();
  if (publisher_ != nullptr) publisher_->publish_soon();
  if (server_ != nullptr) server_->stop();
}

void HostDriver::arm_close_deadline() {
  if (close_deadline_ != 0 || gave_up_) return;
  close_deadline_ = env_.clock.call_at(env_.clock.now() + config_.close_timeout, [this] {
    close_deadline_ = 0;
    gave_up_ = true;
    env_.log.error("hostdriver.close_timed_out", {{"shelf", config_.fs.store.shelf.to_string()}});
    fs_->abandon();
  });
}

Task<Result<void>> HostDriver::close() {
  if (closed_) co_return close_result_;
  closed_ = true;
  arm_close_deadline();
  // The publisher's last snapshot reads the file system: stop it first.
  if (publisher_ != nullptr) co_await publisher_->stop();
  co_await fs_->close();
  if (close_deadline_ != 0) env_.clock.cancel(std::exchange(close_deadline_, 0));
  const bool gave_up = gave_up_;
  // Judged by the checkpoint alone: one that landed before the deadline leaves nothing to replay
  // but the block store's log, which the next start replays anyway.
  if (std::optional<Error> error = fs_->close_error()) {
    if (gave_up) {
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(config_.close_timeout);
      error->message = "gave up on the shelf after " + std::to_string(seconds.count()) +
                       " s (--close-timeout): " + error->message;
    }
    close_result_ = *error;
  }
  co_return close_result_;
}

}  // namespace splitarray::hostdriver::service
