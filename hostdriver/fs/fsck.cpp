// hostdriver/fs/fsck.cpp
// The consistency check (fsck.h). It reads the checkpoint the way a new owner would (fresh trees
// from the superblock's root), builds the namespace in memory (inode numbers and link counts,
// which a 100,000-entry directory keeps small), checks it, reads file data and finally every
// referenced container's stripe.
#include "hostdriver/fs/fsck.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "hostdriver/blockstore/destager.h"
#include "hostdriver/ec/erasure_code.h"
#include "hostdriver/fs/file_system_impl.h"
#include "protocol/fragment_header.h"

namespace splitarray::hostdriver::fs {
namespace {

constexpr size_t kScanPage = 4096;
constexpr size_t kIndexLookupBatch = 4096;  // fps per index lookup request

struct Walk {
  FsckReport report;
  size_t problems_max = 0;
  std::map<uint64_t, InodeRecord> inodes;
  std::map<uint64_t, uint64_t> references;  // inode -> entries naming it
  std::map<uint64_t, uint64_t> subdirs;     // directory -> subdirectory entries
  std::map<uint64_t, uint64_t> dir_entries;
  // Every chunk location referenced, with the fp it must hold (a location is one chunk).
  std::map<std::pair<uint64_t, uint32_t>, protocol::Fingerprint> locations;

