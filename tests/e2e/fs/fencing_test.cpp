// Fencing end to end (DESIGN.md §5 "Ownership"): two hostdriver processes, host ids 1 (A, the
// default) and 2 (B), on different NFS and MOUNT ports, for the one datastore of one netshelf, with
// libnfs as the client.
//
// The takeover is what the host driver does at every start, nothing more: FileSystem::open
// (hostdriver/fs/fs_open.cpp) compare-and-swaps the lease register to {its host id, epoch + 1},
// raises the root register's epoch and opens the datastore's NVRAM log with the new epoch (an
// append that raises the shelf's fence for that log). There is no liveness check and no force
// flag: starting a second host driver on a datastore takes it over from a host that still runs
// (as `safs fsck` does, hostdriver/fs/tool/main.cpp). From then on the shelf refuses the old
// owner's appends, fragment writes and root swaps with kStale, and its NFS server answers
// NFS3ERR_JUKEBOX (kStale's mapping, hostdriver/nfs/nfs3/nfs3_program.h).
//
// Each case asserts what a user of the datastore sees:
//   1. host A acknowledges FILE_SYNC writes, UNSTABLE writes + COMMIT, creates and a mkdir;
//   2. host B starts on the same datastore and serves it (its lease epoch is higher than A's);
//   3. every change attempted through A afterwards fails with NFS3ERR_JUKEBOX and none of them
//      is visible through B: B's tree is exactly what A acknowledged plus B's own changes;
//   4. everything A acknowledged reads back byte-identical through B (also with A's handles);
//   5. A knows it is fenced: once a change was refused, its reads fail too (JUKEBOX, never state
//      the shelf refused) and it logs `fs.fenced`; it still stops cleanly (exit 0);
//   6. with both stopped, `safs fsck` finds the datastore clean.
//   7. a host that only serves reads learns it too, from its lease watch (it reads the root
//      register every second, hostdriver/fs/lease_watch.cpp): within seconds it answers JUKEBOX
//      instead of its own older state, and `arrayctl status` shows it as fenced.
// Between the takeover and A's first refused change or lease check, A answers reads from what it
// had; the first cases have B change nothing A reads before A tries a change.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/e2e/nfs/conformance_support.h"

