// common/env_asio/event_loop.h
// run_event_loop: runs a process's io_context until it stops, optionally polling for a short
// while before it blocks.
//
// Why poll: on a virtual machine an idle vCPU halts, and waking it for the next network event
// costs tens of microseconds, which a queue-depth-1 client pays on every call (an NFS 4 KiB read
// from cache took ~150 us round trip although the host driver spent ~30 us on it). After the loop
// runs out of ready work it keeps polling (epoll without a timeout) for up to `spin` before it
// blocks, so a client's next call, a shelf reply or a compute result arriving within that window
// is picked up without a wake-up. The cost is CPU: at most `spin` of polling after each burst of
// work, none while the loop is busy or has been idle longer than `spin`.
#pragma once

#include <utility>  // before Asio (STYLE.md: Boost 1.74 + GCC 12)

#include <boost/asio/io_context.hpp>

#include "common/units.h"

namespace splitarray {

// Returns when `io` has stopped (io.stop(), or no work left). spin == 0: plain io.run().
void run_event_loop(boost::asio::io_context& io, Duration spin);

}  // namespace splitarray
