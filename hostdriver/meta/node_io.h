// hostdriver/meta/node_io.h
// NodeIo: where B+tree nodes live. The real implementation stores them as chunks through the
// BlockStore (hostdriver/fs); tests use an in-memory one. Nodes are content-addressed: a ref's fp
// names the node's bytes, so a loaded node can be cached by fp forever.
// Threading: called on the datastore's event loop; calls may be in flight concurrently.
#pragma once

#include <cstdint>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "hostdriver/blockstore/block_store.h"

namespace splitarray::hostdriver::meta {

class NodeIo {
 public:
  virtual ~NodeIo() = default;
  // The node stored under ref: exactly node_bytes bytes, its fp already verified by the
  // implementation. Errors pass through (kCorruption, kIo, kUnavailable...).
  virtual Task<Result<std::vector<uint8_t>>> load(blockstore::BlockRef ref) = 0;
  // Stores nodes (each exactly node_bytes, zero padded) and returns their refs in the same order.
  virtual Task<Result<std::vector<blockstore::BlockRef>>> store(
      std::vector<std::vector<uint8_t>> nodes) = 0;
};

}  // namespace splitarray::hostdriver::meta
