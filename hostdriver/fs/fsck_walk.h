// hostdriver/fs/fsck_walk.h
// What fsck (fsck.h) collects while it walks a checkpoint, shared by its two halves: fsck.cpp
// (trees, namespace, file data) and fsck_shelf.cpp (containers, index, the shelf's listing).
// Internal to fsck.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "hostdriver/blockstore/block_store.h"
#include "hostdriver/fs/fsck.h"
#include "hostdriver/fs/records.h"
#include "protocol/shelf_client.h"

namespace splitarray::hostdriver::fs {

class FileSystemImpl;

struct FsckWalk {
  // What a referenced chunk location must hold (a location is one chunk).
  struct Chunk {
    protocol::Fingerprint fp{};
    uint32_t length = 0;
  };

  FsckReport report;
  size_t problems_max = 0;
  std::map<uint64_t, InodeRecord> inodes;
  std::map<uint64_t, uint64_t> references;  // inode -> entries naming it
  std::map<uint64_t, uint64_t> subdirs;     // directory -> subdirectory entries
  std::map<uint64_t, uint64_t> dir_entries;
  // Every chunk location referenced: (container, offset) -> what it holds.
  std::map<std::pair<uint64_t, uint32_t>, Chunk> locations;
  std::set<uint64_t> inconsistent;  // containers with a problem of kind (c)

  void problem(std::string what) {
    ++report.problems_total;
    if (report.problems.size() < problems_max) report.problems.push_back(std::move(what));
  }
  // Kind (c): counted once per container, however many reasons it has.
  void inconsistent_container(uint64_t container, std::string what) {
    inconsistent.insert(container);
    report.containers_inconsistent = inconsistent.size();
    problem("container " + std::to_string(container) + ": " + std::move(what));
  }
  // Kind (d): a location named with another fingerprint or length than before.
  void reference(const blockstore::BlockRef& ref, const std::string& where) {
    if (ref.location.container_id == 0) return;
    const Chunk chunk{ref.fp, ref.location.length};
    auto [it, inserted] =
        locations.try_emplace({ref.location.container_id, ref.location.offset}, chunk);
    if (inserted) return;
    const bool other_fp = it->second.fp != ref.fp;
    if (!other_fp && it->second.length == ref.location.length) return;
    ++report.locations_doubly_referenced;
    problem(where + ": container " + std::to_string(ref.location.container_id) + " offset " +
            std::to_string(ref.location.offset) + " is referenced with two " +
            (other_fp ? "fingerprints" : "lengths"));
  }
};

// The shelf half of fsck, after the walk collected every reference: the referenced containers'
// stripes (options.check_fragments), the index, and the listing (options.check_listing).
Task<Result<void>> check_shelf(FileSystemImpl& impl, FsckWalk& walk, const FsckOptions& options);

// Check (e) for one container the listing found unreferenced and allocated, whose fragments
// agree (fsck_leaks.cpp): garbage if an index entry names it, leaked if nothing does, not judged
// if another host allocated it or its footer cannot be read. `bytes_on_disks`: its fragments'
// payload bytes.
Task<Result<void>> check_unreferenced(FileSystemImpl& impl, FsckWalk& walk,
                                      protocol::ShelfClient& client, uint64_t container,
                                      uint64_t bytes_on_disks);

}  // namespace splitarray::hostdriver::fs
