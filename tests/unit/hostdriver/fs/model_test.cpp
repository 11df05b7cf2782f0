// Model-based random test of the file system (file_system.h) against a real shelf: random
// namespace operations (create in all three modes with exclusive retries, mkdir, symlink, mknod,
// link, remove, rmdir, rename within and across directories, over files and empty directories,
// into its own subtree, onto a hard link of itself), setattr, writes of every stability (often
// overlapping, and bursts of concurrent writes to disjoint ranges), reads, lookups and paged
// readdir, with checkpoints, commits, clean restarts and crashes (a new owner taking over) in
// between. Every answer, success or error code, must be what the in-memory model (tree_model.h)
// predicts; after every restart and crash and at the end the whole tree is compared (every
// listing, every inode's attributes, every file's bytes, every symlink's target) and fsck must
// find nothing wrong. Times: a change moves mtime/ctime to at least the time before the call.
// Crashes: a crash first commits if an UNSTABLE write is outstanding (so every acknowledged byte
// must survive); otherwise it crashes without a commit, so namespace operations, setattrs and
// stable writes must survive on their own.
// Prints its seeds; SPLITARRAY_SEED=N replays one.
#include <doctest/doctest.h>

#include <deque>
#include <map>

#include "hostdriver/fs/fsck.h"
#include "tests/unit/hostdriver/fs/fs_fixture.h"
#include "tests/unit/hostdriver/fs/tree_model.h"

namespace splitarray::hostdriver::fs::fs_test {
namespace {

inline constexpr size_t kOpsPerSeed = 800;
inline constexpr uint64_t kWriteEndMax = 64 * kKiB;  // writes stay below; setattr a bit beyond
inline constexpr uint64_t kSizeMax = 72 * kKiB;
inline constexpr uint64_t kWriteBytesMax = 3 * kBlockBytes;
inline constexpr size_t kDirsMax = 14;
inline constexpr size_t kInodesMax = 90;
inline constexpr size_t kRecentOps = 25;  // printed with a failure

struct Outcome {
  bool done = false;
  std::string error;  // empty: ok
};

Task<void> write_into(FileSystem* fs, PlannedWrite w, Outcome* outcome) {
  auto wrote = co_await fs->write(w.inode, w.offset, std::move(w.data), w.stability);
  outcome->done = true;
  if (!wrote.ok()) outcome->error = wrote.error().to_string();
}

Task<void> checkpoint_into(FileSystem* fs, Outcome* outcome) {
  auto done = co_await fs->checkpoint();
  outcome->done = true;
  if (!done.ok()) outcome->error = done.error().to_string();
}

// The consistency check at every comparison point: fsck (hostdriver/fs/fsck.h) checkpoints and
// walks the checkpoint (trees, link counts, parents, orphans, data blocks, stripes). It must find
// nothing wrong and count the model's live inodes.
Task<void> check_consistency(FileSystem& fs, const std::string& where, size_t inodes) {
  const FsckOptions options;
  auto report = co_await fsck(fs, options);
  REQUIRE_MESSAGE(report.ok(), where << "fsck: " << why(report));
  std::ostringstream problems;
  for (const std::string& problem : report->problems) problems << "\n  " << problem;
  const std::string listed = problems.str();
  REQUIRE_MESSAGE(report->ok(), where << "fsck: " << report->summary() << listed);
  REQUIRE_MESSAGE(report->inodes == inodes,
                  where << "fsck counted " << report->inodes << " inodes, the model " << inodes);
}

class ModelRun {
 public:
  ModelRun(FsSession& session, uint64_t seed, FsConfig config)
      : s_(session), rng_(seed), seed_(seed), config_(std::move(config)) {}

  Task<void> run(size_t ops) {
    fs_ = co_await s_.open(config_);
    auto root = co_await fs_->getattr(kRootInode);
    REQUIRE_MESSAGE(root.ok(), "getattr root: " << why(root));
    model_.node(kRootInode).generation = root->generation;
    expect_attrs(*root, kRootInode, "root");
    for (step_ = 0; step_ < ops; ++step_) co_await one_op();
    co_await commit();
    co_await verify_all("at the end");
    co_await op_restart();
    std::ostringstream tally;
    for (const auto& entry : tally_) {
      tally << " " << entry.first << " " << entry.second.first << "/" << entry.second.second;
    }
    const std::string counts = tally.str();
    MESSAGE("seed " << seed_ << ": " << ops << " operations, " << restarts_ << " restarts, "
                    << crashes_ << " crashes, " << checkpoints_ << " checkpoints, "
                    << model_.max_inode() - 1 << " inodes created, " << model_.size()
                    << " at the end; successes/errors:" << counts);
    CHECK(tally_["make"].first > 0);
    CHECK(tally_["rename"].second > 0);
  }

