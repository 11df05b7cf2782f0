// hostdriver/fs/lease_watch.cpp
// The lease watch (file_system.h "Ownership"): an owner learns it was fenced the moment the shelf
// refuses one of its changes, but a host that only serves reads would never try one, and would go
// on answering from memory that misses the new owner's changes. So every lease_check_interval the
// owner reads the datastore's root register. A takeover raises that register's epoch above ours
// (fs_open.cpp step 2: it is what refuses our checkpoints from then on), so an epoch above ours
// fences us, and from then on every call fails with kStale (usable()), reads included.
// Why the root register and not the lease: a take_lease() that raised the lease but went no
// further (an open that failed afterwards, `safs format` run against an existing datastore)
// fenced nothing, and the owner must keep serving. The lease is read only to name the new owner.
// A register read that fails (shelf restarting, network) changes nothing: the next tick asks
// again, and the shelf still refuses every change of a fenced owner meanwhile.
// Bounded: one register read in flight, on its own connection (the checkpointer's is not shared
// between coroutines), once per interval.
#include <string>

#include "hostdriver/fs/file_system_impl.h"

namespace splitarray::hostdriver::fs {

Task<Result<protocol::RegisterValueRep>> FileSystemImpl::read_register(
    std::unique_ptr<protocol::ShelfClient>& connection, const std::string& name) {
  if (connection != nullptr && connection->rpc().broken()) {
    co_await connection->close();
    connection.reset();
  }
  if (connection == nullptr) {
    if (abandoned_) co_return make_error(Code::kUnavailable, "gave up on the shelf");
    auto connected = co_await protocol::ShelfClient::connect(env_, config_.store.shelf);
    if (!connected.ok()) co_return connected.error();
    connection = std::move(connected).value();
  }
  co_return co_await connection->register_get(name);
}

Task<void> FileSystemImpl::run_lease_watch() {
  std::unique_ptr<protocol::ShelfClient>& connection = lease_connection_;
  while (!closing_ && !fenced_) {
    lease_timer_ = env_.clock.call_at(env_.clock.now() + config_.lease_check_interval,
                                      [this] { wake_lease_watch_.notify_all(); });
    co_await wake_lease_watch_.wait();
    env_.clock.cancel(lease_timer_);
    lease_timer_ = 0;
    if (closing_ || fenced_) break;
    auto root = co_await read_register(connection, root_register(config_.datastore));
    if (!root.ok()) {
      ++stats_.lease_check_failures;
      continue;  // the next tick asks again
    }
    ++stats_.lease_checks;
    if (closing_ || fenced_) break;
    if (!root->exists || root->epoch <= lease_epoch_) continue;
    std::string owner = "another host";
    auto lease_value = co_await read_register(connection, lease_register(config_.datastore));
    if (lease_value.ok() && lease_value->exists) {
      auto lease = decode_lease(lease_value->value);
      if (lease.ok()) owner = "host " + std::to_string(lease->owner_host);
    }
    if (closing_ || fenced_) break;
    fenced_ = make_error(Code::kStale, "datastore " + config_.datastore + " was taken over by " +
                                           owner + " with epoch " + std::to_string(root->epoch) +
                                           " (ours " + std::to_string(lease_epoch_) + ")");
    ignore_result(usable(), "it logs fs.fenced once; every call now fails with fenced_");
  }
  if (connection != nullptr) co_await connection->close();
  connection.reset();
}

}  // namespace splitarray::hostdriver::fs
