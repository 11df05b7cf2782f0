// tests/e2e/fs/fs_crash_model.h
// The file-system crash test's model (pure, no I/O): what a datastore must hold according to the
// worker's journal, and a comparison of that with what the file system shows.
//
// Namespace. The root directory "/" holds files named f* and subdirectories named d*; a
// subdirectory holds only files. A file is known by its fid (the journal number of the create
// that made it), so hard links and renames are followed by identity; its bytes are replayed
// from the journal: a write stores write_bytes(fid, n, length) at its offset, where n is the
// write's journal number, so every byte can be checked.
//
// Journal (one line per event, appended and fsynced by the worker):
//   intent N <op>   written before operation N is sent: N may be in flight from here on
//   ack N           N returned ok (stable ops: durable; an unstable write: only buffered)
//   resolve N 0|1   a verifier found N not applied (0) or applied (1)
// An unstable write is durable only once a later commit's ack follows it. Operations whose
// outcome the journal does not decide ("uncertain": the one stable op in flight at a kill, or
// the unstable writes of a batch whose commit was not acknowledged) may each be applied or not,
// but wholly: the file system must equal the model with some subset of them applied.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/prng.h"

namespace splitarray::fs_crash {

inline constexpr const char* kRootDir = "/";
inline constexpr uint64_t kFileBytesMax = 128 * 1024;
inline constexpr size_t kUncertainMax = 4;  // 2^4 candidate states at most

enum class OpKind : uint8_t {
  kCreate,     // dir name            (fid = n)
  kMkdir,      // name
  kRmdir,      // name
  kWrite,      // fid offset length stable
  kTruncate,   // fid size
  kChmod,      // fid mode
  kRename,     // dir name to_dir to_name   (a file; replaces a file at the target)
  kRenameDir,  // name to_name              (replaces an empty directory at the target)
  kRemove,     // dir name
  kLink,       // fid dir name
  kCommit,     //
};

struct Op {
  uint64_t n = 0;
  OpKind kind = OpKind::kCreate;
  std::string dir;
  std::string name;
  std::string to_dir;
  std::string to_name;
  uint64_t fid = 0;
  uint64_t offset = 0;  // write offset; truncate size
  uint64_t length = 0;
  uint32_t mode = 0;
  bool stable = true;  // writes: FILE_SYNC (true) or UNSTABLE
};

inline std::string path_of(const std::string& dir, const std::string& name) {
  return dir == kRootDir ? "/" + name : "/" + dir + "/" + name;
}

inline std::vector<uint8_t> write_bytes(uint64_t fid, uint64_t n, uint64_t length) {
  Prng rng(fid * 0x9E3779B97F4A7C15ULL + n * 0xD1B54A32D192ED03ULL + 17);
  std::vector<uint8_t> out(length);
  // Half the writes are text-like (compressible), half random, so both store paths run.
  if (rng.chance(0.5)) {
    rng.fill(out);
  } else {
    for (auto& byte : out) byte = static_cast<uint8_t>('a' + rng.below(4));
  }
  return out;
}

struct FileState {
  std::vector<uint8_t> bytes;
  uint32_t mode = 0644;
};

struct Model {
  std::map<std::string, std::map<std::string, uint64_t>> dirs{{kRootDir, {}}};  // dir -> name->fid
  std::map<uint64_t, FileState> files;                                          // fid -> state

