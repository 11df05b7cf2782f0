// hostdriver/meta/btree.cpp
// Each operation is a coroutine that loops over synchronous attempts (Impl::*_attempt). An attempt
// either finishes (value), or stops before changing anything because a stored node it needs is
// not in memory (Op::need set: the coroutine loads it and retries), or fails (kCorruption).
// Mutating attempts work in two passes: pass 1 resolves every node they will touch (read only);
// pass 2 copies that path into dirty nodes and changes it, with no co_await in between.
#include "hostdriver/meta/btree.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/assert.h"

namespace splitarray::hostdriver::meta {

using blockstore::BlockRef;

// A node being changed. While kids[i] is set, node.children[i].ref is meaningless: child i is the
// dirty node kids[i] (its key is still node.children[i].key).
struct BTree::DirtyNode {
  DecodedNode node;
  std::vector<std::unique_ptr<DirtyNode>> kids;  // interior: one per child, null = clean
};

// State of one operation step across its attempts.
struct BTree::Op {
  // Nodes this step loaded, kept alive so cache eviction cannot undo its progress.
  std::vector<std::pair<protocol::Fingerprint, std::shared_ptr<const DecodedNode>>> pins;
  // Clean nodes the current attempt looked at (keeps its raw pointers valid within the attempt).
  std::vector<std::shared_ptr<const DecodedNode>> held;
  std::optional<BlockRef> need;  // set by an attempt that stopped for this node
};

namespace {

Error corrupt(const std::string& what) { return make_error(Code::kCorruption, "btree: " + what); }

uint64_t first_key(const DecodedNode& node) {
  ASSERT(node.count() > 0);
  return node.is_leaf() ? node.entries.front().key : node.children.front().key;
}

// The child whose range holds key: the last child with child.key <= key, else the first.
size_t route(const DecodedNode& node, uint64_t key) {
  auto it = std::upper_bound(node.children.begin(), node.children.end(), key,
                             [](uint64_t k, const ChildRef& c) { return k < c.key; });
  return it == node.children.begin() ? 0 : static_cast<size_t>(it - node.children.begin()) - 1;
}

size_t first_child_at_or_after(const DecodedNode& node, uint64_t key) {
  auto it = std::lower_bound(node.children.begin(), node.children.end(), key,
                             [](const ChildRef& c, uint64_t k) { return c.key < k; });
  return static_cast<size_t>(it - node.children.begin());
}

std::vector<LeafEntry>::const_iterator entry_at_or_after(const DecodedNode& leaf, uint64_t key) {
  return std::lower_bound(leaf.entries.begin(), leaf.entries.end(), key,
                          [](const LeafEntry& e, uint64_t k) { return e.key < k; });
}

// RAII count of operations in flight on a tree (flush ASSERTs no mutation is; the destructor
// that none at all is).
class InflightScope {
 public:
  explicit InflightScope(size_t& inflight) : inflight_(inflight) { ++inflight_; }
  ~InflightScope() { --inflight_; }
  InflightScope(const InflightScope&) = delete;
  InflightScope& operator=(const InflightScope&) = delete;

 private:
  size_t& inflight_;
};

}  // namespace

struct BTree::Impl {
  // A node reached in this attempt: its content, and its dirty owner if dirty.
  struct View {
    const DecodedNode* node = nullptr;
    DirtyNode* dirty = nullptr;
  };
  // Root first; index[l] is the child of views[l] that views[l + 1] is.
  struct Path {
    std::vector<View> views;
    std::vector<size_t> index;
  };
  struct LeafStep {
    bool finished = false;
    uint64_t next_cursor = 0;
  };

  static bool empty(const BTree& t) { return !t.root_node_ && !t.root_ref_; }

  static std::unique_ptr<DirtyNode> copy_of(const DecodedNode& clean) {
    auto node = std::make_unique<DirtyNode>();
    node->node = clean;
    node->kids.resize(clean.children.size());
    return node;
  }

  // The clean node under ref from this step's pins or the cache; null (and op.need) if neither.
  static const DecodedNode* find_clean(BTree& t, Op& op, const BlockRef& ref) {
    for (const auto& [fp, node] : op.pins) {
      if (fp == ref.fp) return node.get();
    }
    std::shared_ptr<const DecodedNode> cached = t.cache_.lookup(ref.fp);
    if (!cached) {
      op.need = ref;
      return nullptr;
    }
    op.held.push_back(std::move(cached));
    return op.held.back().get();
  }

