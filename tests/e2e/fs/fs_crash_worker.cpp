// fs_crash_worker: the host-driver process of the file-system crash test (fs_crash_test.cpp).
// There is no host-driver daemon yet, so this program plays it: it owns the datastore's
// FileSystem on a real netshelf and is killed with SIGKILL at random moments.
//
//   fs_crash_worker SHELF_ADDRESS DATASTORE JOURNAL SEED MODE
//   MODE: format    create the datastore
//         run       verify, then random mixed operations until killed
//         run-full  the same with fsck's container check
//         verify    verify (with the full fsck), close cleanly, exit
//
// Verify: replays JOURNAL (fs_crash_model.h) into the model of every acknowledged operation plus
// the few whose outcome is unknown, reads the whole namespace and every file's bytes, and
// requires the file system to equal the model with some subset of the unknown operations wholly
// applied. It then journals which subset that was ("resolve") so the model is exact again.
// Work: before each operation an "intent" line, after its ok an "ack" line, each written and
// fsynced (the journal survives the kill; a torn last line is ignored).
// Exit: 0 ok, 1 violation (printed), 2 setup error, 4 an operation failed for a reason outside
// the file system's semantics (e.g. the shelf was killed), never while the shelf is up.
#include <utility>  // before any Asio header (STYLE.md, Boost 1.74 + GCC 12)

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/env_asio/asio_env.h"
#include "hostdriver/fs/file_system.h"
#include "tests/e2e/fs/fs_crash_model.h"
#ifdef SPLITARRAY_HAVE_FSCK
#include "hostdriver/fs/fsck.h"
#endif

namespace splitarray::fs_crash {
namespace {

using hostdriver::fs::Attributes;
using hostdriver::fs::CreateMode;
using hostdriver::fs::DirListEntry;
using hostdriver::fs::FileSystem;
using hostdriver::fs::FileType;
using hostdriver::fs::FsConfig;
using hostdriver::fs::kRootInode;
using hostdriver::fs::SetAttributes;
using hostdriver::fs::Stability;
using std::chrono::milliseconds;

constexpr int kExitOk = 0;
constexpr int kExitViolation = 1;
constexpr int kExitSetup = 2;
constexpr int kExitOpFailed = 4;
constexpr uint32_t kReadChunkBytes = 256 * 1024;  // <= hostdriver::fs::kReadBytesMax
constexpr size_t kPageEntries = 7;                // small readdir pages: paging is exercised
constexpr size_t kNamesPerDir = 12;               // f0..f11
constexpr size_t kDirNames = 4;                   // d0..d3
constexpr size_t kNamesMax = 40;                  // creates stop here
constexpr uint64_t kWriteBytesMax = 48 * 1024;
static_assert(kReadChunkBytes <= hostdriver::fs::kReadBytesMax);

[[noreturn]] void finish(int code, const std::string& message) {
  const char* what = code == kExitViolation ? "VIOLATION: " : code == kExitOk ? "" : "ERROR: ";
  std::cout << what << message << std::endl;
  std::fflush(nullptr);
  std::_Exit(code);  // no destructors: a FileSystem still running must not be torn down
}

// The journal, appended one fsynced line at a time.
class Journal final {
 public:
  explicit Journal(const std::string& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ < 0) finish(kExitSetup, "cannot open journal " + path);
  }
  ~Journal() { ::close(fd_); }
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  void append(const std::string& line) {
    const std::string text = line + "\n";
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) finish(kExitSetup, "journal write failed");
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd_) != 0) finish(kExitSetup, "journal fsync failed");
  }

 private:
  int fd_;
};

Replayed read_journal(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  JournalReader reader;
  size_t start = 0;
  for (size_t end = text.find('\n'); end != std::string::npos; end = text.find('\n', start)) {
    reader.line(text.substr(start, end - start));
    start = end + 1;
  }
  return std::move(reader).take();  // a last line without '\n' was torn by the kill: ignored
}

