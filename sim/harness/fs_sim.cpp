#include "sim/harness/fs_sim.h"

#include <cmath>
#include <cstdio>
#include <memory>

#include "sim/harness/shelf_node.h"
#include "sim/harness/swarm.h"

namespace splitarray::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint32_t kDataFragments = 4;
constexpr uint32_t kParityFragments = 2;
constexpr uint32_t kFragmentPayloadBytes = 64 * kKiB;
constexpr uint64_t kDiskBytes = 256 * kMiB;
constexpr uint64_t kNvramBytesPerRing = 4 * kMiB;
constexpr Duration kStartTimeout = seconds(60);
constexpr Duration kStopTimeout = seconds(180);
constexpr int kCheckOpenAttempts = 20;
constexpr uint64_t kHealProgressMin = 10;
const char* const kFormatterHost = "10.0.2.1";
const char* const kCheckerHost = "10.0.2.2";

Task<void> format_datastore(Env& env, FsWorkloadOptions options, std::string* failure) {
  const hostdriver::fs::FormatOptions format;
  auto formatted = co_await hostdriver::fs::FileSystem::format(env, options.fs, format);
  if (!formatted.ok()) *failure = formatted.error().to_string();
}

// One owner incarnation: the process and what it shares with the workload.
struct Owner {
  uint16_t host = 0;
  std::unique_ptr<SimProcess> process;
  FsOwnerState state;
};

class FsSim final {
 public:
  explicit FsSim(const FsSimConfig& config)
      : config_(config),
        world_(config.seed),
        fabric_(world_, LinkModel{}),
        sink_(config.log_sink != nullptr ? *config.log_sink : null_sink_),
        rng_(world_.rng().fork()),
        detection_(config.detection.value_or(false)),
        plan_(choose_fault_plan(rng_, detection_)),
        harness_faults_(plan_, rng_.fork()),
        shelf_(world_, fabric_, plan_, sink_,
               fs_shelf_config(config.hosts, config.disks, config.log_level), config.log_level) {
    const bool owners_crash = rng_.chance(0.8);
    const double rate = std::exp(std::log(0.002) + rng_.unit() * (std::log(0.03 / 0.002)));
    owner_crash_rate_ = config.owner_crash_rate.value_or(owners_crash ? rate : 0.0);
    report_.seed = config.seed;
    report_.detection = detection_;
    shelf_.machine().add_directory("/shelf");
    if (detection_) {
      shelf_.machine().allow_silent_faults(
          [](const std::string& path) { return path.starts_with("/shelf/disk"); });
    }
    if (config.crash_rate.has_value()) plan_.at(FaultSite::kProcessCrash) = *config.crash_rate;
    report_.plan_summary = describe_fault_plan(plan_);
    char text[48];
    std::snprintf(text, sizeof(text), " owner_crash=%.2g", owner_crash_rate_);
    report_.plan_summary += text;
  }

  FsSimReport run() {
    plan_.healed = true;  // format the shelf and the datastore without faults
    shelf_.start(true);
    if (!wait_for([this] { return shelf_.serving(); }, kStartTimeout)) {
      fail("shelf did not start: " + shelf_.last_failure());
      return finish();
    }
    if (!format()) return finish();
    plan_.healed = false;
    for (uint16_t h = 1; h <= config_.hosts; ++h) {
      machines_.push_back(std::make_unique<SimMachine>("host-" + std::to_string(h), DiskModel{}));
    }
    start_owner(static_cast<uint16_t>(1 + rng_.below(config_.hosts)));
    schedule_tick();
    world_.run_for(config_.duration);
    heal();
    stop_workload();
    check();
    return finish();
  }

 private:
  template <class Done>
  bool wait_for(Done done, Duration timeout) {
    return world_.run_until(world_.now() + timeout, done);
  }

  void fail(std::string what) { report_.violations.push_back(std::move(what)); }

  FsWorkloadOptions options(HostId host) const {
    return fs_workload_options(shelf_.address(), host, detection_);
  }

  SimProcessOptions process_options(const std::string& name, const std::string& host) const {
    SimProcessOptions options;
    options.name = name;
    options.host = host;
    options.log_level = config_.log_level;
    return options;
  }

