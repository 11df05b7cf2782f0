#include "sim/harness/shelf_sim.h"

#include <memory>

#include "sim/harness/shelf_node.h"
#include "sim/harness/shelf_workload.h"
#include "sim/harness/swarm.h"

namespace splitarray::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint16_t kShelfPort = 20100;
const std::string kShelfHost = "10.0.0.1";
constexpr uint64_t kDiskBytes = 32 * kMiB;
constexpr uint64_t kSlotPayloadBytes = 64 * kKiB;
constexpr uint64_t kNvramBytes = 2 * kMiB;
// Bounds on how long a phase may take to settle before the run counts as stuck (liveness).
constexpr Duration kStartTimeout = seconds(60);
constexpr Duration kStopTimeout = seconds(120);
constexpr int kVerifyAttemptsMax = 20;
// After the heal, every host must complete at least this many operations.
constexpr uint64_t kHealProgressMin = 10;

std::string disk_path(uint16_t disk) { return "/shelf/disk" + std::to_string(disk) + ".img"; }

netshelf::ShelfConfig shelf_config(const ShelfSimConfig& config) {
  netshelf::ShelfConfig shelf;
  shelf.cluster_id = ClusterId(1);
  shelf.shelf_id = ShelfId(1);
  shelf.listen = Address{kShelfHost, kShelfPort};
  for (uint16_t d = 0; d < config.disks; ++d) {
    shelf.disks.push_back(netshelf::DiskConfig{disk_path(d), kDiskBytes});
  }
  shelf.slot_payload_bytes = kSlotPayloadBytes;
  shelf.nvram = netshelf::NvramConfigFile{"/shelf/nvram.img", kNvramBytes,
                                          static_cast<uint32_t>(config.hosts + 2)};
  shelf.index_dir = "/shelf/index";
  shelf.registers_path = "/shelf/registers.log";
  shelf.log_level = config.log_level;
  return shelf;
}

class ShelfSim final {
 public:
  explicit ShelfSim(const ShelfSimConfig& config)
      : config_(config),
        world_(config.seed),
        fabric_(world_, LinkModel{}),
        sink_(config.log_sink != nullptr ? *config.log_sink : null_sink_),
        rng_(world_.rng().fork()),
        detection_(config.detection.value_or(rng_.chance(0.25))),
        plan_(choose_fault_plan(rng_, detection_)),
        harness_faults_(plan_, rng_.fork()),
        shelf_(world_, fabric_, plan_, sink_, shelf_config(config), config.log_level) {
    report_.seed = config.seed;
    report_.detection = detection_;
    shelf_.machine().add_directory("/shelf");
    if (detection_) {
      shelf_.machine().allow_silent_faults(
          [](const std::string& path) { return path.starts_with("/shelf/disk"); });
    }
    if (config.crash_rate.has_value()) plan_.at(FaultSite::kProcessCrash) = *config.crash_rate;
    report_.plan_summary = describe_fault_plan(plan_);
  }

