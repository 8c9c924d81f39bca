#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/registry.h"

class CivetServer;

namespace chorus::common {

// The operations HTTP endpoint of a chorusd process:
//   GET /metrics  Prometheus text format of the registry
//   GET /healthz  200 while the process runs (liveness)
//   GET /readyz   200 while ready() is true, 503 otherwise (readiness; off while draining)
// Served by civetweb on its own small thread pool; nothing else is exposed. Plain HTTP: it
// carries no personal data, and the Helm chart restricts who may reach it.
class HttpServer {
 public:
  struct Options {
    std::string listen;                              // host:port; port 0 picks one
    std::shared_ptr<prometheus::Registry> registry;  // shared with the metric owners
    std::function<bool()> ready;                     // called from HTTP threads
    // More metric sources read at each scrape (the media engine's counters).
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables;
  };

  // Starts listening. UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(Options options);
  ~HttpServer();  // stops serving and joins the HTTP threads

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const { return port_; }

 private:
  class Handler;
  HttpServer() = default;

  Options options_;
  std::unique_ptr<Handler> metrics_;
  std::unique_ptr<Handler> healthz_;
  std::unique_ptr<Handler> readyz_;
  std::unique_ptr<CivetServer> server_;  // declared last: destroyed (stopped) first
  uint16_t port_ = 0;
};

}  // namespace chorus::common