 private:
  // --- bookkeeping -------------------------------------------------------------------------------
  std::string where() const {
    std::ostringstream out;
    out << "SPLITARRAY_SEED=" << seed_ << " step " << step_ << phase_ << "; recent operations:";
    for (const std::string& op : recent_) out << "\n  " << op;
    out << "\n  -> ";
    return out.str();
  }
  void note(const std::string& text) {
    op_ = text.substr(0, text.find(' '));
    recent_.push_back(std::to_string(step_) + ": " + text);
    if (recent_.size() > kRecentOps) recent_.pop_front();
  }
  WallTime now() { return s_.env().clock.wall_now(); }

  template <class T>
  bool answered(const Result<T>& got, Expect want) {
    if (want) {
      REQUIRE_MESSAGE((!got.ok() && got.code() == *want), where() << "expected "
                                                                  << std::string(code_name(*want))
                                                                  << ", got " << why(got));
      ++tally_[op_].second;
      return false;
    }
    REQUIRE_MESSAGE(got.ok(), where() << "expected success, got " << why(got));
    ++tally_[op_].first;
    return true;
  }

  // `got` must be what the model says of `inode`; afterwards the model knows its times exactly.
  void expect_attrs(const Attributes& got, uint64_t inode, const char* what) {
    const Node& n = model_.node(inode);
    std::ostringstream diff;
    if (got.inode != inode) diff << " inode " << got.inode;
    if (got.generation != n.generation) {
      diff << " generation " << got.generation << "/" << n.generation;
    }
    if (got.type != n.type) diff << " type " << int(got.type) << "/" << int(n.type);
    if (got.mode != n.mode) diff << " mode 0" << std::oct << got.mode << "/0" << n.mode << std::dec;
    if (got.uid != n.uid) diff << " uid " << got.uid << "/" << n.uid;
    if (got.gid != n.gid) diff << " gid " << got.gid << "/" << n.gid;
    if (got.nlink != n.nlink) diff << " nlink " << got.nlink << "/" << n.nlink;
    if (got.size != n.size()) diff << " size " << got.size << "/" << n.size();
    if (n.mtime_exact ? got.mtime != n.mtime : got.mtime < n.mtime) {
      diff << " mtime " << got.mtime.nanos << (n.mtime_exact ? " != " : " < ") << n.mtime.nanos;
    }
    if (n.ctime_exact ? got.ctime != n.ctime : got.ctime < n.ctime) {
      diff << " ctime " << got.ctime.nanos << (n.ctime_exact ? " != " : " < ") << n.ctime.nanos;
    }
    const std::string differences = diff.str();
    REQUIRE_MESSAGE(differences.empty(),
                    where() << std::string(what) << ": inode " << inode
                            << " differs from the model (got/model):" << differences);
    model_.saw_times(inode, got.mtime, got.ctime);
  }

  // --- choosing
  // ------------------------------------------------------------------------------------
  uint64_t one_of(const std::vector<uint64_t>& inodes) { return inodes[rng_.below(inodes.size())]; }
  uint64_t dead_inode() {
    const std::set<uint64_t>& dead = model_.dead();
    if (dead.empty() || rng_.chance(0.3)) return model_.max_inode() + 100000;  // never allocated
    auto it = dead.begin();
    std::advance(it, static_cast<ptrdiff_t>(rng_.below(dead.size())));
    return *it;
  }
  // Mostly a directory; sometimes another live inode or a dead one (for the errors).
  uint64_t pick_dir() {
    const uint64_t p = rng_.below(100);
    if (p < 3) return dead_inode();
    if (p < 7) return one_of(model_.inodes_of(std::nullopt));
    return one_of(model_.inodes_of(FileType::kDirectory));
  }
  // Mostly an inode of `type` if there is one; sometimes any, sometimes a dead one.
  uint64_t pick_inode(std::optional<FileType> type) {
    const uint64_t p = rng_.below(100);
    if (p < 5) return dead_inode();
    const std::vector<uint64_t> typed = model_.inodes_of(type);
    if (p < 15 || typed.empty()) return one_of(model_.inodes_of(std::nullopt));
    return one_of(typed);
  }
  // A name: an existing entry of dir with probability `existing` (when it has any), else mostly
  // one the directory does not have; sometimes an illegal one.
  std::string pick_name(uint64_t dir, double existing) {
    if (rng_.chance(0.04)) return bad_names()[rng_.below(bad_names().size())];
    const std::map<std::string, uint64_t>* entries =
        model_.is_dir(dir) ? &model_.node(dir).entries : nullptr;
    const bool has_entries = entries != nullptr && !entries->empty();
    if (has_entries && rng_.chance(existing)) {
      auto entry = entries->begin();
      std::advance(entry, static_cast<ptrdiff_t>(rng_.below(entries->size())));
      return entry->first;
    }
    std::string name = pool_names()[rng_.below(pool_names().size())];
    for (int tries = 0; tries < 4 && has_entries && entries->count(name) != 0; ++tries) {
      name = pool_names()[rng_.below(pool_names().size())];
    }
    return name;
  }
  uint32_t pick_mode() {
    static const uint32_t kModes[] = {0600, 0644, 0755, 0700, 04755, 01777, 0100644, 0};
    return kModes[rng_.below(std::size(kModes))];
  }
  uint32_t pick_id() { return rng_.chance(0.3) ? 1000 : static_cast<uint32_t>(rng_.below(4)); }
  // An explicit mtime: in the past, so later changes move it forward.
  WallTime past_time() {
    return WallTime{int64_t{1500000000} * 1000000000 + int64_t(rng_.below(1u << 30))};
  }
  PlannedWrite plan_write(uint64_t inode) {
    PlannedWrite w;
    w.inode = inode;
    const bool aligned = rng_.chance(0.3);
    uint64_t length = rng_.between(1, kWriteBytesMax);
    if (aligned) length = kBlockBytes * rng_.between(1, kWriteBytesMax / kBlockBytes);
    w.offset = rng_.below(kWriteEndMax - length + 1);
    if (aligned) w.offset -= w.offset % kBlockBytes;
    w.data.assign(length, 0);  // zeros (holes), one repeated byte, or random bytes
    const uint64_t kind = rng_.below(10);
    if (kind < 6) rng_.fill(w.data);
    if (kind >= 6 && kind < 8) std::fill(w.data.begin(), w.data.end(), uint8_t(1 + kind));
    const uint64_t pick = rng_.below(10);
    w.stability =
        pick < 4 ? Stability::kUnstable : (pick < 7 ? Stability::kDataSync : Stability::kFileSync);
    return w;
  }

