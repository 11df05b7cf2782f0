#include "sim/env/sim_network.h"

#include <algorithm>
#include <cstring>
#include <deque>

#include "common/async/notify.h"
#include "sim/world/sim_wait.h"

namespace splitarray::sim {

// ---------------------------------------------------------------------------------------------
// SimConnection: the shared state of one connection's two directions.

namespace {

struct Segment {
  uint64_t seq = 0;
  std::vector<uint8_t> bytes;
  bool fin = false;
};

// Bytes flowing from side s to side 1 - s.
struct Pipe {
  // Sender's view.
  uint64_t next_send_seq = 0;
  TimePoint tx_free_at{};
  size_t unread_bytes = 0;  // sent and not yet read: bounded by kSimWindowBytes
  async::Notify window_open;
  // Receiver's view.
  uint64_t next_recv_seq = 0;
  std::map<uint64_t, Segment> early;  // arrived ahead of a missing one
  std::deque<std::vector<uint8_t>> ready;
  size_t ready_front_offset = 0;
  size_t ready_bytes = 0;
  bool fin_received = false;
  async::Notify readable;
};

Error reset_error() { return make_error(Code::kUnavailable, "connection reset"); }
Error closed_error() { return make_error(Code::kCancelled, "stream closed locally"); }
// What a killed process's network answers (listen, connect): kCancelled, as a connect aborted by
// the process shutting down answers in production (env_asio), so code that reconnects in a loop
// stops instead of retrying forever in a process that no longer exists.
Error killed_error() {
  return make_error(Code::kCancelled, "network gone: this process was killed (simulated)");
}

}  // namespace

class SimConnection final : public std::enable_shared_from_this<SimConnection> {
 public:
  SimConnection(SimFabric& fabric, std::array<std::string, 2> hosts,
                std::array<ProcessId, 2> processes)
      : fabric_(fabric), hosts_(std::move(hosts)), processes_(processes) {}

  Pipe& outbound(int side) { return pipes_[side]; }
  Pipe& inbound(int side) { return pipes_[1 - side]; }
  bool is_reset() const { return reset_; }
  void mark_closed(int side) { closed_[side] = true; }

  void reset() {
    if (reset_) return;
    reset_ = true;
    fabric_.world().trace(0x5E5E7);
    for (Pipe& pipe : pipes_) {
      pipe.readable.notify();
      pipe.window_open.notify();
    }
  }

  // Sends one segment from `side`; false when the connection is (or just got) reset.
  bool send(int side, std::vector<uint8_t> bytes, bool fin, FaultPoints& faults, Prng& rng) {
    if (reset_) return false;
    const int peer = 1 - side;
    if (!fabric_.world().alive(processes_[peer])) {
      reset();
      return false;
    }
    if (faults.fire(FaultSite::kNetReset)) {
      reset();
      return false;
    }
    const LinkModel& model = fabric_.model();
    SimWorld& world = fabric_.world();
    Pipe& pipe = pipes_[side];
    const auto transfer = Duration(static_cast<int64_t>(
        static_cast<double>(bytes.size()) * 1e9 / static_cast<double>(model.bytes_per_second)));
    pipe.tx_free_at = std::max(pipe.tx_free_at, world.now()) + transfer;
    pipe.unread_bytes += bytes.size();
    TimePoint arrive_at = pipe.tx_free_at + model.latency;
    if (faults.fire(FaultSite::kNetDrop)) arrive_at += model.retransmit_timeout;
    if (faults.fire(FaultSite::kNetReorder)) {
      arrive_at += Duration(rng.below(model.reorder_jitter_max.count()));
    }
    if (faults.fire(FaultSite::kNetDelay)) {
      arrive_at += Duration(rng.below(model.delay_fault_max.count()));
    }
    Segment segment{pipe.next_send_seq++, std::move(bytes), fin};
    if (faults.fire(FaultSite::kNetDuplicate)) {
      const TimePoint again = arrive_at + Duration(1 + rng.below(model.reorder_jitter_max.count()));
      schedule_arrival(peer, again, segment);
    }
    schedule_arrival(peer, arrive_at, std::move(segment));
    return true;
  }

 private:
  void schedule_arrival(int to, TimePoint when, Segment segment) {
    auto self = shared_from_this();
    auto arrive = [self, to, segment = std::move(segment)]() mutable {
      self->arrive(to, std::move(segment));
    };
    fabric_.world().schedule(when, processes_[to], EventKind::kNetSegment, std::move(arrive));
  }