FsConfig make_config(const Address& shelf, const std::string& datastore, Prng& rng) {
  FsConfig config;
  config.datastore = datastore;
  config.store.shelf = shelf;
  // The tests' small geometry (tests/unit/hostdriver/blockstore/block_store_fixture.h).
  config.store.block_size = 4096;
  config.store.geometry = hostdriver::container::ContainerGeometry{8, 64 * 1024};
  config.store.parity_fragments = 2;
  config.store.bloom_expected_entries = uint64_t{1} << 16;
  config.store.recent_fps = 4096;
  config.store.read_cache_bytes = 4 * kMiB;
  config.store.log_queue_bytes_max = 4 * kMiB;
  config.store.shelf_timeout = std::chrono::seconds(10);
  // Seal and checkpoint often, at seed-chosen rates, so kills land in destages and checkpoints.
  config.store.seal_idle = milliseconds(rng.between(50, 1000));
  config.node_cache_bytes = 2 * kMiB;
  config.dirty_bytes_max = size_t{64} * kKiB * rng.between(1, 16);
  config.checkpoint_interval = milliseconds(rng.between(50, 600));
  return config;
}

bool retryable(Code code) {
  return code == Code::kUnavailable || code == Code::kIo || code == Code::kTimeout ||
         code == Code::kBusy;
}

// The worker's state: the model (exact: every journaled op is acknowledged or resolved) and the
// inode numbers the file system gave to its files and directories.
struct Worker {
  Env& env;
  FileSystem& fs;
  Journal& journal;
  Prng rng;
  Model model;
  std::map<uint64_t, uint64_t> inode_of;         // fid -> inode
  std::map<std::string, uint64_t> dir_inode_of;  // dir -> inode
  uint64_t next_n = 1;
  uint64_t ops = 0;
};

// --- observing the file system ---------------------------------------------------------------

Task<Result<std::vector<DirListEntry>>> list_dir(FileSystem& fs, uint64_t dir) {
  std::vector<DirListEntry> out;
  uint64_t cookie = 0;
  for (int pages = 0; pages < 10000; ++pages) {
    auto page = co_await fs.readdir(dir, cookie, kPageEntries);
    if (!page.ok()) co_return std::move(page).take_error();
    for (DirListEntry& entry : page->entries) {
      cookie = entry.cookie;
      if (entry.name != "." && entry.name != "..") out.push_back(std::move(entry));
    }
    if (page->eof) co_return out;
    if (page->entries.empty()) break;
  }
  co_return Error{Code::kCorruption, "readdir does not end"};
}

Task<Result<ObservedFile>> read_file(FileSystem& fs, uint64_t inode) {
  auto attrs = co_await fs.getattr(inode);
  if (!attrs.ok()) co_return std::move(attrs).take_error();
  ObservedFile file;
  file.mode = attrs->mode;
  file.nlink = attrs->nlink;
  while (file.bytes.size() < attrs->size) {
    const uint64_t left = attrs->size - file.bytes.size();
    const auto count = static_cast<uint32_t>(std::min<uint64_t>(left, kReadChunkBytes));
    auto got = co_await fs.read(inode, file.bytes.size(), count);
    if (!got.ok()) co_return std::move(got).take_error();
    if (got->data.empty()) co_return Error{Code::kCorruption, "short read before the size"};
    file.bytes.insert(file.bytes.end(), got->data.begin(), got->data.end());
  }
  co_return file;
}

// Adds the entry `name` of directory `dir` (a file) to `seen`, reading it if new.
Task<Result<void>> observe_file(FileSystem& fs, const std::string& dir, const DirListEntry& entry,
                                Observed& seen) {
  const std::string path = path_of(dir, entry.name);
  if (entry.type != FileType::kRegular) {
    seen.oddities.push_back(path + " is not a regular file");
    co_return ok_result();
  }
  auto looked = co_await fs.lookup(seen.dir_inodes.at(dir), entry.name);
  if (!looked.ok() || looked->inode != entry.inode) {
    seen.oddities.push_back(path + ": lookup disagrees with readdir");
  }
  seen.dirs[dir][entry.name] = entry.inode;
  if (seen.files.contains(entry.inode)) co_return ok_result();
  auto file = co_await read_file(fs, entry.inode);
  if (!file.ok()) co_return Error{file.code(), path + ": " + file.error().message};
  seen.files[entry.inode] = std::move(file).value();
  co_return ok_result();
}

