#include "tools/chorusctl/cli.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "chorus/v1/media_node.grpc.pb.h"
#include "chorus/v1/rooms.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "pipeline/base/build_info.h"

ABSL_FLAG(std::string, address, "127.0.0.1:7700", "Chorus gRPC API address (host:port)");
ABSL_FLAG(bool, insecure, false, "Plaintext gRPC (only for a development server on loopback)");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA bundle to verify the server (default: system roots)");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate, when the server asks for one");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_server_name, "", "Expected server name in its certificate");
ABSL_FLAG(std::string, token_file, "",
          "File whose first line is the API bearer token (or set CHORUS_TOKEN)");
ABSL_FLAG(bool, json, false, "Print answers as JSON");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Deadline of each call");
ABSL_FLAG(int32_t, page_size, 0, "room list: rooms per page asked of the server (0: its default)");

namespace chorus::chorusctl {
namespace {

constexpr char kUsage[] =
    "Command-line client of the Chorus public API.\n"
    "\n"
    "Usage: chorusctl [flags] <command>\n"
    "Commands:\n"
    "  health [service]   gRPC health check of the server (or of one service); exit 0 when "
    "SERVING\n"
    "  room list          list the rooms\n"
    "  node <Method> [json]\n"
    "                     call the internal media node API (chorus.internal.v1.MediaNode) with a\n"
    "                     JSON request (proto field names), print the JSON answer; for\n"
    "                     operators and tests: GetLoad, Drain, CreateSession, DeleteSession,\n"
    "                     AddEndpoint, UpdateEndpoint, RemoveEndpoint, SetLayout, GetSessionStats\n"
    "\n"
    "Example: chorusctl --insecure health\n";

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int Usage(const std::string& message) {
  std::fprintf(stderr, "chorusctl: %s\n\n%s", message.c_str(), kUsage);
  return kExitUsage;
}

bool ReadFile(const std::string& path, std::string* contents) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  *contents = text.str();
  return true;
}

// Everything a command needs to make calls.
struct Client {
  std::shared_ptr<grpc::Channel> channel;
  std::string token;  // empty: no authorization metadata
  bool json = false;
  absl::Duration timeout;

  std::unique_ptr<grpc::ClientContext> NewContext() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }
};

int CallFailed(const std::string& what, const grpc::Status& status) {
  std::fprintf(stderr, "chorusctl: %s failed: %s: %s\n", what.c_str(),
               absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())).c_str(),
               status.error_message().c_str());
  return kExitFailed;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

int Health(const Client& client, const std::vector<std::string>& args) {
  if (args.size() > 1) return Usage("health takes at most one argument, a service name");
  grpc::health::v1::HealthCheckRequest request;
  if (!args.empty()) request.set_service(args[0]);
  grpc::health::v1::HealthCheckResponse response;
  auto stub = grpc::health::v1::Health::NewStub(client.channel);
  auto context = client.NewContext();
  grpc::Status status = stub->Check(context.get(), request, &response);
  if (!status.ok()) return CallFailed("health check", status);
  std::string name = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  if (client.json) {
    std::printf("%s", ToJson(response).c_str());
  } else {
    std::printf("%s\n", name.c_str());
  }
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk
                                                                             : kExitFailed;
}

std::string Shorten(const std::string& enum_name, const std::string& prefix) {
  std::string text = enum_name.rfind(prefix, 0) == 0 ? enum_name.substr(prefix.size()) : enum_name;
  return absl::AsciiStrToLower(text);
}

int RoomList(const Client& client, const std::vector<std::string>& args) {
  if (!args.empty()) return Usage("room list takes no argument");
  auto stub = chorus::v1::Rooms::NewStub(client.channel);
  chorus::v1::ListRoomsResponse all;
  chorus::v1::ListRoomsRequest request;
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  for (int page = 0;; ++page) {
    chorus::v1::ListRoomsResponse response;
    auto context = client.NewContext();
    grpc::Status status = stub->ListRooms(context.get(), request, &response);
    if (!status.ok()) return CallFailed("room list", status);
    for (const auto& room : response.rooms()) *all.add_rooms() = room;
    if (response.next_page_token().empty()) break;
    if (page > 100000) {
      std::fprintf(stderr, "chorusctl: room list: the server keeps returning pages; stopped\n");
      return kExitFailed;
    }
    request.set_page_token(response.next_page_token());
  }
  if (client.json) {
    std::printf("%s", ToJson(all).c_str());
    return kExitOk;
  }
  if (all.rooms().empty()) {
    std::printf("no rooms\n");
    return kExitOk;
  }
  std::printf("%-28s %-14s %-12s %-8s %-12s %s\n", "NAME", "KIND", "ACCESS", "STATE",
              "PARTICIPANTS", "LOCKED");
  for (const auto& room : all.rooms()) {
    std::printf("%-28s %-14s %-12s %-8s %-12d %s\n", room.name().c_str(),
                Shorten(chorus::v1::RoomKind_Name(room.kind()), "ROOM_KIND_").c_str(),
                Shorten(chorus::v1::AccessMode_Name(room.access_mode()), "ACCESS_MODE_").c_str(),
                Shorten(chorus::v1::RoomState_Name(room.state()), "ROOM_STATE_").c_str(),
                room.participant_count(), room.locked() ? "yes" : "no");
  }
  return kExitOk;
}

