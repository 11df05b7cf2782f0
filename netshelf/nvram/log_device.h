// netshelf/nvram/log_device.h
// LogDevice: the one place where NVRAM bytes become durable. NvramLog writes records and headers
// with write_at and acknowledges nothing before a flush() that followed those writes succeeded.
//
// Mirroring (DESIGN.md §7, a later issue) slots in here: a MirroredLogDevice holding the local
// device and a stream to the standby controller implements write_at as "write locally and send
// the same (offset, bytes) to the standby" and flush as "flush locally and wait until the standby
// reports its copy flushed"; NvramLog does not change. See README "Mirroring".
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/env.h"

namespace splitarray::netshelf::nvram {

class LogDevice {
 public:
  virtual ~LogDevice() = default;
  virtual Task<Result<void>> read_at(uint64_t offset, std::span<uint8_t> out) = 0;
  // Not durable until a later flush() succeeds.
  virtual Task<Result<void>> write_at(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Makes every completed write_at durable. After a failure the device is failed for good.
  virtual Task<Result<void>> flush() = 0;
  virtual Result<uint64_t> size() const = 0;
  virtual const std::string& name() const = 0;
};

// A LogDevice over one Env File (the NVRAM file of this controller).
class FileLogDevice final : public LogDevice {
 public:
  explicit FileLogDevice(std::unique_ptr<File> file) : file_(std::move(file)) {
    ASSERT(file_ != nullptr);
  }
  Task<Result<void>> read_at(uint64_t offset, std::span<uint8_t> out) override {
    co_return co_await file_->read_at(offset, out);
  }
  Task<Result<void>> write_at(uint64_t offset, std::span<const uint8_t> data) override {
    co_return co_await file_->write_at(offset, data);
  }
  Task<Result<void>> flush() override { co_return co_await file_->flush(); }
  Result<uint64_t> size() const override { return file_->size(); }
  const std::string& name() const override { return file_->path(); }

 private:
  std::unique_ptr<File> file_;
};

}  // namespace splitarray::netshelf::nvram