  // Non-empty tree only. nullopt: op.need is set.
  static std::optional<View> root_view(BTree& t, Op& op) {
    ASSERT(!empty(t));
    if (t.root_node_) return View{&t.root_node_->node, t.root_node_.get()};
    const DecodedNode* node = find_clean(t, op, *t.root_ref_);
    if (node == nullptr) return std::nullopt;
    return View{node, nullptr};
  }

  static Result<std::optional<View>> child(BTree& t, Op& op, View parent, size_t i) {
    ASSERT(!parent.node->is_leaf() && i < parent.node->children.size());
    if (parent.dirty != nullptr && parent.dirty->kids[i]) {
      DirtyNode* kid = parent.dirty->kids[i].get();
      ASSERT(kid->node.level + 1 == parent.node->level);
      return std::optional<View>(View{&kid->node, kid});
    }
    const DecodedNode* node = find_clean(t, op, parent.node->children[i].ref);
    if (node == nullptr) return std::optional<View>();
    if (node->level + 1 != parent.node->level) return corrupt("child level does not match parent");
    return std::optional<View>(View{node, nullptr});
  }

  // Pass 1 of most operations: the path from the root to the leaf whose range holds key.
  // nullopt: op.need is set. Non-empty tree only.
  static Result<std::optional<Path>> descend(BTree& t, Op& op, uint64_t key) {
    op.held.clear();
    std::optional<View> at = root_view(t, op);
    if (!at) return std::optional<Path>();
    Path path;
    path.views.push_back(*at);
    while (!path.views.back().node->is_leaf()) {
      const size_t i = route(*path.views.back().node, key);
      ASSIGN_OR_RETURN(std::optional<View> next, child(t, op, path.views.back(), i));
      if (!next) return std::optional<Path>();
      path.index.push_back(i);
      path.views.push_back(*next);
    }
    ASSERT(path.index.size() + 1 == path.views.size());
    return std::optional<Path>(std::move(path));
  }

  // Pass 2: copy-on-write of the path's clean nodes; returns the dirty path, root first.
  static std::vector<DirtyNode*> make_dirty(BTree& t, const Path& path) {
    ASSERT_MSG(!t.flushing_, "mutation during flush: the owner must serialize them");
    ASSERT(!path.views.empty());
    if (!t.root_node_) {
      t.root_node_ = copy_of(*path.views[0].node);
      t.root_ref_.reset();
      ++t.dirty_nodes_;
    }
    t.dirty_ = true;
    std::vector<DirtyNode*> out{t.root_node_.get()};
    for (size_t l = 0; l < path.index.size(); ++l) {
      std::unique_ptr<DirtyNode>& kid = out[l]->kids[path.index[l]];
      if (!kid) {
        ASSERT(path.views[l + 1].dirty == nullptr);
        kid = copy_of(*path.views[l + 1].node);
        ++t.dirty_nodes_;
      }
      ASSERT(path.views[l + 1].dirty == nullptr || path.views[l + 1].dirty == kid.get());
      out.push_back(kid.get());
    }
    return out;
  }

  // Moves the upper half (by bytes) of an overfull node into a new node.
  static std::unique_ptr<DirtyNode> split_node(BTree& t, DirtyNode& left) {
    DecodedNode& node = left.node;
    ASSERT(node.count() >= 2);
    auto right = std::make_unique<DirtyNode>();
    right->node.level = node.level;
    if (node.is_leaf()) {
      // Left takes entries while it stays <= half the bytes (at least one). Each half is then at
      // most half + one max entry, which fits (btree_node.h's static_asserts).
      const size_t half = (encoded_size(node) - kNodeHeaderBytes) / 2;
      size_t at = 0;
      size_t bytes = 0;
      for (; at < node.entries.size(); ++at) {
        const size_t entry = leaf_entry_bytes(node.entries[at].value.size());
        if (at > 0 && bytes + entry > half) break;
        bytes += entry;
      }
      at = std::min(at, node.entries.size() - 1);
      auto from = node.entries.begin() + static_cast<ptrdiff_t>(at);
      right->node.entries.assign(std::make_move_iterator(from),
                                 std::make_move_iterator(node.entries.end()));
      node.entries.erase(from, node.entries.end());
    } else {
      const auto at = static_cast<ptrdiff_t>(node.children.size() / 2);
      right->node.children.assign(node.children.begin() + at, node.children.end());
      node.children.erase(node.children.begin() + at, node.children.end());
      right->kids.assign(std::make_move_iterator(left.kids.begin() + at),
                         std::make_move_iterator(left.kids.end()));
      left.kids.erase(left.kids.begin() + at, left.kids.end());
    }
    ASSERT(encoded_size(node) <= t.node_bytes_);
    ASSERT(encoded_size(right->node) <= t.node_bytes_);
    ++t.dirty_nodes_;
    return right;
  }

