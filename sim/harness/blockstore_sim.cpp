#include "sim/harness/blockstore_sim.h"

#include <cmath>
#include <cstdio>
#include <memory>

#include "sim/harness/blockstore_workload.h"
#include "sim/harness/shelf_node.h"
#include "sim/harness/swarm.h"

namespace splitarray::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint16_t kShelfPort = 20200;
const std::string kShelfHost = "10.0.0.1";
constexpr uint32_t kBlockBytes = 4096;
constexpr uint32_t kDataFragments = 4;
constexpr uint32_t kParityFragments = 2;
constexpr uint32_t kFragmentPayloadBytes = 64 * kKiB;
constexpr uint64_t kDiskBytes = 256 * kMiB;  // sparse; no GC yet, so room for every container
// Each host's NVRAM ring holds several containers' worth of records (256 KiB payload each).
constexpr uint64_t kNvramBytesPerHost = 4 * kMiB;
constexpr Duration kStartTimeout = seconds(60);
constexpr Duration kStopTimeout = seconds(180);
constexpr int kVerifyAttemptsMax = 10;
constexpr uint64_t kHealProgressMin = 10;
static_assert(kDataFragments + kParityFragments <= 8, "the default disk count holds a stripe");

std::string disk_path(uint16_t disk) { return "/shelf/disk" + std::to_string(disk) + ".img"; }
std::string host_address(uint16_t h) { return "10.0.1." + std::to_string(h); }

netshelf::ShelfConfig shelf_config(const BlockStoreSimConfig& config) {
  netshelf::ShelfConfig shelf;
  shelf.cluster_id = ClusterId(1);
  shelf.shelf_id = ShelfId(1);
  shelf.listen = Address{kShelfHost, kShelfPort};
  for (uint16_t d = 0; d < config.disks; ++d) {
    shelf.disks.push_back(netshelf::DiskConfig{disk_path(d), kDiskBytes});
  }
  shelf.slot_payload_bytes = kFragmentPayloadBytes;
  const uint32_t rings = static_cast<uint32_t>(config.hosts) + 1;
  shelf.nvram = netshelf::NvramConfigFile{"/shelf/nvram.img", kNvramBytesPerHost * rings, rings};
  shelf.index_dir = "/shelf/index";
  shelf.registers_path = "/shelf/registers.log";
  shelf.log_level = config.log_level;
  return shelf;
}

// One simulated host: its model (kept across incarnations), machine and incarnations.
struct HostSlot {
  struct Incarnation {
    std::unique_ptr<SimProcess> process;
    bool killed = false;
    HostActivity activity;
  };
  BlockHostModel model;
  std::unique_ptr<SimMachine> machine;
  std::unique_ptr<Incarnation> current;
  std::vector<std::unique_ptr<Incarnation>> dead;
  TimePoint restart_at{};
  uint64_t incarnations = 0;
};

class BlockStoreSim final {
 public:
  explicit BlockStoreSim(const BlockStoreSimConfig& config)
      : config_(config),
        world_(config.seed),
        fabric_(world_, LinkModel{}),
        sink_(config.log_sink != nullptr ? *config.log_sink : null_sink_),
        rng_(world_.rng().fork()),
        detection_(config.detection.value_or(rng_.chance(0.25))),
        plan_(choose_fault_plan(rng_, detection_)),
        harness_faults_(plan_, rng_.fork()),
        shelf_(world_, fabric_, plan_, sink_, shelf_config(config), config.log_level) {
    // Host crashes: on in most runs, log-uniform per tick (both draws always, see swarm.cpp).
    const bool hosts_crash = rng_.chance(0.7);
    const double rate = std::exp(std::log(0.002) + rng_.unit() * (std::log(0.03 / 0.002)));
    host_crash_rate_ = config.host_crash_rate.value_or(hosts_crash ? rate : 0.0);
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
    std::snprintf(text, sizeof(text), " host_crash=%.2g", host_crash_rate_);
    report_.plan_summary += text;
  }

