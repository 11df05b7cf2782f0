#include "common/assert.h"

#include <cstdio>
#include <cstdlib>

namespace splitarray {

void assert_fail(const char* condition, const char* file, int line, const char* message) {
  std::fprintf(stderr, "ASSERT failed: %s at %s:%d%s%s\n", condition, file, line,
               message != nullptr ? ": " : "", message != nullptr ? message : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace splitarray
