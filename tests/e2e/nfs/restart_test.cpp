// NFS v3 conformance through libnfs, part 6: the host driver restarting under a client.
// A writer thread does FILE_SYNC WRITEs, UNSTABLE WRITEs + COMMIT and GUARDED CREATEs while the
// hostdriver is killed (SIGKILL) or stopped (SIGTERM) and started again on the same ports: the
// handles the client already has keep working (no new MNT or LOOKUP), every acknowledged write
// reads back exact and every acknowledged create exists. The write verifier changes across a crash
// (and only then may unstable data be lost), and READDIR cookies survive a restart. A stop while
// the shelf is killed or hung ends after --close-timeout and loses nothing acknowledged.
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/e2e/nfs/conformance_support.h"

namespace splitarray::e2e::nfs {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kBlockBytes = 16 * 1024;
constexpr uint64_t kBlocks = 64;
constexpr uint64_t kOpsMax = 100000;            // bounds the writer
constexpr auto kWriterDeadline = seconds(120);  // the writer gives up after this long
constexpr auto kProgressDeadline = seconds(60);

void pause_ms(int ms) { std::this_thread::sleep_for(milliseconds(ms)); }

// What the writer knows was acknowledged.
struct Journal {
  std::mutex mu;
  std::map<uint64_t, uint64_t> blocks;  // block -> op whose FILE_SYNC write was acknowledged last
  std::map<std::string, Fh> created;    // acknowledged creates
  std::vector<std::string> errors;
  uint64_t connection_losses = 0;
  uint64_t verifier_changes = 0;  // COMMITs that answered another verifier than their WRITE
  std::string last_loss;          // the RPC error of the last call that lost its connection
  std::atomic<uint64_t> acked{0};
  std::atomic<bool> stop{false};
};

std::vector<uint8_t> block_bytes(uint64_t op, uint64_t block) {
  return pattern(op, block * kBlockBytes, kBlockBytes);
}

std::unique_ptr<NfsClient> connect_until(uint16_t port, Clock::time_point give_up) {
  while (Clock::now() < give_up) {
    std::string error;
    auto client = NfsClient::connect(port, &error);
    if (client != nullptr) return client;
    pause_ms(10);
  }
  return nullptr;
}

enum class Attempt { kDone, kRetry, kFailed };

// A call that got no reply: the connection is gone (the server stopped); retry on a new one.
Attempt lost(Journal& journal, const Reply& reply) {
  std::lock_guard lock(journal.mu);
  ++journal.connection_losses;
  journal.last_loss = describe(reply);
  return Attempt::kRetry;
}

Attempt failed(Journal& journal, uint64_t op, const std::string& what) {
  std::lock_guard lock(journal.mu);
  journal.errors.push_back("op " + std::to_string(op) + ": " + what);
  return Attempt::kFailed;
}

// A GUARDED CREATE of "c-<op>". A retry that finds the name was the first attempt, applied
// before its reply was lost with the server.
Attempt try_create(uint64_t op, bool retry, NfsClient& nfs, const Fh& dir, Journal& journal) {
  const std::string file_name = "c-" + std::to_string(op);
  const CreateRes res = nfs.create(dir, file_name, GUARDED, Sattr{.mode = 0644});
  if (res.rpc != RpcOutcome::kReplied) return lost(journal, res);
  if (res.status == NFS3ERR_JUKEBOX) return Attempt::kRetry;
  Fh fh;
  if (res.ok() && res.fh) {
    fh = *res.fh;
  } else if (res.status == NFS3ERR_EXIST && retry) {
    const LookupRes found = nfs.lookup(dir, file_name);
    if (!found.ok()) return failed(journal, op, "LOOKUP after EXIST: " + describe(found));
    fh = found.fh;
  } else {
    return failed(journal, op, "CREATE " + file_name + ": " + describe(res));
  }
  std::lock_guard lock(journal.mu);
  journal.created[file_name] = fh;
  return Attempt::kDone;
}

// A block write: FILE_SYNC, or (every fourth op) UNSTABLE then COMMIT, done only when COMMIT
// returns the WRITE's verifier (otherwise the server may have lost it: write it again, as
// RFC 1813 §3.3.21 tells clients to).
Attempt try_write(uint64_t op, NfsClient& nfs, const Fh& file, Journal& journal) {
  const uint64_t block = op % kBlocks;
  const bool unstable = op % 4 == 2;
  const WriteRes res =
      nfs.write(file, block * kBlockBytes, block_bytes(op, block), unstable ? UNSTABLE : FILE_SYNC);
  if (res.rpc != RpcOutcome::kReplied) return lost(journal, res);
  if (res.status == NFS3ERR_JUKEBOX) return Attempt::kRetry;
  if (!res.ok()) return failed(journal, op, "WRITE: " + describe(res));
  if (res.count != kBlockBytes) return failed(journal, op, "short write");
  if (!unstable && res.committed != FILE_SYNC) {
    return failed(journal, op, "FILE_SYNC write came back less stable");
  }
  if (unstable) {
    const CommitRes committed = nfs.commit(file, block * kBlockBytes, kBlockBytes);
    if (committed.rpc != RpcOutcome::kReplied) return lost(journal, committed);
    if (committed.status == NFS3ERR_JUKEBOX) return Attempt::kRetry;
    if (!committed.ok()) return failed(journal, op, "COMMIT: " + describe(committed));
    if (committed.verf != res.verf) {
      std::lock_guard lock(journal.mu);
      ++journal.verifier_changes;
      return Attempt::kRetry;
    }
  }
  std::lock_guard lock(journal.mu);
  journal.blocks[block] = op;
  return Attempt::kDone;
}

// One operation, retried (on a new connection if the old one died) until it is acknowledged.
// Returns false on a failure that retrying cannot fix (recorded in the journal).
bool run_op(uint64_t op, uint16_t port, const Fh& file, const Fh& dir,
            std::unique_ptr<NfsClient>& nfs, Journal& journal, Clock::time_point give_up) {
  for (int attempt = 0; Clock::now() < give_up; ++attempt) {
    if (nfs == nullptr || nfs->rpc().broken()) {
      nfs = connect_until(port, give_up);
      if (nfs == nullptr) return failed(journal, op, "could not reconnect") == Attempt::kDone;
    }
    const Attempt result = op % 4 == 0 ? try_create(op, attempt > 0, *nfs, dir, journal)
                                       : try_write(op, *nfs, file, journal);
    if (result == Attempt::kDone) return true;
    if (result == Attempt::kFailed) return false;
    pause_ms(attempt == 0 ? 0 : 5);
  }
  return failed(journal, op, "gave up retrying") == Attempt::kDone;
}

void writer(uint16_t port, Fh file, Fh dir, Journal* journal) {
  const auto give_up = Clock::now() + kWriterDeadline;
  std::unique_ptr<NfsClient> nfs;
  for (uint64_t op = 1; op < kOpsMax && !journal->stop.load(); ++op) {
    if (!run_op(op, port, file, dir, nfs, *journal, give_up)) return;
    journal->acked.fetch_add(1);
  }
}

// Joins the writer however the test leaves its scope.
struct WriterThread {
  WriterThread(uint16_t port, const Fh& file, const Fh& dir, Journal& journal)
      : journal_(journal), thread_(writer, port, file, dir, &journal) {}
  ~WriterThread() { join(); }
  void join() {
    journal_.stop = true;
    if (thread_.joinable()) thread_.join();
  }
  Journal& journal_;
  std::thread thread_;
};

bool wait_acked(Journal& journal, uint64_t at_least) {
  const auto give_up = Clock::now() + kProgressDeadline;
  while (journal.acked.load() < at_least) {
    if (Clock::now() > give_up) return false;
    {
      std::lock_guard lock(journal.mu);
      if (!journal.errors.empty()) return false;
    }
    pause_ms(2);
  }
  return true;
}

// Stops the hostdriver with `sig` `rounds` times while the writer works, starting it again on the
// same ports each time, then checks everything the writer had acknowledged.
void restart_under_writer(int sig, int rounds) {
  Session s(sig == SIGKILL ? "kill" : "term");
  const Fh file = make_file(*s.nfs, s.root, "data");
  const Fh dir = make_dir(*s.nfs, s.root, "work");
  Journal journal;
  WriterThread thread(s.cluster.nfs_port(), file, dir, journal);

  std::map<uint64_t, uint64_t> blocks_at_stop;
  std::map<std::string, Fh> created_at_stop;
  for (int round = 0; round < rounds; ++round) {
    const uint64_t acked_before = journal.acked.load();
    REQUIRE_MESSAGE(
        wait_acked(journal, acked_before + 150),
        "round " << round << ": the writer made no progress: acked " << journal.acked.load() << ", "
                 << journal.connection_losses << " lost calls, last: " << journal.last_loss
                 << "; errors: " << (journal.errors.empty() ? "" : journal.errors.front()) << "\n"
                 << s.cluster.host_log());
    const int status = s.cluster.stop_host(sig);
    CHECK(status == (sig == SIGKILL ? 128 + SIGKILL : 0));
    {
      std::lock_guard lock(journal.mu);
      blocks_at_stop = journal.blocks;
      created_at_stop = journal.created;
    }
    const auto stopped = Clock::now();
    s.cluster.start_host();
    MESSAGE("round " << round << ": stopped with " << journal.acked.load()
                     << " ops acknowledged; the restart took "
                     << std::chrono::duration_cast<milliseconds>(Clock::now() - stopped).count()
                     << " ms");
  }
  const uint64_t acked_at_stop = journal.acked.load();
  REQUIRE_MESSAGE(wait_acked(journal, acked_at_stop + 150),
                  "the writer did not resume after the restart: acked "
                      << journal.acked.load() << " (" << acked_at_stop << " at the stop), "
                      << journal.connection_losses << " lost calls, last: " << journal.last_loss
                      << "; errors: " << (journal.errors.empty() ? "" : journal.errors.front())
                      << "\n"
                      << s.cluster.host_log());
  thread.join();
  MESSAGE("acknowledged " << journal.acked.load() << " ops in all; " << journal.connection_losses
                          << " calls lost their connection; " << journal.verifier_changes
                          << " UNSTABLE writes were sent again after a verifier change");
  for (const std::string& error : journal.errors) FAIL_CHECK(error);
  CHECK(journal.connection_losses >= 1);  // the stops really hit the client mid-work

  // Verify with the handles the client had before the restart, on a new connection.
  auto nfs = s.cluster.client();
  const fattr3 attrs = attrs_of(*nfs, file);
  CHECK(attrs.type == NF3REG);
  CHECK(attrs.size == kBlocks * kBlockBytes);
  int wrong_blocks = 0;
  int wrong_before_stop = 0;
  for (const auto& [block, op] : journal.blocks) {
    const ReadRes read = nfs->read(file, block * kBlockBytes, kBlockBytes);
    REQUIRE_OK(read);
    if (read.data != block_bytes(op, block)) {
      ++wrong_blocks;
      // A block last written before the stop and not since: acknowledged, so it must be there.
      const auto at_stop = blocks_at_stop.find(block);
      if (at_stop != blocks_at_stop.end() && at_stop->second == op) ++wrong_before_stop;
    }
  }
  CHECK_MESSAGE(wrong_blocks == 0, wrong_blocks << " blocks do not hold their last acknowledged "
                                                << "write (" << wrong_before_stop
                                                << " of them written before the stop)");
  int missing = 0;
  for (const auto& [name, fh] : journal.created) {
    const GetattrRes got = nfs->getattr(fh);
    if (!got.ok() || got.attrs.type != NF3REG) {
      ++missing;
      MESSAGE("created " << name << ": " << describe(got));
    }
  }
  CHECK_MESSAGE(missing == 0, missing << " acknowledged creates are gone or their handles fail");
  CHECK(created_at_stop.size() > 10);
  // The pre-restart root handle (from the original MNT) still resolves names.
  const LookupRes work = nfs->lookup(s.root, "work");
  REQUIRE_OK(work);
  CHECK(work.fh == dir);
  for (const auto& entry : created_at_stop) {
    const std::string& name = entry.first;  // clang 14: no structured bindings in doctest macros
    const LookupRes found = nfs->lookup(dir, name);
    CHECK_MESSAGE(found.ok(), name << ": " << describe(found));
    if (found.ok()) CHECK(found.fh == entry.second);
  }
}

TEST_CASE("e2e/nfs: kill -9 of the hostdriver mid-work: handles stay valid, no acked write lost") {
  restart_under_writer(SIGKILL, 3);
}

TEST_CASE("e2e/nfs: SIGTERM restart of the hostdriver mid-work: handles stay valid, data kept") {
  restart_under_writer(SIGTERM, 2);
}

TEST_CASE("e2e/nfs: the write verifier changes across a crash and COMMIT tells the client") {
  Session s("verifier");
  const Fh file = make_file(*s.nfs, s.root, "f");
  const WriteRes first = s.nfs->write(file, 0, pattern(60, 0, 65536), UNSTABLE);
  REQUIRE_OK(first);
  const Verf before_crash = first.verf;
  const CommitRes committed = s.nfs->commit(file, 0, 0);
  REQUIRE_OK(committed);
  CHECK(committed.verf == before_crash);
  for (int i = 0; i < 20; ++i) {  // constant within one server run
    const WriteRes res = s.nfs->write(file, 65536, pattern(61, 65536, 4096), UNSTABLE);
    REQUIRE_OK(res);
    CHECK(res.verf == before_crash);
  }

  // An EXCLUSIVE create whose reply is lost is retried after the crash with the same verifier.
  const Verf create_verf{9, 8, 7, 6, 5, 4, 3, 2};
  const CreateRes exclusive = s.nfs->create(s.root, "ex", EXCLUSIVE, {}, create_verf);
  REQUIRE_OK(exclusive);

  CHECK(s.cluster.stop_host(SIGKILL) == 128 + SIGKILL);
  s.cluster.start_host();
  auto nfs = s.cluster.client();
  const CreateRes retried = nfs->create(s.root, "ex", EXCLUSIVE, {}, create_verf);
  CHECK_MESSAGE(retried.ok(), "EXCLUSIVE retry after a crash: " << describe(retried));
  if (retried.ok() && retried.fh && exclusive.fh) CHECK(*retried.fh == *exclusive.fh);
  CHECK_STATUS(nfs->create(s.root, "ex", EXCLUSIVE, {}, Verf{1}), NFS3ERR_EXIST);
  // The last UNSTABLE writes were never committed: the server may have lost them, so its
  // verifier must differ and the client resends (RFC 1813 §3.3.7, §3.3.21).
  const CommitRes after = nfs->commit(file, 0, 0);
  REQUIRE_OK(after);
  CHECK_MESSAGE(after.verf != before_crash, "COMMIT after a crash returned the old verifier");
  const WriteRes sync = nfs->write(file, 131072, pattern(62, 131072, 4096), FILE_SYNC);
  REQUIRE_OK(sync);
  CHECK(sync.verf == after.verf);
  // What was committed before the crash is there.
  const ReadRes read = nfs->read(file, 0, 65536);
  REQUIRE_OK(read);
  CHECK(read.data == pattern(60, 0, 65536));

  // A graceful restart: the verifier may change (a new process), data stays.
  CHECK(s.cluster.stop_host(SIGTERM) == 0);
  s.cluster.start_host();
  auto again = s.cluster.client();
  const CommitRes graceful = again->commit(file, 0, 0);
  REQUIRE_OK(graceful);
  MESSAGE("verifier after a graceful restart "
          << std::string(graceful.verf == after.verf ? "kept" : "changed"));
  const ReadRes tail = again->read(file, 131072, 4096);
  REQUIRE_OK(tail);
  CHECK(tail.data == pattern(62, 131072, 4096));
}

TEST_CASE("e2e/nfs: READDIR cookies and handles stay valid across a hostdriver crash") {
  Session s("cookies");
  const Fh dir = make_dir(*s.nfs, s.root, "d");
  constexpr int kNames = 300;
  for (int i = 0; i < kNames; ++i)
    REQUIRE_OK(s.nfs->create(dir, "n-" + std::to_string(i), GUARDED));
  std::map<std::string, int> seen;
  uint64_t cookie = 0;
  Verf verf{};
  for (int page = 0; page < 5; ++page) {
    const ReaddirRes res = s.nfs->readdir(dir, cookie, verf, 1024);
    REQUIRE_OK(res);
    REQUIRE(!res.eof);
    for (const DirEntry& e : res.entries) {
      ++seen[e.name];
      cookie = e.cookie;
    }
    verf = res.cookieverf;
  }
  CHECK(s.cluster.stop_host(SIGKILL) == 128 + SIGKILL);
  s.cluster.start_host();
  auto nfs = s.cluster.client();
  bool eof = false;
  for (int page = 0; !eof; ++page) {
    REQUIRE(page < 1000);
    const ReaddirRes res = nfs->readdir(dir, cookie, verf, 1024);
    REQUIRE_MESSAGE(res.ok(),
                    "continuing at cookie " << cookie << " after the restart: " << describe(res));
    for (const DirEntry& e : res.entries) {
      ++seen[e.name];
      cookie = e.cookie;
    }
    verf = res.cookieverf;
    eof = res.eof;
  }
  CHECK(seen.size() == kNames + 2);
  int twice = 0;
  for (const auto& [name, times] : seen) twice += times == 1 ? 0 : 1;
  CHECK(twice == 0);
  CHECK_OK(nfs->getattr(dir));
  CHECK_OK(nfs->lookup(s.root, "d"));
}

// A stop while the shelf is unreachable cannot write its final checkpoint. It must still end
// (after --close-timeout, plus at most the status publisher's last write: 2 x its 5 s request
// timeout when the shelf hangs), say so in its exit status and log, and lose nothing
// acknowledged: the next start, once the shelf is back, replays the NVRAM log.
// kill_shelf: SIGKILL (connections reset) and start it again; else SIGSTOP (connections hang,
// every request waits for its deadline) and SIGCONT. The timeout covers calls still in flight:
// a FILE_SYNC WRITE sent after the shelf went away waits on it, and must not hold the stop.
void stop_with_shelf_unreachable(const std::string& name, bool kill_shelf) {
  constexpr int kCloseTimeoutS = 2;
  constexpr int kExitUncleanStop = 3;  // hostdriver/service/main.cpp
  constexpr auto kStopBound = seconds(kCloseTimeoutS + 25);
  HostOptions options;
  options.close_timeout_s = kCloseTimeoutS;
  Session s(name, options);
  const std::vector<uint8_t> synced = pattern(70, 0, 256 * 1024);
  const Fh synced_file = make_file(*s.nfs, s.root, "synced", synced);  // FILE_SYNC
  const std::vector<uint8_t> committed = pattern(71, 0, 64 * 1024);
  const Fh committed_file = make_file(*s.nfs, s.root, "committed");
  REQUIRE_OK(s.nfs->write(committed_file, 0, committed, UNSTABLE));
  REQUIRE_OK(s.nfs->commit(committed_file, 0, 0));
  const Fh in_flight_file = make_file(*s.nfs, s.root, "in-flight");
  auto in_flight_client = s.cluster.client();

  if (kill_shelf) {
    CHECK(s.cluster.stop_shelf(SIGKILL) == 128 + SIGKILL);
  } else {
    s.cluster.signal_shelf(SIGSTOP);
  }
  // Its reply never comes: the host driver cannot make it durable, and then stops.
  std::atomic<bool> in_flight_acked = false;
  std::jthread in_flight([&] {  // a jthread: joined also when a REQUIRE throws
    const std::vector<uint8_t> data = pattern(72, 0, 64 * 1024);
    in_flight_acked = in_flight_client->write(in_flight_file, 0, data, FILE_SYNC).ok();
  });
  pause_ms(1000);  // the WRITE reaches the host driver and waits on the shelf
  const auto asked = Clock::now();
  const int status = s.cluster.stop_host(SIGTERM);
  const auto took = Clock::now() - asked;
  in_flight.join();
  if (!kill_shelf) s.cluster.signal_shelf(SIGCONT);
  CHECK_FALSE(in_flight_acked);
  CHECK(status == kExitUncleanStop);
  CHECK(took >= seconds(kCloseTimeoutS));  // it tried for the whole timeout ...
  CHECK(took < kStopBound);                // ... and then stopped
  const std::string log = s.cluster.host_log();
  CHECK(log.find("ev=hostdriver.close_timed_out") != std::string::npos);
  CHECK(log.find("stopped without a final checkpoint") != std::string::npos);

  if (kill_shelf) s.cluster.restart_shelf();
  s.cluster.start_host();
  auto nfs = s.cluster.client();
  const ReadRes synced_back = nfs->read(synced_file, 0, static_cast<uint32_t>(synced.size()));
  REQUIRE_OK(synced_back);
  CHECK(synced_back.data == synced);
  const ReadRes committed_back =
      nfs->read(committed_file, 0, static_cast<uint32_t>(committed.size()));
  REQUIRE_OK(committed_back);
  CHECK(committed_back.data == committed);
  CHECK(s.cluster.stop_host(SIGTERM) == 0);  // with the shelf up, a stop is clean again
}

TEST_CASE(
    "e2e/nfs: SIGTERM with the shelf killed stops after --close-timeout, nothing acked lost") {
  stop_with_shelf_unreachable("shelf-killed-stop", true);
}

TEST_CASE("e2e/nfs: SIGTERM with the shelf hung stops after --close-timeout, nothing acked lost") {
  stop_with_shelf_unreachable("shelf-hung-stop", false);
}

}  // namespace
}  // namespace splitarray::e2e::nfs