  BlockStoreSimReport run() {
    plan_.healed = true;  // format and first start without faults
    shelf_.start(true);
    if (!wait_for([this] { return shelf_.serving(); }, kStartTimeout)) {
      fail("shelf did not start: " + shelf_.last_failure());
      return finish();
    }
    plan_.healed = false;
    for (uint16_t h = 1; h <= config_.hosts; ++h) {
      hosts_.push_back(std::make_unique<HostSlot>());
      HostSlot& slot = *hosts_.back();
      slot.model.host = HostId(h);
      slot.machine = std::make_unique<SimMachine>("host-" + std::to_string(h), DiskModel{});
      start_host(h);
    }
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

  BlockStoreWorkloadOptions workload_options() const {
    BlockStoreWorkloadOptions options;
    options.shelf = shelf_.address();
    hostdriver::blockstore::BlockStoreConfig& store = options.store;
    store.block_size = kBlockBytes;
    store.geometry =
        hostdriver::container::ContainerGeometry{kDataFragments, kFragmentPayloadBytes};
    store.parity_fragments = kParityFragments;
    store.bloom_expected_entries = uint64_t{1} << 14;
    store.recent_fps = 1024;
    store.read_cache_bytes = 1 * kMiB;
    store.log_queue_bytes_max = 4 * kMiB;
    store.seal_idle = milliseconds(500);
    store.shelf_timeout = seconds(10);
    options.read_errors_allowed = detection_;
    return options;
  }

  SimProcessOptions process_options(const std::string& name, const std::string& host) const {
    SimProcessOptions options;
    options.name = name;
    options.host = host;
    options.log_level = config_.log_level;
    return options;
  }

  void start_host(uint16_t h) {
    HostSlot& slot = *hosts_[h - 1];
    ASSERT(slot.current == nullptr);
    ++slot.incarnations;
    slot.current = std::make_unique<HostSlot::Incarnation>();
    const std::string name = "host-" + std::to_string(h) + "#" + std::to_string(slot.incarnations);
    slot.current->process = std::make_unique<SimProcess>(
        world_, fabric_, *slot.machine, plan_, sink_, process_options(name, host_address(h)));
    SimProcess& process = *slot.current->process;
    process.spawn(run_blockstore_host(process.env(), workload_options(), slot.model, rng_.fork(),
                                      &stop_workload_, &slot.current->killed,
                                      &slot.current->activity, violations_));
  }

  // A host crash: nothing the incarnation does from now on is observed (its unacknowledged work
  // may or may not survive); a new incarnation follows. See BlockStoreSimConfig::host_kill.
  void crash_host(HostSlot& slot, bool kill) {
    ASSERT(slot.current != nullptr);
    slot.current->killed = true;
    if (kill) slot.current->process->kill();
    forget_current(slot.model);
    slot.dead.push_back(std::move(slot.current));
  }

  void reap_hosts() {
    for (const auto& slot : hosts_) {
      std::erase_if(slot->dead, [](const auto& inc) { return inc->process->finished(); });
    }
  }

  void schedule_tick() {
    tick_event_ =
        world_.schedule_after(kHarnessTick, kWorldProcess, EventKind::kHarness, [this] { tick(); });
  }

  void tick() {
    shelf_.reap();
    reap_hosts();
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
    for (uint16_t h = 1; h <= config_.hosts; ++h) {
      HostSlot& slot = *hosts_[h - 1];
      if (slot.current != nullptr && rng_.chance(host_crash_rate_)) {
        crash_host(slot, config_.host_kill);
        ++report_.host_crashes;
        // A fenced crash restarts at once (the new open fences the old incarnation); a killed
        // host reboots after a while.
        const uint64_t delay_ms = config_.host_kill ? rng_.between(10, 500) : 0;
        slot.restart_at = world_.now() + Duration(delay_ms * 1'000'000);
      }
      if (slot.current == nullptr && world_.now() >= slot.restart_at) start_host(h);
    }
    if (harness_faults_.fire(FaultSite::kNetPartition) && config_.hosts > 0) {
      const std::string host = host_address(static_cast<uint16_t>(1 + rng_.below(config_.hosts)));
      fabric_.partition(kShelfHost, host);
      ++report_.partitions;
      const Duration length(rng_.between(100, 3000) * 1'000'000);
      world_.schedule_after(length, kWorldProcess, EventKind::kHarness,
                            [this, host] { fabric_.heal(kShelfHost, host); });
    }
    schedule_tick();
  }

  // Phase 2: no more faults; one clean shelf restart; dead hosts come back; all make progress.
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
    for (uint16_t h = 1; h <= config_.hosts; ++h) {
      if (hosts_[h - 1]->current == nullptr) start_host(h);
    }
    std::vector<uint64_t> before;
    for (const auto& slot : hosts_) before.push_back(slot->model.acked_ops);
    world_.run_for(config_.heal_duration);
    for (size_t i = 0; i < hosts_.size(); ++i) {
      const uint64_t progress = hosts_[i]->model.acked_ops - before[i];
      if (progress < kHealProgressMin) {
        const std::string doing =
            hosts_[i]->current ? hosts_[i]->current->activity.describe() : std::string("none");
        fail("host " + std::to_string(i + 1) + " made no progress after faults healed (" +
             std::to_string(progress) + " operations; " + doing + ")");
      }
    }
  }

  bool hosts_idle() {
    reap_hosts();
    for (const auto& slot : hosts_) {
      if (!slot->dead.empty()) return false;
      if (slot->current != nullptr && !slot->current->process->finished()) return false;
    }
    return true;
  }

  void stop_workload() {
    stop_workload_ = true;
    if (!wait_for([this] { return hosts_idle(); }, kStopTimeout)) {
      for (const auto& slot : hosts_) {
        for (const auto& inc : slot->dead) {
          fail("the workload did not stop: killed " + inc->process->name() + " still runs (" +
               inc->activity.describe() + ")");
        }
        if (slot->current != nullptr && !slot->current->process->finished()) {
          fail("the workload did not stop: " + slot->current->process->name() +
               " did not commit and close its store (" + slot->current->activity.describe() + ")");
        }
      }
    }
  }