  // --- the operations
  // ------------------------------------------------------------------------------
  Task<void> op_create() { co_await op_make(FileType::kRegular); }
  Task<void> op_mkdir() { co_await op_make(FileType::kDirectory); }
  Task<void> op_symlink() { co_await op_make(FileType::kSymlink); }
  Task<void> op_mknod() { co_await op_make(FileType::kFifo); }
  Task<void> op_unlink() { co_await op_remove(false); }
  Task<void> op_rmdir() { co_await op_remove(true); }

  Task<void> one_op() {
    struct Weighted {
      Task<void> (ModelRun::*op)();
      uint64_t weight;  // per mille
    };
    static const Weighted kMix[] = {
        {&ModelRun::op_write, 170},   {&ModelRun::op_burst, 40},   {&ModelRun::op_read, 80},
        {&ModelRun::op_create, 100},  {&ModelRun::op_mkdir, 50},   {&ModelRun::op_symlink, 30},
        {&ModelRun::op_mknod, 20},    {&ModelRun::op_link, 50},    {&ModelRun::op_unlink, 60},
        {&ModelRun::op_rmdir, 40},    {&ModelRun::op_rename, 100}, {&ModelRun::op_setattr, 70},
        {&ModelRun::op_lookup, 50},   {&ModelRun::op_getattr, 30}, {&ModelRun::op_readdir, 30},
        {&ModelRun::op_readlink, 15}, {&ModelRun::commit, 20},     {&ModelRun::checkpoint, 21},
        {&ModelRun::op_restart, 12},  {&ModelRun::op_crash, 12}};
    uint64_t pick = rng_.below(1000);
    for (const Weighted& entry : kMix) {
      if (pick < entry.weight) {
        co_await (this->*entry.op)();
        co_return;
      }
      pick -= entry.weight;
    }
    FAIL("the operation mix does not add up to 1000");
  }

  MakeCall plan_make(FileType type) {
    if (type == FileType::kRegular && last_exclusive_ && rng_.chance(0.15)) {
      note("make retry of exclusive create " + printable(last_exclusive_->name));
      return *last_exclusive_;  // the client did not see the answer and asks again
    }
    MakeCall c;
    c.type = type;
    c.dir = pick_dir();
    c.name = pick_name(c.dir, 0.15);
    const uint64_t existing = model_.entry_of(c.dir, c.name);
    if (rng_.chance(0.5)) c.set.mode = pick_mode();
    if (rng_.chance(0.3)) c.set.uid = pick_id();
    if (rng_.chance(0.3)) c.set.gid = pick_id();
    if (type == FileType::kRegular) {
      c.mode = static_cast<CreateMode>(rng_.below(3));
      if (c.mode == CreateMode::kExclusive) {
        c.verifier = 11 * rng_.below(4);
        if (existing != 0 && model_.node(existing).verifier != 0 && rng_.chance(0.6)) {
          c.verifier = model_.node(existing).verifier;  // a retried create
        }
      } else if (rng_.chance(0.1)) {
        c.set.mtime = past_time();
      }
      if (rng_.chance(0.1)) c.set.size = 0;
      if (c.mode == CreateMode::kUnchecked && model_.data_error(existing) == std::nullopt &&
          rng_.chance(0.4)) {
        c.set.size = rng_.below(model_.node(existing).data.size() + 200);
      }
    }
    if (type == FileType::kSymlink) {
      const uint64_t p = rng_.below(100);
      size_t length = p < 3 ? 0 : rng_.between(1, 40);
      if (p >= 3 && p < 9) length = kSymlinkBytesMax + (p < 6 ? 1 : 0);
      c.target.assign(length, 't');
      if (length > 2) c.target[1] = '/';
    }
    c.refused = type == FileType::kFifo && rng_.chance(0.05);
    note("make type " + std::to_string(int(type)) + (c.refused ? " (refused)" : "") + " in " +
         std::to_string(c.dir) + " " + printable(c.name) + " mode " + std::to_string(int(c.mode)) +
         " verifier " + std::to_string(c.verifier) +
         (c.set.size ? " size " + std::to_string(*c.set.size) : "") + " target " +
         std::to_string(c.target.size()));
    return c;
  }

