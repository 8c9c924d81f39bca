#include "services/common/server_config.h"

#include <arpa/inet.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chorus::common {
namespace {

absl::Status CheckLoopback(const std::string& flag, const std::string& host) {
  if (IsLoopbackHost(host)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--dev allows plaintext only on loopback addresses, but ", flag, " is on '", host,
      "'. Use 127.0.0.1 (or ::1), or run without --dev and give --tls_cert and --tls_key."));
}

bool IsIpLiteral(std::string_view host) {
  std::string text(host);
  in_addr v4;
  in6_addr v6;
  return inet_pton(AF_INET, text.c_str(), &v4) == 1 || inet_pton(AF_INET6, text.c_str(), &v6) == 1;
}

// Letters, digits and hyphens in dot-separated labels of 1 to 63 characters (RFC 1123).
bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      if (label == 0 || label > 63 || host[i - 1] == '-' || host[i - label] == '-') return false;
      label = 0;
      continue;
    }
    const char c = host[i];
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    ++label;
  }
  return true;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAll:
      return "all";
    case Role::kController:
      return "controller";
    case Role::kMediaNode:
      return "media-node";
  }
  return "unknown";
}

absl::StatusOr<Role> ParseRole(std::string_view text) {
  for (Role role : {Role::kAll, Role::kController, Role::kMediaNode}) {
    if (text == RoleName(role)) return role;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown role '", std::string(text),
                                                 "': expected one of all, controller, media-node"));
}

bool ServesPublicApi(Role role) { return role == Role::kAll || role == Role::kController; }
bool RunsMedia(Role role) { return role == Role::kAll || role == Role::kMediaNode; }

absl::StatusOr<HostPort> ParseHostPort(std::string_view text_view, bool allow_names) {
  const std::string text(text_view);
  HostPort result;
  std::string port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' is not host:port (IPv6 addresses look like [::1]:7700)"));
    }
    result.host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' is not host:port (for example 127.0.0.1:7700)"));
    }
    result.host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  uint32_t port = 0;
  if (result.host.empty() || !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not host:port with a port from 0 to 65535"));
  }
  if (allow_names && IsDnsName(result.host)) {
    result.port = static_cast<uint16_t>(port);
    return result;
  }
  if (result.host != "localhost" && !IsIpLiteral(result.host)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "': the host must be an IP address or localhost, not a name to resolve"));
  }
  result.port = static_cast<uint16_t>(port);
  return result;
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  std::string text(host);
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  }
  return false;
}

