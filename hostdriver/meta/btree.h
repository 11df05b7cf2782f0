// hostdriver/meta/btree.h
// BTree: a copy-on-write B+tree of (u64 key -> value bytes) whose nodes are content-addressed
// chunks (DESIGN.md §5). The file system keeps its inode table, each directory and each file's
// block map in one. A tree's durable state is one root BlockRef (nullopt: empty tree).
//
// Copy-on-write: clean nodes live only in the shared NodeCache (keyed by fp) or on disk. Changing
// a node copies it into a dirty in-memory node owned by its parent, which is then dirty too, up to
// a dirty root. flush() stores the dirty nodes bottom-up through NodeIo and yields the new root;
// the old root's nodes are untouched, so a snapshot is just a kept root ref.
//
// Invariants:
//   (1) Keys are strictly increasing in every node. In an interior node, child i's key is <= every
//       key below child i, and every key below child i is < child i+1's key.
//   (2) Every node's encoding fits node_bytes: a node that outgrows it splits in two by bytes (a
//       root split adds a level). No stored node is empty: a node that becomes empty is removed
//       from its parent, an empty tree has no root, and a root with one child is replaced by it.
//       Underfull nodes are not merged (a tree shrunk by erases stays as tall as it grew).
//   (3) Dirty nodes are never evicted; dirty_bytes() tells the owner when to flush.
//   (4) Deterministic: the same operations in the same order give the same nodes and root fp.
//   (5) Operations interleave at co_await points (several may be in flight on one tree). Each
//       runs synchronous attempts from the root; an attempt that meets a stored node that is not
//       in memory changes nothing, the node is loaded (and pinned for this operation), and the
//       attempt is retried. No pointer into the tree is held across a co_await. A load error is
//       returned and leaves the tree unchanged.
//   (6) flush() never overlaps a mutation (put/erase/erase_from) of the same tree: the owner
//       guarantees it, the tree ASSERTs it. Reads (get/scan) may run during a flush.
// Threading: every method runs on the datastore's event loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "hostdriver/blockstore/block_store.h"
#include "hostdriver/meta/btree_node.h"
#include "hostdriver/meta/node_cache.h"
#include "hostdriver/meta/node_io.h"

namespace splitarray::hostdriver::meta {

// Attempts of one operation step (get/put/erase/erase_from, or one leaf of a scan). Without
// interleaving a step needs at most one attempt per level; more means the nodes it loaded keep
// being replaced by concurrent mutations and flushes, and it answers kBusy.
inline constexpr size_t kAttemptsMax = 2 * size_t{kTreeLevelsMax} + 2;
// One scan answers at most this many entries (readdir and fsck page through with `next`).
inline constexpr size_t kScanEntriesMax = 65536;
// flush() hands NodeIo::store at most this many nodes per call (bounds its encoded bytes).
inline constexpr size_t kStoreBatchNodesMax = 256;

struct Scan {
  std::vector<LeafEntry> entries;  // keys >= from, increasing, at most entries_max
  // The smallest key after the last entry (where the next scan continues); nullopt at the end.
  std::optional<uint64_t> next;
};

// What erase_from erased. Whole subtrees that lie at/after first_key are unlinked without loading
// them, so their entries cannot be counted; entries_counted counts only the entries removed from
// the one leaf that straddles first_key.
struct ErasedFrom {
  uint64_t entries_counted = 0;   // entries removed from the straddling leaf
  uint64_t subtrees_dropped = 0;  // child subtrees unlinked whole (each held >= 1 entry)
  bool any() const { return entries_counted > 0 || subtrees_dropped > 0; }
  friend bool operator==(const ErasedFrom&, const ErasedFrom&) = default;
};

class BTree final {
 public:
  // node_bytes must be valid_node_bytes(); root: the tree's last flushed root (nullopt: empty).
  BTree(NodeCache& cache, NodeIo& io, uint32_t node_bytes,
        std::optional<blockstore::BlockRef> root);
  ~BTree();
  BTree(const BTree&) = delete;
  BTree& operator=(const BTree&) = delete;
  BTree(BTree&&) = delete;
  BTree& operator=(BTree&&) = delete;

  Task<Result<std::optional<std::vector<uint8_t>>>> get(uint64_t key);
  // Insert or replace. kInvalidArgument if value.size() > kValueBytesMax. The caller keeps the
  // bytes behind value alive until this returns.
  Task<Result<void>> put(uint64_t key, std::span<const uint8_t> value);
  // True if the key existed.
  Task<Result<bool>> erase(uint64_t key);
  // Erases every key >= first_key (truncate). Loads only the nodes on the path to first_key.
  Task<Result<ErasedFrom>> erase_from(uint64_t first_key);
  // Entries with key >= from in key order, at most entries_max (<= kScanEntriesMax, else
  // kInvalidArgument). Not a snapshot when mutations interleave: each entry was current when its
  // leaf was read, and keys are strictly increasing.
  Task<Result<Scan>> scan(uint64_t from, size_t entries_max);

  // Stores every dirty node, one NodeIo::store per level (or per kStoreBatchNodesMax nodes),
  // leaves first. Afterwards the tree is clean, root() is the answer and the stored nodes are in
  // the cache. On error the tree stays dirty and consistent (nodes stored so far are clean) and
  // flush may be retried.
  Task<Result<std::optional<blockstore::BlockRef>>> flush();

  // The durable root; ASSERTs !dirty().
  std::optional<blockstore::BlockRef> root() const;
  // True when the tree differs from its last flushed (or opened) root.
  bool dirty() const { return dirty_; }
  // What the next flush writes at most: dirty nodes * node_bytes.
  size_t dirty_bytes() const { return dirty_nodes_ * node_bytes_; }
  size_t dirty_nodes() const { return dirty_nodes_; }
  uint32_t node_bytes() const { return node_bytes_; }

  // fsck: calls visit(ref, is_leaf) for every node reachable from root(), parents before
  // children, children in key order. Loads interior nodes only (a leaf's ref is known from its
  // parent). ASSERTs !dirty(). kCorruption if a child's level does not match its parent's.
  Task<Result<void>> visit_nodes(
      std::function<void(const blockstore::BlockRef&, bool is_leaf)> visit);

 private:
  struct DirtyNode;
  struct Impl;  // the synchronous attempts (btree.cpp)
  struct Op;

  Task<Result<void>> load_needed(Op& op);
  Task<Result<std::shared_ptr<const DecodedNode>>> load_node(blockstore::BlockRef ref);
  Task<Result<void>> store_level(uint8_t level);

  NodeCache& cache_;
  NodeIo& io_;
  const uint32_t node_bytes_;
  // The root: a stored node (root_ref_), a dirty node (root_node_), or neither (empty tree).
  std::optional<blockstore::BlockRef> root_ref_;
  std::unique_ptr<DirtyNode> root_node_;
  bool dirty_ = false;
  size_t dirty_nodes_ = 0;  // nodes reachable through root_node_ that are dirty (root included)
  size_t mutations_inflight_ = 0;  // put/erase/erase_from coroutines not yet finished
  size_t reads_inflight_ = 0;      // get/scan/visit_nodes coroutines not yet finished
  bool flushing_ = false;
};

}  // namespace splitarray::hostdriver::meta
