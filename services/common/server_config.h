#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pipeline/base/log.h"

namespace chorus::common {

// Which parts of Chorus a chorusd process runs (DESIGN.md, Processes).
enum class Role {
  kAll,         // controller and one media node in one process
  kController,  // the public API; drives media nodes over the internal API
  kMediaNode,   // the internal API and the media engine
};

std::string_view RoleName(Role role);
// Parses "all", "controller" or "media-node".
absl::StatusOr<Role> ParseRole(std::string_view text);

bool ServesPublicApi(Role role);
bool RunsMedia(Role role);

// Everything chorusd is started with. Filled from command-line flags by the chorusd app and
// checked by ValidateServerConfig before anything listens.
struct ServerConfig {
  Role role = Role::kAll;
  // Development mode: plaintext gRPC allowed, but only on loopback addresses.
  bool dev = false;

  std::string grpc_listen = "127.0.0.1:7700";  // host:port; port 0 picks a free port
  std::string http_listen = "127.0.0.1:9464";  // /metrics, /healthz, /readyz

  std::string media_address = "127.0.0.1";  // IP the media sockets bind to
  std::string advertised_media_address;     // IP given to endpoints; empty = media_address
  uint32_t media_port_min = 40000;
  uint32_t media_port_max = 40999;
  // Media worker threads; 0 = one per core.
  uint32_t media_workers = 0;
  // First media worker's shared WebRTC UDP port (worker i: + i); 0 = from the media range.
  uint32_t webrtc_port = 0;
  bool drop_silence_in_kernel = true;
  // Video worker threads (composition and encoding); 0 = one per core.
  uint32_t video_workers = 0;
  // Load (0 to 1) from which the node takes no new sessions and the controller places no rooms.
  double admission_threshold = 0.8;
  // controller: the media nodes' gRPC addresses.
  std::vector<std::string> media_nodes;
  // controller: the name the media nodes' certificates must carry (default: the host of each
  // address). Lets nodes found by IP (a headless service) present one certificate for a name.
  std::string media_node_tls_name;
  // controller: the certificate, key and CA of its mutual TLS with the media nodes (the
  // cluster's internal PKI), apart from the public API's --tls_cert/--tls_key/--tls_client_ca
  // (which may come from the hospital's PKI). Each defaults to its public counterpart.
  std::string media_node_tls_cert_file;
  std::string media_node_tls_key_file;
  std::string media_node_tls_ca_file;
  // Accept plain RTP endpoints (development only: requires --dev).
  bool allow_insecure_media = false;

  std::string tls_cert_file;       // PEM server certificate chain
  std::string tls_key_file;        // PEM private key
  std::string tls_client_ca_file;  // PEM CA bundle for client certificates
  bool require_client_cert = false;
  // How often the TLS files are checked for changes; a renewed certificate is then served.
  absl::Duration tls_reload_interval = absl::Seconds(60);

  // Bearer tokens accepted on the API, one per line ('#' starts a comment).
  std::string api_tokens_file;

  // The controller's SQLite file of rooms and invites, so that they survive a restart; empty =
  // in memory only (gone when the process ends).
  std::string state_file;
  // A file holding the libpq connection string or URI of the PostgreSQL database that two or more
  // controller replicas share (in a file, so that its password is not on the command line); empty
  // = no database. Not with state_file.
  std::string postgres_url_file;

  // The web client and its signalling (controller, all): host:port, empty = off. TLS with
  // web_tls_cert_file/web_tls_key_file (default: tls_cert_file/tls_key_file); plain HTTP only in
  // development on a loopback address.
  std::string web_listen;
  std::string web_tls_cert_file;
  std::string web_tls_key_file;
  // Base of invitation links ("https://video.hospital.example"); empty = the web listener's own
  // address in development.
  std::string public_url;
  // Other origins that may embed the client (open its WebSocket, frame its page).
  std::vector<std::string> web_allowed_origins;
  // JSON {"ice_servers":[{"urls":[...],"username":...,"credential":...}]} handed to browsers.
  std::string ice_servers_file;
  // The web listener sits behind a reverse proxy: clients' addresses from X-Forwarded-For.
  bool web_behind_proxy = false;

  std::string node_id;  // media node identity in load reports; empty = host name

  // After SIGTERM: keep serving with readiness off for at least drain_min_wait (so load
  // balancers notice), then wait for running sessions to end, at most drain_timeout in all.
  absl::Duration drain_min_wait = absl::ZeroDuration();
  absl::Duration drain_timeout = absl::Seconds(30);

  base::LogLevel log_level = base::LogLevel::kInfo;
};

// A listening address split into its host and port.
struct HostPort {
  std::string host;  // without brackets for IPv6
  uint16_t port = 0;
};

// Parses "127.0.0.1:7700", "[::1]:7700" or "localhost:7700". INVALID_ARGUMENT otherwise.
// With `allow_names`, the host may also be a DNS name ("chorus-media.chorus.svc:7701"), for
// addresses this server connects to rather than listens on.
absl::StatusOr<HostPort> ParseHostPort(std::string_view text, bool allow_names = false);

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(std::string_view host);

// Checks a configuration before the process listens anywhere. The message of an error says
// which flag is wrong and what to do, for the operator who reads it.
absl::Status ValidateServerConfig(const ServerConfig& config);

}  // namespace chorus::common