// The web listener faces patients' browsers: TLS, except in development on loopback.
static absl::Status CheckWebConfig(const ServerConfig& config) {
  if (!config.web_listen.empty()) {
    if (!ServesPublicApi(config.role)) {
      return absl::InvalidArgumentError(
          "media-node: --web_listen does not apply (the controller serves the web client); drop "
          "it");
    }
    auto web = ParseHostPort(config.web_listen);
    if (!web.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--web_listen: ", web.status().message()));
    }
    const bool web_tls = !config.web_tls_cert_file.empty() || !config.tls_cert_file.empty();
    if (!web_tls && !(config.dev && IsLoopbackHost(web->host))) {
      return absl::InvalidArgumentError(
          "--web_listen serves patients' browsers over TLS only: give --web_tls_cert and "
          "--web_tls_key (or --tls_cert and --tls_key); plain HTTP is allowed only with --dev on "
          "a loopback address");
    }
    if (config.web_tls_cert_file.empty() != config.web_tls_key_file.empty()) {
      return absl::InvalidArgumentError("--web_tls_cert and --web_tls_key go together");
    }
    if (!config.public_url.empty() && !absl::StartsWith(config.public_url, "https://") &&
        !(config.dev && absl::StartsWith(config.public_url, "http://"))) {
      return absl::InvalidArgumentError(
          "--public_url must start with https:// (http:// only with --dev)");
    }
    for (const std::string& origin : config.web_allowed_origins) {
      if (!absl::StartsWith(origin, "https://") && !absl::StartsWith(origin, "http://")) {
        return absl::InvalidArgumentError(
            "--web_allowed_origins: each origin is scheme://host[:port], for example "
            "https://portal.hospital.example");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateServerConfig(const ServerConfig& config) {
  auto grpc = ParseHostPort(config.grpc_listen);
  if (!grpc.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--grpc_listen: ", grpc.status().message()));
  }
  auto http = ParseHostPort(config.http_listen);
  if (!http.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--http_listen: ", http.status().message()));
  }
  if (RunsMedia(config.role)) {
    if (!IsIpLiteral(config.media_address)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--media_address: '", config.media_address, "' is not an IP address"));
    }
    if (!config.advertised_media_address.empty() && !IsIpLiteral(config.advertised_media_address)) {
      return absl::InvalidArgumentError(absl::StrCat("--advertised_media_address: '",
                                                     config.advertised_media_address,
                                                     "' is not an IP address"));
    }
    if (config.media_port_min < 1024 || config.media_port_max > 65535 ||
        config.media_port_min > config.media_port_max) {
      return absl::InvalidArgumentError(
          absl::StrCat("--media_port_min/--media_port_max: the range ", config.media_port_min, "-",
                       config.media_port_max, " must satisfy 1024 <= min <= max <= 65535"));
    }
  }
  if ((!config.media_node_tls_cert_file.empty() || !config.media_node_tls_key_file.empty() ||
       !config.media_node_tls_ca_file.empty()) &&
      config.role != Role::kController) {
    return absl::InvalidArgumentError(
        "--media_node_tls_cert, --media_node_tls_key and --media_node_tls_ca are the "
        "controller's side of its mutual TLS with separate media nodes: they apply to the "
        "controller role only");
  }
  if (config.media_node_tls_cert_file.empty() != config.media_node_tls_key_file.empty()) {
    return absl::InvalidArgumentError("--media_node_tls_cert and --media_node_tls_key go together");
  }
  if (!config.media_node_tls_name.empty() && config.role != Role::kController) {
    return absl::InvalidArgumentError(
        "--media_node_tls_name names the media nodes' certificates and only applies to the "
        "controller role");
  }
  if (config.role == Role::kController && config.media_nodes.empty()) {
    return absl::InvalidArgumentError(
        "controller: give --media_nodes, the media nodes' gRPC addresses (host:port,...)");
  }
  for (const std::string& node : config.media_nodes) {
    auto parsed = ParseHostPort(node.rfind("dns:", 0) == 0 ? node.substr(4) : node, true);
    if (!parsed.ok() || parsed->port == 0) {
      return absl::InvalidArgumentError("--media_nodes: '" + node +
                                        "' is not host:port (or dns:name:port) with a port");
    }
  }
  if (!(config.admission_threshold >= 0.05 && config.admission_threshold <= 1.0)) {
    return absl::InvalidArgumentError("--admission_threshold must be from 0.05 to 1");
  }
  if (config.media_workers > 256) {
    return absl::InvalidArgumentError("--media_workers must be 0 (one per core) to 256");
  }
  if (config.webrtc_port > 65535 - 256) {
    return absl::InvalidArgumentError("--webrtc_port must be 0 (from the media range) to 65279");
  }
  if (config.video_workers > 256) {
    return absl::InvalidArgumentError("--video_workers must be 0 (one per core) to 256");
  }
  if (config.allow_insecure_media && !config.dev) {
    return absl::InvalidArgumentError(
        "--allow_insecure_media (plain RTP) is for development only and needs --dev; media with "
        "patients is always SRTP");
  }
  if (config.drain_timeout <= absl::ZeroDuration() || config.drain_timeout > absl::Hours(24)) {
    return absl::InvalidArgumentError("--drain_timeout must be longer than zero and at most 24h");
  }
  if (config.drain_min_wait < absl::ZeroDuration() ||
      config.drain_min_wait > config.drain_timeout) {
    return absl::InvalidArgumentError("--drain_min_wait must be between zero and --drain_timeout");
  }
  if (config.tls_reload_interval < absl::Seconds(1) ||
      config.tls_reload_interval > absl::Hours(1)) {
    return absl::InvalidArgumentError("--tls_reload_interval must be from 1s to 1h");
  }
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key must be given together");
  }
  if (config.require_client_cert && config.tls_client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--require_client_cert needs --tls_client_ca, the CA that signs client certificates");
  }
  if (!config.tls_client_ca_file.empty() && config.tls_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_client_ca verifies client certificates and needs TLS: give --tls_cert and "
        "--tls_key");
  }
  if (auto s = CheckWebConfig(config); !s.ok()) return s;
  const bool tls = !config.tls_cert_file.empty();
  if (config.dev) {
    if (auto s = CheckLoopback("--grpc_listen", grpc->host); !s.ok()) return s;
    if (auto s = CheckLoopback("--http_listen", http->host); !s.ok()) return s;
    if (RunsMedia(config.role)) {
      if (auto s = CheckLoopback("--media_address", config.media_address); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (!tls) {
    return absl::InvalidArgumentError(
        "TLS is required: give --tls_cert and --tls_key (PEM files), or start with --dev for a "
        "plaintext development server on loopback addresses only");
  }
  if (config.role == Role::kMediaNode &&
      (config.tls_client_ca_file.empty() || !config.require_client_cert)) {
    return absl::InvalidArgumentError(
        "media-node: its only client is the controller, which proves itself with a certificate: "
        "give --tls_client_ca (the CA of the controller's certificate) and --require_client_cert");
  }
  if (config.role == Role::kMediaNode && !config.api_tokens_file.empty()) {
    return absl::InvalidArgumentError(
        "media-node: --api_tokens_file does not apply (the controller authenticates with its "
        "certificate); drop it");
  }
  if (config.role == Role::kMediaNode && !config.state_file.empty()) {
    return absl::InvalidArgumentError(
        "media-node: --state_file does not apply (the controller keeps the rooms); drop it");
  }
  if (config.role == Role::kMediaNode && !config.postgres_url_file.empty()) {
    return absl::InvalidArgumentError(
        "media-node: --postgres_url_file does not apply (the controller keeps the rooms); drop it");
  }
  if (!config.state_file.empty() && !config.postgres_url_file.empty()) {
    return absl::InvalidArgumentError(
        "--state_file and --postgres_url_file both keep the rooms: give one (the state file for "
        "a single controller, the database for replicas)");
  }
  if (ServesPublicApi(config.role) && config.api_tokens_file.empty() &&
      !config.require_client_cert) {
    return absl::InvalidArgumentError(
        "the public API must authenticate its callers: give --api_tokens_file (bearer tokens) "
        "or --tls_client_ca with --require_client_cert (client certificates)");
  }
  return absl::OkStatus();
}

}  // namespace chorus::common
