#include "services/common/tls.h"

#include <algorithm>

#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "services/common/status.h"

namespace chorus::common {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerConfig& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();

  auto cert = ReadFileForFlag("--tls_cert", config.tls_cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFileForFlag("--tls_key", config.tls_key_file);
  if (!key.ok()) return key.status();

  if (!config.tls_client_ca_file.empty()) {
    auto ca = ReadFileForFlag("--tls_client_ca", config.tls_client_ca_file);
    if (!ca.ok()) return ca.status();
  }
  // The files are read now and again every tls_reload_interval: a renewed certificate (or CA
  // bundle) is served to new connections without a restart. A pair that does not match while
  // the files are being replaced is ignored until it does; the old pair stays in use.
  const auto interval = static_cast<unsigned int>(
      std::max<int64_t>(1, absl::ToInt64Seconds(config.tls_reload_interval)));
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      config.tls_key_file, config.tls_cert_file, config.tls_client_ca_file, interval);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!config.tls_client_ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(config.require_client_cert
                                      ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                      : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeMediaNodeClientCredentials(
    const ServerConfig& config) {
  // The internal PKI when given, else the public API's files (one PKI for both).
  const bool own_cert = !config.media_node_tls_cert_file.empty();
  const std::string ca_flag =
      config.media_node_tls_ca_file.empty() ? "--tls_client_ca" : "--media_node_tls_ca";
  const std::string& ca_file = config.media_node_tls_ca_file.empty()
                                   ? config.tls_client_ca_file
                                   : config.media_node_tls_ca_file;
  const std::string cert_flag = own_cert ? "--media_node_tls_cert" : "--tls_cert";
  const std::string key_flag = own_cert ? "--media_node_tls_key" : "--tls_key";
  const std::string& cert_file = own_cert ? config.media_node_tls_cert_file : config.tls_cert_file;
  const std::string& key_file = own_cert ? config.media_node_tls_key_file : config.tls_key_file;
  if (ca_file.empty() || cert_file.empty()) {
    return absl::InvalidArgumentError(
        "a controller reaches its media nodes over mutual TLS: give --media_node_tls_cert, "
        "--media_node_tls_key and --media_node_tls_ca (the cluster's PKI), or use the public "
        "API's --tls_cert, --tls_key and --tls_client_ca for both");
  }
  grpc::SslCredentialsOptions options;
  auto ca = ReadFileForFlag(ca_flag, ca_file);
  if (!ca.ok()) return ca.status();
  auto cert = ReadFileForFlag(cert_flag, cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFileForFlag(key_flag, key_file);
  if (!key.ok()) return key.status();
  options.pem_root_certs = *ca;
  options.pem_cert_chain = *cert;
  options.pem_private_key = *key;
  return grpc::SslCredentials(options);
}

}  // namespace chorus::common