  // After growing the dirty path's leaf: split overfull nodes bottom-up (a root split adds a
  // level).
  static void split_path(BTree& t, const std::vector<DirtyNode*>& dpath,
                         const std::vector<size_t>& index) {
    for (size_t l = dpath.size(); l-- > 0;) {
      DirtyNode* node = dpath[l];
      if (encoded_size(node->node) <= t.node_bytes_) return;  // ancestors only grow by a split
      std::unique_ptr<DirtyNode> right = split_node(t, *node);
      const uint64_t right_key = first_key(right->node);
      if (l > 0) {
        DirtyNode* parent = dpath[l - 1];
        const auto at = static_cast<ptrdiff_t>(index[l - 1] + 1);
        parent->node.children.insert(parent->node.children.begin() + at, ChildRef{right_key, {}});
        parent->kids.insert(parent->kids.begin() + at, std::move(right));
        continue;
      }
      ASSERT(node == t.root_node_.get());
      ASSERT_MSG(node->node.level < kTreeLevelsMax, "btree taller than kTreeLevelsMax");
      auto root = std::make_unique<DirtyNode>();
      root->node.level = static_cast<uint8_t>(node->node.level + 1);
      root->node.children = {ChildRef{first_key(node->node), {}}, ChildRef{right_key, {}}};
      root->kids.push_back(std::move(t.root_node_));
      root->kids.push_back(std::move(right));
      t.root_node_ = std::move(root);
      ++t.dirty_nodes_;
    }
  }

  static size_t count_dirty(const DirtyNode& node) {
    size_t n = 1;
    for (const auto& kid : node.kids) n += kid ? count_dirty(*kid) : 0;
    return n;
  }

  // After shrinking the dirty path: unlink empty nodes bottom-up, then replace a root that has
  // one child by that child (repeatedly), and an empty root by nothing.
  static void prune_path(BTree& t, const std::vector<DirtyNode*>& dpath,
                         const std::vector<size_t>& index) {
    for (size_t l = dpath.size() - 1; l > 0 && dpath[l]->node.count() == 0; --l) {
      DirtyNode* parent = dpath[l - 1];
      const auto at = static_cast<ptrdiff_t>(index[l - 1]);
      ASSERT(parent->kids[index[l - 1]].get() == dpath[l]);
      parent->node.children.erase(parent->node.children.begin() + at);
      parent->kids.erase(parent->kids.begin() + at);
      --t.dirty_nodes_;
    }
    if (t.root_node_->node.count() == 0) {
      t.root_node_.reset();
      --t.dirty_nodes_;
    }
    while (t.root_node_ && t.root_node_->node.children.size() == 1) {
      std::unique_ptr<DirtyNode> only = std::move(t.root_node_->kids[0]);
      if (!only) t.root_ref_ = t.root_node_->node.children[0].ref;  // a stored subtree
      t.root_node_ = std::move(only);
      --t.dirty_nodes_;
    }
    ASSERT(!(t.root_node_ && t.root_ref_));
    ASSERT(t.root_node_ || t.dirty_nodes_ == 0);
  }

  using GetValue = std::optional<std::vector<uint8_t>>;
  static Result<std::optional<GetValue>> get_attempt(BTree& t, Op& op, uint64_t key) {
    if (empty(t)) return std::optional<GetValue>(GetValue());
    ASSIGN_OR_RETURN(std::optional<Path> path, descend(t, op, key));
    if (!path) return std::optional<GetValue>();
    const DecodedNode& leaf = *path->views.back().node;
    auto it = entry_at_or_after(leaf, key);
    if (it == leaf.entries.end() || it->key != key) return std::optional<GetValue>(GetValue());
    return std::optional<GetValue>(GetValue(it->value));
  }