  Task<Result<CreateResult>> call_make(MakeCall c) {
    if (c.refused) co_return co_await fs_->mknod(c.dir, c.name, FileType::kRegular, c.set, 0, 0);
    if (c.type == FileType::kRegular) {
      co_return co_await fs_->create(c.dir, c.name, c.mode, c.set, c.verifier);
    }
    if (c.type == FileType::kDirectory) co_return co_await fs_->mkdir(c.dir, c.name, c.set);
    if (c.type == FileType::kSymlink) {
      co_return co_await fs_->symlink(c.dir, c.name, c.target, c.set);
    }
    co_return co_await fs_->mknod(c.dir, c.name, c.type, c.set, 0, 0);
  }

  // create (all three modes), mkdir, symlink, mknod (a fifo; sometimes a refused regular type).
  Task<void> op_make(FileType type) {
    const bool dirs_full = model_.inodes_of(FileType::kDirectory).size() >= kDirsMax;
    if (model_.size() >= kInodesMax || (type == FileType::kDirectory && dirs_full)) {
      co_await op_remove(type == FileType::kDirectory);
      co_return;
    }
    const MakeCall c = plan_make(type);
    if (c.mode == CreateMode::kExclusive) last_exclusive_ = c;
    const uint64_t existing = model_.entry_of(c.dir, c.name);
    const Expect want = model_.predict_make(c);
    const WallTime t0 = now();
    auto got = co_await call_make(c);
    if (!answered(got, want)) co_return;
    expect_attrs(got->dir.before, c.dir, "create: directory before");
    if (existing == 0) {
      model_.created(c, got->attrs, t0);
      expect_attrs(got->dir.after, c.dir, "create: directory after");
      expect_attrs(got->attrs, got->attrs.inode, "create: the new inode");
      co_return;
    }
    // An unchecked create or a retried exclusive one: the existing file (truncated if asked).
    expect_attrs(got->dir.after, c.dir, "create (existing): directory after");
    if (c.mode == CreateMode::kUnchecked && c.set.size) {
      SetAttributes truncate;
      truncate.size = c.set.size;
      model_.set_attributes(existing, truncate, t0);
    }
    expect_attrs(got->attrs, existing, "create (existing)");
  }

  Task<void> op_link() {
    if (model_.size() >= kInodesMax) {
      co_await op_remove(false);
      co_return;
    }
    const uint64_t inode = pick_inode(FileType::kRegular);
    const uint64_t dir = pick_dir();
    const std::string name = pick_name(dir, 0.15);
    note("link " + std::to_string(inode) + " as " + std::to_string(dir) + " " + printable(name));
    const Expect want = model_.predict_link(inode, dir, name);
    const WallTime t0 = now();
    auto got = co_await fs_->link(inode, dir, name);
    if (!answered(got, want)) co_return;
    expect_attrs(got->dir.before, dir, "link: directory before");
    model_.linked(inode, dir, name, t0);
    expect_attrs(got->dir.after, dir, "link: directory after");
    expect_attrs(got->attrs, inode, "link: the file");
  }

  Task<Result<RemoveResult>> call_remove(bool directory, uint64_t dir, std::string name) {
    if (directory) co_return co_await fs_->rmdir(dir, name);
    co_return co_await fs_->remove(dir, name);
  }

  Task<void> op_remove(bool directory) {
    uint64_t dir = pick_dir();
    std::string name = pick_name(dir, 0.8);
    const std::vector<uint64_t> empty = model_.dirs_but_root(true);
    if (directory && !empty.empty() && rng_.chance(0.5)) {
      const uint64_t target = one_of(empty);
      dir = model_.node(target).parent;
      name = model_.name_in_parent(target);
    }
    note(std::string(directory ? "rmdir " : "remove ") + std::to_string(dir) + " " +
         printable(name));
    const Expect want = model_.predict_remove(directory, dir, name);
    const WallTime t0 = now();
    auto got = co_await call_remove(directory, dir, name);
    if (!answered(got, want)) co_return;
    expect_attrs(got->dir.before, dir, "remove: directory before");
    model_.removed(dir, name, t0);
    expect_attrs(got->dir.after, dir, "remove: directory after");
  }