namespace splitarray::e2e::nfs {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kReadChunk = 64 * 1024;
constexpr int kPagesMax = 1000;   // bounds every listing loop
constexpr int kChunksMax = 1000;  // bounds every whole-file read
constexpr auto kStopDeadline = std::chrono::seconds(30);
// A fenced host notices within one lease check (1 s) and publishes its status every 2 s; this is
// many times that, for a loaded CI machine.
constexpr auto kNoticeDeadline = std::chrono::seconds(20);

// The second host driver: same shelf and datastore as the cluster's, its own host id and ports.
class SecondHost final {
 public:
  SecondHost(const NfsCluster& cluster, uint32_t host_id)
      : log_(cluster.dir() + "/hostdriver-b.log") {
    nfs_port_ = pick_port({cluster.nfs_port(), cluster.mount_port()});
    mount_port_ = pick_port({cluster.nfs_port(), cluster.mount_port(), nfs_port_});
    const std::vector<std::string> args{"--shelf",         cluster.shelf_address(),
                                        "--datastore",     "default",
                                        "--host-id",       std::to_string(host_id),
                                        "--listen",        "127.0.0.1",
                                        "--nfs-port",      std::to_string(nfs_port_),
                                        "--mount-port",    std::to_string(mount_port_),
                                        "--export",        "/default",
                                        "--clients",       "127.0.0.1",
                                        "--no-root-squash"};
    process_ = std::make_unique<Process>(HOSTDRIVER_BINARY, args, log_);
    // Serving once it prints its URL (after opening: the takeover, replay and a checkpoint).
    const auto give_up = Clock::now() + kStartDeadline;
    while (slurp(log_).find("\nnfs://") == std::string::npos) {
      REQUIRE_MESSAGE(!process_->exited(), "host B exited:\n" << slurp(log_));
      REQUIRE_MESSAGE(Clock::now() < give_up, "host B did not serve:\n" << slurp(log_));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  std::unique_ptr<NfsClient> client() const {
    std::string error;
    auto client = NfsClient::connect(nfs_port_, &error);
    REQUIRE_MESSAGE(client != nullptr, error);
    return client;
  }
  Fh mount_root() const {
    std::string error;
    auto mount = MountClient::connect(mount_port_, &error);
    REQUIRE_MESSAGE(mount != nullptr, error);
    const MntRes res = mount->mnt("/default");
    REQUIRE_MESSAGE(res.ok(), "MNT /default on host B: " << describe(res));
    return res.root;
  }
  // SIGTERM: a clean stop (checkpoint, close). Returns the exit status.
  int stop() {
    process_->signal(SIGTERM);
    const int status = process_->wait(kStopDeadline);
    REQUIRE_MESSAGE(status != -1, "host B did not stop:\n" << slurp(log_));
    return status;
  }
  std::string output() const { return slurp(log_); }

 private:
  std::string log_;
  uint16_t nfs_port_ = 0;
  uint16_t mount_port_ = 0;
  std::unique_ptr<Process> process_;
};

// The lease epoch a host driver's log reports at open ("ev=fs.open ... epoch=N"), 0 if none.
uint64_t open_epoch(const std::string& output) {
  const size_t event = output.rfind("ev=fs.open ");
  if (event == std::string::npos) return 0;
  const size_t field = output.find(" epoch=", event);
  if (field == std::string::npos) return 0;
  return std::stoull(output.substr(field + 7));
}

// The names in `dir` (without "." and ".."), sorted, READDIR paged to the end.
std::vector<std::string> names_in(NfsClient& nfs, const Fh& dir) {
  std::vector<std::string> names;
  uint64_t cookie = 0;
  Verf verf{};
  for (int page = 0;; ++page) {
    REQUIRE_MESSAGE(page < kPagesMax, "the listing did not end");
    const ReaddirRes res = nfs.readdir(dir, cookie, verf, 8192);
    REQUIRE_MESSAGE(res.ok(), "READDIR: " << describe(res));
    for (const DirEntry& e : res.entries) {
      if (e.name != "." && e.name != "..") names.push_back(e.name);
      cookie = e.cookie;
    }
    verf = res.cookieverf;
    if (res.eof) break;
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The whole file, READ in chunks to EOF.
std::vector<uint8_t> contents(NfsClient& nfs, const Fh& file) {
  std::vector<uint8_t> all;
  for (int chunk = 0;; ++chunk) {
    REQUIRE_MESSAGE(chunk < kChunksMax, "the file did not end");
    const ReadRes res = nfs.read(file, all.size(), kReadChunk);
    REQUIRE_MESSAGE(res.ok(), "READ at " << all.size() << ": " << describe(res));
    all.insert(all.end(), res.data.begin(), res.data.end());
    if (res.eof) return all;
    REQUIRE_MESSAGE(res.count > 0, "a short read that is not EOF");
  }
}

Fh lookup_ok(NfsClient& nfs, const Fh& dir, const std::string& name) {
  const LookupRes res = nfs.lookup(dir, name);
  REQUIRE_MESSAGE(res.ok(), "LOOKUP " << name << ": " << describe(res));
  return res.fh;
}

// What A acknowledged before the takeover: file name -> contents, in the root and in "dir".
struct Acknowledged {
  std::map<std::string, std::vector<uint8_t>> root_files;
  std::map<std::string, std::vector<uint8_t>> dir_files;
  std::map<std::string, Fh> handles;  // A's handles of the root files
  Fh dir;
};

// Files written FILE_SYNC, one written UNSTABLE and committed, a directory with a file, and the
// files the fenced host will try to remove, rename and chmod.
Acknowledged write_through_a(NfsClient& a, const Fh& root) {
  Acknowledged acked;
  for (const auto& [name, bytes] : std::map<std::string, size_t>{
           {"sync-big", 300000}, {"victim", 5000}, {"movable", 7000}, {"chmod-me", 3000}}) {
    acked.root_files[name] = pattern(name.size() * 131 + bytes, 0, bytes);
    acked.handles[name] = make_file(a, root, name, acked.root_files[name]);
  }
  // UNSTABLE in two writes, then COMMIT: acknowledged once COMMIT returns the writes' verifier.
  const std::vector<uint8_t> unstable = pattern(77, 0, 200000);
  const Fh file = make_file(a, root, "unstable-committed");
  const std::span<const uint8_t> all(unstable);
  const WriteRes first = a.write(file, 0, all.subspan(0, 120000), UNSTABLE);
  REQUIRE_OK(first);
  const WriteRes second = a.write(file, 120000, all.subspan(120000), UNSTABLE);
  REQUIRE_OK(second);
  const CommitRes committed = a.commit(file, 0, 0);
  REQUIRE_OK(committed);
  REQUIRE(committed.verf == first.verf);
  REQUIRE(committed.verf == second.verf);
  acked.root_files["unstable-committed"] = unstable;
  acked.handles["unstable-committed"] = file;

  acked.dir = make_dir(a, root, "dir");
  acked.dir_files["inner"] = pattern(5, 0, 40000);
  make_file(a, acked.dir, "inner", acked.dir_files["inner"]);
  return acked;
}

// B's tree is exactly `acked`: the same names (plus "dir") and byte-identical contents, through
// handles B gives out and through A's handles.
void check_tree(NfsClient& b, const Fh& root, const Acknowledged& acked) {
  const std::vector<std::string> listed = names_in(b, root);
  std::vector<std::string> expected{"dir"};
  for (const auto& entry : acked.root_files) expected.push_back(entry.first);
  std::sort(expected.begin(), expected.end());
  CHECK(listed == expected);
  for (const auto& file : acked.root_files) {
    INFO("file " << file.first);
    const std::vector<uint8_t> read = contents(b, lookup_ok(b, root, file.first));
    CHECK(read.size() == file.second.size());
    CHECK(read == file.second);
    const auto a_handle = acked.handles.find(file.first);
    if (a_handle != acked.handles.end()) CHECK(contents(b, a_handle->second) == file.second);
  }
  const Fh dir = lookup_ok(b, root, "dir");
  CHECK(names_in(b, dir) == std::vector<std::string>{"inner"});
  CHECK(contents(b, lookup_ok(b, dir, "inner")) == acked.dir_files.at("inner"));
}

// A logged that it was fenced and still stops cleanly (its close has nothing to checkpoint: it
// owns nothing); B, never disturbed, logged no error and stops cleanly; then `safs fsck` (which
// takes the lease like any new owner) finds the datastore clean.
void stop_both_and_fsck(NfsCluster& cluster, SecondHost& host_b) {
  CHECK_MESSAGE(
      cluster.host_log().find("lvl=error comp=hostdriver ev=fs.fenced") != std::string::npos,
      cluster.host_log());
  CHECK(cluster.stop_host(SIGTERM) == 0);
  CHECK_MESSAGE(cluster.host_log().find("hostdriver stopped") != std::string::npos,
                cluster.host_log());
  CHECK_MESSAGE(host_b.output().find("lvl=error") == std::string::npos, host_b.output());
  CHECK(host_b.stop() == 0);
  CHECK_MESSAGE(host_b.output().find("hostdriver stopped") != std::string::npos, host_b.output());

  const std::string log = cluster.dir() + "/safs-fsck.log";
  const int checked =
      run_tool(SAFS_BINARY, {"fsck", "--shelf", cluster.shelf_address()}, log, kToolDeadline);
  CHECK_MESSAGE(checked == 0, "safs fsck: exit " << checked << "\n" << slurp(log));
  CHECK_MESSAGE(slurp(log).find("fsck default: ") != std::string::npos, slurp(log));
}

TEST_CASE("e2e/fs: fencing - after host B takes the datastore over, host A changes nothing") {
  NfsCluster cluster("fencing");
  auto a = cluster.client();
  const Fh root = cluster.mount_root();
  Acknowledged acked = write_through_a(*a, root);

  SecondHost host_b(cluster, 2);
  const uint64_t epoch_a = open_epoch(cluster.host_log());
  const uint64_t epoch_b = open_epoch(host_b.output());
  CHECK_MESSAGE(epoch_a > 0, cluster.host_log());
  CHECK_MESSAGE(epoch_b > epoch_a, "epochs: A " << epoch_a << ", B " << epoch_b);
  auto b = host_b.client();
  const Fh root_b = host_b.mount_root();
  CHECK(root_b == root);  // handles are the datastore's, not the host's
  check_tree(*b, root_b, acked);

  // B's own change before A tries anything.
  acked.root_files["from-b"] = pattern(99, 0, 20000);
  make_file(*b, root_b, "from-b", acked.root_files["from-b"]);

  // A may not have noticed yet (its lease watch reads the register once a second): its first
  // change is a namespace operation, applied in its memory and queued to its log, which the
  // shelf refuses.
  CHECK_STATUS(a->create(root, "late-create", GUARDED, Sattr{.mode = 0644}), NFS3ERR_JUKEBOX);
  // That create must not show through A either: A answers from memory, which held it.
  CHECK_STATUS(a->lookup(root, "late-create"), NFS3ERR_JUKEBOX);
  const Fh& big = acked.handles.at("sync-big");
  const std::vector<uint8_t> late = pattern(1234, 0, 8192);
  CHECK_STATUS(a->write(big, 0, late, FILE_SYNC), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->write(big, 4096, late, DATA_SYNC), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->write(big, 300000, late, UNSTABLE), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->commit(big, 0, 0), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->remove(root, "victim"), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->rename(root, "movable", root, "moved"), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->rename(root, "movable", acked.dir, "movable"), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->setattr(acked.handles.at("chmod-me"), Sattr{.mode = 0600}), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->setattr(big, Sattr{.size = 10}), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->mkdir(root, "late-dir", Sattr{.mode = 0755}), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->symlink(root, "late-link", "sync-big"), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->link(big, root, "late-hardlink"), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->remove(acked.dir, "inner"), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->rmdir(root, "dir"), NFS3ERR_JUKEBOX);
  // A knows now: its reads fail as well, rather than answer from a state it no longer owns.
  CHECK_STATUS(a->getattr(root), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->getattr(big), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->lookup(root, "victim"), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->read(big, 0, 4096), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->readdir(root, 0, Verf{}, 8192), NFS3ERR_JUKEBOX);

  // None of it reached the shelf: B sees what A acknowledged plus B's own file, byte for byte,
  // and the attributes A tried to change are as they were.
  check_tree(*b, root_b, acked);
  CHECK((attrs_of(*b, lookup_ok(*b, root_b, "chmod-me")).mode & 07777) == 0644);
  CHECK(attrs_of(*b, big).size == acked.root_files.at("sync-big").size());
  CHECK(attrs_of(*b, big).nlink == 1);
  // B keeps serving changes.
  const Fh from_b = lookup_ok(*b, root_b, "from-b");
  REQUIRE_OK(b->write(from_b, 20000, pattern(100, 0, 5000), FILE_SYNC));
  auto& grown = acked.root_files["from-b"];
  const std::vector<uint8_t> tail = pattern(100, 0, 5000);
  grown.insert(grown.end(), tail.begin(), tail.end());
  CHECK(contents(*b, from_b) == grown);

  stop_both_and_fsck(cluster, host_b);
  // What the shelf holds is exactly that tree: A, started again, takes the datastore back from the
  // stopped B and serves it.
  cluster.start_host();
  auto again = cluster.client();
  check_tree(*again, cluster.mount_root(), acked);
}

TEST_CASE("e2e/fs: fencing - an UNSTABLE write taken by the fenced host is never committed") {
  NfsCluster cluster("fencing-unstable");
  auto a = cluster.client();
  const Fh root = cluster.mount_root();
  const std::vector<uint8_t> acked = pattern(7, 0, 100000);
  const Fh file = make_file(*a, root, "f", acked);

  SecondHost host_b(cluster, 2);
  auto b = host_b.client();
  // A's first change after the takeover is an UNSTABLE write past the end. A may take it: UNSTABLE
  // is answered from memory once the record is queued, before the shelf refuses the append. But
  // the COMMIT that would make it stable fails, and from then on A serves nothing, neither the
  // size nor the bytes that write gave the file in its memory.
  const WriteRes unstable = a->write(file, 100000, pattern(8, 0, 50000), UNSTABLE);
  CHECK_MESSAGE((unstable.status == NFS3_OK || unstable.status == NFS3ERR_JUKEBOX),
                describe(unstable));
  MESSAGE("the fenced host answered the UNSTABLE write with " << describe(unstable));
  CHECK_STATUS(a->commit(file, 0, 0), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->getattr(file), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->read(file, 100000, 100), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->write(file, 0, pattern(9, 0, 100), FILE_SYNC), NFS3ERR_JUKEBOX);

  // The shelf holds what A acknowledged, nothing more.
  CHECK(attrs_of(*b, file).size == acked.size());
  CHECK(contents(*b, file) == acked);
  CHECK(contents(*b, lookup_ok(*b, root, "f")) == acked);
  stop_both_and_fsck(cluster, host_b);
}

// The state `arrayctl status --json` reports for host `id`, "" if it lists no such host.
std::string arrayctl_host_state(const NfsCluster& cluster, uint32_t id) {
  const std::string log = cluster.dir() + "/arrayctl.json";
  std::remove(log.c_str());  // run_tool appends; one JSON document per call
  const int status =
      run_tool(ARRAYCTL_BINARY, {"status", "--shelf", cluster.shelf_address(), "--json"}, log,
               kToolDeadline);
  REQUIRE_MESSAGE(status == 0, "arrayctl status: exit " << status << "\n" << slurp(log));
  const nlohmann::json root = nlohmann::json::parse(slurp(log));
  for (const nlohmann::json& host : root.at("hosts")) {
    if (host.at("id") == id) return host.at("state").get<std::string>();
  }
  return "";
}

TEST_CASE("e2e/fs: fencing - a host that only serves reads stops serving them after a takeover") {
  NfsCluster cluster("fencing-reads");
  auto a = cluster.client();
  const Fh root = cluster.mount_root();
  const std::vector<uint8_t> first = pattern(11, 0, 30000);
  const Fh file = make_file(*a, root, "f", first);
  CHECK(arrayctl_host_state(cluster, 1) == "serving");

  SecondHost host_b(cluster, 2);
  auto b = host_b.client();
  const std::vector<uint8_t> second = pattern(12, 0, 30000);
  REQUIRE_OK(b->write(file, 0, second, FILE_SYNC));
  // A is asked only to read: no refused change can tell it. Until its lease watch does, it
  // answers from its memory (what it acknowledged); then JUKEBOX, for good.
  const auto give_up = Clock::now() + kNoticeDeadline;
  int stale_answers = 0;
  for (;;) {
    const ReadRes read = a->read(file, 0, 30000);
    if (read.status == NFS3ERR_JUKEBOX) break;
    REQUIRE_MESSAGE(read.status == NFS3_OK, describe(read));
    CHECK(read.data == first);
    ++stale_answers;
    REQUIRE_MESSAGE(Clock::now() < give_up, "host A still serves reads after "
                                                << stale_answers << " answers:\n"
                                                << cluster.host_log());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  MESSAGE("host A answered " << stale_answers << " reads before its lease watch fenced it");
  CHECK_STATUS(a->getattr(root), NFS3ERR_JUKEBOX);
  CHECK_STATUS(a->lookup(root, "f"), NFS3ERR_JUKEBOX);
  CHECK_MESSAGE(cluster.host_log().find("taken over by host 2") != std::string::npos,
                cluster.host_log());
  // The operator sees it: A's status record says fenced (published within its 2 s interval).
  std::string state;
  while ((state = arrayctl_host_state(cluster, 1)) != "fenced" && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(state == "fenced");
  CHECK(arrayctl_host_state(cluster, 2) == "serving");
  CHECK(contents(*b, file) == second);
  stop_both_and_fsck(cluster, host_b);
}

}  // namespace
}  // namespace splitarray::e2e::nfs