  // Result: true when done, false when op.need is set.
  static Result<bool> put_attempt(BTree& t, Op& op, uint64_t key, std::span<const uint8_t> value) {
    if (empty(t)) {
      ASSERT_MSG(!t.flushing_, "mutation during flush: the owner must serialize them");
      ASSERT(t.dirty_nodes_ == 0);
      t.root_node_ = std::make_unique<DirtyNode>();
      t.root_node_->node.entries.push_back(LeafEntry{key, {value.begin(), value.end()}});
      t.dirty_nodes_ = 1;
      t.dirty_ = true;
      return true;
    }
    ASSIGN_OR_RETURN(std::optional<Path> path, descend(t, op, key));
    if (!path) return false;
    const DecodedNode& clean_leaf = *path->views.back().node;
    auto found = entry_at_or_after(clean_leaf, key);
    if (found != clean_leaf.entries.end() && found->key == key &&
        std::equal(found->value.begin(), found->value.end(), value.begin(), value.end())) {
      return true;  // unchanged: do not dirty the path
    }
    const std::vector<DirtyNode*> dpath = make_dirty(t, *path);
    for (size_t l = 0; l < path->index.size(); ++l) {
      ChildRef& first = dpath[l]->node.children[0];  // keep invariant (1): lower the lower bound
      if (path->index[l] == 0 && key < first.key) first.key = key;
    }
    std::vector<LeafEntry>& entries = dpath.back()->node.entries;
    auto at = std::lower_bound(entries.begin(), entries.end(), key,
                               [](const LeafEntry& e, uint64_t k) { return e.key < k; });
    if (at != entries.end() && at->key == key) {
      at->value.assign(value.begin(), value.end());
    } else {
      entries.insert(at, LeafEntry{key, {value.begin(), value.end()}});
    }
    split_path(t, dpath, path->index);
    return true;
  }

  static Result<std::optional<bool>> erase_attempt(BTree& t, Op& op, uint64_t key) {
    if (empty(t)) return std::optional<bool>(false);
    ASSIGN_OR_RETURN(std::optional<Path> path, descend(t, op, key));
    if (!path) return std::optional<bool>();
    const DecodedNode& clean_leaf = *path->views.back().node;
    auto found = entry_at_or_after(clean_leaf, key);
    if (found == clean_leaf.entries.end() || found->key != key) return std::optional<bool>(false);
    const std::vector<DirtyNode*> dpath = make_dirty(t, *path);
    std::vector<LeafEntry>& entries = dpath.back()->node.entries;
    auto at = std::lower_bound(entries.begin(), entries.end(), key,
                               [](const LeafEntry& e, uint64_t k) { return e.key < k; });
    ASSERT(at != entries.end() && at->key == key);
    entries.erase(at);
    prune_path(t, dpath, path->index);
    return std::optional<bool>(true);
  }

  // Pass 1 of erase_from: the boundary path (at each interior node the last child with a key <
  // first_key: the only one that may hold keys on both sides). Sets changes if anything goes.
  static Result<std::optional<Path>> boundary_path(BTree& t, Op& op, uint64_t first_key,
                                                   bool& changes) {
    op.held.clear();
    std::optional<View> at = root_view(t, op);
    if (!at) return std::optional<Path>();
    Path path;
    path.views.push_back(*at);
    while (true) {
      const DecodedNode& node = *path.views.back().node;
      if (node.is_leaf()) {
        ASSERT(!node.entries.empty());  // invariant (2)
        changes = changes || node.entries.back().key >= first_key;
        break;
      }
      const size_t j = first_child_at_or_after(node, first_key);
      changes = changes || j < node.children.size();
      if (j == 0) break;  // every child goes
      ASSIGN_OR_RETURN(std::optional<View> next, child(t, op, path.views.back(), j - 1));
      if (!next) return std::optional<Path>();
      path.index.push_back(j - 1);
      path.views.push_back(*next);
    }
    return std::optional<Path>(std::move(path));
  }

