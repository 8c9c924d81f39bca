#pragma once

namespace chorus::loadgen {

// `chorus-loadgen [flags]`: simulated participants against a running Chorus (or Janus
// AudioBridge) server; prints the report as a table and, with --json, as JSON. Returns the
// process exit code: 0 when the run completed, 1 when set-up failed, 2 for a usage error.
int RunLoadgen(int argc, char** argv);

}  // namespace chorus::loadgen
