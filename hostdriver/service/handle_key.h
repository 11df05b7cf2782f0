// hostdriver/service/handle_key.h
// The key that seals a datastore's NFS file handles (nfs/file_handle.h) lives in the shelf
// register `datastores/<name>/nfs_handle_key`, so handles stay valid across host driver restarts
// and when another host takes the datastore over (hosts hold no unique state).
#pragma once

#include <string>

#include "hostdriver/nfs/file_handle.h"
#include "protocol/shelf_client.h"

namespace splitarray::hostdriver::service {

std::string handle_key_register(const std::string& datastore);

// Returns the datastore's key, storing `fresh` (random bytes from the caller) if it has none.
// Two hosts racing get the same key: the register's compare-and-swap admits one creation.
// kCorruption if the register holds something that is not a key.
Task<Result<nfs::HandleKey>> load_or_create_handle_key(protocol::ShelfClient& shelf,
                                                       std::string datastore, nfs::HandleKey fresh);

}  // namespace splitarray::hostdriver::service
