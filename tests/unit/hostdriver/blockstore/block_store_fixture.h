// tests/unit/hostdriver/blockstore/block_store_fixture.h
// Scaffolding for the block store tests: a REAL shelf (12 file-backed disks with 64 KiB slots, an
// NVRAM file, an index directory and a register log, formatted in a temporary directory) opened
// and served in-process by RpcServer + ShelfHandler on 127.0.0.1:0, and BlockStores talking to it
// over loopback TCP on the same io_context. The geometry is small so that tests fill several
// containers quickly: 4 KiB blocks, RS(8,2) with 64 KiB fragment payloads (512 KiB containers).
//
// A Session (what a test body gets while the shelf is served) owns every BlockStore it opens and
// closes them when the body ends, also when a REQUIRE threw, so a failing test fails instead of
// hanging or aborting. Helpers at the bottom find a fragment's slot in a disk file so tests can rot
// or misdirect bytes behind the shelf's back.
#pragma once

#include <utility>  // before any Asio header (STYLE.md, Boost 1.74 + GCC 12)

#include "tests/support/temp_dir.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/async/task_group.h"
#include "common/env_asio/asio_env.h"
#include "common/prng.h"
#include "hostdriver/blockstore/block_store.h"
#include "netshelf/disk/disk_format.h"
#include "netshelf/service/shelf.h"
#include "netshelf/service/shelf_handler.h"
#include "protocol/rpc_server.h"
#include "protocol/shelf_client.h"
#include "tests/support/run.h"

namespace splitarray::hostdriver::blockstore::bs_test {

using netshelf::Shelf;
using protocol::FragmentId;
using protocol::ShelfClient;

inline constexpr uint32_t kBlockBytes = 4096;
inline constexpr uint32_t kDataFragments = 8;
inline constexpr uint32_t kParityFragments = 2;
inline constexpr uint32_t kStripeFragments = kDataFragments + kParityFragments;
inline constexpr uint32_t kFragmentPayloadBytes = 64 * 1024;
inline constexpr size_t kTestDisks = 12;
inline constexpr uint64_t kTestClusterId = 41;
inline constexpr uint32_t kTestShelfId = 3;
inline constexpr uint64_t kDefaultSeed = 20261121;

static_assert(kStripeFragments <= kTestDisks);

// How big the shelf is. Disk files are sparse, so 16 MiB each costs only what is written.
struct ShelfShape {
  uint64_t disk_bytes = 16 * kMiB;  // the shelf's minimum
  uint64_t nvram_bytes = 16 * kMiB;
  uint32_t nvram_hosts = 4;  // each host's ring is about nvram_bytes / nvram_hosts
};

// --- results ---------------------------------------------------------------------------------

template <class T>
std::string why(const Result<T>& result) {
  return result.ok() ? std::string("ok") : result.error().to_string();
}

// True when `result` is an error with `code`.
template <class T>
bool failed_with(const Result<T>& result, Code code) {
  return !result.ok() && result.code() == code;
}

// --- seeds and data --------------------------------------------------------------------------

// The seeds of a randomized test: SPLITARRAY_SEED alone when set, else `defaults`.
// Each seed is printed by the test that uses it.
inline std::vector<uint64_t> test_seeds(std::vector<uint64_t> defaults) {
  const char* text = std::getenv("SPLITARRAY_SEED");
  if (text != nullptr) return {std::strtoull(text, nullptr, 10)};
  return defaults;
}

inline std::vector<uint8_t> random_bytes(Prng& rng, size_t length) {
  std::vector<uint8_t> bytes(length);
  rng.fill(bytes);
  return bytes;
}

// Text-like bytes that zstd-1 compresses well (about 3-5x): words from a small vocabulary and
// decimal numbers, so two calls rarely produce the same block.
inline std::vector<uint8_t> compressible_bytes(Prng& rng, size_t length) {
  static constexpr const char* kWords[] = {
      "block ", "store ", "shelf ", "fragment ", "container ", "stripe ", "parity ", "dedup ",
      "chunk ", "epoch ", "NVRAM ", "host ",     "disk ",      "the ",    "and ",    "of "};
  std::vector<uint8_t> out;
  out.reserve(length + 16);
  while (out.size() < length) {
    if (rng.chance(0.15)) {
      const std::string number = std::to_string(rng.below(100000)) + "\n";
      out.insert(out.end(), number.begin(), number.end());
    } else {
      const std::string_view word = kWords[rng.below(std::size(kWords))];
      out.insert(out.end(), word.begin(), word.end());
    }
  }
  out.resize(length);
  return out;
}

// "equal", or where and how two buffers first differ (for assertion messages).
inline std::string first_difference(const std::vector<uint8_t>& got,
                                    const std::vector<uint8_t>& want) {
  if (got == want) return "equal";
  std::ostringstream out;
  if (got.size() != want.size()) {
    out << "size " << got.size() << " != " << want.size() << "; ";
  }
  const size_t n = std::min(got.size(), want.size());
  for (size_t i = 0; i < n; ++i) {
    if (got[i] != want[i]) {
      out << "first difference at byte " << i << " (block " << i / kBlockBytes << "): got "
          << int(got[i]) << " want " << int(want[i]);
      break;
    }
  }
  return out.str();
}

inline bool all_zero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

// --- the served shelf --------------------------------------------------------------------------

class Fixture;

// What a test body gets while the shelf is served.
class Session {
 public:
  Session(Fixture& fixture, Shelf& shelf, Address address)
      : fixture_(fixture), shelf_(shelf), address_(std::move(address)) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Env& env();
  Shelf& shelf() { return shelf_; }
  const Address& address() const { return address_; }
  std::string disk_path(DiskIndex disk) const;

