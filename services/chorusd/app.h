#pragma once

namespace chorus::chorusd {

// The whole of `chorusd <all|controller|media-node> [flags]`: parses and checks the flags, starts
// the gRPC server (health, reflection, the role's services) and the HTTP endpoint, serves until
// SIGTERM or SIGINT, drains, and returns the process exit code: 0 after a clean drain, 2 for a
// usage or configuration error, 1 when a listener cannot start.
int RunChorusd(int argc, char** argv);

}  // namespace chorus::chorusd