  bool format() {
    std::string failure;
    SimProcess formatter(world_, fabric_, formatter_machine_, plan_, sink_,
                         process_options("formatter", kFormatterHost));
    formatter.spawn(format_datastore(formatter.env(), options(HostId(1)), &failure));
    if (!wait_for([&formatter] { return formatter.finished(); }, kStartTimeout)) {
      fail("formatting the datastore did not finish");
      formatter.kill();
      static_cast<void>(wait_for([&formatter] { return formatter.finished(); }, kStopTimeout));
      return false;
    }
    if (!failure.empty()) fail("formatting the datastore failed: " + failure);
    return failure.empty();
  }

  void start_owner(uint16_t host) {
    ASSERT(owner_ == nullptr);
    ++incarnations_;
    owner_ = std::make_unique<Owner>();
    owner_->host = host;
    const std::string name = "host-" + std::to_string(host) + "#" + std::to_string(incarnations_);
    owner_->process =
        std::make_unique<SimProcess>(world_, fabric_, *machines_[host - 1], plan_, sink_,
                                     process_options(name, fs_host_address(host)));
    SimProcess& process = *owner_->process;
    process.spawn(run_fs_owner(process.env(), options(HostId(host)), model_, rng_.fork(),
                               &stop_workload_, &owner_->state, violations_));
  }

  // The owner's host crashes: a new owner (any host, maybe the same) opens at once.
  void crash_owner() {
    ASSERT(owner_ != nullptr);
    owner_->state.killed = true;
    if (config_.host_kill) owner_->process->kill();
    owner_->state.opens_at_crash = model_.opens;
    dead_.push_back(std::move(owner_));
    ++report_.owner_crashes;
    start_owner(static_cast<uint16_t>(1 + rng_.below(config_.hosts)));
  }

  void reap_owners() {
    std::erase_if(dead_, [](const auto& owner) { return owner->process->finished(); });
  }

  void schedule_tick() {
    tick_event_ =
        world_.schedule_after(kHarnessTick, kWorldProcess, EventKind::kHarness, [this] { tick(); });
  }

  void tick() {
    shelf_.reap();
    reap_owners();
    if (shelf_.gave_up()) {
      shelf_.stop();
      restart_at_ = world_.now() + milliseconds(100);
    }
    if (shelf_.running() && harness_faults_.fire(FaultSite::kProcessCrash)) {
      const bool power_loss = rng_.chance(0.5);
      shelf_.crash(power_loss);
      ++report_.crashes;
      if (power_loss) ++report_.power_losses;
      restart_at_ = world_.now() + Duration(rng_.between(10, 800) * 1'000'000);
    }
    if (!shelf_.running() && world_.now() >= restart_at_) shelf_.start(false);
    if (rng_.chance(owner_crash_rate_)) crash_owner();
    if (harness_faults_.fire(FaultSite::kNetPartition)) {
      const std::string host =
          fs_host_address(static_cast<uint16_t>(1 + rng_.below(config_.hosts)));
      fabric_.partition(kFsShelfHost, host);
      ++report_.partitions;
      const Duration length(rng_.between(100, 3000) * 1'000'000);
      world_.schedule_after(length, kWorldProcess, EventKind::kHarness,
                            [this, host] { fabric_.heal(kFsShelfHost, host); });
    }
    schedule_tick();
  }

  // Phase 2: no more faults; one clean shelf restart; the owner makes progress.
  void heal() {
    plan_.healed = true;
    world_.cancel(tick_event_);
    fabric_.heal_all();
    if (shelf_.running()) shelf_.crash(false);
    if (!wait_for([this] { return shelf_.reap() == 0; }, kStopTimeout)) {
      fail("a crashed shelf incarnation never finished unwinding");
    }
    shelf_.start(false);
    if (!wait_for([this] { return shelf_.serving(); }, kStartTimeout)) {
      fail("shelf did not come back after faults healed: " + shelf_.last_failure());
      return;
    }
    const uint64_t before = model_.acked_ops;
    world_.run_for(config_.heal_duration);
    const uint64_t progress = model_.acked_ops - before;
    if (progress < kHealProgressMin) {
      fail("the owner made no progress after faults healed (" + std::to_string(progress) +
           " operations; " + owner_->state.activity + ")");
    }
  }

