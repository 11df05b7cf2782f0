// tests/unit/hostdriver/fs/tree_model.h
// The in-memory model of a file system tree that model_test.cpp checks the FileSystem against:
// inodes (type, mode, owner, link count, bytes, symlink target, parent) and directories (name ->
// inode). Pure and synchronous. predict_* answer what a call must return, mirroring the order in
// which the implementation checks (file_system.h, namespace_ops.cpp, data_ops.cpp): the first
// error that applies, or success. The apply functions change the model as a successful call
// changes the file system.
// Times: the model keeps the last mtime/ctime it saw; an operation that changes them without
// reporting them turns them into lower bounds (mark_changed) until the next report.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hostdriver/fs/file_system.h"

namespace splitarray::hostdriver::fs::fs_test {

using Expect = std::optional<Code>;  // nullopt: the call must succeed

// A small name pool so that names collide often, one of them the longest legal name.
inline const std::vector<std::string>& pool_names() {
  static const std::vector<std::string> names = {
      "a", "b", "c", "d", "e", "f", "g", "h", "x y", std::string(kNameBytesMax, 'L')};
  return names;
}
inline const std::vector<std::string>& bad_names() {
  static const std::vector<std::string> names = {
      "", ".", "..", "a/b", std::string("a\0b", 3), std::string(kNameBytesMax + 1, 'N')};
  return names;
}

// check_name's answer (records.h), in its order.
inline Expect name_error(std::string_view name) {
  if (name.empty()) return Code::kInvalidArgument;
  if (name.size() > kNameBytesMax) return Code::kNameTooLong;
  if (name == "." || name == "..") return Code::kInvalidArgument;
  if (name.find('/') != std::string_view::npos) return Code::kInvalidArgument;
  if (name.find('\0') != std::string_view::npos) return Code::kInvalidArgument;
  return std::nullopt;
}

inline std::string printable(const std::string& name) {
  if (name.size() > 12) return name.substr(0, 1) + "*" + std::to_string(name.size());
  std::string out;
  for (char c : name) out += c == '\0' ? std::string("\\0") : std::string(1, c);
  return "'" + out + "'";
}

// The expected state of one inode.
struct Node {
  FileType type = FileType::kRegular;
  uint64_t generation = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 1;
  uint64_t parent = 0;                      // directories
  std::map<std::string, uint64_t> entries;  // directories
  std::vector<uint8_t> data;                // regular files: the size is data.size()
  std::string target;                       // symlinks
  uint64_t verifier = 0;                    // exclusive create, until a setattr
  WallTime mtime{};
  WallTime ctime{};
  bool mtime_exact = false;
  bool ctime_exact = false;

  uint64_t size() const {
    if (type == FileType::kRegular) return data.size();
    if (type == FileType::kDirectory) return entries.size() * kDirEntrySizeUnit;
    if (type == FileType::kSymlink) return target.size();
    return 0;
  }
};

// One create, mkdir, symlink or mknod call.
struct MakeCall {
  FileType type = FileType::kRegular;
  bool refused = false;  // mknod of a regular file
  uint64_t dir = 0;
  std::string name;
  CreateMode mode = CreateMode::kGuarded;
  SetAttributes set;
  uint64_t verifier = 0;
  std::string target;
};

struct PlannedWrite {
  uint64_t inode = 0;
  uint64_t offset = 0;
  std::vector<uint8_t> data;
  Stability stability = Stability::kFileSync;
};

class TreeModel {
 public:
  TreeModel() {  // a new datastore: the root (its generation is the caller's to set)
    Node& root = nodes_[kRootInode];
    root.type = FileType::kDirectory;
    root.mode = 0755;
    root.nlink = 2;
    root.parent = kRootInode;
  }

