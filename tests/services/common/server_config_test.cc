#include "services/common/server_config.h"

#include <cmath>

#include "gtest/gtest.h"

namespace chorus::common {
namespace {

ServerConfig DevConfig() {
  ServerConfig config;
  config.dev = true;
  return config;
}

ServerConfig ProductionConfig() {
  ServerConfig config;
  config.grpc_listen = "0.0.0.0:7700";
  config.http_listen = "0.0.0.0:9464";
  config.media_address = "10.0.0.5";
  config.tls_cert_file = "/etc/chorus/tls.crt";
  config.tls_key_file = "/etc/chorus/tls.key";
  config.api_tokens_file = "/etc/chorus/tokens";
  return config;
}

TEST(ServerConfigTest, DevDefaultsAreValid) { EXPECT_TRUE(ValidateServerConfig(DevConfig()).ok()); }

TEST(ServerConfigTest, DevRefusesEveryNonLoopbackListener) {
  ServerConfig grpc = DevConfig();
  grpc.grpc_listen = "0.0.0.0:7700";
  absl::Status status = ValidateServerConfig(grpc);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("--grpc_listen"), std::string_view::npos) << status;
  EXPECT_NE(status.message().find("loopback"), std::string_view::npos) << status;

  ServerConfig http = DevConfig();
  http.http_listen = "192.168.1.2:9464";
  EXPECT_NE(ValidateServerConfig(http).message().find("--http_listen"), std::string_view::npos);

