// A controller that stops in the middle of a call (kill -9, a crash, an upgrade) and a new one
// that starts on the same state file and the same media node: the call goes on, the new
// controller takes it over (ReconcileNode), and what nobody owns on the node is removed.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pipeline/base/log.h"
#include "pipeline/engine/engine.h"
#include "services/controller/rooms_service.h"
#include "services/controller/sqlite_room_store.h"
#include "services/media_node/media_node_service.h"

namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;
namespace internal = chorus::internal::v1;
constexpr char kSecret[] = "reconcile-secret";

// The media node as the controller reaches it, with a switch that makes it fall silent (every
// call UNAVAILABLE) without ending the media it runs: the real node's service behind it goes on.
class SwitchableNode final : public internal::MediaNode::Service {
 public:
  explicit SwitchableNode(std::shared_ptr<grpc::Channel> real)
      : real_(internal::MediaNode::NewStub(std::move(real))) {}
  void SetSilent(bool silent) {
    absl::MutexLock lock(&mutex_);
    silent_ = silent;
  }

#define CHORUS_FORWARD(Method, Request, Response)                                    \
  grpc::Status Method(grpc::ServerContext*, const internal::Request* request,        \
                      internal::Response* response) override {                       \
    if (Silent()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "node silent"); \
    grpc::ClientContext context;                                                     \
    context.AddMetadata(media_node::kInternalSecretHeader, kSecret);                 \
    return real_->Method(&context, *request, response);                              \
  }
  CHORUS_FORWARD(CreateSession, CreateSessionRequest, Session)
  CHORUS_FORWARD(DeleteSession, DeleteSessionRequest, DeleteSessionResponse)
  CHORUS_FORWARD(ListSessions, ListSessionsRequest, ListSessionsResponse)
  CHORUS_FORWARD(AddEndpoint, AddEndpointRequest, Endpoint)
  CHORUS_FORWARD(UpdateEndpoint, UpdateEndpointRequest, Endpoint)
  CHORUS_FORWARD(RemoveEndpoint, RemoveEndpointRequest, RemoveEndpointResponse)
  CHORUS_FORWARD(SetLayout, SetLayoutRequest, Layout)
  CHORUS_FORWARD(GetSessionStats, GetSessionStatsRequest, SessionStats)
  CHORUS_FORWARD(GetLoad, GetLoadRequest, LoadReport)
#undef CHORUS_FORWARD

 private:
  bool Silent() {
    absl::MutexLock lock(&mutex_);
    return silent_;
  }
  std::unique_ptr<internal::MediaNode::Stub> real_;
  absl::Mutex mutex_;
  bool silent_ ABSL_GUARDED_BY(mutex_) = false;
};

class ReconcileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(::testing::TempDir(), "/reconcile_",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".db");
    Forget();
    base::SetLogSinkForTesting([this](std::string_view line) {
      absl::MutexLock lock(&log_mutex_);
      log_.emplace_back(line);
    });
    auth_ = common::BearerAuthenticator::AllowAll();
    // The media node: its engine, its service and a server without a port, and the switchable
    // face the controllers reach. It lives through every controller of the test.
    engine::EngineOptions engine_options;
    engine_options.workers = 1;
    engine_options.port_min = 42900;
    engine_options.port_max = 42949;
    engine_ = *engine::MediaEngine::Create(engine_options);
    media_node::MediaNodeOptions node_options;
    node_options.node_id = "media-r";
    node_options.internal_secret = kSecret;
    media_service_ = std::make_unique<media_node::MediaNodeService>(node_options, engine_.get(),
                                                                    *auth_, node_lifecycle_);
    grpc::ServerBuilder node_builder;
    node_builder.RegisterService(media_service_.get());
    node_server_ = node_builder.BuildAndStart();
    ASSERT_NE(node_server_, nullptr);
    node_lifecycle_.SetReady(true);
    face_ =
        std::make_unique<SwitchableNode>(node_server_->InProcessChannel(grpc::ChannelArguments()));
    grpc::ServerBuilder face_builder;
    face_builder.RegisterService(face_.get());
    face_server_ = face_builder.BuildAndStart();
    ASSERT_NE(face_server_, nullptr);
  }
  void TearDown() override {
    StopController();
    face_server_->Shutdown();
    media_service_->Shutdown();
    node_server_->Shutdown();
    base::SetLogSinkForTesting(nullptr);
    Forget();
  }
  void Forget() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
  }

  // A controller on the state file, with the media nodes listed at these addresses (the node of
  // this test answers at `node_address`; any other address is a node that never answers), which
  // reconciles with them before it serves, as chorusd does. Returns how many nodes answered.
  size_t StartController(const std::vector<std::string>& addresses = {"media-a:7701"},
                         const std::string& node_address = "media-a:7701",
                         RoomsOptions options = {}) {
    auto store = MakeSqliteRoomStore(path_, options.now());
    EXPECT_TRUE(store.ok()) << store.status();
    nodes_ = std::make_unique<MediaNodes>();
    for (const std::string& address : addresses) {
      if (address == node_address) {
        nodes_->Add(address, face_server_->InProcessChannel(grpc::ChannelArguments()));
      } else {
        nodes_->Add(address,
                    grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
      }
    }
    service_ = std::make_unique<RoomsService>(*auth_, lifecycle_, nodes_.get(), options,
                                              *std::move(store));
    const size_t answered = service_->ReconcileNodes();
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    lifecycle_.SetReady(true);
    stub_ = v1::Rooms::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
    return answered;
  }
  // The controller ends without a word to the media node (kill -9): its state file stays as
  // written, the node goes on with the call.
  void StopController() {
    if (server_) server_->Shutdown();
    if (service_) service_->Shutdown();
    stub_.reset();
    server_.reset();
    service_.reset();
    nodes_.reset();
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }
  static std::unique_ptr<grpc::ClientContext> NodeContext() {
    auto context = Context();
    context->AddMetadata(media_node::kInternalSecretHeader, kSecret);
    return context;
  }
  // The node itself, as an operator asks it (not through the switch).
  std::unique_ptr<internal::MediaNode::Stub> Node() {
    return internal::MediaNode::NewStub(node_server_->InProcessChannel(grpc::ChannelArguments()));
  }
  internal::ListSessionsResponse Sessions() {
    internal::ListSessionsResponse listed;
    grpc::Status status = Node()->ListSessions(NodeContext().get(), {}, &listed);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return listed;
  }
  // The endpoint of a participant on the node, or nullptr.
  static const internal::Endpoint* EndpointOf(const internal::ListSessionsResponse& listed,
                                              const std::string& participant) {
    const std::string id = participant.substr(participant.rfind('/') + 1);
    for (const internal::SessionListing& session : listed.sessions()) {
      for (const internal::Endpoint& endpoint : session.endpoints()) {
        if (endpoint.name() == absl::StrCat(session.session().name(), "/endpoints/", id)) {
          return &endpoint;
        }
      }
    }
    return nullptr;
  }

  v1::Room CreateConsultation(const std::string& id) {
    v1::CreateRoomRequest request;
    request.set_room_id(id);
    request.mutable_room()->set_kind(v1::ROOM_KIND_CONSULTATION);
    v1::Room room;
    grpc::Status status = stub_->CreateRoom(Context().get(), request, &room);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return room;
  }
  std::string Invite(const v1::Room& room, v1::Role role, const std::string& consent = "") {
    v1::CreateInviteRequest request;
    request.set_parent(room.name());
    request.mutable_invite()->set_role(role);
    request.mutable_invite()->set_consent_reference(consent);
    v1::CreateInviteResponse response;
    grpc::Status status = stub_->CreateInvite(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.token();
  }
  grpc::Status Join(const v1::Room& room, const std::string& token, v1::Participant* joined) {
    v1::JoinRoomRequest request;
    request.set_room(room.name());
    request.set_invite_token(token);
    v1::StreamOffer* stream = request.mutable_offer()->mutable_rtp()->add_streams();
    stream->set_kind(v1::MEDIA_KIND_AUDIO);
    stream->add_codecs()->set_name("opus");
    stream->mutable_codecs(0)->set_payload_type(111);
    stream->set_address("127.0.0.1");
    stream->set_port(50000);
    stream->mutable_key()->set_key_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNk");
    v1::JoinRoomResponse response;
    grpc::Status status = stub_->JoinRoom(Context().get(), request, &response);
    if (status.ok() && joined != nullptr) *joined = response.participant();
    return status;
  }
  v1::Participant JoinAs(const v1::Room& room, v1::Role role, const std::string& consent = "") {
    v1::Participant joined;
    grpc::Status status = Join(room, Invite(room, role, consent), &joined);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return joined;
  }
  void Admit(const v1::Participant& participant) {
    v1::AdmitParticipantRequest request;
    request.set_name(participant.name());
    v1::Participant admitted;
    grpc::Status status = stub_->AdmitParticipant(Context().get(), request, &admitted);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  grpc::Status Mute(const v1::Participant& participant) {
    v1::MuteParticipantRequest request;
    request.set_name(participant.name());
    request.set_muted(true);
    v1::Participant muted;
    return stub_->MuteParticipant(Context().get(), request, &muted);
  }
  v1::Room GetRoom(const v1::Room& room) {
    v1::GetRoomRequest request;
    request.set_name(room.name());
    v1::Room got;
    grpc::Status status = stub_->GetRoom(Context().get(), request, &got);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return got;
  }
  std::vector<v1::Participant> Roster(const v1::Room& room) {
    v1::ListParticipantsRequest request;
    request.set_parent(room.name());
    v1::ListParticipantsResponse response;
    grpc::Status status = stub_->ListParticipants(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.participants().begin(), response.participants().end()};
  }
  // The room's events kept for resuming (from the second on), read until a short deadline ends
  // the stream.
  std::vector<v1::RoomEvent> History(const v1::Room& room) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(700));
    v1::WatchRoomRequest watch;
    watch.set_name(room.name());
    watch.set_resume_after_sequence(1);
    auto reader = stub_->WatchRoom(&context, watch);
    std::vector<v1::RoomEvent> events;
    v1::RoomEvent event;
    while (reader->Read(&event)) events.push_back(event);
    return events;
  }
  static int CountLeft(const std::vector<v1::RoomEvent>& events, v1::LeaveReason reason) {
    int count = 0;
    for (const v1::RoomEvent& event : events) {
      count += event.has_participant_left() && event.participant_left().reason() == reason;
    }
    return count;
  }
  int LogCount(std::string_view event) {
    absl::MutexLock lock(&log_mutex_);
    int count = 0;
    for (const std::string& line : log_) {
      count +=
          line.find(absl::StrCat("\"event\":\"", std::string(event), "\"")) != std::string::npos;
    }
    return count;
  }
  std::string Log() {
    absl::MutexLock lock(&log_mutex_);
    std::string all;
    for (const std::string& line : log_) absl::StrAppend(&all, line, "\n");
    return all;
  }

  // A consultation in progress: the clinician and the admitted patient, and an invite nobody has
  // used yet (a third participant, with the patient's consent).
  struct Consultation {
    v1::Room room;
    v1::Participant clinician;
    v1::Participant patient;
    std::string unused_invite;
  };
  Consultation StartConsultation(const std::string& id) {
    Consultation call;
    call.room = CreateConsultation(id);
    call.clinician = JoinAs(call.room, v1::ROLE_HOST);
    call.patient = JoinAs(call.room, v1::ROLE_GUEST);
    EXPECT_EQ(call.patient.state(), v1::PARTICIPANT_STATE_WAITING);
    Admit(call.patient);
    call.unused_invite = Invite(call.room, v1::ROLE_GUEST, "consent-form-7");
    return call;
  }

  std::string path_;
  absl::Mutex log_mutex_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(log_mutex_);
  std::unique_ptr<common::BearerAuthenticator> auth_;
  common::Lifecycle node_lifecycle_;
  std::unique_ptr<engine::MediaEngine> engine_;
  std::unique_ptr<media_node::MediaNodeService> media_service_;
  std::unique_ptr<grpc::Server> node_server_;
  std::unique_ptr<SwitchableNode> face_;
  std::unique_ptr<grpc::Server> face_server_;
  common::Lifecycle lifecycle_;
  std::unique_ptr<MediaNodes> nodes_;  // outlives service_
  std::unique_ptr<RoomsService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Rooms::Stub> stub_;
};

