#include "services/chorusd/app.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "pipeline/base/build_info.h"
#include "pipeline/base/log.h"
#include "pipeline/engine/engine.h"
#include "services/common/api_guard.h"
#include "services/common/auth.h"
#include "services/common/file_watch.h"
#include "services/common/grpc_logging.h"
#include "services/common/http_server.h"
#include "services/common/lifecycle.h"
#include "services/common/metrics.h"
#include "services/common/rpc_metrics.h"
#include "services/common/server_config.h"
#include "services/common/status.h"
#include "services/common/tls.h"
#include "services/controller/media_nodes.h"
#include "services/controller/postgres_room_store.h"
#include "services/controller/rooms_service.h"
#include "services/controller/sqlite_room_store.h"
#include "services/media_node/engine_metrics.h"
#include "services/media_node/media_node_service.h"
#include "services/sip/grpc_rooms.h"
#include "services/web/turn_credentials.h"
#include "services/web/web_gateway.h"

ABSL_FLAG(bool, dev, false,
          "Development mode: plaintext gRPC allowed, every listener on loopback only");
ABSL_FLAG(std::string, grpc_listen, "127.0.0.1:7700", "gRPC API address (host:port)");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:9464",
          "HTTP address for /metrics, /healthz and /readyz (host:port)");
ABSL_FLAG(std::string, media_address, "127.0.0.1", "IP address the media UDP sockets bind to");
ABSL_FLAG(std::string, advertised_media_address, "",
          "IP address given to endpoints in media answers (default: --media_address)");
ABSL_FLAG(uint32_t, media_port_min, 40000, "Lowest UDP port for media endpoints");
ABSL_FLAG(uint32_t, media_port_max, 40999, "Highest UDP port for media endpoints");
ABSL_FLAG(uint32_t, webrtc_port, 0,
          "UDP port of the first media worker's shared WebRTC port (worker i uses webrtc_port + i; "
          "0: one port per worker from the media port range)");
ABSL_FLAG(bool, drop_silence_in_kernel, true,
          "In rooms of three or more, have the kernel drop each participant's packets of digital "
          "silence (RFC 6464 level 127) on its own RTP socket before they reach a media worker "
          "(one in 64 still comes); they count in the host's UDP InErrors");
ABSL_FLAG(uint32_t, media_workers, 0, "Media worker threads (0: one per core)");
ABSL_FLAG(uint32_t, video_workers, 0,
          "Video worker threads, beside the media workers (0: one per core)");
ABSL_FLAG(double, admission_threshold, 0.8,
          "media node: load (0 to 1) from which it takes no new sessions and gets no new rooms");
ABSL_FLAG(bool, allow_insecure_media, false,
          "Accept plain RTP endpoints as well as SRTP (development only; needs --dev)");
ABSL_FLAG(std::vector<std::string>, media_nodes, {},
          "controller: the media nodes' gRPC addresses (host:port, or dns:name:port for every "
          "address of a name, re-resolved; comma-separated); mutual TLS "
          "with this server's certificate, checked against --tls_client_ca, unless --dev");
ABSL_FLAG(std::string, media_node_tls_cert, "",
          "controller: PEM certificate it shows the media nodes (the cluster's PKI; default "
          "--tls_cert)");
ABSL_FLAG(std::string, media_node_tls_key, "",
          "controller: PEM key of --media_node_tls_cert (default --tls_key)");
ABSL_FLAG(std::string, media_node_tls_ca, "",
          "controller: PEM CA of the media nodes' certificates (default --tls_client_ca)");
ABSL_FLAG(std::string, media_node_tls_name, "",
          "controller: the name the media nodes' certificates must carry (default: the host of "
          "each --media_nodes address; set it when nodes are found by IP through DNS)");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain of the gRPC server");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of the gRPC server");
ABSL_FLAG(std::string, tls_client_ca, "", "PEM CA bundle that signs client certificates");
ABSL_FLAG(bool, require_client_cert, false,
          "Refuse gRPC clients without a certificate signed by --tls_client_ca");
ABSL_FLAG(std::string, api_tokens_file, "",
          "File of accepted bearer tokens, one per line (the platform sends "
          "'authorization: Bearer <token>')");
ABSL_FLAG(std::string, state_file, "",
          "Controller: SQLite file that keeps rooms, invites and PIN state across restarts "
          "(created if missing; one chorusd per file). Empty: in memory only");
ABSL_FLAG(std::string, postgres_url_file, "",
          "Controller: file holding the connection URI of the PostgreSQL database that two or "
          "more controller replicas share (postgres://user:password@host:5432/db?sslmode=...), "
          "so that the password is not on the command line. Not with --state_file");
ABSL_FLAG(std::string, web_listen, "",
          "Address of the web client and its signalling WebSocket (host:port); empty: off");
ABSL_FLAG(std::string, web_tls_cert, "",
          "PEM certificate chain of the web listener (default: --tls_cert)");
ABSL_FLAG(std::string, web_tls_key, "", "PEM private key of the web listener (default: --tls_key)");
ABSL_FLAG(std::string, public_url, "",
          "Base URL of the web client in invitation links (https://video.hospital.example); "
          "default in --dev: the web listener's address");
ABSL_FLAG(std::vector<std::string>, web_allowed_origins, {},
          "Origins of a platform's pages that embed the web client (comma-separated)");