  bool owners_idle() {
    reap_owners();
    return dead_.empty() && (owner_ == nullptr || owner_->process->finished());
  }

  void stop_workload() {
    stop_workload_ = true;
    if (wait_for([this] { return owners_idle(); }, kStopTimeout)) return;
    for (const auto& dead : dead_) {
      fail("the workload did not stop: crashed owner " + dead->process->name() + " still runs (" +
           dead->state.activity + ")");
    }
    if (owner_ != nullptr && !owner_->process->finished()) {
      fail("the workload did not stop: " + owner_->process->name() + " did not commit and close (" +
           owner_->state.activity + ")");
    }
  }

  // Phase 3: graceful shelf stop and reopen; a fresh owner compares the tree and runs fsck.
  void check() {
    if (shelf_.running()) shelf_.stop();
    if (!wait_for([this] { return shelf_.reap() == 0; }, kStopTimeout)) {
      fail("the shelf did not stop gracefully");
    }
    shelf_.start(false);
    if (!wait_for([this] { return shelf_.serving(); }, kStartTimeout)) {
      fail("shelf did not reopen for the check: " + shelf_.last_failure());
      return;
    }
    checker_ = std::make_unique<SimProcess>(world_, fabric_, checker_machine_, plan_, sink_,
                                            process_options("checker", kCheckerHost));
    checker_->spawn(check_fs_owner(checker_->env(), options(HostId(config_.hosts + 1)), model_,
                                   kCheckOpenAttempts, &check_result_, violations_));
    if (!wait_for([this] { return checker_->finished(); }, kStopTimeout * 4)) {
      fail("the check did not finish");
    }
    report_.fsck_ran = check_result_.fsck_ran;
    report_.fsck_summary = check_result_.fsck_summary;
    report_.final_objects = model_.live().objects.size();
  }

  FsSimReport finish() {
    stop_workload_ = true;
    if (shelf_.running()) shelf_.crash(false);
    if (owner_ != nullptr && !owner_->process->finished()) {
      owner_->state.killed = true;
      owner_->process->kill();
    }
    for (const auto& dead : dead_) dead->process->kill();
    if (checker_ != nullptr && !checker_->finished()) checker_->kill();
    const bool unwound = wait_for(
        [this] {
          if (!owners_idle()) return false;
          if (checker_ != nullptr && !checker_->finished()) return false;
          return shelf_.reap() == 0;
        },
        kStopTimeout);
    if (!unwound) leak_stuck_processes();
    for (std::string& what : violations_.list) fail(std::move(what));
    const FsModel& m = model_;
    report_.acked_ops = m.acked_ops;
    report_.expected_errors = m.expected_errors;
    report_.failed_ops = m.failed_ops;
    report_.acked_writes = m.acked_writes;
    report_.acked_commits = m.acked_commits;
    report_.checked_reads = m.checked_reads;
    report_.opens = m.opens;
    report_.zombie_opens = m.zombie_opens;
    report_.reopens = m.reopens;
    report_.resolves = m.resolves;
    report_.resolved_uncertain = m.resolved_uncertain;
    report_.resolved_dropped = m.resolved_dropped;
    report_.torn_matches = m.torn_matches;
    report_.replayed_ops = m.replayed_ops;
    report_.checkpoints = m.checkpoints;
    report_.faults_fired = plan_.fired;
    report_.faults_summary = plan_.fired_summary();
    report_.trace_hash = world_.trace_hash();
    report_.events = world_.events_run();
    report_.simulated = world_.now().time_since_epoch();
    owner_.reset();
    dead_.clear();
    checker_.reset();
    world_.cancel(tick_event_);
    return report_;
  }

