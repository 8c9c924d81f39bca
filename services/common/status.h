#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/support/status.h"

namespace chorus::common {

// The one place where control-plane errors (absl::Status) become gRPC statuses: same canonical
// code, same message.
grpc::Status ToGrpcStatus(const absl::Status& status);
// And back, for a gRPC client's answer: the same canonical code and message.
absl::Status FromGrpcStatus(const grpc::Status& status);

// Reads a whole file (certificates, keys, token lists). NOT_FOUND or PERMISSION_DENIED with the
// flag and path in the message when it cannot.
absl::StatusOr<std::string> ReadFileForFlag(const std::string& flag, const std::string& path);

}  // namespace chorus::common
