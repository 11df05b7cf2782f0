// sim/env/sim_storage.h
// Simulated files and disks. A SimMachine's files outlive the processes that run on it (a crash
// or restart keeps what was durable); a SimStorage is one process's Env Storage on that machine.
//
// The model, per file:
//   - Bytes are sparse 4 KiB pages; never-written bytes read as zero.
//   - A completed write is visible to reads at once but is *pending* until a flush completes;
//     a crash resolves every pending write independently: kept whole, lost, or (fault site
//     kDiskTornWrite) torn to a 512-byte-aligned prefix.
//   - Each file is its own device: an operation starts when the previous one's transfer ends and
//     completes after latency + bytes / bandwidth (kDiskHang adds DiskModel::hang).
//   - Errors: kDiskReadError / kDiskWriteError fail one operation with kIo (a failed write
//     changes nothing); kDiskFlushError fails the flush and marks the handle failed, as
//     PosixStorage does, with the pending writes still pending.
//   - Silent faults, only on paths the machine allows them for (DESIGN.md safety budget):
//     kDiskLostWrite (acknowledged, never lands), kDiskMisdirectedWrite (lands whole at another
//     4 KiB-aligned offset of the file), kDiskBitRot (lands with one bit flipped).
//   - A severed storage (its process crashed) fails every operation, including those in flight,
//     with kIo and changes nothing.
// Threading: the simulator's one thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/env.h"
#include "sim/world/sim_world.h"

namespace splitarray::sim {

inline constexpr uint64_t kSimPageBytes = 4096;
inline constexpr uint64_t kSimSectorBytes = 512;

struct DiskModel {
  Duration latency = std::chrono::microseconds(20);
  uint64_t bytes_per_second = 2'000'000'000;
  Duration flush_latency = std::chrono::microseconds(100);
  Duration hang = std::chrono::seconds(3);
};

// One file's bytes (an inode: open handles keep it across rename and remove).
class FileImage final {
 public:
  void read(uint64_t offset, std::span<uint8_t> out) const;
  void write(uint64_t offset, std::span<const uint8_t> data);
  void flush();
  // Resolves pending writes as a power loss would.
  void crash(Prng& rng, FaultPoints& faults);
  void flip_bit(uint64_t offset, unsigned bit);

  uint64_t size() const { return size_; }
  void extend(uint64_t size_bytes);
  size_t pending_writes() const { return pending_.size(); }
  uint64_t silent_faults() const { return silent_faults_; }
  void count_silent_fault() { ++silent_faults_; }
  TimePoint& busy_until() { return busy_until_; }

 private:
  struct Pending {
    uint64_t offset;
    std::vector<uint8_t> bytes;
  };
  void apply_durable(uint64_t offset, std::span<const uint8_t> data);

  std::map<uint64_t, std::vector<uint8_t>> pages_;  // durable bytes by page index
  uint64_t durable_size_ = 0;
  uint64_t size_ = 0;  // as seen by reads (durable + pending)
  std::vector<Pending> pending_;
  uint64_t silent_faults_ = 0;
  TimePoint busy_until_{};
};

// A machine's file system: the durable namespace (creates, renames and removes are durable when
// they complete) and the file images.
class SimMachine final {
 public:
  SimMachine(std::string name, DiskModel model) : name_(std::move(name)), model_(model) {}

  const std::string& name() const { return name_; }
  const DiskModel& model() const { return model_; }
  // Silent faults (lost, misdirected, rotted writes) hit only paths this predicate accepts.
  void allow_silent_faults(std::function<bool(const std::string&)> predicate) {
    silent_faults_allowed_ = std::move(predicate);
  }
  bool silent_faults_allowed(const std::string& path) const {
    return silent_faults_allowed_ && silent_faults_allowed_(path);
  }
  // Test-only sabotage: flushes succeed without making anything durable (a disk whose volatile
  // cache ignores flush), so a power loss destroys acknowledged data. Checkers must notice.
  // Applies to paths the predicate accepts (none by default).
  void set_flushes_lie(std::function<bool(const std::string&)> predicate) {
    flushes_lie_ = std::move(predicate);
  }
  bool flushes_lie(const std::string& path) const { return flushes_lie_ && flushes_lie_(path); }

  // Power loss: every file's pending writes are resolved (kept, lost or torn).
  void crash(Prng& rng, FaultPoints& faults);

  std::shared_ptr<FileImage> find(const std::string& path) const;
  std::shared_ptr<FileImage> create(const std::string& path);
  bool directory_exists(const std::string& path) const;
  void add_directory(const std::string& path) { directories_.insert(path); }
  bool rename(const std::string& from, const std::string& to);
  bool remove(const std::string& path);
  const std::map<std::string, std::shared_ptr<FileImage>>& files() const { return files_; }

 private:
  const std::string name_;
  const DiskModel model_;
  std::function<bool(const std::string&)> silent_faults_allowed_;
  std::function<bool(const std::string&)> flushes_lie_;
  std::map<std::string, std::shared_ptr<FileImage>> files_;
  std::set<std::string> directories_;
};

class SimStorage final : public Storage {
 public:
  SimStorage(SimWorld& world, ProcessId process, SimMachine& machine, FaultPoints& faults, Prng rng)
      : world_(world), process_(process), machine_(machine), faults_(faults), rng_(rng) {}

  Task<Result<std::unique_ptr<File>>> open(const std::string& path, FileOptions options) override;
  Task<Result<void>> rename(const std::string& from, const std::string& to) override;
  Task<Result<void>> remove(const std::string& path) override;
  Task<Result<void>> make_directory(const std::string& path) override;

  // The process crashed: from now on every operation fails and changes nothing.
  void sever() { severed_ = true; }
  bool severed() const { return severed_; }

  // For SimFile: waits until the device has served an operation of `bytes` on `image`.
  Task<void> device_wait(FileImage& image, uint64_t bytes, Duration extra);
  SimWorld& world() { return world_; }
  SimMachine& machine() { return machine_; }
  FaultPoints& faults() { return faults_; }
  Prng& rng() { return rng_; }

 private:
  Task<void> metadata_wait();

  SimWorld& world_;
  const ProcessId process_;
  SimMachine& machine_;
  FaultPoints& faults_;
  Prng rng_;
  bool severed_ = false;
};

}  // namespace splitarray::sim