TEST_F(ReconcileTest, ACallGoesOnAcrossAControllerRestartAndTheNewControllerTakesItOver) {
  ASSERT_EQ(StartController(), 1u);
  Consultation call = StartConsultation("ward-7");
  StopController();

  // Nothing happened to the media meanwhile.
  internal::ListSessionsResponse listed = Sessions();
  ASSERT_EQ(listed.sessions_size(), 1);
  EXPECT_EQ(listed.sessions(0).endpoints_size(), 2);

  ASSERT_EQ(StartController(), 1u);
  v1::Room room = GetRoom(call.room);
  EXPECT_EQ(room.state(), v1::ROOM_STATE_ACTIVE);
  EXPECT_EQ(room.participant_count(), 2);
  EXPECT_EQ(room.media_node(), "media-a:7701");
  std::vector<v1::Participant> roster = Roster(call.room);
  ASSERT_EQ(roster.size(), 2u);
  EXPECT_EQ(roster[0].name(), call.clinician.name());
  EXPECT_EQ(roster[0].role(), v1::ROLE_HOST);
  EXPECT_EQ(roster[1].name(), call.patient.name());
  EXPECT_EQ(roster[1].state(), v1::PARTICIPANT_STATE_ADMITTED);
  EXPECT_EQ(roster[1].display_name(), call.patient.display_name());

  // The admitted patient is muted on the node, through the new controller.
  grpc::Status status = Mute(call.patient);
  ASSERT_TRUE(status.ok()) << status.error_message();
  listed = Sessions();
  ASSERT_NE(EndpointOf(listed, call.patient.name()), nullptr);
  EXPECT_TRUE(EndpointOf(listed, call.patient.name())->routing().muted());
  EXPECT_FALSE(EndpointOf(listed, call.clinician.name())->routing().muted());
  EXPECT_TRUE(EndpointOf(listed, call.patient.name())->routing().admitted());

  // The unused invite joins the same session (the lobby of a consultation holds it).
  v1::Participant third;
  status = Join(call.room, call.unused_invite, &third);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(third.state(), v1::PARTICIPANT_STATE_WAITING);
  listed = Sessions();
  ASSERT_EQ(listed.sessions_size(), 1);
  EXPECT_EQ(listed.sessions(0).endpoints_size(), 3);
  EXPECT_EQ(GetRoom(call.room).participant_count(), 3);

  // Nobody left, nothing was deleted; the node's rooms are polled as before.
  EXPECT_EQ(CountLeft(History(call.room), v1::LEAVE_REASON_NODE_FAILED), 0);
  EXPECT_EQ(service_->orphan_sessions_deleted(), 0);
  EXPECT_EQ(service_->unknown_endpoints_removed(), 0);
  service_->PollSpeakers();
  EXPECT_EQ(GetRoom(call.room).participant_count(), 3);
  EXPECT_EQ(LogCount("room_call_restored"), 1);
  // The log names no person.
  EXPECT_EQ(Log().find(call.patient.display_name()), std::string::npos);
}

