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
#include "absl/flags/marshalling.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
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
ABSL_FLAG(bool, timing, false,
          "Print each API call's round trip to standard error (rpc_ms=...), connection included");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Deadline of each call");
ABSL_FLAG(int32_t, page_size, 0, "room list: rooms per page asked of the server (0: its default)");
ABSL_FLAG(std::string, room_id, "", "room create: the room's id (random when empty)");
ABSL_FLAG(std::string, access, "invite-only",
          "room create: invite-only, host-pin, shared-pin or one-time");
ABSL_FLAG(std::string, host_pin, "", "room create: the host PIN (host-pin rooms)");
ABSL_FLAG(std::string, guest_pin, "", "room create: the guest PIN (host-pin, shared-pin rooms)");
ABSL_FLAG(std::string, lobby, "", "room create: true or false (default: on for consultations)");
ABSL_FLAG(int32_t, max_participants, 0, "room create: participant limit (0: the default)");
ABSL_FLAG(std::vector<std::string>, languages, {}, "room create: interpretation languages");
ABSL_FLAG(std::string, prompt_language, "",
          "room create: the language of telephone callers' spoken prompts (en, de, da, nb)");
ABSL_FLAG(std::string, pseudonym, "", "invite create: the display name on joining");
ABSL_FLAG(std::string, consent, "", "invite create: the consent reference (third participants)");
ABSL_FLAG(std::vector<std::string>, language_pair, {},
          "invite create: an interpreter's two languages");
ABSL_FLAG(absl::Duration, ttl, absl::ZeroDuration(), "invite create: validity (default 24h)");
ABSL_FLAG(std::string, invite_token, "", "join: the invite token");
ABSL_FLAG(std::string, pin, "", "join: the room's host or guest PIN");
ABSL_FLAG(std::string, display_name, "", "join: the display name (PIN joins)");
ABSL_FLAG(std::string, client_address, "",
          "join: the joining client's IP address, as a platform passes it (wrong PINs count per "
          "address)");
ABSL_FLAG(int64_t, resume_after, 0,
          "watch: first the room's kept events after this sequence number (0: only new ones)");
ABSL_FLAG(bool, video, false, "dial-out: offer video too (a room system)");
ABSL_FLAG(std::string, speak_language, "",
          "dial-out: the channel the interpreter called speaks into once answered");
ABSL_FLAG(std::string, codec, "opus/111", "join: codec/payload type the endpoint receives");
ABSL_FLAG(std::string, receive, "", "join: ip:port where the endpoint receives media");
ABSL_FLAG(std::string, key, "", "join: base64 SDES key the endpoint sends with");
ABSL_FLAG(std::string, video_receive, "",
          "join: ip:port where the endpoint receives its video view (adds a video stream)");
ABSL_FLAG(std::string, video_key, "", "join: base64 SDES key the endpoint sends video with");
ABSL_FLAG(std::string, video_codec, "VP8/96", "join: video codec/payload type (VP8 or H264)");
ABSL_FLAG(std::string, video_size, "640x360", "join: size of the video view received");
ABSL_FLAG(std::string, content_key, "",
          "join: base64 SDES key the endpoint sends content (screen sharing) with; adds a content "
          "stream in --video_codec");
ABSL_FLAG(bool, unmute, false, "mute: unmute instead");

