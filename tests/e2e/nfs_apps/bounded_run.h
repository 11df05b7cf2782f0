// tests/e2e/nfs_apps/bounded_run.h
// Running programs from the application tests with every wait bounded: commands run under
// timeout(1), and waiting for a condition (a port, a mount, a line in a log) polls it until a
// deadline. Nothing here sleeps to let time pass for its own sake.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace splitarray::testing {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Ran {
  int status = -1;     // exit status; kTimedOut when timeout(1) had to stop the command
  std::string output;  // stdout and stderr, interleaved
  bool ok() const { return status == 0; }
};

inline constexpr int kTimedOut = 124;  // timeout(1)'s exit status

// Runs argv (argv[0] looked up in PATH) with stdout and stderr to `log_path`, a regular file
// (replaced if it exists; a special file such as /dev/null is refused);
// after `limit` it gets SIGTERM, and SIGKILL 10 s later.
Ran run_bounded(const std::vector<std::string>& argv, const std::string& log_path, seconds limit);

// Runs `script` with `sh -ec` (so it stops at the first failing command) in the same way.
Ran run_script(const std::string& script, const std::string& log_path, seconds limit);

// Polls `done` every `poll` until it returns true (-> true) or `limit` has passed (-> false).
bool wait_until(const std::function<bool()>& done, milliseconds limit,
                milliseconds poll = milliseconds(20));

// "status N: <last lines of output>" for failure messages.
std::string describe(const Ran& ran, size_t lines = 40);
std::string last_lines(const std::string& text, size_t lines);
std::string slurp(const std::string& path);

// The value of the first output line "key=value", or "" when there is none.
std::string output_value(const std::string& output, const std::string& key);

// A TCP port on 127.0.0.1 that was free a moment ago.
uint16_t free_port();
// True if a TCP connection to 127.0.0.1:port is accepted.
bool port_accepts(uint16_t port);
// True if `mountpoint` (an absolute path without spaces) is in /proc/self/mountinfo.
bool is_mounted(const std::string& mountpoint);

}  // namespace splitarray::testing