ABSL_FLAG(std::string, ice_servers_file, "",
          "JSON file of STUN/TURN servers handed to browsers: "
          "{\"ice_servers\":[{\"urls\":[\"turn:...\"],\"username\":...,\"credential\":...}]}, or "
          "with \"shared_secret\" (the TURN server's) instead: credentials of its own per page, "
          "expiring after \"credential_lifetime_seconds\" (default 12 h)");
ABSL_FLAG(bool, web_behind_proxy, false,
          "The web listener is behind a reverse proxy: client addresses from X-Forwarded-For");
ABSL_FLAG(std::string, node_id, "", "Media node id in load reports (default: host name)");
ABSL_FLAG(absl::Duration, drain_min_wait, absl::ZeroDuration(),
          "After SIGTERM, keep serving with readiness off at least this long");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(30),
          "After SIGTERM, wait at most this long for running sessions to end");
ABSL_FLAG(absl::Duration, tls_reload_interval, absl::Seconds(60),
          "How often the TLS certificate, key and CA files are checked for changes (1s to 1h); a "
          "renewed certificate is served from then on without a restart");
ABSL_FLAG(std::string, log_level, "info", "Lowest log level written: debug, info, warning, error");
ABSL_FLAG(std::string, sip_listen, "sip:127.0.0.1:5060",
          "sip role: where SIP is taken over UDP and TCP (a SIP URI, sip:<address>:<port>); empty: "
          "none");
ABSL_FLAG(std::string, sips_listen, "",
          "sip role: where SIP over TLS is taken (sips:<address>:<port>); needs --sip_tls_cert and "
          "--sip_tls_key");
ABSL_FLAG(std::string, sip_tls_cert, "", "sip role: PEM certificate chain of the SIP listener");
ABSL_FLAG(std::string, sip_tls_key, "", "sip role: PEM private key of the SIP listener");
ABSL_FLAG(std::string, sip_tls_ca, "",
          "sip role: PEM CAs of SIP peers' certificates (an SBC's), for mutual TLS");
ABSL_FLAG(std::string, sip_controller, "127.0.0.1:7700",
          "sip role: the controller's public API (host:port) that calls are joined through");
ABSL_FLAG(std::string, sip_controller_token_file, "",
          "sip role: file holding the bearer token for the controller's API");
ABSL_FLAG(std::string, sip_controller_ca, "",
          "sip role: PEM CA of the controller's certificate (TLS); empty: plain gRPC, only with "
          "--dev");
ABSL_FLAG(std::vector<std::string>, sip_trusted_peers, {},
          "sip role: the only networks calls may come from (comma-separated addresses or "
          "address/prefix, the hospital's SBCs); empty: anywhere (every room still needs its PIN)");
ABSL_FLAG(std::string, sip_outbound_proxy, "",
          "sip role: where calls Chorus places (DialOut) go, the trunk or SBC "
          "(sip:host:port;transport=tls); empty: straight to the address called");
ABSL_FLAG(std::string, sip_from, "",
          "sip role: the From URI of calls Chorus places (default sip:chorus@<listener>)");
ABSL_FLAG(int32_t, sip_ring_timeout, 60,
          "sip role: seconds a call Chorus places may ring before it is cancelled (no answer)");
ABSL_FLAG(std::string, sip_trunk_credentials_file, "",
          "sip role: a file holding 'user:password', answered to a trunk or SBC that asks calls "
          "Chorus places for digest authentication");
ABSL_FLAG(int32_t, sip_max_calls, 200, "sip role: calls at once (more get 503)");
ABSL_FLAG(int32_t, sip_calls_per_second, 20, "sip role: new calls per second (more get 503)");

