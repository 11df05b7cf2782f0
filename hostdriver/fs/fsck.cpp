// hostdriver/fs/fsck.cpp
// The consistency check (fsck.h), its first half. It reads the checkpoint the way a new owner
// would (fresh trees from the superblock's root), builds the namespace in memory (inode numbers
// and link counts, which a 100,000-entry directory keeps small), checks it and reads file data,
// collecting every chunk reference; fsck_shelf.cpp then checks the containers against the shelf.
#include "hostdriver/fs/fsck.h"

#include <set>
#include <string>

#include "hostdriver/fs/file_system_impl.h"
#include "hostdriver/fs/fsck_walk.h"

namespace splitarray::hostdriver::fs {
namespace {

constexpr size_t kScanPage = 4096;
std::string inode_name(uint64_t inode) { return "inode " + std::to_string(inode); }

// Every node of a tree (interior nodes load and decode; leaves are read by the scans).
Task<Result<void>> walk_nodes(meta::BTree& tree, FsckWalk& walk, const std::string& what) {
  auto visited = co_await tree.visit_nodes([&](const blockstore::BlockRef& ref, bool) {
    ++walk.report.tree_nodes;
    walk.reference(ref, what);
  });
  if (!visited.ok()) walk.problem(what + ": " + visited.error().to_string());
  co_return ok_result();
}

Task<Result<std::vector<meta::LeafEntry>>> scan_all(meta::BTree& tree) {
  std::vector<meta::LeafEntry> all;
  std::optional<uint64_t> from = 0;
  while (from) {
    auto page = co_await tree.scan(*from, kScanPage);
    if (!page.ok()) co_return page.error();
    for (meta::LeafEntry& entry : page->entries) all.push_back(std::move(entry));
    from = page->next;
  }
  co_return all;
}

Task<Result<void>> check_inode_table(FileSystemImpl& impl, FsckWalk& walk) {
  const Superblock& superblock = impl.superblock();
  meta::BTree table(impl.node_cache(), impl.node_io(), superblock.block_size,
                    superblock.inode_table);
  CO_RETURN_IF_ERROR(co_await walk_nodes(table, walk, "inode table"));
  auto entries = co_await scan_all(table);
  if (!entries.ok()) co_return entries.error();
  for (const meta::LeafEntry& entry : *entries) {
    auto record = decode_inode(entry.value);
    if (!record.ok()) {
      walk.problem(inode_name(entry.key) + ": " + record.error().to_string());
      continue;
    }
    if (record->attrs.inode != entry.key) walk.problem(inode_name(entry.key) + ": wrong number");
    if (entry.key >= superblock.next_inode) {
      walk.problem(inode_name(entry.key) + ": not below next_inode");
    }
    walk.inodes.emplace(entry.key, std::move(record).value());
  }
  walk.report.inodes = walk.inodes.size();
  if (walk.inodes.size() != superblock.inodes) {
    walk.problem("superblock counts " + std::to_string(superblock.inodes) + " inodes, the table " +
                 std::to_string(walk.inodes.size()));
  }
  co_return ok_result();
}

Task<Result<void>> check_directory(FileSystemImpl& impl, FsckWalk& walk, uint64_t dir,
                                   const InodeRecord& record) {
  ++walk.report.directories;
  const std::string where = "directory " + std::to_string(dir);
  meta::BTree tree(impl.node_cache(), impl.node_io(), impl.superblock().block_size,
                   record.dir_root);
  CO_RETURN_IF_ERROR(co_await walk_nodes(tree, walk, where));
  auto entries = co_await scan_all(tree);
  if (!entries.ok()) co_return entries.error();
  std::set<std::string> names;
  for (const meta::LeafEntry& leaf : *entries) {
    ++walk.report.entries;
    auto entry = decode_dir_entry(leaf.value);
    if (!entry.ok()) {
      walk.problem(where + ": " + entry.error().to_string());
      continue;
    }
    const std::string name = where + " entry '" + entry->name + "'";
    if (!names.insert(entry->name).second) walk.problem(name + ": listed twice");
    if ((leaf.key >> kDirCollisionBits) != impl.name_hash(entry->name)) {
      walk.problem(name + ": cookie does not match the name's hash");
    }
    auto child = walk.inodes.find(entry->inode);
    if (child == walk.inodes.end()) {
      walk.problem(name + ": names missing " + inode_name(entry->inode));
      continue;
    }
    if (child->second.attrs.type != entry->type) walk.problem(name + ": type differs");
    ++walk.references[entry->inode];
    ++walk.dir_entries[dir];
    if (entry->type == FileType::kDirectory) {
      ++walk.subdirs[dir];
      if (child->second.parent != dir) walk.problem(name + ": its '..' is not this directory");
    }
  }
  co_return ok_result();
}

void check_links(FsckWalk& walk, const Superblock& superblock) {
  const std::set<uint64_t> orphans(superblock.orphans.begin(), superblock.orphans.end());
  for (const auto& [inode, record] : walk.inodes) {
    const std::string where = inode_name(inode);
    const uint64_t refs = walk.references[inode];
    if (record.attrs.type == FileType::kDirectory) {
      const uint64_t expect_refs = inode == kRootInode ? 0 : 1;
      if (refs != expect_refs)
        walk.problem(where + ": directory named " + std::to_string(refs) + " times");
      if (record.attrs.nlink != 2 + walk.subdirs[inode]) {
        walk.problem(where + ": nlink " + std::to_string(record.attrs.nlink) + ", expected " +
                     std::to_string(2 + walk.subdirs[inode]));
      }
      if (record.entries != walk.dir_entries[inode]) {
        walk.problem(where + ": counts " + std::to_string(record.entries) + " entries, has " +
                     std::to_string(walk.dir_entries[inode]));
      }
      continue;
    }
    if (record.attrs.nlink != refs) {
      walk.problem(where + ": nlink " + std::to_string(record.attrs.nlink) + ", named " +
                   std::to_string(refs) + " times");
    }
    const bool orphan = orphans.count(inode) != 0;
    if ((record.attrs.nlink == 0) != orphan) {
      walk.problem(where +
                   (orphan ? ": listed as orphan but linked" : ": unlinked, not an orphan"));
    }
  }
  auto root = walk.inodes.find(kRootInode);
  if (root == walk.inodes.end() || root->second.attrs.type != FileType::kDirectory) {
    walk.problem("the root directory is missing");
  }
}

// Every regular file's block map: its tree's nodes, entries within the file's size, and every
// referenced block read back (fp verified).
Task<Result<void>> check_data(FileSystemImpl& impl, FsckWalk& walk, bool read_blocks) {
  blockstore::BlockStore& store = impl.store();
  const uint32_t block_size = impl.superblock().block_size;
  for (const auto& [inode, record] : walk.inodes) {
    if (record.attrs.type != FileType::kRegular || !record.map_root) continue;
    const std::string where = inode_name(inode);
    meta::BTree tree(impl.node_cache(), impl.node_io(), block_size, record.map_root);
    CO_RETURN_IF_ERROR(co_await walk_nodes(tree, walk, where + " block map"));
    auto entries = co_await scan_all(tree);
    if (!entries.ok()) co_return entries.error();
    const uint64_t blocks = (record.attrs.size + block_size - 1) / block_size;
    for (const meta::LeafEntry& entry : *entries) {
      auto ref = decode_map_value(entry.value);
      if (!ref.ok()) {
        walk.problem(where + " block " + std::to_string(entry.key) + ": " +
                     ref.error().to_string());
        continue;
      }
      if (entry.key >= blocks) {
        walk.problem(where + ": block " + std::to_string(entry.key) + " past the end of file");
      }
      ++walk.report.data_blocks;
      walk.reference(*ref, where);
      if (!read_blocks) continue;
      auto bytes = co_await store.get_chunk(*ref);
      if (!bytes.ok()) {
        walk.problem(where + " block " + std::to_string(entry.key) + ": " +
                     bytes.error().to_string());
      }
    }
  }
  co_return ok_result();
}

}  // namespace

std::string FsckReport::summary() const {
  using std::to_string;
  std::string text = to_string(inodes) + " inodes, " + to_string(directories) + " directories, " +
                     to_string(entries) + " entries, " + to_string(tree_nodes) + " tree nodes, " +
                     to_string(data_blocks) + " data blocks, " + to_string(containers) +
                     " referenced containers (" + to_string(fragments) + " fragments read), " +
                     to_string(index_lookups) + " fps in the index";
  if (disks_listed + disks_skipped > 0) {
    text += "; shelf: " + to_string(disks_listed) + " disks listed (" + to_string(disks_skipped) +
            " failed, skipped), " + to_string(containers_on_shelf) + " containers (" +
            to_string(fragments_on_shelf) + " fragments), " + to_string(containers_unreferenced) +
            " unreferenced (" + to_string(unreferenced_bytes) +
            " bytes: garbage until space reclamation exists; " + to_string(containers_not_judged) +
            " not judged for leaks)";
  }
  if (problems_total == 0) return text + ": clean";
  return text + ": " + to_string(problems_total) + " problem(s): containers " +
         to_string(containers_unreadable) + " unreadable, " + to_string(containers_unallocated) +
         " unallocated, " + to_string(containers_inconsistent) + " inconsistent, " +
         to_string(containers_duplicated) + " duplicated, " + to_string(containers_leaked) +
         " leaked (" + to_string(leaked_bytes) + " bytes); " +
         to_string(locations_doubly_referenced) + " doubly referenced locations";
}

Task<Result<FsckReport>> fsck(FileSystem& fs, FsckOptions options) {
  FileSystemImpl& impl = fs.impl();
  // What a new owner would see: the checkpoint, with every container it names on disk.
  CO_RETURN_IF_ERROR(co_await impl.checkpoint());
  if (options.check_fragments) CO_RETURN_IF_ERROR(co_await impl.store().destage_all());
  FsckWalk walk;
  walk.problems_max = options.problems_max;
  CO_RETURN_IF_ERROR(co_await check_inode_table(impl, walk));
  for (const auto& [inode, record] : walk.inodes) {
    if (record.attrs.type != FileType::kDirectory) continue;
    CO_RETURN_IF_ERROR(co_await check_directory(impl, walk, inode, record));
  }
  check_links(walk, impl.superblock());
  CO_RETURN_IF_ERROR(co_await check_data(impl, walk, options.check_data));
  CO_RETURN_IF_ERROR(co_await check_shelf(impl, walk, options));
  co_return std::move(walk.report);
}

}  // namespace splitarray::hostdriver::fs