Task<Result<Observed>> observe(FileSystem& fs) {
  Observed seen;
  auto root = co_await fs.getattr(kRootInode);
  if (!root.ok()) co_return std::move(root).take_error();
  seen.dir_nlink[kRootDir] = root->nlink;
  seen.dir_inodes[kRootDir] = kRootInode;
  seen.dirs[kRootDir];
  auto entries = co_await list_dir(fs, kRootInode);
  if (!entries.ok()) co_return std::move(entries).take_error();
  for (const DirListEntry& entry : *entries) {
    if (entry.type != FileType::kDirectory) {
      auto added = co_await observe_file(fs, kRootDir, entry, seen);
      if (!added.ok()) co_return std::move(added).take_error();
      continue;
    }
    auto attrs = co_await fs.getattr(entry.inode);
    if (!attrs.ok()) co_return Error{attrs.code(), entry.name + ": " + attrs.error().message};
    seen.dir_nlink[entry.name] = attrs->nlink;
    seen.dir_inodes[entry.name] = entry.inode;
    seen.dirs[entry.name];
    auto children = co_await list_dir(fs, entry.inode);
    if (!children.ok()) co_return std::move(children).take_error();
    for (const DirListEntry& child : *children) {
      auto added = co_await observe_file(fs, entry.name, child, seen);
      if (!added.ok()) co_return std::move(added).take_error();
    }
  }
  co_return seen;
}

// --- verify ----------------------------------------------------------------------------------

std::string describe(const Op& op) { return format_op(op).substr(std::string("intent ").size()); }

Task<void> run_fsck(FileSystem& fs, bool full) {
#ifdef SPLITARRAY_HAVE_FSCK
  hostdriver::fs::FsckOptions options;
  options.check_fragments = full;
  auto report = co_await hostdriver::fs::fsck(fs, options);
  if (!report.ok()) finish(kExitViolation, "fsck could not run: " + report.error().to_string());
  if (!report->ok()) {
    std::ostringstream out;
    out << "fsck: " << report->summary();
    for (const std::string& problem : report->problems) out << "\n  " << problem;
    finish(kExitViolation, out.str());
  }
  std::cout << "fsck: " << report->summary() << std::endl;
#else
  (void)fs;
  (void)full;
  co_return;
#endif
}

// Finds which subset of the uncertain ops the file system shows, journals it and makes it the
// worker's model; any other state is a violation.
Task<void> verify(Worker& w, Replayed replayed, bool full_fsck) {
  auto seen = co_await observe(w.fs);
  if (!seen.ok()) finish(kExitViolation, "reading the file system: " + seen.error().to_string());
  const std::vector<Op>& uncertain = replayed.uncertain;
  std::optional<uint32_t> chosen;
  std::optional<Model> model;
  for (uint32_t mask = 0; mask < (1u << uncertain.size()) && !chosen; ++mask) {
    model = candidate(replayed.model, uncertain, mask);
    if (model && compare(*model, *seen).empty()) chosen = mask;
  }
  if (!chosen) {
    std::ostringstream out;
    out << "the file system matches no allowed state (" << replayed.acked
        << " acknowledged ops; uncertain:";
    for (const Op& op : uncertain) out << " [" << describe(op) << "]";
    out << ")\n  vs acknowledged only: " << compare(replayed.model, *seen);
    const uint32_t all = (1u << uncertain.size()) - 1;
    if (auto applied = candidate(replayed.model, uncertain, all); applied && all != 0) {
      out << "\n  vs all uncertain applied: " << compare(*applied, *seen);
    }
    finish(kExitViolation, out.str());
  }
  co_await run_fsck(w.fs, full_fsck);
  for (size_t i = 0; i < uncertain.size(); ++i) {
    const bool applied = (*chosen & (1u << i)) != 0;
    w.journal.append("resolve " + std::to_string(uncertain[i].n) + (applied ? " 1" : " 0"));
    std::cout << "in flight at the kill: [" << describe(uncertain[i]) << "] "
              << (applied ? "applied" : "not applied") << std::endl;
  }
  w.model = std::move(*model);
  w.dir_inode_of = seen->dir_inodes;
  for (const auto& dir : w.model.dirs) {
    for (const auto& entry : dir.second)
      w.inode_of[entry.second] = seen->dirs[dir.first][entry.first];
  }
  w.next_n = replayed.last_n + 1;
  std::cout << "verified: " << replayed.acked << " acknowledged ops, " << w.model.files.size()
            << " files, " << w.model.dirs.size() << " directories" << std::endl;
}