  void problem(std::string what) {
    if (report.problems.size() < problems_max) report.problems.push_back(std::move(what));
  }
  void reference(const blockstore::BlockRef& ref, const std::string& where) {
    if (ref.location.container_id == 0) return;
    auto [it, inserted] =
        locations.try_emplace({ref.location.container_id, ref.location.offset}, ref.fp);
    if (!inserted && it->second != ref.fp) {
      problem(where + ": container " + std::to_string(ref.location.container_id) + " offset " +
              std::to_string(ref.location.offset) + " is referenced with two fingerprints");
    }
  }
};

std::string inode_name(uint64_t inode) { return "inode " + std::to_string(inode); }

// Every node of a tree (interior nodes load and decode; leaves are read by the scans).
Task<Result<void>> walk_nodes(meta::BTree& tree, Walk& walk, const std::string& what) {
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

Task<Result<void>> check_inode_table(FileSystemImpl& impl, Walk& walk) {
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

Task<Result<void>> check_directory(FileSystemImpl& impl, Walk& walk, uint64_t dir,
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
    if ((leaf.key >> kDirCollisionBits) != dir_name_hash(impl.superblock().fs_id, entry->name)) {
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

void check_links(Walk& walk, const Superblock& superblock) {
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
Task<Result<void>> check_data(FileSystemImpl& impl, Walk& walk, bool read_blocks) {
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

// One container: every fragment's identity and CRC, and parity re-encoded from the data.
Task<Result<void>> check_container(FileSystemImpl& impl, Walk& walk, uint64_t container,
                                   protocol::ShelfClient& client) {
  const blockstore::BlockStoreConfig& config = impl.store().config();
  const int k = static_cast<int>(config.geometry.data_fragments);
  const int m = static_cast<int>(config.parity_fragments);
  const std::string where = "container " + std::to_string(container);
  auto placement = impl.store().placement(ContainerId(container));
  if (!placement.ok()) co_return placement.error();
  std::vector<std::vector<uint8_t>> payloads(static_cast<size_t>(k + m));
  bool complete = true;
  for (int i = 0; i < k + m; ++i) {
    const protocol::FragmentIdValue id{container, static_cast<uint8_t>(i),
                                       blockstore::kFragmentGeneration};
    auto bytes = co_await client.fragment_read((*placement)[size_t(i)], id, 0, 0);
    ++walk.report.fragments;
    if (!bytes.ok()) {
      walk.problem(where + " fragment " + std::to_string(i) + ": " + bytes.error().to_string());
      complete = false;
      continue;
    }
    auto header = protocol::verify_fragment(*bytes);
    if (!header.ok() || header->id.container.value() != container || header->id.index != i) {
      walk.problem(where + " fragment " + std::to_string(i) + ": bad header, identity or CRC");
      complete = false;
      continue;
    }
    payloads[size_t(i)].assign(bytes->begin() + protocol::kFragmentHeaderSize, bytes->end());
  }
  if (!complete) co_return ok_result();
  const size_t length = payloads[0].size();
  for (const auto& payload : payloads) {
    if (payload.size() != length) {
      walk.problem(where + ": fragments of different lengths");
      co_return ok_result();
    }
  }
  auto code = ec::ErasureCode::create(k, m);
  if (!code.ok()) co_return code.error();
  std::vector<std::span<const uint8_t>> data;
  for (int i = 0; i < k; ++i) data.emplace_back(payloads[size_t(i)]);
  std::vector<std::vector<uint8_t>> parity(static_cast<size_t>(m), std::vector<uint8_t>(length));
  std::vector<std::span<uint8_t>> parity_out;
  for (auto& p : parity) parity_out.emplace_back(p);
  code->encode(data, parity_out);
  for (int j = 0; j < m; ++j) {
    if (parity[size_t(j)] != payloads[size_t(k + j)]) {
      walk.problem(where + ": parity fragment " + std::to_string(k + j) +
                   " differs from the parity of its data");
    }
  }
  co_return ok_result();
}

// The shelf's fingerprint index is derived data, but the write path trusts it for dedup: after a
// destage every referenced fp must be in it (inserts follow durable stripes).
Task<Result<void>> check_index(Walk& walk, protocol::ShelfClient& client) {
  std::vector<protocol::Fingerprint> fps;
  for (const auto& [location, fp] : walk.locations) fps.push_back(fp);
  std::sort(fps.begin(), fps.end());
  fps.erase(std::unique(fps.begin(), fps.end()), fps.end());
  for (size_t at = 0; at < fps.size(); at += kIndexLookupBatch) {
    const size_t n = std::min(kIndexLookupBatch, fps.size() - at);
    std::vector<protocol::Fingerprint> batch(fps.begin() + static_cast<ptrdiff_t>(at),
                                             fps.begin() + static_cast<ptrdiff_t>(at + n));
    auto found = co_await client.index_lookup(batch);
    if (!found.ok()) co_return found.error();
    walk.report.index_lookups += n;
    for (size_t i = 0; i < n; ++i) {
      if (!found->found[i]) walk.problem("a referenced fingerprint is missing from the index");
    }
  }
  co_return ok_result();
}

Task<Result<void>> check_containers(FileSystemImpl& impl, Walk& walk) {
  auto client = co_await protocol::ShelfClient::connect(impl.env(), impl.store().config().shelf);
  if (!client.ok()) co_return client.error();
  const uint64_t payload_bytes = impl.store().config().geometry.payload_bytes();
  std::set<uint64_t> containers;
  for (const auto& [location, fp] : walk.locations) containers.insert(location.first);
  Result<void> result = ok_result();
  for (uint64_t container : containers) {
    ++walk.report.containers;
    result = co_await check_container(impl, walk, container, **client);
    if (!result.ok()) break;
  }
  if (result.ok()) result = co_await check_index(walk, **client);
  for (const auto& [location, fp] : walk.locations) {
    if (location.second >= payload_bytes) {
      walk.problem("container " + std::to_string(location.first) + ": offset " +
                   std::to_string(location.second) + " outside its payload");
    }
  }
  co_await (*client)->close();
  co_return result;
}

}  // namespace

std::string FsckReport::summary() const {
  return std::to_string(inodes) + " inodes, " + std::to_string(directories) + " directories, " +
         std::to_string(entries) + " entries, " + std::to_string(tree_nodes) + " tree nodes, " +
         std::to_string(data_blocks) + " data blocks, " + std::to_string(containers) +
         " containers (" + std::to_string(fragments) + " fragments), " +
         std::to_string(index_lookups) + " fps in the index: " +
         (problems.empty() ? std::string("clean")
                           : std::to_string(problems.size()) + " problem(s)");
}

Task<Result<FsckReport>> fsck(FileSystem& fs, FsckOptions options) {
  FileSystemImpl& impl = fs.impl();
  // What a new owner would see: the checkpoint, with every container it names on disk.
  CO_RETURN_IF_ERROR(co_await impl.checkpoint());
  if (options.check_fragments) CO_RETURN_IF_ERROR(co_await impl.store().destage_all());
  Walk walk;
  walk.problems_max = options.problems_max;
  CO_RETURN_IF_ERROR(co_await check_inode_table(impl, walk));
  for (const auto& [inode, record] : walk.inodes) {
    if (record.attrs.type != FileType::kDirectory) continue;
    CO_RETURN_IF_ERROR(co_await check_directory(impl, walk, inode, record));
  }
  check_links(walk, impl.superblock());
  CO_RETURN_IF_ERROR(co_await check_data(impl, walk, options.check_data));
  if (options.check_fragments) CO_RETURN_IF_ERROR(co_await check_containers(impl, walk));
  co_return std::move(walk.report);
}

}  // namespace splitarray::hostdriver::fs