  // The tests' block store configuration: the small geometry, this shelf, `host` and `epoch`.
  BlockStoreConfig config(HostId host = HostId(1), Epoch epoch = Epoch(1)) const {
    BlockStoreConfig config;
    config.host = host;
    config.epoch = epoch;
    config.shelf = address_;
    config.block_size = kBlockBytes;
    config.geometry = container::ContainerGeometry{kDataFragments, kFragmentPayloadBytes};
    config.parity_fragments = kParityFragments;
    config.bloom_expected_entries = uint64_t{1} << 16;
    config.recent_fps = 4096;
    config.read_cache_bytes = 4 * kMiB;
    config.log_queue_bytes_max = 4 * kMiB;
    config.shelf_timeout = std::chrono::seconds(30);
    return config;
  }

  Task<Result<BlockStore*>> try_open(BlockStoreConfig config) {
    auto opened = co_await BlockStore::open(env(), std::move(config));
    if (!opened.ok()) co_return std::move(opened).take_error();
    stores_.push_back(std::move(opened).value());
    co_return stores_.back().get();
  }

  // Opens a block store (the test fails unless it opens); the session closes it at the end.
  Task<BlockStore*> open(BlockStoreConfig config) {
    auto opened = co_await try_open(std::move(config));
    REQUIRE_MESSAGE(opened.ok(), "BlockStore::open: " << why(opened));
    co_return *opened;
  }

  // A clean host restart: close `store`, then open the same host with the next epoch.
  Task<BlockStore*> restart(BlockStore* store) {
    BlockStoreConfig next = store->config();
    next.epoch = Epoch(next.epoch.value() + 1);
    co_await store->close();
    co_return co_await open(std::move(next));
  }

  // A host crash: a new incarnation of the same host opens with the next epoch while `store` is
  // still running (its queued but unacknowledged work, open container and memory are simply not
  // there for the new one). The new open fences the old instance, which is then closed (its
  // close fails quietly against the fence) and never used again.
  Task<BlockStore*> crash_restart(BlockStore* store) {
    BlockStoreConfig next = store->config();
    next.epoch = Epoch(next.epoch.value() + 1);
    BlockStore* reborn = co_await open(std::move(next));
    co_await store->close();
    co_return reborn;
  }

