// safs: administer a datastore's file system from the command line.
//   safs format --shelf HOST:PORT [--datastore NAME] [--log-id N] [geometry]
//   safs fsck   --shelf HOST:PORT [--datastore NAME] [--no-data] [--no-fragments] [--no-listing]
//               [geometry]
//   geometry: [--block-size B] [--data-fragments K] [--parity-fragments M] [--fragment-bytes F]
//             (must match what the datastore's host driver uses; defaults are the defaults)
// fsck takes the datastore's lease like any new owner, so run it while no host driver serves the
// datastore (as with fsck on an unmounted file system): a running owner would be fenced.
// Exit: 0 clean / done, 1 problems found or the operation failed, 2 usage.
#include <utility>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/env_asio/asio_env.h"
#include "hostdriver/fs/file_system.h"
#include "hostdriver/fs/fsck.h"

namespace splitarray::hostdriver::fs {
namespace {

struct Args {
  std::string command;
  FsConfig config;
  FormatOptions format;
  FsckOptions fsck;
};

int usage(const char* message) {
  std::fprintf(stderr,
               "safs: %s\n"
               "usage: safs format --shelf HOST:PORT [--datastore NAME] [--log-id N] [geometry]\n"
               "       safs fsck --shelf HOST:PORT [--datastore NAME] [--no-data] "
               "[--no-fragments] [--no-listing] [geometry]\n"
               "geometry: [--block-size B] [--data-fragments K] [--parity-fragments M] "
               "[--fragment-bytes F]\n",
               message);
  return 2;
}

bool parse_u32(const char* text, uint32_t& out) {
  char* end = nullptr;
  const unsigned long value = std::strtoul(text, &end, 10);
  if (end == text || *end != '\0' || value > UINT32_MAX) return false;
  out = static_cast<uint32_t>(value);
  return true;
}

// Returns an error message, or nullptr when the arguments are good.
const char* parse(int argc, char** argv, Args& args) {
  if (argc < 2) return "no command";
  args.command = argv[1];
  if (args.command != "format" && args.command != "fsck") return "unknown command";
  bool shelf = false;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    auto number = [&](uint32_t& out) { return value != nullptr && parse_u32(value, out) && ++i; };
    if (arg == "--shelf" && value != nullptr) {
      auto address = Address::parse(value);
      if (!address.ok()) return "bad --shelf address";
      args.config.store.shelf = *address;
      shelf = true;
      ++i;
    } else if (arg == "--datastore" && value != nullptr) {
      args.config.datastore = value;
      ++i;
    } else if (arg == "--log-id") {
      if (!number(args.format.log_id)) return "bad --log-id";
    } else if (arg == "--block-size") {
      if (!number(args.config.store.block_size)) return "bad --block-size";
    } else if (arg == "--data-fragments") {
      if (!number(args.config.store.geometry.data_fragments)) return "bad --data-fragments";
    } else if (arg == "--parity-fragments") {
      if (!number(args.config.store.parity_fragments)) return "bad --parity-fragments";
    } else if (arg == "--fragment-bytes") {
      if (!number(args.config.store.geometry.fragment_payload_bytes)) return "bad --fragment-bytes";
    } else if (arg == "--no-data") {
      args.fsck.check_data = false;
    } else if (arg == "--no-fragments") {
      args.fsck.check_fragments = false;
    } else if (arg == "--no-listing") {
      args.fsck.check_listing = false;
    } else {
      return "unknown option";
    }
  }
  return shelf ? nullptr : "--shelf is required";
}

Task<int> run(Env& env, Args args) {
  if (args.command == "format") {
    auto formatted = co_await FileSystem::format(env, args.config, args.format);
    if (!formatted.ok()) {
      std::fprintf(stderr, "safs: format: %s\n", formatted.error().to_string().c_str());
      co_return 1;
    }
    std::printf("formatted datastore %s\n", args.config.datastore.c_str());
    co_return 0;
  }
  auto opened = co_await FileSystem::open(env, args.config);
  if (!opened.ok()) {
    std::fprintf(stderr, "safs: open: %s\n", opened.error().to_string().c_str());
    co_return 1;
  }
  auto report = co_await fsck(**opened, args.fsck);
  co_await (*opened)->close();
  if (!report.ok()) {
    std::fprintf(stderr, "safs: fsck: %s\n", report.error().to_string().c_str());
    co_return 1;
  }
  for (const std::string& problem : report->problems) std::printf("problem: %s\n", problem.c_str());
  std::printf("fsck %s: %s\n", args.config.datastore.c_str(), report->summary().c_str());
  co_return report->ok() ? 0 : 1;
}

}  // namespace
}  // namespace splitarray::hostdriver::fs

int main(int argc, char** argv) {
  using namespace splitarray;
  hostdriver::fs::Args args;
  if (const char* problem = hostdriver::fs::parse(argc, argv, args)) {
    return hostdriver::fs::usage(problem);
  }
  asio::io_context io;
  int exit_code = 1;
  {
    AsioEnv asio_env(io, AsioEnvOptions{.log_level = LogLevel::kWarn, .component = "safs"});
    asio::co_spawn(io, hostdriver::fs::run(asio_env.env(), std::move(args)),
                   [&exit_code](std::exception_ptr error, int code) {
                     if (error) std::rethrow_exception(error);
                     exit_code = code;
                   });
    io.run();
  }
  return exit_code;
}
