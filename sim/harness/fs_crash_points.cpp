// run_fs_crash_points (fs_sim.h): crash the owner right after every persistence point of a short
// operation sequence.
#include <memory>

#include "protocol/message_type.h"
#include "sim/harness/fs_sim.h"
#include "sim/harness/shelf_node.h"

namespace splitarray::sim {
namespace {

using std::chrono::seconds;

constexpr uint16_t kHosts = 2;  // 1: the owner that crashes; 2: the new owner
constexpr uint16_t kDisks = 8;
constexpr Duration kStartTimeout = seconds(60);
constexpr Duration kRunTimeout = seconds(120);
constexpr Duration kUnwindTimeout = seconds(120);
constexpr int kCheckOpenAttempts = 10;
const char* const kFormatterHost = "10.0.2.1";

Task<void> format_datastore(Env& env, FsWorkloadOptions options, std::string* failure) {
  const hostdriver::fs::FormatOptions format;
  auto formatted = co_await hostdriver::fs::FileSystem::format(env, options.fs, format);
  if (!formatted.ok()) *failure = formatted.error().to_string();
}

// One run from the seed: counts the owner's persistence points, or crashes it after `crash_at`.
class PointRun final {
 public:
  PointRun(const FsCrashPointsConfig& config, uint64_t crash_at)
      : config_(config),
        crash_at_(crash_at),
        world_(config.seed),
        fabric_(world_, LinkModel{}),
        sink_(config.log_sink != nullptr ? *config.log_sink : null_sink_),
        shelf_(world_, fabric_, plan_, sink_, fs_shelf_config(kHosts, kDisks, config.log_level),
               config.log_level),
        steps_(fs_crash_sequence(config.sequence)) {
    plan_.healed = true;  // no faults: only the crash
    shelf_.machine().add_directory("/shelf");
  }

  ~PointRun() { shelf_.set_persist_hook({}); }

  FsCrashPointOutcome run() {
    outcome_.point = crash_at_;
    shelf_.start(true);
    if (!wait_for([this] { return shelf_.serving(); }, kStartTimeout)) {
      return finish("shelf did not start: " + shelf_.last_failure());
    }
    if (!format()) return finish("formatting the datastore failed: " + format_failure_);
    shelf_.set_persist_hook(
        [this](protocol::MessageType type, const Address& peer) { on_point(type, peer); });
    old_ = std::make_unique<SimProcess>(world_, fabric_, old_machine_, plan_, sink_,
                                        process_options("owner#1", fs_host_address(1)));
    old_->spawn(run_fs_sequence(old_->env(), options(1), model_, steps_,
                                config_.seed * 0x9E3779B97F4A7C15ULL + 17, &stop_, &old_state_,
                                &control_, violations_));
    const bool settled = wait_for([this] { return crashed_ || old_->finished(); }, kRunTimeout);
    if (!settled) return finish("the sequence did not finish");
    if (crashed_) recover();
    return finish("");
  }

  const std::vector<std::string>& kinds() const { return kinds_; }
  uint64_t trace_hash() const { return world_.trace_hash(); }
  const FsModel& model() const { return model_; }

 private:
  template <class Done>
  bool wait_for(Done done, Duration timeout) {
    return world_.run_until(world_.now() + timeout, done);
  }

  FsWorkloadOptions options(uint16_t host) const {
    return fs_workload_options(shelf_.address(), HostId(host), false);
  }

  SimProcessOptions process_options(const std::string& name, const std::string& host) const {
    SimProcessOptions options;
    options.name = name;
    options.host = host;
    options.log_level = config_.log_level;
    return options;
  }

  bool format() {
    SimProcess formatter(world_, fabric_, formatter_machine_, plan_, sink_,
                         process_options("formatter", kFormatterHost));
    formatter.spawn(format_datastore(formatter.env(), options(1), &format_failure_));
    if (!wait_for([&formatter] { return formatter.finished(); }, kStartTimeout)) {
      format_failure_ = "did not finish";
      formatter.kill();
      static_cast<void>(wait_for([&formatter] { return formatter.finished(); }, kUnwindTimeout));
    }
    return format_failure_.empty();
  }

  // On the shelf's loop, before the reply leaves: the old owner's host crashes right here.
  void on_point(protocol::MessageType type, const Address& peer) {
    if (!control_.opened || control_.finished || crashed_) return;
    if (peer.host != fs_host_address(1)) return;
    kinds_.emplace_back(protocol::message_type_name(type));
    if (kinds_.size() != crash_at_) return;
    crashed_ = true;
    old_state_.killed = true;
    old_state_.opens_at_crash = model_.opens;
    fabric_.partition(kFsShelfHost, fs_host_address(1));
    outcome_.kind = kinds_.back();
    outcome_.in_flight = control_.steps_done < steps_.size()
                             ? describe_step(steps_[control_.steps_done])
                             : std::string("close");
  }