// One unary call of the internal API: JSON in, JSON out (always JSON: these messages have no
// table form).
template <typename Request, typename Response>
int NodeCall(const Client& client, const std::string& method, const std::string& json,
             grpc::Status (chorus::internal::v1::MediaNode::Stub::*call)(grpc::ClientContext*,
                                                                         const Request&,
                                                                         Response*)) {
  Request request;
  auto parsed = google::protobuf::util::JsonStringToMessage(json.empty() ? "{}" : json, &request);
  if (!parsed.ok()) {
    return Usage(absl::StrCat("node ", method, ": the request is not valid JSON for ",
                              Request::descriptor()->full_name(), ": ",
                              std::string(parsed.message())));
  }
  auto stub = chorus::internal::v1::MediaNode::NewStub(client.channel);
  auto context = client.NewContext();
  Response response;
  grpc::Status status = ((*stub).*call)(context.get(), request, &response);
  if (!status.ok()) return CallFailed(absl::StrCat("node ", method), status);
  std::printf("%s\n", ToJson(response).c_str());
  return kExitOk;
}

int Node(const Client& client, const std::vector<std::string>& args) {
  if (args.empty() || args.size() > 2) return Usage("node takes a method name and a JSON request");
  using Stub = chorus::internal::v1::MediaNode::Stub;
  const std::string& method = args[0];
  const std::string json = args.size() > 1 ? args[1] : "";
  if (method == "GetLoad") return NodeCall(client, method, json, &Stub::GetLoad);
  if (method == "Drain") return NodeCall(client, method, json, &Stub::Drain);
  if (method == "CreateSession") return NodeCall(client, method, json, &Stub::CreateSession);
  if (method == "DeleteSession") return NodeCall(client, method, json, &Stub::DeleteSession);
  if (method == "AddEndpoint") return NodeCall(client, method, json, &Stub::AddEndpoint);
  if (method == "UpdateEndpoint") return NodeCall(client, method, json, &Stub::UpdateEndpoint);
  if (method == "RemoveEndpoint") return NodeCall(client, method, json, &Stub::RemoveEndpoint);
  if (method == "SetLayout") return NodeCall(client, method, json, &Stub::SetLayout);
  if (method == "GetSessionStats") return NodeCall(client, method, json, &Stub::GetSessionStats);
  return Usage(absl::StrCat("node: unknown method '", method, "'"));
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials() {
  if (absl::GetFlag(FLAGS_insecure)) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  struct FileFlag {
    const char* flag;
    std::string path;
    std::string* into;
  };
  FileFlag files[] = {{"--tls_ca", absl::GetFlag(FLAGS_tls_ca), &options.pem_root_certs},
                      {"--tls_cert", absl::GetFlag(FLAGS_tls_cert), &options.pem_cert_chain},
                      {"--tls_key", absl::GetFlag(FLAGS_tls_key), &options.pem_private_key}};
  for (FileFlag& file : files) {
    if (file.path.empty()) continue;
    if (!ReadFile(file.path, file.into)) {
      return absl::InvalidArgumentError(absl::StrCat(file.flag, ": cannot read '", file.path, "'"));
    }
  }
  if (options.pem_cert_chain.empty() != options.pem_private_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key must be given together");
  }
  return grpc::SslCredentials(options);
}

absl::StatusOr<std::string> Token() {
  std::string path = absl::GetFlag(FLAGS_token_file);
  if (!path.empty()) {
    std::string contents;
    if (!ReadFile(path, &contents)) {
      return absl::InvalidArgumentError(absl::StrCat("--token_file: cannot read '", path, "'"));
    }
    std::string first_line = contents.substr(0, contents.find('\n'));
    return std::string(absl::StripAsciiWhitespace(first_line));
  }
  const char* env = std::getenv("CHORUS_TOKEN");
  return env ? std::string(absl::StripAsciiWhitespace(env)) : std::string();
}

}  // namespace

int RunChorusctl(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> words(positional.begin() + 1, positional.end());
  if (words.empty()) return Usage("no command given");

  auto credentials = Credentials();
  if (!credentials.ok()) return Usage(std::string(credentials.status().message()));
  auto token = Token();
  if (!token.ok()) return Usage(std::string(token.status().message()));

  Client client;
  grpc::ChannelArguments arguments;
  std::string server_name = absl::GetFlag(FLAGS_tls_server_name);
  if (!server_name.empty()) arguments.SetSslTargetNameOverride(server_name);
  client.channel = grpc::CreateCustomChannel(absl::GetFlag(FLAGS_address), *credentials, arguments);
  client.token = *token;
  client.json = absl::GetFlag(FLAGS_json);
  client.timeout = absl::GetFlag(FLAGS_timeout);
  if (client.timeout <= absl::ZeroDuration()) return Usage("--timeout must be positive");

  using Command = std::function<int(const Client&, const std::vector<std::string>&)>;
  struct Entry {
    std::vector<std::string> words;
    Command run;
  };
  const Entry commands[] = {
      {{"health"}, Health},
      {{"room", "list"}, RoomList},
      {{"node"}, Node},
  };
  for (const Entry& entry : commands) {
    if (words.size() >= entry.words.size() &&
        std::equal(entry.words.begin(), entry.words.end(), words.begin())) {
      std::vector<std::string> args(words.begin() + entry.words.size(), words.end());
      return entry.run(client, args);
    }
  }
  return Usage(absl::StrCat("unknown command '", absl::StrJoin(words, " "), "'"));
}

}  // namespace chorus::chorusctl
