// sim/env/sim_network.h
// A simulated TCP network. SimFabric is the wire between every simulated host (listeners,
// partitions, the link model); a SimNetwork is one process's Env Network on its host.
//
// The model:
//   - A connection is two byte pipes. write_all cuts bytes into segments of kSimSegmentBytes;
//     a segment is serialised at the link bandwidth (one queue per direction) and arrives after
//     the link latency. The receiver reassembles by sequence number, so the stream interface is
//     in order and exactly once however segments travel.
//   - Faults on each segment (fired with the sender's FaultPoints): kNetDrop (retransmitted after
//     the retransmission timeout), kNetReorder (extra jitter, so later segments overtake it),
//     kNetDuplicate (a second copy arrives later and is discarded by sequence number),
//     kNetDelay (a long stall), kNetReset (the connection is reset: both ends get kUnavailable).
//   - A partition between two hosts holds their segments and connection attempts in
//     retransmission until it heals; a connect that outlasts its timeout gets kTimeout.
//   - Flow control: at most kSimWindowBytes per direction are unread; a writer waits for the
//     reader, so an application that stops reading gets backpressure, not unbounded memory.
//   - A severed network (its process crashed) closes its listeners and resets its connections.
// Threading: the simulator's one thread.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/env.h"
#include "sim/world/sim_world.h"

namespace splitarray::sim {

inline constexpr size_t kSimSegmentBytes = 64 * 1024;
inline constexpr size_t kSimWindowBytes = 4 * 1024 * 1024;
inline constexpr size_t kSimListenBacklog = 128;
inline constexpr uint16_t kSimEphemeralPortFirst = 40000;

struct LinkModel {
  Duration latency = std::chrono::microseconds(50);
  uint64_t bytes_per_second = 1'250'000'000;  // 10 Gbit/s
  Duration retransmit_timeout = std::chrono::milliseconds(200);
  Duration reorder_jitter_max = std::chrono::milliseconds(2);
  Duration delay_fault_max = std::chrono::milliseconds(800);
};

class SimConnection;
class SimListener;
class SimStream;

class SimFabric final {
 public:
  SimFabric(SimWorld& world, LinkModel model) : world_(world), model_(model) {}
  ~SimFabric();

  SimWorld& world() { return world_; }
  const LinkModel& model() const { return model_; }

  // Partitions are symmetric and between hosts (IP strings).
  void partition(const std::string& a, const std::string& b);
  void heal(const std::string& a, const std::string& b);
  void heal_all() { partitions_.clear(); }
  bool partitioned(const std::string& a, const std::string& b) const;
  size_t partitions() const { return partitions_.size(); }

  // Listener registry, used by SimNetwork.
  Result<void> bind(const Address& address, SimListener* listener);
  // Only the listener bound there may unbind it (a listener that failed to bind must not).
  void unbind(const Address& address, const SimListener* listener);
  SimListener* find_listener(const Address& address) const;
  uint16_t free_port(const std::string& host);
  uint16_t ephemeral_port() { return next_ephemeral_port_++; }

 private:
  SimWorld& world_;
  const LinkModel model_;
  std::set<std::pair<std::string, std::string>> partitions_;  // (min, max) host pairs
  std::map<std::pair<std::string, uint16_t>, SimListener*> listeners_;
  uint16_t next_ephemeral_port_ = kSimEphemeralPortFirst;
};

class SimNetwork final : public Network {
 public:
  SimNetwork(SimFabric& fabric, ProcessId process, std::string host, FaultPoints& faults, Prng rng)
      : fabric_(fabric), process_(process), host_(std::move(host)), faults_(faults), rng_(rng) {}
  ~SimNetwork() override;

  Result<std::unique_ptr<Listener>> listen(const Address& address) override;
  Task<Result<std::unique_ptr<Stream>>> connect(const Address& address, Duration timeout) override;

  // The process crashed: close its listeners, reset its connections, refuse new ones.
  void sever();
  bool severed() const { return severed_; }

  const std::string& host() const { return host_; }
  ProcessId process() const { return process_; }
  SimFabric& fabric() { return fabric_; }
  FaultPoints& faults() { return faults_; }
  Prng& rng() { return rng_; }

  // Registration of this process's live endpoints (for sever()). Ids are handed out in order,
  // so sever() acts on them in creation order, never in pointer order.
  uint64_t attach(SimStream* stream);
  void detach_stream(uint64_t id) { streams_.erase(id); }
  uint64_t attach(SimListener* listener);
  void detach_listener(uint64_t id) { listeners_.erase(id); }

 private:
  // "localhost" and 127.0.0.1 mean this host.
  std::string resolve(const std::string& host) const;

  SimFabric& fabric_;
  const ProcessId process_;
  const std::string host_;
  FaultPoints& faults_;
  Prng rng_;
  bool severed_ = false;
  uint64_t next_endpoint_id_ = 1;
  std::map<uint64_t, SimStream*> streams_;
  std::map<uint64_t, SimListener*> listeners_;
};

}  // namespace splitarray::sim
