#pragma once

namespace chorus::chorusctl {

// `chorusctl [flags] <command> [arguments]`, the command-line client of the public API.
// Returns the process exit code: 0 on success, 1 when the call failed or the answer is a failure
// (for example health NOT_SERVING), 2 for a usage error.
int RunChorusctl(int argc, char** argv);

}  // namespace chorus::chorusctl
