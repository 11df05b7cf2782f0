// common/async/task_group.h
// TaskGroup owns spawned coroutines (STYLE.md: no orphaned detached tasks). The owner spawns into
// the group and must co_await join() before destroying it; the destructor asserts nothing is left.
// A task that throws is a bug (errors are Result values), so it aborts the process.
#pragma once

#include <cstddef>
#include <exception>

#include "common/async/notify.h"

namespace splitarray::async {

class TaskGroup {
 public:
  TaskGroup() = default;
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;
  ~TaskGroup() { ASSERT_MSG(live_ == 0, "TaskGroup destroyed with live tasks; join() first"); }

  template <class Executor>
  void spawn(const Executor& executor, Task<void> task) {
    ++live_;
    asio::co_spawn(executor, std::move(task), [this](std::exception_ptr error) {
      if (error) on_task_exception(error);
      ASSERT(live_ > 0);
      if (--live_ == 0) idle_.notify();
    });
  }

  size_t live() const { return live_; }

  // Resumes once every spawned task has finished.
  Task<void> join() {
    while (live_ > 0) co_await idle_.wait();
  }

 private:
  [[noreturn]] static void on_task_exception(std::exception_ptr error);

  size_t live_ = 0;
  Notify idle_;
};

}  // namespace splitarray::async
