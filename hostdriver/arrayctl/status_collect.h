// hostdriver/arrayctl/status_collect.h
// Gathers what `arrayctl status` shows: the shelf's status, then the status record of every host
// it can find (the ids in `hosts/directory`, the shelf's per-host counters and its NVRAM logs),
// then the root register of every datastore those records name. Only the shelf's status is
// required; a register that cannot be read becomes a warning or an "unreadable" host, so one bad
// record never hides the rest.
// Threading: the Env's event loop; `shelf` must stay connected until the task completes.
#pragma once

#include <string>

#include "common/env.h"
#include "hostdriver/arrayctl/status_report.h"
#include "protocol/shelf_client.h"

namespace splitarray::hostdriver::arrayctl {

// Hosts read per run (the shelf tracks at most 4096 ids, the directory at most 1024): beyond
// this the rest are named in a warning, not read.
inline constexpr size_t kHostsReadMax = 2048;

// The root register of a datastore: the same name hostdriver/fs (records.cpp, root_register)
// swaps at every checkpoint. Duplicated so that arrayctl does not link the file system.
std::string datastore_root_register(std::string_view datastore);

// Errors: only the shelf's status request (kUnavailable, kTimeout, ...).
Task<Result<StatusSnapshot>> collect_status(Env& env, protocol::ShelfClient& shelf,
                                            std::string shelf_address);

}  // namespace splitarray::hostdriver::arrayctl
