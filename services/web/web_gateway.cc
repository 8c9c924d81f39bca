#include "services/web/web_gateway.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "CivetServer.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chorus/v1/rooms.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "pipeline/base/log.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "services/common/file_watch.h"
#include "services/common/server_config.h"
#include "services/controller/room_rules.h"
#include "services/controller/rooms_service.h"
#include "services/web/tls_front.h"
#include "services/web/turn_credentials.h"
#include "services/web/web_assets.h"

namespace chorus::web {
namespace {

namespace api = chorus::v1;
namespace wire = chorus::web::v1;

constexpr size_t kMaxMessage = 64 * 1024;
// Refused sockets told why at once; beyond these a refused connection is only dropped.
constexpr size_t kMaxRefusing = 64;
constexpr size_t kMaxRoomId = 63;
constexpr size_t kMaxInvite = 128;
constexpr size_t kMaxName = 256;
constexpr size_t kMaxLanguage = 35;
constexpr auto kCallTimeout = std::chrono::seconds(15);

std::string_view ContentType(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  if (name.ends_with(".png")) return "image/png";
  if (name.ends_with(".ico")) return "image/x-icon";
  if (name.ends_with(".json") || name.ends_with(".webmanifest")) {
    return "application/json";
  }
  return "application/octet-stream";
}

std::string RoleText(api::Role role) {
  switch (role) {
    case api::ROLE_HOST:
      return "host";
    case api::ROLE_INTERPRETER:
      return "interpreter";
    default:
      return "guest";
  }
}

std::string LeaveText(api::LeaveReason reason) {
  switch (reason) {
    case api::LEAVE_REASON_REMOVED:
      return "removed";
    case api::LEAVE_REASON_DENIED:
      return "denied";
    case api::LEAVE_REASON_ROOM_CLOSED:
      return "room_closed";
    case api::LEAVE_REASON_MEDIA_TIMEOUT:
      return "media_timeout";
    case api::LEAVE_REASON_NODE_FAILED:
      return "node_failed";
    default:
      return "left";
  }
}

wire::Participant ToWeb(const api::Participant& in) {
  wire::Participant out;
  out.set_name(in.name());
  out.set_display_name(in.display_name());
  out.set_role(RoleText(in.role()));
  out.set_state(in.state() == api::PARTICIPANT_STATE_WAITING ? "waiting" : "admitted");
  out.set_muted(in.muted());
  out.set_listen_language(in.listen_language());
  out.set_speak_language(in.speak_language());
  if (!in.interpreter_languages().first().empty()) {
    out.add_interpreter_languages(in.interpreter_languages().first());
    out.add_interpreter_languages(in.interpreter_languages().second());
  }
  out.set_content_sharing(in.content_sharing());
  out.set_speaking(in.speaking());
  out.set_on_air(in.on_air());
  out.set_pinned_participant(in.pinned_participant());
  return out;
}

std::string ToJson(const wire::ServerMessage& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

wire::ServerMessage Error(uint32_t id, std::string code, std::string message) {
  wire::ServerMessage out;
  out.set_type("error");
  out.set_id(id);
  out.set_code(std::move(code));
  out.set_message(std::move(message));
  return out;
}

// The page's error code for a refused JoinRoom.
std::string JoinErrorCode(const grpc::Status& status, const grpc::ClientContext& context) {
  std::string reason;
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(std::string(controller::kRejectReasonMetadata));
  if (it != trailers.end()) reason.assign(it->second.data(), it->second.size());
  if (reason == "REJECT_REASON_INVITE_ALREADY_USED") return "invite_used";
  if (reason == "REJECT_REASON_INVITE_EXPIRED") return "invite_expired";
  if (reason == "REJECT_REASON_INVITE_REVOKED") return "invite_revoked";
  if (reason == "REJECT_REASON_ROOM_LOCKED") return "room_locked";
  if (reason == "REJECT_REASON_ROOM_FULL") return "room_full";
  if (reason == "REJECT_REASON_CONSENT_REQUIRED") return "consent_required";
  switch (status.error_code()) {
    case grpc::StatusCode::PERMISSION_DENIED:
      return "invite_invalid";
    case grpc::StatusCode::NOT_FOUND:
      return "room_ended";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "media";
    case grpc::StatusCode::FAILED_PRECONDITION:
      // A lock or a consent refusal names itself in the metadata above; what is left is a
      // room that closed meanwhile.
      return "room_ended";
    default:
      return "unavailable";
  }
}

std::string JoinErrorMessage(const std::string& code, const grpc::Status& status) {
  if (code == "invite_used") return "this invitation has already been used";
  if (code == "invite_expired") return "this invitation has expired";
  if (code == "invite_revoked") return "this invitation was withdrawn";
  if (code == "invite_invalid") return "this invitation is not valid for this room";
  if (code == "room_locked") return "the room is locked";
  if (code == "room_full") return "the room is full";
  if (code == "room_ended") return "the meeting has ended or does not exist";
  if (code == "consent_required") return "a third participant needs an invitation with consent";
  if (code == "media") return status.error_message();
  return "the service cannot take the call now; try again shortly";
}

bool Printable(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
}

struct Session;

// One WatchRoom stream per room with participants on this listener, and what it knows of the
// room: its roster and lock. Fields other than the stream's are guarded by the gateway's mutex.
struct RoomWatch {
  // Joined by whoever removes its last session; never left joinable, but a detach is safer than
  // a terminate should the last reference ever drop on its own thread.
  ~RoomWatch() {
    if (thread.joinable()) thread.detach();
  }
  std::string room_id;
  grpc::ClientContext context;
  std::thread thread;
  std::set<std::shared_ptr<Session>> sessions;
  std::map<std::string, api::Participant> roster;
  bool locked = false;
};

struct Session {
  const mg_connection* key = nullptr;
  mg_connection* conn = nullptr;  // set once the socket is ready
  std::string source;
  std::chrono::steady_clock::time_point opened;

  // Writes (any thread) are serialised, and stop once the socket closed.
  std::mutex write_mutex;
  bool closed = false;

  // Guarded by the gateway's mutex.
  enum class State { kNew, kJoining, kJoined, kEnded } state = State::kNew;
  std::string room_id;
  std::string participant;  // "rooms/{room}/participants/{p}"
  api::Role role = api::ROLE_UNSPECIFIED;
  bool admitted = false;
  std::string last_state;  // the last "state" message sent, not to repeat it
  std::shared_ptr<RoomWatch> watch;
};

// Messages to write once the gateway's mutex is released.
struct Outbox {
  std::vector<std::pair<std::shared_ptr<Session>, std::string>> messages;
  std::vector<std::shared_ptr<Session>> closes;
  void Add(const std::shared_ptr<Session>& session, const wire::ServerMessage& message) {
    messages.emplace_back(session, ToJson(message));
  }
};

}  // namespace

class WebGateway::Impl : public CivetHandler, public CivetWebSocketHandler {
 public:
  explicit Impl(WebOptions options)
      : options_(std::move(options)), stub_(api::Rooms::NewStub(options_.rooms)) {
    if (options_.registry) {
      auto& connections = prometheus::BuildCounter()
                              .Name("chorus_web_connections_total")
                              .Help("WebSocket connections to the web signalling, by outcome")
                              .Register(*options_.registry);
      accepted_ = &connections.Add({{"result", "accepted"}});
      refused_origin_ = &connections.Add({{"result", "refused_origin"}});
      refused_limit_ = &connections.Add({{"result", "refused_limit"}});
      joins_ = &prometheus::BuildCounter()
                    .Name("chorus_web_joins_total")
                    .Help("Joins through the web signalling, by result (ok or the error code)")
                    .Register(*options_.registry);
      refused_messages_ = &prometheus::BuildCounter()
                               .Name("chorus_web_messages_refused_total")
                               .Help("WebSocket messages refused, by reason")
                               .Register(*options_.registry);
      auto& gauges = prometheus::BuildGauge()
                         .Name("chorus_web_sockets")
                         .Help("Open signalling sockets, and those with a participant in a room")
                         .Register(*options_.registry);
      open_gauge_ = &gauges.Add({{"state", "open"}});
      joined_gauge_ = &gauges.Add({{"state", "joined"}});
    }
  }