  // A process that never unwinds is a liveness bug: report it and leave it allocated (see
  // blockstore_sim.cpp).
  void leak_stuck_processes() {
    auto abandon = [this](std::unique_ptr<SimProcess> process) {
      world_.remove_process(process->id());
      static_cast<void>(process.release());  // deliberately leaked
    };
    for (auto& dead : dead_) {
      fail("owner process " + dead->process->name() + " did not unwind after it crashed (" +
           dead->state.activity + ")");
      abandon(std::move(dead->process));
    }
    dead_.clear();
    if (owner_ != nullptr && !owner_->process->finished()) {
      fail("owner process " + owner_->process->name() + " did not finish (" +
           owner_->state.activity + ")");
      abandon(std::move(owner_->process));
      owner_.reset();
    }
    if (checker_ != nullptr && !checker_->finished()) {
      fail("the checker did not unwind after it was killed");
      abandon(std::move(checker_));
    }
    ASSERT_MSG(shelf_.reap() == 0, "a killed shelf incarnation did not unwind");
  }

  const FsSimConfig config_;
  NullLogSink null_sink_;
  SimWorld world_;
  SimFabric fabric_;
  LogSink& sink_;
  Prng rng_;
  const bool detection_;
  FaultPlan plan_;
  SimFaults harness_faults_;
  ShelfNode shelf_;
  double owner_crash_rate_ = 0;
  FsModel model_;
  std::vector<std::unique_ptr<SimMachine>> machines_;
  std::unique_ptr<Owner> owner_;
  std::vector<std::unique_ptr<Owner>> dead_;
  uint64_t incarnations_ = 0;
  SimMachine formatter_machine_{"formatter", DiskModel{}};
  SimMachine checker_machine_{"checker", DiskModel{}};
  std::unique_ptr<SimProcess> checker_;
  FsCheckResult check_result_;
  Violations violations_;
  bool stop_workload_ = false;
  EventId tick_event_ = 0;
  TimePoint restart_at_{};
  FsSimReport report_;
};

}  // namespace

std::string fs_host_address(uint16_t host) { return "10.0.1." + std::to_string(host); }

netshelf::ShelfConfig fs_shelf_config(uint16_t hosts, uint16_t disks, LogLevel log_level) {
  netshelf::ShelfConfig shelf;
  shelf.cluster_id = ClusterId(1);
  shelf.shelf_id = ShelfId(1);
  shelf.listen = Address{kFsShelfHost, kFsShelfPort};
  for (uint16_t d = 0; d < disks; ++d) {
    shelf.disks.push_back(
        netshelf::DiskConfig{"/shelf/disk" + std::to_string(d) + ".img", kDiskBytes});
  }
  shelf.slot_payload_bytes = kFragmentPayloadBytes;
  const uint32_t rings = static_cast<uint32_t>(hosts) + 2;
  shelf.nvram = netshelf::NvramConfigFile{"/shelf/nvram.img", kNvramBytesPerRing * rings, rings};
  shelf.index_dir = "/shelf/index";
  shelf.registers_path = "/shelf/registers.log";
  shelf.log_level = log_level;
  return shelf;
}

FsWorkloadOptions fs_workload_options(const Address& shelf, HostId host, bool detection) {
  FsWorkloadOptions options;
  hostdriver::fs::FsConfig& fs = options.fs;
  fs.host = host;
  fs.node_cache_bytes = 2 * kMiB;
  fs.dirty_bytes_max = 256 * kKiB;
  fs.checkpoint_interval = seconds(2);
  hostdriver::blockstore::BlockStoreConfig& store = fs.store;
  store.shelf = shelf;
  store.block_size = static_cast<uint32_t>(kFsModelBlockBytes);
  store.geometry = hostdriver::container::ContainerGeometry{kDataFragments, kFragmentPayloadBytes};
  store.parity_fragments = kParityFragments;
  store.bloom_expected_entries = uint64_t{1} << 14;
  store.recent_fps = 1024;
  store.read_cache_bytes = 1 * kMiB;
  store.log_queue_bytes_max = 4 * kMiB;
  store.seal_idle = milliseconds(500);
  store.shelf_timeout = seconds(10);
  options.corruption_allowed = detection;
  return options;
}

FsSimReport run_fs_sim(const FsSimConfig& config) {
  FsSim sim(config);
  return sim.run();
}

}  // namespace splitarray::sim
