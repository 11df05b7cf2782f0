#include "sim/harness/fs_workload.h"

#include <algorithm>
#include <cstring>

#include "sim/harness/fs_steps.h"

namespace splitarray::sim {
namespace {

using hostdriver::fs::FileSystem;

constexpr int kOpenAttemptsLive = 1 << 30;  // the live owner keeps trying (the heal ends faults)
constexpr uint64_t kReadErrorsBeforeReopen = 10;
const char* const kFileNames[] = {"a", "b", "c", "e", "f", "g", "h", "k"};
const char* const kDirNames[] = {"d0", "d1", "d2", "d3"};

std::string any_name(Prng& rng) {
  const uint64_t n = std::size(kFileNames) + std::size(kDirNames);
  const uint64_t i = rng.below(n);
  return i < std::size(kFileNames) ? kFileNames[i] : kDirNames[i - std::size(kFileNames)];
}

struct Inventory {
  std::vector<uint32_t> dirs;
  std::vector<uint32_t> files;
  std::vector<std::pair<uint32_t, std::string>> entries;  // (directory, name)
};

Inventory inventory_of(const FsTree& tree) {
  Inventory inv;
  for (const auto& [id, object] : tree.objects) {
    if (object.type == FileType::kDirectory) {
      inv.dirs.push_back(id);
      for (const auto& entry : object.entries) inv.entries.emplace_back(id, entry.first);
    } else {
      inv.files.push_back(id);
    }
  }
  return inv;
}

template <class T>
const T& one_of(Prng& rng, const std::vector<T>& items) {
  ASSERT(!items.empty());
  return items[rng.below(items.size())];
}

FsOpSpec pick_write(const FsTree& live, Prng& rng, const FsWorkloadOptions& options,
                    uint32_t file) {
  (void)live;
  FsOpSpec spec;
  spec.kind = FsStepKind::kWrite;
  spec.object = file;
  uint64_t length = 1 + rng.below(options.write_bytes_max);
  if (rng.chance(0.4)) {  // whole blocks
    length = kFsModelBlockBytes * (1 + rng.below(options.write_bytes_max / kFsModelBlockBytes));
    spec.offset =
        kFsModelBlockBytes * rng.below((options.file_bytes_max - length) / kFsModelBlockBytes + 1);
  } else {
    spec.offset = rng.below(options.file_bytes_max - length + 1);
  }
  spec.data = make_step_data(rng, length);
  const uint64_t s = rng.below(10);
  spec.stability =
      s < 4 ? Stability::kUnstable : (s < 7 ? Stability::kDataSync : Stability::kFileSync);
  return spec;
}

FsOpSpec pick_op(const FsTree& live, Prng& rng, const FsWorkloadOptions& options) {
  const Inventory inv = inventory_of(live);
  const bool crowded = live.objects.size() >= options.objects_max;
  uint64_t pick = rng.below(100);
  if (crowded && pick < 20) pick = 64;                                            // remove instead
  if (pick >= 14 && pick < 20 && inv.dirs.size() >= options.dirs_max) pick = 72;  // rmdir
  if (inv.files.empty() && ((pick >= 20 && pick < 45) || (pick >= 76 && pick < 97))) pick = 0;
  if (inv.entries.empty() && pick >= 52 && pick < 81) pick = 0;
  FsOpSpec spec;
  if (pick < 14) {
    spec.kind = FsStepKind::kCreate;
    spec.dir = one_of(rng, inv.dirs);
    spec.name = kFileNames[rng.below(std::size(kFileNames))];
    spec.mode = rng.chance(0.5) ? 0644 : 0600;
  } else if (pick < 20) {
    spec.kind = FsStepKind::kMkdir;
    spec.dir = one_of(rng, inv.dirs);
    spec.name = kDirNames[rng.below(std::size(kDirNames))];
    spec.mode = 0755;
  } else if (pick < 45) {
    spec = pick_write(live, rng, options, one_of(rng, inv.files));
  } else if (pick < 52) {
    spec.kind = FsStepKind::kCommit;
  } else if (pick < 64) {
    spec.kind = FsStepKind::kRename;
    const auto& from = one_of(rng, inv.entries);
    spec.dir = from.first;
    spec.name = rng.chance(0.05) ? any_name(rng) : from.second;
    spec.to_dir = one_of(rng, inv.dirs);
    spec.to_name = any_name(rng);
  } else if (pick < 72) {
    spec.kind = FsStepKind::kRemove;
    const auto& entry = one_of(rng, inv.entries);
    spec.dir = entry.first;
    spec.name = rng.chance(0.05) ? any_name(rng) : entry.second;
  } else if (pick < 76) {
    spec.kind = FsStepKind::kRmdir;
    const auto& entry = one_of(rng, inv.entries);
    spec.dir = entry.first;
    spec.name = entry.second;
  } else if (pick < 81) {
    spec.kind = FsStepKind::kLink;
    spec.object = rng.chance(0.1) ? one_of(rng, inv.dirs) : one_of(rng, inv.files);
    spec.dir = one_of(rng, inv.dirs);
    spec.name = kFileNames[rng.below(std::size(kFileNames))];
  } else if (pick < 87) {
    spec.kind = FsStepKind::kSetSize;
    spec.object = one_of(rng, inv.files);
    spec.size = rng.below(options.file_bytes_max + 1);
    if (rng.chance(0.3)) spec.size -= spec.size % kFsModelBlockBytes;
  } else if (pick < 89) {
    spec.kind = FsStepKind::kSetMode;
    spec.object = rng.chance(0.3) ? one_of(rng, inv.dirs) : one_of(rng, inv.files);
    spec.mode = rng.chance(0.5) ? 0640 : 0755;
  } else if (pick < 97) {
    spec.kind = FsStepKind::kRead;
    spec.object = one_of(rng, inv.files);
  } else {
    spec.kind = FsStepKind::kVerify;
  }
  return spec;
}

// Runs operations until stopped, killed, or an operation leaves the state unknown.
// Returns true when the owner should reopen.
Task<bool> run_ops(Env& env, const FsWorkloadOptions& options, FsModel& model, Prng& rng,
                   const bool* stop, FsOwnerState* state, FileSystem& fs, uint64_t zombies_seen,
                   Violations& violations) {
  uint64_t read_errors = 0;
  while (!*stop && !state->killed) {
    FsOpSpec spec = pick_op(model.live(), rng, options);
    state->activity = "op: " + step_kind_name(spec.kind);
    const StepResult result =
        co_await run_step(fs, model, std::move(spec), state, options, violations);
    if (state->killed) co_return false;
    if (result == StepResult::kStale) {
      if (model.zombie_opens == zombies_seen) {
        violations.add("the live owner was fenced with no newer owner (open #" +
                       std::to_string(model.opens) + ")");
      }
      co_return true;
    }
    if (result == StepResult::kUnknown) co_return true;
    read_errors = result == StepResult::kReadError ? read_errors + 1 : 0;
    if (read_errors >= kReadErrorsBeforeReopen) co_return true;
    const Duration think(rng.below(static_cast<uint64_t>(options.think_time_max.count()) + 1));
    co_await sleep_for(env.clock, think);
  }
  co_return false;
}

}  // namespace

Task<void> run_fs_owner(Env& env, FsWorkloadOptions options, FsModel& model, Prng rng,
                        const bool* stop, FsOwnerState* state, Violations& violations) {
  for (;;) {
    state->activity = "open";
    std::unique_ptr<FileSystem> fs =
        co_await open_fs(env, options, model, stop, &state->killed, kOpenAttemptsLive);
    if (fs == nullptr) break;
    if (state->killed) {  // a crashed host's open that finished anyway: it fenced the live owner
      ++model.zombie_opens;
      co_await wait_released(env, options, model, stop, state);
      co_await close_fs(*fs, model, false);
      break;
    }
    ++model.opens;
    const uint64_t zombies_seen = model.zombie_opens;
    state->activity = "recover: read the tree";
    auto observed = co_await observe_tree(*fs);
    bool reopen = true;
    if (!state->killed && observed.ok()) {
      std::string why;
      if (!resolve_model(model, *observed, &why)) {
        violations.add("recovery at open #" + std::to_string(model.opens) + ": " + why);
      }
      reopen =
          co_await run_ops(env, options, model, rng, stop, state, *fs, zombies_seen, violations);
    }
    if (state->killed) {
      co_await wait_released(env, options, model, stop, state);
      co_await close_fs(*fs, model, false);
      break;
    }
    if (*stop && !reopen) {
      state->activity = "commit";
      const size_t issued_at = model.window.size() - 1;
      auto committed = co_await fs->commit();
      if (committed.ok() && !state->killed) {
        ++model.acked_commits;
        model.durable_through(issued_at);
      }
      state->activity = "close";
      co_await close_fs(*fs, model, !state->killed);
      break;
    }
    state->activity = "close to reopen";
    ++model.reopens;
    co_await close_fs(*fs, model, !state->killed);
    if (state->killed) break;
    co_await sleep_for(env.clock, options.retry_delay);
  }
  state->activity = "done";
}

}  // namespace splitarray::sim