  uint32_t links(uint64_t fid) const {
    uint32_t count = 0;
    for (const auto& dir : dirs) {
      for (const auto& entry : dir.second) count += entry.second == fid ? 1 : 0;
    }
    return count;
  }
  std::optional<uint64_t> fid_at(const std::string& dir, const std::string& name) const {
    auto d = dirs.find(dir);
    if (d == dirs.end()) return std::nullopt;
    auto e = d->second.find(name);
    if (e == d->second.end()) return std::nullopt;
    return e->second;
  }
  void drop_if_unlinked(uint64_t fid) {
    if (links(fid) == 0) files.erase(fid);
  }
};

// Applies `op` to `model`; false (model unchanged) if the op does not fit the model: a journal
// the worker wrote never has such an op, so the caller treats it as a broken journal.
inline bool apply(Model& model, const Op& op) {
  switch (op.kind) {
    case OpKind::kCreate: {
      if (!model.dirs.contains(op.dir) || model.fid_at(op.dir, op.name)) return false;
      model.dirs[op.dir][op.name] = op.n;
      model.files[op.n] = FileState{};
      return true;
    }
    case OpKind::kMkdir:
      if (model.dirs.contains(op.name)) return false;
      model.dirs[op.name] = {};
      return true;
    case OpKind::kRmdir: {
      auto it = model.dirs.find(op.name);
      if (it == model.dirs.end() || !it->second.empty() || op.name == kRootDir) return false;
      model.dirs.erase(it);
      return true;
    }
    case OpKind::kWrite: {
      auto it = model.files.find(op.fid);
      if (it == model.files.end()) return false;
      std::vector<uint8_t>& bytes = it->second.bytes;
      if (bytes.size() < op.offset + op.length) bytes.resize(op.offset + op.length, 0);
      const std::vector<uint8_t> data = write_bytes(op.fid, op.n, op.length);
      std::copy(data.begin(), data.end(), bytes.begin() + static_cast<ptrdiff_t>(op.offset));
      return true;
    }
    case OpKind::kTruncate: {
      auto it = model.files.find(op.fid);
      if (it == model.files.end()) return false;
      it->second.bytes.resize(op.offset, 0);
      return true;
    }
    case OpKind::kChmod: {
      auto it = model.files.find(op.fid);
      if (it == model.files.end()) return false;
      it->second.mode = op.mode;
      return true;
    }
    case OpKind::kRename: {
      const auto from = model.fid_at(op.dir, op.name);
      if (!from || !model.dirs.contains(op.to_dir)) return false;
      const auto replaced = model.fid_at(op.to_dir, op.to_name);
      if (replaced == from) return false;  // POSIX no-op; the worker never asks for it
      model.dirs[op.dir].erase(op.name);
      model.dirs[op.to_dir][op.to_name] = *from;
      if (replaced) model.drop_if_unlinked(*replaced);
      return true;
    }
    case OpKind::kRenameDir: {
      auto from = model.dirs.find(op.name);
      if (from == model.dirs.end() || op.name == kRootDir || op.to_name == kRootDir) return false;
      auto to = model.dirs.find(op.to_name);
      if (to != model.dirs.end() && !to->second.empty()) return false;
      auto entries = std::move(from->second);
      model.dirs.erase(from);
      model.dirs[op.to_name] = std::move(entries);
      return true;
    }
    case OpKind::kRemove: {
      const auto fid = model.fid_at(op.dir, op.name);
      if (!fid) return false;
      model.dirs[op.dir].erase(op.name);
      model.drop_if_unlinked(*fid);
      return true;
    }
    case OpKind::kLink: {
      if (!model.files.contains(op.fid) || !model.dirs.contains(op.dir)) return false;
      if (model.fid_at(op.dir, op.name)) return false;
      model.dirs[op.dir][op.name] = op.fid;
      return true;
    }
    case OpKind::kCommit:
      return true;
  }
  return false;
}

// --- journal lines ----------------------------------------------------------------------------

inline std::string format_op(const Op& op) {
  std::ostringstream out;
  out << "intent " << op.n << ' ';
  switch (op.kind) {
    case OpKind::kCreate:
      out << "create " << op.dir << ' ' << op.name;
      break;
    case OpKind::kMkdir:
      out << "mkdir " << op.name;
      break;
    case OpKind::kRmdir:
      out << "rmdir " << op.name;
      break;
    case OpKind::kWrite:
      out << "write " << op.fid << ' ' << op.offset << ' ' << op.length << ' '
          << (op.stable ? "stable" : "unstable");
      break;
    case OpKind::kTruncate:
      out << "truncate " << op.fid << ' ' << op.offset;
      break;
    case OpKind::kChmod:
      out << "chmod " << op.fid << ' ' << op.mode;
      break;
    case OpKind::kRename:
      out << "rename " << op.dir << ' ' << op.name << ' ' << op.to_dir << ' ' << op.to_name;
      break;
    case OpKind::kRenameDir:
      out << "renamedir " << op.name << ' ' << op.to_name;
      break;
    case OpKind::kRemove:
      out << "remove " << op.dir << ' ' << op.name;
      break;
    case OpKind::kLink:
      out << "link " << op.fid << ' ' << op.dir << ' ' << op.name;
      break;
    case OpKind::kCommit:
      out << "commit";
      break;
  }
  return out.str();
}

// Parses the part after "intent N "; nullopt if malformed.
inline std::optional<Op> parse_op(uint64_t n, std::istringstream& in) {
  Op op;
  op.n = n;
  std::string kind;
  in >> kind;
  if (kind == "create") {
    op.kind = OpKind::kCreate;
    in >> op.dir >> op.name;
  } else if (kind == "mkdir" || kind == "rmdir") {
    op.kind = kind == "mkdir" ? OpKind::kMkdir : OpKind::kRmdir;
    in >> op.name;
  } else if (kind == "write") {
    std::string stability;
    op.kind = OpKind::kWrite;
    in >> op.fid >> op.offset >> op.length >> stability;
    if (stability != "stable" && stability != "unstable") return std::nullopt;
    op.stable = stability == "stable";
  } else if (kind == "truncate") {
    op.kind = OpKind::kTruncate;
    in >> op.fid >> op.offset;
  } else if (kind == "chmod") {
    op.kind = OpKind::kChmod;
    in >> op.fid >> op.mode;
  } else if (kind == "rename") {
    op.kind = OpKind::kRename;
    in >> op.dir >> op.name >> op.to_dir >> op.to_name;
  } else if (kind == "renamedir") {
    op.kind = OpKind::kRenameDir;
    in >> op.name >> op.to_name;
  } else if (kind == "remove") {
    op.kind = OpKind::kRemove;
    in >> op.dir >> op.name;
  } else if (kind == "link") {
    op.kind = OpKind::kLink;
    in >> op.fid >> op.dir >> op.name;
  } else if (kind == "commit") {
    op.kind = OpKind::kCommit;
  } else {
    return std::nullopt;
  }
  if (in.fail()) return std::nullopt;
  return op;
}

// What a journal says: the state every acknowledged operation made, and the operations that may
// or may not have happened on top of it.
struct Replayed {
  Model model;
  std::vector<Op> uncertain;  // in journal order
  uint64_t last_n = 0;        // highest operation number used
  uint64_t acked = 0;         // acknowledged operations
  std::string error;          // non-empty: the journal itself is broken
};

class JournalReader final {
 public:
  // One complete line (without its newline).
  void line(const std::string& text) {
    if (!out_.error.empty()) return;
    std::istringstream in(text);
    std::string word;
    uint64_t n = 0;
    in >> word >> n;
    if (in.fail()) return fail(text, "malformed");
    out_.last_n = std::max(out_.last_n, n);
    if (word == "intent") {
      auto op = parse_op(n, in);
      if (!op) return fail(text, "malformed op");
      out_.uncertain.push_back(*op);
    } else if (word == "ack") {
      on_ack(text, n);
    } else if (word == "resolve") {
      int applied = -1;
      in >> applied;
      auto it = find(n);
      if (it == out_.uncertain.end() || (applied != 0 && applied != 1)) {
        return fail(text, "resolve of an unknown op");
      }
      if (applied == 1 && !apply(out_.model, *it)) return fail(text, "does not fit the model");
      out_.uncertain.erase(it);
    } else {
      fail(text, "unknown line");
    }
  }
  Replayed take() && { return std::move(out_); }