  // Random names; or a directory into its own subtree or over an empty directory; or a file onto
  // another hard link of itself.
  void pick_rename(uint64_t* from_dir, std::string* from_name, uint64_t* to_dir,
                   std::string* to_name) {
    *from_dir = pick_dir();
    *from_name = pick_name(*from_dir, 0.85);
    *to_dir = pick_dir();
    *to_name = pick_name(*to_dir, 0.4);
    const uint64_t p = rng_.below(100);
    const std::vector<uint64_t> dirs = model_.dirs_but_root(false);
    const std::vector<uint64_t> empty = model_.dirs_but_root(true);
    if (p < 22 && !dirs.empty()) {
      const uint64_t moved = one_of(dirs);
      *from_dir = model_.node(moved).parent;
      *from_name = model_.name_in_parent(moved);
      if (p < 15) {  // into its own subtree
        std::vector<uint64_t> below;
        for (uint64_t dir : model_.inodes_of(FileType::kDirectory)) {
          if (model_.under(dir, moved)) below.push_back(dir);
        }
        *to_dir = one_of(below);
      } else if (!empty.empty()) {  // over an empty directory
        const uint64_t over = one_of(empty);
        *to_dir = model_.node(over).parent;
        *to_name = model_.name_in_parent(over);
      }
    } else if (p < 32) {
      for (uint64_t inode : model_.inodes_of(FileType::kRegular)) {
        if (model_.node(inode).nlink < 2 || !rng_.chance(0.5)) continue;
        const auto links = model_.links_of(inode);
        const size_t a = rng_.below(links.size());
        const size_t b = (a + rng_.between(1, links.size() - 1)) % links.size();
        *from_dir = links[a].first;
        *from_name = links[a].second;
        *to_dir = links[b].first;
        *to_name = links[b].second;
        return;
      }
    }
  }

  Task<void> op_rename() {
    uint64_t from_dir = 0;
    uint64_t to_dir = 0;
    std::string from_name;
    std::string to_name;
    pick_rename(&from_dir, &from_name, &to_dir, &to_name);
    note("rename " + std::to_string(from_dir) + " " + printable(from_name) + " -> " +
         std::to_string(to_dir) + " " + printable(to_name));
    bool noop = false;
    const Expect want = model_.predict_rename(from_dir, from_name, to_dir, to_name, &noop);
    const uint64_t moved = model_.entry_of(from_dir, from_name);
    const WallTime t0 = now();
    auto got = co_await fs_->rename(from_dir, from_name, to_dir, to_name);
    if (!answered(got, want)) co_return;
    expect_attrs(got->from.before, from_dir, "rename: from before");
    expect_attrs(got->to.before, to_dir, "rename: to before");
    if (!noop) model_.renamed(from_dir, from_name, to_dir, to_name, t0);
    expect_attrs(got->from.after, from_dir, "rename: from after");
    expect_attrs(got->to.after, to_dir, "rename: to after");
    co_await check_getattr(moved, "rename: the moved inode");
  }

  Task<void> check_getattr(uint64_t inode, const char* what) {
    auto got = co_await fs_->getattr(inode);
    if (answered(got, model_.live(inode) ? Expect() : Expect(Code::kNotFound))) {
      expect_attrs(*got, inode, what);
    }
  }

  Task<void> op_setattr() {
    const uint64_t inode = pick_inode(std::nullopt);
    SetAttributes set;
    if (rng_.chance(0.4)) set.mode = pick_mode();
    if (rng_.chance(0.25)) set.uid = pick_id();
    if (rng_.chance(0.25)) set.gid = pick_id();
    if (rng_.chance(0.2)) set.mtime = past_time();
    if (rng_.chance(0.4)) {
      const uint64_t size = model_.live(inode) ? model_.node(inode).size() : 0;
      const uint64_t p = rng_.below(10);
      set.size = p < 2 ? 0 : (p < 3 ? size : std::min(kSizeMax, rng_.below(size + 8 * kKiB)));
    }
    std::optional<WallTime> guard;
    if (rng_.chance(0.1)) {  // NFS sattrguard3: the ctime as last seen, or a stale one
      guard = WallTime{1};
      if (model_.live(inode)) {
        auto current = co_await fs_->getattr(inode);
        REQUIRE_MESSAGE(current.ok(), where() << "getattr for a guard: " << why(current));
        expect_attrs(*current, inode, "getattr for a guard");
        guard = current->ctime;
        if (rng_.chance(0.4)) guard->nanos -= 1;
      }
    }
    note("setattr " + std::to_string(inode) + (set.mode ? " mode" : "") + (set.uid ? " uid" : "") +
         (set.gid ? " gid" : "") + (set.mtime ? " mtime" : "") +
         (set.size ? " size " + std::to_string(*set.size) : "") + (guard ? " guarded" : ""));
    const Expect want = model_.predict_setattr(inode, set, guard);
    const WallTime t0 = now();
    auto got = co_await fs_->setattr(inode, set, guard);
    if (!answered(got, want)) co_return;
    expect_attrs(got->before, inode, "setattr: before");
    model_.set_attributes(inode, set, t0);
    expect_attrs(got->after, inode, "setattr: after");
  }