  // --- looking ---------------------------------------------------------------------------------
  Node& node(uint64_t inode) {
    auto it = nodes_.find(inode);
    REQUIRE_MESSAGE(it != nodes_.end(), "the model has no inode " << inode);
    return it->second;
  }
  size_t size() const { return nodes_.size(); }
  const std::set<uint64_t>& dead() const { return dead_; }  // removed inodes
  uint64_t max_inode() const { return max_inode_; }
  bool live(uint64_t inode) const { return nodes_.count(inode) != 0; }
  bool is_dir(uint64_t inode) const {
    auto it = nodes_.find(inode);
    return it != nodes_.end() && it->second.type == FileType::kDirectory;
  }
  uint64_t parent_of(uint64_t dir) { return dir == kRootInode ? kRootInode : node(dir).parent; }
  // The inode `name` names in `dir` (0: none, or dir is no directory).
  uint64_t entry_of(uint64_t dir, const std::string& name) const {
    auto it = nodes_.find(dir);
    if (it == nodes_.end()) return 0;
    auto entry = it->second.entries.find(name);
    return entry == it->second.entries.end() ? 0 : entry->second;
  }
  std::string name_in_parent(uint64_t dir) {
    for (const auto& entry : node(node(dir).parent).entries) {
      if (entry.second == dir) return entry.first;
    }
    FAIL("directory " << dir << " is not in its parent");
    return "";
  }
  std::vector<uint64_t> inodes_of(std::optional<FileType> type) const {
    std::vector<uint64_t> out;
    for (const auto& entry : nodes_) {
      if (!type || entry.second.type == *type) out.push_back(entry.first);
    }
    return out;
  }
  std::vector<uint64_t> dirs_but_root(bool empty_only) {
    std::vector<uint64_t> out;
    for (uint64_t inode : inodes_of(FileType::kDirectory)) {
      if (inode != kRootInode && (!empty_only || node(inode).entries.empty())) out.push_back(inode);
    }
    return out;
  }
  bool under(uint64_t dir, uint64_t top) {  // dir == top or below it
    for (uint64_t at = dir; at != kRootInode; at = node(at).parent) {
      if (at == top) return true;
    }
    return false;
  }
  std::vector<std::pair<uint64_t, std::string>> links_of(uint64_t inode) {
    std::vector<std::pair<uint64_t, std::string>> links;
    for (uint64_t dir : inodes_of(FileType::kDirectory)) {
      for (const auto& entry : node(dir).entries) {
        if (entry.second == inode) links.emplace_back(dir, entry.first);
      }
    }
    return links;
  }

