#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/tools/loadgen/fake_http_server.h"
#include "tools/loadgen/server_driver.h"
#include "tools/loadgen/server_probe.h"

namespace chorus::loadgen {
namespace {

using testing::FakeHttpServer;

std::string Ok(const std::string& body) {
  return "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + body;
}

TEST(HttpRequestTest, ReadsTheBodyAndRefusesBadAnswers) {
  FakeHttpServer server({Ok("hello"), "HTTP/1.0 503 Unavailable\r\n\r\nno",
                         "garbage without a head", "HTTP/1.0 2x\r\n\r\n", ""});
  auto body = HttpRequest(server.url("/metrics"), "GET", "");
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, "hello");
  EXPECT_EQ(HttpRequest(server.url("/"), "GET", "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(HttpRequest(server.url("/"), "GET", "").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(HttpRequest(server.url("/"), "GET", "").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(HttpRequest(server.url("/"), "GET", "").status().code(),
            absl::StatusCode::kInternal);  // closed without a word
}

JanusDriverConfig Config(const FakeHttpServer& server) {
  JanusDriverConfig config;
  config.url = server.url("/janus");
  config.timeout_ms = 2000;
  return config;
}

TEST(JanusDriverTest, CreatesARoomAndJoinsThroughTheLongPoll) {
  FakeHttpServer server({
      Ok(R"({"janus": "success", "transaction": "session", "data": {"id": 4503599627370495}})"),
      Ok(R"({"janus": "success", "data": {"id": 77}})"),
      Ok(R"({"janus": "success", "plugindata": {"data": {"audiobridge": "created"}}})"),
      Ok(R"({"janus": "success", "data": {"id": 78}})"),
      Ok(R"({"janus": "ack", "transaction": "join-1"})"),
      // Someone else's event first, then ours.
      Ok(R"([{"janus": "event", "transaction": "other"}, {"janus": "event", )"
         R"("transaction": "join-1", "plugindata": {"data": {"audiobridge": "joined", )"
         R"("rtp": {"ip": "127.0.0.1", "port": 46123, "payload_type": 111}}}}])"),
  });
  auto driver = NewJanusDriver(Config(server));
  auto room = driver->CreateRoom(0, 3);
  ASSERT_TRUE(room.ok()) << room.status();
  JoinOffer offer;
  offer.ip = "127.0.0.1";
  offer.port = 49000;
  auto answer = driver->Join(*room, 0, offer);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->ip, "127.0.0.1");
  EXPECT_EQ(answer->port, 46123);
}

TEST(JanusDriverTest, BadAnswersAreErrorsNotCrashes) {
  const std::vector<std::vector<std::string>> scripts = {
      {Ok("not json at all")},
      {Ok(R"({"janus": "error", "error": {"code": 458, "reason": "No such session"}})")},
      {Ok(R"({"janus": "success", "data": {"id": -3}})")},
      {Ok(R"([1, 2, "three"])")},
      {Ok(R"({"janus": "success", "data": {"id": 1}})"), Ok(R"({"janus": "success", "data": {}})")},
      {Ok(R"({"janus": "success", "data": {"id": 1}})"),
       Ok(R"({"janus": "success", "data": {"id": 2}})"),
       Ok(R"({"janus": "success", "plugindata": {"data": {"audiobridge": "event", "error": "no"}}})")},
  };
  for (const auto& script : scripts) {
    FakeHttpServer server(script);
    auto driver = NewJanusDriver(Config(server));
    EXPECT_FALSE(driver->CreateRoom(0, 3).ok()) << script.back();
  }
  // A join answered with a port out of range, and one refused.
  for (const std::string& event :
       {std::string(R"({"janus": "event", "transaction": "join-1", "plugindata": {"data": )"
                    R"({"audiobridge": "joined", "rtp": {"ip": "127.0.0.1", "port": 70000}}}})"),
        std::string(
            R"({"janus": "event", "transaction": "join-1", "plugindata": {"data": )"
            R"({"audiobridge": "event", "error": "Plain RTP participants not allowed"}}})")}) {
    FakeHttpServer server({
        Ok(R"({"janus": "success", "data": {"id": 1}})"),
        Ok(R"({"janus": "success", "data": {"id": 2}})"),
        Ok(R"({"janus": "success", "plugindata": {"data": {"audiobridge": "created"}}})"),
        Ok(R"({"janus": "success", "data": {"id": 3}})"),
        Ok(R"({"janus": "ack"})"),
        Ok(event),
    });
    auto driver = NewJanusDriver(Config(server));
    auto room = driver->CreateRoom(0, 2);
    ASSERT_TRUE(room.ok()) << room.status();
    JoinOffer offer;
    offer.ip = "127.0.0.1";
    offer.port = 49000;
    EXPECT_FALSE(driver->Join(*room, 0, offer).ok()) << event;
  }
  // SRTP and video are refused before any request.
  FakeHttpServer idle({});
  auto driver = NewJanusDriver(Config(idle));
  JoinOffer srtp;
  srtp.key_base64 = "x";
  EXPECT_EQ(driver->Join("1", 0, srtp).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chorus::loadgen
