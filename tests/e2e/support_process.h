// tests/e2e/support_process.h
// Real child processes for end-to-end tests: spawn a program, kill it (SIGKILL or SIGTERM) and
// reap it, and wait for a TCP port to accept connections — bounded in time, never unbounded.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/assert.h"

extern char** environ;

namespace splitarray::testing {

class ChildProcess final {
 public:
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const std::string& log_path) {
    std::vector<std::string> argv_storage{program};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    const int rc = posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ASSERT_MSG(rc == 0, "posix_spawn failed");
  }
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Never kill(-1, ...) (every process this user may signal) once the child was reaped.
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // Waits for exit; returns the exit status (or 128 + signal number).
  int wait() {
    if (pid_ <= 0) return -1;  // already reaped: waitpid(-1) would reap some other child
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
  }

  bool exited() {
    int status = 0;
    return ::waitpid(pid_, &status, WNOHANG) == pid_ && (pid_ = -1, true);
  }

 private:
  pid_t pid_ = -1;
};

// Runs a program to completion; returns its exit status.
inline int run_program(const std::string& program, const std::vector<std::string>& args,
                       const std::string& log_path) {
  ChildProcess child(program, args, log_path);
  return child.wait();
}

}  // namespace splitarray::testing