  Task<void> op_write() {
    const uint64_t inode = pick_inode(FileType::kRegular);
    PlannedWrite w = plan_write(inode);
    if (rng_.chance(0.02)) w.data.clear();
    note("write " + std::to_string(inode) + " at " + std::to_string(w.offset) + " length " +
         std::to_string(w.data.size()) + " stability " + std::to_string(int(w.stability)));
    const Expect want = model_.data_error(inode);
    const WallTime t0 = now();
    auto got = co_await fs_->write(inode, w.offset, w.data, w.stability);
    if (!answered(got, want)) co_return;
    expect_attrs(got->before, inode, "write: before");
    REQUIRE_MESSAGE(got->verifier == fs_->write_verifier(), where() << "write verifier");
    if (!w.data.empty()) model_.written(w, t0);
    unstable_ |= w.stability == Stability::kUnstable;
    expect_attrs(got->after, inode, "write: after");
  }

  // 2-5 writes in flight at once to disjoint ranges of one or two files: any order gives the same.
  Task<void> op_burst() {
    const std::vector<uint64_t> files = model_.inodes_of(FileType::kRegular);
    if (files.empty()) {
      co_await op_write();
      co_return;
    }
    const uint64_t first = one_of(files);
    const uint64_t second = one_of(files);
    std::vector<PlannedWrite> writes;
    const size_t n = rng_.between(2, 5);
    std::string text = "burst";
    for (size_t tries = 0; tries < 20 && writes.size() < n; ++tries) {
      PlannedWrite w = plan_write(rng_.chance(0.6) ? first : second);
      bool overlaps = false;
      for (const PlannedWrite& other : writes) {
        overlaps |= other.inode == w.inode && w.offset < other.offset + other.data.size() &&
                    other.offset < w.offset + w.data.size();
      }
      if (overlaps) continue;
      text += " [" + std::to_string(w.inode) + " at " + std::to_string(w.offset) + " length " +
              std::to_string(w.data.size()) + " stability " + std::to_string(int(w.stability)) +
              "]";
      writes.push_back(std::move(w));
    }
    const bool checkpointing = rng_.chance(0.3);  // a checkpoint in the middle of them
    note(text + (checkpointing ? " with a checkpoint" : ""));
    const WallTime t0 = now();
    std::vector<Outcome> outcomes(writes.size() + 1);
    async::TaskGroup group;
    for (size_t i = 0; i < writes.size(); ++i) {
      if (checkpointing && i == writes.size() / 2) {
        group.spawn(s_.env().executor(), checkpoint_into(fs_, &outcomes.back()));
      }
      group.spawn(s_.env().executor(), write_into(fs_, writes[i], &outcomes[i]));
    }
    co_await group.join();
    if (!checkpointing) outcomes.back().done = true;
    for (size_t i = 0; i < outcomes.size(); ++i) {
      REQUIRE_MESSAGE(outcomes[i].done, where() << "burst task " << i << " never finished");
      REQUIRE_MESSAGE(outcomes[i].error.empty(),
                      where() << "burst task " << i << ": " << outcomes[i].error);
    }
    for (size_t i = 0; i < writes.size(); ++i) {
      model_.written(writes[i], t0);
      unstable_ |= writes[i].stability == Stability::kUnstable;
    }
    ++tally_[op_].first;
    co_await check_getattr(first, "after a burst");
    co_await check_getattr(second, "after a burst");
  }

  Task<void> check_read(uint64_t inode, uint64_t offset, uint32_t count, const char* what) {
    const Expect want =
        count > kReadBytesMax ? Expect(Code::kInvalidArgument) : model_.data_error(inode);
    auto got = co_await fs_->read(inode, offset, count);
    if (!answered(got, want)) co_return;
    expect_attrs(got->attrs, inode, what);
    const std::vector<uint8_t>& file = model_.node(inode).data;
    const uint64_t begin = std::min<uint64_t>(offset, file.size());
    const uint64_t end = std::min<uint64_t>(offset + count, file.size());
    const std::vector<uint8_t> expected(file.begin() + static_cast<ptrdiff_t>(begin),
                                        file.begin() + static_cast<ptrdiff_t>(end));
    REQUIRE_MESSAGE(got->data == expected, where() << std::string(what) << ": read " << inode
                                                   << " at " << offset << " count " << count << ": "
                                                   << first_difference(got->data, expected));
    const bool eof = offset >= file.size() || (count != 0 && offset + count >= file.size());
    REQUIRE_MESSAGE(got->eof == eof, where() << std::string(what) << ": eof " << got->eof);
  }

