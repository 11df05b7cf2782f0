// tests/support/faulty_storage.h
// FaultyStorage wraps a real Storage and injects scripted, deterministic faults into chosen files:
// write errors, flush errors (after which the File reports failed, like the real one), read
// errors, and misdirected writes (the bytes land `delta` bytes away from where asked, and the
// write reports success). Bit rot is done on the file itself with flip_bit_on_disk().
// For the simulator's randomized faults see sim/ (SimEnv); this is for targeted unit tests.
#pragma once

#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "common/env.h"

namespace splitarray::testing {

struct FilePlan {
  int fail_writes = 0;   // the next N write_at calls fail with kIo (nothing written)
  int fail_reads = 0;    // the next N read_at calls fail with kIo
  int fail_flushes = 0;  // the next N flush calls fail with kIo and mark the file failed
  int64_t misdirect_next_write_by = 0;  // nonzero: the next write lands this many bytes away
  uint64_t writes = 0;                  // counters, for assertions
  uint64_t flushes = 0;
};

class FaultyFile final : public File {
 public:
  FaultyFile(std::unique_ptr<File> inner, std::shared_ptr<FilePlan> plan)
      : inner_(std::move(inner)), plan_(std::move(plan)) {}

  Task<Result<void>> read_at(uint64_t offset, std::span<uint8_t> out) override {
    if (failed_) co_return make_error(Code::kIo, "injected: file failed");
    if (plan_->fail_reads > 0) {
      --plan_->fail_reads;
      co_return make_error(Code::kIo, "injected read error");
    }
    co_return co_await inner_->read_at(offset, out);
  }

  Task<Result<void>> write_at(uint64_t offset, std::span<const uint8_t> data) override {
    if (failed_) co_return make_error(Code::kIo, "injected: file failed");
    ++plan_->writes;
    if (plan_->fail_writes > 0) {
      --plan_->fail_writes;
      co_return make_error(Code::kIo, "injected write error");
    }
    if (plan_->misdirect_next_write_by != 0) {
      offset = static_cast<uint64_t>(static_cast<int64_t>(offset) + plan_->misdirect_next_write_by);
      plan_->misdirect_next_write_by = 0;
    }
    co_return co_await inner_->write_at(offset, data);
  }

  Task<Result<void>> flush() override {
    if (failed_) co_return make_error(Code::kIo, "injected: file failed");
    ++plan_->flushes;
    if (plan_->fail_flushes > 0) {
      --plan_->fail_flushes;
      failed_ = true;  // as the real File: never trust a later flush
      co_return make_error(Code::kIo, "injected flush error");
    }
    co_return co_await inner_->flush();
  }

  Result<uint64_t> size() const override { return inner_->size(); }
  bool failed() const override { return failed_ || inner_->failed(); }
  const std::string& path() const override { return inner_->path(); }

 private:
  std::unique_ptr<File> inner_;
  std::shared_ptr<FilePlan> plan_;
  bool failed_ = false;
};

class FaultyStorage final : public Storage {
 public:
  explicit FaultyStorage(Storage& inner) : inner_(inner) {}

  // The plan for `path` (created on first use); files opened later share it.
  FilePlan& plan(const std::string& path) {
    auto& slot = plans_[path];
    if (!slot) slot = std::make_shared<FilePlan>();
    return *slot;
  }

  Task<Result<std::unique_ptr<File>>> open(const std::string& path, FileOptions options) override {
    auto opened = co_await inner_.open(path, options);
    if (!opened.ok()) co_return std::move(opened).take_error();
    auto& slot = plans_[path];
    if (!slot) slot = std::make_shared<FilePlan>();
    co_return std::unique_ptr<File>(std::make_unique<FaultyFile>(std::move(opened).value(), slot));
  }
  Task<Result<void>> rename(const std::string& from, const std::string& to) override {
    co_return co_await inner_.rename(from, to);
  }
  Task<Result<void>> remove(const std::string& path) override {
    co_return co_await inner_.remove(path);
  }
  Task<Result<void>> make_directory(const std::string& path) override {
    co_return co_await inner_.make_directory(path);
  }

 private:
  Storage& inner_;
  std::map<std::string, std::shared_ptr<FilePlan>> plans_;
};

// Bit rot: flips one bit of a file in place, behind the storage layer's back.
inline void flip_bit_on_disk(const std::string& path, uint64_t offset, int bit) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT(f.good());
  f.seekg(static_cast<std::streamoff>(offset));
  char byte = 0;
  f.read(&byte, 1);
  ASSERT(f.good());
  byte = static_cast<char>(byte ^ (1 << bit));
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&byte, 1);
  f.flush();
  ASSERT(f.good());
}

}  // namespace splitarray::testing
