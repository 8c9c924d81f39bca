#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace chorus::web {

// TLS for the web listener: accepts TLS connections on the public address and relays each,
// decrypted, to the plain HTTP server on a loopback port of this process. (The HTTP server's own
// TLS cannot be used: the Debian build of its library calls OpenSSL functions that OpenSSL 3 no
// longer exports.) OpenSSL, TLS 1.2 and later. One thread per connection, like the HTTP server
// behind it; at most max_connections at once, and max_connections_per_source from one address.
// The relayed connection comes from a loopback port; ClientAddress() tells the HTTP server which
// client stands behind that port, for its per-address limits.
class TlsFront {
 public:
  struct Options {
    std::string listen;  // host:port, port 0 picks one
    std::string cert_file;
    std::string key_file;
    uint16_t backend_port = 0;  // the plain server on 127.0.0.1
    int max_connections = 500;
    // At most this many from one address (0: no limit, as behind a proxy, where every
    // connection comes from the proxy).
    int max_connections_per_source = 0;
  };
  static absl::StatusOr<std::unique_ptr<TlsFront>> Start(Options options);
  ~TlsFront();  // stops accepting, closes every connection and joins their threads

  TlsFront(const TlsFront&) = delete;
  TlsFront& operator=(const TlsFront&) = delete;

  uint16_t port() const { return port_; }
  // Reads the certificate chain and key files again (a renewed certificate): new connections
  // get it, open ones keep theirs. On error the old certificate stays.
  absl::Status Reload();
  // The client address behind a relayed connection's loopback source port; empty if unknown.
  std::string ClientAddress(uint16_t relay_port) const;

 private:
  TlsFront() = default;
  void AcceptLoop();
  void Relay(int client, std::string address);

  Options options_;
  SSL_CTX* ctx_ = nullptr;  // guarded by mutex_ once serving (Reload swaps it)
  int listener_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;

  mutable std::mutex mutex_;
  std::map<uint16_t, std::string> clients_;  // relay port -> client address
  std::map<int, std::thread> relays_;        // by client socket
  std::map<std::string, int> per_source_;    // open connections by client address
  std::vector<std::thread> finished_;
};

}  // namespace chorus::web