  Task<void> op_read() {
    const uint64_t inode = pick_inode(FileType::kRegular);
    const uint64_t size = model_.live(inode) ? model_.node(inode).size() : 0;
    const uint64_t offset = rng_.below(size + 2 * kBlockBytes);
    uint32_t count = static_cast<uint32_t>(rng_.below(4 * kBlockBytes));
    if (rng_.chance(0.03)) count = kReadBytesMax + 1;
    note("read " + std::to_string(inode) + " at " + std::to_string(offset) + " count " +
         std::to_string(count));
    co_await check_read(inode, offset, count, "read");
  }

  Task<void> op_lookup() {
    const uint64_t dir = pick_dir();
    std::string name = pick_name(dir, 0.6);
    if (rng_.chance(0.1)) name = rng_.chance(0.5) ? "." : "..";
    note("lookup " + std::to_string(dir) + " " + printable(name));
    uint64_t found = 0;
    const Expect want = model_.predict_lookup(dir, name, &found);
    auto got = co_await fs_->lookup(dir, name);
    if (answered(got, want)) expect_attrs(*got, found, "lookup");
  }

  Task<void> op_getattr() {
    const uint64_t inode = pick_inode(std::nullopt);
    note("getattr " + std::to_string(inode));
    co_await check_getattr(inode, "getattr");
  }

  Task<void> op_readdir() {
    const uint64_t dir = pick_dir();
    const size_t page = rng_.chance(0.03) ? 0 : rng_.between(1, 6);
    note("readdir " + std::to_string(dir) + " page " + std::to_string(page));
    const Expect want = page == 0 ? Expect(Code::kInvalidArgument) : model_.dir_error(dir);
    if (!want) {
      co_await check_listing(dir, page);
      co_return;
    }
    auto got = co_await fs_->readdir(dir, 0, page);
    answered(got, want);
  }

  Task<void> op_readlink() {
    const uint64_t inode = pick_inode(FileType::kSymlink);
    note("readlink " + std::to_string(inode));
    co_await check_readlink(inode);
  }

  Task<void> check_readlink(uint64_t inode) {
    Expect want;
    if (!model_.live(inode)) {
      want = Code::kNotFound;
    } else if (model_.node(inode).type != FileType::kSymlink) {
      want = Code::kInvalidArgument;
    }
    auto got = co_await fs_->readlink(inode);
    if (answered(got, want)) {
      REQUIRE_MESSAGE(*got == model_.node(inode).target,
                      where() << "readlink " << inode << ": " << got->size() << " bytes");
    }
  }

  // Pages through the whole listing of `dir` and compares it with the model.
  Task<void> check_listing(uint64_t dir, size_t page) {
    using Listing = std::map<std::string, std::pair<uint64_t, FileType>>;
    Listing want;
    want["."] = {dir, FileType::kDirectory};
    want[".."] = {model_.parent_of(dir), FileType::kDirectory};
    for (const auto& entry : model_.node(dir).entries) {
      want[entry.first] = {entry.second, model_.node(entry.second).type};
    }
    Listing got;
    uint64_t cookie = 0;
    for (size_t pages = 0;; ++pages) {
      REQUIRE_MESSAGE(pages < 1000, where() << "readdir " << dir << " does not end");
      auto listed = co_await fs_->readdir(dir, cookie, page);
      REQUIRE_MESSAGE(listed.ok(), where() << "readdir " << dir << ": " << why(listed));
      REQUIRE_MESSAGE(listed->entries.size() <= page, where() << "readdir: too many entries");
      if (pages == 0) expect_attrs(listed->dir, dir, "readdir: the directory");
      for (const DirListEntry& entry : listed->entries) {
        REQUIRE_MESSAGE(
            got.count(entry.name) == 0,
            where() << "readdir " << dir << ": listed twice: " << printable(entry.name));
        got[entry.name] = {entry.inode, entry.type};
        cookie = entry.cookie;
      }
      if (listed->eof) break;
      REQUIRE_MESSAGE(!listed->entries.empty(), where() << "readdir: an empty page before eof");
    }
    std::ostringstream diff;
    for (const auto& entry : got) {
      if (want.count(entry.first) == 0 || want[entry.first] != entry.second) {
        diff << " got " << printable(entry.first) << "=" << entry.second.first;
      }
    }
    for (const auto& entry : want) {
      if (got.count(entry.first) == 0 || got[entry.first] != entry.second) {
        diff << " want " << printable(entry.first) << "=" << entry.second.first;
      }
    }
    const std::string differences = diff.str();
    REQUIRE_MESSAGE(differences.empty(),
                    where() << "readdir " << dir << " page " << page << " differs:" << differences);
    ++tally_[op_].first;
  }

  // --- commits, checkpoints, restarts ------------------------------------------------------------
  Task<void> commit() {
    note("commit");
    auto committed = co_await fs_->commit();
    REQUIRE_MESSAGE(committed.ok(), where() << "commit: " << why(committed));
    unstable_ = false;
  }