  void arrive(int to, Segment segment) {
    if (reset_) return;
    const int from = 1 - to;
    if (fabric_.partitioned(hosts_[from], hosts_[to])) {
      // Held in retransmission until the partition heals.
      const TimePoint again = fabric_.world().now() + fabric_.model().retransmit_timeout;
      schedule_arrival(to, again, std::move(segment));
      return;
    }
    if (closed_[to]) {
      if (!segment.bytes.empty()) reset();  // data for a closed socket: RST
      return;
    }
    Pipe& pipe = pipes_[from];
    if (segment.seq < pipe.next_recv_seq || pipe.early.contains(segment.seq)) return;  // dup
    const uint64_t seq = segment.seq;
    pipe.early.emplace(seq, std::move(segment));
    for (auto it = pipe.early.find(pipe.next_recv_seq); it != pipe.early.end();
         it = pipe.early.find(pipe.next_recv_seq)) {
      if (!it->second.bytes.empty()) {
        pipe.ready_bytes += it->second.bytes.size();
        pipe.ready.push_back(std::move(it->second.bytes));
      }
      if (it->second.fin) pipe.fin_received = true;
      pipe.early.erase(it);
      ++pipe.next_recv_seq;
    }
    pipe.readable.notify();
  }

  SimFabric& fabric_;
  const std::array<std::string, 2> hosts_;
  const std::array<ProcessId, 2> processes_;
  std::array<Pipe, 2> pipes_;
  std::array<bool, 2> closed_{false, false};
  bool reset_ = false;
};

// ---------------------------------------------------------------------------------------------
// SimStream: one end of a connection.

class SimStream final : public Stream {
 public:
  SimStream(SimNetwork& network, std::shared_ptr<SimConnection> connection, int side, Address peer)
      : network_(network), connection_(std::move(connection)), side_(side), peer_(std::move(peer)) {
    id_ = network_.attach(this);
  }
  ~SimStream() override {
    close();
    network_.detach_stream(id_);
  }

  Task<Result<size_t>> read_some(std::span<uint8_t> out) override {
    ASSERT(!out.empty());
    for (;;) {
      if (closed_) co_return closed_error();
      if (read_shut_) co_return make_error(Code::kUnavailable, "read side shut down");
      if (connection_->is_reset()) co_return reset_error();
      Pipe& in = connection_->inbound(side_);
      if (in.ready_bytes > 0) co_return take(in, out);
      if (in.fin_received) co_return make_error(Code::kUnavailable, "peer closed");
      co_await in.readable.wait();
    }
  }

  Task<Result<void>> read_exact(std::span<uint8_t> out) override {
    size_t filled = 0;
    while (filled < out.size()) {
      Result<size_t> n = co_await read_some(out.subspan(filled));
      if (!n.ok()) co_return n.error();
      filled += *n;
    }
    co_return ok_result();
  }

  Task<Result<void>> write_all(std::span<const std::span<const uint8_t>> buffers) override {
    ASSERT_MSG(!writing_, "concurrent write_all on one stream");
    writing_ = true;
    Result<void> result = co_await write_buffers(buffers);
    writing_ = false;
    co_return result;
  }

  void shutdown_read() override {
    read_shut_ = true;
    connection_->inbound(side_).readable.notify();
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    connection_->mark_closed(side_);
    connection_->inbound(side_).readable.notify();
    connection_->outbound(side_).window_open.notify();
    // FIN after everything already sent; no-op on a reset connection.
    (void)connection_->send(side_, {}, true, network_.faults(), network_.rng());
  }

  Address peer_address() const override { return peer_; }

  // sever(): the process died; the peer sees a reset.
  void reset() { connection_->reset(); }

 private:
  static size_t take(Pipe& in, std::span<uint8_t> out) {
    size_t copied = 0;
    while (copied < out.size() && !in.ready.empty()) {
      const std::vector<uint8_t>& front = in.ready.front();
      const size_t n = std::min(out.size() - copied, front.size() - in.ready_front_offset);
      std::memcpy(out.data() + copied, front.data() + in.ready_front_offset, n);
      copied += n;
      in.ready_front_offset += n;
      if (in.ready_front_offset == front.size()) {
        in.ready.pop_front();
        in.ready_front_offset = 0;
      }
    }
    ASSERT(copied > 0);
    in.ready_bytes -= copied;
    ASSERT(in.unread_bytes >= copied);
    in.unread_bytes -= copied;
    in.window_open.notify();
    return copied;
  }

