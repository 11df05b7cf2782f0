// sim/harness/fs_model.h
// The file-system harness's model of one datastore (fs_sim.h): what its namespace, attributes
// and file bytes must be, and the check that compares a real FileSystem's whole tree with it.
//
// FsTree is one state of the datastore as a value: objects (directories and regular files) keyed
// by a model id, directories naming their entries, files holding their bytes. The inode number of
// an object is learned from the reply that created it (0 until then: a create whose reply was
// lost), and bound when a recovered tree is matched.
//
// FsModel keeps the states a crash may leave. The file system logs every operation in order and
// replays a prefix of that log after a crash (file_system.h invariants 1 and 2; a gap in the log
// fails the open), so a recovered datastore must equal the state after some prefix of the
// operations issued:
//   window[0]      the acknowledged state: after the last operation acknowledged as durable
//                  (a namespace operation, a setattr, a stable write; unstable writes once a later
//                  commit() returned ok);
//   window[k]      after the k-th operation issued since (unstable writes, and the operation in
//                  flight whose outcome is unknown);
//   window.back()  what the live owner holds.
// After a crash (or a failed operation, whose effect is unknown) a new owner opens and the tree it
// shows must equal one window state in namespace and attributes: every acknowledged operation is
// visible, the operation in flight is all or nothing. File bytes must equal that state's bytes;
// a write whose acknowledgement was not durable may have been cut per block (NFS writes are not
// atomic), so a block may instead equal the same block of a later window state ("torn").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/env.h"
#include "hostdriver/fs/file_system.h"

namespace splitarray::sim {

using FileBytes = std::shared_ptr<const std::vector<uint8_t>>;
using hostdriver::fs::FileType;

inline constexpr uint32_t kModelRoot = 1;
// Torn writes are judged per block: the harness's block store uses 4 KiB blocks (fs_sim.cpp).
inline constexpr uint64_t kFsModelBlockBytes = 4096;

struct FsObject {
  uint64_t inode = 0;       // the file system's inode number; 0: not known yet
  uint64_t generation = 0;  // 0: not known yet
  FileType type = FileType::kRegular;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  FileBytes data;                           // regular files: the bytes (size = data->size())
  std::map<std::string, uint32_t> entries;  // directories: name -> model id
};

struct FsTree {
  std::map<uint32_t, FsObject> objects;  // model id -> object; kModelRoot is the root
  uint32_t next_id = kModelRoot + 1;

  static FsTree fresh(uint32_t root_mode);
  const FsObject& at(uint32_t id) const;
  FsObject& at(uint32_t id);
  // The entry's model id in directory `dir`, or 0.
  uint32_t lookup(uint32_t dir, const std::string& name) const;
  // The object's directory (directories only; root: itself), or 0.
  uint32_t parent(uint32_t dir) const;
  bool is_under(uint32_t dir, uint32_t ancestor) const;  // dir == ancestor counts
  uint32_t nlink(uint32_t id) const;
  uint64_t size(uint32_t id) const;
  std::string path(uint32_t id) const;  // for messages: one of its names
  // Removes the entry; drops the object when nothing names it any more.
  void unlink(uint32_t dir, const std::string& name);
};

// What a real tree looked like, read through a FileSystem.
struct ObservedObject {
  hostdriver::fs::Attributes attrs;
  std::vector<uint8_t> data;                // regular files
  std::map<std::string, uint64_t> entries;  // directories, without "." and ".."
  uint64_t dotdot = 0;
};
struct ObservedTree {
  std::map<uint64_t, ObservedObject> objects;  // inode -> object, reachable from the root
  std::vector<std::string> problems;           // found while reading (cycles, bad "..")
};

// Reads the whole tree (every listing, attribute and file byte). Errors of the file system.
Task<Result<ObservedTree>> observe_tree(hostdriver::fs::FileSystem& fs);

struct TreeMatch {
  bool exact = false;  // every byte equals the state's (else some block matched a later state)
  std::map<uint32_t, uint64_t> inodes;  // model id -> inode, for every object
};
// Compares observed with window[index]; later window states may explain torn blocks of files.
// nullopt and the first difference in `why` when they differ.
std::optional<TreeMatch> match_tree(const std::vector<FsTree>& window, size_t index,
                                    const ObservedTree& observed, bool allow_torn,
                                    std::string* why);

struct FsModel {
  std::vector<FsTree> window;    // see above; never empty
  std::vector<std::string> ops;  // ops[k]: the operation that made window[k] (k >= 1)
  uint64_t issued = 0;           // operations issued (numbering for messages)

  // Counters for the report.
  uint64_t acked_ops = 0;        // operations that returned what the model predicted
  uint64_t expected_errors = 0;  // ... of which errors the model predicted (exists, not empty)
  uint64_t failed_ops = 0;       // operations that failed (outcome unknown)
  uint64_t acked_writes = 0;
  uint64_t acked_commits = 0;
  uint64_t checked_reads = 0;
  uint64_t opens = 0;               // owners that opened the datastore
  uint64_t zombie_opens = 0;        // opens that finished after their host had crashed
  uint64_t reopens = 0;             // owners that reopened after a failed operation
  uint64_t resolves = 0;            // recovered trees matched against the window
  uint64_t resolved_uncertain = 0;  // ... that had more than one candidate state
  uint64_t resolved_dropped = 0;    // ... that matched a state before the last one issued
  uint64_t torn_matches = 0;        // ... whose files matched only block by block
  uint64_t replayed_ops = 0;        // operations replayed by opens
  uint64_t checkpoints = 0;

  FsModel() { window.push_back(FsTree::fresh(0755)); }
  const FsTree& live() const { return window.back(); }
  // Pushes the state after an operation about to be issued.
  void issue(FsTree after, std::string what);
  // The operation that made window.back() was acknowledged as durable.
  void durable_back() { durable_through(window.size() - 1); }
  // Every operation through window[index] is durable (commit()).
  void durable_through(size_t index);
  // Describes window[k] for messages ("after #12 rename /a -> /b").
  std::string describe(size_t index) const;
};

// Matches a tree a new owner shows against the window and adopts the state it matched (its
// inode numbers bound, torn files as observed). False (a violation in `why`) if no state matches;
// the model then adopts the observed tree so the run can go on. `matched`: which state matched.
bool resolve_model(FsModel& model, const ObservedTree& observed, std::string* why,
                   std::string* matched = nullptr);

}  // namespace splitarray::sim
