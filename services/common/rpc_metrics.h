#pragma once

#include <memory>

#include "grpcpp/support/server_interceptor.h"
#include "prometheus/registry.h"

namespace chorus::common {

// Counts every RPC a server answers, in `registry`, as chorus_rpcs_total{service, method, code}:
// the service's and method's names as the proto declares them ("chorus.v1.Rooms", "JoinRoom") and
// the gRPC status code sent ("OK", "INVALID_ARGUMENT", ...). Labels are bounded: a method that is
// not in a compiled-in service (a client may send any path) counts as service and method
// "unknown". Nothing of a request is a label.
//
// Register it after ApiGuardInterceptors() so that it counts the status the guard sends. The
// registry must outlive the servers using the factory. Thread-safe.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> RpcMetricsInterceptor(
    prometheus::Registry& registry);

}  // namespace chorus::common
