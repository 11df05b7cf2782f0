// hostdriver: serves one datastore over NFS v3 (see host_config.h for the options).
// Prints the export's libnfs URL on its own line once it serves; SIGTERM or SIGINT stop it
// gracefully (calls in flight finish, the file system checkpoints and closes).
// Exit: 0 after a clean stop, 1 when it could not start, 2 usage, 3 stopped without its final
// checkpoint (the shelf failed, or was unreachable for --close-timeout): what the shelf
// acknowledged is safe in its NVRAM, and the next start replays it.
#include <utility>

#include <openssl/rand.h>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>

#include <unistd.h>

#include "common/env_asio/asio_env.h"
#include "common/env_asio/event_loop.h"
#include "hostdriver/service/host_driver.h"

namespace splitarray::hostdriver::service {
namespace {

constexpr int kExitUncleanStop = 3;  // see the header comment

// The handle key must be unguessable, so it comes from the OS's CSPRNG, not the Env's PRNG.
Result<nfs::HandleKey> fresh_key() {
  nfs::HandleKey key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return make_error(Code::kIo, "RAND_bytes failed");
  }
  return key;
}

Task<int> run(Env& env, HostConfig config, nfs::HandleKey key, asio::signal_set& signals) {
  auto started = co_await HostDriver::start(env, std::move(config), key);
  if (!started.ok()) {
    std::fprintf(stderr, "hostdriver: cannot start: %s\n", started.error().to_string().c_str());
    signals.cancel();
    co_return 1;
  }
  HostDriver& driver = **started;
  signals.async_wait([&driver](const boost::system::error_code& error, int) {
    if (!error) driver.stop();
  });
  std::printf("serving datastore %s\n%s\n", driver.config().fs.datastore.c_str(),
              export_url(driver.config()).c_str());
  std::fflush(stdout);
  co_await driver.serve();
  Result<void> closed = co_await driver.close();
  signals.cancel();
  if (!closed.ok()) {
    std::fprintf(stderr, "hostdriver: stopped without a final checkpoint: %s\n",
                 closed.error().to_string().c_str());
    co_return kExitUncleanStop;
  }
  std::printf("hostdriver stopped\n");
  co_return 0;
}

}  // namespace
}  // namespace splitarray::hostdriver::service

int main(int argc, char** argv) {
  using namespace splitarray;
  using namespace splitarray::hostdriver::service;
  auto config = parse_host_config(argc, argv);
  if (!config.ok()) {
    std::fprintf(stderr, "hostdriver: %s\n%s", config.error().message.c_str(),
                 host_usage().c_str());
    return 2;
  }
  auto key = fresh_key();
  if (!key.ok()) {
    std::fprintf(stderr, "hostdriver: %s\n", key.error().to_string().c_str());
    return 1;
  }
  char hostname[256] = {};
  if (gethostname(hostname, sizeof(hostname) - 1) == 0) config->label = hostname;
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io;
  int exit_code = 1;
  {
    AsioEnv asio_env(io, AsioEnvOptions{.log_level = LogLevel::kInfo, .component = "hostdriver"});
    asio::signal_set signals(io, SIGINT, SIGTERM);
    const Duration poll = config->poll;
    asio::co_spawn(io, run(asio_env.env(), std::move(config).value(), *key, signals),
                   [&exit_code](std::exception_ptr error, int code) {
                     if (error) std::rethrow_exception(error);
                     exit_code = code;
                   });
    run_event_loop(io, poll);
  }
  return exit_code;
}