  ~Impl() override { Stop(); }

  absl::Status Start() {
    // With TLS, the HTTP server listens on loopback behind this process's TLS front.
    tls_ = !options_.tls_cert_file.empty();
    const std::string listen = tls_ ? "127.0.0.1:0" : options_.listen;
    std::vector<std::string> civet_options = {
        "listening_ports",
        listen,
        "num_threads",
        std::to_string(options_.max_connections + 8),
        "request_timeout_ms",
        "15000",
        // A silent socket is pinged every 30 s; one that answers no more is closed.
        "websocket_timeout_ms",
        "30000",
        "enable_websocket_ping_pong",
        "yes",
        "enable_keep_alive",
        "yes",
        "enable_directory_listing",
        "no",
    };
    CivetCallbacks callbacks;
    callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
    try {
      server_ = std::make_unique<CivetServer>(civet_options, &callbacks, this);
    } catch (const CivetException&) {
      return absl::UnavailableError(
          absl::StrCat("cannot serve the web client on --web_listen=", options_.listen));
    }
    server_->addHandler("/", this);
    server_->addWebSocketHandler("/ws", this);
    std::vector<int> ports = server_->getListeningPorts();
    port_ = ports.empty() ? 0 : static_cast<uint16_t>(ports.front());
    if (tls_) {
      // Per address: its sockets and the page's file loads beside them; none behind a proxy
      // (every connection is the proxy's; the sockets' own limit goes by X-Forwarded-For).
      auto front = TlsFront::Start(
          {options_.listen, options_.tls_cert_file, options_.tls_key_file, port_,
           options_.max_connections,
           options_.trust_forwarded_for ? 0 : 2 * options_.max_connections_per_source});
      if (!front.ok()) {
        server_.reset();
        return front.status();
      }
      front_ = *std::move(front);
      port_ = front_->port();
      tls_signature_ = common::FilesSignature({options_.tls_cert_file, options_.tls_key_file});
    }
    housekeeping_ = std::thread([this] { Housekeeping(); });
    return absl::OkStatus();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(stop_mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_flag_ = true;
    }
    stop_cv_.notify_all();
    if (housekeeping_.joinable()) housekeeping_.join();
    // Closing the server ends every socket; their participants stay in their rooms (handleClose),
    // and their pages resume on the next listener.
    front_.reset();
    if (server_) server_->close();
    std::vector<std::shared_ptr<RoomWatch>> watches;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& [id, watch] : watches_) watches.push_back(watch);
      watches_.clear();
    }
    for (auto& watch : watches) StopWatch(watch);
    server_.reset();
  }