  ShelfSimReport run() {
    plan_.healed = true;  // format and first start without faults
    shelf_.start(true);
    if (!wait_for([this] { return shelf_.serving(); }, kStartTimeout)) {
      fail("shelf did not start: " + shelf_.last_failure());
      return finish();
    }
    plan_.healed = false;
    if (config_.sabotage_flushes) {
      shelf_.machine().set_flushes_lie(
          [](const std::string& path) { return path.starts_with("/shelf/disk"); });
    }
    start_workload();
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

  ShelfWorkloadOptions workload_options() {
    ShelfWorkloadOptions options;
    options.disks = config_.disks;
    options.disk_may_lose_data = [this](uint16_t disk) {
      auto image = shelf_.machine().find(disk_path(disk));
      return image == nullptr || image->silent_faults() > 0;
    };
    return options;
  }

  SimProcessOptions host_options(uint16_t h, const std::string& role) {
    SimProcessOptions options;
    options.name = role + "-" + std::to_string(h);
    options.host = "10.0.1." + std::to_string(h);
    options.log_level = config_.log_level;
    return options;
  }

  void start_workload() {
    for (uint16_t h = 1; h <= config_.hosts; ++h) {
      models_.push_back(std::make_unique<HostModel>());
      models_.back()->host = HostId(h);
      machines_.push_back(std::make_unique<SimMachine>("host-" + std::to_string(h), DiskModel{}));
      clients_.push_back(std::make_unique<SimProcess>(world_, fabric_, *machines_.back(), plan_,
                                                      sink_, host_options(h, "host")));
      SimProcess& client = *clients_.back();
      client.spawn(run_host_workload(client.env(), shelf_.address(), *models_.back(),
                                     workload_options(), rng_.fork(), &stop_workload_,
                                     violations_));
    }
  }

  // The fault schedule: crashes, restarts and partitions, decided by the plan at every tick.
  void schedule_tick() {
    tick_event_ =
        world_.schedule_after(kHarnessTick, kWorldProcess, EventKind::kHarness, [this] { tick(); });
  }

  void tick() {
    shelf_.reap();
    if (shelf_.gave_up()) {
      shelf_.stop();  // recovery failed (a fault during open): restart it
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
    if (harness_faults_.fire(FaultSite::kNetPartition) && config_.hosts > 0) {
      const std::string host = "10.0.1." + std::to_string(1 + rng_.below(config_.hosts));
      fabric_.partition(kShelfHost, host);
      ++report_.partitions;
      const Duration length(rng_.between(100, 3000) * 1'000'000);
      world_.schedule_after(length, kWorldProcess, EventKind::kHarness,
                            [this, host] { fabric_.heal(kShelfHost, host); });
    }
    schedule_tick();
  }

  // Phase 2: no more faults; one clean restart; every host must make progress again.
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
    std::vector<uint64_t> before;
    for (const auto& model : models_) before.push_back(model->acked_ops);
    world_.run_for(config_.heal_duration);
    for (size_t i = 0; i < models_.size(); ++i) {
      if (models_[i]->acked_ops < before[i] + kHealProgressMin) {
        fail("host " + std::to_string(i + 1) + " made no progress after faults healed (" +
             std::to_string(models_[i]->acked_ops - before[i]) + " operations)");
      }
    }
  }

  void stop_workload() {
    stop_workload_ = true;
    const bool stopped = wait_for(
        [this] {
          for (const auto& client : clients_)
            if (!client->finished()) return false;
          return true;
        },
        kStopTimeout);
    if (!stopped) fail("the workload did not stop");
  }

  // Phase 3: graceful stop and reopen, then every host's model against the shelf.
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
                                            host_options(0, "checker"));
    checker_->spawn(verify_all(checker_->env(), verified_));
    if (!wait_for([this] { return checker_->finished(); }, kStopTimeout * 4)) {
      fail("the check did not finish");
    } else if (!verified_) {
      fail("the checker could not reach the shelf");
    }
  }

  Task<void> verify_all(Env& env, bool& verified) {
    verified = true;
    for (const auto& model : models_) {
      bool reached = false;
      for (int attempt = 0; attempt < kVerifyAttemptsMax && !reached; ++attempt) {
        reached =
            co_await verify_host(env, shelf_.address(), *model, workload_options(), violations_);
        if (!reached) co_await sleep_for(env.clock, milliseconds(200));
      }
      verified = verified && reached;
    }
  }

  ShelfSimReport finish() {
    // Whatever is still running is killed: its coroutines then unwind on failing I/O.
    stop_workload_ = true;
    if (shelf_.running()) shelf_.crash(false);
    for (const auto& client : clients_)
      if (!client->finished()) client->kill();
    if (checker_ != nullptr && !checker_->finished()) checker_->kill();
    const bool unwound = wait_for(
        [this] {
          for (const auto& client : clients_)
            if (!client->finished()) return false;
          if (checker_ != nullptr && !checker_->finished()) return false;
          return shelf_.reap() == 0;
        },
        kStopTimeout);
    ASSERT_MSG(unwound, "killed processes did not unwind: a coroutine waits on nothing");
    for (std::string& what : violations_.list) fail(std::move(what));
    for (const auto& model : models_) {
      report_.acked_ops += model->acked_ops;
      report_.failed_ops += model->failed_ops;
    }
    report_.faults_fired = plan_.fired;
    report_.faults_summary = plan_.fired_summary();
    report_.trace_hash = world_.trace_hash();
    report_.events = world_.events_run();
    report_.simulated = world_.now().time_since_epoch();
    clients_.clear();
    checker_.reset();
    world_.cancel(tick_event_);
    return report_;
  }

  const ShelfSimConfig config_;
  NullLogSink null_sink_;
  SimWorld world_;
  SimFabric fabric_;
  LogSink& sink_;
  Prng rng_;
  const bool detection_;
  FaultPlan plan_;
  SimFaults harness_faults_;
  ShelfNode shelf_;
  std::vector<std::unique_ptr<HostModel>> models_;
  std::vector<std::unique_ptr<SimMachine>> machines_;
  std::vector<std::unique_ptr<SimProcess>> clients_;
  SimMachine checker_machine_{"checker", DiskModel{}};
  std::unique_ptr<SimProcess> checker_;
  bool verified_ = false;
  Violations violations_;
  bool stop_workload_ = false;
  EventId tick_event_ = 0;
  TimePoint restart_at_{};
  ShelfSimReport report_;
};

}  // namespace

ShelfSimReport run_shelf_sim(const ShelfSimConfig& config) {
  ShelfSim sim(config);
  return sim.run();
}

}  // namespace splitarray::sim