  Result<void> usable() const {
    if (closed_) return closed_error();
    if (connection_->is_reset()) return reset_error();
    return ok_result();
  }

  Task<Result<void>> write_buffers(std::span<const std::span<const uint8_t>> buffers) {
    Pipe& out = connection_->outbound(side_);
    for (const auto& buffer : buffers) {
      size_t pos = 0;
      while (pos < buffer.size()) {
        CO_RETURN_IF_ERROR(usable());
        if (out.unread_bytes >= kSimWindowBytes) {
          co_await out.window_open.wait();
          continue;
        }
        const size_t n =
            std::min({kSimSegmentBytes, buffer.size() - pos, kSimWindowBytes - out.unread_bytes});
        std::vector<uint8_t> bytes(buffer.begin() + pos, buffer.begin() + pos + n);
        if (!connection_->send(side_, std::move(bytes), false, network_.faults(), network_.rng())) {
          co_return reset_error();
        }
        pos += n;
      }
    }
    // The caller's buffers are free once the last byte is on the wire (serialisation).
    SimWorld& world = network_.fabric().world();
    co_await wait_until(world, network_.process(), EventKind::kNetSegment, out.tx_free_at);
    co_return usable();
  }

  SimNetwork& network_;
  const std::shared_ptr<SimConnection> connection_;
  const int side_;
  const Address peer_;
  uint64_t id_ = 0;
  bool closed_ = false;
  bool read_shut_ = false;
  bool writing_ = false;
};

// ---------------------------------------------------------------------------------------------
// SimListener

class SimListener final : public Listener {
 public:
  SimListener(SimNetwork& network, Address local) : network_(network), local_(std::move(local)) {
    id_ = network_.attach(this);
  }
  ~SimListener() override {
    close();
    network_.detach_listener(id_);
  }

  Task<Result<std::unique_ptr<Stream>>> accept() override {
    for (;;) {
      if (closed_) co_return make_error(Code::kCancelled, "listener closed");
      if (!backlog_.empty()) {
        std::unique_ptr<Stream> stream = std::move(backlog_.front());
        backlog_.pop_front();
        co_return stream;
      }
      co_await ready_.wait();
    }
  }

  Address local_address() const override { return local_; }

  void close() override {
    if (closed_) return;
    closed_ = true;
    network_.fabric().unbind(local_, this);
    backlog_.clear();  // closes them: their peers see the connection end
    ready_.notify();
  }

  ProcessId process() const { return network_.process(); }

  // A connection attempt reached this listener; false when refused (closed or backlog full).
  bool offer(std::shared_ptr<SimConnection> connection, Address peer) {
    if (closed_ || backlog_.size() >= kSimListenBacklog) return false;
    backlog_.push_back(std::make_unique<SimStream>(network_, std::move(connection), 1, peer));
    ready_.notify();
    return true;
  }