  uint16_t port() const { return port_; }
  bool tls() const { return tls_; }
  absl::Status ReloadTls() { return front_ ? front_->Reload() : absl::OkStatus(); }
  int connections() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int>(sessions_.size());
  }
  int joined() const {
    std::lock_guard<std::mutex> lock(mutex_);
    int count = 0;
    for (const auto& [key, session] : sessions_) {
      if (session->state == Session::State::kJoined) ++count;
    }
    return count;
  }

  // ----- Static files -----

  bool handleGet(CivetServer*, mg_connection* conn) override { return Serve(conn, true); }
  bool handleHead(CivetServer*, mg_connection* conn) override { return Serve(conn, false); }

  // ----- WebSocket -----

  bool handleConnection(CivetServer*, const mg_connection* conn) override {
    const mg_request_info* info = mg_get_request_info(conn);
    const char* origin = mg_get_header(conn, "Origin");
    if (origin != nullptr && !OriginAllowed(origin, mg_get_header(conn, "Host"))) {
      Count(refused_origin_);
      return false;
    }
    auto session = std::make_shared<Session>();
    session->key = conn;
    session->source = info->remote_addr;
    if (front_) {
      std::string client = front_->ClientAddress(static_cast<uint16_t>(info->remote_port));
      if (!client.empty()) session->source = std::move(client);
    }
    if (options_.trust_forwarded_for) {
      const char* forwarded = mg_get_header(conn, "X-Forwarded-For");
      if (forwarded != nullptr) {
        std::string_view list(forwarded);
        size_t comma = list.rfind(',');
        std::string_view last = comma == std::string_view::npos ? list : list.substr(comma + 1);
        while (!last.empty() && last.front() == ' ') last.remove_prefix(1);
        if (!last.empty() && last.size() <= 64) session->source = std::string(last);
      }
    }
    session->opened = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    int from_source = 0;
    for (const auto& [key, other] : sessions_) {
      if (other->source == session->source) ++from_source;
    }
    if (stopping_flag_) return false;
    const bool busy = static_cast<int>(sessions_.size()) >= options_.max_connections;
    if (busy || from_source >= options_.max_connections_per_source) {
      Count(refused_limit_);
      // Said before the socket closes (the page shows why instead of a lost connection), a few
      // at a time; beyond those the connection is only dropped.
      if (refusing_.size() >= kMaxRefusing) return false;
      refusing_[conn] = busy ? Error(0, "unavailable", "the service is busy; try again shortly")
                             : Error(0, "rate_limited",
                                     "too many connections from this address; try again later");
      return true;
    }
    sessions_[conn] = session;
    Count(accepted_);
    if (open_gauge_ != nullptr) open_gauge_->Increment();
    return true;
  }

  void handleReadyState(CivetServer*, mg_connection* conn) override {
    std::string refusal;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto refused = refusing_.find(conn);
      if (refused != refusing_.end()) refusal = ToJson(refused->second);
    }
    if (!refusal.empty()) {
      // Only this thread writes to a refused socket.
      mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_TEXT, refusal.data(), refusal.size());
      const char policy[2] = {0x03, static_cast<char>(0xf0)};  // 1008: policy violation
      mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, policy, 2);
      return;
    }
    std::shared_ptr<Session> session = Find(conn);
    if (!session) return;
    {
      std::lock_guard<std::mutex> write(session->write_mutex);
      session->conn = conn;
    }
    wire::ServerMessage hello;
    hello.set_type("hello");
    *hello.mutable_ice_servers() = IceServersForPage(options_.ice_servers, absl::Now());
    Send(session, ToJson(hello));
  }

  bool handleData(CivetServer*, mg_connection* conn, int bits, char* data, size_t length) override {
    std::shared_ptr<Session> session = Find(conn);
    if (!session) return false;
    const int opcode = bits & 0x0f;
    if (opcode == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE) return false;
    if (opcode == MG_WEBSOCKET_OPCODE_PING || opcode == MG_WEBSOCKET_OPCODE_PONG) return true;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (session->state == Session::State::kEnded) return false;
    }
    if (opcode != MG_WEBSOCKET_OPCODE_TEXT || (bits & 0x80) == 0) {
      Refuse("not_text");
      Send(session, ToJson(Error(0, "bad_request", "only whole JSON text messages are taken")));
      return false;
    }
    if (length > kMaxMessage) {
      Refuse("oversized");
      Send(session, ToJson(Error(0, "bad_request", "a message is at most 64 KiB")));
      return false;
    }
    wire::ClientMessage message;
    google::protobuf::util::JsonParseOptions parse;
    parse.ignore_unknown_fields = false;
    if (!google::protobuf::util::JsonStringToMessage(std::string(data, length), &message, parse)
             .ok()) {
      Refuse("malformed");
      Send(session, ToJson(Error(0, "bad_request",
                                 "not a signalling message: a JSON object with the fields of "
                                 "docs/web.md is expected")));
      return true;
    }
    Handle(session, message);
    return true;
  }

  void handleClose(CivetServer*, const mg_connection* conn) override {
    std::shared_ptr<Session> session;
    std::shared_ptr<RoomWatch> stop;
    bool leave = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (refusing_.erase(conn) > 0) return;
      auto it = sessions_.find(conn);
      if (it == sessions_.end()) return;
      session = it->second;
      sessions_.erase(it);
      if (open_gauge_ != nullptr) open_gauge_->Decrement();
      const bool joined = session->state == Session::State::kJoined;
      if (joined && joined_gauge_ != nullptr) joined_gauge_->Decrement();
      // While the listener stops (the controller restarts or is replaced), its participants
      // stay in their rooms with their media: their pages resume on the next listener.
      leave = joined && !stopping_flag_;
      session->state = Session::State::kEnded;
      if (session->watch) {
        session->watch->sessions.erase(session);
        if (session->watch->sessions.empty()) {
          auto found = watches_.find(session->room_id);
          if (found != watches_.end() && found->second == session->watch) watches_.erase(found);
          stop = session->watch;
        }
        session->watch.reset();
      }
    }
    {
      std::lock_guard<std::mutex> write(session->write_mutex);
      session->closed = true;
    }
    if (leave) {
      // A closed socket leaves the room (a reload, a closed tab, a lost phone connection).
      grpc::ClientContext context;
      Prepare(context);
      api::LeaveRoomRequest request;
      request.set_name(session->participant);
      api::LeaveRoomResponse response;
      (void)stub_->LeaveRoom(&context, request, &response);
    }
    if (stop) StopWatch(stop);
  }

 private:
  void Count(prometheus::Counter* counter) {
    if (counter != nullptr) counter->Increment();
  }
  void Refuse(const std::string& reason) {
    if (refused_messages_ != nullptr) refused_messages_->Add({{"reason", reason}}).Increment();
  }
  void CountJoin(const std::string& result) {
    if (joins_ != nullptr) joins_->Add({{"result", result}}).Increment();
  }

  bool OriginAllowed(std::string_view origin, const char* host) const {
    for (const std::string& allowed : options_.allowed_origins) {
      if (origin == allowed) return true;
    }
    // The page's own origin.
    if (host != nullptr && origin == absl::StrCat(tls_ ? "https://" : "http://", host)) {
      return true;
    }
    return false;
  }

  // Where the page may connect: its own origin, and its own signalling socket by name (not
  // every WebSocket host: some browsers' 'self' leaves out ws: and wss:).
  std::string ConnectSources(const char* host) const {
    std::string sources = "'self'";
    if (host == nullptr) return sources;
    std::string_view name(host);
    const bool plain =
        !name.empty() && name.size() <= 255 && std::all_of(name.begin(), name.end(), [](char c) {
          return absl::ascii_isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
        });
    if (plain) absl::StrAppend(&sources, tls_ ? " wss://" : " ws://", std::string(name));
    return sources;
  }

  std::string FrameAncestors() const {
    std::string sources = "'self'";
    for (const std::string& origin : options_.allowed_origins)
      absl::StrAppend(&sources, " ", origin);
    return sources;
  }

  bool Serve(mg_connection* conn, bool body) {
    const mg_request_info* info = mg_get_request_info(conn);
    std::string_view path = info->local_uri != nullptr ? info->local_uri : "/";
    std::string_view name = path.substr(1);
    if (path == "/" || path == "/join") name = "index.html";
    const Asset* found = nullptr;
    for (const Asset& asset : Assets()) {
      if (asset.name == name) found = &asset;
    }
    if (found == nullptr) {
      constexpr std::string_view kNotFound = "not found\n";
      mg_printf(conn,
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: "
                "%zu\r\nX-Content-Type-Options: nosniff\r\n\r\n",
                kNotFound.size());
      if (body) mg_write(conn, kNotFound.data(), kNotFound.size());
      return true;
    }
    std::string headers = absl::StrCat(
        "HTTP/1.1 200 OK\r\nContent-Type: ", std::string(ContentType(found->name)),
        "\r\nContent-Length: ", found->bytes.size(),
        "\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n"
        "Referrer-Policy: no-referrer\r\n"
        "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src ",
        ConnectSources(mg_get_header(conn, "Host")), "; frame-ancestors ", FrameAncestors(),
        "; base-uri 'none'; form-action 'none'\r\n");
    const char* origin = mg_get_header(conn, "Origin");
    if (origin != nullptr) {
      for (const std::string& allowed : options_.allowed_origins) {
        if (allowed == origin) {
          absl::StrAppend(&headers, "Access-Control-Allow-Origin: ", allowed,
                          "\r\nVary: Origin\r\n");
        }
      }
    }
    if (tls_) absl::StrAppend(&headers, "Strict-Transport-Security: max-age=31536000\r\n");
    headers += "\r\n";
    mg_write(conn, headers.data(), headers.size());
    if (body) mg_write(conn, found->bytes.data(), found->bytes.size());
    return true;
  }

  std::shared_ptr<Session> Find(const mg_connection* conn) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = sessions_.find(conn);
    return it == sessions_.end() ? nullptr : it->second;
  }

  void Send(const std::shared_ptr<Session>& session, const std::string& json) {
    std::lock_guard<std::mutex> write(session->write_mutex);
    if (session->closed || session->conn == nullptr) return;
    mg_websocket_write(session->conn, MG_WEBSOCKET_OPCODE_TEXT, json.data(), json.size());
  }
  void Send(const std::shared_ptr<Session>& session, const wire::ServerMessage& message) {
    Send(session, ToJson(message));
  }
  void CloseSocket(const std::shared_ptr<Session>& session) {
    std::lock_guard<std::mutex> write(session->write_mutex);
    if (session->closed || session->conn == nullptr) return;
    const char normal[2] = {0x03, static_cast<char>(0xe8)};  // 1000: normal closure
    mg_websocket_write(session->conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, normal, 2);
  }
  void Deliver(Outbox& outbox) {
    for (auto& [session, json] : outbox.messages) Send(session, json);
    for (auto& session : outbox.closes) CloseSocket(session);
  }

  void Prepare(grpc::ClientContext& context, bool deadline = true) const {
    if (!options_.rooms_token.empty()) {
      context.AddMetadata("authorization", "Bearer " + options_.rooms_token);
    }
    if (deadline) context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  }

  // ----- Requests -----

  void Handle(const std::shared_ptr<Session>& session, const wire::ClientMessage& message) {
    const uint32_t id = message.id();
    Session::State state;
    std::string participant;
    std::string room_id;
    api::Role role;
    bool admitted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      state = session->state;
      participant = session->participant;
      room_id = session->room_id;
      role = session->role;
      admitted = session->admitted;
    }
    const std::string& type = message.type();
    if (type == "join" || type == "resume") {
      if (state != Session::State::kNew) {
        Send(session, Error(id, "bad_request", "this socket has joined already"));
        return;
      }
      if (type == "join") {
        Join(session, message);
      } else {
        Resume(session, message);
      }
      return;
    }
    if (state != Session::State::kJoined) {
      Send(session, Error(id, "bad_request", "join first"));
      return;
    }
    const std::string prefix = absl::StrCat("rooms/", room_id, "/participants/");
    auto target_ok = [&]() {
      return message.participant().size() <= kMaxName &&
             absl::StartsWith(message.participant(), prefix) &&
             message.participant().size() > prefix.size();
    };
    auto language_ok = [&]() {
      return message.language().size() <= kMaxLanguage && Printable(message.language());
    };
    // Who may ask what is the controller's rule; the socket binds each request to its own
    // participant and room.
    static const std::map<std::string, controller::rules::OwnRequest, std::less<>> kRequests = {
        {"leave", controller::rules::OwnRequest::kLeave},
        {"update_media", controller::rules::OwnRequest::kRenegotiate},
        {"share", controller::rules::OwnRequest::kShare},
        {"listen", controller::rules::OwnRequest::kListen},
        {"speak", controller::rules::OwnRequest::kSpeak},
        {"hand_over", controller::rules::OwnRequest::kHandOver},
        {"pin", controller::rules::OwnRequest::kPin},
        {"admit", controller::rules::OwnRequest::kAdmit},
        {"deny", controller::rules::OwnRequest::kDeny},
        {"remove", controller::rules::OwnRequest::kRemove},
        {"mute", controller::rules::OwnRequest::kMute},
        {"lock", controller::rules::OwnRequest::kLock},
        {"unlock", controller::rules::OwnRequest::kUnlock},
        {"end", controller::rules::OwnRequest::kEnd},
    };
    auto kind = kRequests.find(type);
    if (kind == kRequests.end()) {
      Refuse("unknown_type");
      Send(session, Error(id, "bad_request", "unknown message type"));
      return;
    }
    // A mute naming nobody (or oneself) is the participant's own microphone, shown to everyone.
    const bool self_mute =
        type == "mute" && (message.participant().empty() || message.participant() == participant);
    const absl::Status allowed = controller::rules::MayRequest(
        role, admitted, self_mute ? controller::rules::OwnRequest::kMuteSelf : kind->second);
    if (!allowed.ok()) {
      Send(session, Error(id, "not_allowed", std::string(allowed.message())));
      return;
    }
    grpc::ClientContext context;
    Prepare(context);
    grpc::Status status;
    api::Participant result;
    bool has_result = false;
    if (type == "leave") {
      api::LeaveRoomRequest request;
      request.set_name(participant);
      api::LeaveRoomResponse response;
      status = stub_->LeaveRoom(&context, request, &response);
    } else if (type == "update_media") {
      if (message.sdp().empty()) {
        Send(session, Error(id, "bad_request", "update_media needs sdp"));
        return;
      }
      api::UpdateMediaRequest request;
      request.set_name(participant);
      request.mutable_offer()->mutable_webrtc()->set_sdp(message.sdp());
      api::UpdateMediaResponse response;
      status = stub_->UpdateMedia(&context, request, &response);
      if (status.ok()) {
        wire::ServerMessage answer;
        answer.set_type("answer");
        answer.set_id(id);
        answer.set_sdp(response.answer().webrtc().sdp());
        *answer.mutable_participant() = ToWeb(response.participant());
        Send(session, answer);
        return;
      }
      Send(session, Error(id, "media", status.error_message()));
      return;
    } else if (type == "share") {
      api::SetContentSharingRequest request;
      request.set_name(participant);
      request.set_enabled(message.enabled());
      status = stub_->SetContentSharing(&context, request, &result);
      has_result = true;
    } else if (type == "listen") {
      if (!language_ok()) return Send(session, Error(id, "bad_request", "language: a BCP-47 tag"));
      api::SetListenLanguageRequest request;
      request.set_name(participant);
      request.set_language(message.language());
      status = stub_->SetListenLanguage(&context, request, &result);
      has_result = true;
    } else if (type == "speak") {
      if (!language_ok()) return Send(session, Error(id, "bad_request", "language: a BCP-47 tag"));
      api::SetSpeakLanguageRequest request;
      request.set_name(participant);
      request.set_language(message.language());
      status = stub_->SetSpeakLanguage(&context, request, &result);
      has_result = true;
    } else if (type == "hand_over") {
      api::HandOverInterpretationRequest request;
      request.set_name(participant);
      status = stub_->HandOverInterpretation(&context, request, &result);
      has_result = true;
    } else if (type == "pin") {
      if (!message.participant().empty() && !target_ok()) {
        return Send(session, Error(id, "bad_request", "participant: a participant of this room"));
      }
      api::PinParticipantRequest request;
      request.set_name(participant);
      request.set_pinned(message.participant());
      status = stub_->PinParticipant(&context, request, &result);
      has_result = true;
    } else if (self_mute) {
      api::MuteParticipantRequest request;
      request.set_name(participant);
      request.set_muted(message.muted());
      status = stub_->MuteParticipant(&context, request, &result);
      has_result = true;
    } else if (type == "admit" || type == "deny" || type == "remove" || type == "mute") {
      if (!target_ok()) {
        return Send(session, Error(id, "bad_request", "participant: a participant of this room"));
      }
      if (type == "admit") {
        api::AdmitParticipantRequest request;
        request.set_name(message.participant());
        status = stub_->AdmitParticipant(&context, request, &result);
        has_result = true;
      } else if (type == "deny") {
        api::DenyParticipantRequest request;
        request.set_name(message.participant());
        api::DenyParticipantResponse response;
        status = stub_->DenyParticipant(&context, request, &response);
      } else if (type == "remove") {
        api::RemoveParticipantRequest request;
        request.set_name(message.participant());
        api::RemoveParticipantResponse response;
        status = stub_->RemoveParticipant(&context, request, &response);
      } else {
        api::MuteParticipantRequest request;
        request.set_name(message.participant());
        request.set_muted(message.muted());
        status = stub_->MuteParticipant(&context, request, &result);
        has_result = true;
      }
    } else if (type == "lock" || type == "unlock" || type == "end") {
      const std::string room_name = absl::StrCat("rooms/", room_id);
      api::Room room;
      if (type == "lock") {
        api::LockRoomRequest request;
        request.set_name(room_name);
        status = stub_->LockRoom(&context, request, &room);
      } else if (type == "unlock") {
        api::UnlockRoomRequest request;
        request.set_name(room_name);
        status = stub_->UnlockRoom(&context, request, &room);
      } else {
        api::CloseRoomRequest request;
        request.set_name(room_name);
        api::CloseRoomResponse response;
        status = stub_->CloseRoom(&context, request, &response);
      }
    }
    if (!status.ok()) {
      std::string code = status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? "bad_request"
                         : status.error_code() == grpc::StatusCode::UNAVAILABLE    ? "unavailable"
                                                                                   : "failed";
      Send(session, Error(id, code, status.error_message()));
      return;
    }
    wire::ServerMessage ok;
    ok.set_type("ok");
    ok.set_id(id);
    if (has_result) *ok.mutable_participant() = ToWeb(result);
    Send(session, ok);
  }

  bool RateLimited(const std::string& source) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = failed_joins_.find(source);
    if (it == failed_joins_.end()) return false;
    auto& times = it->second;
    const auto cutoff =
        std::chrono::steady_clock::now() - absl::ToChronoSeconds(options_.failed_join_window);
    while (!times.empty() && times.front() < cutoff) times.pop_front();
    if (times.empty()) {
      failed_joins_.erase(it);
      return false;
    }
    return static_cast<int>(times.size()) >= options_.max_failed_joins_per_source;
  }
  void FailedJoin(const std::string& source) {
    std::lock_guard<std::mutex> lock(mutex_);
    // Bounded: at most this many sources remembered (the oldest windows go first on cleanup).
    if (failed_joins_.size() >= 100000) return;
    failed_joins_[source].push_back(std::chrono::steady_clock::now());
  }

  // A join or a resume from a source with too many failed ones: refused (true).
  bool RateLimited(const std::shared_ptr<Session>& session, uint32_t id) {
    if (!RateLimited(session->source)) return false;
    CountJoin("rate_limited");
    Send(session, Error(id, "rate_limited", "too many failed attempts; try again later"));
    return true;
  }
  // A failed join or resume: counted toward its source's limit, and said.
  void RefuseJoin(const std::shared_ptr<Session>& session, uint32_t id, const std::string& code,
                  const std::string& text) {
    FailedJoin(session->source);
    CountJoin(code);
    Send(session, Error(id, code, text));
  }

  void Join(const std::shared_ptr<Session>& session, const wire::ClientMessage& message) {
    const uint32_t id = message.id();
    if (RateLimited(session, id)) return;
    auto refuse = [&](const std::string& code, const std::string& text) {
      RefuseJoin(session, id, code, text);
    };
    if (message.room().empty() || message.room().size() > kMaxRoomId ||
        !Printable(message.room())) {
      return refuse("bad_request", "join needs room: the room id of the link");
    }
    if (message.invite().empty() || message.invite().size() > kMaxInvite ||
        !Printable(message.invite())) {
      return refuse("bad_request", "join needs invite: the token of the link");
    }
    if (message.sdp().empty()) return refuse("bad_request", "join needs sdp: the SDP offer");
    {
      std::lock_guard<std::mutex> lock(mutex_);
      session->state = Session::State::kJoining;
    }
    grpc::ClientContext context;
    Prepare(context);
    api::JoinRoomRequest request;
    request.set_room(absl::StrCat("rooms/", message.room()));
    request.set_invite_token(message.invite());
    request.mutable_offer()->mutable_webrtc()->set_sdp(message.sdp());
    request.set_client_address(session->source);
    api::JoinRoomResponse response;
    grpc::Status status = stub_->JoinRoom(&context, request, &response);
    if (!status.ok()) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (session->state == Session::State::kJoining) session->state = Session::State::kNew;
      }
      const std::string code = JoinErrorCode(status, context);
      return refuse(code, JoinErrorMessage(code, status));
    }
    wire::ServerMessage joined;
    joined.set_type("joined");
    joined.set_id(id);
    joined.set_sdp(response.answer().webrtc().sdp());
    joined.set_session_token(response.session_token());
    CountJoin("ok");
    if (!Attach(session, message.room(), response.participant(), joined)) {
      // The socket closed while joining (handleClose runs on this thread only after this
      // returns, so this is a gateway shutdown): leave at once, as nobody can resume it.
      grpc::ClientContext leave_context;
      Prepare(leave_context);
      api::LeaveRoomRequest leave;
      leave.set_name(response.participant().name());
      api::LeaveRoomResponse left;
      (void)stub_->LeaveRoom(&leave_context, leave, &left);
    }
  }

  // A page takes its participant's session up again on a new socket (its last one broke while
  // the participant stayed in the room: the listener restarted, or this is another replica).
  void Resume(const std::shared_ptr<Session>& session, const wire::ClientMessage& message) {
    const uint32_t id = message.id();
    if (RateLimited(session, id)) return;
    auto refuse = [&](const std::string& code, const std::string& text) {
      RefuseJoin(session, id, code, text);
    };
    const std::string prefix = absl::StrCat("rooms/", message.room(), "/participants/");
    if (message.room().empty() || message.room().size() > kMaxRoomId ||
        !Printable(message.room()) || message.participant().size() > kMaxName ||
        !absl::StartsWith(message.participant(), prefix) ||
        message.participant().size() == prefix.size() || message.session_token().empty() ||
        message.session_token().size() > kMaxInvite || !Printable(message.session_token())) {
      return refuse("bad_request", "resume needs room, participant and session_token");
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      session->state = Session::State::kJoining;
    }
    grpc::ClientContext context;
    Prepare(context);
    api::ResumeSessionRequest request;
    request.set_name(message.participant());
    request.set_session_token(message.session_token());
    api::ResumeSessionResponse response;
    grpc::Status status = stub_->ResumeSession(&context, request, &response);
    if (!status.ok()) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (session->state == Session::State::kJoining) session->state = Session::State::kNew;
      }
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
        CountJoin("unavailable");
        Send(session,
             Error(id, "unavailable", "the service cannot take the call now; try again shortly"));
        return;
      }
      return refuse("session_ended", "this session has ended");
    }
    wire::ServerMessage resumed;
    resumed.set_type("resumed");
    resumed.set_id(id);
    resumed.set_session_token(response.session_token());
    CountJoin("resumed");
    // A socket closed meanwhile is a gateway shutdown: the participant stays, to resume again.
    (void)Attach(session, message.room(), response.participant(), resumed);
  }

  // Binds a joined or resumed socket to its participant: sends `reply` (with the participant
  // and the room filled in), then the room's events. False when the socket closed meanwhile.
  bool Attach(const std::shared_ptr<Session>& session, const std::string& room_id,
              const api::Participant& participant, wire::ServerMessage reply) {
    // What the page shows of the room.
    api::Room room;
    {
      grpc::ClientContext room_context;
      Prepare(room_context);
      api::GetRoomRequest get;
      get.set_name(absl::StrCat("rooms/", room_id));
      (void)stub_->GetRoom(&room_context, get, &room);
    }
    *reply.mutable_participant() = ToWeb(participant);
    reply.mutable_room()->set_name(absl::StrCat("rooms/", room_id));
    reply.mutable_room()->set_kind(room.kind() == api::ROOM_KIND_MEETING ? "meeting"
                                                                         : "consultation");
    reply.mutable_room()->set_locked(room.locked());
    for (const std::string& language : room.languages()) {
      reply.mutable_room()->add_languages(language);
    }
    {
      wire::ServerMessage state;
      state.set_type("state");
      *state.mutable_participant() = reply.participant();
      std::lock_guard<std::mutex> lock(mutex_);
      session->last_state = ToJson(state);
    }
    Send(session, reply);

    Outbox outbox;
    std::shared_ptr<RoomWatch> start;
    bool left_already = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (session->state != Session::State::kJoining) {
        left_already = true;
      } else {
        // An older socket of the same participant (a page that resumed on a new one while its
        // old one had not timed out yet) ends quietly: the participant stays.
        for (auto& [key, other] : sessions_) {
          if (other != session && other->state == Session::State::kJoined &&
              other->participant == participant.name()) {
            other->state = Session::State::kEnded;
            if (joined_gauge_ != nullptr) joined_gauge_->Decrement();
            if (other->watch) other->watch->sessions.erase(other);
            outbox.closes.push_back(other);
          }
        }
        session->state = Session::State::kJoined;
        if (joined_gauge_ != nullptr) joined_gauge_->Increment();
        session->room_id = room_id;
        session->participant = participant.name();
        session->role = participant.role();
        session->admitted = participant.state() == api::PARTICIPANT_STATE_ADMITTED;
        auto& watch = watches_[room_id];
        if (!watch) {
          watch = std::make_shared<RoomWatch>();
          watch->room_id = room_id;
          watch->locked = room.locked();
          start = watch;
        }
        session->watch = watch;
        watch->sessions.insert(session);
        // Anything that happened to this participant before the watch saw this session.
        // (UpdateSession sends the room's view to one it finds admitted since; one admitted at
        // join gets it here.)
        const bool admitted_at_join = session->admitted;
        auto known = watch->roster.find(participant.name());
        if (known != watch->roster.end()) UpdateSession(*watch, session, known->second, outbox);
        if (admitted_at_join) AddRoomView(*watch, session, outbox);
      }
    }
    if (left_already) return false;
    if (start) {
      Prepare(start->context, /*deadline=*/false);
      start->thread = std::thread([this, start] { RunWatch(start); });
    }
    Deliver(outbox);
    return true;
  }

  // ----- Room events -----

  wire::ServerMessage Roster(const RoomWatch& watch) const {
    wire::ServerMessage roster;
    roster.set_type("roster");
    std::vector<const api::Participant*> list;
    for (const auto& [name, participant] : watch.roster) list.push_back(&participant);
    // Waiting participants first (a host acts on them), then in order of joining.
    std::stable_sort(list.begin(), list.end(), [](const auto* a, const auto* b) {
      const bool wa = a->state() == api::PARTICIPANT_STATE_WAITING;
      const bool wb = b->state() == api::PARTICIPANT_STATE_WAITING;
      if (wa != wb) return wa;
      return std::make_pair(a->join_time().seconds(), a->join_time().nanos()) <
             std::make_pair(b->join_time().seconds(), b->join_time().nanos());
    });
    for (const auto* participant : list) *roster.add_participants() = ToWeb(*participant);
    return roster;
  }

  // An admitted session gets the room's roster and lock state.
  void AddRoomView(const RoomWatch& watch, const std::shared_ptr<Session>& session,
                   Outbox& outbox) {
    // Before the watch's first events the roster is unknown; they bring it.
    if (!watch.roster.empty()) outbox.Add(session, Roster(watch));
    wire::ServerMessage locked;
    locked.set_type("locked");
    locked.set_locked(watch.locked);
    outbox.Add(session, locked);
  }

  void UpdateSession(const RoomWatch& watch, const std::shared_ptr<Session>& session,
                     const api::Participant& participant, Outbox& outbox) {
    wire::ServerMessage state;
    state.set_type("state");
    *state.mutable_participant() = ToWeb(participant);
    std::string json = ToJson(state);
    if (json != session->last_state) {
      session->last_state = json;
      outbox.messages.emplace_back(session, std::move(json));
    }
    const bool admitted = participant.state() == api::PARTICIPANT_STATE_ADMITTED;
    if (admitted && !session->admitted) {
      session->admitted = true;
      AddRoomView(watch, session, outbox);
    }
  }

  void EndSession(const std::shared_ptr<Session>& session, const std::string& reason,
                  Outbox& outbox) {
    if (session->state != Session::State::kJoined) return;
    session->state = Session::State::kEnded;
    if (joined_gauge_ != nullptr) joined_gauge_->Decrement();
    wire::ServerMessage left;
    left.set_type("left");
    left.set_reason(reason);
    outbox.Add(session, left);
    outbox.closes.push_back(session);
  }

  void OnEvent(RoomWatch& watch, const api::RoomEvent& event, const std::string& consent) {
    Outbox outbox;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      std::vector<std::shared_ptr<Session>> sessions(watch.sessions.begin(), watch.sessions.end());
      auto admitted_sessions = [&](auto&& each) {
        for (auto& session : sessions) {
          if (session->state == Session::State::kJoined && session->admitted) each(session);
        }
      };
      const api::Participant* changed = nullptr;
      switch (event.event_case()) {
        case api::RoomEvent::kParticipantWaiting:
          changed = &event.participant_waiting().participant();
          break;
        case api::RoomEvent::kParticipantJoined:
          changed = &event.participant_joined().participant();
          break;
        case api::RoomEvent::kParticipantAdmitted:
          changed = &event.participant_admitted().participant();
          break;
        case api::RoomEvent::kParticipantUpdated:
          changed = &event.participant_updated().participant();
          break;
        default:
          break;
      }
      if (changed != nullptr) {
        watch.roster[changed->name()] = *changed;
        for (auto& session : sessions) {
          if (session->state == Session::State::kJoined &&
              session->participant == changed->name()) {
            UpdateSession(watch, session, *changed, outbox);
          }
        }
        const wire::ServerMessage roster = Roster(watch);
        admitted_sessions([&](const std::shared_ptr<Session>& s) { outbox.Add(s, roster); });
      }
      switch (event.event_case()) {
        case api::RoomEvent::kParticipantLeft: {
          const auto& left = event.participant_left();
          watch.roster.erase(left.participant());
          for (auto& session : sessions) {
            if (session->participant == left.participant()) {
              EndSession(session, LeaveText(left.reason()), outbox);
            }
          }
          const wire::ServerMessage roster = Roster(watch);
          admitted_sessions([&](const std::shared_ptr<Session>& s) { outbox.Add(s, roster); });
          break;
        }
        case api::RoomEvent::kSpeakersChanged: {
          wire::ServerMessage speakers;
          speakers.set_type("speakers");
          speakers.set_language(event.speakers_changed().language());
          for (const std::string& name : event.speakers_changed().participants()) {
            speakers.add_speakers(name);
          }
          admitted_sessions([&](const std::shared_ptr<Session>& s) { outbox.Add(s, speakers); });
          break;
        }
        case api::RoomEvent::kRoomLocked:
        case api::RoomEvent::kRoomUnlocked: {
          watch.locked = event.event_case() == api::RoomEvent::kRoomLocked;
          wire::ServerMessage locked;
          locked.set_type("locked");
          locked.set_locked(watch.locked);
          admitted_sessions([&](const std::shared_ptr<Session>& s) { outbox.Add(s, locked); });
          break;
        }
        case api::RoomEvent::kConsentRecorded: {
          wire::ServerMessage message;
          message.set_type("consent");
          message.set_consent_participant(event.consent_recorded().participant());
          message.set_consent_reference(consent);
          admitted_sessions([&](const std::shared_ptr<Session>& s) {
            if (s->role == api::ROLE_HOST) outbox.Add(s, message);
          });
          break;
        }
        case api::RoomEvent::kRoomClosed:
          for (auto& session : sessions) EndSession(session, "room_closed", outbox);
          break;
        default:
          break;
      }
    }
    Deliver(outbox);
  }

  // The consent reference of an invite, for the room's hosts (never logged).
  std::string ConsentReference(const std::string& room_id, const std::string& invite) {
    std::string page_token;
    for (int page = 0; page < 20; ++page) {
      grpc::ClientContext context;
      Prepare(context);
      api::ListInvitesRequest request;
      request.set_parent(absl::StrCat("rooms/", room_id));
      request.set_page_size(1000);
      request.set_page_token(page_token);
      api::ListInvitesResponse response;
      if (!stub_->ListInvites(&context, request, &response).ok()) return "";
      for (const api::Invite& candidate : response.invites()) {
        if (candidate.name() == invite) return candidate.consent_reference();
      }
      if (response.next_page_token().empty()) return "";
      page_token = response.next_page_token();
    }
    return "";
  }

  void RunWatch(const std::shared_ptr<RoomWatch>& watch) {
    api::WatchRoomRequest request;
    request.set_name(absl::StrCat("rooms/", watch->room_id));
    request.set_include_snapshot(true);
    auto reader = stub_->WatchRoom(&watch->context, request);
    api::RoomEvent event;
    bool closed = false;
    while (reader->Read(&event)) {
      std::string consent;
      if (event.has_consent_recorded()) {
        consent = ConsentReference(watch->room_id, event.consent_recorded().invite());
      }
      closed = closed || event.has_room_closed();
      OnEvent(*watch, event, consent);
    }
    grpc::Status status = reader->Finish();
    bool stopping = false;
    {
      // A room of the same id made later gets a watch of its own.
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = watches_.find(watch->room_id);
      if (it != watches_.end() && it->second == watch) watches_.erase(it);
      stopping = stopping_flag_;
    }
    if (!closed && !stopping && status.error_code() != grpc::StatusCode::CANCELLED) {
      // The room went away without a RoomClosed (it was not found, or the controller stops).
      api::RoomEvent gone;
      gone.mutable_room_closed();
      OnEvent(*watch, gone, "");
    }
  }

  void StopWatch(const std::shared_ptr<RoomWatch>& watch) {
    watch->context.TryCancel();
    if (watch->thread.joinable()) watch->thread.join();
  }

  // Renewed certificate files (a Kubernetes Secret updated in place, a certificate manager's
  // renewal) are served to new connections without a signal.
  void WatchTlsFiles() {
    if (!front_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_tls_check_) return;
    next_tls_check_ = now + absl::ToChronoSeconds(options_.tls_reload_interval);
    const std::string signature =
        common::FilesSignature({options_.tls_cert_file, options_.tls_key_file});
    if (signature.empty() || signature == tls_signature_) return;
    tls_signature_ = signature;
    const absl::Status reloaded = front_->Reload();
    base::Log(reloaded.ok() ? base::LogLevel::kInfo : base::LogLevel::kWarning,
              reloaded.ok() ? "web_tls_reloaded" : "web_tls_reload_failed",
              {{"trigger", "files_changed"}});
  }

  void Housekeeping() {
    std::unique_lock<std::mutex> stop(stop_mutex_);
    while (!stop_cv_.wait_for(stop, std::chrono::seconds(1), [this] { return stopping_; })) {
      WatchTlsFiles();
      std::vector<std::shared_ptr<Session>> late;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto deadline =
            std::chrono::steady_clock::now() - absl::ToChronoSeconds(options_.join_deadline);
        for (auto& [key, session] : sessions_) {
          if (session->state == Session::State::kNew && session->opened < deadline) {
            session->state = Session::State::kEnded;
            late.push_back(session);
          }
        }
        // Forget failure windows that have passed.
        const auto cutoff =
            std::chrono::steady_clock::now() - absl::ToChronoSeconds(options_.failed_join_window);
        for (auto it = failed_joins_.begin(); it != failed_joins_.end();) {
          if (it->second.empty() || it->second.back() < cutoff) {
            it = failed_joins_.erase(it);
          } else {
            ++it;
          }
        }
      }
      for (auto& session : late) {
        Send(session, ToJson(Error(0, "bad_request", "no join within the time allowed")));
        CloseSocket(session);
      }
    }
  }

  const WebOptions options_;
  std::unique_ptr<api::Rooms::Stub> stub_;
  std::unique_ptr<CivetServer> server_;
  std::unique_ptr<TlsFront> front_;
  uint16_t port_ = 0;
  bool tls_ = false;
  std::thread housekeeping_;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  bool stopping_flag_ = false;

  mutable std::mutex mutex_;
  std::map<const mg_connection*, std::shared_ptr<Session>> sessions_;
  // The TLS files as last seen (Housekeeping's thread only).
  std::string tls_signature_;
  std::chrono::steady_clock::time_point next_tls_check_{};
  // Connections over a limit, accepted only to be told why and closed.
  std::map<const mg_connection*, wire::ServerMessage> refusing_;
  std::map<std::string, std::shared_ptr<RoomWatch>> watches_;
  std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> failed_joins_;

  prometheus::Counter* accepted_ = nullptr;
  prometheus::Counter* refused_origin_ = nullptr;
  prometheus::Counter* refused_limit_ = nullptr;
  prometheus::Family<prometheus::Counter>* joins_ = nullptr;
  prometheus::Family<prometheus::Counter>* refused_messages_ = nullptr;
  prometheus::Gauge* open_gauge_ = nullptr;
  prometheus::Gauge* joined_gauge_ = nullptr;
};

absl::StatusOr<std::unique_ptr<WebGateway>> WebGateway::Start(WebOptions options) {
  if (!options.rooms) return absl::InvalidArgumentError("the web gateway needs the rooms API");
  auto impl = std::make_unique<Impl>(std::move(options));
  absl::Status started = impl->Start();
  if (!started.ok()) return started;
  return std::unique_ptr<WebGateway>(new WebGateway(std::move(impl)));
}

WebGateway::WebGateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WebGateway::~WebGateway() { impl_->Stop(); }

uint16_t WebGateway::port() const { return impl_->port(); }
bool WebGateway::tls() const { return impl_->tls(); }
absl::Status WebGateway::ReloadTls() { return impl_->ReloadTls(); }
int WebGateway::connections() const { return impl_->connections(); }
int WebGateway::joined() const { return impl_->joined(); }

}  // namespace chorus::web