// --- choosing operations -----------------------------------------------------------------------

struct Name {
  std::string dir;
  std::string name;
  uint64_t fid = 0;
};

std::vector<Name> all_names(const Model& model) {
  std::vector<Name> out;
  for (const auto& dir : model.dirs) {
    for (const auto& entry : dir.second) out.push_back(Name{dir.first, entry.first, entry.second});
  }
  return out;
}

std::string random_file_name(Prng& rng) { return "f" + std::to_string(rng.below(kNamesPerDir)); }
std::string random_dir_name(Prng& rng) { return "d" + std::to_string(rng.below(kDirNames)); }

std::string random_dir(const Model& model, Prng& rng) {
  auto it = model.dirs.begin();
  std::advance(it, static_cast<ptrdiff_t>(rng.below(model.dirs.size())));
  return it->first;
}

uint64_t random_fid(const Model& model, Prng& rng) {
  ASSERT(!model.files.empty());
  auto it = model.files.begin();
  std::advance(it, static_cast<ptrdiff_t>(rng.below(model.files.size())));
  return it->first;
}

std::optional<Op> make_write(Worker& w, uint64_t fid, bool stable) {
  const uint64_t size = w.model.files.at(fid).bytes.size();
  uint64_t offset = w.rng.below(std::min<uint64_t>(size + 8192, kFileBytesMax - 1) + 1);
  if (w.rng.chance(0.3)) offset -= offset % 4096;  // block-aligned: whole-block overwrites
  uint64_t length = w.rng.chance(0.7) ? w.rng.between(1, 8192) : w.rng.between(1, kWriteBytesMax);
  length = std::min(length, kFileBytesMax - offset);
  if (length == 0) return std::nullopt;
  Op op;
  op.kind = OpKind::kWrite;
  op.fid = fid;
  op.offset = offset;
  op.length = length;
  op.stable = stable;
  return op;
}

std::optional<Op> make_namespace_op(Worker& w, uint64_t roll) {
  Prng& rng = w.rng;
  const std::vector<Name> names = all_names(w.model);
  Op op;
  if (roll < 25) {
    op.kind = OpKind::kCreate;
    op.dir = random_dir(w.model, rng);
    op.name = random_file_name(rng);
    if (names.size() >= kNamesMax || w.model.fid_at(op.dir, op.name)) return std::nullopt;
    return op;
  }
  if (roll < 60) {
    if (names.empty()) return std::nullopt;
    const Name& from = names[rng.below(names.size())];
    op.kind = roll < 40 ? OpKind::kRename : roll < 53 ? OpKind::kRemove : OpKind::kLink;
    op.dir = from.dir;
    op.name = from.name;
    op.fid = from.fid;
    op.to_dir = random_dir(w.model, rng);
    op.to_name = random_file_name(rng);
    const auto target = w.model.fid_at(op.to_dir, op.to_name);
    if (op.kind == OpKind::kRename && target == from.fid) return std::nullopt;  // POSIX no-op
    if (op.kind == OpKind::kLink) {
      if (target || w.model.links(from.fid) >= 6) return std::nullopt;
      op.dir = op.to_dir;
      op.name = op.to_name;
    }
    return op;
  }
  op.name = random_dir_name(rng);
  const bool exists = w.model.dirs.contains(op.name);
  const bool empty = exists && w.model.dirs.at(op.name).empty();
  if (roll < 75) {
    op.kind = OpKind::kMkdir;
    return exists ? std::nullopt : std::optional<Op>(op);
  }
  if (roll < 85) {
    op.kind = OpKind::kRmdir;
    return empty ? std::optional<Op>(op) : std::nullopt;
  }
  op.kind = OpKind::kRenameDir;
  op.to_name = random_dir_name(rng);
  const bool target_ok = !w.model.dirs.contains(op.to_name) || w.model.dirs.at(op.to_name).empty();
  if (!exists || op.to_name == op.name || !target_ok) return std::nullopt;
  return op;
}

