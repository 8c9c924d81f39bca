#pragma once

namespace chorus::common {

// Sends gRPC's own diagnostics through chorus::base::Log as JSON lines (event "grpc"), keeping
// one log format for the whole process. gRPC's messages carry no request contents.
void RouteGrpcLogging();

}  // namespace chorus::common
