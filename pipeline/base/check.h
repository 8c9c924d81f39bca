#pragma once

// Invariant checks (STYLE.md, errors tier 3). Never use them on untrusted input: bad network
// input, API arguments and configuration are reported as errors or counted drops instead.
//
// CHORUS_CHECK(cond) is always on and aborts the process with a log line naming the place.
// CHORUS_DCHECK(cond) is the same in debug builds and compiles to nothing under NDEBUG.

namespace chorus::base::internal {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace chorus::base::internal

#define CHORUS_CHECK(cond)                                              \
  do {                                                                  \
    if (!(cond)) [[unlikely]] {                                         \
      ::chorus::base::internal::CheckFailed(#cond, __FILE__, __LINE__); \
    }                                                                   \
  } while (false)

#ifdef NDEBUG
#define CHORUS_DCHECK(cond) \
  do {                      \
    (void)sizeof(cond);     \
  } while (false)
#else
#define CHORUS_DCHECK(cond) CHORUS_CHECK(cond)
#endif
