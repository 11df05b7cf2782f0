// The crash-point sequences and the recovery check of the file-system workload (fs_workload.h).
#include <utility>

#include "sim/harness/fs_steps.h"
#include "sim/harness/fs_workload.h"

#if SPLITARRAY_SIM_HAVE_FSCK
#include "hostdriver/fs/fsck.h"
#endif

namespace splitarray::sim {
namespace {

using hostdriver::fs::FileSystem;

constexpr int kSequenceOpenAttempts = 10;

FsSeqStep step(FsStepKind kind, std::string path, std::string to_path = {}) {
  FsSeqStep s;
  s.kind = kind;
  s.path = std::move(path);
  s.to_path = std::move(to_path);
  return s;
}

FsSeqStep write_step(std::string path, uint64_t offset, uint32_t length, Stability stability) {
  FsSeqStep s = step(FsStepKind::kWrite, std::move(path));
  s.offset = offset;
  s.length = length;
  s.stability = stability;
  return s;
}

// The model id at `path` ("" or "/": the root), or 0.
uint32_t resolve_path(const FsTree& tree, const std::string& path) {
  uint32_t at = kModelRoot;
  size_t from = 1;
  while (from < path.size() && at != 0) {
    const size_t slash = std::min(path.find('/', from), path.size());
    at = tree.lookup(at, path.substr(from, slash - from));
    from = slash + 1;
  }
  return at;
}

// Splits "/d/x" into the directory's id and "x".
std::pair<uint32_t, std::string> parent_and_name(const FsTree& tree, const std::string& path) {
  const size_t slash = path.rfind('/');
  ASSERT(slash != std::string::npos);
  return {resolve_path(tree, path.substr(0, slash)), path.substr(slash + 1)};
}

// The step as an operation on the live state; nullopt if a path does not resolve.
std::optional<FsOpSpec> spec_from_step(const FsTree& live, const FsSeqStep& s, Prng& rng) {
  FsOpSpec spec;
  spec.kind = s.kind;
  spec.stability = s.stability;
  spec.offset = s.offset;
  spec.size = s.size;
  spec.mode = s.kind == FsStepKind::kMkdir ? 0755 : 0644;
  switch (s.kind) {
    case FsStepKind::kCreate:
    case FsStepKind::kMkdir:
    case FsStepKind::kRemove:
    case FsStepKind::kRmdir:
      std::tie(spec.dir, spec.name) = parent_and_name(live, s.path);
      if (spec.dir == 0) return std::nullopt;
      break;
    case FsStepKind::kRename:
      std::tie(spec.dir, spec.name) = parent_and_name(live, s.path);
      std::tie(spec.to_dir, spec.to_name) = parent_and_name(live, s.to_path);
      if (spec.dir == 0 || spec.to_dir == 0) return std::nullopt;
      break;
    case FsStepKind::kLink:
      spec.object = resolve_path(live, s.path);
      std::tie(spec.dir, spec.name) = parent_and_name(live, s.to_path);
      if (spec.object == 0 || spec.dir == 0) return std::nullopt;
      break;
    case FsStepKind::kWrite:
    case FsStepKind::kSetSize:
      spec.object = resolve_path(live, s.path);
      if (spec.object == 0) return std::nullopt;
      if (s.kind == FsStepKind::kWrite) spec.data = make_step_data(rng, s.length);
      break;
    default:
      break;
  }
  return spec;
}

Task<void> run_fsck(FileSystem& fs, const FsWorkloadOptions& options, FsCheckResult* result,
                    Violations& violations) {
#if SPLITARRAY_SIM_HAVE_FSCK
  hostdriver::fs::FsckOptions fsck_options;
  auto checked = co_await hostdriver::fs::fsck(fs, fsck_options);
  result->fsck_ran = true;
  if (!checked.ok()) {
    result->fsck_summary = "could not run: " + checked.error().to_string();
    const bool allowed = options.corruption_allowed && checked.code() == Code::kCorruption;
    if (!allowed) violations.add("fsck " + result->fsck_summary);
    co_return;
  }
  result->fsck_ok = checked->ok();
  result->fsck_summary = checked->summary();
  for (const std::string& problem : checked->problems) {
    if (!options.corruption_allowed) violations.add("fsck: " + problem);
  }
#else
  static_cast<void>(fs);
  static_cast<void>(options);
  static_cast<void>(result);
  static_cast<void>(violations);
  co_return;
#endif
}

}  // namespace

bool fs_fsck_linked() { return SPLITARRAY_SIM_HAVE_FSCK != 0; }

std::vector<FsSeqStep> fs_crash_sequence(int variant) {
  using K = FsStepKind;
  if (variant == 0) {
    return {step(K::kCreate, "/a"),
            write_step("/a", 0, 10000, Stability::kUnstable),
            step(K::kRename, "/a", "/b"),
            step(K::kCreate, "/c"),
            write_step("/c", 4096, 5000, Stability::kFileSync),
            step(K::kRemove, "/c"),
            step(K::kCreate, "/e"),
            step(K::kRename, "/b", "/e"),
            step(K::kCommit, "")};
  }
  ASSERT(variant == 1);
  FsSeqStep truncate = step(K::kSetSize, "/y");
  truncate.size = 3000;
  return {step(K::kMkdir, "/d"),
          step(K::kMkdir, "/d/s"),
          step(K::kCreate, "/d/x"),
          write_step("/d/x", 0, 9000, Stability::kDataSync),
          step(K::kCheckpoint, ""),
          step(K::kLink, "/d/x", "/y"),
          step(K::kCreate, "/z"),
          step(K::kRename, "/d/x", "/z"),
          truncate,
          step(K::kRmdir, "/d"),  // not empty: kNotEmpty
          step(K::kRmdir, "/d/s"),
          step(K::kRename, "/d", "/w"),
          step(K::kRmdir, "/w"),
          write_step("/z", 2000, 4000, Stability::kUnstable),
          step(K::kCommit, "")};
}

std::string describe_step(const FsSeqStep& s) {
  std::string text = step_kind_name(s.kind);
  if (!s.path.empty()) text += " " + s.path;
  if (!s.to_path.empty()) text += " -> " + s.to_path;
  if (s.kind == FsStepKind::kWrite) {
    text += " [" + std::to_string(s.offset) + ", +" + std::to_string(s.length) + ")";
  }
  if (s.kind == FsStepKind::kSetSize) text += " " + std::to_string(s.size);
  return text;
}

Task<void> run_fs_sequence(Env& env, FsWorkloadOptions options, FsModel& model,
                           std::vector<FsSeqStep> steps, uint64_t data_seed, const bool* stop,
                           FsOwnerState* state, FsSequenceControl* control,
                           Violations& violations) {
  std::unique_ptr<FileSystem> fs =
      co_await open_fs(env, options, model, stop, &state->killed, kSequenceOpenAttempts);
  if (fs == nullptr) {
    if (!state->killed) violations.add("sequence: the owner could not open the datastore");
    co_return;
  }
  ++model.opens;
  auto observed = co_await observe_tree(*fs);
  std::string why;
  if (!observed.ok()) {
    violations.add("sequence: could not read the tree: " + observed.error().to_string());
  } else if (!resolve_model(model, *observed, &why)) {
    violations.add("sequence: at open: " + why);
  }
  control->opened = true;
  Prng rng(data_seed);
  for (const FsSeqStep& s : steps) {
    if (state->killed || *stop) break;
    state->activity = describe_step(s);
    std::optional<FsOpSpec> spec = spec_from_step(model.live(), s, rng);
    if (!spec) {
      violations.add("sequence: " + describe_step(s) + ": a path does not resolve");
      break;
    }
    const StepResult result =
        co_await run_step(*fs, model, std::move(*spec), state, options, violations);
    if (result == StepResult::kKilled) break;
    ++control->steps_done;
    if (result != StepResult::kOk) {
      violations.add("sequence: " + describe_step(s) + " failed without a crash");
      break;
    }
  }
  if (state->killed) co_await wait_released(env, options, model, stop, state);
  state->activity = "close";
  co_await close_fs(*fs, model, !state->killed);
  if (!state->killed) control->finished = true;
  state->activity = "done";
}

Task<void> check_fs_owner(Env& env, FsWorkloadOptions options, FsModel& model, int attempts_max,
                          FsCheckResult* result, Violations& violations) {
  const bool never = false;
  result->candidates = model.window.size();
  std::unique_ptr<FileSystem> fs =
      co_await open_fs(env, options, model, &never, &never, attempts_max);
  if (fs == nullptr) {
    violations.add("check: a new owner could not open the datastore");
    co_return;
  }
  result->opened = true;
  ++model.opens;
  auto observed = co_await observe_tree(*fs);
  if (!observed.ok()) {
    const bool allowed = options.corruption_allowed && observed.code() == Code::kCorruption;
    if (!allowed) violations.add("check: could not read the tree: " + observed.error().to_string());
  } else {
    std::string why;
    result->matched = resolve_model(model, *observed, &why, &result->matched_state);
    if (!result->matched) violations.add("check: " + why);
  }
  if (options.run_fsck) co_await run_fsck(*fs, options, result, violations);
  co_await close_fs(*fs, model, true);
}

}  // namespace splitarray::sim