  // A plain shelf client (connected once, closed with the session) for fragment surgery.
  Task<ShelfClient*> admin() {
    if (!admin_) {
      auto client = co_await ShelfClient::connect(env(), address_);
      REQUIRE_MESSAGE(client.ok(), "connect: " << why(client));
      admin_ = std::move(client).value();
    }
    co_return admin_.get();
  }

  // Closes every store (close is idempotent) and the admin client.
  Task<void> close_all() {
    for (auto& store : stores_) co_await store->close();
    stores_.clear();
    if (admin_) co_await admin_->close();
    admin_.reset();
  }

 private:
  Fixture& fixture_;
  Shelf& shelf_;
  Address address_;
  std::vector<std::unique_ptr<BlockStore>> stores_;
  std::unique_ptr<ShelfClient> admin_;
};

using SessionBody = std::function<Task<void>(Session&)>;

// SPLITARRAY_TEST_LOG=debug|info|warn|error shows the store's and the shelf's logs (off by
// default).
inline LogLevel test_log_level() {
  LogLevel level = LogLevel::kOff;
  const char* text = std::getenv("SPLITARRAY_TEST_LOG");
  if (text != nullptr && !parse_log_level(text, &level)) level = LogLevel::kOff;
  return level;
}

inline netshelf::ShelfConfig test_shelf_config(const std::string& dir, const ShelfShape& shape) {
  netshelf::ShelfConfig config;
  config.cluster_id = ClusterId(kTestClusterId);
  config.shelf_id = ShelfId(kTestShelfId);
  config.listen = Address{"127.0.0.1", 0};
  for (size_t i = 0; i < kTestDisks; ++i) {
    config.disks.push_back(
        netshelf::DiskConfig{dir + "/disk" + std::to_string(i), shape.disk_bytes});
  }
  config.slot_payload_bytes = kFragmentPayloadBytes;
  config.nvram = netshelf::NvramConfigFile{dir + "/nvram", shape.nvram_bytes, shape.nvram_hosts};
  config.index_dir = dir + "/index";
  config.registers_path = dir + "/registers.log";
  config.log_level = test_log_level();
  return config;
}

class Fixture {
 public:
  explicit Fixture(ShelfShape shape = {})
      : asio_env(io, AsioEnvOptions{.compute_threads = 2,
                                    .blocking_io_threads = 4,
                                    .log_level = test_log_level(),
                                    .component = "blockstore-test",
                                    .seed = 20261121}),
        dir("sa-bstore"),
        shelf_config(test_shelf_config(dir.path, shape)) {
    splitarray::testing::run_task(io, format_shelf());
  }

  Env& env() { return asio_env.env(); }

  // Opens the shelf, serves it while `body` runs, then closes every block store the body opened,
  // stops the server and closes the shelf. Two calls in a row are a shelf restart.
  void serve(SessionBody body) { splitarray::testing::run_task(io, serve_task(std::move(body))); }

  asio::io_context io;
  AsioEnv asio_env;
  splitarray::testing::TempDir dir;
  netshelf::ShelfConfig shelf_config;

 private:
  Task<void> format_shelf() {
    auto formatted = co_await Shelf::format(env(), shelf_config, false);
    REQUIRE_MESSAGE(formatted.ok(), why(formatted));
  }