// The node is found by its address wherever it is listed, and by its id when its address changed
// (listed by name before, found through DNS now).
TEST_F(ReconcileTest, TheNodeIsFoundByItsAddressOrItsIdNotByItsPlaceInTheList) {
  ASSERT_EQ(StartController(), 1u);
  Consultation call = StartConsultation("ward-8");
  StopController();

  ASSERT_EQ(StartController({"media-z:7701", "media-a:7701"}), 1u);
  EXPECT_EQ(GetRoom(call.room).participant_count(), 2);
  EXPECT_EQ(GetRoom(call.room).media_node(), "media-a:7701");
  ASSERT_TRUE(Mute(call.patient).ok());
  EXPECT_TRUE(EndpointOf(Sessions(), call.patient.name())->routing().muted());
  StopController();

  ASSERT_EQ(StartController({"10.1.2.3:7701"}, "10.1.2.3:7701"), 1u);
  EXPECT_EQ(GetRoom(call.room).participant_count(), 2);
  EXPECT_EQ(GetRoom(call.room).media_node(), "10.1.2.3:7701");
  EXPECT_EQ(Sessions().sessions_size(), 1);
  EXPECT_EQ(service_->orphan_sessions_deleted(), 0);
}

// The node restarted too (or the call ran inside the stopped process, as in `chorusd all`): the
// call is gone, its participants leave with NODE_FAILED and may join again; the room and its
// unused invite are still there.
TEST_F(ReconcileTest, ACallWhoseSessionIsGoneLosesItsParticipantsWhoMayJoinAgain) {
  ASSERT_EQ(StartController(), 1u);
  Consultation call = StartConsultation("ward-9");
  StopController();
  internal::DeleteSessionRequest del;
  del.set_name("sessions/ward-9");
  internal::DeleteSessionResponse deleted;
  ASSERT_TRUE(Node()->DeleteSession(NodeContext().get(), del, &deleted).ok());

  ASSERT_EQ(StartController(), 1u);
  v1::Room room = GetRoom(call.room);
  EXPECT_EQ(room.participant_count(), 0);
  EXPECT_EQ(room.state(), v1::ROOM_STATE_OPEN);
  EXPECT_TRUE(room.media_node().empty());
  std::vector<v1::RoomEvent> events = History(call.room);
  EXPECT_EQ(CountLeft(events, v1::LEAVE_REASON_NODE_FAILED), 2);
  bool told = false;
  for (const v1::RoomEvent& event : events) told |= event.has_media_node_failed();
  EXPECT_TRUE(told);

  v1::Participant third;
  grpc::Status status = Join(call.room, call.unused_invite, &third);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Sessions().sessions_size(), 1);
  EXPECT_EQ(GetRoom(call.room).participant_count(), 1);
}

