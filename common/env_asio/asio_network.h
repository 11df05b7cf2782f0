// common/env_asio/asio_network.h
// Real TCP on Boost.Asio. Sockets get TCP_NODELAY (requests are latency-bound and already batched
// by the callers); asio error codes are converted to Result at this edge.
#pragma once

#include "common/env.h"

namespace splitarray {

class AsioNetwork final : public Network {
 public:
  explicit AsioNetwork(asio::io_context& io) : io_(io) {}
  Result<std::unique_ptr<Listener>> listen(const Address& address) override;
  Task<Result<std::unique_ptr<Stream>>> connect(const Address& address, Duration timeout) override;

 private:
  asio::io_context& io_;
};

}  // namespace splitarray
