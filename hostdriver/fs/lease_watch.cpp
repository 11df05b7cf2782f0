// hostdriver/fs/lease_watch.cpp
// The lease watch (file_system.h "Ownership"): an owner learns it was fenced the moment the shelf
// refuses one of its changes, but a host that only serves reads would never try one, and would go
// on answering from memory that misses the new owner's changes. So every lease_check_interval the
// owner reads the lease register; a lease naming a higher epoch than its own means another host
// took the datastore over, and from then on every call fails with kStale (usable()), reads
// included. A register read that fails (shelf restarting, network) changes nothing: the next
// tick asks again, and the shelf still refuses every change of a fenced owner meanwhile.
// Bounded: one register read in flight, on its own connection (the checkpointer's is not shared
// between coroutines), once per interval.
#include <string>

#include "hostdriver/fs/file_system_impl.h"

namespace splitarray::hostdriver::fs {

Task<Result<std::optional<Lease>>> FileSystemImpl::read_lease(
    std::unique_ptr<protocol::ShelfClient>& connection) {
  if (connection != nullptr && connection->rpc().broken()) {
    co_await connection->close();
    connection.reset();
  }
  if (connection == nullptr) {
    auto connected = co_await protocol::ShelfClient::connect(env_, config_.store.shelf);
    if (!connected.ok()) co_return connected.error();
    connection = std::move(connected).value();
  }
  auto current = co_await connection->register_get(lease_register(config_.datastore));
  if (!current.ok()) co_return current.error();
  if (!current->exists) co_return std::optional<Lease>();
  auto lease = decode_lease(current->value);
  if (!lease.ok()) co_return lease.error();
  co_return std::optional<Lease>(*lease);
}

Task<void> FileSystemImpl::run_lease_watch() {
  std::unique_ptr<protocol::ShelfClient> connection;
  while (!closing_ && !fenced_) {
    lease_timer_ = env_.clock.call_at(env_.clock.now() + config_.lease_check_interval,
                                      [this] { wake_lease_watch_.notify_all(); });
    co_await wake_lease_watch_.wait();
    env_.clock.cancel(lease_timer_);
    lease_timer_ = 0;
    if (closing_ || fenced_) break;
    auto lease = co_await read_lease(connection);
    if (!lease.ok()) {
      ++stats_.lease_check_failures;
      continue;  // the next tick asks again
    }
    ++stats_.lease_checks;
    if (closing_ || fenced_) break;
    // A missing lease or one with a lower epoch is not ours to judge (it cannot happen: register
    // epochs only grow); only a newer owner fences.
    if (*lease && (*lease)->epoch > lease_epoch_) {
      fenced_ =
          make_error(Code::kStale, "datastore " + config_.datastore + " was taken over by host " +
                                       std::to_string((*lease)->owner_host) + " with lease epoch " +
                                       std::to_string((*lease)->epoch));
      ignore_result(usable(), "it logs fs.fenced once; every call now fails with fenced_");
    }
  }
  if (connection != nullptr) co_await connection->close();
}

}  // namespace splitarray::hostdriver::fs