// What runs on the node that no stored room or participant owns is removed: a session of no room,
// an endpoint of nobody. A participant whose endpoint is gone leaves with NODE_FAILED.
TEST_F(ReconcileTest, WhatNoStoredRoomOrParticipantOwnsIsRemovedFromTheNode) {
  ASSERT_EQ(StartController(), 1u);
  Consultation call = StartConsultation("ward-10");
  v1::Room other = CreateConsultation("ward-11");
  v1::Participant alone = JoinAs(other, v1::ROLE_HOST);
  StopController();

  auto node = Node();
  internal::CreateSessionRequest create;
  create.set_session_id("orphan-session");
  internal::Session session;
  ASSERT_TRUE(node->CreateSession(NodeContext().get(), create, &session).ok());
  internal::AddEndpointRequest add;
  add.set_parent("sessions/ward-10");
  add.set_endpoint_id("stranger");
  internal::RemoteStream* stream = add.mutable_endpoint()->add_remote_streams();
  stream->set_kind(internal::MEDIA_KIND_AUDIO);
  stream->add_codecs()->set_name("opus");
  stream->mutable_codecs(0)->set_payload_type(111);
  stream->set_address("127.0.0.1");
  stream->set_port(50998);
  stream->mutable_key()->set_key_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNk");
  add.mutable_endpoint()->mutable_routing()->set_admitted(true);
  internal::Endpoint added;
  ASSERT_TRUE(node->AddEndpoint(NodeContext().get(), add, &added).ok());
  internal::RemoveEndpointRequest remove;
  remove.set_name(absl::StrCat("sessions/ward-11/endpoints/",
                               alone.name().substr(alone.name().rfind('/') + 1)));
  internal::RemoveEndpointResponse removed;
  ASSERT_TRUE(node->RemoveEndpoint(NodeContext().get(), remove, &removed).ok());

  ASSERT_EQ(StartController(), 1u);
  internal::ListSessionsResponse listed = Sessions();
  ASSERT_EQ(listed.sessions_size(), 2);
  EXPECT_EQ(listed.sessions(0).session().name(), "sessions/ward-10");
  EXPECT_EQ(listed.sessions(0).endpoints_size(), 2);  // the stranger is gone
  EXPECT_EQ(listed.sessions(1).session().name(), "sessions/ward-11");
  EXPECT_EQ(service_->orphan_sessions_deleted(), 1);
  EXPECT_EQ(service_->unknown_endpoints_removed(), 1);
  EXPECT_EQ(LogCount("orphan_session_deleted"), 1);
  EXPECT_EQ(Log().find("orphan-session"), std::string::npos);  // it names no session
  EXPECT_EQ(GetRoom(call.room).participant_count(), 2);
  EXPECT_EQ(GetRoom(other).participant_count(), 0);
  EXPECT_EQ(CountLeft(History(other), v1::LEAVE_REASON_NODE_FAILED), 1);
}

