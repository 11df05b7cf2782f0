#include "sim/harness/fs_steps.h"

#include <algorithm>
#include <cstring>
#include <optional>

namespace splitarray::sim {
namespace {

using hostdriver::fs::Attributes;
using hostdriver::fs::CreateMode;
using hostdriver::fs::FileSystem;
using hostdriver::fs::SetAttributes;

struct Prediction {
  std::optional<Code> error;  // the error POSIX requires, or success
  bool changes = false;       // success changes the state (else: no log operation)
  FsTree after;
  bool durable = false;  // acknowledged means durable
  std::string what;
};

bool is_semantic(Code code) {
  switch (code) {
    case Code::kNotFound:
    case Code::kExists:
    case Code::kNotDirectory:
    case Code::kIsDirectory:
    case Code::kNotEmpty:
    case Code::kNameTooLong:
    case Code::kInvalidArgument:
    case Code::kFileTooLarge:
      return true;
    default:
      return false;
  }
}

std::string name_in(const FsTree& tree, uint32_t dir, const std::string& name) {
  return tree.path(dir) + "/" + name;
}

const char* stability_name(Stability stability) {
  switch (stability) {
    case Stability::kUnstable:
      return "unstable";
    case Stability::kDataSync:
      return "data_sync";
    default:
      return "file_sync";
  }
}

Prediction fail_with(Code code, std::string what) {
  Prediction p;
  p.error = code;
  p.what = std::move(what);
  return p;
}

Prediction predict_create(const FsTree& live, const FsOpSpec& spec, FileType type) {
  const std::string what = std::string(type == FileType::kDirectory ? "mkdir " : "create ") +
                           name_in(live, spec.dir, spec.name);
  if (live.lookup(spec.dir, spec.name) != 0) return fail_with(Code::kExists, what);
  Prediction p;
  p.changes = true;
  p.durable = true;
  p.what = what;
  p.after = live;
  const uint32_t id = p.after.next_id++;
  FsObject& object = p.after.objects[id];
  object.type = type;
  object.mode = spec.mode & 07777;
  object.data = std::make_shared<const std::vector<uint8_t>>();
  p.after.at(spec.dir).entries[spec.name] = id;
  return p;
}

Prediction predict_rename(const FsTree& live, const FsOpSpec& spec) {
  const std::string what = "rename " + name_in(live, spec.dir, spec.name) + " -> " +
                           name_in(live, spec.to_dir, spec.to_name);
  const uint32_t moved = live.lookup(spec.dir, spec.name);
  if (moved == 0) return fail_with(Code::kNotFound, what);
  const bool moving_dir = live.at(moved).type == FileType::kDirectory;
  if (moving_dir && live.is_under(spec.to_dir, moved)) {
    return fail_with(Code::kInvalidArgument, what);
  }
  const uint32_t target = live.lookup(spec.to_dir, spec.to_name);
  Prediction p;
  p.what = what;
  p.durable = true;
  p.after = live;
  if (target == moved) return p;  // the same file: nothing happens
  if (target != 0) {
    const FsObject& t = live.at(target);
    const bool target_dir = t.type == FileType::kDirectory;
    if (moving_dir && !target_dir) return fail_with(Code::kNotDirectory, what);
    if (!moving_dir && target_dir) return fail_with(Code::kIsDirectory, what);
    if (target_dir && !t.entries.empty()) return fail_with(Code::kNotEmpty, what);
    p.after.unlink(spec.to_dir, spec.to_name);
  }
  p.after.at(spec.dir).entries.erase(spec.name);
  p.after.at(spec.to_dir).entries[spec.to_name] = moved;
  p.changes = true;
  return p;
}

Prediction predict_remove(const FsTree& live, const FsOpSpec& spec, bool directory) {
  const std::string what =
      std::string(directory ? "rmdir " : "remove ") + name_in(live, spec.dir, spec.name);
  const uint32_t id = live.lookup(spec.dir, spec.name);
  if (id == 0) return fail_with(Code::kNotFound, what);
  const FsObject& object = live.at(id);
  const bool is_dir = object.type == FileType::kDirectory;
  if (directory && !is_dir) return fail_with(Code::kNotDirectory, what);
  if (!directory && is_dir) return fail_with(Code::kIsDirectory, what);
  if (directory && !object.entries.empty()) return fail_with(Code::kNotEmpty, what);
  Prediction p;
  p.what = what;
  p.changes = true;
  p.durable = true;
  p.after = live;
  p.after.unlink(spec.dir, spec.name);
  return p;
}

Prediction predict_data(const FsTree& live, const FsOpSpec& spec) {
  Prediction p;
  p.after = live;
  p.changes = true;
  p.durable = true;
  FsObject& object = p.after.at(spec.object);
  const std::string path = live.path(spec.object);
  if (spec.kind == FsStepKind::kSetMode) {
    p.what = "chmod " + path;
    object.mode = spec.mode & 07777;
    return p;
  }
  if (object.type == FileType::kDirectory) {
    return fail_with(Code::kIsDirectory, "write/truncate " + path);
  }
  std::vector<uint8_t> bytes = *object.data;
  if (spec.kind == FsStepKind::kSetSize) {
    p.what = "truncate " + path + " to " + std::to_string(spec.size);
    bytes.resize(spec.size, 0);
  } else {
    p.what = "write " + path + " [" + std::to_string(spec.offset) + ", +" +
             std::to_string(spec.data.size()) + ") " + stability_name(spec.stability);
    p.durable = spec.stability != Stability::kUnstable;
    bytes.resize(std::max<uint64_t>(bytes.size(), spec.offset + spec.data.size()), 0);
    std::memcpy(bytes.data() + spec.offset, spec.data.data(), spec.data.size());
  }
  object.data = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  return p;
}

Prediction predict(const FsTree& live, const FsOpSpec& spec) {
  switch (spec.kind) {
    case FsStepKind::kCreate:
      return predict_create(live, spec, FileType::kRegular);
    case FsStepKind::kMkdir:
      return predict_create(live, spec, FileType::kDirectory);
    case FsStepKind::kRename:
      return predict_rename(live, spec);
    case FsStepKind::kRemove:
      return predict_remove(live, spec, false);
    case FsStepKind::kRmdir:
      return predict_remove(live, spec, true);
    case FsStepKind::kLink: {
      const std::string what =
          "link " + live.path(spec.object) + " as " + name_in(live, spec.dir, spec.name);
      if (live.at(spec.object).type == FileType::kDirectory) {
        return fail_with(Code::kIsDirectory, what);
      }
      if (live.lookup(spec.dir, spec.name) != 0) return fail_with(Code::kExists, what);
      Prediction p;
      p.what = what;
      p.changes = true;
      p.durable = true;
      p.after = live;
      p.after.at(spec.dir).entries[spec.name] = spec.object;
      return p;
    }
    case FsStepKind::kWrite:
    case FsStepKind::kSetSize:
    case FsStepKind::kSetMode:
      return predict_data(live, spec);
    default:
      ASSERT_MSG(false, "not a state-changing step");
      return Prediction{};
  }
}

struct Executed {
  std::optional<Error> error;
  std::optional<Attributes> attrs;  // of the object created, written, linked or set
};

template <class T>
void take(Executed& out, Result<T>& result) {
  if (!result.ok()) out.error = result.error();
}

Task<Executed> execute(FileSystem& fs, const FsTree& live, const FsOpSpec& spec) {
  Executed out;
  const uint64_t dir = spec.dir != 0 ? live.at(spec.dir).inode : 0;
  const uint64_t object = spec.object != 0 ? live.at(spec.object).inode : 0;
  SetAttributes set;
  std::string name = spec.name;
  switch (spec.kind) {
    case FsStepKind::kCreate:
    case FsStepKind::kMkdir: {
      set.mode = spec.mode;
      Result<hostdriver::fs::CreateResult> made = make_error(Code::kInvalidArgument, "unset");
      if (spec.kind == FsStepKind::kMkdir) {
        made = co_await fs.mkdir(dir, name, set);
      } else {
        made = co_await fs.create(dir, name, CreateMode::kGuarded, set, 0);
      }
      take(out, made);
      if (made.ok()) out.attrs = made->attrs;
      break;
    }
    case FsStepKind::kRename: {
      std::string to_name = spec.to_name;
      auto renamed = co_await fs.rename(dir, name, live.at(spec.to_dir).inode, to_name);
      take(out, renamed);
      break;
    }
    case FsStepKind::kRemove:
    case FsStepKind::kRmdir: {
      Result<hostdriver::fs::RemoveResult> removed = make_error(Code::kInvalidArgument, "unset");
      if (spec.kind == FsStepKind::kRmdir) {
        removed = co_await fs.rmdir(dir, name);
      } else {
        removed = co_await fs.remove(dir, name);
      }
      take(out, removed);
      break;
    }
    case FsStepKind::kLink: {
      auto linked = co_await fs.link(object, dir, name);
      take(out, linked);
      if (linked.ok()) out.attrs = linked->attrs;
      break;
    }
    case FsStepKind::kWrite: {
      std::vector<uint8_t> data = spec.data;
      auto wrote = co_await fs.write(object, spec.offset, std::move(data), spec.stability);
      take(out, wrote);
      if (wrote.ok()) out.attrs = wrote->after;
      break;
    }
    case FsStepKind::kSetSize:
    case FsStepKind::kSetMode: {
      if (spec.kind == FsStepKind::kSetSize) {
        set.size = spec.size;
      } else {
        set.mode = spec.mode;
      }
      const std::optional<WallTime> no_guard;
      auto changed = co_await fs.setattr(object, set, no_guard);
      take(out, changed);
      if (changed.ok()) out.attrs = changed->after;
      break;
    }
    default:
      ASSERT_MSG(false, "not a state-changing step");
  }
  co_return out;
}

// The reply's attributes agree with the state after (a create also binds the new inode).
void check_reply(FsModel& model, const FsOpSpec& spec, const Attributes& attrs,
                 Violations& violations, const std::string& what) {
  FsTree& after = model.window.back();
  uint32_t id = spec.object;
  if (spec.kind == FsStepKind::kCreate || spec.kind == FsStepKind::kMkdir) {
    id = after.lookup(spec.dir, spec.name);
    FsObject& created = after.at(id);
    created.inode = attrs.inode;
    created.generation = attrs.generation;
  }
  const FsObject& object = after.at(id);
  std::string why;
  if (attrs.type != object.type) why = "type";
  if (attrs.mode != object.mode) why += " mode " + std::to_string(attrs.mode);
  if (attrs.nlink != after.nlink(id)) why += " nlink " + std::to_string(attrs.nlink);
  if (attrs.size != after.size(id)) why += " size " + std::to_string(attrs.size);
  if (object.inode != attrs.inode) why += " inode " + std::to_string(attrs.inode);
  if (!why.empty()) violations.add(what + ": the reply's attributes differ:" + why);
}

Task<StepResult> run_read(FileSystem& fs, FsModel& model, const FsOpSpec& spec,
                          const FsOwnerState* state, Violations& violations) {
  const FsObject& object = model.live().at(spec.object);
  const std::vector<uint8_t> want = *object.data;
  const std::string path = model.live().path(spec.object);
  auto got = co_await fs.read(object.inode, 0, static_cast<uint32_t>(want.size() + 100));
  if (state->killed) co_return StepResult::kKilled;
  if (!got.ok()) {
    ++model.failed_ops;
    co_return got.code() == Code::kStale ? StepResult::kStale : StepResult::kReadError;
  }
  ++model.checked_reads;
  ++model.acked_ops;
  if (got->data != want || !got->eof) {
    violations.add("live read of " + path + ": " + std::to_string(got->data.size()) +
                   " bytes differ from the " + std::to_string(want.size()) + " last written");
    co_return StepResult::kUnknown;
  }
  co_return StepResult::kOk;
}

Task<StepResult> run_verify(FileSystem& fs, FsModel& model, const FsOwnerState* state,
                            Violations& violations) {
  auto observed = co_await observe_tree(fs);
  if (state->killed) co_return StepResult::kKilled;
  if (!observed.ok()) {
    ++model.failed_ops;
    co_return observed.code() == Code::kStale ? StepResult::kStale : StepResult::kReadError;
  }
  ++model.acked_ops;
  std::string why;
  if (!match_tree(model.window, model.window.size() - 1, *observed, false, &why)) {
    violations.add("live tree differs from the last state (" +
                   model.describe(model.window.size() - 1) + "): " + why);
    co_return StepResult::kUnknown;
  }
  co_return StepResult::kOk;
}

Task<StepResult> run_sync(FileSystem& fs, FsModel& model, FsStepKind kind,
                          const FsOwnerState* state) {
  const size_t issued_at = model.window.size() - 1;
  Result<void> done;
  if (kind == FsStepKind::kCommit) {
    done = co_await fs.commit();
  } else {
    done = co_await fs.checkpoint();
  }
  if (state->killed) co_return StepResult::kKilled;
  if (!done.ok()) {
    ++model.failed_ops;
    co_return done.code() == Code::kStale ? StepResult::kStale : StepResult::kUnknown;
  }
  ++model.acked_ops;
  if (kind == FsStepKind::kCommit) ++model.acked_commits;
  model.durable_through(issued_at);
  co_return StepResult::kOk;
}

}  // namespace

Task<StepResult> run_step(FileSystem& fs, FsModel& model, FsOpSpec spec, const FsOwnerState* state,
                          const FsWorkloadOptions& options, Violations& violations) {
  if (state->killed) co_return StepResult::kKilled;
  switch (spec.kind) {
    case FsStepKind::kCommit:
    case FsStepKind::kCheckpoint:
      co_return co_await run_sync(fs, model, spec.kind, state);
    case FsStepKind::kRead:
      co_return co_await run_read(fs, model, spec, state, violations);
    case FsStepKind::kVerify:
      co_return co_await run_verify(fs, model, state, violations);
    default:
      break;
  }
  Prediction p = predict(model.live(), spec);
  if (p.changes) model.issue(p.after, p.what);
  const size_t index = model.window.size() - 1;
  const FsTree live = model.window[p.changes ? index - 1 : index];
  const Executed done = co_await execute(fs, live, spec);
  if (state->killed) co_return StepResult::kKilled;
  if (!done.error.has_value()) {
    if (p.error.has_value()) {
      violations.add(p.what + ": succeeded, expected " + std::string(code_name(*p.error)));
      co_return StepResult::kUnknown;
    }
    ++model.acked_ops;
    if (spec.kind == FsStepKind::kWrite) ++model.acked_writes;
    if (p.changes && done.attrs.has_value()) {
      check_reply(model, spec, *done.attrs, violations, p.what);
    }
    if (p.changes && p.durable) model.durable_through(index);
    co_return StepResult::kOk;
  }
  const Code code = done.error->code;
  if (p.error.has_value() && *p.error == code) {
    ++model.acked_ops;
    ++model.expected_errors;
    co_return StepResult::kOk;
  }
  ++model.failed_ops;
  const bool allowed = options.corruption_allowed && code == Code::kCorruption;
  if (is_semantic(code) || (code == Code::kCorruption && !allowed)) {
    const std::string expected = p.error ? std::string(code_name(*p.error)) : "ok";
    violations.add(p.what + ": failed with " + done.error->to_string() + ", expected " + expected);
  }
  co_return code == Code::kStale ? StepResult::kStale : StepResult::kUnknown;
}

std::string step_kind_name(FsStepKind kind) {
  static constexpr const char* kNames[] = {
      "create", "mkdir",    "write",      "commit",   "rename", "remove",     "rmdir",
      "link",   "set size", "checkpoint", "set mode", "read",   "verify tree"};
  const auto i = static_cast<size_t>(kind);
  return i < std::size(kNames) ? kNames[i] : "?";
}

std::vector<uint8_t> make_step_data(Prng& rng, uint64_t length) {
  std::vector<uint8_t> data(length, 0);
  const uint64_t kind = rng.below(10);
  if (kind == 0) return data;  // zeros: holes
  if (kind < 5) {
    static constexpr const char* kWords[] = {"file ", "rename ", "inode ", "the ", "of ", "dir "};
    for (size_t at = 0; at < length; ++at) {
      const char* word = kWords[(at / 7 + rng.below(2)) % std::size(kWords)];
      data[at] = static_cast<uint8_t>(word[at % std::strlen(word)]);
    }
    return data;
  }
  rng.fill(data);
  return data;
}

Task<std::unique_ptr<FileSystem>> open_fs(Env& env, FsWorkloadOptions options, FsModel& model,
                                          const bool* stop, const bool* killed, int attempts_max) {
  for (int attempt = 0; attempt < attempts_max && !*stop && !*killed; ++attempt) {
    auto opened = co_await FileSystem::open(env, options.fs);
    if (opened.ok()) {
      if (!*killed) model.replayed_ops += (*opened)->stats().replayed_operations;
      co_return std::move(opened).value();
    }
    env.log.warn("fs_sim.open_failed", {{"error", opened.error().to_string()}});
    co_await sleep_for(env.clock, options.retry_delay);
  }
  co_return nullptr;
}

Task<void> wait_released(Env& env, const FsWorkloadOptions& options, const FsModel& model,
                         const bool* stop, FsOwnerState* state) {
  state->activity = "crashed: waiting for a newer owner";
  while (!*stop && model.opens <= state->opens_at_crash) {
    co_await sleep_for(env.clock, options.release_poll);
  }
}

Task<void> close_fs(FileSystem& fs, FsModel& model, bool observed) {
  const uint64_t checkpoints = fs.stats().checkpoints;
  co_await fs.close();
  if (observed) model.checkpoints += checkpoints;
}

}  // namespace splitarray::sim
