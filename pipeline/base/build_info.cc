#include "pipeline/base/build_info.h"

#include "pipeline/base/build_info_values.h"

namespace chorus::base {
namespace {

#define CHORUS_STR2(x) #x
#define CHORUS_STR(x) CHORUS_STR2(x)

#if defined(__clang__)
constexpr std::string_view kCompiler = "clang " CHORUS_STR(__clang_major__) "." CHORUS_STR(
    __clang_minor__) "." CHORUS_STR(__clang_patchlevel__);
#elif defined(__GNUC__)
constexpr std::string_view kCompiler =
    "gcc " CHORUS_STR(__GNUC__) "." CHORUS_STR(__GNUC_MINOR__) "." CHORUS_STR(__GNUC_PATCHLEVEL__);
#else
constexpr std::string_view kCompiler = "unknown";
#endif

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

}  // namespace

const BuildInfo& GetBuildInfo() {
  static const BuildInfo info{CHORUS_VERSION_STRING, CHORUS_GIT_COMMIT_STRING, kCompiler,
                              kSanitized};
  return info;
}

}  // namespace chorus::base