namespace chorus::chorusd {
namespace {

constexpr char kUsage[] =
    "Chorus media mixing service.\n"
    "\n"
    "Usage: chorusd <role> [flags]\n"
    "  all          controller and one media node in one process\n"
    "  controller   the public API (chorus.v1.Rooms)\n"
    "  media-node   the internal API (chorus.internal.v1.MediaNode) and the media engine\n"
    "  sip          SIP signalling: calls to rooms' dial-in ids, joined through the controller\n"
    "\n"
    "Example: chorusd all --dev\n";

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int UsageError(const std::string& message) {
  std::fprintf(stderr, "chorusd: %s\n", message.c_str());
  return kExitUsage;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "chorus";
  return name;
}

absl::StatusOr<common::ServerConfig> ConfigFromFlags(const std::string& role_name) {
  auto role = common::ParseRole(role_name);
  if (!role.ok()) return role.status();
  common::ServerConfig config;
  config.role = *role;
  config.dev = absl::GetFlag(FLAGS_dev);
  config.grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  config.http_listen = absl::GetFlag(FLAGS_http_listen);
  config.media_address = absl::GetFlag(FLAGS_media_address);
  config.advertised_media_address = absl::GetFlag(FLAGS_advertised_media_address);
  config.media_port_min = absl::GetFlag(FLAGS_media_port_min);
  config.media_port_max = absl::GetFlag(FLAGS_media_port_max);
  config.media_workers = absl::GetFlag(FLAGS_media_workers);
  config.webrtc_port = absl::GetFlag(FLAGS_webrtc_port);
  config.drop_silence_in_kernel = absl::GetFlag(FLAGS_drop_silence_in_kernel);
  config.video_workers = absl::GetFlag(FLAGS_video_workers);
  config.allow_insecure_media = absl::GetFlag(FLAGS_allow_insecure_media);
  config.media_nodes = absl::GetFlag(FLAGS_media_nodes);
  config.admission_threshold = absl::GetFlag(FLAGS_admission_threshold);
  config.media_node_tls_name = absl::GetFlag(FLAGS_media_node_tls_name);
  config.media_node_tls_cert_file = absl::GetFlag(FLAGS_media_node_tls_cert);
  config.media_node_tls_key_file = absl::GetFlag(FLAGS_media_node_tls_key);
  config.media_node_tls_ca_file = absl::GetFlag(FLAGS_media_node_tls_ca);
  config.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  config.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  config.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  config.require_client_cert = absl::GetFlag(FLAGS_require_client_cert);
  config.api_tokens_file = absl::GetFlag(FLAGS_api_tokens_file);
  config.state_file = absl::GetFlag(FLAGS_state_file);
  config.postgres_url_file = absl::GetFlag(FLAGS_postgres_url_file);
  config.tls_reload_interval = absl::GetFlag(FLAGS_tls_reload_interval);
  config.web_listen = absl::GetFlag(FLAGS_web_listen);
  config.web_tls_cert_file = absl::GetFlag(FLAGS_web_tls_cert);
  config.web_tls_key_file = absl::GetFlag(FLAGS_web_tls_key);
  config.public_url = absl::GetFlag(FLAGS_public_url);
  while (!config.public_url.empty() && config.public_url.back() == '/')
    config.public_url.pop_back();
  config.web_allowed_origins = absl::GetFlag(FLAGS_web_allowed_origins);
  config.ice_servers_file = absl::GetFlag(FLAGS_ice_servers_file);
  config.web_behind_proxy = absl::GetFlag(FLAGS_web_behind_proxy);
  config.node_id = absl::GetFlag(FLAGS_node_id);
  if (config.node_id.empty()) config.node_id = HostName();
  config.drain_min_wait = absl::GetFlag(FLAGS_drain_min_wait);
  config.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  if (!base::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &config.log_level)) {
    return absl::InvalidArgumentError("--log_level must be debug, info, warning or error");
  }
  if (auto status = common::ValidateServerConfig(config); !status.ok()) return status;
  return config;
}

// What SIGHUP does: re-reads the API tokens (also done when the tokens file changes, looked at
// every --tls_reload_interval; TLS files are watched by gRPC itself and by the web listener).
// Calls under way are not affected; a bad file keeps the old tokens.
std::function<void()> g_reload;

// Waits for SIGTERM/SIGINT (blocked in every thread, see RunChorusd) up to `timeout`; returns the
// signal number, or 0 when the time ran out. SIGHUP reloads and goes on waiting.
int WaitForSignal(const sigset_t& signals, absl::Duration timeout) {
  const absl::Time deadline =
      timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + timeout;
  for (;;) {
    int signal = 0;
    if (deadline == absl::InfiniteFuture()) {
      signal = sigwaitinfo(&signals, nullptr);
    } else {
      timespec ts = absl::ToTimespec(std::max(absl::ZeroDuration(), deadline - absl::Now()));
      signal = sigtimedwait(&signals, nullptr, &ts);
    }
    if (signal == SIGHUP) {
      base::Log(base::LogLevel::kInfo, "signal", {{"signal", "SIGHUP"}});
      if (g_reload) g_reload();
      continue;
    }
    if (signal > 0) return signal;
    if (errno == EAGAIN) return 0;
    // EINTR: retry until the deadline.
  }
}

// Drains after the first signal: readiness off, then wait for running sessions to end (at least
// drain_min_wait, at most drain_timeout). A second signal ends the wait at once.
void Drain(const common::ServerConfig& config, const sigset_t& signals,
           common::Lifecycle& lifecycle, const media_node::MediaNodeService* media) {
  lifecycle.BeginDrain();
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + config.drain_timeout;
  const absl::Time earliest_end = start + config.drain_min_wait;
  base::Log(base::LogLevel::kInfo, "draining",
            {{"timeout_s", absl::ToDoubleSeconds(config.drain_timeout)},
             {"active_sessions", media ? media->active_sessions() : 0}});
  for (;;) {
    absl::Time now = absl::Now();
    int active = media ? media->active_sessions() : 0;
    if (now >= deadline) {
      base::Log(base::LogLevel::kWarning, "drain_timeout", {{"active_sessions", active}});
      return;
    }
    if (active == 0 && now >= earliest_end) {
      base::Log(base::LogLevel::kInfo, "drained",
                {{"elapsed_s", absl::ToDoubleSeconds(now - start)}});
      return;
    }
    if (WaitForSignal(signals, std::min(absl::Milliseconds(100), deadline - now)) != 0) {
      base::Log(base::LogLevel::kWarning, "drain_interrupted", {{"active_sessions", active}});
      return;
    }
  }
}

// Every endpoint owns a UDP socket (two with video), so a busy media node needs far more files
// than the usual soft limit of 1,024: take the soft limit up to the hard one. Returns the limit.
uint64_t RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

// Signals are taken synchronously by the main thread: they are blocked before any thread starts,
// so that every thread inherits the mask. Returns the set to wait for (WaitForSignal).
sigset_t BlockSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

// The SIP role: sofia-sip's stack, joining calls through the controller's public API; /healthz,
// /readyz and /metrics on --http_listen. Ends every call with BYE on SIGTERM.
int RunSip(const sigset_t& signals) {
  base::LogLevel level;
  if (!base::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    return UsageError("--log_level must be debug, info, warning or error");
  }
  base::SetMinLogLevel(level);
  const bool dev = absl::GetFlag(FLAGS_dev);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  const std::string ca_file = absl::GetFlag(FLAGS_sip_controller_ca);
  if (!ca_file.empty()) {
    auto ca = common::ReadFileForFlag("--sip_controller_ca", ca_file);
    if (!ca.ok()) return UsageError(std::string(ca.status().message()));
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = *ca;
    credentials = grpc::SslCredentials(options);
  } else if (dev) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    return UsageError(
        "--sip_controller_ca is required (plain gRPC to the controller only with --dev)");
  }
  std::string token;
  const std::string token_file = absl::GetFlag(FLAGS_sip_controller_token_file);
  if (!token_file.empty()) {
    auto read = common::ReadFileForFlag("--sip_controller_token_file", token_file);
    if (!read.ok()) return UsageError(std::string(read.status().message()));
    token = std::string(absl::StripAsciiWhitespace(*read));
  }
  auto rooms = sip::MakeGrpcRooms(
      grpc::CreateChannel(absl::GetFlag(FLAGS_sip_controller), credentials), token);
  sip::GatewayOptions options;
  options.listen_url = absl::GetFlag(FLAGS_sip_listen);
  options.tls_listen_url = absl::GetFlag(FLAGS_sips_listen);
  options.allow_plain_rtp = dev && absl::GetFlag(FLAGS_allow_insecure_media);
  options.max_calls = std::max(1, absl::GetFlag(FLAGS_sip_max_calls));
  options.max_new_calls_per_second = std::max(1, absl::GetFlag(FLAGS_sip_calls_per_second));
  options.trusted_peers = absl::GetFlag(FLAGS_sip_trusted_peers);
  options.outbound_proxy = absl::GetFlag(FLAGS_sip_outbound_proxy);
  options.from_uri = absl::GetFlag(FLAGS_sip_from);
  options.ring_timeout_seconds = std::clamp(absl::GetFlag(FLAGS_sip_ring_timeout), 5, 300);
  if (const std::string file = absl::GetFlag(FLAGS_sip_trunk_credentials_file); !file.empty()) {
    auto read = common::ReadFileForFlag("--sip_trunk_credentials_file", file);
    if (!read.ok()) return UsageError(std::string(read.status().message()));
    const std::string line(absl::StripAsciiWhitespace(*read));
    const size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == line.size() || line.size() > 512 ||
        line.find_first_of("\r\n") != std::string::npos) {
      return UsageError("--sip_trunk_credentials_file: one line, user:password");
    }
    if (line.find(':', colon + 1) != std::string::npos) {
      // sofia-sip takes credentials as "scheme:realm:user:password".
      return UsageError("--sip_trunk_credentials_file: the password may not contain ':'");
    }
    options.trunk_user = line.substr(0, colon);
    options.trunk_password = line.substr(colon + 1);
  }
  for (const std::string* uri : {&options.outbound_proxy, &options.from_uri}) {
    if (!uri->empty() && !absl::StartsWith(*uri, "sip:") && !absl::StartsWith(*uri, "sips:")) {
      return UsageError("--sip_outbound_proxy and --sip_from are sip: or sips: URIs");
    }
  }
  if (options.tls_listen_url.empty() && !dev) {
    return UsageError("--sips_listen is required (SIP without TLS only with --dev)");
  }
  // sofia-sip reads its certificate from a folder (agent.pem: chain and key; cafile.pem): one of
  // this process's own, in memory-backed /tmp in the chart, removed at exit.
  std::string tls_dir;
  if (!options.tls_listen_url.empty()) {
    auto cert = common::ReadFileForFlag("--sip_tls_cert", absl::GetFlag(FLAGS_sip_tls_cert));
    if (!cert.ok()) return UsageError(std::string(cert.status().message()));
    auto key = common::ReadFileForFlag("--sip_tls_key", absl::GetFlag(FLAGS_sip_tls_key));
    if (!key.ok()) return UsageError(std::string(key.status().message()));
    std::string ca;
    if (!absl::GetFlag(FLAGS_sip_tls_ca).empty()) {
      auto read = common::ReadFileForFlag("--sip_tls_ca", absl::GetFlag(FLAGS_sip_tls_ca));
      if (!read.ok()) return UsageError(std::string(read.status().message()));
      ca = *std::move(read);
    }
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/chorus-sip-tls.XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) return UsageError("no folder for the SIP certificate");
    tls_dir = pattern;
    auto write = [&](const char* name, const std::string& text) {
      const std::string path = absl::StrCat(tls_dir, "/", name);
      FILE* file = std::fopen(path.c_str(), "w");
      if (file == nullptr) return false;
      const bool ok = std::fwrite(text.data(), 1, text.size(), file) == text.size();
      return std::fclose(file) == 0 && ok;
    };
    const std::string chain =
        absl::StrCat(*cert, cert->empty() || cert->back() == '\n' ? "" : "\n");
    if (!write("agent.pem", chain + *key) || !write("cafile.pem", ca.empty() ? *cert : ca)) {
      return UsageError("the SIP certificate could not be written to its folder");
    }
    options.tls_certificate_dir = tls_dir;
  }
  const auto remove_tls_dir = [&tls_dir] {
    if (tls_dir.empty()) return;
    std::remove(absl::StrCat(tls_dir, "/agent.pem").c_str());
    std::remove(absl::StrCat(tls_dir, "/cafile.pem").c_str());
    ::rmdir(tls_dir.c_str());
  };
  auto registry = std::make_shared<prometheus::Registry>();
  options.registry = registry;
  auto gateway = sip::SipGateway::Start(options, rooms.get());
  if (!gateway.ok()) {
    remove_tls_dir();
    std::fprintf(stderr, "chorusd: %s\n", std::string(gateway.status().message()).c_str());
    return kExitFailure;
  }
  std::atomic<bool> ready{true};
  auto http = common::HttpServer::Start(
      {absl::GetFlag(FLAGS_http_listen), registry, [&ready] { return ready.load(); }, {}});
  if (!http.ok()) {
    std::fprintf(stderr, "chorusd: %s\n", std::string(http.status().message()).c_str());
    (*gateway)->Shutdown();
    remove_tls_dir();
    return kExitFailure;
  }
  base::Log(base::LogLevel::kInfo, "listening",
            {{"role", "sip"},
             {"sip", options.listen_url},
             {"sips", options.tls_listen_url},
             {"http", absl::StrCat("port ", (*http)->port())}});
  int signal = 0;
  while (signal == 0) signal = WaitForSignal(signals, absl::InfiniteDuration());
  base::Log(base::LogLevel::kInfo, "signal", {{"signal", strsignal(signal)}});
  ready = false;
  (*gateway)->Shutdown();
  remove_tls_dir();
  http->reset();
  base::Log(base::LogLevel::kInfo, "stopped", {});
  return kExitOk;
}

}  // namespace