// The node does not answer when the controller starts: the room waits for it (joins to it are
// refused for now rather than placed elsewhere, which would split the call), changes are kept and
// sent when the node answers; the node's sessions are then compared as at the start.
TEST_F(ReconcileTest, ARoomWaitsForItsSilentNodeAndChangesReachItWhenItAnswers) {
  ASSERT_EQ(StartController(), 1u);
  Consultation call = StartConsultation("ward-12");
  StopController();

  face_->SetSilent(true);
  ASSERT_EQ(StartController(), 0u);
  EXPECT_EQ(GetRoom(call.room).participant_count(), 2);
  EXPECT_EQ(Roster(call.room).size(), 2u);
  v1::Participant third;
  EXPECT_EQ(Join(call.room, call.unused_invite, &third).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(Mute(call.patient).ok());
  EXPECT_FALSE(EndpointOf(Sessions(), call.patient.name())->routing().muted());
  service_->Sweep();  // within the restore wait: nothing changes
  EXPECT_EQ(GetRoom(call.room).participant_count(), 2);

  face_->SetSilent(false);
  ASSERT_TRUE(service_->ReconcileNode(0));
  EXPECT_TRUE(EndpointOf(Sessions(), call.patient.name())->routing().muted());
  grpc::Status status = Join(call.room, call.unused_invite, &third);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Sessions().sessions(0).endpoints_size(), 3);
  EXPECT_EQ(CountLeft(History(call.room), v1::LEAVE_REASON_NODE_FAILED), 0);
}

// A node that stays silent past the restore wait, or that is no longer listed, takes its calls
// with it: their participants leave with NODE_FAILED and may join again on a node that answers.
TEST_F(ReconcileTest, ARoomWhoseNodeStaysSilentLosesItsCallAfterTheRestoreWait) {
  ASSERT_EQ(StartController(), 1u);
  Consultation call = StartConsultation("ward-13");
  StopController();

  auto now = std::make_shared<absl::Time>(absl::Now());
  RoomsOptions options;
  options.now = [now] { return *now; };
  options.restore_wait = absl::Seconds(10);
  ASSERT_EQ(StartController({"media-gone:7701"}, "media-b:7701", options), 0u);
  *now += absl::Seconds(9);
  service_->Sweep();
  EXPECT_EQ(GetRoom(call.room).participant_count(), 2);
  *now += absl::Seconds(2);
  service_->Sweep();
  v1::Room room = GetRoom(call.room);
  EXPECT_EQ(room.participant_count(), 0);
  EXPECT_TRUE(room.media_node().empty());
  EXPECT_EQ(CountLeft(History(call.room), v1::LEAVE_REASON_NODE_FAILED), 2);
  EXPECT_EQ(LogCount("room_media_lost"), 1);
}

}  // namespace
}  // namespace chorus::controller