  // --- predicting ------------------------------------------------------------------------------
  Expect dir_error(uint64_t dir) const {
    if (!live(dir)) return Code::kNotFound;
    if (!is_dir(dir)) return Code::kNotDirectory;
    return std::nullopt;
  }
  // read/write/truncate on `inode`, before anything else is looked at.
  Expect data_error(uint64_t inode) {
    if (!live(inode)) return Code::kNotFound;
    if (is_dir(inode)) return Code::kIsDirectory;
    if (node(inode).type != FileType::kRegular) return Code::kInvalidArgument;
    return std::nullopt;
  }
  Expect predict_lookup(uint64_t dir, const std::string& name, uint64_t* found) {
    if (Expect e = dir_error(dir)) return e;
    if (name == "." || name == "..") {
      *found = name == "." ? dir : parent_of(dir);
      return std::nullopt;
    }
    if (Expect e = name_error(name)) return e;
    *found = entry_of(dir, name);
    return *found == 0 ? Expect(Code::kNotFound) : std::nullopt;
  }
  Expect predict_make(const MakeCall& c) {
    if (c.refused) return Code::kInvalidArgument;
    if (Expect e = name_error(c.name)) return e;
    if (c.type == FileType::kSymlink && c.target.empty()) return Code::kInvalidArgument;
    if (c.target.size() > kSymlinkBytesMax) return Code::kNameTooLong;
    if (Expect e = dir_error(c.dir)) return e;
    const uint64_t existing = entry_of(c.dir, c.name);
    if (existing == 0) return std::nullopt;
    const Node& n = node(existing);
    const bool regular = n.type == FileType::kRegular && c.type == FileType::kRegular;
    const bool retried =
        c.mode == CreateMode::kExclusive && c.verifier != 0 && n.verifier == c.verifier;
    if (!regular || !(c.mode == CreateMode::kUnchecked || retried)) return Code::kExists;
    return std::nullopt;
  }
  Expect predict_link(uint64_t inode, uint64_t dir, const std::string& name) {
    if (Expect e = name_error(name)) return e;
    if (Expect e = dir_error(dir)) return e;
    if (!live(inode)) return Code::kNotFound;
    if (is_dir(inode)) return Code::kIsDirectory;
    if (entry_of(dir, name) != 0) return Code::kExists;
    return std::nullopt;
  }
  Expect predict_remove(bool directory, uint64_t dir, const std::string& name) {
    if (name == "." || name == "..") return directory ? Code::kInvalidArgument : Code::kIsDirectory;
    if (Expect e = name_error(name)) return e;
    if (Expect e = dir_error(dir)) return e;
    const uint64_t target = entry_of(dir, name);
    if (target == 0) return Code::kNotFound;
    if (directory && !is_dir(target)) return Code::kNotDirectory;
    if (!directory && is_dir(target)) return Code::kIsDirectory;
    if (directory && !node(target).entries.empty()) return Code::kNotEmpty;
    return std::nullopt;
  }
  // *noop: the target names the same file (POSIX: nothing happens).
  Expect predict_rename(uint64_t from_dir, const std::string& from_name, uint64_t to_dir,
                        const std::string& to_name, bool* noop) {
    if (Expect e = name_error(from_name)) return e;
    if (Expect e = name_error(to_name)) return e;
    if (Expect e = dir_error(from_dir)) return e;
    if (Expect e = dir_error(to_dir)) return e;
    const uint64_t moved = entry_of(from_dir, from_name);
    if (moved == 0) return Code::kNotFound;
    const bool moving_dir = is_dir(moved);
    if (moving_dir && under(to_dir, moved)) return Code::kInvalidArgument;
    const uint64_t replaced = entry_of(to_dir, to_name);
    *noop = replaced == moved;
    if (replaced == 0 || replaced == moved) return std::nullopt;
    if (moving_dir && !is_dir(replaced)) return Code::kNotDirectory;
    if (!moving_dir && is_dir(replaced)) return Code::kIsDirectory;
    if (is_dir(replaced) && !node(replaced).entries.empty()) return Code::kNotEmpty;
    return std::nullopt;
  }
  Expect predict_setattr(uint64_t inode, const SetAttributes& set, std::optional<WallTime> guard) {
    if (!live(inode)) return Code::kNotFound;
    if (guard && *guard != node(inode).ctime) return Code::kInvalidArgument;
    if (set.size && is_dir(inode)) return Code::kIsDirectory;
    if (set.size && node(inode).type != FileType::kRegular) return Code::kInvalidArgument;
    return std::nullopt;
  }

  // --- applying (after the call succeeded; t0: the time just before the call) --------------------
  // An operation changed the inode's times without reporting them: they are now at least `t0`.
  void mark_changed(uint64_t inode, WallTime t0, bool mtime) {
    Node& n = node(inode);
    n.ctime = std::max(n.ctime, t0);
    n.ctime_exact = false;
    if (!mtime) return;
    n.mtime = std::max(n.mtime, t0);
    n.mtime_exact = false;
  }
  // Times just reported by the file system.
  void saw_times(uint64_t inode, WallTime mtime, WallTime ctime) {
    Node& n = node(inode);
    n.mtime = mtime;
    n.ctime = ctime;
    n.mtime_exact = n.ctime_exact = true;
  }