// The next operations: one, or an unstable batch (writes to distinct files, then a commit).
std::vector<Op> choose(Worker& w) {
  Prng& rng = w.rng;
  const uint64_t roll = rng.below(100);
  std::vector<Op> ops;
  if (roll < 55 && !w.model.files.empty()) {
    const uint64_t fid = random_fid(w.model, rng);
    if (roll < 30) {
      if (auto op = make_write(w, fid, true)) ops.push_back(*op);
    } else if (roll < 40) {
      std::set<uint64_t> fids;
      for (uint64_t i = rng.between(1, 3); i > 0; --i) fids.insert(random_fid(w.model, rng));
      for (uint64_t f : fids) {
        if (auto op = make_write(w, f, false)) ops.push_back(*op);
      }
      Op commit;
      commit.kind = OpKind::kCommit;
      ops.push_back(commit);
    } else {
      Op op;
      op.fid = fid;
      op.kind = roll < 50 ? OpKind::kTruncate : OpKind::kChmod;
      const uint64_t size = w.model.files.at(fid).bytes.size();
      op.offset = rng.below(std::min<uint64_t>(size + 16384, kFileBytesMax) + 1);
      static constexpr uint32_t kModes[] = {0600, 0640, 0644, 0664, 0700, 0755};
      op.mode = kModes[rng.below(std::size(kModes))];
      ops.push_back(op);
    }
  } else if (auto op = make_namespace_op(w, rng.below(100))) {
    ops.push_back(*op);
  }
  for (Op& op : ops) op.n = w.next_n++;
  return ops;
}

// --- performing operations ---------------------------------------------------------------------

void check_answer(bool holds, const Op& op, const std::string& what) {
  if (!holds) finish(kExitViolation, "answer to [" + describe(op) + "]: " + what);
}

Task<Result<void>> send_data(Worker& w, const Op& op) {
  const uint64_t inode = w.inode_of.at(op.fid);
  const uint64_t size = w.model.files.at(op.fid).bytes.size();
  if (op.kind == OpKind::kWrite) {
    const Stability stability = op.stable ? Stability::kFileSync : Stability::kUnstable;
    auto wrote =
        co_await w.fs.write(inode, op.offset, write_bytes(op.fid, op.n, op.length), stability);
    if (!wrote.ok()) co_return std::move(wrote).take_error();
    check_answer(wrote->after.size == std::max(size, op.offset + op.length), op, "size after");
    co_return ok_result();
  }
  SetAttributes set;
  if (op.kind == OpKind::kTruncate) set.size = op.offset;
  if (op.kind == OpKind::kChmod) set.mode = op.mode;
  auto changed = co_await w.fs.setattr(inode, set, std::nullopt);
  if (!changed.ok()) co_return std::move(changed).take_error();
  check_answer(op.kind != OpKind::kTruncate || changed->after.size == op.offset, op, "size");
  check_answer(op.kind != OpKind::kChmod || changed->after.mode == op.mode, op, "mode");
  co_return ok_result();
}

template <class T>
Result<void> status(Result<T>& result) {
  if (!result.ok()) return std::move(result).take_error();
  return ok_result();
}