 private:
  SimNetwork& network_;
  const Address local_;
  uint64_t id_ = 0;
  bool closed_ = false;
  std::deque<std::unique_ptr<Stream>> backlog_;
  async::Notify ready_;
};

// ---------------------------------------------------------------------------------------------
// SimFabric

SimFabric::~SimFabric() { ASSERT_MSG(listeners_.empty(), "SimFabric destroyed with listeners"); }

void SimFabric::partition(const std::string& a, const std::string& b) {
  partitions_.insert(std::minmax(a, b));
  world_.trace(0x9A27);
}

void SimFabric::heal(const std::string& a, const std::string& b) {
  partitions_.erase(std::minmax(a, b));
}

bool SimFabric::partitioned(const std::string& a, const std::string& b) const {
  return a != b && partitions_.contains(std::minmax(a, b));
}

Result<void> SimFabric::bind(const Address& address, SimListener* listener) {
  auto [it, inserted] = listeners_.emplace(std::make_pair(address.host, address.port), listener);
  if (!inserted) {
    return make_error(Code::kUnavailable, "listen on " + address.to_string() + ": address in use");
  }
  return ok_result();
}

void SimFabric::unbind(const Address& address, const SimListener* listener) {
  auto it = listeners_.find(std::make_pair(address.host, address.port));
  if (it != listeners_.end() && it->second == listener) listeners_.erase(it);
}

SimListener* SimFabric::find_listener(const Address& address) const {
  auto it = listeners_.find(std::make_pair(address.host, address.port));
  return it == listeners_.end() ? nullptr : it->second;
}

uint16_t SimFabric::free_port(const std::string& host) {
  for (;;) {
    const uint16_t port = next_ephemeral_port_++;
    ASSERT_MSG(port != 0, "simulated ports exhausted");
    if (!listeners_.contains(std::make_pair(host, port))) return port;
  }
}

// ---------------------------------------------------------------------------------------------
// SimNetwork

SimNetwork::~SimNetwork() {
  ASSERT_MSG(streams_.empty(), "SimNetwork destroyed before its streams");
  ASSERT_MSG(listeners_.empty(), "SimNetwork destroyed before its listeners");
}

uint64_t SimNetwork::attach(SimStream* stream) {
  const uint64_t id = next_endpoint_id_++;
  streams_.emplace(id, stream);
  return id;
}

uint64_t SimNetwork::attach(SimListener* listener) {
  const uint64_t id = next_endpoint_id_++;
  listeners_.emplace(id, listener);
  return id;
}

std::string SimNetwork::resolve(const std::string& host) const {
  if (host == "localhost" || host == "127.0.0.1" || host == "0.0.0.0") return host_;
  return host;
}

Result<std::unique_ptr<Listener>> SimNetwork::listen(const Address& address) {
  if (severed_) return killed_error();
  Address local{resolve(address.host), address.port};
  if (local.host != host_) {
    return make_error(Code::kUnavailable, "listen on " + address.to_string() + ": not this host");
  }
  if (local.port == 0) local.port = fabric_.free_port(host_);
  auto listener = std::make_unique<SimListener>(*this, local);
  RETURN_IF_ERROR(fabric_.bind(local, listener.get()));
  return std::unique_ptr<Listener>(std::move(listener));
}

Task<Result<std::unique_ptr<Stream>>> SimNetwork::connect(const Address& address,
                                                          Duration timeout) {
  const Address target{resolve(address.host), address.port};
  SimWorld& world = fabric_.world();
  const TimePoint deadline = world.now() + timeout;
  TimePoint attempt_at = world.now() + fabric_.model().latency;
  for (;;) {
    if (severed_) co_return killed_error();
    if (attempt_at > deadline) {
      co_await wait_until(world, process_, EventKind::kNetConnect, deadline);
      co_return make_error(Code::kTimeout, "connect to " + target.to_string() + " timed out");
    }
    co_await wait_until(world, process_, EventKind::kNetConnect, attempt_at);
    if (!fabric_.partitioned(host_, target.host) && !faults_.fire(FaultSite::kNetDrop)) break;
    attempt_at = world.now() + fabric_.model().retransmit_timeout;  // SYN lost: retransmit
  }
  if (severed_) co_return killed_error();
  SimListener* listener = fabric_.find_listener(target);
  const std::array<std::string, 2> hosts{host_, target.host};
  const std::array<ProcessId, 2> processes{process_,
                                           listener != nullptr ? listener->process() : process_};
  auto connection = std::make_shared<SimConnection>(fabric_, hosts, processes);
  const Address client_address{host_, fabric_.ephemeral_port()};
  const bool accepted = listener != nullptr && listener->offer(connection, client_address);
  // The SYN-ACK (or the RST of a refusal) travels back.
  const TimePoint reply_at = world.now() + fabric_.model().latency;
  co_await wait_until(world, process_, EventKind::kNetConnect, reply_at);
  if (!accepted) {
    co_return make_error(Code::kUnavailable, "connect to " + target.to_string() + ": refused");
  }
  if (severed_) {
    connection->reset();
    co_return killed_error();
  }
  co_return std::unique_ptr<Stream>(
      std::make_unique<SimStream>(*this, std::move(connection), 0, target));
}

void SimNetwork::sever() {
  severed_ = true;
  // Copies: closing and resetting may detach entries.
  const auto listeners = listeners_;
  for (const auto& [id, listener] : listeners) listener->close();
  const auto streams = streams_;
  for (const auto& [id, stream] : streams) stream->reset();
}

}  // namespace splitarray::sim