  Task<void> serve_task(SessionBody body) {
    auto opened = co_await Shelf::open(env(), shelf_config);
    REQUIRE_MESSAGE(opened.ok(), why(opened));
    std::unique_ptr<Shelf> shelf = std::move(opened).value();
    netshelf::ShelfHandler handler(env(), *shelf);
    protocol::RpcServer server(env(), handler, protocol::RpcServerOptions{});
    const Address listen_at{"127.0.0.1", 0};
    Result<Address> bound = server.listen(listen_at);
    if (!bound.ok()) {
      co_await shelf->close();
      FAIL("listen: " << why(bound));
    }
    async::TaskGroup tasks;
    tasks.spawn(env().executor(), server.serve());
    std::exception_ptr failure;
    {
      Session session(*this, *shelf, *bound);
      try {
        co_await body(session);
      } catch (...) {
        failure = std::current_exception();
      }
      co_await session.close_all();
    }
    server.stop();
    co_await tasks.join();
    co_await shelf->close();
    if (failure) std::rethrow_exception(failure);
  }
};

inline Env& Session::env() { return fixture_.env(); }
inline std::string Session::disk_path(DiskIndex disk) const {
  return fixture_.shelf_config.disks.at(disk.value()).path;
}

// --- store helpers -----------------------------------------------------------------------------

inline Task<std::vector<uint8_t>> read_ok(BlockStore& store, InodeId inode, uint64_t offset,
                                          uint32_t length) {
  auto got = co_await store.read(inode, offset, length);
  REQUIRE_MESSAGE(got.ok(), "read inode " << inode.value() << " offset " << offset << " length "
                                          << length << ": " << why(got));
  co_return std::move(got).value();
}

inline Task<void> write_ok(BlockStore& store, InodeId inode, uint64_t offset,
                           const std::vector<uint8_t>& data,
                           Stability stability = Stability::kDataSync) {
  auto wrote = co_await store.write(inode, offset, data, stability);
  REQUIRE_MESSAGE(wrote.ok(), "write inode " << inode.value() << " offset " << offset << " length "
                                             << data.size() << ": " << why(wrote));
}

// Polls `done` every millisecond of the Env clock until it holds or `deadline` passes (for work
// the store does in the background, e.g. a repair scheduled by a degraded read).
inline Task<bool> wait_until(Env& env, std::function<bool()> done,
                             Duration deadline = std::chrono::seconds(20)) {
  const TimePoint until = env.clock.now() + deadline;
  while (!done()) {
    if (env.clock.now() >= until) co_return false;
    co_await sleep_for(env.clock, std::chrono::milliseconds(1));
  }
  co_return true;
}

// Waits for every task of `group` for at most `deadline` of Env time. Tasks still running then
// mean the store hangs: the test fails naming `what` and the process aborts, since a hung
// coroutine can be neither cancelled nor destroyed (better than waiting for ctest's timeout).
// Tasks in the group must record failures instead of throwing (a REQUIRE would abort anyway).
inline Task<void> join_within(Env& env, async::TaskGroup& group, Duration deadline,
                              std::function<std::string()> what) {
  const std::function<bool()> done = [&group] { return group.live() == 0; };
  const bool finished = co_await wait_until(env, done, deadline);
  if (!finished) {
    FAIL_CHECK("HANG: " << what() << " (still running after "
                        << std::chrono::duration_cast<std::chrono::seconds>(deadline).count()
                        << " s)");
    std::abort();
  }
  co_await group.join();
}

inline Task<void> destage_into(BlockStore* store, std::optional<Result<void>>* outcome) {
  *outcome = co_await store->destage_all();
}

// destage_all() that fails the test (and aborts, see join_within) if it hangs.
inline Task<void> destage_within(Env& env, BlockStore& store,
                                 Duration deadline = std::chrono::seconds(30)) {
  std::optional<Result<void>> outcome;
  async::TaskGroup group;
  group.spawn(env.executor(), destage_into(&store, &outcome));
  const std::function<std::string()> what = [&store] {
    const BlockStoreStats stats = store.stats();
    std::ostringstream out;
    out << "destage_all: sealed " << stats.containers_sealed << ", destaged "
        << stats.containers_destaged << ", written degraded " << stats.stripes_written_degraded;
    return out.str();
  };
  co_await join_within(env, group, deadline, what);
  REQUIRE(outcome.has_value());
  REQUIRE_MESSAGE(outcome->ok(), "destage_all: " << why(*outcome));
}

// --- fragments on the shelf ----------------------------------------------------------------------

// The stored fragment (container, index) on `disk`, with its generation, if any.
inline std::optional<FragmentId> stored_fragment(Shelf& shelf, DiskIndex disk,
                                                 ContainerId container, uint32_t index) {
  auto member = shelf.disks().disk(disk);
  if (!member.ok()) return std::nullopt;
  for (const FragmentId& id : (*member)->list()) {
    if (id.container == container && id.index == index) return id;
  }
  return std::nullopt;
}

inline protocol::FragmentIdValue id_value(const FragmentId& id) {
  return protocol::FragmentIdValue{id.container.value(), id.index, id.generation};
}

// Which data fragment holds a chunk, and where in that fragment's payload.
inline uint32_t fragment_of(const ChunkLocation& location) {
  return location.offset / kFragmentPayloadBytes;
}
inline uint32_t offset_in_fragment(const ChunkLocation& location) {
  return location.offset % kFragmentPayloadBytes;
}

// --- disk files (the shelf's on-disk format, netshelf/disk/README.md) ----------------------------

inline std::vector<uint8_t> read_file_range(const std::string& path, uint64_t offset, size_t n) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  in.seekg(static_cast<std::streamoff>(offset));
  std::vector<uint8_t> out(n);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n));
  REQUIRE_MESSAGE(in.good(), "short read of " << path << " at " << offset);
  return out;
}

