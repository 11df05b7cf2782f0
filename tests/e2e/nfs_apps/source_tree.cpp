// tests/e2e/nfs_apps/source_tree.cpp
#include "tests/e2e/nfs_apps/source_tree.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/assert.h"
#include "common/prng.h"
#include "common/units.h"

namespace splitarray::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kManyEntries = 600;  // several READDIR(PLUS) replies' worth
constexpr int kDepth = 16;
constexpr uint64_t kSparseBytes = 64 * kMiB;

std::vector<uint8_t> random_bytes(Prng& rng, size_t size) {
  std::vector<uint8_t> bytes(size);
  rng.fill(bytes);
  return bytes;
}

void write_file(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_MSG(out.good(), "cannot write a source-tree file");
}

void set_mode(const fs::path& path, mode_t mode) {
  ASSERT_MSG(::chmod(path.c_str(), mode) == 0, "chmod failed");
}

void make_contents(const fs::path& gen, Prng& rng) {
  fs::create_directories(gen / "sizes");
  for (size_t size :
       {0, 1, 511, 512, 4095, 4096, 4097, 65535, 65536, 65537, 131073, 1048583, 3145728 + 333}) {
    write_file(gen / "sizes" / ("size_" + std::to_string(size)), random_bytes(rng, size));
  }
  write_file(gen / "zeros", std::vector<uint8_t>(4 * kMiB, 0));  // written zeros, not a hole
  std::string text;
  for (int line = 0; text.size() < 2 * kMiB; ++line) {
    text += "line " + std::to_string(line) + ": the quick brown fox jumps over the lazy dog\n";
  }
  write_file(gen / "text", std::vector<uint8_t>(text.begin(), text.end()));
  // Identical and nearly identical content (deduplication).
  const std::vector<uint8_t> block = random_bytes(rng, kMiB);
  write_file(gen / "dup_a", block);
  write_file(gen / "dup_b", block);
  std::vector<uint8_t> changed = block;
  changed[kMiB / 2] ^= 0xff;
  write_file(gen / "dup_c", changed);
  // Sparse: data at the start, in the middle and in the last byte; holes between.
  std::ofstream sparse(gen / "sparse", std::ios::binary);
  for (const uint64_t offset : {uint64_t{0}, kSparseBytes / 2, kSparseBytes - 1}) {
    const std::vector<uint8_t> data = random_bytes(rng, offset == 0 ? 4096 : 1);
    sparse.seekp(static_cast<std::streamoff>(offset));
    sparse.write(reinterpret_cast<const char*>(data.data()),
                 static_cast<std::streamsize>(data.size()));
  }
  ASSERT(sparse.good());
}

void make_links(const fs::path& gen, Prng& rng) {
  const fs::path links = gen / "links";
  fs::create_directories(links / "sub");
  write_file(links / "target", random_bytes(rng, 10000));
  fs::create_hard_link(links / "target", links / "hard1");
  fs::create_hard_link(links / "target", links / "sub" / "hard2");
  fs::create_symlink("target", links / "relative");
  fs::create_symlink("../sizes/size_1", links / "up");
  fs::create_symlink("/etc/hostname", links / "absolute");
  fs::create_symlink("no/such/file", links / "dangling");
  fs::create_symlink("../sizes", links / "to_dir");
  std::string long_target;
  while (long_target.size() < 900) long_target += "long_component/";
  fs::create_symlink(long_target + "end", links / "long");
}

void make_modes_and_owners(const fs::path& gen, Prng& rng) {
  const fs::path modes = gen / "modes";
  fs::create_directories(modes);
  for (const mode_t mode : {0600, 0444, 0755, 0700, 04755, 02755, 0000, 0640}) {
    std::ostringstream name;
    name << "m" << std::oct << mode;
    write_file(modes / name.str(), random_bytes(rng, 100));
    set_mode(modes / name.str(), mode);
  }
  fs::create_directories(modes / "sticky");
  set_mode(modes / "sticky", 01777);
  fs::create_directories(modes / "private");
  set_mode(modes / "private", 0700);
  fs::create_directories(modes / "read_only");
  write_file(modes / "read_only" / "inside", random_bytes(rng, 10));
  set_mode(modes / "read_only", 0555);

  const fs::path owners = gen / "owners";
  fs::create_directories(owners / "dir");
  write_file(owners / "file", random_bytes(rng, 10));
  ASSERT_MSG(::lchown((owners / "file").c_str(), 1234, 5678) == 0, "chown needs root");
  ASSERT(::lchown((owners / "dir").c_str(), 4321, 4321) == 0);
  fs::create_symlink("file", owners / "link");
  ASSERT(::lchown((owners / "link").c_str(), 1111, 2222) == 0);
}

