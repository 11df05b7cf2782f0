// tests/e2e/nfs_apps/source_tree.h
// A directory tree that exercises what an archive must carry through a file system, and a
// comparison of two trees by what `stat` shows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace splitarray::testing {

// Builds under `root` (which must not exist): files of sizes around block and page boundaries,
// duplicate and compressible content, a sparse file, hard links, symbolic links (relative,
// absolute, dangling, to a directory, long), odd modes (setuid, setgid, sticky, 0000, a 0555
// directory with a file in it), other owners, awkward names, a deep path, a directory of 600
// entries, an empty directory, and a copy of a real source tree (`real_tree`, e.g. Boost.Asio's
// headers). Contents come from `seed`. Must run as root (chown).
void make_source_tree(const std::string& root, const std::string& real_tree, uint64_t seed);

// The relative paths (under the tree built above) of one file's three hard links, and of the
// sparse file.
std::vector<std::string> hard_link_names();
std::string sparse_file_name();

// Every difference between the trees `expected` and `actual` in type, permission bits
// (including setuid, setgid and sticky), owner, group, size (not for directories), link count,
// modification time in whole seconds (not of symbolic links), and symbolic link target; entries
// missing on either side.
// At most `max_reported` lines.
std::vector<std::string> compare_trees(const std::string& expected, const std::string& actual,
                                       size_t max_reported = 50);

}  // namespace splitarray::testing
