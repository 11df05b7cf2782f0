// netshelf/service/host_stats.h
// Per-host request accounting for the status request: counts, bytes, errors and a latency
// histogram with power-of-two microsecond buckets (bucket b counts latencies in [2^(b-1), 2^b)
// µs; bucket 0 is < 1 µs; the last bucket also takes everything slower). Pure and bounded: at
// most kHostsTrackedMax hosts, beyond which requests are counted under host 0 ("other").
#pragma once

#include <array>
#include <cstdint>
#include <map>

#include "common/ids.h"
#include "common/units.h"

namespace splitarray::netshelf {

inline constexpr size_t kLatencyBuckets = 32;  // up to 2^31 µs (~36 min): ample
inline constexpr size_t kHostsTrackedMax = 4096;

struct HostCounters {
  uint64_t requests = 0;
  uint64_t errors = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::array<uint64_t, kLatencyBuckets> latency_buckets{};

  // Upper bound (µs) of the bucket holding the q-quantile, 0 <= q <= 1; 0 if empty.
  uint64_t latency_quantile_micros(double q) const;
};

size_t latency_bucket(Duration latency);

class HostStats final {
 public:
  void record(HostId host, uint64_t bytes_in, uint64_t bytes_out, bool error, Duration latency);
  const std::map<HostId, HostCounters>& hosts() const { return hosts_; }

 private:
  std::map<HostId, HostCounters> hosts_;  // ordered: status output is deterministic
};

}  // namespace splitarray::netshelf
