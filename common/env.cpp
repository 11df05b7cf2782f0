#include "common/env.h"

#include <charconv>

#include "common/async/oneshot.h"

namespace splitarray {

Task<void> sleep_for(Clock& clock, Duration duration) {
  async::Oneshot<bool> fired;
  const TimerId id = clock.call_at(clock.now() + duration, [&fired] { fired.set(true); });
  ASSERT(id != 0);
  // If this coroutine is destroyed while suspended (event loop torn down), the timer's callback
  // is destroyed with the loop without running, so `fired` is never touched after it dies.
  co_await fired.wait();
}

std::string_view fault_site_name(FaultSite site) {
  switch (site) {
    case FaultSite::kDiskReadError:
      return "disk_read_error";
    case FaultSite::kDiskWriteError:
      return "disk_write_error";
    case FaultSite::kDiskFlushError:
      return "disk_flush_error";
    case FaultSite::kDiskBitRot:
      return "disk_bit_rot";
    case FaultSite::kDiskTornWrite:
      return "disk_torn_write";
    case FaultSite::kDiskLostWrite:
      return "disk_lost_write";
    case FaultSite::kDiskMisdirectedWrite:
      return "disk_misdirected_write";
    case FaultSite::kDiskHang:
      return "disk_hang";
    case FaultSite::kNetDrop:
      return "net_drop";
    case FaultSite::kNetDuplicate:
      return "net_duplicate";
    case FaultSite::kNetReorder:
      return "net_reorder";
    case FaultSite::kNetDelay:
      return "net_delay";
    case FaultSite::kNetReset:
      return "net_reset";
    case FaultSite::kNetPartition:
      return "net_partition";
    case FaultSite::kProcessCrash:
      return "process_crash";
    case FaultSite::kCount:
      break;
  }
  return "unknown";
}

std::string Address::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<Address> Address::parse(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return make_error(Code::kInvalidArgument,
                        "bad address (want [v6]:port): " + std::string(text));
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return make_error(Code::kInvalidArgument,
                        "bad address (want host:port): " + std::string(text));
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  const auto [ptr, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port > 65535) {
    return make_error(Code::kInvalidArgument, "bad address: " + std::string(text));
  }
  return Address{std::string(host), static_cast<uint16_t>(port)};
}

}  // namespace splitarray