void make_names(const fs::path& gen, Prng& rng) {
  const fs::path names = gen / "names";
  fs::create_directories(names);
  const std::vector<std::string> awkward = {
      "with space",     "\xc3\xbcn\xc3\xaf\x63\xc3\xb6\x64\xc3\xa9",  // "unicode", accented
      ".hidden",        "-dash",
      "quote'double\"", std::string(255, 'n')};  // the longest name NFS v3 and ext4 allow
  for (const std::string& name : awkward) {
    write_file(names / name, random_bytes(rng, 20));
  }
  fs::path deep = gen / "deep";
  for (int level = 0; level < kDepth; ++level) deep /= "d" + std::to_string(level);
  fs::create_directories(deep);
  write_file(deep / "leaf", random_bytes(rng, 100));
  fs::create_directories(gen / "many");
  for (int i = 0; i < kManyEntries; ++i) {
    write_file(gen / "many" / ("f" + std::to_string(i)), random_bytes(rng, rng.between(1, 200)));
  }
  fs::create_directories(gen / "empty_dir");
}

struct Entry {
  struct stat st {};
  std::string link_target;
};

std::map<std::string, Entry> scan(const std::string& root) {
  std::map<std::string, Entry> entries;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    Entry entry;
    ASSERT_MSG(::lstat(it->path().c_str(), &entry.st) == 0, "lstat failed");
    if (S_ISLNK(entry.st.st_mode)) entry.link_target = fs::read_symlink(it->path()).string();
    entries.emplace(it->path().lexically_relative(root).string(), entry);
  }
  return entries;
}

std::string show_mode(mode_t mode) {
  std::ostringstream out;
  out << std::oct << mode;
  return out.str();
}

// Differences of one entry present in both trees.
void compare_entry(const std::string& path, const Entry& want, const Entry& got,
                   std::vector<std::string>& out) {
  const struct stat& a = want.st;
  const struct stat& b = got.st;
  auto differ = [&](const std::string& what, const std::string& expected,
                    const std::string& actual) {
    if (expected != actual) out.push_back(path + ": " + what + " " + actual + ", want " + expected);
  };
  differ("type/mode", show_mode(a.st_mode), show_mode(b.st_mode));
  differ("uid", std::to_string(a.st_uid), std::to_string(b.st_uid));
  differ("gid", std::to_string(a.st_gid), std::to_string(b.st_gid));
  differ("links", std::to_string(a.st_nlink), std::to_string(b.st_nlink));
  if (!S_ISDIR(a.st_mode)) differ("size", std::to_string(a.st_size), std::to_string(b.st_size));
  // A symbolic link's own times are not compared: nfs-ganesha (the reference server) ignores
  // SETATTR of times on a symlink, and applications do not look at them.
  if (!S_ISLNK(a.st_mode)) {
    differ("mtime", std::to_string(a.st_mtim.tv_sec), std::to_string(b.st_mtim.tv_sec));
  }
  differ("symlink target", want.link_target, got.link_target);
}

}  // namespace

void make_source_tree(const std::string& root, const std::string& real_tree, uint64_t seed) {
  ASSERT_MSG(!fs::exists(root), "the source tree's root must not exist");
  Prng rng(seed);
  const fs::path gen = fs::path(root) / "gen";
  make_contents(gen, rng);
  make_links(gen, rng);
  make_modes_and_owners(gen, rng);
  make_names(gen, rng);
  fs::copy(real_tree, fs::path(root) / "real", fs::copy_options::recursive);
}

std::vector<std::string> hard_link_names() {
  return {"gen/links/target", "gen/links/hard1", "gen/links/sub/hard2"};
}

std::string sparse_file_name() { return "gen/sparse"; }

std::vector<std::string> compare_trees(const std::string& expected, const std::string& actual,
                                       size_t max_reported) {
  const std::map<std::string, Entry> want = scan(expected);
  const std::map<std::string, Entry> got = scan(actual);
  std::vector<std::string> out;
  for (const auto& [path, entry] : want) {
    auto it = got.find(path);
    if (it == got.end()) {
      out.push_back(path + ": missing");
    } else {
      compare_entry(path, entry, it->second, out);
    }
  }
  for (const auto& [path, entry] : got) {
    if (!want.contains(path)) out.push_back(path + ": unexpected");
  }
  if (out.size() > max_reported) {
    const size_t more = out.size() - max_reported;
    out.resize(max_reported);
    out.push_back("... and " + std::to_string(more) + " more");
  }
  return out;
}

}  // namespace splitarray::testing
