#include "sim/env/sim_storage.h"

#include <algorithm>
#include <cstring>

#include "sim/world/sim_wait.h"

namespace splitarray::sim {

// ---------------------------------------------------------------------------------------------
// FileImage

void FileImage::read(uint64_t offset, std::span<uint8_t> out) const {
  ASSERT(offset + out.size() <= size_);
  std::fill(out.begin(), out.end(), uint8_t{0});
  // Durable pages first, then pending writes in the order they completed.
  uint64_t pos = offset;
  while (pos < offset + out.size()) {
    const uint64_t page = pos / kSimPageBytes;
    const uint64_t in_page = pos % kSimPageBytes;
    const uint64_t n = std::min<uint64_t>(kSimPageBytes - in_page, offset + out.size() - pos);
    auto it = pages_.find(page);
    if (it != pages_.end())
      std::memcpy(out.data() + (pos - offset), it->second.data() + in_page, n);
    pos += n;
  }
  for (const Pending& p : pending_) {
    const uint64_t lo = std::max(offset, p.offset);
    const uint64_t hi = std::min(offset + out.size(), p.offset + p.bytes.size());
    if (lo >= hi) continue;
    std::memcpy(out.data() + (lo - offset), p.bytes.data() + (lo - p.offset), hi - lo);
  }
}

void FileImage::write(uint64_t offset, std::span<const uint8_t> data) {
  pending_.push_back(Pending{offset, std::vector<uint8_t>(data.begin(), data.end())});
  size_ = std::max(size_, offset + data.size());
}

void FileImage::apply_durable(uint64_t offset, std::span<const uint8_t> data) {
  uint64_t pos = offset;
  while (pos < offset + data.size()) {
    const uint64_t page = pos / kSimPageBytes;
    const uint64_t in_page = pos % kSimPageBytes;
    const uint64_t n = std::min<uint64_t>(kSimPageBytes - in_page, offset + data.size() - pos);
    auto& bytes = pages_[page];
    if (bytes.empty()) bytes.assign(kSimPageBytes, 0);
    std::memcpy(bytes.data() + in_page, data.data() + (pos - offset), n);
    pos += n;
  }
  durable_size_ = std::max(durable_size_, offset + data.size());
}

void FileImage::flush() {
  for (const Pending& p : pending_) apply_durable(p.offset, p.bytes);
  pending_.clear();
  durable_size_ = std::max(durable_size_, size_);
}

void FileImage::crash(Prng& rng, FaultPoints& faults) {
  for (const Pending& p : pending_) {
    if (faults.fire(FaultSite::kDiskTornWrite)) {
      const uint64_t sectors = p.bytes.size() / kSimSectorBytes;
      const uint64_t keep = sectors == 0 ? 0 : rng.below(sectors) * kSimSectorBytes;
      // Nothing landed: like a lost write, it must not grow the file either.
      if (keep > 0) apply_durable(p.offset, std::span<const uint8_t>(p.bytes).first(keep));
    } else if (rng.chance(0.5)) {
      apply_durable(p.offset, p.bytes);  // reached the media before power went
    }
  }
  pending_.clear();
  size_ = durable_size_;
}

void FileImage::flip_bit(uint64_t offset, unsigned bit) {
  ASSERT(offset < size_);
  ASSERT(bit < 8);
  flush();  // rot happens to data at rest
  auto& bytes = pages_[offset / kSimPageBytes];
  if (bytes.empty()) bytes.assign(kSimPageBytes, 0);
  bytes[offset % kSimPageBytes] ^= static_cast<uint8_t>(1u << bit);
}

void FileImage::extend(uint64_t size_bytes) {
  size_ = std::max(size_, size_bytes);
  durable_size_ = std::max(durable_size_, size_bytes);
}

// ---------------------------------------------------------------------------------------------
// SimMachine

void SimMachine::crash(Prng& rng, FaultPoints& faults) {
  for (auto& [path, image] : files_) image->crash(rng, faults);
}

std::shared_ptr<FileImage> SimMachine::find(const std::string& path) const {
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : it->second;
}

std::shared_ptr<FileImage> SimMachine::create(const std::string& path) {
  auto image = std::make_shared<FileImage>();
  files_[path] = image;
  return image;
}

bool SimMachine::directory_exists(const std::string& path) const {
  return path.empty() || path == "/" || directories_.contains(path);
}

bool SimMachine::rename(const std::string& from, const std::string& to) {
  auto it = files_.find(from);
  if (it == files_.end()) return false;
  auto image = std::move(it->second);
  files_.erase(it);
  files_[to] = std::move(image);
  return true;
}

bool SimMachine::remove(const std::string& path) { return files_.erase(path) == 1; }

// ---------------------------------------------------------------------------------------------
// SimFile

namespace {

std::string parent_directory(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

Error severed_error(const std::string& path) {
  return make_error(Code::kIo, path + ": the process's storage is gone (simulated crash)");
}

class SimFile final : public File {
 public:
  SimFile(SimStorage& storage, std::string path, std::shared_ptr<FileImage> image)
      : storage_(storage), path_(std::move(path)), image_(std::move(image)) {}

  Task<Result<void>> read_at(uint64_t offset, std::span<uint8_t> out) override {
    if (auto usable = check_usable(); !usable.ok()) co_return usable;
    const bool fails = storage_.faults().fire(FaultSite::kDiskReadError);
    co_await storage_.device_wait(*image_, out.size(), hang_delay());
    if (storage_.severed()) co_return severed_error(path_);
    if (fails) co_return make_error(Code::kIo, "read " + path_ + ": simulated read error");
    if (offset + out.size() > image_->size()) {
      co_return make_error(Code::kIo, "short read (past end) in " + path_);
    }
    image_->read(offset, out);
    co_return ok_result();
  }

  Task<Result<void>> write_at(uint64_t offset, std::span<const uint8_t> data) override {
    if (auto usable = check_usable(); !usable.ok()) co_return usable;
    std::vector<uint8_t> bytes(data.begin(), data.end());  // the device takes its copy now
    const bool fails = storage_.faults().fire(FaultSite::kDiskWriteError);
    co_await storage_.device_wait(*image_, bytes.size(), hang_delay());
    if (storage_.severed()) co_return severed_error(path_);
    if (fails) co_return make_error(Code::kIo, "write " + path_ + ": simulated write error");
    land(offset, std::move(bytes));
    co_return ok_result();
  }

  Task<Result<void>> flush() override {
    if (auto usable = check_usable(); !usable.ok()) co_return usable;
    const bool fails = storage_.faults().fire(FaultSite::kDiskFlushError);
    const Duration extra = storage_.machine().model().flush_latency + hang_delay();
    co_await storage_.device_wait(*image_, 0, extra);
    if (storage_.severed()) co_return severed_error(path_);
    if (fails) {
      failed_ = true;
      co_return make_error(Code::kIo, "flush " + path_ + ": simulated flush error");
    }
    if (!storage_.machine().flushes_lie(path_)) image_->flush();
    co_return ok_result();
  }

  Result<uint64_t> size() const override {
    if (storage_.severed()) return severed_error(path_);
    return image_->size();
  }
  bool failed() const override { return failed_; }
  const std::string& path() const override { return path_; }

 private:
  Result<void> check_usable() const {
    if (storage_.severed()) return severed_error(path_);
    if (failed_) return make_error(Code::kIo, path_ + " failed an earlier flush");
    return ok_result();
  }

  Duration hang_delay() {
    return storage_.faults().fire(FaultSite::kDiskHang) ? storage_.machine().model().hang
                                                        : Duration::zero();
  }

  // Applies a completed write, perhaps silently wrong where the machine allows it.
  void land(uint64_t offset, std::vector<uint8_t> bytes) {
    FaultPoints& faults = storage_.faults();
    Prng& rng = storage_.rng();
    if (storage_.machine().silent_faults_allowed(path_) && !bytes.empty()) {
      if (faults.fire(FaultSite::kDiskLostWrite)) {
        image_->count_silent_fault();
        return;
      }
      if (faults.fire(FaultSite::kDiskBitRot)) {
        image_->count_silent_fault();
        bytes[rng.below(bytes.size())] ^= static_cast<uint8_t>(1u << rng.below(8));
      }
      if (faults.fire(FaultSite::kDiskMisdirectedWrite)) {
        const uint64_t pages = image_->size() / kSimPageBytes;
        const uint64_t target = pages == 0 ? 0 : rng.below(pages) * kSimPageBytes;
        if (target != offset && target + bytes.size() <= image_->size()) {
          image_->count_silent_fault();
          offset = target;
        }
      }
    }
    image_->write(offset, bytes);
  }

  SimStorage& storage_;
  const std::string path_;
  const std::shared_ptr<FileImage> image_;
  bool failed_ = false;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// SimStorage

Task<void> SimStorage::device_wait(FileImage& image, uint64_t bytes, Duration extra) {
  const DiskModel& model = machine_.model();
  const auto transfer = Duration(static_cast<int64_t>(static_cast<double>(bytes) * 1e9 /
                                                      static_cast<double>(model.bytes_per_second)));
  const TimePoint start = std::max(image.busy_until(), world_.now());
  image.busy_until() = start + transfer;
  const TimePoint done_at = start + transfer + model.latency + extra;
  co_await wait_until(world_, process_, EventKind::kDiskIo, done_at);
}

Task<void> SimStorage::metadata_wait() {
  const Duration cost = machine_.model().latency + machine_.model().flush_latency;
  const TimePoint done_at = world_.now() + cost;
  co_await wait_until(world_, process_, EventKind::kDiskIo, done_at);
}

Task<Result<std::unique_ptr<File>>> SimStorage::open(const std::string& path, FileOptions options) {
  if (severed_) co_return severed_error(path);
  co_await metadata_wait();
  if (severed_) co_return severed_error(path);
  std::shared_ptr<FileImage> image = machine_.find(path);
  if (image == nullptr) {
    if (!options.create) co_return make_error(Code::kNotFound, "open " + path + ": no such file");
    if (!machine_.directory_exists(parent_directory(path))) {
      co_return make_error(Code::kNotFound, "open " + path + ": no such directory");
    }
    image = machine_.create(path);
    image->extend(options.create_size_bytes);
  }
  co_return std::unique_ptr<File>(std::make_unique<SimFile>(*this, path, std::move(image)));
}

Task<Result<void>> SimStorage::rename(const std::string& from, const std::string& to) {
  if (severed_) co_return severed_error(from);
  co_await metadata_wait();
  if (severed_) co_return severed_error(from);
  if (!machine_.rename(from, to)) co_return make_error(Code::kNotFound, "rename " + from);
  co_return ok_result();
}

Task<Result<void>> SimStorage::remove(const std::string& path) {
  if (severed_) co_return severed_error(path);
  co_await metadata_wait();
  if (severed_) co_return severed_error(path);
  if (!machine_.remove(path)) co_return make_error(Code::kNotFound, "remove " + path);
  co_return ok_result();
}

Task<Result<void>> SimStorage::make_directory(const std::string& path) {
  if (severed_) co_return severed_error(path);
  co_await metadata_wait();
  if (severed_) co_return severed_error(path);
  // Parents too, like mkdir -p.
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    machine_.add_directory(path.substr(0, slash));
  }
  machine_.add_directory(path);
  co_return ok_result();
}

}  // namespace splitarray::sim
