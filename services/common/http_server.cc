#include "services/common/http_server.h"

#include <string_view>
#include <vector>

#include "CivetServer.h"
#include "absl/strings/str_cat.h"
#include "prometheus/text_serializer.h"
#include "services/common/server_config.h"

namespace chorus::common {
namespace {

void Respond(mg_connection* conn, int code, std::string_view content_type, std::string_view body) {
  const char* reason = code == 200 ? "OK" : code == 503 ? "Service Unavailable" : "Error";
  std::string head =
      absl::StrCat("HTTP/1.1 ", code, " ", reason, "\r\nContent-Type: ", std::string(content_type),
                   "\r\nContent-Length: ", body.size(),
                   "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n");
  mg_write(conn, head.data(), head.size());
  mg_write(conn, body.data(), body.size());
}

}  // namespace

class HttpServer::Handler : public CivetHandler {
 public:
  explicit Handler(std::function<void(mg_connection*)> serve) : serve_(std::move(serve)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    serve_(conn);
    return true;
  }

 private:
  std::function<void(mg_connection*)> serve_;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(Options options) {
  auto address = ParseHostPort(options.listen);
  if (!address.ok()) return address.status();
  std::string host = address->host == "localhost" ? "127.0.0.1" : address->host;
  std::string ports = host.find(':') != std::string::npos
                          ? absl::StrCat("[", host, "]:", address->port)
                          : absl::StrCat(host, ":", address->port);

  std::unique_ptr<HttpServer> server(new HttpServer());
  server->options_ = std::move(options);
  HttpServer* self = server.get();
  server->metrics_ = std::make_unique<Handler>([self](mg_connection* conn) {
    std::vector<prometheus::MetricFamily> families = self->options_.registry->Collect();
    for (const auto& collectable : self->options_.collectables) {
      std::vector<prometheus::MetricFamily> more = collectable->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()),
                      std::make_move_iterator(more.end()));
    }
    std::string body = prometheus::TextSerializer().Serialize(families);
    Respond(conn, 200, "text/plain; version=0.0.4; charset=utf-8", body);
  });
  server->healthz_ = std::make_unique<Handler>(
      [](mg_connection* conn) { Respond(conn, 200, "text/plain", "ok\n"); });
  server->readyz_ = std::make_unique<Handler>([self](mg_connection* conn) {
    if (self->options_.ready()) {
      Respond(conn, 200, "text/plain", "ready\n");
    } else {
      Respond(conn, 503, "text/plain", "not ready\n");
    }
  });

  std::vector<std::string> civet_options = {
      "listening_ports",    ports,  "num_threads",       "4",
      "request_timeout_ms", "5000", "enable_keep_alive", "no"};
  try {
    server->server_ = std::make_unique<CivetServer>(civet_options);
  } catch (const CivetException& e) {
    return absl::UnavailableError(
        absl::StrCat("--http_listen: cannot listen on ", server->options_.listen, ": ", e.what()));
  }
  server->server_->addHandler("/metrics", server->metrics_.get());
  server->server_->addHandler("/healthz", server->healthz_.get());
  server->server_->addHandler("/readyz", server->readyz_.get());
  std::vector<int> bound = server->server_->getListeningPorts();
  server->port_ = bound.empty() ? 0 : static_cast<uint16_t>(bound.front());
  return server;
}

HttpServer::~HttpServer() {
  if (server_) server_->close();
}

}  // namespace chorus::common