 private:
  std::vector<Op>::iterator find(uint64_t n) {
    return std::find_if(out_.uncertain.begin(), out_.uncertain.end(),
                        [n](const Op& op) { return op.n == n; });
  }
  void on_ack(const std::string& text, uint64_t n) {
    auto it = find(n);
    if (it == out_.uncertain.end()) return fail(text, "ack of an unknown op");
    ++out_.acked;
    if (it->kind == OpKind::kWrite && !it->stable) {
      acked_unstable_.push_back(n);  // buffered only: stays uncertain until a commit
      return;
    }
    if (it->kind == OpKind::kCommit) {
      // Every unstable write acknowledged before the commit is durable now.
      for (uint64_t w : acked_unstable_) {
        auto write = find(w);
        if (write == out_.uncertain.end()) continue;  // already resolved
        if (!apply(out_.model, *write)) return fail(text, "committed write does not fit");
        out_.uncertain.erase(write);
      }
      acked_unstable_.clear();
      out_.uncertain.erase(find(n));
      return;
    }
    if (!apply(out_.model, *it)) return fail(text, "acknowledged op does not fit the model");
    out_.uncertain.erase(it);
  }
  void fail(const std::string& text, const char* why) {
    out_.error = std::string(why) + ": '" + text + "'";
  }

