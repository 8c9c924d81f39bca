#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chorus/v1/web_signalling.pb.h"
#include "grpcpp/channel.h"
#include "prometheus/registry.h"

namespace chorus::web {

struct WebOptions {
  // host:port; port 0 picks one.
  std::string listen;
  // HTTPS and WSS with this certificate chain and key (PEM); both empty = plain HTTP, which the
  // caller allows only in development on loopback (browsers allow media on localhost).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Origins besides the page's own that may open the WebSocket and frame the page: a platform
  // that embeds the client ("https://portal.hospital.example").
  std::vector<std::string> allowed_origins;
  // Handed to every browser in "hello" (STUN/TURN for RTCPeerConnection's iceServers).
  chorus::web::v1::IceServers ice_servers;
  // The public API, as this process's own controller serves it (an in-process channel), and the
  // bearer token that opens it (a process secret; empty when the API takes no token).
  std::shared_ptr<grpc::Channel> rooms;
  std::string rooms_token;
  // Behind a reverse proxy or ingress: a client's address is the last one of X-Forwarded-For
  // (the one the proxy added), for the per-source limits below.
  bool trust_forwarded_for = false;
  // Connections: in all, and from one source address. Each open WebSocket holds one thread.
  int max_connections = 500;
  int max_connections_per_source = 20;
  // Failed joins (wrong, used, revoked or expired invites, malformed joins) from one source
  // within failed_join_window: after max_failed_joins_per_source, joins from it are refused
  // (rate_limited) until the window passes.
  int max_failed_joins_per_source = 10;
  absl::Duration failed_join_window = absl::Minutes(10);
  // A socket that has not sent its join within this time is closed.
  absl::Duration join_deadline = absl::Seconds(30);
  // The certificate and key files are looked at this often: renewed (another size, time or
  // file), they are read again, as on SIGHUP (ReloadTls), for new connections.
  absl::Duration tls_reload_interval = absl::Seconds(60);
  // Metric families are added here (may be null).
  std::shared_ptr<prometheus::Registry> registry;
};

// The web listener of the controller: serves the reference web client (the files of web/, built
// in) and the browser signalling WebSocket at /ws (docs/web.md). Every request a browser makes
// becomes a call of the public API (chorus.v1.Rooms) on `rooms`, as the participant that joined
// on that socket, after the controller's rule of who may ask what (rules::MayRequest: a waiting
// participant only leaves, a guest acts only on itself, a host on its own room); the signalling
// adds no rule of its own. Room events come from one WatchRoom stream per room
// with participants on this listener. A closed socket leaves the room, except while the listener
// stops: then its participants stay, and their pages take their sessions up again ("resume", with
// the session token of JoinRoom) on the next listener, or on another replica's.
// The invite token arrives in the first message, never in a URL; tokens, names and addresses
// never reach logs or metric labels. Served by civetweb, one thread per open socket.
class WebGateway {
 public:
  static absl::StatusOr<std::unique_ptr<WebGateway>> Start(WebOptions options);
  ~WebGateway();  // closes every socket (participants stay, to resume) and stops serving

  WebGateway(const WebGateway&) = delete;
  WebGateway& operator=(const WebGateway&) = delete;

  uint16_t port() const;
  bool tls() const;
  // Reads the TLS certificate and key files again (SIGHUP); OK and nothing to do without TLS.
  absl::Status ReloadTls();
  // Open sockets and sockets whose participant is in a room, for tests.
  int connections() const;
  int joined() const;

  class Impl;

 private:
  explicit WebGateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace chorus::web
