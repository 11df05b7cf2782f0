#include "sim/harness/fs_model.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <set>

namespace splitarray::sim {
namespace {

using hostdriver::fs::Attributes;
using hostdriver::fs::FileSystem;
using hostdriver::fs::kDirEntrySizeUnit;
using hostdriver::fs::kRootInode;

constexpr size_t kReaddirPage = 7;           // small pages: listings resume from cookies
constexpr size_t kObserveObjectsMax = 4096;  // a runaway tree is a problem, not a hang
constexpr uint32_t kObserveReadBytesMax = 1 * kMiB;
constexpr int kReaddirPagesMax = 10000;

const char* type_name(FileType type) {
  switch (type) {
    case FileType::kRegular:
      return "file";
    case FileType::kDirectory:
      return "directory";
    default:
      return "other";
  }
}

Task<Result<ObservedObject>> observe_object(FileSystem& fs, uint64_t inode) {
  ObservedObject object;
  auto attrs = co_await fs.getattr(inode);
  if (!attrs.ok()) co_return attrs.error();
  object.attrs = *attrs;
  if (object.attrs.type == FileType::kRegular) {
    const uint32_t length =
        static_cast<uint32_t>(std::min<uint64_t>(object.attrs.size, kObserveReadBytesMax));
    auto read = co_await fs.read(inode, 0, length);
    if (!read.ok()) co_return read.error();
    object.data = std::move(read->data);
  }
  if (object.attrs.type != FileType::kDirectory) co_return object;
  uint64_t cookie = 0;
  for (int page = 0; page < kReaddirPagesMax; ++page) {
    auto listed = co_await fs.readdir(inode, cookie, kReaddirPage);
    if (!listed.ok()) co_return listed.error();
    for (const hostdriver::fs::DirListEntry& entry : listed->entries) {
      cookie = entry.cookie;
      if (entry.name == ".") continue;
      if (entry.name == "..") {
        object.dotdot = entry.inode;
        continue;
      }
      object.entries[entry.name] = entry.inode;
    }
    if (listed->eof || listed->entries.empty()) break;
  }
  co_return object;
}

// Bytes of block `block` of `bytes` within the first `size` bytes (may be short or empty).
std::pair<const uint8_t*, size_t> block_of(const std::vector<uint8_t>& bytes, uint64_t block,
                                           uint64_t size) {
  const uint64_t start = block * kFsModelBlockBytes;
  const uint64_t end = std::min<uint64_t>({size, bytes.size(), start + kFsModelBlockBytes});
  if (end <= start) return {bytes.data(), 0};
  return {bytes.data() + start, end - start};
}

// Each block of `got` equals that block of some candidate (zeros past a candidate's end).
bool torn_equal(const std::vector<uint8_t>& got, const std::vector<const FsObject*>& candidates) {
  const uint64_t blocks = (got.size() + kFsModelBlockBytes - 1) / kFsModelBlockBytes;
  for (uint64_t b = 0; b < blocks; ++b) {
    const auto [want_bytes, length] = block_of(got, b, got.size());
    bool found = false;
    for (const FsObject* candidate : candidates) {
      const std::vector<uint8_t>& data = *candidate->data;
      std::vector<uint8_t> block(length, 0);
      const auto [have, have_length] = block_of(data, b, data.size());
      std::memcpy(block.data(), have, std::min(length, have_length));
      if (std::memcmp(block.data(), want_bytes, length) == 0) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

std::string compare_attrs(const FsTree& tree, uint32_t id, const Attributes& got) {
  const FsObject& want = tree.at(id);
  std::string why;
  auto differ = [&](const char* field, uint64_t expected, uint64_t actual) {
    if (expected == actual || !why.empty()) return;
    why = std::string(field) + " " + std::to_string(actual) + ", expected " +
          std::to_string(expected);
  };
  if (got.type != want.type) {
    return std::string("is a ") + type_name(got.type) + ", expected a " + type_name(want.type);
  }
  differ("mode", want.mode, got.mode);
  differ("uid", want.uid, got.uid);
  differ("gid", want.gid, got.gid);
  differ("nlink", tree.nlink(id), got.nlink);
  differ("size", tree.size(id), got.size);
  if (want.generation != 0) differ("generation", want.generation, got.generation);
  return why;
}

class Matcher {
 public:
  Matcher(const std::vector<FsTree>& window, size_t index, const ObservedTree& observed,
          bool allow_torn)
      : window_(window),
        tree_(window[index]),
        index_(index),
        observed_(observed),
        allow_torn_(allow_torn) {}

  std::optional<TreeMatch> run(std::string* why) {
    match_.exact = true;
    std::deque<uint32_t> dirs{kModelRoot};
    if (!bind(kModelRoot, kRootInode)) return fail(why);
    while (!dirs.empty() && why_.empty()) {
      const uint32_t dir = dirs.front();
      dirs.pop_front();
      const FsObject& want = tree_.at(dir);
      const ObservedObject& got = observed_.objects.at(match_.inodes.at(dir));
      for (const auto& [name, child] : want.entries) {
        const auto it = got.entries.find(name);
        if (it == got.entries.end()) {
          why_ = tree_.path(child) + ": missing";
          break;
        }
        const bool first_time = match_.inodes.count(child) == 0;
        if (!bind(child, it->second)) break;
        if (first_time && tree_.at(child).type == FileType::kDirectory) dirs.push_back(child);
      }
      for (const auto& entry : got.entries) {
        if (why_.empty() && want.entries.count(entry.first) == 0) {
          why_ = tree_.path(dir) + "/" + entry.first + ": present, expected absent";
        }
      }
    }
    if (why_.empty() && match_.inodes.size() != observed_.objects.size()) {
      why_ = "the tree holds " + std::to_string(observed_.objects.size()) + " objects, expected " +
             std::to_string(match_.inodes.size());
    }
    if (!why_.empty()) return fail(why);
    return match_;
  }

 private:
  std::optional<TreeMatch> fail(std::string* why) {
    if (why != nullptr) *why = why_;
    return std::nullopt;
  }

  bool bind(uint32_t id, uint64_t inode) {
    const FsObject& want = tree_.at(id);
    const auto bound = match_.inodes.find(id);
    if (bound != match_.inodes.end()) {
      if (bound->second != inode) why_ = tree_.path(id) + ": names two inodes (hard link broken)";
      return why_.empty();
    }
    if (want.inode != 0 && want.inode != inode) {
      why_ = tree_.path(id) + ": inode " + std::to_string(inode) + ", expected " +
             std::to_string(want.inode);
      return false;
    }
    if (!bound_inodes_.insert(inode).second) {
      why_ = tree_.path(id) + ": inode " + std::to_string(inode) + " also has another name";
      return false;
    }
    match_.inodes[id] = inode;
    const auto it = observed_.objects.find(inode);
    if (it == observed_.objects.end()) {
      why_ = tree_.path(id) + ": inode " + std::to_string(inode) + " was not read";
      return false;
    }
    const std::string differs = compare_attrs(tree_, id, it->second.attrs);
    if (!differs.empty()) {
      why_ = tree_.path(id) + ": " + differs;
      return false;
    }
    if (want.type == FileType::kDirectory && it->second.dotdot != 0) {
      const uint32_t parent = tree_.parent(id);
      const auto parent_inode = match_.inodes.find(parent);
      if (parent_inode != match_.inodes.end() && parent_inode->second != it->second.dotdot) {
        why_ = tree_.path(id) + ": \"..\" is inode " + std::to_string(it->second.dotdot);
        return false;
      }
    }
    if (want.type == FileType::kRegular) return data_matches(id, it->second.data);
    return true;
  }

  bool data_matches(uint32_t id, const std::vector<uint8_t>& got) {
    const std::vector<uint8_t>& want = *tree_.at(id).data;
    if (got == want) return true;
    if (allow_torn_) {
      std::vector<const FsObject*> candidates;
      for (size_t k = index_; k < window_.size(); ++k) {
        const auto it = window_[k].objects.find(id);
        if (it != window_[k].objects.end() && it->second.type == FileType::kRegular) {
          candidates.push_back(&it->second);
        }
      }
      if (got.size() == want.size() && torn_equal(got, candidates)) {
        match_.exact = false;
        return true;
      }
    }
    size_t at = 0;
    while (at < std::min(got.size(), want.size()) && got[at] == want[at]) ++at;
    why_ = tree_.path(id) + ": bytes differ from offset " + std::to_string(at) + " (" +
           std::to_string(got.size()) + " bytes read, " + std::to_string(want.size()) +
           " expected)";
    return false;
  }

  const std::vector<FsTree>& window_;
  const FsTree& tree_;
  const size_t index_;
  const ObservedTree& observed_;
  const bool allow_torn_;
  TreeMatch match_;
  std::set<uint64_t> bound_inodes_;
  std::string why_;
};

// The observed tree as a model state (after a violation, so the run can go on).
FsTree tree_from(const ObservedTree& observed) {
  FsTree tree;
  std::map<uint64_t, uint32_t> ids{{kRootInode, kModelRoot}};
  for (const auto& [inode, object] : observed.objects) {
    if (inode != kRootInode) ids.emplace(inode, tree.next_id++);
  }
  for (const auto& [inode, object] : observed.objects) {
    FsObject& out = tree.objects[ids.at(inode)];
    out.inode = inode;
    out.generation = object.attrs.generation;
    out.type = object.attrs.type;
    out.mode = object.attrs.mode;
    out.uid = object.attrs.uid;
    out.gid = object.attrs.gid;
    out.data = std::make_shared<const std::vector<uint8_t>>(object.data);
    for (const auto& [name, child] : object.entries) {
      if (observed.objects.count(child) != 0) out.entries[name] = ids.at(child);
    }
  }
  return tree;
}

}  // namespace

FsTree FsTree::fresh(uint32_t root_mode) {
  FsTree tree;
  FsObject& root = tree.objects[kModelRoot];
  root.inode = kRootInode;
  root.type = FileType::kDirectory;
  root.mode = root_mode;
  return tree;
}

const FsObject& FsTree::at(uint32_t id) const {
  const auto it = objects.find(id);
  ASSERT_MSG(it != objects.end(), "model object missing");
  return it->second;
}

FsObject& FsTree::at(uint32_t id) {
  const auto it = objects.find(id);
  ASSERT_MSG(it != objects.end(), "model object missing");
  return it->second;
}

uint32_t FsTree::lookup(uint32_t dir, const std::string& name) const {
  const FsObject& d = at(dir);
  const auto it = d.entries.find(name);
  return it == d.entries.end() ? 0 : it->second;
}

uint32_t FsTree::parent(uint32_t dir) const {
  if (dir == kModelRoot) return kModelRoot;
  for (const auto& [id, object] : objects) {
    for (const auto& entry : object.entries) {
      if (entry.second == dir) return id;
    }
  }
  return 0;
}

bool FsTree::is_under(uint32_t dir, uint32_t ancestor) const {
  for (size_t depth = 0; depth < objects.size() + 1; ++depth) {
    if (dir == ancestor) return true;
    if (dir == kModelRoot || dir == 0) return false;
    dir = parent(dir);
  }
  return false;
}

uint32_t FsTree::nlink(uint32_t id) const {
  const FsObject& object = at(id);
  uint32_t n = 0;
  if (object.type == FileType::kDirectory) {
    n = 2;
    for (const auto& entry : object.entries) {
      if (at(entry.second).type == FileType::kDirectory) ++n;
    }
    return n;
  }
  for (const auto& [dir, d] : objects) {
    for (const auto& entry : d.entries) n += entry.second == id ? 1 : 0;
  }
  return n;
}

uint64_t FsTree::size(uint32_t id) const {
  const FsObject& object = at(id);
  if (object.type == FileType::kDirectory) return object.entries.size() * kDirEntrySizeUnit;
  return object.data ? object.data->size() : 0;
}

std::string FsTree::path(uint32_t id) const {
  if (id == kModelRoot) return "";
  for (const auto& [dir, d] : objects) {
    for (const auto& [name, child] : d.entries) {
      if (child == id) return path(dir) + "/" + name;
    }
  }
  return "<object " + std::to_string(id) + ">";
}

void FsTree::unlink(uint32_t dir, const std::string& name) {
  FsObject& d = at(dir);
  const auto it = d.entries.find(name);
  ASSERT(it != d.entries.end());
  const uint32_t id = it->second;
  d.entries.erase(it);
  const FsObject& object = at(id);
  if (object.type == FileType::kDirectory || nlink(id) == 0) objects.erase(id);
}

Task<Result<ObservedTree>> observe_tree(FileSystem& fs) {
  ObservedTree tree;
  std::deque<std::pair<uint64_t, uint64_t>> pending{{kRootInode, kRootInode}};  // (inode, parent)
  while (!pending.empty()) {
    const auto [inode, parent] = pending.front();
    pending.pop_front();
    if (tree.objects.count(inode) != 0) continue;  // a hard link (checked by the match)
    if (tree.objects.size() >= kObserveObjectsMax) {
      tree.problems.push_back("more than " + std::to_string(kObserveObjectsMax) + " objects");
      break;
    }
    auto object = co_await observe_object(fs, inode);
    if (!object.ok()) co_return object.error();
    if (object->attrs.type == FileType::kDirectory && object->dotdot != parent) {
      tree.problems.push_back("directory inode " + std::to_string(inode) + ": \"..\" is " +
                              std::to_string(object->dotdot) + ", reached from " +
                              std::to_string(parent));
    }
    for (const auto& entry : object->entries) pending.emplace_back(entry.second, inode);
    tree.objects.emplace(inode, std::move(object).value());
  }
  co_return tree;
}

std::optional<TreeMatch> match_tree(const std::vector<FsTree>& window, size_t index,
                                    const ObservedTree& observed, bool allow_torn,
                                    std::string* why) {
  ASSERT(index < window.size());
  Matcher matcher(window, index, observed, allow_torn);
  return matcher.run(why);
}

void FsModel::issue(FsTree after, std::string what) {
  ++issued;
  window.push_back(std::move(after));
  ops.push_back("#" + std::to_string(issued) + " " + what);
  ASSERT(ops.size() + 1 == window.size());
}

void FsModel::durable_through(size_t index) {
  ASSERT(index < window.size());
  window.erase(window.begin(), window.begin() + static_cast<ptrdiff_t>(index));
  ops.erase(ops.begin(), ops.begin() + static_cast<ptrdiff_t>(index));
  ASSERT(!window.empty());
}

std::string FsModel::describe(size_t index) const {
  if (index == 0) return "the acknowledged state";
  return "after " + ops.at(index - 1);
}

bool resolve_model(FsModel& model, const ObservedTree& observed, std::string* why,
                   std::string* matched_state) {
  ++model.resolves;
  if (model.window.size() > 1) ++model.resolved_uncertain;
  // Exact matches first (latest state first), then block-torn ones.
  for (const bool torn : {false, true}) {
    for (size_t k = model.window.size(); k-- > 0;) {
      auto matched = match_tree(model.window, k, observed, torn, nullptr);
      if (!matched) continue;
      FsTree adopted = model.window[k];
      for (auto& [id, object] : adopted.objects) {
        object.inode = matched->inodes.at(id);
        const ObservedObject& seen = observed.objects.at(object.inode);
        object.generation = seen.attrs.generation;
        if (!matched->exact && object.type == FileType::kRegular) {
          object.data = std::make_shared<const std::vector<uint8_t>>(seen.data);
        }
      }
      if (!matched->exact) ++model.torn_matches;
      if (matched_state != nullptr) {
        *matched_state = model.describe(k) + (matched->exact ? "" : " (torn blocks)");
      }
      if (k + 1 < model.window.size()) ++model.resolved_dropped;
      model.window.assign(1, std::move(adopted));
      model.ops.clear();
      if (!observed.problems.empty()) {
        if (why != nullptr) *why = observed.problems.front();
        return false;
      }
      return true;
    }
  }
  std::string text = "the recovered tree matches none of the " +
                     std::to_string(model.window.size()) + " candidate states;";
  for (size_t k = model.window.size(); k-- > 0;) {
    std::string differs;
    static_cast<void>(match_tree(model.window, k, observed, true, &differs));
    text += " " + model.describe(k) + ": " + differs + ";";
    if (model.window.size() - k >= 3 && k > 1) {
      text += " ...";
      k = 1;
    }
  }
  if (why != nullptr) *why = text;
  if (matched_state != nullptr) *matched_state = "none";
  model.window.assign(1, tree_from(observed));
  model.ops.clear();
  return false;
}

}  // namespace splitarray::sim
