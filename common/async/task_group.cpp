#include "common/async/task_group.h"

#include <cstdio>
#include <stdexcept>

namespace splitarray::async {

void TaskGroup::on_task_exception(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "task threw: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "task threw a non-std exception\n");
  }
  UNREACHABLE("a spawned task threw; errors must be Result values");
}

}  // namespace splitarray::async
