// common/assert.h
// ASSERT is always compiled, in release builds too (STYLE.md "Assertions"): a broken invariant is
// a bug, and continuing past it risks acknowledging data we cannot give back.
#pragma once

namespace splitarray {

[[noreturn]] void assert_fail(const char* condition, const char* file, int line,
                              const char* message);

}  // namespace splitarray

#define ASSERT(condition)                                                 \
  do {                                                                    \
    if (!(condition)) [[unlikely]]                                        \
      ::splitarray::assert_fail(#condition, __FILE__, __LINE__, nullptr); \
  } while (0)

// ASSERT_MSG adds a static explanation for the reader of a crash report.
#define ASSERT_MSG(condition, message)                                    \
  do {                                                                    \
    if (!(condition)) [[unlikely]]                                        \
      ::splitarray::assert_fail(#condition, __FILE__, __LINE__, message); \
  } while (0)

#define UNREACHABLE(message) ::splitarray::assert_fail("unreachable", __FILE__, __LINE__, message)
