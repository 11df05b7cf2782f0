// Ordinary applications over the project's NFS export: a real netshelf, the datastore formatted
// with safs, a real hostdriver serving it over NFS v3, mounted through FUSE with nfs_fuse
// (tests/support/nfs_fuse; libnfs is the NFS client). Each case runs real programs — tar, diff,
// git, sqlite3, fio — and asserts what their users would check: identical trees and metadata,
// a repository that fscks, a database whose integrity check and counts are exact, data that
// verifies, and all of it still there after the host driver restarts (cleanly or after SIGKILL).
// After each case the host driver stops cleanly and `safs fsck` checks the datastore.
//
// SPLITARRAY_NFS_APPS_SERVER=ganesha runs the same cases against nfs-ganesha instead
// (tests/support/nfs_fuse/ganesha_netns.sh), to tell a bridge or test problem from a server bug.
// Seed: SPLITARRAY_SEED (printed). Needs root and /dev/fuse: without them the cases fail.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "tests/e2e/nfs_apps/bounded_run.h"
#include "tests/e2e/nfs_apps/nfs_servers.h"
#include "tests/e2e/nfs_apps/source_tree.h"

namespace splitarray::testing {
namespace {

const std::string kRealTree = "/usr/include/boost/asio";  // libboost-dev, a build dependency
constexpr auto kStepLimit = seconds(300);

uint64_t seed() {
  const char* text = std::getenv("SPLITARRAY_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 20261122;
}

void require_prerequisites(const std::string& dir) {
  REQUIRE_MESSAGE(::geteuid() == 0, "the NFS application tests need root (FUSE mounts, chown)");
  REQUIRE_MESSAGE(std::filesystem::exists("/dev/fuse"),
                  "/dev/fuse is missing: nfs_fuse cannot mount (CI must provide FUSE)");
  const Ran tools = run_script(
      "for t in tar diff git sqlite3 fio fusermount3 nsenter; do "
      "command -v $t >/dev/null || { echo \"missing: $t\"; exit 1; }; done",
      dir + "/prerequisites.log", seconds(10));
  REQUIRE_MESSAGE(tools.ok(), "install the test tools (scripts/install-deps): " << tools.output);
  REQUIRE_MESSAGE(std::filesystem::is_directory(kRealTree), kRealTree << " is missing");
}

// A fresh directory for one case's servers, mount point and logs; removed afterwards unless
// SPLITARRAY_KEEP_TEMP is set (to look at the logs and the server's state after a failure).
struct ScratchDir {
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sa-nfs-apps-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~ScratchDir() {
    if (std::getenv("SPLITARRAY_KEEP_TEMP") == nullptr) std::filesystem::remove_all(path);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string path;
};

// A running server, its export mounted on <dir>/mnt, and the steps the cases share.
class AppsFixture {
 public:
  AppsFixture() {
    require_prerequisites(dir_.path);
    MESSAGE("SPLITARRAY_SEED=" << seed() << ", temp dir " << dir_.path);
    server_ = make_export_server(dir_.path);
    url_ = server_->start();
    mount();
  }
  ~AppsFixture() {
    mount_.reset();
    server_.reset();
  }

  const std::string& dir() const { return dir_.path; }
  std::string mnt() const { return dir_.path + "/mnt"; }
  ExportServer& server() { return *server_; }

  void mount() {
    mount_ = std::make_unique<FuseMount>(
        *server_, url_, mnt(), dir_.path + "/nfs_fuse-" + std::to_string(++mounts_) + ".log");
  }
  void unmount() {
    mount_->unmount();
    mount_.reset();
  }
  void restart_server() { url_ = server_->start(); }

  // Runs `script` (sh -e) to completion; REQUIREs success. Returns its output.
  std::string run(const std::string& step, const std::string& script, seconds limit = kStepLimit) {
    const auto started = std::chrono::steady_clock::now();
    const Ran ran = run_script(script, dir_.path + "/" + step + ".log", limit);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    MESSAGE(step << ": " << took.count() << " s");
    REQUIRE_MESSAGE(ran.ok(), step << ": " << describe(ran) << nfs_fuse_log_tail() << "\n"
                                   << server_->name() << "'s log:\n"
                                   << server_->log_tail());
    return ran.output;
  }

  // Unmounts, stops the server cleanly and checks what it stored (safs fsck).
  void finish() {
    unmount();
    server_->stop();
    server_->check_stored_data();
  }

 private:
  std::string nfs_fuse_log_tail() const {
    const std::string log = slurp(dir_.path + "/nfs_fuse-" + std::to_string(mounts_) + ".log");
    return log.empty() ? "" : "\nnfs_fuse's log:\n" + last_lines(log, 20);
  }

  ScratchDir dir_;
  std::unique_ptr<ExportServer> server_;
  std::string url_;
  std::unique_ptr<FuseMount> mount_;
  int mounts_ = 0;
};

// The source tree and its tarball, on local disk.
std::string make_tarball(AppsFixture& f) {
  const std::string source = f.dir() + "/source";
  make_source_tree(source, kRealTree, seed());
  f.run("tar-create", "tar --sparse -cpf '" + f.dir() + "/source.tar' -C '" + source + "' .");
  return source;
}

// Extracts the tarball into <mount>/<name>; returns that path.
std::string extract(AppsFixture& f, const std::string& name) {
  const std::string target = f.mnt() + "/" + name;
  f.run("tar-extract-" + name,
        "mkdir '" + target + "' && tar -xpf '" + f.dir() + "/source.tar' -C '" + target + "'");
  return target;
}

// `diff -r` finds no difference in contents, and stat shows the same metadata.
void check_same_tree(AppsFixture& f, const std::string& source, const std::string& copy) {
  f.run("diff-" + std::filesystem::path(copy).filename().string(),
        "diff -r --no-dereference '" + source + "' '" + copy + "'");
  const std::vector<std::string> differences = compare_trees(source, copy);
  std::ostringstream listing;
  for (const std::string& line : differences) listing << "\n  " << line;
  CHECK_MESSAGE(differences.empty(), "metadata differs from the source tree:" << listing.str());
}

TEST_CASE("e2e/nfs_apps: tar extracts a tree over the export identical to its source") {
  AppsFixture f;
  const std::string source = make_tarball(f);
  const std::string copy = extract(f, "tree");
  check_same_tree(f, source, copy);

  // Hard links are one file: one inode, three names.
  struct stat first {};
  REQUIRE(::stat((copy + "/" + hard_link_names()[0]).c_str(), &first) == 0);
  CHECK(first.st_nlink == 3);
  for (const std::string& name : hard_link_names()) {
    struct stat other {};
    REQUIRE(::stat((copy + "/" + name).c_str(), &other) == 0);
    CHECK_MESSAGE(other.st_ino == first.st_ino, name << " is not a hard link of the others");
  }
  // The sparse file's holes take no space (64 MiB apparent, 4 KiB + 2 bytes of data).
  struct stat sparse {};
  REQUIRE(::stat((copy + "/" + sparse_file_name()).c_str(), &sparse) == 0);
  CHECK(sparse.st_size == 64 * 1024 * 1024);
  // A warning, not a failure: the host driver reports fattr3.used as the size rounded up
  // (nfs3_types.h), so holes count as used; du and a hypervisor's thin-provisioning figures see
  // the whole size.
  WARN_MESSAGE(sparse.st_blocks * 512 < sparse.st_size / 4,
               "a sparse file's holes count as used space: " << sparse.st_blocks << " blocks");

  f.finish();
}

// Shell variable assignments (values single-quoted) to put in front of a script.
std::string shell_vars(const std::vector<std::pair<std::string, std::string>>& vars) {
  std::string out;
  for (const auto& [name, value] : vars) out += "export " + name + "='" + value + "'\n";
  return out;
}

const char* const kGitScript = R"sh(
git config --global user.name test && git config --global user.email test@example.com
git config --global core.fsync all && git config --global init.defaultBranch main
mkdir "$REPO" && cd "$REPO"
git init -q .
A=/usr/include/boost/asio && cp -a $A/ip $A/ssl $A/execution $A/local $A/generic .
git add -A && git commit -q -m first
echo '// changed' >> ip/address.hpp
git rm -q ssl/context.hpp && git mv ip/tcp.hpp ip/tcp_renamed.hpp && echo new > NEW
git add -A && git commit -q -m second
git fsck --full --strict
git gc -q && git fsck --full --strict
echo "commits=$(git log --oneline | wc -l)"
echo "status=$(git status --porcelain | wc -l)"
echo "head=$(git rev-parse HEAD)"
echo "changed=$(git diff --name-status HEAD~1 HEAD | sort | tr '\n\t' ' :')"
git clone -q "$REPO" "$CLONE" && cd "$CLONE"
git fsck --full --strict
echo "clone_head=$(git rev-parse HEAD)"
diff -r -x .git "$REPO" "$CLONE"
)sh";

TEST_CASE("e2e/nfs_apps: git init, two commits, gc and clone over the export pass git fsck") {
  AppsFixture f;
  const std::string output = f.run("git", shell_vars({{"HOME", f.dir()},
                                                      {"GIT_CONFIG_NOSYSTEM", "1"},
                                                      {"REPO", f.mnt() + "/repo"},
                                                      {"CLONE", f.mnt() + "/clone"}}) +
                                              kGitScript);
  CHECK(output_value(output, "commits") == "2");
  CHECK(output_value(output, "status") == "0");
  CHECK(output_value(output, "head").size() == 40);
  CHECK(output_value(output, "clone_head") == output_value(output, "head"));
  CHECK(output_value(output, "changed") ==
        "A:NEW D:ssl/context.hpp M:ip/address.hpp R100:ip/tcp.hpp:ip/tcp_renamed.hpp ");
  f.finish();
}

// 20 transactions of 1000 rows, a rolled-back delete, an update.
std::string sqlite_load() {
  std::ostringstream sql;
  sql << "PRAGMA journal_mode=DELETE;\n"
         "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, v TEXT NOT NULL);\n";
  for (int batch = 0; batch < 20; ++batch) {
    sql << "BEGIN; WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) "
           "INSERT INTO t(k, v) SELECT printf('k%02d-%04d', "
        << batch << ", x), printf('%0200d', x * " << batch + 1 << ") FROM c; COMMIT;\n";
  }
  sql << "BEGIN; DELETE FROM t WHERE id % 7 = 0; ROLLBACK;\n"
         "BEGIN; UPDATE t SET v = 'updated' WHERE id % 100 = 0; COMMIT;\n";
  return sql.str();
}

// Loads, checks from a new process, vacuums, checks again.
const char* const kSqliteScript = R"sh(
check() {  # $1: a suffix for the keys
  sqlite3 -batch "$DB" "PRAGMA integrity_check; SELECT 'rows$1=' || count(*) FROM t;
    SELECT 'updated$1=' || count(*) FROM t WHERE v = 'updated';
    SELECT 'bytes$1=' || sum(length(v)) FROM t; SELECT 'keys$1=' || count(DISTINCT k) FROM t;"
}
mkdir "$(dirname "$DB")"
sqlite3 -batch "$DB" < "$LOAD"
check ""
sqlite3 -batch "$DB" 'VACUUM;'
check _vacuumed
echo "files=$(ls -a "$(dirname "$DB")" | tr '\n' ' ')"
)sh";

TEST_CASE("e2e/nfs_apps: sqlite3 transactions over the export pass integrity_check") {
  AppsFixture f;
  const std::string load = f.dir() + "/load.sql";
  std::ofstream(load) << sqlite_load();
  const std::string output = f.run(
      "sqlite", shell_vars({{"DB", f.mnt() + "/db/test.sqlite"}, {"LOAD", load}}) + kSqliteScript);
  std::istringstream lines(output);
  int integrity_ok = 0;
  for (std::string line; std::getline(lines, line);) integrity_ok += line == "ok" ? 1 : 0;
  CHECK_MESSAGE(integrity_ok == 2, "PRAGMA integrity_check did not say ok twice:\n" << output);
  for (const std::string suffix : {"", "_vacuumed"}) {
    CHECK(output_value(output, "rows" + suffix) == "20000");
    CHECK(output_value(output, "updated" + suffix) == "200");
    CHECK(output_value(output, "bytes" + suffix) == std::to_string(19800 * 200 + 200 * 7));
    CHECK(output_value(output, "keys" + suffix) == "20000");
  }
  CHECK(output_value(output, "files") == ". .. test.sqlite ");  // no journal left behind
  f.finish();
}

void run_fio(AppsFixture& f, const std::string& name, const std::string& args) {
  const std::string output =
      f.run("fio-" + name, "mkdir -p '" + f.mnt() + "/fio'\nfio --name=" + name +
                               " --ioengine=psync --verify=crc32c --do_verify=1 --directory='" +
                               f.mnt() + "/fio' " + args);
  CHECK_MESSAGE(output.find("err= 0") != std::string::npos, output);
  CHECK_MESSAGE(output.find("verify") == std::string::npos, "fio reported verification problems:\n"
                                                                << output);
}

TEST_CASE("e2e/nfs_apps: fio psync random and sequential writes verify with crc32c") {
  AppsFixture f;
  run_fio(f, "random", "--rw=randrw --bs=4k --size=64m --randseed=" + std::to_string(seed()));
  run_fio(f, "sequential", "--rw=write --bs=1M --size=64m");
  f.finish();
}

TEST_CASE("e2e/nfs_apps: a tree extracted over the export survives host driver restarts") {
  AppsFixture f;
  const std::string source = make_tarball(f);
  const std::string first = extract(f, "first");
  check_same_tree(f, source, first);

  // A clean restart, with a consistency check in between, and a new mount.
  f.unmount();
  f.server().stop();
  f.server().check_stored_data();
  f.restart_server();
  f.mount();
  check_same_tree(f, source, first);

  // A crash right after a second extraction (every file closed, so committed): the mount stays,
  // the client reconnects to the restarted server, and its file handles still work.
  const std::string second = extract(f, "second");
  f.server().crash();
  f.restart_server();
  check_same_tree(f, source, second);
  check_same_tree(f, source, first);
  f.finish();
}

}  // namespace
}  // namespace splitarray::testing
