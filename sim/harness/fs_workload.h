// sim/harness/fs_workload.h
// The file-system workload (fs_sim.h): the owner of the datastore runs a real hostdriver
// FileSystem against the simulated shelf and drives it with one stream of namespace and data
// operations (create, mkdir, write with every stability, commit, rename also over an existing
// name, remove, rmdir, link, setattr size and mode, reads and live tree checks). Before each
// operation the model (fs_model.h) predicts its outcome: the state after it, or the error POSIX
// requires (exists, not empty, is a directory, ...). An operation whose outcome differs is a
// violation; one that fails otherwise (the shelf, a fence) leaves the state unknown, and the
// owner reopens the datastore and matches the recovered tree against the model.
//
// Crash-point sequences: short fixed lists of steps by path (fs_crash_sequence), run by
// run_fs_sequence, for crashing the owner right after each persistence point.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/env.h"
#include "hostdriver/fs/file_system.h"
#include "sim/harness/fs_model.h"
#include "sim/harness/shelf_workload.h"

namespace splitarray::sim {

using hostdriver::fs::Stability;

struct FsWorkloadOptions {
  hostdriver::fs::FsConfig fs;  // host is set per owner
  Duration think_time_max = std::chrono::milliseconds(5);
  Duration retry_delay = std::chrono::milliseconds(200);
  Duration release_poll = std::chrono::milliseconds(20);
  uint64_t file_bytes_max = 48 * kKiB;  // writes and sizes stay below
  uint32_t write_bytes_max = 12 * kKiB;
  size_t objects_max = 40;  // beyond this the workload removes more than it creates
  size_t dirs_max = 8;
  bool corruption_allowed = false;  // detection runs: kCorruption is damage found, not a bug
  bool run_fsck = true;             // at checks, when fsck is linked (fs_sim.cpp)
};

// One owner incarnation's state, shared with the harness.
struct FsOwnerState {
  bool killed = false;          // the host crashed: nothing it does is observed from now on
  uint64_t opens_at_crash = 0;  // model.opens when it crashed: a later open releases it
  std::string activity = "starting";
};

// Runs the workload as the datastore's owner until *stop or state->killed: opens (retrying),
// matches the recovered tree with the model, runs operations; reopens after a failed one. When
// killed it issues nothing more, waits until a newer owner has opened (so it is fenced), and
// closes; when stopped it commits and closes.
Task<void> run_fs_owner(Env& env, FsWorkloadOptions options, FsModel& model, Prng rng,
                        const bool* stop, FsOwnerState* state, Violations& violations);

struct FsCheckResult {
  bool opened = false;
  bool matched = false;
  std::string matched_state;  // which window state the tree equals
  size_t candidates = 0;
  bool fsck_ran = false;
  bool fsck_ok = false;
  std::string fsck_summary;
};

// A new owner opens (attempts_max tries), reads the whole tree, matches it with the model, runs
// fsck when linked and closes. Violations for mismatches and fsck problems.
Task<void> check_fs_owner(Env& env, FsWorkloadOptions options, FsModel& model, int attempts_max,
                          FsCheckResult* result, Violations& violations);

// Whether this build links hostdriver/fs fsck.
bool fs_fsck_linked();

// --- Crash-point sequences ------------------------------------------------------------------
enum class FsStepKind : uint8_t {
  kCreate,
  kMkdir,
  kWrite,
  kCommit,
  kRename,
  kRemove,
  kRmdir,
  kLink,
  kSetSize,
  kCheckpoint,
  kSetMode,  // the random workload only: mode, reads, live tree checks
  kRead,
  kVerify,
};

struct FsSeqStep {
  FsStepKind kind = FsStepKind::kCreate;
  std::string path;     // "/a", "/d/x"
  std::string to_path;  // rename, link (the new name)
  uint64_t offset = 0;  // write
  uint32_t length = 0;  // write
  Stability stability = Stability::kUnstable;
  uint64_t size = 0;  // set size
};

// 0: create a, write a, rename a->b, create c, remove c, commit (plus a rename over an existing
// name); 1: directories (mkdir, create inside, stable write, checkpoint, link, rename over,
// setattr size, rmdir of a non-empty then an empty directory, commit).
inline constexpr int kFsCrashSequences = 2;
std::vector<FsSeqStep> fs_crash_sequence(int variant);
std::string describe_step(const FsSeqStep& step);

struct FsSequenceControl {
  bool opened = false;    // the owner opened and matched the tree: persistence points count
  bool finished = false;  // every step returned and the owner closed (points stop counting)
  size_t steps_done = 0;
};

// The owner runs `steps` once (no think time), then closes (a checkpoint, the block store's
// commit and destage: persistence points too). Killed: as run_fs_owner.
Task<void> run_fs_sequence(Env& env, FsWorkloadOptions options, FsModel& model,
                           std::vector<FsSeqStep> steps, uint64_t data_seed, const bool* stop,
                           FsOwnerState* state, FsSequenceControl* control, Violations& violations);

}  // namespace splitarray::sim