  Task<void> checkpoint() {
    note("checkpoint");
    auto done = co_await fs_->checkpoint();
    REQUIRE_MESSAGE(done.ok(), where() << "checkpoint: " << why(done));
  }

  Task<void> op_restart() {
    note("restart");
    ++restarts_;
    checkpoints_ += fs_->stats().checkpoints;
    unstable_ = false;
    co_await fs_->close();
    fs_ = co_await s_.open(config_);
    co_await verify_all("after a restart");
  }

  Task<void> op_crash() {
    if (unstable_) co_await commit();
    note("crash");
    ++crashes_;
    checkpoints_ += fs_->stats().checkpoints;
    const uint64_t verifier = fs_->write_verifier();
    FileSystem* reborn = co_await s_.open(config_);  // takes over while the old one runs
    co_await fs_->close();
    fs_ = reborn;
    // NFS clients resend uncommitted writes when the verifier changes: it must after a crash.
    REQUIRE_MESSAGE(fs_->write_verifier() != verifier, where() << "same write verifier");
    co_await verify_all("after a crash");
  }

  // The whole tree against the model: listings, attributes, bytes, targets; removed inodes gone.
  Task<void> verify_all(const char* when) {
    phase_ = std::string(" (verifying ") + when + ")";
    op_ = "verify";
    co_await check_consistency(*fs_, where(), model_.size());
    for (uint64_t inode : model_.inodes_of(std::nullopt)) {
      co_await check_getattr(inode, "verify: getattr");
      const Node& n = model_.node(inode);
      if (n.type == FileType::kRegular) {
        co_await check_read(inode, 0, static_cast<uint32_t>(n.data.size() + 100), "verify: read");
      } else if (n.type == FileType::kSymlink) {
        co_await check_readlink(inode);
      } else if (n.type == FileType::kDirectory) {
        uint32_t subdirs = 0;
        for (const auto& entry : n.entries) subdirs += model_.is_dir(entry.second) ? 1 : 0;
        REQUIRE_MESSAGE(n.nlink == 2 + subdirs, where() << "the model's nlink of " << inode);
        co_await check_listing(inode, rng_.between(1, 7));
        auto up = co_await fs_->lookup(inode, "..");
        REQUIRE_MESSAGE(up.ok(), where() << "lookup .. in " << inode << ": " << why(up));
        REQUIRE_MESSAGE(up->inode == model_.parent_of(inode), where() << ".. of " << inode);
      }
    }
    size_t checked = 0;
    for (uint64_t inode : model_.dead()) {
      if (checked++ >= 32) break;
      co_await check_getattr(inode, "verify: a removed inode");
    }
    REQUIRE_MESSAGE(fs_->stats().inodes == model_.size(),
                    where() << "stats().inodes " << fs_->stats().inodes << " != " << model_.size());
    phase_.clear();
  }

  FsSession& s_;
  Prng rng_;
  const uint64_t seed_;
  const FsConfig config_;
  FileSystem* fs_ = nullptr;
  TreeModel model_;
  std::optional<MakeCall> last_exclusive_;  // retried now and then
  bool unstable_ = false;                   // an UNSTABLE write since the last commit
  size_t step_ = 0;
  std::string phase_;
  std::deque<std::string> recent_;
  std::string op_;                                              // the current operation's name
  std::map<std::string, std::pair<uint64_t, uint64_t>> tally_;  // op -> (successes, errors)
  uint64_t restarts_ = 0;
  uint64_t crashes_ = 0;
  uint64_t checkpoints_ = 0;  // by every owner but the current one
};

TEST_CASE("hostdriver/fs: random operations match an in-memory model") {
  for (const uint64_t seed : test_seeds({kDefaultSeed, 7, 1234567})) {
    MESSAGE("SPLITARRAY_SEED=" << seed);
    with_fs([seed](FsSession& s) -> Task<void> {
      ModelRun run(s, seed, s.config());
      co_await run.run(kOpsPerSeed);
    });
  }
}

// The same with caches so small that inodes and directory trees are evicted and reloaded all the
// time, and background checkpoints run between (and during) operations.
TEST_CASE("hostdriver/fs: random operations match the model with tiny caches") {
  for (const uint64_t seed : test_seeds({kDefaultSeed + 1})) {
    MESSAGE("SPLITARRAY_SEED=" << seed);
    with_fs([seed](FsSession& s) -> Task<void> {
      FsConfig config = s.config();
      config.inode_cache_max = 4;
      config.dir_trees_max = 1;
      config.node_cache_bytes = 32 * kKiB;
      config.dirty_bytes_max = 1 * kKiB;
      ModelRun run(s, seed, config);
      co_await run.run(kOpsPerSeed);
    });
  }
}

}  // namespace
}  // namespace splitarray::hostdriver::fs::fs_test