namespace chorus::chorusctl {
namespace {

constexpr char kUsage[] =
    "Command-line client of the Chorus public API.\n"
    "\n"
    "Usage: chorusctl [flags] <command>\n"
    "Put -- before the command's arguments when one may begin with '-' (a session token, a\n"
    "name): chorusctl [flags] resume -- <participant> <session token>\n"
    "Commands:\n"
    "  health [service]   gRPC health check of the server (or of one service); exit 0 when "
    "SERVING\n"
    "  room list          list the rooms\n"
    "  room create consultation|meeting   [--access --host_pin --guest_pin --lobby\n"
    "                     --max_participants --languages --prompt_language --room_id]\n"
    "  room get|lock|unlock|close <room>\n"
    "  invite create <room> host|guest|interpreter   [--pseudonym --consent --language_pair\n"
    "                     --ttl]; prints the invitation link (when the server has a web\n"
    "                     client) and the token (shown once)\n"
    "  invite revoke rooms/<room>/invites/<invite>   the link is refused from then on\n"
    "  dial-out <room> <sip:uri> --invite_token=T [--speak_language=L --video]   calls the\n"
    "                     address through the SIP role; the callee joins as the invite's\n"
    "                     participant once it answers (progress in the room's events)\n"
    "  join <room> --invite_token=T | --pin=P   --receive=ip:port --key=BASE64 [--codec]\n"
    "                     [--video_receive=ip:port --video_key=B64 --video_codec=VP8/96\n"
    "                      --video_size=1280x720]\n"
    "                     prints the participant and the media answer (address, port, key)\n"
    "  admit|deny|remove|mute <participant>   (mute --unmute to undo)\n"
    "  rename <participant> <display name>\n"
    "  listen|speak <participant> <language|floor>   the channel heard / spoken into\n"
    "  handover <participant>             puts this interpreter on air in its booth\n"
    "  share|unshare <participant>        starts or stops its content (presentation layout)\n"
    "  resume <participant> <session token>   takes the participant's session up again (the\n"
    "                                     token of its join or last resume); prints the new one\n"
    "  pin <participant> <other|none>     shows the other large in this participant's view\n"
    "                                     (a sign-language interpreter); none: the room layout\n"
    "  participants <room>   the roster\n"
    "  watch <room>       print the room's events as they come (JSON lines) until stopped\n"
    "                     (--resume_after=N: first the kept events after event N)\n"
    "  node <Method> [json]\n"
    "                     call the internal media node API (chorus.internal.v1.MediaNode) with a\n"
    "                     JSON request (proto field names), print the JSON answer; for\n"
    "                     operators and tests: GetLoad, Drain, ListSessions, CreateSession,\n"
    "                     DeleteSession, AddEndpoint, UpdateEndpoint, RemoveEndpoint, SetLayout,\n"
    "                     GetSessionStats\n"
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
  if (method == "ListSessions") return NodeCall(client, method, json, &Stub::ListSessions);
  if (method == "CreateSession") return NodeCall(client, method, json, &Stub::CreateSession);
  if (method == "DeleteSession") return NodeCall(client, method, json, &Stub::DeleteSession);
  if (method == "AddEndpoint") return NodeCall(client, method, json, &Stub::AddEndpoint);
  if (method == "UpdateEndpoint") return NodeCall(client, method, json, &Stub::UpdateEndpoint);
  if (method == "RemoveEndpoint") return NodeCall(client, method, json, &Stub::RemoveEndpoint);
  if (method == "SetLayout") return NodeCall(client, method, json, &Stub::SetLayout);
  if (method == "GetSessionStats") return NodeCall(client, method, json, &Stub::GetSessionStats);
  return Usage(absl::StrCat("node: unknown method '", method, "'"));
}

// The public API's other commands. Each prints the answer as JSON with --json, else one line.
template <typename Request, typename Response>
int RoomsCall(const Client& client, const std::string& what, const Request& request,
              grpc::Status (chorus::v1::Rooms::Stub::*call)(grpc::ClientContext*, const Request&,
                                                            Response*),
              const std::function<std::string(const Response&)>& summary) {
  auto stub = chorus::v1::Rooms::NewStub(client.channel);
  auto context = client.NewContext();
  Response response;
  const absl::Time start = absl::Now();
  grpc::Status status = ((*stub).*call)(context.get(), request, &response);
  if (absl::GetFlag(FLAGS_timing)) {
    std::fprintf(stderr, "rpc_ms=%.1f\n", absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  if (!status.ok()) return CallFailed(what, status);
  if (client.json) {
    std::printf("%s\n", ToJson(response).c_str());
  } else {
    std::printf("%s\n", summary(response).c_str());
  }
  return kExitOk;
}

std::string RoomLine(const chorus::v1::Room& room) {
  return absl::StrCat(room.name(), " ",
                      Shorten(chorus::v1::RoomKind_Name(room.kind()), "ROOM_KIND_"), " ",
                      Shorten(chorus::v1::AccessMode_Name(room.access_mode()), "ACCESS_MODE_"),
                      " participants=", room.participant_count(), room.locked() ? " locked" : "",
                      room.dial_in_id().empty() ? "" : " dial_in_id=", room.dial_in_id());
}

std::string ParticipantLine(const chorus::v1::Participant& p) {
  return absl::StrCat(
      p.name(), " ", p.display_name(), " ", Shorten(chorus::v1::Role_Name(p.role()), "ROLE_"), " ",
      Shorten(chorus::v1::ParticipantState_Name(p.state()), "PARTICIPANT_STATE_"),
      p.muted() ? " muted" : "",
      p.speak_language().empty()
          ? ""
          : absl::StrCat(" speaks=", p.speak_language(), p.on_air() ? " on-air" : " standby"),
      p.listen_language().empty() ? "" : " listens=" + p.listen_language(),
      p.pinned_participant().empty() ? "" : " pinned=" + p.pinned_participant());
}

std::string RoomName(const std::string& arg) {
  return arg.rfind("rooms/", 0) == 0 ? arg : "rooms/" + arg;
}

int Room(const Client& client, const std::vector<std::string>& args) {
  using chorus::v1::Rooms;
  if (args.empty()) return Usage("room: create, get, list, lock, unlock or close");
  const std::string& verb = args[0];
  if (verb == "create") {
    if (args.size() != 2 || (args[1] != "consultation" && args[1] != "meeting")) {
      return Usage("room create consultation|meeting");
    }
    chorus::v1::CreateRoomRequest request;
    chorus::v1::Room* room = request.mutable_room();
    room->set_kind(args[1] == "consultation" ? chorus::v1::ROOM_KIND_CONSULTATION
                                             : chorus::v1::ROOM_KIND_MEETING);
    const std::string access = absl::GetFlag(FLAGS_access);
    if (access == "invite-only") {
      room->set_access_mode(chorus::v1::ACCESS_MODE_INVITE_ONLY);
    } else if (access == "host-pin") {
      room->set_access_mode(chorus::v1::ACCESS_MODE_HOST_PIN);
    } else if (access == "shared-pin") {
      room->set_access_mode(chorus::v1::ACCESS_MODE_SHARED_PIN);
    } else if (access == "one-time") {
      room->set_access_mode(chorus::v1::ACCESS_MODE_ONE_TIME);
    } else {
      return Usage("--access: invite-only, host-pin, shared-pin or one-time");
    }
    const std::string lobby = absl::GetFlag(FLAGS_lobby);
    if (lobby == "true" || lobby == "false") {
      room->set_lobby_enabled(lobby == "true");
    } else if (!lobby.empty()) {
      return Usage("--lobby: true or false");
    }
    room->set_max_participants(absl::GetFlag(FLAGS_max_participants));
    for (const std::string& language : absl::GetFlag(FLAGS_languages))
      room->add_languages(language);
    room->set_prompt_language(absl::GetFlag(FLAGS_prompt_language));
    request.set_room_id(absl::GetFlag(FLAGS_room_id));
    request.set_host_pin(absl::GetFlag(FLAGS_host_pin));
    request.set_guest_pin(absl::GetFlag(FLAGS_guest_pin));
    return RoomsCall<chorus::v1::CreateRoomRequest, chorus::v1::Room>(
        client, "room create", request, &Rooms::Stub::CreateRoom, RoomLine);
  }
  if (verb == "list") return RoomList(client, {args.begin() + 1, args.end()});
  if (args.size() != 2) return Usage("room " + verb + " <room>");
  const std::string name = RoomName(args[1]);
  if (verb == "get") {
    chorus::v1::GetRoomRequest request;
    request.set_name(name);
    return RoomsCall<chorus::v1::GetRoomRequest, chorus::v1::Room>(client, "room get", request,
                                                                   &Rooms::Stub::GetRoom, RoomLine);
  }
  if (verb == "lock") {
    chorus::v1::LockRoomRequest request;
    request.set_name(name);
    return RoomsCall<chorus::v1::LockRoomRequest, chorus::v1::Room>(
        client, "room lock", request, &Rooms::Stub::LockRoom, RoomLine);
  }
  if (verb == "unlock") {
    chorus::v1::UnlockRoomRequest request;
    request.set_name(name);
    return RoomsCall<chorus::v1::UnlockRoomRequest, chorus::v1::Room>(
        client, "room unlock", request, &Rooms::Stub::UnlockRoom, RoomLine);
  }
  if (verb == "close") {
    chorus::v1::CloseRoomRequest request;
    request.set_name(name);
    return RoomsCall<chorus::v1::CloseRoomRequest, chorus::v1::CloseRoomResponse>(
        client, "room close", request, &Rooms::Stub::CloseRoom,
        [&](const chorus::v1::CloseRoomResponse&) { return name + " closed"; });
  }
  return Usage("room: unknown command '" + verb + "'");
}

int InviteCreate(const Client& client, const std::vector<std::string>& args) {
  if (args.size() != 2) return Usage("invite create <room> host|guest|interpreter");
  chorus::v1::CreateInviteRequest request;
  request.set_parent(RoomName(args[0]));
  chorus::v1::Invite* invite = request.mutable_invite();
  if (args[1] == "host") {
    invite->set_role(chorus::v1::ROLE_HOST);
  } else if (args[1] == "guest") {
    invite->set_role(chorus::v1::ROLE_GUEST);
  } else if (args[1] == "interpreter") {
    invite->set_role(chorus::v1::ROLE_INTERPRETER);
  } else {
    return Usage("invite create: the role is host, guest or interpreter");
  }
  invite->set_pseudonym(absl::GetFlag(FLAGS_pseudonym));
  invite->set_consent_reference(absl::GetFlag(FLAGS_consent));
  std::vector<std::string> pair = absl::GetFlag(FLAGS_language_pair);
  if (pair.size() == 2) {
    invite->mutable_interpreter_languages()->set_first(pair[0]);
    invite->mutable_interpreter_languages()->set_second(pair[1]);
  } else if (!pair.empty()) {
    return Usage("--language_pair: two languages, comma-separated");
  }
  absl::Duration ttl = absl::GetFlag(FLAGS_ttl);
  if (ttl > absl::ZeroDuration()) invite->mutable_ttl()->set_seconds(absl::ToInt64Seconds(ttl));
  return RoomsCall<chorus::v1::CreateInviteRequest, chorus::v1::CreateInviteResponse>(
      client, "invite create", request, &chorus::v1::Rooms::Stub::CreateInvite,
      [](const chorus::v1::CreateInviteResponse& r) {
        // The link (when the server serves the web client) comes before the token, which
        // stays last on the line for scripts that cut it off.
        return absl::StrCat(r.invite().name(), r.link().empty() ? "" : " link=", r.link(),
                            " token=", r.token());
      });
}

// Withdraws an invitation before it is used (a cancelled appointment, a link sent to the wrong
// address): its link is refused from then on.
int InviteRevoke(const Client& client, const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("invite revoke rooms/<room>/invites/<invite>");
  chorus::v1::RevokeInviteRequest request;
  request.set_name(args[0]);
  return RoomsCall<chorus::v1::RevokeInviteRequest, chorus::v1::Invite>(
      client, "invite revoke", request, &chorus::v1::Rooms::Stub::RevokeInvite,
      [](const chorus::v1::Invite& invite) { return absl::StrCat(invite.name(), " revoked"); });
}

// Calls someone (an interpreter by telephone) into the room through the SIP role.
int DialOut(const Client& client, const std::vector<std::string>& args) {
  if (args.size() != 2) return Usage("dial-out <room> <sip:uri> --invite_token=T");
  chorus::v1::DialOutRequest request;
  request.set_room(RoomName(args[0]));
  request.set_sip_uri(args[1]);
  request.set_invite_token(absl::GetFlag(FLAGS_invite_token));
  request.set_speak_language(absl::GetFlag(FLAGS_speak_language));
  request.set_video(absl::GetFlag(FLAGS_video));
  return RoomsCall<chorus::v1::DialOutRequest, chorus::v1::DialOutResponse>(
      client, "dial-out", request, &chorus::v1::Rooms::Stub::DialOut,
      [](const chorus::v1::DialOutResponse& r) {
        return absl::StrCat(r.participant().name(), " calling");
      });
}

int Join(const Client& client, const std::vector<std::string>& args) {
  if (args.size() != 1)
    return Usage("join <room> --invite_token=T|--pin=P --receive=ip:port --key=K");
  chorus::v1::JoinRoomRequest request;
  request.set_room(RoomName(args[0]));
  if (!absl::GetFlag(FLAGS_invite_token).empty()) {
    request.set_invite_token(absl::GetFlag(FLAGS_invite_token));
  } else if (!absl::GetFlag(FLAGS_pin).empty()) {
    request.set_pin(absl::GetFlag(FLAGS_pin));
  } else {
    return Usage("join: give --invite_token or --pin");
  }
  request.set_display_name(absl::GetFlag(FLAGS_display_name));
  request.set_client_address(absl::GetFlag(FLAGS_client_address));
  const std::string receive = absl::GetFlag(FLAGS_receive);
  const size_t colon = receive.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(receive.substr(colon + 1), &port)) {
    return Usage("--receive: ip:port where the endpoint receives");
  }
  const std::string codec = absl::GetFlag(FLAGS_codec);
  const size_t slash = codec.find('/');
  uint32_t payload_type = 0;
  if (slash == std::string::npos || !absl::SimpleAtoi(codec.substr(slash + 1), &payload_type)) {
    return Usage("--codec: name/payload type, e.g. opus/111 or PCMU/0");
  }
  chorus::v1::StreamOffer* stream = request.mutable_offer()->mutable_rtp()->add_streams();
  stream->set_kind(chorus::v1::MEDIA_KIND_AUDIO);
  stream->add_codecs()->set_name(codec.substr(0, slash));
  stream->mutable_codecs(0)->set_payload_type(payload_type);
  stream->set_address(receive.substr(0, colon));
  stream->set_port(port);
  stream->mutable_key()->set_key_base64(absl::GetFlag(FLAGS_key));
  if (const std::string video = absl::GetFlag(FLAGS_video_receive); !video.empty()) {
    const size_t video_colon = video.rfind(':');
    uint32_t video_port = 0;
    if (video_colon == std::string::npos ||
        !absl::SimpleAtoi(video.substr(video_colon + 1), &video_port)) {
      return Usage("--video_receive: ip:port where the endpoint receives video");
    }
    const std::string video_codec = absl::GetFlag(FLAGS_video_codec);
    const size_t video_slash = video_codec.find('/');
    uint32_t video_payload_type = 0;
    if (video_slash == std::string::npos ||
        !absl::SimpleAtoi(video_codec.substr(video_slash + 1), &video_payload_type)) {
      return Usage("--video_codec: name/payload type, e.g. VP8/96 or H264/97");
    }
    uint32_t width = 0, height = 0;
    const std::string size = absl::GetFlag(FLAGS_video_size);
    const size_t x = size.find('x');
    if (x == std::string::npos || !absl::SimpleAtoi(size.substr(0, x), &width) ||
        !absl::SimpleAtoi(size.substr(x + 1), &height)) {
      return Usage("--video_size: WIDTHxHEIGHT, e.g. 1280x720");
    }
    chorus::v1::StreamOffer* video_stream = request.mutable_offer()->mutable_rtp()->add_streams();
    video_stream->set_kind(chorus::v1::MEDIA_KIND_VIDEO);
    video_stream->add_codecs()->set_name(video_codec.substr(0, video_slash));
    video_stream->mutable_codecs(0)->set_payload_type(video_payload_type);
    video_stream->mutable_codecs(0)->set_clock_rate(90000);
    video_stream->set_address(video.substr(0, video_colon));
    video_stream->set_port(video_port);
    video_stream->set_width(width);
    video_stream->set_height(height);
    video_stream->mutable_key()->set_key_base64(absl::GetFlag(FLAGS_video_key));
    if (const std::string content_key = absl::GetFlag(FLAGS_content_key); !content_key.empty()) {
      chorus::v1::StreamOffer* content = request.mutable_offer()->mutable_rtp()->add_streams();
      *content = *video_stream;
      content->set_kind(chorus::v1::MEDIA_KIND_CONTENT);
      content->mutable_key()->set_key_base64(content_key);
    }
  }
  return RoomsCall<chorus::v1::JoinRoomRequest, chorus::v1::JoinRoomResponse>(
      client, "join", request, &chorus::v1::Rooms::Stub::JoinRoom,
      [](const chorus::v1::JoinRoomResponse& r) {
        std::string line = ParticipantLine(r.participant());
        for (const auto& s : r.answer().rtp().streams()) {
          absl::StrAppend(&line,
                          s.kind() == chorus::v1::MEDIA_KIND_VIDEO     ? " video"
                          : s.kind() == chorus::v1::MEDIA_KIND_CONTENT ? " content"
                                                                       : "",
                          " send_to=", s.address(), ":", s.port(), " key=", s.key().key_base64(),
                          " ssrc=", s.ssrc());
        }
        return line;
      });
}

int Participants(const Client& client, const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("participants <room>");
  chorus::v1::ListParticipantsRequest request;
  request.set_parent(RoomName(args[0]));
  request.set_page_size(1000);
  return RoomsCall<chorus::v1::ListParticipantsRequest, chorus::v1::ListParticipantsResponse>(
      client, "participants", request, &chorus::v1::Rooms::Stub::ListParticipants,
      [](const chorus::v1::ListParticipantsResponse& r) {
        std::string lines;
        for (const auto& p : r.participants()) absl::StrAppend(&lines, ParticipantLine(p), "\n");
        return lines.empty() ? std::string("no participants") : lines.substr(0, lines.size() - 1);
      });
}

int Control(const Client& client, const std::string& verb, const std::vector<std::string>& args) {
  using chorus::v1::Rooms;
  if (verb == "rename") {
    if (args.size() != 2) return Usage("rename <participant> <display name>");
    chorus::v1::RenameParticipantRequest request;
    request.set_name(args[0]);
    request.set_display_name(args[1]);
    return RoomsCall<chorus::v1::RenameParticipantRequest, chorus::v1::Participant>(
        client, verb, request, &Rooms::Stub::RenameParticipant, ParticipantLine);
  }
  if (verb == "resume") {
    if (args.size() != 2) return Usage("resume <participant> <session token>");
    chorus::v1::ResumeSessionRequest request;
    request.set_name(args[0]);
    request.set_session_token(args[1]);
    return RoomsCall<chorus::v1::ResumeSessionRequest, chorus::v1::ResumeSessionResponse>(
        client, verb, request, &Rooms::Stub::ResumeSession,
        [](const chorus::v1::ResumeSessionResponse& r) {
          return absl::StrCat(ParticipantLine(r.participant()),
                              " session_token=", r.session_token());
        });
  }
  if (verb == "pin") {
    if (args.size() != 2) return Usage("pin <participant> <pinned participant|none>");
    chorus::v1::PinParticipantRequest request;
    request.set_name(args[0]);
    request.set_pinned(args[1] == "none" ? "" : args[1]);
    return RoomsCall<chorus::v1::PinParticipantRequest, chorus::v1::Participant>(
        client, verb, request, &Rooms::Stub::PinParticipant, ParticipantLine);
  }
  if (verb == "listen" || verb == "speak") {
    if (args.size() != 2) return Usage(verb + " <participant> <language|floor>");
    const std::string language = args[1] == "floor" ? "" : args[1];
    if (verb == "listen") {
      chorus::v1::SetListenLanguageRequest request;
      request.set_name(args[0]);
      request.set_language(language);
      return RoomsCall<chorus::v1::SetListenLanguageRequest, chorus::v1::Participant>(
          client, verb, request, &Rooms::Stub::SetListenLanguage, ParticipantLine);
    }
    chorus::v1::SetSpeakLanguageRequest request;
    request.set_name(args[0]);
    request.set_language(language);
    return RoomsCall<chorus::v1::SetSpeakLanguageRequest, chorus::v1::Participant>(
        client, verb, request, &Rooms::Stub::SetSpeakLanguage, ParticipantLine);
  }
  if (args.size() != 1) return Usage(verb + " <participant>");
  if (verb == "share" || verb == "unshare") {
    chorus::v1::SetContentSharingRequest request;
    request.set_name(args[0]);
    request.set_enabled(verb == "share");
    return RoomsCall<chorus::v1::SetContentSharingRequest, chorus::v1::Participant>(
        client, verb, request, &Rooms::Stub::SetContentSharing, ParticipantLine);
  }
  if (verb == "handover") {
    chorus::v1::HandOverInterpretationRequest request;
    request.set_name(args[0]);
    return RoomsCall<chorus::v1::HandOverInterpretationRequest, chorus::v1::Participant>(
        client, verb, request, &Rooms::Stub::HandOverInterpretation, ParticipantLine);
  }
  if (verb == "admit") {
    chorus::v1::AdmitParticipantRequest request;
    request.set_name(args[0]);
    return RoomsCall<chorus::v1::AdmitParticipantRequest, chorus::v1::Participant>(
        client, verb, request, &Rooms::Stub::AdmitParticipant, ParticipantLine);
  }
  if (verb == "mute") {
    chorus::v1::MuteParticipantRequest request;
    request.set_name(args[0]);
    request.set_muted(!absl::GetFlag(FLAGS_unmute));
    return RoomsCall<chorus::v1::MuteParticipantRequest, chorus::v1::Participant>(
        client, verb, request, &Rooms::Stub::MuteParticipant, ParticipantLine);
  }
  if (verb == "deny") {
    chorus::v1::DenyParticipantRequest request;
    request.set_name(args[0]);
    return RoomsCall<chorus::v1::DenyParticipantRequest, chorus::v1::DenyParticipantResponse>(
        client, verb, request, &Rooms::Stub::DenyParticipant,
        [&](const chorus::v1::DenyParticipantResponse&) { return args[0] + " denied"; });
  }
  chorus::v1::RemoveParticipantRequest request;
  request.set_name(args[0]);
  return RoomsCall<chorus::v1::RemoveParticipantRequest, chorus::v1::RemoveParticipantResponse>(
      client, verb, request, &Rooms::Stub::RemoveParticipant,
      [&](const chorus::v1::RemoveParticipantResponse&) { return args[0] + " removed"; });
}

int Watch(const Client& client, const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("watch <room>");
  auto stub = chorus::v1::Rooms::NewStub(client.channel);
  grpc::ClientContext context;  // no deadline: until stopped or the room closes
  if (!client.token.empty()) context.AddMetadata("authorization", "Bearer " + client.token);
  chorus::v1::WatchRoomRequest request;
  request.set_name(RoomName(args[0]));
  request.set_include_snapshot(true);
  request.set_resume_after_sequence(absl::GetFlag(FLAGS_resume_after));
  auto reader = stub->WatchRoom(&context, request);
  chorus::v1::RoomEvent event;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  while (reader->Read(&event)) {
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(event, &json, options);
    std::printf("%s\n", json.c_str());
    std::fflush(stdout);
  }
  grpc::Status status = reader->Finish();
  return status.ok() ? kExitOk : CallFailed("watch", status);
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
  // --help lists chorusctl's own flags (defined in this file, not in main.cc).
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "tools/chorusctl/");
  };
  usage_config.contains_helpshort_flags = usage_config.contains_help_flags;
  absl::SetFlagsUsageConfig(usage_config);
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
      {{"room"}, Room},
      {{"invite", "create"}, InviteCreate},
      {{"invite", "revoke"}, InviteRevoke},
      {{"join"}, Join},
      {{"dial-out"}, DialOut},
      {{"participants"}, Participants},
      {{"admit"},
       [](const Client& c, const std::vector<std::string>& a) { return Control(c, "admit", a); }},
      {{"deny"},
       [](const Client& c, const std::vector<std::string>& a) { return Control(c, "deny", a); }},
      {{"remove"},
       [](const Client& c, const std::vector<std::string>& a) { return Control(c, "remove", a); }},
      {{"mute"},
       [](const Client& c, const std::vector<std::string>& a) { return Control(c, "mute", a); }},
      {{"rename"},
       [](const Client& c, const std::vector<std::string>& a) { return Control(c, "rename", a); }},
      {{"resume"},
       [](const Client& c, const std::vector<std::string>& a) { return Control(c, "resume", a); }},
      {{"listen"},
       [](const Client& c, const std::vector<std::string>& a) { return Control(c, "listen", a); }},
      {{"speak"},
       [](const Client& c, const std::vector<std::string>& a) { return Control(c, "speak", a); }},
      {{"share"},
       [](const Client& c, const std::vector<std::string>& a) { return Control(c, "share", a); }},
      {{"unshare"},
       [](const Client& c, const std::vector<std::string>& a) { return Control(c, "unshare", a); }},
      {{"handover"},
       [](const Client& c, const std::vector<std::string>& a) {
         return Control(c, "handover", a);
       }},
      {{"pin"},
       [](const Client& c, const std::vector<std::string>& a) { return Control(c, "pin", a); }},
      {{"watch"}, Watch},
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
