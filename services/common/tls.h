#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "services/common/server_config.h"

namespace chorus::common {

// Server credentials for the gRPC listener: TLS from the certificate files of the configuration
// (verifying client certificates when a client CA is given, requiring them when asked), or
// plaintext when the configuration has no certificate (only valid with --dev, on loopback; see
// ValidateServerConfig). Fails with the file and the reason when a file cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerConfig& config);

// Client credentials of a controller towards its media nodes: mutual TLS with this server's own
// certificate and key, trusting the CA of --tls_client_ca (the cluster's CA).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeMediaNodeClientCredentials(
    const ServerConfig& config);

}  // namespace chorus::common