  Replayed out_;
  std::vector<uint64_t> acked_unstable_;
};

// --- what the file system shows ------------------------------------------------------------------

struct ObservedFile {
  std::vector<uint8_t> bytes;
  uint32_t mode = 0;
  uint32_t nlink = 0;
};

struct Observed {
  std::map<std::string, std::map<std::string, uint64_t>> dirs;  // dir -> name -> inode
  std::map<std::string, uint32_t> dir_nlink;
  std::map<std::string, uint64_t> dir_inodes;
  std::map<uint64_t, ObservedFile> files;  // inode -> file
  std::vector<std::string> oddities;       // entries of unexpected type or name
};

inline std::string describe_bytes(const std::vector<uint8_t>& got,
                                  const std::vector<uint8_t>& want) {
  std::ostringstream out;
  if (got.size() != want.size()) out << "size " << got.size() << " want " << want.size();
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (got[i] != want[i]) {
      out << (got.size() != want.size() ? ", " : "") << "first difference at byte " << i;
      break;
    }
  }
  return out.str();
}

// "" if `seen` is exactly `model` (names, file identities, bytes, modes, link counts), else the
// first differences found.
inline std::string compare(const Model& model, const Observed& seen) {
  std::ostringstream out;
  for (const auto& odd : seen.oddities) out << odd << "; ";
  std::map<uint64_t, uint64_t> inode_of;  // fid -> inode
  std::map<uint64_t, uint64_t> fid_of;    // inode -> fid
  for (const auto& dir : model.dirs) {
    auto seen_dir = seen.dirs.find(dir.first);
    if (seen_dir == seen.dirs.end()) {
      out << "directory " << dir.first << " missing; ";
      continue;
    }
    for (const auto& entry : dir.second) {
      const std::string path = path_of(dir.first, entry.first);
      auto seen_entry = seen_dir->second.find(entry.first);
      if (seen_entry == seen_dir->second.end()) {
        out << path << " (fid " << entry.second << ") missing; ";
        continue;
      }
      const uint64_t inode = seen_entry->second;
      auto [by_fid, fresh_fid] = inode_of.emplace(entry.second, inode);
      auto [by_inode, fresh_inode] = fid_of.emplace(inode, entry.second);
      if (by_fid->second != inode || by_inode->second != entry.second) {
        out << path << " is inode " << inode << ", which does not match its links; ";
      }
      if (!fresh_fid || !fresh_inode) continue;  // contents checked at the first link
      auto file = seen.files.find(inode);
      const FileState& want = model.files.at(entry.second);
      if (file == seen.files.end()) {
        out << path << " not read; ";
        continue;
      }
      if (file->second.bytes != want.bytes) {
        out << path << " (fid " << entry.second
            << ") bytes differ: " << describe_bytes(file->second.bytes, want.bytes) << "; ";
      }
      if (file->second.mode != want.mode) {
        out << path << " mode " << std::oct << file->second.mode << " want " << want.mode
            << std::dec << "; ";
      }
      if (file->second.nlink != model.links(entry.second)) {
        out << path << " nlink " << file->second.nlink << " want " << model.links(entry.second)
            << "; ";
      }
    }
    for (const auto& entry : seen_dir->second) {
      if (!dir.second.contains(entry.first)) {
        out << path_of(dir.first, entry.first) << " exists (inode " << entry.second
            << ") but should not; ";
      }
    }
    const uint32_t nlink_want =
        dir.first == kRootDir ? static_cast<uint32_t>(2 + model.dirs.size() - 1) : 2;
    auto nlink = seen.dir_nlink.find(dir.first);
    if (nlink != seen.dir_nlink.end() && nlink->second != nlink_want) {
      out << "directory " << dir.first << " nlink " << nlink->second << " want " << nlink_want
          << "; ";
    }
  }
  for (const auto& dir : seen.dirs) {
    if (!model.dirs.contains(dir.first)) out << "directory " << dir.first << " should not exist; ";
  }
  return out.str();
}

// The model with the subset `mask` of `uncertain` applied (in order); nullopt if an op of the
// subset does not fit.
inline std::optional<Model> candidate(const Model& base, const std::vector<Op>& uncertain,
                                      uint32_t mask) {
  Model model = base;
  for (size_t i = 0; i < uncertain.size(); ++i) {
    if ((mask & (1u << i)) != 0 && !apply(model, uncertain[i])) return std::nullopt;
  }
  return model;
}

}  // namespace splitarray::fs_crash
