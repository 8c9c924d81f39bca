#pragma once

#include <string_view>

namespace chorus::base {

// What this binary is: reported by the chorus_build_info metric, the startup log line and
// `chorusd --version`.
struct BuildInfo {
  std::string_view version;     // the project version, e.g. "0.1.0"
  std::string_view git_commit;  // short commit id, or "unknown" outside a git checkout
  std::string_view compiler;    // e.g. "gcc 12.2.0"
  bool sanitized;               // built with AddressSanitizer/UndefinedBehaviorSanitizer
};

const BuildInfo& GetBuildInfo();

}  // namespace chorus::base
