// common/env.h
// Env: the one door for nondeterminism (STYLE.md principle 2, DESIGN.md §12). All time,
// randomness, network, storage, CPU offload and fault decisions go through the interfaces here.
// Production binds them to Boost.Asio, real sockets, files and threads (common/env_asio/); sim/
// binds a single-threaded discrete-event implementation that runs many nodes in one process.
//
// Threading: every interface is used from the Env's event loop (`io`) only. Completions resume
// there; the compute pool, the blocking-I/O pool and the bulk-send threads of the network
// (asio_network.h) post their results back to it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/asio.h"
#include "common/log.h"
#include "common/prng.h"
#include "common/result.h"
#include "common/unique_function.h"
#include "common/units.h"

namespace splitarray {

// ---------------------------------------------------------------------------------------------
// Clock and timers.

using TimerId = uint64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // Calendar time for file timestamps; never used to measure intervals (it may jump).
  virtual WallTime wall_now() const = 0;
  // Runs fn on the event loop at or after `when`, unless cancelled first. Returns an id > 0.
  virtual TimerId call_at(TimePoint when, UniqueFunction<void()> fn) = 0;
  // Cancelling a timer that already fired or was cancelled is a no-op.
  virtual void cancel(TimerId id) = 0;
};

// Suspends the calling coroutine for `duration` of Env time.
Task<void> sleep_for(Clock& clock, Duration duration);

// ---------------------------------------------------------------------------------------------
// Network: TCP-like reliable, ordered byte streams.

struct Address {
  std::string host;  // an IP literal; "localhost" means 127.0.0.1
  uint16_t port = 0;

  std::string to_string() const;
  // Parses "host:port" (IPv4 literal or "localhost"; "[v6]:port" for IPv6).
  static Result<Address> parse(std::string_view text);
  friend bool operator==(const Address&, const Address&) = default;
};

class Stream {
 public:
  virtual ~Stream() = default;
  // Reads at least one byte and at most out.size() (out must not be empty); returns the count.
  // A peer close is kUnavailable; a local close() is kCancelled.
  virtual Task<Result<size_t>> read_some(std::span<uint8_t> out) = 0;
  // Fills `out` completely; errors as read_some.
  virtual Task<Result<void>> read_exact(std::span<uint8_t> out) = 0;
  // Writes every buffer, in order, completely. At most one write_all may be outstanding.
  virtual Task<Result<void>> write_all(std::span<const std::span<const uint8_t>> buffers) = 0;
  // Stops reading: a pending and every later read_exact completes (kUnavailable) while writes
  // may still drain. Used for graceful shutdown.
  virtual void shutdown_read() = 0;
  // Closes both directions; pending operations complete with an error. Idempotent.
  virtual void close() = 0;
  virtual Address peer_address() const = 0;
};

class Listener {
 public:
  virtual ~Listener() = default;
  // Next incoming connection; kCancelled after close().
  virtual Task<Result<std::unique_ptr<Stream>>> accept() = 0;
  virtual Address local_address() const = 0;
  virtual void close() = 0;
};

class Network {
 public:
  virtual ~Network() = default;
  // Port 0 picks a free port (see Listener::local_address()).
  virtual Result<std::unique_ptr<Listener>> listen(const Address& address) = 0;
  virtual Task<Result<std::unique_ptr<Stream>>> connect(const Address& address,
                                                        Duration timeout) = 0;
};

// ---------------------------------------------------------------------------------------------
// Storage: files and block devices with explicit durability.

struct FileOptions {
  bool create = false;             // create if missing (and make its directory entry durable)
  uint64_t create_size_bytes = 0;  // when creating: size to extend the new file to
};

class File {
 public:
  virtual ~File() = default;
  // Reads exactly out.size() bytes at offset; a short read (past the end) is kIo.
  virtual Task<Result<void>> read_at(uint64_t offset, std::span<uint8_t> out) = 0;
  // Writes all of data at offset. Not durable until flush() succeeds.
  virtual Task<Result<void>> write_at(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Makes every completed write durable (fdatasync). A failed flush marks the file failed:
  // the kernel may have dropped the dirty pages, so a later "successful" flush proves nothing.
  // Every later operation on a failed file is kIo.
  virtual Task<Result<void>> flush() = 0;
  virtual Result<uint64_t> size() const = 0;
  virtual bool failed() const = 0;
  virtual const std::string& path() const = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;
  virtual Task<Result<std::unique_ptr<File>>> open(const std::string& path,
                                                   FileOptions options) = 0;
  // Atomically replaces `to` with `from` and makes the rename durable (directory flushed).
  virtual Task<Result<void>> rename(const std::string& from, const std::string& to) = 0;
  // Removes the file durably; kNotFound if it does not exist.
  virtual Task<Result<void>> remove(const std::string& path) = 0;
  // Creates a directory (and missing parents) durably; an existing directory is fine.
  virtual Task<Result<void>> make_directory(const std::string& path) = 0;
};

// ---------------------------------------------------------------------------------------------
// Compute pool: CPU-heavy work (SHA-256, zstd, ISA-L) off the event loop.

class ComputePool {
 public:
  virtual ~ComputePool() = default;
  // Runs `work` (possibly on another thread), then runs `done` on the event loop.
  // `work` must touch only what it owns or what the caller keeps alive until `done`.
  virtual void submit(UniqueFunction<void()> work, UniqueFunction<void()> done) = 0;
  virtual size_t threads() const = 0;
};

// ---------------------------------------------------------------------------------------------
// Fault points (DESIGN.md §12). Production's implementation always answers false.

// Disk and network sites are fired inside the simulated Env itself (sim/env/); kProcessCrash is
// for product code at its persistence points.
enum class FaultSite : uint16_t {
  kDiskReadError,
  kDiskWriteError,
  kDiskFlushError,
  kDiskBitRot,
  kDiskTornWrite,  // at a crash, an unflushed write lands torn (a sector-aligned prefix)
  kDiskLostWrite,
  kDiskMisdirectedWrite,
  kDiskHang,
  kNetDrop,
  kNetDuplicate,
  kNetReorder,
  kNetDelay,
  kNetReset,
  kNetPartition,
  kProcessCrash,
  kCount,
};
inline constexpr size_t kFaultSiteCount = static_cast<size_t>(FaultSite::kCount);
std::string_view fault_site_name(FaultSite site);

class FaultPoints {
 public:
  virtual ~FaultPoints() = default;
  virtual bool fire(FaultSite site) = 0;
};

class NoFaults final : public FaultPoints {
 public:
  bool fire(FaultSite /*site*/) override { return false; }
};

// ---------------------------------------------------------------------------------------------
// Env bundles the above for one node. It owns nothing but its rng; the implementation that
// created it (AsioEnv, SimEnv) owns the parts and outlives every user of the Env.

struct Env {
  asio::io_context& io;
  Clock& clock;
  Network& network;
  Storage& storage;
  ComputePool& compute;
  FaultPoints& faults;
  Logger log;
  Prng rng;

  asio::io_context::executor_type executor() { return io.get_executor(); }
};

}  // namespace splitarray
