#include "netshelf/service/host_stats.h"

#include <bit>

#include "common/assert.h"

namespace splitarray::netshelf {

size_t latency_bucket(Duration latency) {
  const int64_t micros = to_micros(latency);
  if (micros <= 0) return 0;
  const size_t bucket = static_cast<size_t>(std::bit_width(static_cast<uint64_t>(micros)));
  return bucket < kLatencyBuckets ? bucket : kLatencyBuckets - 1;
}

uint64_t HostCounters::latency_quantile_micros(double q) const {
  ASSERT(q >= 0.0);
  ASSERT(q <= 1.0);
  uint64_t total = 0;
  for (uint64_t n : latency_buckets) total += n;
  if (total == 0) return 0;
  const double target = q * static_cast<double>(total);
  uint64_t seen = 0;
  for (size_t b = 0; b < kLatencyBuckets; ++b) {
    seen += latency_buckets[b];
    if (static_cast<double>(seen) >= target && latency_buckets[b] > 0) return uint64_t{1} << b;
  }
  return uint64_t{1} << (kLatencyBuckets - 1);
}

void HostStats::record(HostId host, uint64_t bytes_in, uint64_t bytes_out, bool error,
                       Duration latency) {
  if (!hosts_.contains(host) && hosts_.size() >= kHostsTrackedMax) host = HostId(0);
  HostCounters& c = hosts_[host];
  ++c.requests;
  c.errors += error ? 1 : 0;
  c.bytes_in += bytes_in;
  c.bytes_out += bytes_out;
  ++c.latency_buckets[latency_bucket(latency)];
}

}  // namespace splitarray::netshelf