int RunChorusd(int argc, char** argv) {
  // Debian builds Abseil without NDEBUG, so its Mutex would check the lock order on every
  // acquisition (a process-wide graph behind a global lock): 3 % of a 1,000-listener WebRTC
  // lecture, whose every packet reads its path's address under a mutex. The unit tests, which do
  // not come through here, keep the check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage_config;
  // --help and --helpshort list chorusd's own flags (defined in this file, not in main.cc);
  // --helpfull adds those of the libraries.
  const auto ours = [](absl::string_view file) {
    return absl::StrContains(file, "services/chorusd/");
  };
  usage_config.contains_help_flags = ours;
  usage_config.contains_helpshort_flags = ours;
  usage_config.version_string = [] {
    const base::BuildInfo& build = base::GetBuildInfo();
    std::string version = "chorusd ";
    version.append(build.version).append(" (").append(build.git_commit);
    version.append(", ").append(build.compiler).append(")\n");
    return version;
  };
  absl::SetFlagsUsageConfig(usage_config);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() != 2) {
    return UsageError(
        "expected exactly one role: all, controller, media-node or sip (try: chorusd all --dev)");
  }
  if (std::string_view(positional[1]) == "sip") {
    const sigset_t signals = BlockSignals();
    common::RouteGrpcLogging();
    return RunSip(signals);
  }
  auto config_or = ConfigFromFlags(positional[1]);
  if (!config_or.ok()) return UsageError(std::string(config_or.status().message()));
  const common::ServerConfig config = *std::move(config_or);
  base::SetMinLogLevel(config.log_level);

  const sigset_t signals = BlockSignals();

  common::RouteGrpcLogging();
  common::RouteProtobufLogging();
  const uint64_t open_files = RaiseOpenFileLimit();
  const base::BuildInfo& build = base::GetBuildInfo();
  base::Log(base::LogLevel::kInfo, "starting",
            {{"role", common::RoleName(config.role)},
             {"version", build.version},
             {"commit", build.git_commit},
             {"dev", config.dev},
             {"open_files_limit", open_files}});

  std::unique_ptr<common::BearerAuthenticator> auth;
  if (config.api_tokens_file.empty()) {
    auth = common::BearerAuthenticator::AllowAll();
  } else {
    auto loaded = common::BearerAuthenticator::FromFile(config.api_tokens_file);
    if (!loaded.ok()) return UsageError(std::string(loaded.status().message()));
    auth = *std::move(loaded);
  }
  auto credentials = common::MakeServerCredentials(config);
  if (!credentials.ok()) return UsageError(std::string(credentials.status().message()));

  if (!config.api_tokens_file.empty()) {
    common::BearerAuthenticator* tokens = auth.get();
    const std::string path = config.api_tokens_file;
    g_reload = [tokens, path] {
      absl::Status reloaded = tokens->ReloadFile(path);
      if (reloaded.ok()) {
        base::Log(base::LogLevel::kInfo, "api_tokens_reloaded",
                  {{"bearer_tokens", tokens->token_count()}});
      } else {
        base::Log(base::LogLevel::kError, "api_tokens_reload_failed",
                  {{"error", std::string(reloaded.message())}});
      }
    };
  } else {
    g_reload = [] {
      base::Log(base::LogLevel::kInfo, "reload", {{"api_tokens", "none configured"}});
    };
  }

  common::Lifecycle lifecycle;
  common::ServerMetrics metrics(config.role);

  // The media nodes rooms are placed on: this process's own in `all` (added once the server runs),
  // the --media_nodes list for a separate controller.
  controller::MediaNodes media_nodes;
  if (config.role == common::Role::kController) {
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (!config.dev) {
      auto node_credentials = common::MakeMediaNodeClientCredentials(config);
      if (!node_credentials.ok()) {
        return UsageError(std::string(node_credentials.status().message()));
      }
      credentials = *node_credentials;
    }
    grpc::ChannelArguments channel_args;
    if (!config.media_node_tls_name.empty()) {
      channel_args.SetSslTargetNameOverride(config.media_node_tls_name);
    }
    const controller::MediaNodes::Connector connect = [credentials,
                                                       channel_args](const std::string& address) {
      return grpc::CreateCustomChannel(address, credentials, channel_args);
    };
    for (const std::string& entry : config.media_nodes) {
      // "dns:host:port": every address the name resolves to (a headless service), re-resolved.
      if (entry.rfind("dns:", 0) == 0) {
        auto host_port = common::ParseHostPort(entry.substr(4), true);
        media_nodes.AddDnsName(host_port->host, static_cast<uint16_t>(host_port->port), connect);
      } else {
        media_nodes.Add(entry, connect(entry));
      }
    }
    media_nodes.ResolveNow();
  }
  std::unique_ptr<controller::RoomsService> rooms;
  if (common::ServesPublicApi(config.role)) {
    std::unique_ptr<controller::RoomStore> store;
    if (!config.state_file.empty()) {
      auto opened = controller::MakeSqliteRoomStore(config.state_file);
      if (!opened.ok()) {
        base::Log(base::LogLevel::kError, "state_file_failed",
                  {{"error", std::string(opened.status().message())}});
        std::fprintf(stderr, "chorusd: %s\n", std::string(opened.status().message()).c_str());
        return kExitFailure;
      }
      store = *std::move(opened);
      base::Log(base::LogLevel::kInfo, "state_loaded",
                {{"rooms", static_cast<int64_t>(store->size())}});
    } else if (!config.postgres_url_file.empty()) {
      auto url = common::ReadFileForFlag("--postgres_url_file", config.postgres_url_file);
      if (!url.ok()) return UsageError(std::string(url.status().message()));
      while (!url->empty() && std::isspace(static_cast<unsigned char>(url->back()))) {
        url->pop_back();
      }
      auto opened = controller::MakePostgresRoomStore(*url);
      if (!opened.ok()) {
        // libpq's reason, never the URL (it holds the password).
        base::Log(base::LogLevel::kError, "store_failed",
                  {{"store", "postgres"}, {"error", std::string(opened.status().message())}});
        std::fprintf(stderr, "chorusd: %s\n", std::string(opened.status().message()).c_str());
        return kExitFailure;
      }
      store = *std::move(opened);
      const auto rooms_kept = static_cast<int64_t>(store->size());
      (void)store->EndSection();  // size() looked at the database in a transaction of its own
      base::Log(base::LogLevel::kInfo, "state_loaded",
                {{"store", "postgres"}, {"rooms", rooms_kept}});
    }
    rooms = std::make_unique<controller::RoomsService>(
        *auth, lifecycle, &media_nodes, controller::RoomsOptions{}, std::move(store));
  }
  // Proves, on the in-process channel of `chorusd all`, that a MediaNode call comes from this
  // process's own controller. Random per run, never leaves the process.
  const std::string internal_secret = common::RandomSecret();
  std::unique_ptr<engine::MediaEngine> media_engine;
  std::shared_ptr<media_node::EngineMetrics> engine_metrics;
  std::unique_ptr<media_node::MediaNodeService> media;
  if (common::RunsMedia(config.role)) {
    engine::EngineOptions engine_options;
    engine_options.workers = static_cast<int>(config.media_workers);
    engine_options.video_workers = static_cast<int>(config.video_workers);
    engine_options.media_ip = config.media_address;
    engine_options.port_min = static_cast<uint16_t>(config.media_port_min);
    engine_options.port_max = static_cast<uint16_t>(config.media_port_max);
    engine_options.allow_insecure_media = config.allow_insecure_media;
    engine_options.webrtc_port = static_cast<uint16_t>(config.webrtc_port);
    engine_options.drop_silence_in_kernel = config.drop_silence_in_kernel;
    auto created = engine::MediaEngine::Create(engine_options);
    if (!created.ok()) return UsageError(std::string(created.status().message()));
    media_engine = *std::move(created);
    media_node::MediaNodeOptions options;
    options.node_id = config.node_id;
    options.admission_threshold = config.admission_threshold;
    options.internal_secret = internal_secret;
    options.media_address = config.advertised_media_address.empty()
                                ? config.media_address
                                : config.advertised_media_address;
    options.media_port_min = static_cast<int>(config.media_port_min);
    options.media_port_max = static_cast<int>(config.media_port_max);
    // A separate media node outside development takes only certificate-authenticated callers
    // (the controller's); in `all` the service is reachable in-process only.
    options.require_peer_certificate = config.role == common::Role::kMediaNode && !config.dev;
    media = std::make_unique<media_node::MediaNodeService>(options, media_engine.get(), *auth,
                                                           lifecycle);
    engine_metrics = std::make_shared<media_node::EngineMetrics>(media_engine.get());
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // Every answer passes the guard, then is counted as sent (chorus_rpcs_total).
  const auto interceptors = [&metrics] {
    auto creators = common::ApiGuardInterceptors();
    creators.push_back(common::RpcMetricsInterceptor(*metrics.registry()));
    return creators;
  };
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(config.grpc_listen, *credentials, &grpc_port);
  builder.experimental().SetInterceptorCreators(interceptors());
  if (rooms) builder.RegisterService(rooms.get());
  // The internal API is on the listener only for a separate media node (whose callers must be
  // the controller). In `all` it is served by a second server without any listening port, that
  // only this process's controller reaches through an in-process channel: the platform's API
  // token never opens it.
  std::unique_ptr<grpc::Server> internal_server;
  if (media && rooms) {
    grpc::ServerBuilder internal_builder;
    internal_builder.experimental().SetInterceptorCreators(interceptors());
    internal_builder.RegisterService(media.get());
    internal_server = internal_builder.BuildAndStart();
    if (internal_server) {
      media_nodes.Add("in-process", internal_server->InProcessChannel(grpc::ChannelArguments()),
                      {media_node::kInternalSecretHeader, internal_secret});
    }
  } else if (media) {
    builder.RegisterService(media.get());
  }
  if (rooms) {
    // Before the API answers anyone: the calls that came back from the state file are taken over
    // where their media nodes still run them, and lose their participants where not (always in
    // `all`, whose media ran in the stopped process). Nodes that do not answer now are asked when
    // they do (the monitor, below); their rooms wait for them at most a few seconds.
    const size_t answered = rooms->ReconcileNodes();
    base::Log(base::LogLevel::kInfo, "media_nodes_reconciled",
              {{"nodes", static_cast<int64_t>(media_nodes.size())},
               {"answered", static_cast<int64_t>(answered)}});
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || grpc_port == 0) {
    base::Log(base::LogLevel::kError, "listen_failed",
              {{"listener", "grpc"}, {"address", config.grpc_listen}});
    std::fprintf(stderr, "chorusd: cannot listen on --grpc_listen=%s\n",
                 config.grpc_listen.c_str());
    return kExitFailure;
  }

  // The web client and its signalling: a client of this process's own public API, on an
  // in-process channel opened by a per-process token (no listener of the API is involved).
  std::unique_ptr<web::WebGateway> web_gateway;
  std::string web_address;
  if (rooms && !config.web_listen.empty()) {
    web::WebOptions web_options;
    web_options.listen = config.web_listen;
    web_options.tls_cert_file =
        config.web_tls_cert_file.empty() ? config.tls_cert_file : config.web_tls_cert_file;
    web_options.tls_key_file =
        config.web_tls_key_file.empty() ? config.tls_key_file : config.web_tls_key_file;
    web_options.allowed_origins = config.web_allowed_origins;
    web_options.trust_forwarded_for = config.web_behind_proxy;
    web_options.tls_reload_interval = config.tls_reload_interval;
    web_options.registry = metrics.registry();
    if (!config.ice_servers_file.empty()) {
      auto contents = common::ReadFileForFlag("--ice_servers_file", config.ice_servers_file);
      if (!contents.ok()) return UsageError(std::string(contents.status().message()));
      if (!google::protobuf::util::JsonStringToMessage(*contents, &web_options.ice_servers).ok()) {
        return UsageError(
            "--ice_servers_file: not {\"ice_servers\":[{\"urls\":[...],\"username\":...,"
            "\"credential\":...}]} or {... \"shared_secret\":...}");
      }
      absl::Status servers = web::CheckIceServers(web_options.ice_servers);
      if (!servers.ok()) {
        return UsageError(absl::StrCat("--ice_servers_file: ", servers.message()));
      }
    }
    web_options.rooms_token = common::RandomSecret();
    auth->AddProcessToken(web_options.rooms_token);
    web_options.rooms = server->InProcessChannel(grpc::ChannelArguments());
    auto started = web::WebGateway::Start(std::move(web_options));
    if (!started.ok()) {
      base::Log(base::LogLevel::kError, "listen_failed",
                {{"listener", "web"}, {"address", config.web_listen}});
      std::fprintf(stderr, "chorusd: %s\n", std::string(started.status().message()).c_str());
      server->Shutdown();
      return kExitFailure;
    }
    web_gateway = *std::move(started);
    if (web_gateway->tls()) {
      // SIGHUP also reads the web listener's certificate again (a renewed one).
      web::WebGateway* gateway = web_gateway.get();
      g_reload = [previous = g_reload, gateway] {
        previous();
        absl::Status reloaded = gateway->ReloadTls();
        if (reloaded.ok()) {
          base::Log(base::LogLevel::kInfo, "web_tls_reloaded", {});
        } else {
          base::Log(base::LogLevel::kError, "web_tls_reload_failed",
                    {{"error", std::string(reloaded.message())}});
        }
      };
    }
    auto web_host = common::ParseHostPort(config.web_listen);
    web_address = absl::StrCat(web_host->host, ":", web_gateway->port());
  }
  if (rooms) {
    std::string public_url = config.public_url;
    if (public_url.empty() && web_gateway) {
      public_url = absl::StrCat(web_gateway->tls() ? "https://" : "http://", web_address);
    }
    rooms->SetPublicUrl(public_url);
  }

  std::vector<std::shared_ptr<prometheus::Collectable>> collectables;
  if (engine_metrics) collectables.push_back(engine_metrics);
  if (rooms) collectables.push_back(rooms->metrics());
  auto http = common::HttpServer::Start({config.http_listen, metrics.registry(),
                                         [&lifecycle] { return lifecycle.ready(); }, collectables});
  if (!http.ok()) {
    base::Log(base::LogLevel::kError, "listen_failed",
              {{"listener", "http"}, {"address", config.http_listen}});
    std::fprintf(stderr, "chorusd: %s\n", std::string(http.status().message()).c_str());
    server->Shutdown();
    return kExitFailure;
  }

  // The health service answers for the server ("") and for each API by its full name, so a
  // load balancer or the platform can probe the one it uses.
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  std::vector<std::string> health_names;
  if (rooms) health_names.push_back(chorus::v1::Rooms::service_full_name());
  if (media && !internal_server) {
    health_names.push_back(chorus::internal::v1::MediaNode::service_full_name());
  }
  lifecycle.AddObserver([&](bool ready, bool draining) {
    metrics.SetReady(ready);
    metrics.SetDraining(draining);
    for (const std::string& name : health_names) health->SetServingStatus(name, ready);
    health->SetServingStatus(ready);
  });
  if (rooms) {
    // Stopped below before `rooms` goes away; nothing returns early between here and there.
    controller::RoomsService* rooms_service = rooms.get();
    media_nodes.StartMonitor([rooms_service](size_t node) { rooms_service->OnNodeFailed(node); },
                             [rooms_service](size_t node) { rooms_service->ReconcileNode(node); });
  }
  lifecycle.SetReady(true);

  auto grpc_host = common::ParseHostPort(config.grpc_listen);
  auto http_host = common::ParseHostPort(config.http_listen);
  std::string grpc_address = absl::StrCat(grpc_host->host, ":", grpc_port);
  std::string http_address = absl::StrCat(http_host->host, ":", (*http)->port());
  std::string webrtc_ports;
  if (media_engine) {
    for (const net::SocketAddress& port : media_engine->webrtc_ports()) {
      absl::StrAppend(&webrtc_ports, webrtc_ports.empty() ? "" : ",", port.port());
    }
  }
  base::Log(base::LogLevel::kInfo, "listening",
            {{"role", common::RoleName(config.role)},
             {"grpc", grpc_address},
             {"http", http_address},
             {"web", web_address},
             {"tls", !config.tls_cert_file.empty()},
             {"client_cert", config.require_client_cert},
             {"bearer_tokens", auth->token_count()},
             {"media_address", media ? config.media_address : ""},
             {"media_ports",
              media ? absl::StrCat(config.media_port_min, "-", config.media_port_max) : ""},
             {"webrtc_ports", webrtc_ports}});

  // Housekeeping once a second while serving: expired and idle rooms close. Once an hour the
  // retention purge (RoomsService::Purge) also cleans the state file. Replicas on PostgreSQL: only
  // the one holding the database's lock of this work does it (the others' calls return at once).
  int signal = 0;
  absl::Time last_purge = absl::Now();
  // The tokens file is looked at as often as the TLS files: a Secret updated in place takes
  // effect without a signal (the image has no shell to send one from).
  absl::Time next_tokens_check = absl::Now() + config.tls_reload_interval;
  std::string tokens_signature =
      config.api_tokens_file.empty() ? "" : common::FilesSignature({config.api_tokens_file});
  while (signal == 0) {
    signal = WaitForSignal(signals, absl::Seconds(1));
    if (signal != 0) continue;
    if (!config.api_tokens_file.empty() && absl::Now() >= next_tokens_check) {
      next_tokens_check = absl::Now() + config.tls_reload_interval;
      const std::string now_signature = common::FilesSignature({config.api_tokens_file});
      if (!now_signature.empty() && now_signature != tokens_signature) {
        tokens_signature = now_signature;
        if (g_reload) g_reload();
      }
    }
    if (!rooms) continue;
    rooms->Sweep();
    if (absl::Now() - last_purge >= absl::Hours(1)) {
      rooms->Purge();
      last_purge = absl::Now();
    }
  }
  base::Log(base::LogLevel::kInfo, "signal", {{"signal", strsignal(signal)}});
  Drain(config, signals, lifecycle, media.get());

  // Browsers' sockets close before the API they call stops; their participants stay in their
  // rooms (media nodes carry on), and the pages resume on the next controller.
  g_reload = [] {};
  web_gateway.reset();
  // Streams still open (WatchRoom, WatchLoad) end now or are cancelled after a short grace.
  if (media) media->Shutdown();
  media_nodes.StopMonitor();
  if (rooms) rooms->Shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (internal_server) {
    internal_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  http->reset();
  base::Log(base::LogLevel::kInfo, "stopped", {});
  return kExitOk;
}

}  // namespace chorus::chorusd