Task<Result<void>> send_namespace(Worker& w, const Op& op) {
  FileSystem& fs = w.fs;
  if (op.kind == OpKind::kCreate || op.kind == OpKind::kMkdir) {
    SetAttributes set;
    set.mode = op.kind == OpKind::kCreate ? 0644 : 0755;
    const uint64_t parent = w.dir_inode_of.at(op.kind == OpKind::kCreate ? op.dir : kRootDir);
    Result<hostdriver::fs::CreateResult> made = Error{Code::kCancelled, ""};
    if (op.kind == OpKind::kCreate) {
      made = co_await fs.create(parent, op.name, CreateMode::kGuarded, set, 0);
    } else {
      made = co_await fs.mkdir(parent, op.name, set);
    }
    if (!made.ok()) co_return std::move(made).take_error();
    check_answer(made->attrs.size == 0 || op.kind == OpKind::kMkdir, op, "new file not empty");
    if (op.kind == OpKind::kCreate) w.inode_of[op.n] = made->attrs.inode;
    if (op.kind == OpKind::kMkdir) w.dir_inode_of[op.name] = made->attrs.inode;
    co_return ok_result();
  }
  if (op.kind == OpKind::kRmdir) {
    auto removed = co_await fs.rmdir(kRootInode, op.name);
    co_return status(removed);
  }
  if (op.kind == OpKind::kRemove) {
    auto removed = co_await fs.remove(w.dir_inode_of.at(op.dir), op.name);
    co_return status(removed);
  }
  if (op.kind == OpKind::kLink) {
    auto linked = co_await fs.link(w.inode_of.at(op.fid), w.dir_inode_of.at(op.dir), op.name);
    if (!linked.ok()) co_return std::move(linked).take_error();
    check_answer(linked->attrs.nlink == w.model.links(op.fid) + 1, op, "nlink after link");
    co_return ok_result();
  }
  const bool dir = op.kind == OpKind::kRenameDir;
  const uint64_t from = w.dir_inode_of.at(dir ? kRootDir : op.dir);
  const uint64_t to = w.dir_inode_of.at(dir ? kRootDir : op.to_dir);
  auto renamed = co_await fs.rename(from, op.name, to, op.to_name);
  co_return status(renamed);
}

[[noreturn]] void op_failed(const Op& op, const Error& error) {
  const Code code = error.code;
  const bool semantic =
      code == Code::kExists || code == Code::kNotFound || code == Code::kNotDirectory ||
      code == Code::kIsDirectory || code == Code::kNotEmpty || code == Code::kInvalidArgument ||
      code == Code::kNameTooLong || code == Code::kFileTooLarge || code == Code::kCorruption;
  finish(semantic ? kExitViolation : kExitOpFailed,
         "op [" + describe(op) + "] failed: " + error.to_string());
}

Task<void> perform(Worker& w, const Op& op) {
  w.journal.append(format_op(op));
  Result<void> sent = ok_result();
  if (op.kind == OpKind::kWrite || op.kind == OpKind::kTruncate || op.kind == OpKind::kChmod) {
    sent = co_await send_data(w, op);
  } else if (op.kind == OpKind::kCommit) {
    sent = co_await w.fs.commit();
  } else {
    sent = co_await send_namespace(w, op);
  }
  if (!sent.ok()) op_failed(op, sent.error());
  w.journal.append("ack " + std::to_string(op.n));
  ASSERT_MSG(apply(w.model, op), "the worker chose an op that does not fit its model");
  ++w.ops;
  if (op.kind == OpKind::kRmdir) w.dir_inode_of.erase(op.name);
  if (op.kind == OpKind::kRenameDir) {
    w.dir_inode_of[op.to_name] = w.dir_inode_of.at(op.name);
    w.dir_inode_of.erase(op.name);
  }
  std::erase_if(w.inode_of,
                [&w](const auto& entry) { return !w.model.files.contains(entry.first); });
}

// Reads a random file back while working: the file system must show what was acknowledged.
Task<void> read_back(Worker& w) {
  if (w.model.files.empty()) co_return;
  const uint64_t fid = random_fid(w.model, w.rng);
  auto file = co_await read_file(w.fs, w.inode_of.at(fid));
  if (!file.ok()) {
    finish(file.code() == Code::kCorruption ? kExitViolation : kExitOpFailed,
           "read-back of fid " + std::to_string(fid) + ": " + file.error().to_string());
  }
  const FileState& want = w.model.files.at(fid);
  if (file->bytes != want.bytes || file->mode != want.mode) {
    finish(kExitViolation, "read-back of fid " + std::to_string(fid) +
                               " differs: " + describe_bytes(file->bytes, want.bytes));
  }
}

Task<void> work(Worker& w) {
  for (;;) {
    if (w.rng.chance(0.04)) {
      co_await read_back(w);
      continue;
    }
    const std::vector<Op> ops = choose(w);
    for (const Op& op : ops) co_await perform(w, op);
  }
}