  void created(const MakeCall& c, const Attributes& attrs, WallTime t0) {
    const bool directory = c.type == FileType::kDirectory;
    REQUIRE_MESSAGE(attrs.inode > max_inode_, "inode number " << attrs.inode << " reused");
    max_inode_ = attrs.inode;
    Node& n = nodes_[attrs.inode];
    n.type = c.type;
    n.generation = attrs.generation;
    const uint32_t default_mode = directory ? 0755 : (c.type == FileType::kSymlink ? 0777 : 0644);
    n.mode = c.set.mode.value_or(default_mode) & 07777;
    n.uid = c.set.uid.value_or(0);
    n.gid = c.set.gid.value_or(0);
    n.nlink = directory ? 2 : 1;
    n.parent = directory ? c.dir : 0;
    n.target = c.target;
    n.verifier = c.mode == CreateMode::kExclusive ? c.verifier : 0;
    n.mtime = n.ctime = t0;
    if (c.set.mtime) {  // a setattr after the create (not for exclusive creates)
      n.mtime = *c.set.mtime;
      n.mtime_exact = true;
    }
    add_entry(c.dir, c.name, attrs.inode, t0);
  }
  void add_entry(uint64_t dir, const std::string& name, uint64_t inode, WallTime t0) {
    Node& parent = node(dir);
    parent.entries[name] = inode;
    if (is_dir(inode)) {
      ++parent.nlink;
      node(inode).parent = dir;
    }
    mark_changed(dir, t0, true);
  }
  void linked(uint64_t inode, uint64_t dir, const std::string& name, WallTime t0) {
    ++node(inode).nlink;
    mark_changed(inode, t0, false);
    add_entry(dir, name, inode, t0);
  }
  // The name goes; its inode loses a link (a directory: itself).
  void removed(uint64_t dir, const std::string& name, WallTime t0) {
    const uint64_t inode = entry_of(dir, name);
    Node& parent = node(dir);
    parent.entries.erase(name);
    mark_changed(dir, t0, true);
    Node& n = node(inode);
    if (n.type == FileType::kDirectory) --parent.nlink;
    if (n.type == FileType::kDirectory || --n.nlink == 0) {
      nodes_.erase(inode);
      dead_.insert(inode);
      return;
    }
    mark_changed(inode, t0, false);
  }
  void renamed(uint64_t from_dir, const std::string& from_name, uint64_t to_dir,
               const std::string& to_name, WallTime t0) {
    const uint64_t moved = entry_of(from_dir, from_name);
    if (entry_of(to_dir, to_name) != 0) removed(to_dir, to_name, t0);
    Node& from = node(from_dir);
    from.entries.erase(from_name);
    if (is_dir(moved)) --from.nlink;
    mark_changed(from_dir, t0, true);
    add_entry(to_dir, to_name, moved, t0);
    mark_changed(moved, t0, false);
  }
  void set_attributes(uint64_t inode, const SetAttributes& set, WallTime t0) {
    Node& n = node(inode);
    if (set.mode) n.mode = *set.mode & 07777;
    if (set.uid) n.uid = *set.uid;
    if (set.gid) n.gid = *set.gid;
    mark_changed(inode, t0, set.size && *set.size != n.size());
    if (set.size) n.data.resize(*set.size);
    if (set.mtime) {
      n.mtime = *set.mtime;
      n.mtime_exact = true;
    }
    n.verifier = 0;  // an exclusive create is complete once attributes are set
  }
  void written(const PlannedWrite& w, WallTime t0) {
    std::vector<uint8_t>& file = node(w.inode).data;
    if (file.size() < w.offset + w.data.size()) file.resize(w.offset + w.data.size());
    std::copy(w.data.begin(), w.data.end(), file.begin() + static_cast<ptrdiff_t>(w.offset));
    mark_changed(w.inode, t0, true);
  }

 private:
  std::map<uint64_t, Node> nodes_;  // live inodes
  std::set<uint64_t> dead_;         // removed inodes
  uint64_t max_inode_ = kRootInode;
};

}  // namespace splitarray::hostdriver::fs::fs_test