  static Result<std::optional<ErasedFrom>> erase_from_attempt(BTree& t, Op& op,
                                                              uint64_t first_key) {
    if (empty(t)) return std::optional<ErasedFrom>(ErasedFrom{});
    bool changes = false;
    ASSIGN_OR_RETURN(std::optional<Path> path, boundary_path(t, op, first_key, changes));
    if (!path) return std::optional<ErasedFrom>();
    if (!changes) return std::optional<ErasedFrom>(ErasedFrom{});
    const std::vector<DirtyNode*> dpath = make_dirty(t, *path);
    ErasedFrom erased;
    for (DirtyNode* node : dpath) {
      DecodedNode& n = node->node;
      if (n.is_leaf()) {
        auto from = std::lower_bound(n.entries.begin(), n.entries.end(), first_key,
                                     [](const LeafEntry& e, uint64_t k) { return e.key < k; });
        erased.entries_counted += static_cast<uint64_t>(n.entries.end() - from);
        n.entries.erase(from, n.entries.end());
        continue;
      }
      const size_t j = first_child_at_or_after(n, first_key);
      for (size_t k = j; k < n.children.size(); ++k) {
        if (node->kids[k]) t.dirty_nodes_ -= count_dirty(*node->kids[k]);
      }
      erased.subtrees_dropped += n.children.size() - j;
      n.children.erase(n.children.begin() + static_cast<ptrdiff_t>(j), n.children.end());
      node->kids.erase(node->kids.begin() + static_cast<ptrdiff_t>(j), node->kids.end());
    }
    ASSERT(erased.any());
    prune_path(t, dpath, path->index);
    return std::optional<ErasedFrom>(erased);
  }

  // One leaf of a scan: appends the entries >= cursor of the leaf whose range holds cursor.
  static Result<std::optional<LeafStep>> scan_attempt(BTree& t, Op& op, uint64_t cursor,
                                                      size_t entries_max, Scan& out) {
    if (empty(t)) return std::optional<LeafStep>(LeafStep{.finished = true});
    ASSIGN_OR_RETURN(std::optional<Path> path, descend(t, op, cursor));
    if (!path) return std::optional<LeafStep>();
    const DecodedNode& leaf = *path->views.back().node;
    for (auto it = entry_at_or_after(leaf, cursor); it != leaf.entries.end(); ++it) {
      if (out.entries.size() == entries_max) {
        out.next = it->key;
        return std::optional<LeafStep>(LeafStep{.finished = true});
      }
      out.entries.push_back(*it);
    }
    // The next leaf starts at the nearest right sibling's key, at the deepest level having one.
    for (size_t l = path->index.size(); l-- > 0;) {
      const DecodedNode& node = *path->views[l].node;
      if (path->index[l] + 1 < node.children.size()) {
        const uint64_t next = node.children[path->index[l] + 1].key;
        ASSERT(next > cursor);
        return std::optional<LeafStep>(LeafStep{.finished = false, .next_cursor = next});
      }
    }
    out.next.reset();
    return std::optional<LeafStep>(LeafStep{.finished = true});
  }