  // Phase 3: graceful shelf stop and reopen, then a fresh incarnation of every host checks.
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
                                            process_options("checker", "10.0.2.1"));
    checker_->spawn(verify_all(checker_->env()));
    if (!wait_for([this] { return checker_->finished(); }, kStopTimeout * 4)) {
      fail("the check did not finish");
    }
  }

  Task<void> verify_all(Env& env) {
    for (const auto& slot : hosts_) {
      bool reached = false;
      for (int attempt = 0; attempt < kVerifyAttemptsMax && !reached; ++attempt) {
        reached =
            co_await verify_blockstore_host(env, workload_options(), slot->model, violations_);
      }
      if (!reached) {
        violations_.add("check: host " + std::to_string(slot->model.host.value()) +
                        ": a fresh incarnation could not open its block store");
      }
    }
  }

  BlockStoreSimReport finish() {
    stop_workload_ = true;
    if (shelf_.running()) shelf_.crash(false);
    for (const auto& slot : hosts_) {
      if (slot->current != nullptr && !slot->current->process->finished()) {
        crash_host(*slot, true);
      }
    }
    if (checker_ != nullptr && !checker_->finished()) checker_->kill();
    const bool unwound = wait_for(
        [this] {
          if (!hosts_idle()) return false;
          if (checker_ != nullptr && !checker_->finished()) return false;
          return shelf_.reap() == 0;
        },
        kStopTimeout);
    if (!unwound) leak_stuck_processes();
    for (std::string& what : violations_.list) fail(std::move(what));
    for (const auto& slot : hosts_) {
      const BlockHostModel& m = slot->model;
      report_.acked_ops += m.acked_ops;
      report_.failed_ops += m.failed_ops;
      report_.acked_writes += m.acked_writes;
      report_.acked_commits += m.acked_commits;
      report_.checked_reads += m.checked_reads;
      report_.read_errors += m.read_errors;
      report_.corrupt_reads += m.corrupt_reads;
      report_.verified_blocks += m.verified_blocks;
      report_.detected_blocks += m.detected_blocks;
      report_.opens += m.opens;
      report_.reopens += m.reopens;
      report_.containers_destaged += m.stats.containers_destaged;
      report_.fragments_rebuilt += m.stats.fragments_rebuilt;
      report_.dedup_hits += m.stats.dedup_hits;
      report_.degraded_reads += m.stats.degraded_reads;
      report_.repairs += m.stats.repairs;
      report_.replayed_records += m.stats.open_replayed_records;
    }
    report_.faults_fired = plan_.fired;
    report_.faults_summary = plan_.fired_summary();
    report_.trace_hash = world_.trace_hash();
    report_.events = world_.events_run();
    report_.simulated = world_.now().time_since_epoch();
    for (const auto& slot : hosts_) slot->current.reset();
    hosts_.clear();
    checker_.reset();
    world_.cancel(tick_event_);
    return report_;
  }

  // A killed process that never unwinds is a liveness bug (a coroutine waits on nothing). It can
  // be neither destroyed (SimProcess asserts) nor resumed: report it and leave it allocated, so
  // the run still prints its report and its seed.
  void leak_stuck_processes() {
    for (const auto& slot : hosts_) {
      for (auto& inc : slot->dead) {
        fail("host process " + inc->process->name() + " did not unwind after it was killed");
        abandon(std::move(inc->process));
      }
      slot->dead.clear();
      if (slot->current != nullptr && !slot->current->process->finished()) {
        fail("host process " + slot->current->process->name() + " did not finish");
        abandon(std::move(slot->current->process));
        slot->current.reset();
      }
    }
    if (checker_ != nullptr && !checker_->finished()) {
      fail("the checker did not unwind after it was killed");
      abandon(std::move(checker_));
    }
    ASSERT_MSG(shelf_.reap() == 0, "a killed shelf incarnation did not unwind");
  }

  void abandon(std::unique_ptr<SimProcess> process) {
    world_.remove_process(process->id());
    static_cast<void>(process.release());  // deliberately leaked, see leak_stuck_processes
  }

  const BlockStoreSimConfig config_;
  NullLogSink null_sink_;
  SimWorld world_;
  SimFabric fabric_;
  LogSink& sink_;
  Prng rng_;
  const bool detection_;
  FaultPlan plan_;
  SimFaults harness_faults_;
  ShelfNode shelf_;
  double host_crash_rate_ = 0;
  std::vector<std::unique_ptr<HostSlot>> hosts_;
  SimMachine checker_machine_{"checker", DiskModel{}};
  std::unique_ptr<SimProcess> checker_;
  Violations violations_;
  bool stop_workload_ = false;
  EventId tick_event_ = 0;
  TimePoint restart_at_{};
  BlockStoreSimReport report_;
};

}  // namespace

BlockStoreSimReport run_blockstore_sim(const BlockStoreSimConfig& config) {
  BlockStoreSim sim(config);
  return sim.run();
}

}  // namespace splitarray::sim