  // A new owner on host 2 opens (fencing the old one), compares and runs fsck; then the old
  // owner's link heals and it must unwind.
  void recover() {
    outcome_.candidates = model_.window.size();
    auto checker = std::make_unique<SimProcess>(world_, fabric_, new_machine_, plan_, sink_,
                                                process_options("owner#2", fs_host_address(2)));
    FsCheckResult result;
    checker->spawn(check_fs_owner(checker->env(), options(2), model_, kCheckOpenAttempts, &result,
                                  violations_));
    if (!wait_for([&checker] { return checker->finished(); }, kRunTimeout)) {
      violations_.add("the new owner's check did not finish");
      checker->kill();
      static_cast<void>(wait_for([&checker] { return checker->finished(); }, kUnwindTimeout));
    }
    outcome_.recovered = result.matched_state;
    outcome_.fsck_ran = result.fsck_ran;
    outcome_.fsck_ok = result.fsck_ok;
    fabric_.heal(kFsShelfHost, fs_host_address(1));
    outcome_.old_owner_unwound = wait_for([this] { return old_->finished(); }, kUnwindTimeout);
    if (!outcome_.old_owner_unwound) {
      violations_.add("the crashed owner did not unwind after it was fenced (" +
                      old_state_.activity + ")");
    }
  }

  FsCrashPointOutcome finish(const std::string& failure) {
    if (!failure.empty()) violations_.add(failure);
    stop_ = true;
    if (old_ != nullptr && !old_->finished()) {
      old_state_.killed = true;
      old_->kill();
    }
    if (shelf_.running()) shelf_.crash(false);
    const bool unwound =
        wait_for([this] { return (old_ == nullptr || old_->finished()) && shelf_.reap() == 0; },
                 kUnwindTimeout);
    if (!unwound && old_ != nullptr && !old_->finished()) {
      violations_.add("owner process " + old_->name() + " did not unwind (" + old_state_.activity +
                      ")");
      world_.remove_process(old_->id());
      static_cast<void>(old_.release());  // deliberately leaked, as blockstore_sim.cpp does
    }
    old_.reset();
    outcome_.violations = violations_.list;
    return outcome_;
  }

  const FsCrashPointsConfig config_;
  const uint64_t crash_at_;  // 0: count only
  NullLogSink null_sink_;
  SimWorld world_;
  SimFabric fabric_;
  LogSink& sink_;
  FaultPlan plan_;
  ShelfNode shelf_;
  const std::vector<FsSeqStep> steps_;
  SimMachine formatter_machine_{"formatter", DiskModel{}};
  SimMachine old_machine_{"host-1", DiskModel{}};
  SimMachine new_machine_{"host-2", DiskModel{}};
  std::unique_ptr<SimProcess> old_;
  FsOwnerState old_state_;
  FsSequenceControl control_;
  FsModel model_;
  Violations violations_;
  std::vector<std::string> kinds_;
  std::string format_failure_;
  bool crashed_ = false;
  bool stop_ = false;
  FsCrashPointOutcome outcome_;
};

uint64_t mix(uint64_t hash, uint64_t value) {
  return (hash ^ value) * 0x100000001B3ULL + (hash >> 29);
}

}  // namespace

FsCrashPointsReport run_fs_crash_points(const FsCrashPointsConfig& config) {
  FsCrashPointsReport report;
  report.seed = config.seed;
  report.sequence = config.sequence;
  ASSERT(config.sequence >= 0 && config.sequence < kFsCrashSequences);
  for (const FsSeqStep& s : fs_crash_sequence(config.sequence)) {
    report.steps.push_back(describe_step(s));
  }
  {
    PointRun counting(config, 0);
    const FsCrashPointOutcome outcome = counting.run();
    report.point_kinds = counting.kinds();
    report.trace_hash = mix(0, counting.trace_hash());
    for (const std::string& what : outcome.violations) {
      report.violations.push_back("counting run: " + what);
    }
    if (counting.model().window.size() != 1) {
      report.violations.push_back("counting run: the sequence ended with unacknowledged state");
    }
  }
  for (uint64_t point = 1; point <= report.point_kinds.size(); ++point) {
    PointRun run(config, point);
    FsCrashPointOutcome outcome = run.run();
    report.trace_hash = mix(report.trace_hash, run.trace_hash());
    if (run.kinds().size() < point || run.kinds()[point - 1] != report.point_kinds[point - 1]) {
      outcome.violations.push_back("the run did not replay the counting run's points");
    }
    for (const std::string& what : outcome.violations) {
      report.violations.push_back("point " + std::to_string(point) + " (" + outcome.kind +
                                  ", in flight: " + outcome.in_flight + "): " + what);
    }
    report.outcomes.push_back(std::move(outcome));
  }
  return report;
}

}  // namespace splitarray::sim
