// tests/unit/hostdriver/fs/fs_fixture.h
// Scaffolding for the file system tests: the block store tests' real shelf (served in-process
// over loopback TCP, see tests/unit/hostdriver/blockstore/block_store_fixture.h) and helpers to
// format, open and restart a FileSystem on it. A FsSession closes every FileSystem it opened when
// the test body ends, also when a REQUIRE threw.
#pragma once

#include "tests/unit/hostdriver/blockstore/block_store_fixture.h"

#include <memory>
#include <string>
#include <vector>

#include "hostdriver/fs/file_system.h"
#include "hostdriver/fs/fsck.h"

namespace splitarray::hostdriver::fs::fs_test {

using blockstore::bs_test::first_difference;
using blockstore::bs_test::Fixture;
using blockstore::bs_test::kBlockBytes;
using blockstore::bs_test::kDefaultSeed;
using blockstore::bs_test::Session;
using blockstore::bs_test::test_seeds;
using blockstore::bs_test::why;

inline std::vector<uint8_t> bytes_of(std::string_view text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

class FsSession {
 public:
  explicit FsSession(Session& shelf) : shelf_(shelf) {}
  FsSession(const FsSession&) = delete;
  FsSession& operator=(const FsSession&) = delete;

  Env& env() { return shelf_.env(); }
  Session& shelf() { return shelf_; }

  FsConfig config(HostId host = HostId(1)) const {
    FsConfig config;
    config.host = host;
    config.store = shelf_.config();
    config.node_cache_bytes = 2 * kMiB;
    config.dirty_bytes_max = 1 * kMiB;
    config.checkpoint_interval = std::chrono::seconds(3600);  // tests checkpoint explicitly
    return config;
  }

  Task<void> format() {
    const FormatOptions options;
    auto formatted = co_await FileSystem::format(shelf_.env(), config(), options);
    REQUIRE_MESSAGE(formatted.ok(), "format: " << why(formatted));
  }

  Task<Result<FileSystem*>> try_open(FsConfig config) {
    auto opened = co_await FileSystem::open(shelf_.env(), std::move(config));
    if (!opened.ok()) co_return std::move(opened).take_error();
    open_.push_back(std::move(opened).value());
    current_ = open_.back().get();
    co_return current_;
  }

  // Every test ends with fsck of the datastore through its newest owner (skipped by tests that
  // damage the shelf on purpose).
  bool final_fsck = true;
  Task<void> check_consistency() {
    if (!final_fsck || current_ == nullptr) co_return;
    auto report = co_await fsck(*current_);
    REQUIRE_MESSAGE(report.ok(), "fsck: " << why(report));
    for (const std::string& problem : report->problems) MESSAGE("fsck: " << problem);
    CHECK_MESSAGE(report->ok(), "fsck at the end of the test: " << report->summary());
  }
  Task<FileSystem*> open(FsConfig config) {
    auto opened = co_await try_open(std::move(config));
    REQUIRE_MESSAGE(opened.ok(), "open: " << why(opened));
    co_return *opened;
  }
  Task<FileSystem*> open() { co_return co_await open(config()); }

  // A clean restart: close, open again.
  Task<FileSystem*> restart(FileSystem* fs) {
    co_await fs->close();
    co_return co_await open();
  }
  // A crash: a new owner takes over while the old one still runs (and is fenced), then the old
  // one is closed (its close fails quietly against the fence).
  Task<FileSystem*> crash(FileSystem* fs) {
    FileSystem* reborn = co_await open();
    co_await fs->close();
    co_return reborn;
  }

  Task<void> close_all() {
    for (auto& fs : open_) co_await fs->close();
    open_.clear();
  }

 private:
  Session& shelf_;
  std::vector<std::unique_ptr<FileSystem>> open_;
  FileSystem* current_ = nullptr;
};

// Runs body with a formatted datastore on a served shelf (of the given shape).
template <class Body>
void with_fs(Body body, blockstore::bs_test::ShelfShape shape = {}) {
  Fixture f(shape);
  f.serve([&](Session& s) -> Task<void> {
    FsSession fs(s);
    co_await fs.format();
    std::exception_ptr failure;
    try {
      co_await body(fs);
      co_await fs.check_consistency();
    } catch (...) {
      failure = std::current_exception();
    }
    co_await fs.close_all();
    if (failure) std::rethrow_exception(failure);
  });
}

// The value of a result that must be ok; fails the test case with `what` and the error otherwise.
template <class T>
T value_or_fail(Result<T> result, const char* what) {
  REQUIRE_MESSAGE(result.ok(), what << ": " << why(result));
  return std::move(result).value();
}

}  // namespace splitarray::hostdriver::fs::fs_test
