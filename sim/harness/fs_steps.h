// sim/harness/fs_steps.h
// Building blocks of the file-system workload (fs_workload.h): one operation as a value
// (FsOpSpec, naming model objects), the model's prediction of its outcome, and run_step, which
// issues it against a real FileSystem and checks the reply against the prediction. Also opening
// and closing an owner's FileSystem with the model's bookkeeping.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/harness/fs_workload.h"

namespace splitarray::sim {

struct FsOpSpec {
  FsStepKind kind = FsStepKind::kCommit;
  uint32_t dir = 0;  // create, mkdir, remove, rmdir, rename (from), link (to)
  std::string name;
  uint32_t to_dir = 0;  // rename
  std::string to_name;
  uint32_t object = 0;  // write, link, set size/mode, read
  uint64_t offset = 0;
  std::vector<uint8_t> data;
  Stability stability = Stability::kUnstable;
  uint64_t size = 0;
  uint32_t mode = 0644;
};

enum class StepResult : uint8_t {
  kOk,         // as predicted (also a predicted error)
  kUnknown,    // failed or differed: the state is unknown until the owner reopens
  kStale,      // fenced
  kReadError,  // a read failed (the state is known)
  kKilled,     // the owner crashed meanwhile (nothing observed)
};

// Issues one operation and checks it. The state after it is pushed on the model's window before
// it is issued (a candidate if the owner crashes), acknowledged when it returns as durable.
Task<StepResult> run_step(hostdriver::fs::FileSystem& fs, FsModel& model, FsOpSpec spec,
                          const FsOwnerState* state, const FsWorkloadOptions& options,
                          Violations& violations);

std::string step_kind_name(FsStepKind kind);
// Bytes for a write: holes, text-like (compressible) or random.
std::vector<uint8_t> make_step_data(Prng& rng, uint64_t length);

// Opens the datastore (up to attempts_max tries, while !*stop && !*killed); nullptr if it gave
// up. Counts replayed operations.
Task<std::unique_ptr<hostdriver::fs::FileSystem>> open_fs(Env& env, FsWorkloadOptions options,
                                                          FsModel& model, const bool* stop,
                                                          const bool* killed, int attempts_max);
// A crashed owner waits until a newer owner has opened (so it is fenced) or *stop.
Task<void> wait_released(Env& env, const FsWorkloadOptions& options, const FsModel& model,
                         const bool* stop, FsOwnerState* state);
// Closes (observed: adds its checkpoints to the model's counters).
Task<void> close_fs(hostdriver::fs::FileSystem& fs, FsModel& model, bool observed);

}  // namespace splitarray::sim