  struct Slot {
    DirtyNode* parent = nullptr;  // null: the root
    size_t index = 0;
    DirtyNode* node = nullptr;
  };
  // The dirty nodes at level in key order (at most max), found below node.
  static void collect(DirtyNode* parent, size_t index, DirtyNode* node, uint8_t level, size_t max,
                      std::vector<Slot>& out) {
    if (out.size() == max || node->node.level < level) return;
    if (node->node.level == level) {
      out.push_back(Slot{parent, index, node});
      return;
    }
    for (size_t i = 0; i < node->kids.size(); ++i) {
      if (node->kids[i]) collect(node, i, node->kids[i].get(), level, max, out);
    }
  }
};

BTree::BTree(NodeCache& cache, NodeIo& io, uint32_t node_bytes, std::optional<BlockRef> root)
    : cache_(cache), io_(io), node_bytes_(node_bytes), root_ref_(root) {
  ASSERT(valid_node_bytes(node_bytes));
  ASSERT(!root || root->location.container_id != 0);
}

BTree::~BTree() {
  ASSERT_MSG(mutations_inflight_ == 0, "btree destroyed with mutations in flight");
  ASSERT_MSG(reads_inflight_ == 0, "btree destroyed with reads in flight");
  ASSERT_MSG(!flushing_, "btree destroyed during a flush");
}

std::optional<BlockRef> BTree::root() const {
  ASSERT_MSG(!dirty_, "root() of a dirty tree: flush first");
  ASSERT(!root_node_);
  return root_ref_;
}

Task<Result<std::shared_ptr<const DecodedNode>>> BTree::load_node(BlockRef ref) {
  std::shared_ptr<const DecodedNode> cached = cache_.lookup(ref.fp);
  if (cached) co_return cached;
  Result<std::vector<uint8_t>> bytes = co_await io_.load(ref);
  if (!bytes.ok()) co_return std::move(bytes).take_error();
  Result<DecodedNode> decoded = decode_node(*bytes, node_bytes_);
  if (!decoded.ok()) co_return std::move(decoded).take_error();
  co_return cache_.insert(ref.fp, std::move(decoded).value());
}

Task<Result<void>> BTree::load_needed(Op& op) {
  ASSERT(op.need.has_value());
  const BlockRef ref = *op.need;
  op.need.reset();
  op.held.clear();  // the attempt is over: its raw pointers are dead
  Result<std::shared_ptr<const DecodedNode>> node = co_await load_node(ref);
  if (!node.ok()) co_return std::move(node).take_error();
  ASSERT(*node != nullptr);
  op.pins.emplace_back(ref.fp, std::move(node).value());
  co_return ok_result();
}

namespace {
Error too_many_attempts() {
  return make_error(Code::kBusy, "btree: nodes keep leaving memory (concurrent flush/eviction)");
}
}  // namespace

Task<Result<std::optional<std::vector<uint8_t>>>> BTree::get(uint64_t key) {
  InflightScope scope(reads_inflight_);
  Op op;
  for (size_t attempt = 0; attempt < kAttemptsMax; ++attempt) {
    Result<std::optional<Impl::GetValue>> got = Impl::get_attempt(*this, op, key);
    if (!got.ok()) co_return std::move(got).take_error();
    if (got->has_value()) co_return std::move(**got);
    CO_RETURN_IF_ERROR(co_await load_needed(op));
  }
  co_return too_many_attempts();
}

Task<Result<void>> BTree::put(uint64_t key, std::span<const uint8_t> value) {
  if (value.size() > kValueBytesMax) {
    co_return make_error(Code::kInvalidArgument, "btree: value over kValueBytesMax");
  }
  InflightScope scope(mutations_inflight_);
  Op op;
  for (size_t attempt = 0; attempt < kAttemptsMax; ++attempt) {
    Result<bool> done = Impl::put_attempt(*this, op, key, value);
    if (!done.ok()) co_return std::move(done).take_error();
    if (*done) co_return ok_result();
    CO_RETURN_IF_ERROR(co_await load_needed(op));
  }
  co_return too_many_attempts();
}

Task<Result<bool>> BTree::erase(uint64_t key) {
  InflightScope scope(mutations_inflight_);
  Op op;
  for (size_t attempt = 0; attempt < kAttemptsMax; ++attempt) {
    Result<std::optional<bool>> erased = Impl::erase_attempt(*this, op, key);
    if (!erased.ok()) co_return std::move(erased).take_error();
    if (erased->has_value()) co_return **erased;
    CO_RETURN_IF_ERROR(co_await load_needed(op));
  }
  co_return too_many_attempts();
}

Task<Result<ErasedFrom>> BTree::erase_from(uint64_t first_key) {
  InflightScope scope(mutations_inflight_);
  Op op;
  for (size_t attempt = 0; attempt < kAttemptsMax; ++attempt) {
    Result<std::optional<ErasedFrom>> erased = Impl::erase_from_attempt(*this, op, first_key);
    if (!erased.ok()) co_return std::move(erased).take_error();
    if (erased->has_value()) co_return **erased;
    CO_RETURN_IF_ERROR(co_await load_needed(op));
  }
  co_return too_many_attempts();
}

Task<Result<Scan>> BTree::scan(uint64_t from, size_t entries_max) {
  if (entries_max > kScanEntriesMax) {
    co_return make_error(Code::kInvalidArgument, "btree: scan over kScanEntriesMax entries");
  }
  InflightScope scope(reads_inflight_);
  Scan out;
  uint64_t cursor = from;
  while (true) {
    Op op;  // per leaf: pins stay bounded by the tree height
    std::optional<Impl::LeafStep> step;
    for (size_t attempt = 0; attempt < kAttemptsMax && !step; ++attempt) {
      Result<std::optional<Impl::LeafStep>> tried =
          Impl::scan_attempt(*this, op, cursor, entries_max, out);
      if (!tried.ok()) co_return std::move(tried).take_error();
      step = *tried;
      if (!step) CO_RETURN_IF_ERROR(co_await load_needed(op));
    }
    if (!step) co_return too_many_attempts();
    if (step->finished) break;
    ASSERT(step->next_cursor > cursor);  // progress: scans terminate
    cursor = step->next_cursor;
  }
  ASSERT(out.entries.size() <= entries_max);
  co_return out;
}

// Stores the dirty nodes at one level (all below it are clean), in batches.
Task<Result<void>> BTree::store_level(uint8_t level) {
  while (root_node_) {  // storing the root (the top level) ends the loop
    std::vector<Impl::Slot> batch;
    Impl::collect(nullptr, 0, root_node_.get(), level, kStoreBatchNodesMax, batch);
    if (batch.empty()) co_return ok_result();
    std::vector<std::vector<uint8_t>> encoded;
    encoded.reserve(batch.size());
    for (const Impl::Slot& slot : batch)
      encoded.push_back(encode_node(slot.node->node, node_bytes_));
    const size_t count = batch.size();
    batch.clear();  // no pointer into the tree across the co_await
    Result<std::vector<BlockRef>> refs = co_await io_.store(std::move(encoded));
    if (!refs.ok()) co_return std::move(refs).take_error();
    ASSERT_MSG(refs->size() == count, "NodeIo::store returned the wrong number of refs");
    // Readers may have run meanwhile, but no mutation (invariant 6): the same nodes come first.
    Impl::collect(nullptr, 0, root_node_.get(), level, count, batch);
    ASSERT(batch.size() == count);
    for (size_t i = 0; i < count; ++i) {
      const Impl::Slot& slot = batch[i];
      const BlockRef& ref = (*refs)[i];
      ASSERT(ref.location.container_id != 0);
      cache_.insert(ref.fp, std::move(slot.node->node));
      if (slot.parent == nullptr) {
        root_node_.reset();
        root_ref_ = ref;
      } else {
        slot.parent->node.children[slot.index].ref = ref;
        slot.parent->kids[slot.index].reset();
      }
      --dirty_nodes_;
    }
  }
  co_return ok_result();
}

Task<Result<std::optional<BlockRef>>> BTree::flush() {
  ASSERT_MSG(!flushing_, "concurrent flushes of one tree");
  ASSERT_MSG(mutations_inflight_ == 0, "flush during a mutation: the owner must serialize them");
  flushing_ = true;
  if (root_node_) {
    const uint8_t top = root_node_->node.level;
    for (uint16_t level = 0; level <= top; ++level) {
      Result<void> stored = co_await store_level(static_cast<uint8_t>(level));
      if (!stored.ok()) {
        flushing_ = false;
        co_return std::move(stored).take_error();
      }
    }
  }
  ASSERT(!root_node_);
  ASSERT(dirty_nodes_ == 0);
  flushing_ = false;
  dirty_ = false;
  co_return root_ref_;
}

Task<Result<void>> BTree::visit_nodes(std::function<void(const BlockRef&, bool is_leaf)> visit) {
  ASSERT_MSG(!dirty_, "visit_nodes of a dirty tree: flush first");
  InflightScope scope(reads_inflight_);
  if (!root_ref_) co_return ok_result();
  // Depth-first over the immutable stored nodes of this root (mutations meanwhile do not matter).
  // expected level: -1 for the root (any).
  struct Pending {
    BlockRef ref;
    int level;
  };
  std::vector<Pending> stack;
  stack.push_back(Pending{*root_ref_, -1});
  while (!stack.empty()) {
    const Pending at = stack.back();
    stack.pop_back();
    if (at.level == 0) {
      visit(at.ref, true);
      continue;
    }
    Result<std::shared_ptr<const DecodedNode>> node = co_await load_node(at.ref);
    if (!node.ok()) co_return std::move(node).take_error();
    const DecodedNode& n = **node;
    if (at.level >= 0 && n.level != at.level)
      co_return corrupt("child level does not match parent");
    visit(at.ref, n.is_leaf());
    for (size_t i = n.children.size(); i-- > 0;) {
      stack.push_back(Pending{n.children[i].ref, n.level - 1});
    }
  }
  co_return ok_result();
}

}  // namespace splitarray::hostdriver::meta
