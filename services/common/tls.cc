#include "services/common/tls.h"

#include "grpcpp/security/server_credentials.h"
#include "services/common/status.h"

namespace chorus::common {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerConfig& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();

  auto cert = ReadFileForFlag("--tls_cert", config.tls_cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFileForFlag("--tls_key", config.tls_key_file);
  if (!key.ok()) return key.status();

  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!config.tls_client_ca_file.empty()) {
    auto ca = ReadFileForFlag("--tls_client_ca", config.tls_client_ca_file);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request =
        config.require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                   : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  } else {
    options.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeMediaNodeClientCredentials(
    const ServerConfig& config) {
  if (config.tls_client_ca_file.empty() || config.tls_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "a controller reaches its media nodes over mutual TLS: give --tls_cert, --tls_key and "
        "--tls_client_ca (the CA that signs the nodes' certificates)");
  }
  grpc::SslCredentialsOptions options;
  auto ca = ReadFileForFlag("--tls_client_ca", config.tls_client_ca_file);
  if (!ca.ok()) return ca.status();
  auto cert = ReadFileForFlag("--tls_cert", config.tls_cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFileForFlag("--tls_key", config.tls_key_file);
  if (!key.ok()) return key.status();
  options.pem_root_certs = *ca;
  options.pem_cert_chain = *cert;
  options.pem_private_key = *key;
  return grpc::SslCredentials(options);
}

}  // namespace chorus::common
