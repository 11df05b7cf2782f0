// hostdriver/status/fs_figures.h
// A datastore's status from its file system's figures (FsStats, which carries the block store's
// BlockStoreStats). Header-only on purpose: sa_hostdriver_status does not link the file system, so
// arrayctl (which only reads records) builds without it; the host driver, which has both, calls
// this when it takes a snapshot.
#pragma once

#include <string>

#include "hostdriver/fs/file_system.h"
#include "hostdriver/status/host_status.h"

namespace splitarray::hostdriver::status {

inline DatastoreStatus datastore_status(std::string name, std::string export_url, uint32_t log_id,
                                        const fs::FsStats& fs) {
  const blockstore::BlockStoreStats& store = fs.store;
  DatastoreStatus d;
  d.name = std::move(name);
  d.export_url = std::move(export_url);
  d.log_id = log_id;
  d.inodes = fs.inodes;
  d.checkpoints = fs.checkpoints;
  d.operations = fs.operations;
  // Since format (fs::DataFigures), not since this process started: the ratios survive restarts.
  d.logical_bytes = fs.figures.written_bytes;
  d.unique_bytes = fs.figures.unique_bytes;
  d.stored_bytes = fs.figures.stored_bytes;
  d.blocks_written = store.blocks_written;
  d.zero_blocks = store.zero_blocks;
  d.dedup_hits = store.dedup_hits;
  d.chunks_stored = store.chunks_stored;
  d.containers_destaged = store.containers_destaged;
  d.reads = store.reads;
  d.read_cache_hits = store.read_cache_hits;
  d.degraded_reads = store.degraded_reads;
  d.repairs = store.repairs;
  d.unrecoverable_blocks = store.unrecoverable_blocks;
  return d;
}

}  // namespace splitarray::hostdriver::status
