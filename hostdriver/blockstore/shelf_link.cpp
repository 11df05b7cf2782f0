// hostdriver/blockstore/shelf_link.cpp
#include "hostdriver/blockstore/shelf_link.h"

#include <utility>

namespace splitarray::hostdriver::blockstore {

bool is_connection_error(const Error& error) {
  return error.code == Code::kUnavailable || error.code == Code::kTimeout ||
         error.code == Code::kProtocol || error.code == Code::kCancelled;
}

ShelfLink::ShelfLink(Env& env, Address address, Duration request_timeout)
    : env_(env), address_(std::move(address)), request_timeout_(request_timeout) {}

ShelfLink::~ShelfLink() {
  ASSERT_MSG(client_ == nullptr, "ShelfLink destroyed while connected; close() first");
}

Task<Result<protocol::ShelfClient*>> ShelfLink::client() {
  // One connect at a time; others wait for its outcome by polling the delay.
  while (!closed_ && client_ == nullptr) {
    if (connecting_ || env_.clock.now() < next_attempt_) {
      co_await sleep_for(env_.clock, kReconnectDelay);
      continue;
    }
    connecting_ = true;
    protocol::RpcClientOptions options;
    options.default_timeout = request_timeout_;
    auto connected = co_await protocol::ShelfClient::connect(env_, address_, options);
    connecting_ = false;
    if (!connected.ok()) {
      // kCancelled: the process is going away (its network is shut down, or killed under sim/);
      // no later attempt can succeed, so the link closes as if close() had been called and every
      // retry loop above it stops.
      if (connected.code() == Code::kCancelled) closed_ = true;
      next_attempt_ = env_.clock.now() + kReconnectDelay;
      co_return make_error(Code::kUnavailable,
                           "shelf " + address_.to_string() + ": " + connected.error().message);
    }
    if (closed_) {
      co_await (*connected)->close();
      break;
    }
    client_ = std::move(connected).value();
  }
  if (closed_) co_return make_error(Code::kUnavailable, "shelf link closed");
  co_return client_.get();
}

void ShelfLink::reset_if_broken(const Error& error) {
  // Abandoned: the client stays until close() (abandon()).
  if (closed_ || client_ == nullptr || !is_connection_error(error)) return;
  if (!client_->rpc().broken() && error.code != Code::kTimeout) return;
  closing_.spawn(env_.executor(), close_client(std::move(client_)));
}

Task<void> ShelfLink::close_client(std::unique_ptr<protocol::ShelfClient> client) {
  co_await client->close();
}

void ShelfLink::abandon() {
  closed_ = true;
  if (client_ != nullptr) client_->rpc().abort();
}

Task<void> ShelfLink::close() {
  closed_ = true;
  if (client_ != nullptr) {
    std::unique_ptr<protocol::ShelfClient> client = std::move(client_);
    co_await client->close();
  }
  co_await closing_.join();
}

}  // namespace splitarray::hostdriver::blockstore