  ServerConfig media = DevConfig();
  media.media_address = "10.1.2.3";
  EXPECT_NE(ValidateServerConfig(media).message().find("--media_address"), std::string_view::npos);
}

TEST(ServerConfigTest, DevAcceptsEveryLoopbackForm) {
  for (const char* address : {"127.0.0.1:1", "127.8.9.10:7700", "[::1]:7700", "localhost:0"}) {
    ServerConfig config = DevConfig();
    config.grpc_listen = address;
    EXPECT_TRUE(ValidateServerConfig(config).ok()) << address;
  }
}

TEST(ServerConfigTest, WithoutDevTlsIsRequired) {
  ServerConfig config = ProductionConfig();
  EXPECT_TRUE(ValidateServerConfig(config).ok());
  config.tls_cert_file.clear();
  config.tls_key_file.clear();
  absl::Status status = ValidateServerConfig(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("--tls_cert"), std::string_view::npos) << status;
  EXPECT_NE(status.message().find("--dev"), std::string_view::npos) << status;
}

TEST(ServerConfigTest, OnlyTheControllerTakesAStateFile) {
  ServerConfig config = ProductionConfig();
  config.state_file = "/var/lib/chorus/state.db";
  EXPECT_TRUE(ValidateServerConfig(config).ok()) << ValidateServerConfig(config);
  config.role = Role::kMediaNode;
  config.api_tokens_file.clear();
  config.tls_client_ca_file = "/etc/chorus/ca.crt";
  config.require_client_cert = true;
  absl::Status status = ValidateServerConfig(config);
  EXPECT_NE(status.message().find("--state_file does not apply"), std::string_view::npos) << status;
}

TEST(ServerConfigTest, TheControllerKeepsItsRoomsInAStateFileOrADatabaseNotBoth) {
  ServerConfig config = ProductionConfig();
  config.postgres_url_file = "/etc/chorus/postgres/uri";
  EXPECT_TRUE(ValidateServerConfig(config).ok()) << ValidateServerConfig(config);
  config.state_file = "/var/lib/chorus/state.db";
  absl::Status status = ValidateServerConfig(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("give one"), std::string_view::npos) << status;
  config.state_file.clear();
  config.role = Role::kMediaNode;
  config.api_tokens_file.clear();
  config.tls_client_ca_file = "/etc/chorus/ca.crt";
  config.require_client_cert = true;
  status = ValidateServerConfig(config);
  EXPECT_NE(status.message().find("--postgres_url_file does not apply"), std::string_view::npos)
      << status;
}

TEST(ServerConfigTest, PlaintextIsRefusedEvenOnLoopbackWithoutDev) {
  ServerConfig config;  // defaults: loopback, no TLS, no --dev
  EXPECT_EQ(ValidateServerConfig(config).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServerConfigTest, PublicApiNeedsAuthenticationAndMediaNodeNeedsClientCertificates) {
  ServerConfig config = ProductionConfig();
  config.api_tokens_file.clear();
  EXPECT_NE(ValidateServerConfig(config).message().find("authenticate"), std::string_view::npos);
  config.tls_client_ca_file = "/etc/chorus/ca.crt";
  config.require_client_cert = true;
  EXPECT_TRUE(ValidateServerConfig(config).ok());

  // A media node's one client is the controller, known by its certificate: TLS alone would let
  // anyone who reaches the port create sessions.
  ServerConfig media = ProductionConfig();
  media.role = Role::kMediaNode;
  media.api_tokens_file.clear();
  EXPECT_NE(ValidateServerConfig(media).message().find("--require_client_cert"),
            std::string_view::npos);
  media.tls_client_ca_file = "/etc/chorus/ca.crt";
  media.require_client_cert = true;
  EXPECT_TRUE(ValidateServerConfig(media).ok());
  media.api_tokens_file = "/etc/chorus/tokens";
  EXPECT_NE(ValidateServerConfig(media).message().find("does not apply"), std::string_view::npos);

  ServerConfig controller = ProductionConfig();
  controller.role = Role::kController;
  controller.media_nodes = {"dns:chorus-media:7701"};
  controller.media_node_tls_name = "chorus-media";
  EXPECT_TRUE(ValidateServerConfig(controller).ok()) << ValidateServerConfig(controller);
  controller.media_nodes = {"media-0.chorus-media.chorus.svc.cluster.local:7701", "10.0.0.7:7701"};
  EXPECT_TRUE(ValidateServerConfig(controller).ok()) << ValidateServerConfig(controller);
  media.api_tokens_file.clear();
  media.media_node_tls_name = "chorus-media";
  EXPECT_NE(ValidateServerConfig(media).message().find("only applies"), std::string_view::npos);
}

TEST(ServerConfigTest, RejectsNonsense) {
  struct Case {
    const char* what;
    void (*mutate)(ServerConfig&);
  };
  const Case cases[] = {
      {"bad grpc address", [](ServerConfig& c) { c.grpc_listen = "7700"; }},
      {"port too large", [](ServerConfig& c) { c.grpc_listen = "127.0.0.1:70000"; }},
      {"host name", [](ServerConfig& c) { c.grpc_listen = "example.org:7700"; }},
      {"empty host", [](ServerConfig& c) { c.http_listen = ":9464"; }},
      {"bare ipv6", [](ServerConfig& c) { c.http_listen = "::1:9464"; }},
      {"inverted ports",
       [](ServerConfig& c) {
         c.media_port_min = 5000;
         c.media_port_max = 4000;
       }},
      {"privileged ports", [](ServerConfig& c) { c.media_port_min = 80; }},
      {"ports beyond 65535", [](ServerConfig& c) { c.media_port_max = 4'000'000'000u; }},
      {"media address not ip", [](ServerConfig& c) { c.media_address = "media.local"; }},
      {"zero drain", [](ServerConfig& c) { c.drain_timeout = absl::ZeroDuration(); }},
      {"huge drain", [](ServerConfig& c) { c.drain_timeout = absl::Hours(1000); }},
      {"min wait beyond timeout", [](ServerConfig& c) { c.drain_min_wait = absl::Hours(1); }},
      {"cert without key", [](ServerConfig& c) { c.tls_cert_file = "/x.crt"; }},
      {"client cert without ca", [](ServerConfig& c) { c.require_client_cert = true; }},
      {"node without port", [](ServerConfig& c) { c.media_nodes = {"dns:chorus-media"}; }},
      {"node name with a bad label", [](ServerConfig& c) { c.media_nodes = {"-media-:7701"}; }},
      {"node name with a space", [](ServerConfig& c) { c.media_nodes = {"media 1:7701"}; }},
      {"admission threshold zero", [](ServerConfig& c) { c.admission_threshold = 0; }},
      {"admission threshold above one", [](ServerConfig& c) { c.admission_threshold = 1.5; }},
      {"admission threshold nan", [](ServerConfig& c) { c.admission_threshold = std::nan(""); }},
      {"node port zero", [](ServerConfig& c) { c.media_nodes = {"media-0:0"}; }},
  };
  for (const Case& test : cases) {
    ServerConfig config = DevConfig();
    test.mutate(config);
    EXPECT_EQ(ValidateServerConfig(config).code(), absl::StatusCode::kInvalidArgument) << test.what;
  }
}

TEST(ServerConfigTest, ParsesRolesAndAddresses) {
  EXPECT_EQ(*ParseRole("media-node"), Role::kMediaNode);
  EXPECT_EQ(ParseRole("recorder").status().code(), absl::StatusCode::kInvalidArgument);
  auto v6 = ParseHostPort("[::1]:7700");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7700);
  EXPECT_TRUE(IsLoopbackHost("127.0.0.53"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("::"));
}

}  // namespace
}  // namespace chorus::common