// --- the program -------------------------------------------------------------------------------

struct Args {
  Address shelf;
  std::string datastore;
  std::string journal;
  uint64_t seed = 0;
  std::string mode;
};

Task<Result<std::unique_ptr<FileSystem>>> open_fs(Env& env, FsConfig config) {
  const TimePoint give_up = env.clock.now() + std::chrono::seconds(30);
  for (;;) {
    auto opened = co_await FileSystem::open(env, config);
    if (opened.ok() || !retryable(opened.code()) || env.clock.now() >= give_up) {
      co_return std::move(opened);
    }
    co_await sleep_for(env.clock, milliseconds(50));
  }
}

Task<void> run(Env& env, Args args) {
  Prng rng(args.seed);
  FsConfig config = make_config(args.shelf, args.datastore, rng);
  if (args.mode == "format") {
    const hostdriver::fs::FormatOptions options;
    const TimePoint give_up = env.clock.now() + std::chrono::seconds(30);
    for (;;) {  // the shelf may still be starting
      auto formatted = co_await FileSystem::format(env, config, options);
      if (formatted.ok()) finish(kExitOk, "formatted");
      if (!retryable(formatted.code()) || env.clock.now() >= give_up) {
        finish(kExitSetup, "format: " + formatted.error().to_string());
      }
      co_await sleep_for(env.clock, milliseconds(50));
    }
  }
  Replayed replayed = read_journal(args.journal);
  if (!replayed.error.empty()) finish(kExitSetup, "journal: " + replayed.error);
  if (replayed.uncertain.size() > kUncertainMax) finish(kExitSetup, "too many uncertain ops");
  auto opened = co_await open_fs(env, config);
  if (!opened.ok()) {
    // A datastore that cannot be opened while the shelf is up lost something acknowledged.
    finish(retryable(opened.code()) ? kExitSetup : kExitViolation,
           "open: " + opened.error().to_string());
  }
  std::unique_ptr<FileSystem> fs = std::move(opened).value();
  Journal journal(args.journal);
  Worker w{env, *fs, journal, rng.fork(), {}, {}, {}, 1, 0};
  co_await verify(w, std::move(replayed), args.mode != "run");
  if (args.mode == "verify") {
    co_await fs->close();
    finish(kExitOk, "closed");
  }
  std::ofstream(args.journal + ".working") << "working\n";
  std::cout << "working" << std::endl;
  co_await work(w);
}

bool parse_args(int argc, char** argv, Args& args) {
  if (argc != 6) return false;
  auto shelf = Address::parse(argv[1]);
  if (!shelf.ok()) return false;
  args.shelf = *shelf;
  args.datastore = argv[2];
  args.journal = argv[3];
  args.seed = std::strtoull(argv[4], nullptr, 10);
  args.mode = argv[5];
  return args.mode == "format" || args.mode == "run" || args.mode == "run-full" ||
         args.mode == "verify";
}

}  // namespace
}  // namespace splitarray::fs_crash

int main(int argc, char** argv) {
  using namespace splitarray;
  fs_crash::Args args;
  if (!fs_crash::parse_args(argc, argv, args)) {
    std::fprintf(stderr,
                 "usage: fs_crash_worker SHELF_ADDRESS DATASTORE JOURNAL SEED "
                 "format|run|run-full|verify\n");
    return fs_crash::kExitSetup;
  }
  std::cout << "fs_crash_worker seed=" << args.seed << " mode=" << args.mode << std::endl;
  asio::io_context io;
  AsioEnv asio_env(io, AsioEnvOptions{.compute_threads = 2,
                                      .log_level = LogLevel::kWarn,
                                      .component = "fs-crash-worker",
                                      .seed = args.seed});
  asio::co_spawn(io, fs_crash::run(asio_env.env(), args), [](std::exception_ptr error) {
    if (error) std::rethrow_exception(error);
    fs_crash::finish(fs_crash::kExitSetup, "the worker stopped");
  });
  io.run();
  fs_crash::finish(fs_crash::kExitSetup, "the event loop ran out of work");
}