inline void write_file_range(const std::string& path, uint64_t offset,
                             std::span<const uint8_t> bytes) {
  std::fstream io(path, std::ios::binary | std::ios::in | std::ios::out);
  REQUIRE(io.good());
  io.seekp(static_cast<std::streamoff>(offset));
  io.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  io.flush();
  REQUIRE_MESSAGE(io.good(), "write of " << path << " at " << offset);
}

// Where fragment `id` (container and index; the newest entry wins) lives in a disk file: the
// offset of its slot and the slot size. Reads the superblock and the slot table the way the
// shelf does at startup; the shelf's own writes go through the same page cache, so this works
// while the shelf is serving.
struct SlotLocation {
  uint64_t slot_offset = 0;
  uint64_t slot_bytes = 0;
  uint64_t payload_offset() const { return slot_offset + netshelf::kSlotPageSize; }
};

inline SlotLocation locate_slot(const std::string& disk_path, const FragmentId& id) {
  const std::vector<uint8_t> sb_bytes =
      read_file_range(disk_path, netshelf::kSuperblockOffsetA, netshelf::kSuperblockSize);
  auto sb = netshelf::decode_superblock(sb_bytes);
  REQUIRE_MESSAGE(sb.ok(), "superblock of " << disk_path << ": " << why(sb));
  const netshelf::DiskGeometry& geometry = sb->geometry;
  const std::vector<uint8_t> table =
      read_file_range(disk_path, geometry.table_entry_offset(0),
                      size_t{geometry.slot_count} * netshelf::kTableEntrySize);
  std::optional<netshelf::TableEntry> best;
  for (uint32_t slot = 0; slot < geometry.slot_count; ++slot) {
    const std::span<const uint8_t> bytes(table.data() + size_t{slot} * netshelf::kTableEntrySize,
                                         netshelf::kTableEntrySize);
    const netshelf::DecodedEntry entry = netshelf::decode_table_entry(
        bytes, slot, sb->format_nonce, geometry.slot_payload_max_bytes);
    if (entry.kind != netshelf::EntryKind::kUsed) continue;
    if (entry.entry.id.container != id.container || entry.entry.id.index != id.index) continue;
    if (!best || entry.entry.sequence > best->sequence) best = entry.entry;
  }
  REQUIRE_MESSAGE(best.has_value(), "no slot holds " << id.to_string() << " in " << disk_path);
  return SlotLocation{geometry.slot_offset(best->slot), geometry.slot_size_bytes};
}

}  // namespace splitarray::hostdriver::blockstore::bs_test
