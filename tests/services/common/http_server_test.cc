#include "services/common/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "gtest/gtest.h"
#include "services/common/metrics.h"

namespace chorus::common {
namespace {

struct HttpReply {
  int status = 0;
  std::string body;
};

// A minimal HTTP/1.0 GET over loopback, so the test judges the server by what a scraper sees.
HttpReply Get(uint16_t port, const std::string& path) {
  HttpReply reply;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return reply;
  }
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
  close(fd);
  if (response.rfind("HTTP/1.", 0) == 0 && response.size() > 12) {
    reply.status = std::stoi(response.substr(9, 3));
  }
  size_t body = response.find("\r\n\r\n");
  if (body != std::string::npos) reply.body = response.substr(body + 4);
  return reply;
}

TEST(HttpServerTest, ServesMetricsHealthAndReadiness) {
  ServerMetrics metrics(Role::kAll);
  std::atomic<bool> ready{true};
  auto server =
      HttpServer::Start({"127.0.0.1:0", metrics.registry(), [&] { return ready.load(); }, {}});
  ASSERT_TRUE(server.ok()) << server.status();
  uint16_t port = (*server)->port();
  ASSERT_NE(port, 0);

  HttpReply scrape = Get(port, "/metrics");
  EXPECT_EQ(scrape.status, 200);
  EXPECT_NE(scrape.body.find("chorus_build_info{"), std::string::npos) << scrape.body;
  EXPECT_NE(scrape.body.find("role=\"all\""), std::string::npos) << scrape.body;

  EXPECT_EQ(Get(port, "/healthz").status, 200);
  EXPECT_EQ(Get(port, "/readyz").status, 200);
  ready = false;
  EXPECT_EQ(Get(port, "/readyz").status, 503);
  EXPECT_EQ(Get(port, "/healthz").status, 200);
  EXPECT_EQ(Get(port, "/nothing-here").status, 404);
}

TEST(HttpServerTest, ReportsAnAddressItCannotBind) {
  ServerMetrics metrics(Role::kAll);
  auto first = HttpServer::Start({"127.0.0.1:0", metrics.registry(), [] { return true; }, {}});
  ASSERT_TRUE(first.ok());
  std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = HttpServer::Start({taken, metrics.registry(), [] { return true; }, {}});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("--http_listen"), std::string_view::npos);
}

}  // namespace
}  // namespace chorus::common
