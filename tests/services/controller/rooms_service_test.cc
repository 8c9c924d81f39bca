#include "services/controller/rooms_service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pipeline/engine/engine.h"
#include "prometheus/registry.h"
#include "services/common/api_guard.h"
#include "services/common/rpc_metrics.h"
#include "services/controller/postgres_room_store.h"
#include "services/controller/sqlite_room_store.h"
#include "services/media_node/media_node_service.h"
#include "tests/support/postgres_server.h"

namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;
constexpr char kToken[] = "0123456789abcdef-room-test-token";

// The whole control path for real: a gRPC server with the Rooms service and a media node (its
// engine binding loopback ports) reached through an in-process channel, as in `chorusd all`, and a
// client stub as the hospital platform has.
class RoomsServiceTest : public ::testing::Test {
 protected:
  void Start(bool with_tokens = false, RoomsOptions options = {}, bool insecure_media = false,
             std::unique_ptr<RoomStore> store = nullptr) {
    auth_ = with_tokens ? *common::BearerAuthenticator::FromTokenList(kToken)
                        : common::BearerAuthenticator::AllowAll();
    engine::EngineOptions engine_options;
    engine_options.workers = 1;
    engine_options.allow_insecure_media = insecure_media;
    engine_options.port_min = 42400;
    engine_options.port_max = 42499;
    engine_ = *engine::MediaEngine::Create(engine_options);
    media_node::MediaNodeOptions node_options;
    node_options.node_id = "node-1";
    node_options.internal_secret = "test-secret";
    media_service_ = std::make_unique<media_node::MediaNodeService>(node_options, engine_.get(),
                                                                    *auth_, lifecycle_);
    nodes_ = std::make_unique<MediaNodes>();
    service_ =
        std::make_unique<RoomsService>(*auth_, lifecycle_, nodes_.get(), options, std::move(store));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    builder.RegisterService(media_service_.get());
    // As chorusd serves: the guard, then the calls counted as answered.
    auto interceptors = common::ApiGuardInterceptors();
    interceptors.push_back(common::RpcMetricsInterceptor(*rpc_registry_));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    nodes_->Add("in-process", server_->InProcessChannel(grpc::ChannelArguments()),
                {media_node::kInternalSecretHeader, "test-secret"});
    // As chorusd starts: the calls that came back from the store are compared with the node.
    service_->ReconcileNodes();
    lifecycle_.SetReady(true);
    stub_ = v1::Rooms::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                   grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (service_) service_->Shutdown();
    if (media_service_) media_service_->Shutdown();
    if (server_) server_->Shutdown();
  }
  // Everything Start() made ends, as when the process stops (what the store wrote stays).
  void Stop() {
    RoomsServiceTest::TearDown();
    stub_.reset();
    server_.reset();
    service_.reset();
    nodes_.reset();
    media_service_.reset();
    engine_.reset();
  }
  std::unique_ptr<grpc::ClientContext> Context(const std::string& token = kToken) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }

  v1::Room CreateRoom(v1::RoomKind kind, v1::AccessMode mode = v1::ACCESS_MODE_INVITE_ONLY,
                      const std::string& host_pin = "", const std::string& guest_pin = "") {
    v1::CreateRoomRequest request;
    request.mutable_room()->set_kind(kind);
    request.mutable_room()->set_access_mode(mode);
    request.set_host_pin(host_pin);
    request.set_guest_pin(guest_pin);
    v1::Room room;
    grpc::Status status = stub_->CreateRoom(Context().get(), request, &room);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return room;
  }
  grpc::Status Invite(const v1::Room& room, v1::Role role, std::string* token,
                      const std::string& consent = "") {
    v1::CreateInviteRequest request;
    request.set_parent(room.name());
    request.mutable_invite()->set_role(role);
    request.mutable_invite()->set_consent_reference(consent);
    v1::CreateInviteResponse response;
    grpc::Status status = stub_->CreateInvite(Context().get(), request, &response);
    if (status.ok()) *token = response.token();
    return status;
  }
  static v1::MediaOffer Offer(uint32_t port) {
    v1::MediaOffer offer;
    v1::StreamOffer* stream = offer.mutable_rtp()->add_streams();
    stream->set_kind(v1::MEDIA_KIND_AUDIO);
    v1::Codec* codec = stream->add_codecs();
    codec->set_name("opus");
    codec->set_payload_type(111);
    stream->set_address("127.0.0.1");
    stream->set_port(port);
    stream->mutable_key()->set_key_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNk");
    return offer;
  }
  grpc::Status Join(const v1::Room& room, const std::string& token, v1::JoinRoomResponse* out,
                    bool pin = false) {
    v1::JoinRoomRequest request;
    request.set_room(room.name());
    if (pin) {
      request.set_pin(token);
    } else {
      request.set_invite_token(token);
    }
    *request.mutable_offer() = Offer(50000);
    return stub_->JoinRoom(Context().get(), request, out);
  }
  v1::Participant JoinAs(const v1::Room& room, v1::Role role, const std::string& consent = "") {
    std::string token;
    EXPECT_TRUE(Invite(room, role, &token, consent).ok());
    v1::JoinRoomResponse joined;
    grpc::Status status = Join(room, token, &joined);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return joined.participant();
  }

  void LeaveRoom(const v1::Participant& participant) {
    v1::LeaveRoomRequest leave;
    leave.set_name(participant.name());
    v1::LeaveRoomResponse left;
    grpc::Status status = stub_->LeaveRoom(Context().get(), leave, &left);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }

  // Reads the room's events from the first one on until `match` holds (true), or the stream
  // ends or 10 s pass (false).
  bool WaitForEvent(const v1::Room& room, const std::function<bool(const v1::RoomEvent&)>& match) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Bearer ") + kToken);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::WatchRoomRequest watch;
    watch.set_name(room.name());
    watch.set_resume_after_sequence(1);
    auto reader = stub_->WatchRoom(&context, watch);
    v1::RoomEvent event;
    while (reader->Read(&event)) {
      if (match(event)) {
        context.TryCancel();
        return true;
      }
    }
    return false;
  }
  // The internal API as only the controller may call it (the in-process channel's secret).
  std::unique_ptr<chorus::internal::v1::MediaNode::Stub> InternalStub() {
    return chorus::internal::v1::MediaNode::NewStub(
        server_->InProcessChannel(grpc::ChannelArguments()));
  }
  static std::unique_ptr<grpc::ClientContext> InternalContext() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata(media_node::kInternalSecretHeader, "test-secret");
    return context;
  }

  common::Lifecycle lifecycle_;
  std::shared_ptr<prometheus::Registry> rpc_registry_ = std::make_shared<prometheus::Registry>();
  std::unique_ptr<common::BearerAuthenticator> auth_;
  std::unique_ptr<engine::MediaEngine> engine_;
  std::unique_ptr<media_node::MediaNodeService> media_service_;
  std::unique_ptr<MediaNodes> nodes_;  // outlives service_
  std::unique_ptr<RoomsService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Rooms::Stub> stub_;
};

// Where the rooms are kept: in memory, in a SQLite file, in a PostgreSQL database (a throwaway
// server; skipped, saying why, only where the server binaries are not installed). The rules of
// the tests below hold the same over each.
enum class StoreKind { kMemory, kSqlite, kPostgres };

class RoomsServiceStoreTest : public RoomsServiceTest,
                              public ::testing::WithParamInterface<StoreKind> {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(::testing::TempDir(), "/rooms_store_",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".db");
    std::replace(path_.begin() + static_cast<std::ptrdiff_t>(::testing::TempDir().size()),
                 path_.end(), '/', '_');
    Forget();
    if (GetParam() != StoreKind::kPostgres) return;
    std::string why;
    postgres_ = chorus::testing::PostgresServer::Start(&why);
    if (postgres_ == nullptr) {
      if (!chorus::testing::PostgresServer::BinariesPresent()) GTEST_SKIP() << why;
      FAIL() << why;
    }
    url_ = postgres_->NewDatabase();
  }
  void TearDown() override {
    Stop();  // the service and its store end before the database does
    postgres_.reset();
    Forget();
  }
  void Forget() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
  }
  void Start(bool with_tokens = false, RoomsOptions options = {}, bool insecure_media = false) {
    std::unique_ptr<RoomStore> store;
    if (GetParam() == StoreKind::kSqlite) {
      auto opened = MakeSqliteRoomStore(path_, options.now());
      ASSERT_TRUE(opened.ok()) << opened.status();
      store = *std::move(opened);
    } else if (GetParam() == StoreKind::kPostgres) {
      auto opened = MakePostgresRoomStore(url_);
      ASSERT_TRUE(opened.ok()) << opened.status();
      store = *std::move(opened);
    }
    RoomsServiceTest::Start(with_tokens, options, insecure_media, std::move(store));
  }

  std::string path_;
  std::unique_ptr<chorus::testing::PostgresServer> postgres_;
  std::string url_;
};

INSTANTIATE_TEST_SUITE_P(Stores, RoomsServiceStoreTest,
                         ::testing::Values(StoreKind::kMemory, StoreKind::kSqlite,
                                           StoreKind::kPostgres),
                         [](const ::testing::TestParamInfo<StoreKind>& info) {
                           switch (info.param) {
                             case StoreKind::kMemory:
                               return std::string("Memory");
                             case StoreKind::kSqlite:
                               return std::string("Sqlite");
                             case StoreKind::kPostgres:
                               break;
                           }
                           return std::string("Postgres");
                         });

TEST_P(RoomsServiceStoreTest, RoomsAreCreatedListedAndClosed) {
  Start();
  v1::Room consultation = CreateRoom(v1::ROOM_KIND_CONSULTATION);
  v1::Room meeting = CreateRoom(v1::ROOM_KIND_MEETING);
  EXPECT_EQ(consultation.max_participants(), 6);
  EXPECT_EQ(meeting.max_participants(), 100);
  EXPECT_EQ(consultation.access_mode(), v1::ACCESS_MODE_INVITE_ONLY);
  v1::ListRoomsRequest list;
  list.set_page_size(1);
  v1::ListRoomsResponse page;
  ASSERT_TRUE(stub_->ListRooms(Context().get(), list, &page).ok());
  ASSERT_EQ(page.rooms_size(), 1);
  EXPECT_EQ(page.rooms(0).name(), consultation.name());
  list.set_page_token(page.next_page_token());
  ASSERT_TRUE(stub_->ListRooms(Context().get(), list, &page).ok());
  EXPECT_EQ(page.rooms(0).name(), meeting.name());
  EXPECT_TRUE(page.next_page_token().empty());

  v1::CloseRoomRequest close;
  close.set_name(meeting.name());
  v1::CloseRoomResponse closed;
  ASSERT_TRUE(stub_->CloseRoom(Context().get(), close, &closed).ok());
  EXPECT_EQ(stub_->CloseRoom(Context().get(), close, &closed).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::GetRoomRequest get;
  get.set_name(meeting.name());
  v1::Room room;
  EXPECT_EQ(stub_->GetRoom(Context().get(), get, &room).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RoomsServiceTest, NonsenseRoomRequestsAreRefusedAndChangeNothing) {
  Start();
  std::vector<v1::CreateRoomRequest> bad(8);
  bad[0].mutable_room()->set_kind(v1::ROOM_KIND_UNSPECIFIED);
  for (size_t i = 1; i < bad.size(); ++i) bad[i].mutable_room()->set_kind(v1::ROOM_KIND_MEETING);
  bad[1].mutable_room()->set_max_participants(1'000'000);
  bad[2].mutable_room()->set_access_mode(v1::ACCESS_MODE_HOST_PIN);  // no PINs
  bad[3].mutable_room()->set_access_mode(v1::ACCESS_MODE_SHARED_PIN);
  bad[3].set_guest_pin("12ab");
  bad[4].set_room_id("Not A Valid Id!");
  bad[5].mutable_room()->add_languages("not a language tag");
  bad[6].set_host_pin("1234");  // PINs on an invite-only room
  bad[7].mutable_room()->set_access_mode(v1::ACCESS_MODE_HOST_PIN);
  bad[7].set_host_pin("1234");
  bad[7].set_guest_pin("1234");  // the same PIN twice
  for (const auto& request : bad) {
    v1::Room room;
    grpc::Status status = stub_->CreateRoom(Context().get(), request, &room);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << request.DebugString();
    EXPECT_FALSE(status.error_message().empty());
  }
  v1::ListRoomsResponse rooms;
  ASSERT_TRUE(stub_->ListRooms(Context().get(), {}, &rooms).ok());
  EXPECT_EQ(rooms.rooms_size(), 0);
  v1::JoinRoomRequest join;
  join.set_room("rooms/nope");
  join.set_invite_token("x");
  *join.mutable_offer() = Offer(5000);
  v1::JoinRoomResponse joined;
  EXPECT_EQ(stub_->JoinRoom(Context().get(), join, &joined).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::AdmitParticipantRequest admit;
  admit.set_name("garbage");
  v1::Participant participant;
  EXPECT_EQ(stub_->AdmitParticipant(Context().get(), admit, &participant).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(RoomsServiceStoreTest, AnInviteWorksOnceAndItsReuseIsRefusedAndReported) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  std::string token;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
  EXPECT_EQ(token.size(), 43u);  // 256 bits, base64url without padding
  v1::JoinRoomResponse joined;
  ASSERT_TRUE(Join(room, token, &joined).ok());
  EXPECT_EQ(joined.participant().display_name(), "Guest01");
  EXPECT_EQ(joined.participant().state(), v1::PARTICIPANT_STATE_ADMITTED);  // meeting: no lobby
  ASSERT_EQ(joined.answer().rtp().streams_size(), 1);
  EXPECT_GE(joined.answer().rtp().streams(0).port(), 42400u);
  EXPECT_FALSE(joined.answer().rtp().streams(0).key().key_base64().empty());

  grpc::Status again = Join(room, token, &joined);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Join(room, "made-up-token", &joined).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  grpc::ClientContext watch_context;
  v1::WatchRoomRequest watch;
  watch.set_name(room.name());
  watch.set_resume_after_sequence(1);
  auto reader = stub_->WatchRoom(&watch_context, watch);
  v1::RoomEvent event;
  bool reuse_reported = false;
  while (reader->Read(&event)) {
    if (event.has_join_rejected() &&
        event.join_rejected().reason() == v1::REJECT_REASON_INVITE_ALREADY_USED) {
      reuse_reported = true;
      break;
    }
  }
  watch_context.TryCancel();
  EXPECT_TRUE(reuse_reported);
}

// A participant's session token (JoinRoomResponse) takes its session up again (a browser whose
// signalling socket broke): each use hands out a new one and spends the old; a wrong token, an
// unknown participant and a participant who left are refused alike.
TEST_P(RoomsServiceStoreTest, ASessionIsResumedOnlyWithItsLatestToken) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  std::string token;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
  v1::JoinRoomResponse joined;
  ASSERT_TRUE(Join(room, token, &joined).ok());
  const std::string first = joined.session_token();
  EXPECT_EQ(first.size(), 43u);
  auto resume = [&](const std::string& name, const std::string& secret,
                    v1::ResumeSessionResponse* out) {
    v1::ResumeSessionRequest request;
    request.set_name(name);
    request.set_session_token(secret);
    return stub_->ResumeSession(Context().get(), request, out);
  };
  const std::string name = joined.participant().name();
  v1::ResumeSessionResponse resumed;
  EXPECT_EQ(resume(name, "made-up-token", &resumed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(resume(room.name() + "/participants/nobody", first, &resumed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(resume(name, "", &resumed).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(resume(name, std::string(4096, 'x'), &resumed).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  ASSERT_TRUE(resume(name, first, &resumed).ok());
  EXPECT_EQ(resumed.participant().name(), name);
  EXPECT_EQ(resumed.participant().state(), v1::PARTICIPANT_STATE_ADMITTED);
  const std::string second = resumed.session_token();
  EXPECT_EQ(second.size(), 43u);
  EXPECT_NE(second, first);
  EXPECT_EQ(resume(name, first, &resumed).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(resume(name, second, &resumed).ok());

  v1::LeaveRoomRequest leave;
  leave.set_name(name);
  v1::LeaveRoomResponse left;
  ASSERT_TRUE(stub_->LeaveRoom(Context().get(), leave, &left).ok());
  EXPECT_EQ(resume(name, resumed.session_token(), &resumed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_P(RoomsServiceStoreTest, OneStreamCarriesEveryRoomsEventsInOrderAndResumes) {
  Start();
  grpc::ClientContext watch_context;
  watch_context.AddMetadata("authorization", std::string("Bearer ") + kToken);
  watch_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto reader = stub_->WatchRooms(&watch_context, v1::WatchRoomsRequest());
  v1::Room first = CreateRoom(v1::ROOM_KIND_MEETING);
  v1::Room second = CreateRoom(v1::ROOM_KIND_MEETING);
  for (const v1::Room* room : {&first, &second, &first}) {
    v1::LockRoomRequest lock;
    lock.set_name(room->name());
    v1::Room locked;
    ASSERT_TRUE(stub_->LockRoom(Context().get(), lock, &locked).ok());
    v1::UnlockRoomRequest unlock;
    unlock.set_name(room->name());
    ASSERT_TRUE(stub_->UnlockRoom(Context().get(), unlock, &locked).ok());
  }
  std::vector<v1::RoomEvent> events;
  v1::RoomEvent event;
  while (events.size() < 6 && reader->Read(&event)) events.push_back(event);
  ASSERT_EQ(events.size(), 6u);
  const std::vector<std::string> rooms = {first.name(),  first.name(), second.name(),
                                          second.name(), first.name(), first.name()};
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].room(), rooms[i]) << i;
    EXPECT_EQ(events[i].has_room_locked(), i % 2 == 0) << i;
    if (i > 0) {
      EXPECT_EQ(events[i].stream_sequence(), events[i - 1].stream_sequence() + 1);
    }
  }
  EXPECT_EQ(events[4].sequence(), 3);  // the room's own numbering goes on beside
  watch_context.TryCancel();

  // Resuming after the third event gives the three after it; other resume points are refused.
  grpc::ClientContext resume_context;
  resume_context.AddMetadata("authorization", std::string("Bearer ") + kToken);
  resume_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::WatchRoomsRequest resume;
  resume.set_resume_after_stream_sequence(events[2].stream_sequence());
  auto resumed = stub_->WatchRooms(&resume_context, resume);
  for (size_t i = 3; i < 6; ++i) {
    ASSERT_TRUE(resumed->Read(&event));
    EXPECT_EQ(event.stream_sequence(), events[i].stream_sequence());
  }
  resume_context.TryCancel();
  for (int64_t bad : {events[5].stream_sequence() + 1, int64_t{1}}) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Bearer ") + kToken);
    v1::WatchRoomsRequest request;
    request.set_resume_after_stream_sequence(bad);
    auto refused = stub_->WatchRooms(&context, request);
    EXPECT_FALSE(refused->Read(&event));
    EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::OUT_OF_RANGE) << bad;
  }
}

TEST_P(RoomsServiceStoreTest, ALockedRoomRefusesEvenValidInvites) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  std::string token;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
  v1::LockRoomRequest lock;
  lock.set_name(room.name());
  v1::Room locked;
  ASSERT_TRUE(stub_->LockRoom(Context().get(), lock, &locked).ok());
  EXPECT_TRUE(locked.locked());
  v1::JoinRoomResponse joined;
  EXPECT_EQ(Join(room, token, &joined).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::UnlockRoomRequest unlock;
  unlock.set_name(room.name());
  ASSERT_TRUE(stub_->UnlockRoom(Context().get(), unlock, &locked).ok());
  EXPECT_TRUE(Join(room, token, &joined).ok());  // the refused attempt did not use the invite
}

TEST_P(RoomsServiceStoreTest, RevokedInvitesAndFullRoomsAreRefused) {
  Start();
  v1::CreateRoomRequest create;
  create.mutable_room()->set_kind(v1::ROOM_KIND_MEETING);
  create.mutable_room()->set_max_participants(2);
  v1::Room room;
  ASSERT_TRUE(stub_->CreateRoom(Context().get(), create, &room).ok());
  std::string revoked;
  v1::CreateInviteRequest invite;
  invite.set_parent(room.name());
  invite.mutable_invite()->set_role(v1::ROLE_GUEST);
  v1::CreateInviteResponse created;
  ASSERT_TRUE(stub_->CreateInvite(Context().get(), invite, &created).ok());
  v1::RevokeInviteRequest revoke;
  revoke.set_name(created.invite().name());
  v1::Invite out;
  ASSERT_TRUE(stub_->RevokeInvite(Context().get(), revoke, &out).ok());
  v1::JoinRoomResponse joined;
  EXPECT_EQ(Join(room, created.token(), &joined).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  JoinAs(room, v1::ROLE_HOST);
  JoinAs(room, v1::ROLE_GUEST);
  std::string third;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &third).ok());
  EXPECT_EQ(Join(room, third, &joined).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(RoomsServiceTest, AThirdConsultationParticipantNeedsConsent) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_CONSULTATION);
  std::string token;
  ASSERT_TRUE(Invite(room, v1::ROLE_HOST, &token).ok());
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
  EXPECT_EQ(Invite(room, v1::ROLE_INTERPRETER, &token).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // an interpreter needs its languages
  EXPECT_EQ(Invite(room, v1::ROLE_GUEST, &token).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(Invite(room, v1::ROLE_GUEST, &token, "consent-form-77").ok());
}

TEST_P(RoomsServiceStoreTest, TheConsultationLobbyHoldsGuestsUntilAdmitted) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_CONSULTATION);
  v1::Participant host = JoinAs(room, v1::ROLE_HOST);
  EXPECT_EQ(host.state(), v1::PARTICIPANT_STATE_ADMITTED);
  v1::Participant guest = JoinAs(room, v1::ROLE_GUEST);
  EXPECT_EQ(guest.state(), v1::PARTICIPANT_STATE_WAITING);
  // The roster shows the waiting guest: nobody is hidden.
  v1::ListParticipantsRequest list;
  list.set_parent(room.name());
  v1::ListParticipantsResponse roster;
  ASSERT_TRUE(stub_->ListParticipants(Context().get(), list, &roster).ok());
  EXPECT_EQ(roster.participants_size(), 2);
  v1::AdmitParticipantRequest admit;
  admit.set_name(guest.name());
  v1::Participant admitted;
  ASSERT_TRUE(stub_->AdmitParticipant(Context().get(), admit, &admitted).ok());
  EXPECT_EQ(admitted.state(), v1::PARTICIPANT_STATE_ADMITTED);
  EXPECT_EQ(stub_->AdmitParticipant(Context().get(), admit, &admitted).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_P(RoomsServiceStoreTest, HostPinRoomsHoldGuestsUntilAHostIsIn) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_HOST_PIN, "424242", "1111");
  EXPECT_TRUE(room.has_host_pin());
  v1::JoinRoomResponse guest;
  ASSERT_TRUE(Join(room, "1111", &guest, true).ok());
  EXPECT_EQ(guest.participant().state(), v1::PARTICIPANT_STATE_WAITING);
  v1::JoinRoomResponse host;
  ASSERT_TRUE(Join(room, "424242", &host, true).ok());
  EXPECT_EQ(host.participant().role(), v1::ROLE_HOST);
  v1::GetParticipantRequest get;
  get.set_name(guest.participant().name());
  v1::Participant now;
  ASSERT_TRUE(stub_->GetParticipant(Context().get(), get, &now).ok());
  EXPECT_EQ(now.state(), v1::PARTICIPANT_STATE_ADMITTED);
}

TEST_P(RoomsServiceStoreTest, WrongPinsLockPinJoinsOut) {
  RoomsOptions options;
  options.pin_attempts_per_room = 3;
  Start(false, options);
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN, "", "2468");
  v1::JoinRoomResponse joined;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Join(room, "0000", &joined, true).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  grpc::Status locked_out = Join(room, "2468", &joined, true);
  EXPECT_EQ(locked_out.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(locked_out.error_message().find("wrong PINs"), std::string::npos);
  // The watchers were told: three wrong PINs, the lockout, the refused join during it.
  grpc::ClientContext watch_context;
  v1::WatchRoomRequest watch;
  watch.set_name(room.name());
  watch.set_resume_after_sequence(1);
  auto reader = stub_->WatchRoom(&watch_context, watch);
  v1::RoomEvent event;
  int lockouts = 0;
  while (reader->Read(&event)) {
    if (event.join_rejected().reason() == v1::REJECT_REASON_PIN_LOCKOUT) ++lockouts;
    if (event.sequence() >= 5) break;
  }
  watch_context.TryCancel();
  EXPECT_EQ(lockouts, 2);
}

TEST_P(RoomsServiceStoreTest, APinRoomHasANumberToDialAndAPinJoinByItFindsTheRoom) {
  RoomsOptions options;
  options.pin_attempts_per_room = 3;
  Start(false, options);
  v1::Room shared = CreateRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN, "", "8642");
  v1::Room other = CreateRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN, "", "8642");
  v1::Room invited = CreateRoom(v1::ROOM_KIND_CONSULTATION);
  ASSERT_EQ(shared.dial_in_id().size(), 9u);
  EXPECT_NE(shared.dial_in_id()[0], '0');
  EXPECT_TRUE(std::all_of(shared.dial_in_id().begin(), shared.dial_in_id().end(),
                          [](char c) { return c >= '0' && c <= '9'; }));
  EXPECT_NE(shared.dial_in_id(), other.dial_in_id());
  EXPECT_TRUE(invited.dial_in_id().empty());  // nobody dials into an invite-only room

  v1::JoinRoomRequest request;
  request.set_dial_in_id(shared.dial_in_id());
  request.set_pin("8642");
  *request.mutable_offer() = Offer(50000);
  v1::JoinRoomResponse joined;
  grpc::Status status = stub_->JoinRoom(Context().get(), request, &joined);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(absl::StartsWith(joined.participant().name(), shared.name() + "/participants/"));
  // Wrong PINs by number count toward the room's lockout as any other.
  request.set_pin("0000");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(stub_->JoinRoom(Context().get(), request, &joined).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(Join(shared, "8642", &joined, true).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // A number nobody has, a number with a room name, a number with an invite: refused.
  request.set_dial_in_id("123");
  EXPECT_EQ(stub_->JoinRoom(Context().get(), request, &joined).error_code(),
            grpc::StatusCode::NOT_FOUND);
  request.set_dial_in_id("12a");
  EXPECT_EQ(stub_->JoinRoom(Context().get(), request, &joined).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.set_dial_in_id(other.dial_in_id());
  request.set_room(other.name());
  EXPECT_EQ(stub_->JoinRoom(Context().get(), request, &joined).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.clear_room();
  request.set_invite_token("not-a-pin");
  EXPECT_EQ(stub_->JoinRoom(Context().get(), request, &joined).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// A telephone caller that dialed the number alone types the PIN on its keypad: its join needs
// the number; it gets its media answer and the name it will have, and is in no roster while it
// types. A PIN it sends by SIP INFO (SubmitKeypadPin): a wrong one is counted, the right one
// makes it a participant. (The keys and the prompts are the media node's: the end-to-end test
// sip_keypad_test has real callers type them.)
TEST_P(RoomsServiceStoreTest, AKeypadCallerIsAnsweredAndInNoRosterWhileItTypes) {
  Start();
  v1::Room shared = CreateRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN, "", "8642");
  v1::JoinRoomRequest request;
  request.set_dial_in_id(shared.dial_in_id());
  request.set_keypad(true);
  *request.mutable_offer() = Offer(50000);
  v1::JoinRoomResponse joined;
  v1::Codec* keys = request.mutable_offer()->mutable_rtp()->mutable_streams(0)->add_codecs();
  keys->set_name("telephone-event");
  keys->set_payload_type(101);
  keys->set_clock_rate(8000);
  request.set_keypad(false);
  EXPECT_EQ(stub_->JoinRoom(Context().get(), request, &joined).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.set_keypad(true);
  v1::JoinRoomRequest by_room = request;
  by_room.clear_dial_in_id();
  by_room.set_room(shared.name());
  EXPECT_EQ(stub_->JoinRoom(Context().get(), by_room, &joined).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // a keypad join comes by number
  grpc::Status status = stub_->JoinRoom(Context().get(), request, &joined);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(absl::StartsWith(joined.participant().name(), shared.name() + "/participants/"));
  EXPECT_EQ(joined.answer().rtp().streams_size(), 1);
  v1::ListParticipantsRequest list;
  list.set_parent(shared.name());
  v1::ListParticipantsResponse roster;
  ASSERT_TRUE(stub_->ListParticipants(Context().get(), list, &roster).ok());
  EXPECT_EQ(roster.participants_size(), 0);

  v1::SubmitKeypadPinRequest typed;
  typed.set_name(joined.participant().name());
  typed.set_pin("12x4");
  v1::SubmitKeypadPinResponse outcome;
  EXPECT_EQ(stub_->SubmitKeypadPin(Context().get(), typed, &outcome).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  typed.set_pin("1111");
  ASSERT_TRUE(stub_->SubmitKeypadPin(Context().get(), typed, &outcome).ok());
  EXPECT_EQ(outcome.outcome(), v1::SubmitKeypadPinResponse::OUTCOME_WRONG);
  typed.set_pin("8642");
  ASSERT_TRUE(stub_->SubmitKeypadPin(Context().get(), typed, &outcome).ok());
  EXPECT_EQ(outcome.outcome(), v1::SubmitKeypadPinResponse::OUTCOME_JOINED);
  ASSERT_TRUE(stub_->ListParticipants(Context().get(), list, &roster).ok());
  ASSERT_EQ(roster.participants_size(), 1);
  EXPECT_EQ(roster.participants(0).name(), joined.participant().name());
  EXPECT_EQ(roster.participants(0).role(), v1::ROLE_GUEST);
  // No longer typing.
  EXPECT_EQ(stub_->SubmitKeypadPin(Context().get(), typed, &outcome).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_P(RoomsServiceStoreTest, SharedPinAdmitsAtOnceAndOneTimeRoomsEndWithTheMeeting) {
  Start();
  v1::Room shared = CreateRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN, "", "8642");
  v1::JoinRoomResponse joined;
  ASSERT_TRUE(Join(shared, "8642", &joined, true).ok());
  EXPECT_EQ(joined.participant().state(), v1::PARTICIPANT_STATE_ADMITTED);

  v1::Room once = CreateRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_ONE_TIME);
  v1::Participant a = JoinAs(once, v1::ROLE_HOST);
  v1::Participant b = JoinAs(once, v1::ROLE_GUEST);
  EXPECT_EQ(a.display_name(), "Guest01");  // hosts are anonymous too
  EXPECT_EQ(b.display_name(), "Guest02");
  for (const auto& participant : {a, b}) {
    v1::LeaveRoomRequest leave;
    leave.set_name(participant.name());
    v1::LeaveRoomResponse left;
    ASSERT_TRUE(stub_->LeaveRoom(Context().get(), leave, &left).ok());
  }
  v1::GetRoomRequest get;
  get.set_name(once.name());
  v1::Room gone;
  EXPECT_EQ(stub_->GetRoom(Context().get(), get, &gone).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(engine_->session_count(), 1);  // the shared-PIN room's media goes on
}

TEST_P(RoomsServiceStoreTest, ParticipantControlChangesWhatTheyAreAndEveryWatcherSeesIt) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  v1::Participant host = JoinAs(room, v1::ROLE_HOST);
  // The watcher is registered once its snapshot (the host) has come: nothing after can be missed.
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::WatchRoomRequest watch;
  watch.set_name(room.name());
  watch.set_include_snapshot(true);
  auto reader = stub_->WatchRoom(&watch_context, watch);
  v1::RoomEvent snapshot;
  ASSERT_TRUE(reader->Read(&snapshot));
  v1::Participant guest = JoinAs(room, v1::ROLE_GUEST);
  v1::MuteParticipantRequest mute;
  mute.set_name(guest.name());
  mute.set_muted(true);
  v1::Participant out;
  ASSERT_TRUE(stub_->MuteParticipant(Context().get(), mute, &out).ok());
  EXPECT_TRUE(out.muted());
  v1::RenameParticipantRequest rename;
  rename.set_name(guest.name());
  rename.set_display_name("Patient");
  ASSERT_TRUE(stub_->RenameParticipant(Context().get(), rename, &out).ok());
  rename.set_name(host.name());
  EXPECT_EQ(stub_->RenameParticipant(Context().get(), rename, &out).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  rename.set_display_name(std::string(100, 'x'));
  EXPECT_EQ(stub_->RenameParticipant(Context().get(), rename, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::RemoveParticipantRequest remove;
  remove.set_name(guest.name());
  v1::RemoveParticipantResponse removed;
  ASSERT_TRUE(stub_->RemoveParticipant(Context().get(), remove, &removed).ok());
  v1::LockRoomRequest lock;
  lock.set_name(room.name());
  v1::Room locked;
  ASSERT_TRUE(stub_->LockRoom(Context().get(), lock, &locked).ok());

  std::vector<std::string> seen;
  v1::RoomEvent event;
  int64_t last_sequence = 1;  // the host's join
  while (seen.size() < 5 && reader->Read(&event)) {
    EXPECT_EQ(event.sequence(), last_sequence + 1);
    last_sequence = event.sequence();
    seen.push_back(event.GetDescriptor()->FindFieldByNumber(event.event_case())->name());
  }
  watch_context.TryCancel();
  std::vector<std::string> expected = {"participant_joined", "participant_updated",
                                       "participant_updated", "participant_left", "room_locked"};
  EXPECT_EQ(seen, expected);
}

TEST_P(RoomsServiceStoreTest, ManyWatchersSeeTheSameEventsAndASilentOneDoesNotSlowTheRoom) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::RoomEvent>>> readers;
  JoinAs(room, v1::ROLE_HOST);
  v1::WatchRoomRequest watch;
  watch.set_name(room.name());
  watch.set_include_snapshot(true);
  for (int i = 0; i < 5; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    readers.push_back(stub_->WatchRoom(contexts.back().get(), watch));
    // Registered once its snapshot (the host) has come.
    v1::RoomEvent snapshot;
    ASSERT_TRUE(readers.back()->Read(&snapshot));
  }
  // Many lock/unlock changes: the room never waits for its watchers.
  v1::LockRoomRequest lock;
  lock.set_name(room.name());
  v1::UnlockRoomRequest unlock;
  unlock.set_name(room.name());
  v1::Room out;
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(stub_->LockRoom(Context().get(), lock, &out).ok());
    ASSERT_TRUE(stub_->UnlockRoom(Context().get(), unlock, &out).ok());
  }
  // Each watcher that reads gets them in order; the first 10 of each suffice here.
  for (auto& reader : readers) {
    v1::RoomEvent event;
    for (int n = 2; n <= 11; ++n) {  // 1 was the host's join
      ASSERT_TRUE(reader->Read(&event));
      EXPECT_EQ(event.sequence(), n);
    }
  }
  for (auto& context : contexts) context->TryCancel();
}

// A clock the test moves by hand.
struct FakeTime {
  absl::Mutex mutex;
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mutex);
    now += d;
  }
  absl::Time Now() {
    absl::MutexLock lock(&mutex);
    return now;
  }
};

// A room system asks for a keyframe of its view by SIP INFO (RFC 5168): the SIP role passes it
// on with RequestKeyframe, which reaches the participant's video on the node (as a PLI would).
// A participant without video, or none, is NOT_FOUND. (sip_video_test has SIPp ask for real.)
TEST_F(RoomsServiceTest, AKeyframeRequestReachesTheParticipantsVideo) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  std::string token;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
  v1::JoinRoomRequest join;
  join.set_room(room.name());
  join.set_invite_token(token);
  *join.mutable_offer() = Offer(50020);
  v1::StreamOffer* video = join.mutable_offer()->mutable_rtp()->add_streams();
  video->set_kind(v1::MEDIA_KIND_VIDEO);
  v1::Codec* vp8 = video->add_codecs();
  vp8->set_name("VP8");
  vp8->set_payload_type(96);
  video->set_address("127.0.0.1");
  video->set_port(50022);
  video->set_rtcp_port(50023);
  video->mutable_key()->set_key_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNk");
  v1::JoinRoomResponse with_video;
  grpc::Status status = stub_->JoinRoom(Context().get(), join, &with_video);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::Participant audio_only = JoinAs(room, v1::ROLE_GUEST);

  v1::RequestKeyframeRequest request;
  request.set_name(with_video.participant().name());
  v1::RequestKeyframeResponse response;
  status = stub_->RequestKeyframe(Context().get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  request.set_name(audio_only.name());
  EXPECT_EQ(stub_->RequestKeyframe(Context().get(), request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  request.set_name(room.name() + "/participants/nobody");
  EXPECT_EQ(stub_->RequestKeyframe(Context().get(), request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// A room system presents in the same call (its re-INVITE, through UpdateMedia with its RTP
// streams): the content stream starts with Chorus's port and key, SetContentSharing shows it,
// and an offer without it stops it and the sharing. A WebRTC offer for it is refused.
TEST_F(RoomsServiceTest, AnRtpParticipantsContentStartsAndStopsWithItsOffer) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  std::string token;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
  v1::JoinRoomResponse joined;
  grpc::Status status = Join(room, token, &joined);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::MediaOffer joined_with = Offer(50000);  // what Join offers

  v1::UpdateMediaRequest update;
  update.set_name(joined.participant().name());
  *update.mutable_offer() = joined_with;
  v1::StreamOffer* content = update.mutable_offer()->mutable_rtp()->add_streams();
  content->set_kind(v1::MEDIA_KIND_CONTENT);
  v1::Codec* h264 = content->add_codecs();
  h264->set_name("H264");
  h264->set_payload_type(126);
  h264->set_fmtp("packetization-mode=1");
  content->set_address("127.0.0.1");
  content->set_port(50026);
  content->mutable_key()->set_key_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNk");
  v1::UpdateMediaResponse started;
  status = stub_->UpdateMedia(Context().get(), update, &started);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::StreamAnswer* answered = nullptr;
  for (const v1::StreamAnswer& stream : started.answer().rtp().streams()) {
    if (stream.kind() == v1::MEDIA_KIND_CONTENT) answered = &stream;
  }
  ASSERT_NE(answered, nullptr) << started.DebugString();
  EXPECT_NE(answered->port(), 0u);
  EXPECT_FALSE(answered->key().key_base64().empty());
  EXPECT_EQ(answered->codec().name(), "H264");
  EXPECT_EQ(started.answer().rtp().streams(0).port(), joined.answer().rtp().streams(0).port());

  v1::SetContentSharingRequest share;
  share.set_name(joined.participant().name());
  share.set_enabled(true);
  v1::Participant sharing;
  status = stub_->SetContentSharing(Context().get(), share, &sharing);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(sharing.content_sharing());

  *update.mutable_offer() = joined_with;  // the content stopped
  v1::UpdateMediaResponse stopped;
  status = stub_->UpdateMedia(Context().get(), update, &stopped);
  ASSERT_TRUE(status.ok()) << status.error_message();
  for (const v1::StreamAnswer& stream : stopped.answer().rtp().streams()) {
    EXPECT_NE(stream.kind(), v1::MEDIA_KIND_CONTENT);
  }
  EXPECT_FALSE(stopped.participant().content_sharing());

  update.mutable_offer()->mutable_webrtc()->set_sdp("v=0\r\n");
  v1::UpdateMediaResponse refused;
  EXPECT_EQ(stub_->UpdateMedia(Context().get(), update, &refused).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// A call Chorus places (DialOut): the callee is pending and in no roster; a SIP role claims the
// call once (the address, then never again; Chorus's side reserved on the node, SRTP); the
// callee rings, then answers: it joins as the invite's interpreter, in the channel asked for.
// A call that fails (busy) gives the invite back; one removed before the answer is cancelled;
// one no SIP role takes fails after 15 s. Every step is an event naming the callee, never the
// address. (The end-to-end test sip_dial_out_test places real calls.)
TEST_P(RoomsServiceStoreTest, ADialOutJoinsTheAnsweredCalleeAndItsFailuresGiveTheInviteBack) {
  auto time = std::make_shared<FakeTime>();
  RoomsOptions options;
  options.now = [time] { return time->Now(); };
  Start(false, options);
  v1::CreateRoomRequest create;
  create.mutable_room()->set_kind(v1::ROOM_KIND_MEETING);
  create.mutable_room()->add_languages("ar");
  v1::Room room;
  ASSERT_TRUE(stub_->CreateRoom(Context().get(), create, &room).ok());
  v1::CreateInviteRequest invite;
  invite.set_parent(room.name());
  invite.mutable_invite()->set_role(v1::ROLE_INTERPRETER);
  invite.mutable_invite()->mutable_interpreter_languages()->set_first("de");
  invite.mutable_invite()->mutable_interpreter_languages()->set_second("ar");
  v1::CreateInviteResponse invited;
  ASSERT_TRUE(stub_->CreateInvite(Context().get(), invite, &invited).ok());
  // An event first: WaitForEvent reads those after the first.
  v1::LockRoomRequest lock;
  lock.set_name(room.name());
  v1::Room locked;
  ASSERT_TRUE(stub_->LockRoom(Context().get(), lock, &locked).ok());
  v1::UnlockRoomRequest unlock;
  unlock.set_name(room.name());
  ASSERT_TRUE(stub_->UnlockRoom(Context().get(), unlock, &locked).ok());

  v1::DialOutRequest dial;
  dial.set_room(room.name());
  dial.set_invite_token(invited.token());
  dial.set_speak_language("ar");
  v1::DialOutResponse calling;
  for (const char* bad :
       {"", "tel:+4512345678", "sip:", "sip:a b@example.org", "sip:<evil>@example.org"}) {
    dial.set_sip_uri(bad);
    EXPECT_EQ(stub_->DialOut(Context().get(), dial, &calling).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << bad;
  }
  dial.set_sip_uri("sip:+4512345678@sbc.example.org;transport=tls");
  dial.set_speak_language("fr");
  EXPECT_EQ(stub_->DialOut(Context().get(), dial, &calling).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // not a language of the room
  dial.set_speak_language("ar");
  grpc::Status status = stub_->DialOut(Context().get(), dial, &calling);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::string callee = calling.participant().name();
  EXPECT_EQ(calling.participant().role(), v1::ROLE_INTERPRETER);
  v1::ListParticipantsRequest list;
  list.set_parent(room.name());
  v1::ListParticipantsResponse roster;
  ASSERT_TRUE(stub_->ListParticipants(Context().get(), list, &roster).ok());
  EXPECT_EQ(roster.participants_size(), 0);
  auto progress = [&](v1::DialOutState state) {
    return WaitForEvent(room, [&](const v1::RoomEvent& event) {
      return event.dial_out_progress().participant() == callee &&
             event.dial_out_progress().state() == state;
    });
  };
  EXPECT_TRUE(progress(v1::DIAL_OUT_STATE_CALLING));
  // The invite is in use by the call: nobody else joins with it.
  v1::JoinRoomResponse joined;
  EXPECT_EQ(Join(room, invited.token(), &joined).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // Claimed once: the address and Chorus's side (SRTP key, port, the codecs it offers).
  v1::ClaimDialOutRequest claim;
  claim.set_name(callee);
  v1::ClaimDialOutResponse claimed;
  status = stub_->ClaimDialOut(Context().get(), claim, &claimed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(claimed.sip_uri(), "sip:+4512345678@sbc.example.org;transport=tls");
  EXPECT_EQ(claimed.transport(), v1::TRANSPORT_SRTP);
  EXPECT_NE(claimed.audio().port(), 0u);
  EXPECT_FALSE(claimed.audio().key().key_base64().empty());
  ASSERT_GE(claimed.codecs_size(), 4);
  EXPECT_EQ(claimed.codecs(0).name(), "opus");
  EXPECT_EQ(stub_->ClaimDialOut(Context().get(), claim, &claimed).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::ReportDialOutRequest report;
  report.set_name(callee);
  report.set_state(v1::DIAL_OUT_STATE_RINGING);
  v1::ReportDialOutResponse reported;
  ASSERT_TRUE(stub_->ReportDialOut(Context().get(), report, &reported).ok());
  EXPECT_TRUE(progress(v1::DIAL_OUT_STATE_RINGING));
  report.set_state(v1::DIAL_OUT_STATE_ANSWERED);
  *report.mutable_answer() = Offer(50010).rtp();
  report.mutable_answer()->mutable_streams(0)->mutable_codecs(0)->set_name("PCMU");
  report.mutable_answer()->mutable_streams(0)->mutable_codecs(0)->set_payload_type(0);
  status = stub_->ReportDialOut(Context().get(), report, &reported);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reported.participant().name(), callee);
  EXPECT_EQ(reported.participant().speak_language(), "ar");
  EXPECT_TRUE(progress(v1::DIAL_OUT_STATE_ANSWERED));
  ASSERT_TRUE(stub_->ListParticipants(Context().get(), list, &roster).ok());
  ASSERT_EQ(roster.participants_size(), 1);
  EXPECT_EQ(roster.participants(0).role(), v1::ROLE_INTERPRETER);
  EXPECT_TRUE(roster.participants(0).on_air());
  EXPECT_EQ(stub_->ReportDialOut(Context().get(), report, &reported).error_code(),
            grpc::StatusCode::NOT_FOUND);  // answered once

  // With video: Chorus's offer has a video stream and its codecs.
  ASSERT_TRUE(stub_->CreateInvite(Context().get(), invite, &invited).ok());
  dial.set_invite_token(invited.token());
  dial.clear_speak_language();
  dial.set_video(true);
  ASSERT_TRUE(stub_->DialOut(Context().get(), dial, &calling).ok());
  claim.set_name(calling.participant().name());
  ASSERT_TRUE(stub_->ClaimDialOut(Context().get(), claim, &claimed).ok());
  EXPECT_NE(claimed.video().port(), 0u);
  EXPECT_NE(claimed.video().port(), claimed.audio().port());
  ASSERT_EQ(claimed.video_codecs_size(), 2);
  EXPECT_EQ(claimed.video_codecs(0).name(), "VP8");
  report.set_name(calling.participant().name());
  report.set_state(v1::DIAL_OUT_STATE_REJECTED);
  ASSERT_TRUE(stub_->ReportDialOut(Context().get(), report, &reported).ok());
  dial.set_video(false);

  // Busy: the dial-out ends and its invite works again.
  ASSERT_TRUE(stub_->CreateInvite(Context().get(), invite, &invited).ok());
  dial.set_invite_token(invited.token());
  dial.clear_speak_language();
  ASSERT_TRUE(stub_->DialOut(Context().get(), dial, &calling).ok());
  claim.set_name(calling.participant().name());
  ASSERT_TRUE(stub_->ClaimDialOut(Context().get(), claim, &claimed).ok());
  report.set_name(calling.participant().name());
  report.set_state(v1::DIAL_OUT_STATE_BUSY);
  ASSERT_TRUE(stub_->ReportDialOut(Context().get(), report, &reported).ok());
  ASSERT_TRUE(stub_->DialOut(Context().get(), dial, &calling).ok());
  // Removed before it is answered: cancelled.
  v1::RemoveParticipantRequest remove;
  remove.set_name(calling.participant().name());
  v1::RemoveParticipantResponse removed;
  ASSERT_TRUE(stub_->RemoveParticipant(Context().get(), remove, &removed).ok());
  const std::string cancelled = calling.participant().name();
  EXPECT_TRUE(WaitForEvent(room, [&](const v1::RoomEvent& event) {
    return event.dial_out_progress().participant() == cancelled &&
           event.dial_out_progress().state() == v1::DIAL_OUT_STATE_CANCELLED;
  }));
  // Nobody claims it: failed after 15 s, the invite usable again.
  ASSERT_TRUE(stub_->DialOut(Context().get(), dial, &calling).ok());
  time->Advance(absl::Seconds(16));
  service_->Sweep();
  const std::string unclaimed = calling.participant().name();
  EXPECT_TRUE(WaitForEvent(room, [&](const v1::RoomEvent& event) {
    return event.dial_out_progress().participant() == unclaimed &&
           event.dial_out_progress().state() == v1::DIAL_OUT_STATE_FAILED;
  }));
  claim.set_name(unclaimed);
  EXPECT_EQ(stub_->ClaimDialOut(Context().get(), claim, &claimed).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Join(room, invited.token(), &joined).ok());
  ASSERT_TRUE(stub_->ListParticipants(Context().get(), list, &roster).ok());
  EXPECT_EQ(roster.participants_size(), 2);
}

TEST_P(RoomsServiceStoreTest, ExpiredInvitesAreRefusedAndIdleRoomsClose) {
  auto time = std::make_shared<FakeTime>();
  RoomsOptions options;
  options.now = [time] { return time->Now(); };
  options.default_idle_timeout = absl::Minutes(10);
  Start(false, options);
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  v1::CreateInviteRequest invite;
  invite.set_parent(room.name());
  invite.mutable_invite()->set_role(v1::ROLE_GUEST);
  invite.mutable_invite()->mutable_ttl()->set_seconds(60);
  v1::CreateInviteResponse created;
  ASSERT_TRUE(stub_->CreateInvite(Context().get(), invite, &created).ok());
  time->Advance(absl::Seconds(61));
  v1::JoinRoomResponse joined;
  EXPECT_EQ(Join(room, created.token(), &joined).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::ListInvitesRequest list;
  list.set_parent(room.name());
  v1::ListInvitesResponse invites;
  ASSERT_TRUE(stub_->ListInvites(Context().get(), list, &invites).ok());
  EXPECT_EQ(invites.invites(0).state(), v1::INVITE_STATE_EXPIRED);
  EXPECT_TRUE(invites.invites(0).name().find(created.token()) == std::string::npos);

  // Nobody has joined yet: the idle clock has not started.
  time->Advance(absl::Minutes(11));
  service_->Sweep();
  v1::GetRoomRequest get;
  get.set_name(room.name());
  v1::Room still;
  EXPECT_TRUE(stub_->GetRoom(Context().get(), get, &still).ok());
  // Joined, then empty: the room closes after its idle timeout, not before.
  LeaveRoom(JoinAs(room, v1::ROLE_GUEST));
  time->Advance(absl::Minutes(5));
  service_->Sweep();
  EXPECT_TRUE(stub_->GetRoom(Context().get(), get, &still).ok());
  time->Advance(absl::Minutes(6));
  service_->Sweep();
  EXPECT_EQ(stub_->GetRoom(Context().get(), get, &still).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RoomsServiceTest, ARoomBookedAheadWaitsForItsFirstJoinBeforeItsIdleClockRuns) {
  auto time = std::make_shared<FakeTime>();
  RoomsOptions options;
  options.now = [time] { return time->Now(); };
  Start(false, options);
  v1::Room room = CreateRoom(v1::ROOM_KIND_CONSULTATION);
  v1::CreateInviteRequest invite;
  invite.set_parent(room.name());
  invite.mutable_invite()->set_role(v1::ROLE_HOST);
  invite.mutable_invite()->mutable_ttl()->set_seconds(7 * 24 * 3600);
  v1::CreateInviteResponse invited;
  ASSERT_TRUE(stub_->CreateInvite(Context().get(), invite, &invited).ok());
  const std::string token = invited.token();
  // Booked for next week: six days of housekeeping do not close it.
  for (int day = 0; day < 6; ++day) {
    time->Advance(absl::Hours(24));
    service_->Sweep();
  }
  v1::GetRoomRequest get;
  get.set_name(room.name());
  v1::Room still;
  ASSERT_TRUE(stub_->GetRoom(Context().get(), get, &still).ok());
  EXPECT_EQ(still.state(), v1::ROOM_STATE_OPEN);
  // The meeting: the clinician's link still works, and once the room is empty again its idle
  // timeout (10 minutes) runs.
  v1::JoinRoomResponse joined;
  ASSERT_TRUE(Join(room, token, &joined).ok());
  time->Advance(absl::Hours(1));
  service_->Sweep();
  ASSERT_TRUE(stub_->GetRoom(Context().get(), get, &still).ok());
  EXPECT_EQ(still.state(), v1::ROOM_STATE_ACTIVE);
  LeaveRoom(joined.participant());
  time->Advance(absl::Minutes(9));
  service_->Sweep();
  EXPECT_TRUE(stub_->GetRoom(Context().get(), get, &still).ok());
  time->Advance(absl::Minutes(2));
  service_->Sweep();
  EXPECT_EQ(stub_->GetRoom(Context().get(), get, &still).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_P(RoomsServiceStoreTest, ARoomEndsAtItsExpireTimeAtTheLatestNinetyDaysAfterItsCreation) {
  auto time = std::make_shared<FakeTime>();
  RoomsOptions options;
  options.now = [time] { return time->Now(); };
  Start(false, options);
  const absl::Time start = time->Now();
  auto at = [](absl::Time t) {
    google::protobuf::Timestamp out;
    out.set_seconds(absl::ToUnixSeconds(t));
    return out;
  };
  auto seconds = [](const google::protobuf::Timestamp& t) {
    return absl::FromUnixSeconds(t.seconds());
  };

  // By default, and at the latest, 90 days after creation.
  v1::Room plain = CreateRoom(v1::ROOM_KIND_MEETING);
  EXPECT_EQ(seconds(plain.expire_time()), start + absl::Hours(24 * 90));
  EXPECT_EQ(seconds(plain.create_time()), start);
  v1::CreateRoomRequest create;
  create.mutable_room()->set_kind(v1::ROOM_KIND_MEETING);
  v1::Room refused;
  *create.mutable_room()->mutable_expire_time() = at(start + absl::Hours(24 * 90 + 1));
  grpc::Status status = stub_->CreateRoom(Context().get(), create, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "90 days")) << status.error_message();
  *create.mutable_room()->mutable_expire_time() = at(start - absl::Minutes(1));
  EXPECT_EQ(stub_->CreateRoom(Context().get(), create, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  create.mutable_room()->mutable_ttl()->set_seconds(0);
  EXPECT_EQ(stub_->CreateRoom(Context().get(), create, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  create.mutable_room()->mutable_ttl()->set_seconds(24 * 3600 * 91);
  EXPECT_EQ(stub_->CreateRoom(Context().get(), create, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // A room for a two-hour session, given as a ttl, answered as an expire_time.
  create.mutable_room()->mutable_ttl()->set_seconds(2 * 3600);
  v1::Room room;
  ASSERT_TRUE(stub_->CreateRoom(Context().get(), create, &room).ok());
  EXPECT_FALSE(room.has_ttl());
  EXPECT_EQ(seconds(room.expire_time()), start + absl::Hours(2));

  // UpdateRoom moves it, by the same rule: never beyond 90 days after creation.
  time->Advance(absl::Minutes(30));
  v1::UpdateRoomRequest update;
  update.mutable_room()->set_name(room.name());
  update.mutable_update_mask()->add_paths("expire_time");
  *update.mutable_room()->mutable_expire_time() = at(time->Now() + absl::Hours(24 * 90));
  v1::Room updated;
  EXPECT_EQ(stub_->UpdateRoom(Context().get(), update, &updated).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  *update.mutable_room()->mutable_expire_time() = at(start + absl::Hours(1));
  ASSERT_TRUE(stub_->UpdateRoom(Context().get(), update, &updated).ok());
  EXPECT_EQ(seconds(updated.expire_time()), start + absl::Hours(1));

  // The session runs over: at its expire_time the room ends with everyone in it.
  v1::Participant host = JoinAs(room, v1::ROLE_HOST);
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::WatchRoomRequest watch;
  watch.set_name(room.name());
  watch.set_resume_after_sequence(1);  // the host's arrival is event 1
  auto reader = stub_->WatchRoom(&watch_context, watch);
  v1::LockRoomRequest lock;
  lock.set_name(room.name());
  v1::Room locked;
  ASSERT_TRUE(stub_->LockRoom(Context().get(), lock, &locked).ok());
  v1::RoomEvent event;
  // From the history or live, whichever way the watcher came in: then it is in.
  do {
    ASSERT_TRUE(reader->Read(&event));
  } while (!event.has_room_locked());
  time->Advance(absl::Minutes(29));
  service_->Sweep();
  v1::GetRoomRequest get;
  get.set_name(room.name());
  v1::Room still;
  ASSERT_TRUE(stub_->GetRoom(Context().get(), get, &still).ok());
  time->Advance(absl::Minutes(1));
  service_->Sweep();
  std::vector<v1::RoomEvent> last;
  while (reader->Read(&event)) last.push_back(event);
  EXPECT_TRUE(reader->Finish().ok());
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[0].participant_left().participant(), host.name());
  EXPECT_EQ(last[0].participant_left().reason(), v1::LEAVE_REASON_ROOM_CLOSED);
  EXPECT_TRUE(last[1].has_room_closed());
  EXPECT_EQ(stub_->GetRoom(Context().get(), get, &still).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(media_service_->active_sessions(), 0);  // its media ended too
  // The other room lives on to its own end.
  get.set_name(plain.name());
  EXPECT_TRUE(stub_->GetRoom(Context().get(), get, &still).ok());
  time->Advance(absl::Hours(24 * 90));
  EXPECT_EQ(service_->Purge(), 1);
  EXPECT_EQ(stub_->GetRoom(Context().get(), get, &still).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RoomsServiceTest, AnInviteNeverOutlivesItsRoom) {
  auto time = std::make_shared<FakeTime>();
  RoomsOptions options;
  options.now = [time] { return time->Now(); };
  Start(false, options);
  const absl::Time start = time->Now();
  auto seconds = [](const google::protobuf::Timestamp& t) {
    return absl::FromUnixSeconds(t.seconds());
  };
  v1::CreateRoomRequest create;
  create.mutable_room()->set_kind(v1::ROOM_KIND_MEETING);
  create.mutable_room()->mutable_ttl()->set_seconds(2 * 3600);
  v1::Room room;
  ASSERT_TRUE(stub_->CreateRoom(Context().get(), create, &room).ok());
  auto invite = [&](int64_t ttl_seconds) {
    v1::CreateInviteRequest request;
    request.set_parent(room.name());
    request.mutable_invite()->set_role(v1::ROLE_GUEST);
    if (ttl_seconds > 0) request.mutable_invite()->mutable_ttl()->set_seconds(ttl_seconds);
    v1::CreateInviteResponse response;
    EXPECT_TRUE(stub_->CreateInvite(Context().get(), request, &response).ok());
    return response.invite();
  };
  // A week, or the default day, end with the room (2 hours); half an hour stays half an hour.
  EXPECT_EQ(seconds(invite(7 * 24 * 3600).expire_time()), start + absl::Hours(2));
  EXPECT_EQ(seconds(invite(0).expire_time()), start + absl::Hours(2));
  EXPECT_EQ(seconds(invite(1800).expire_time()), start + absl::Minutes(30));

  // The room is shortened to an hour: its pending invites follow.
  v1::UpdateRoomRequest update;
  update.mutable_room()->set_name(room.name());
  update.mutable_update_mask()->add_paths("ttl");
  update.mutable_room()->mutable_ttl()->set_seconds(3600);
  v1::Room updated;
  ASSERT_TRUE(stub_->UpdateRoom(Context().get(), update, &updated).ok());
  EXPECT_EQ(seconds(updated.expire_time()), start + absl::Hours(1));
  v1::ListInvitesRequest list;
  list.set_parent(room.name());
  v1::ListInvitesResponse invites;
  ASSERT_TRUE(stub_->ListInvites(Context().get(), list, &invites).ok());
  ASSERT_EQ(invites.invites_size(), 3);
  EXPECT_EQ(seconds(invites.invites(0).expire_time()), start + absl::Hours(1));
  EXPECT_EQ(seconds(invites.invites(1).expire_time()), start + absl::Hours(1));
  EXPECT_EQ(seconds(invites.invites(2).expire_time()), start + absl::Minutes(30));
}

// The value of the metric `name` whose labels include `labels` (a counter's or gauge's value, a
// histogram's sample count), or -1 when there is none.
double MetricValue(const std::vector<prometheus::MetricFamily>& families, const std::string& name,
                   const std::map<std::string, std::string>& labels = {}) {
  for (const prometheus::MetricFamily& family : families) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      size_t matched = 0;
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        auto wanted = labels.find(label.name);
        if (wanted != labels.end() && wanted->second == label.value) ++matched;
      }
      if (matched != labels.size()) continue;
      switch (family.type) {
        case prometheus::MetricType::Counter:
          return metric.counter.value;
        case prometheus::MetricType::Gauge:
          return metric.gauge.value;
        case prometheus::MetricType::Histogram:
          return static_cast<double>(metric.histogram.sample_count);
        default:
          return -1;
      }
    }
  }
  return -1;
}

TEST_F(RoomsServiceTest, MetricsCountCallsJoinsRefusalsAndTheWaitingRoomAndNameNobody) {
  auto time = std::make_shared<FakeTime>();
  RoomsOptions options;
  options.now = [time] { return time->Now(); };
  Start(false, options);
  auto rpcs = [&](const std::string& method, const std::string& code,
                  const std::string& service = "chorus.v1.Rooms") {
    return MetricValue(rpc_registry_->Collect(), "chorus_rpcs_total",
                       {{"service", service}, {"method", method}, {"code", code}});
  };
  auto metric = [&](const std::string& name, const std::map<std::string, std::string>& labels) {
    return MetricValue(service_->metrics()->Collect(), name, labels);
  };
  v1::CreateRoomRequest create;
  create.set_room_id("metrics-room");
  create.mutable_room()->set_kind(v1::ROOM_KIND_CONSULTATION);  // a lobby
  v1::Room room;
  ASSERT_TRUE(stub_->CreateRoom(Context().get(), create, &room).ok());
  v1::Room empty = CreateRoom(v1::ROOM_KIND_MEETING);
  v1::Participant host = JoinAs(room, v1::ROLE_HOST);
  v1::CreateInviteRequest invite;
  invite.set_parent(room.name());
  invite.mutable_invite()->set_role(v1::ROLE_GUEST);
  invite.mutable_invite()->set_pseudonym("Patient-Secret-Name");
  v1::CreateInviteResponse invited;
  ASSERT_TRUE(stub_->CreateInvite(Context().get(), invite, &invited).ok());
  v1::JoinRoomResponse guest;
  ASSERT_TRUE(Join(room, invited.token(), &guest).ok());
  ASSERT_EQ(guest.participant().state(), v1::PARTICIPANT_STATE_WAITING);

  EXPECT_EQ(metric("chorus_rooms", {{"state", "active"}}), 1);
  EXPECT_EQ(metric("chorus_rooms", {{"state", "open"}}), 1);
  EXPECT_EQ(metric("chorus_participants", {{"state", "waiting"}}), 1);
  EXPECT_EQ(metric("chorus_participants", {{"state", "admitted"}}), 1);

  // The clinician lets the patient in 42 seconds later.
  time->Advance(absl::Seconds(42));
  v1::AdmitParticipantRequest admit;
  admit.set_name(guest.participant().name());
  v1::Participant admitted;
  ASSERT_TRUE(stub_->AdmitParticipant(Context().get(), admit, &admitted).ok());
  // The invite again, and a token of nobody's invite: both refused.
  v1::JoinRoomResponse refused;
  EXPECT_EQ(Join(room, invited.token(), &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Join(room, "not-a-token-of-this-room", &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::GetRoomRequest get;
  get.set_name("rooms/no-such-room");
  v1::Room none;
  EXPECT_EQ(stub_->GetRoom(Context().get(), get, &none).error_code(), grpc::StatusCode::NOT_FOUND);

  EXPECT_EQ(metric("chorus_joins_total", {{"role", "HOST"}}), 1);
  EXPECT_EQ(metric("chorus_joins_total", {{"role", "GUEST"}}), 1);
  EXPECT_EQ(metric("chorus_joins_total", {{"role", "INTERPRETER"}}), 0);
  EXPECT_EQ(metric("chorus_join_refusals_total", {{"reason", "INVITE_ALREADY_USED"}}), 1);
  EXPECT_EQ(metric("chorus_join_refusals_total", {{"reason", "UNKNOWN_INVITE"}}), 1);
  EXPECT_EQ(metric("chorus_join_refusals_total", {{"reason", "WRONG_PIN"}}), 0);
  EXPECT_EQ(metric("chorus_participants", {{"state", "waiting"}}), 0);
  EXPECT_EQ(metric("chorus_participants", {{"state", "admitted"}}), 2);
  bool found_wait = false;
  for (const prometheus::MetricFamily& family : service_->metrics()->Collect()) {
    if (family.name != "chorus_lobby_wait_seconds") continue;
    ASSERT_EQ(family.metric.size(), 1u);
    EXPECT_EQ(family.metric[0].histogram.sample_count, 1u);
    EXPECT_DOUBLE_EQ(family.metric[0].histogram.sample_sum, 42.0);
    found_wait = true;
  }
  EXPECT_TRUE(found_wait);

  EXPECT_EQ(rpcs("CreateRoom", "OK"), 2);
  EXPECT_EQ(rpcs("JoinRoom", "OK"), 2);
  EXPECT_EQ(rpcs("JoinRoom", "PERMISSION_DENIED"), 2);
  EXPECT_EQ(rpcs("GetRoom", "NOT_FOUND"), 1);
  EXPECT_EQ(rpcs("AdmitParticipant", "OK"), 1);
  // The controller's own calls to the media node are counted under their service.
  EXPECT_GE(rpcs("AddEndpoint", "OK", "chorus.internal.v1.MediaNode"), 2);
  // What the guard answers is what is counted; a path no service has is "unknown".
  grpc::GenericStub generic(server_->InProcessChannel(grpc::ChannelArguments()));
  auto raw = [&](const std::string& method, const std::string& bytes) {
    grpc::ClientContext context;
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    absl::Notification done;
    grpc::Status status;
    generic.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                      [&](grpc::Status s) {
                        status = std::move(s);
                        done.Notify();
                      });
    done.WaitForNotification();
    return status.error_code();
  };
  EXPECT_EQ(raw("/chorus.v1.Rooms/GetRoom", "\x0a\x02\xff\xfe"),
            grpc::StatusCode::INVALID_ARGUMENT);  // a name that is not UTF-8
  EXPECT_EQ(rpcs("GetRoom", "INVALID_ARGUMENT"), 1);
  EXPECT_EQ(raw("/Patient-Secret-Name/Token", ""), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(rpcs("unknown", "UNIMPLEMENTED", "unknown"), 1);

  v1::CloseRoomRequest close;
  close.set_name(room.name());
  v1::CloseRoomResponse closed;
  ASSERT_TRUE(stub_->CloseRoom(Context().get(), close, &closed).ok());
  EXPECT_EQ(metric("chorus_rooms_closed_total", {{"reason", "closed"}}), 1);
  EXPECT_EQ(metric("chorus_rooms", {{"state", "active"}}), 0);
  EXPECT_EQ(metric("chorus_participants", {{"state", "admitted"}}), 0);

  // No label names a person, a room, a participant or a credential.
  std::vector<prometheus::MetricFamily> all = service_->metrics()->Collect();
  for (prometheus::MetricFamily& family : rpc_registry_->Collect()) all.push_back(family);
  const std::string participant_id = host.name().substr(host.name().rfind('/') + 1);
  for (const prometheus::MetricFamily& family : all) {
    for (const prometheus::ClientMetric& m : family.metric) {
      for (const prometheus::ClientMetric::Label& label : m.label) {
        for (const std::string& secret :
             {std::string("Patient-Secret-Name"), invited.token(), std::string("metrics-room"),
              empty.name(), participant_id, std::string("Guest01")}) {
          EXPECT_FALSE(absl::StrContains(label.value, secret))
              << family.name << " " << label.name << "=" << label.value;
        }
      }
    }
  }
}

// Load reports are up to one poll old. A node that began draining after its last report gets no
// new room: Place asks the chosen node again and chooses another (its SIGTERM must not fail the
// joins of that moment).
TEST(MediaNodesTest, PlaceSkipsANodeThatBeganDrainingSinceItsReport) {
  engine::EngineOptions engine_options;
  engine_options.workers = 1;
  engine_options.port_min = 44598;
  engine_options.port_max = 44599;
  auto engine = *engine::MediaEngine::Create(engine_options);
  auto auth = common::BearerAuthenticator::AllowAll();
  common::Lifecycle lifecycles[2];
  std::unique_ptr<media_node::MediaNodeService> services[2];
  std::unique_ptr<grpc::Server> servers[2];
  MediaNodes nodes;
  for (int i = 0; i < 2; ++i) {
    media_node::MediaNodeOptions options;
    options.node_id = "node-" + std::to_string(i);
    options.internal_secret = "test-secret";
    services[i] =
        std::make_unique<media_node::MediaNodeService>(options, engine.get(), *auth, lifecycles[i]);
    grpc::ServerBuilder builder;
    builder.RegisterService(services[i].get());
    servers[i] = builder.BuildAndStart();
    ASSERT_NE(servers[i], nullptr);
    nodes.Add(options.node_id, servers[i]->InProcessChannel(grpc::ChannelArguments()),
              {media_node::kInternalSecretHeader, "test-secret"});
    lifecycles[i].SetReady(true);
  }
  // Idle nodes take rooms in turn (the first listed wins a tie): 0, 1, and 0 would be next.
  EXPECT_EQ(*nodes.Place(), 0u);
  EXPECT_EQ(*nodes.Place(), 1u);
  lifecycles[0].BeginDrain();  // after the reports Place has seen
  EXPECT_EQ(*nodes.Place(), 1u);
  EXPECT_EQ(*nodes.Place(), 1u);
  lifecycles[1].BeginDrain();
  EXPECT_EQ(nodes.Place().status().code(), absl::StatusCode::kResourceExhausted);
  for (int i = 0; i < 2; ++i) {
    services[i]->Shutdown();
    servers[i]->Shutdown();
  }
}

TEST(MediaNodesTest, NodesAreFoundThroughDns) {
  MediaNodes nodes;
  const MediaNodes::Connector connect = [](const std::string& address) {
    return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  };
  nodes.AddDnsName("localhost", 7701, connect);
  EXPECT_GE(nodes.ResolveNow(), 1u);  // 127.0.0.1 (and ::1 where configured)
  const size_t found = nodes.size();
  EXPECT_EQ(nodes.ResolveNow(), found);  // resolving again adds nothing new
  MediaNodes none;
  none.AddDnsName("no-such-host.invalid", 7701, connect);
  EXPECT_EQ(none.ResolveNow(), 0u);
  EXPECT_EQ(none.Place().status().code(), absl::StatusCode::kResourceExhausted);
}

// Every RPC, given empty, oversized or unknown names, answers INVALID_ARGUMENT or NOT_FOUND with
// a message, and changes nothing.
TEST_F(RoomsServiceTest, NonsenseOnEveryRpcIsRefusedClearly) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  const std::string huge(100000, 'x');
  const std::vector<std::string> names = {"",
                                          "rooms/",
                                          "rooms/nope",
                                          huge,
                                          "rooms/" + huge,
                                          room.name() + "/participants/nope",
                                          room.name() + "/invites/nope",
                                          "participants/x"};
  auto refused = [](const grpc::Status& status) {
    return (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
            status.error_code() == grpc::StatusCode::NOT_FOUND) &&
           !status.error_message().empty();
  };
  for (const std::string& name : names) {
    SCOPED_TRACE(name.substr(0, 40));
    v1::Room r;
    v1::Participant p;
    v1::GetRoomRequest get;
    get.set_name(name);
    EXPECT_TRUE(refused(stub_->GetRoom(Context().get(), get, &r)));
    v1::LockRoomRequest lock;
    lock.set_name(name);
    EXPECT_TRUE(refused(stub_->LockRoom(Context().get(), lock, &r)));
    v1::UnlockRoomRequest unlock;
    unlock.set_name(name);
    EXPECT_TRUE(refused(stub_->UnlockRoom(Context().get(), unlock, &r)));
    v1::CloseRoomRequest close;
    close.set_name(name);
    v1::CloseRoomResponse closed;
    EXPECT_TRUE(refused(stub_->CloseRoom(Context().get(), close, &closed)));
    v1::UpdateRoomRequest update;
    update.mutable_room()->set_name(name);
    update.mutable_update_mask()->add_paths("lobby_enabled");
    EXPECT_TRUE(refused(stub_->UpdateRoom(Context().get(), update, &r)));
    v1::CreateInviteRequest invite;
    invite.set_parent(name);
    invite.mutable_invite()->set_role(v1::ROLE_GUEST);
    v1::CreateInviteResponse created;
    EXPECT_TRUE(refused(stub_->CreateInvite(Context().get(), invite, &created)));
    v1::ListInvitesRequest invites;
    invites.set_parent(name);
    v1::ListInvitesResponse invite_list;
    EXPECT_TRUE(refused(stub_->ListInvites(Context().get(), invites, &invite_list)));
    v1::RevokeInviteRequest revoke;
    revoke.set_name(name);
    v1::Invite revoked;
    EXPECT_TRUE(refused(stub_->RevokeInvite(Context().get(), revoke, &revoked)));
    v1::ListParticipantsRequest roster;
    roster.set_parent(name);
    v1::ListParticipantsResponse listed;
    EXPECT_TRUE(refused(stub_->ListParticipants(Context().get(), roster, &listed)));
    v1::GetParticipantRequest get_participant;
    get_participant.set_name(name);
    EXPECT_TRUE(refused(stub_->GetParticipant(Context().get(), get_participant, &p)));
    v1::AdmitParticipantRequest admit;
    admit.set_name(name);
    EXPECT_TRUE(refused(stub_->AdmitParticipant(Context().get(), admit, &p)));
    v1::DenyParticipantRequest deny;
    deny.set_name(name);
    v1::DenyParticipantResponse denied;
    EXPECT_TRUE(refused(stub_->DenyParticipant(Context().get(), deny, &denied)));
    v1::RemoveParticipantRequest remove;
    remove.set_name(name);
    v1::RemoveParticipantResponse removed;
    EXPECT_TRUE(refused(stub_->RemoveParticipant(Context().get(), remove, &removed)));
    v1::LeaveRoomRequest leave;
    leave.set_name(name);
    v1::LeaveRoomResponse left;
    EXPECT_TRUE(refused(stub_->LeaveRoom(Context().get(), leave, &left)));
    v1::MuteParticipantRequest mute;
    mute.set_name(name);
    EXPECT_TRUE(refused(stub_->MuteParticipant(Context().get(), mute, &p)));
    v1::RenameParticipantRequest rename;
    rename.set_name(name);
    rename.set_display_name("Someone");
    EXPECT_TRUE(refused(stub_->RenameParticipant(Context().get(), rename, &p)));
    v1::SetListenLanguageRequest listen;
    listen.set_name(name);
    EXPECT_TRUE(refused(stub_->SetListenLanguage(Context().get(), listen, &p)));
    v1::SetSpeakLanguageRequest speak;
    speak.set_name(name);
    EXPECT_TRUE(refused(stub_->SetSpeakLanguage(Context().get(), speak, &p)));
    v1::JoinRoomRequest join;
    join.set_room(name);
    join.set_invite_token(huge.substr(0, 200));
    *join.mutable_offer() = Offer(5000);
    v1::JoinRoomResponse joined;
    EXPECT_TRUE(refused(stub_->JoinRoom(Context().get(), join, &joined)));
    grpc::ClientContext watch_context;
    v1::WatchRoomRequest watch;
    watch.set_name(name);
    auto reader = stub_->WatchRoom(&watch_context, watch);
    v1::RoomEvent event;
    EXPECT_FALSE(reader->Read(&event));
    EXPECT_TRUE(refused(reader->Finish()));
  }
  // Nonsense offers and credentials on a real room.
  v1::JoinRoomResponse joined;
  v1::JoinRoomRequest join;
  join.set_room(room.name());
  EXPECT_EQ(stub_->JoinRoom(Context().get(), join, &joined).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // no credential
  join.set_invite_token("x");
  EXPECT_EQ(stub_->JoinRoom(Context().get(), join, &joined).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // no offer
  std::string token;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
  join.set_invite_token(token);
  *join.mutable_offer() = Offer(0);  // port 0
  EXPECT_EQ(stub_->JoinRoom(Context().get(), join, &joined).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // The refused join did not use the invite, and the room is as it was.
  *join.mutable_offer() = Offer(5000);
  EXPECT_TRUE(stub_->JoinRoom(Context().get(), join, &joined).ok());
  v1::GetRoomRequest get;
  get.set_name(room.name());
  v1::Room now;
  ASSERT_TRUE(stub_->GetRoom(Context().get(), get, &now).ok());
  EXPECT_FALSE(now.locked());
  EXPECT_EQ(now.participant_count(), 1);
}

TEST_F(RoomsServiceTest, EveryCallNeedsATokenWhenTokensAreConfigured) {
  Start(true);
  v1::ListRoomsResponse rooms;
  grpc::ClientContext bare;
  EXPECT_EQ(stub_->ListRooms(&bare, {}, &rooms).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub_->ListRooms(Context("wrong-token-but-long-enough").get(), {}, &rooms).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(stub_->ListRooms(Context().get(), {}, &rooms).ok());
  // The controller still reaches its in-process media node.
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  EXPECT_EQ(JoinAs(room, v1::ROLE_HOST).state(), v1::PARTICIPANT_STATE_ADMITTED);
}

TEST_F(RoomsServiceTest, DrainingRefusesNewRooms) {
  Start();
  lifecycle_.BeginDrain();
  v1::CreateRoomRequest request;
  request.mutable_room()->set_kind(v1::ROOM_KIND_MEETING);
  v1::Room room;
  EXPECT_EQ(stub_->CreateRoom(Context().get(), request, &room).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

// Many clients at once on one room: the participant limit, single-use invites and the guest
// numbering hold, while other threads create, list and close rooms beside it.
TEST_P(RoomsServiceStoreTest, ConcurrentCallsKeepEveryRule) {
  Start();
  constexpr int kLimit = 8;
  constexpr int kThreads = 6;
  constexpr int kInvitesPerThread = 4;
  v1::CreateRoomRequest create;
  create.mutable_room()->set_kind(v1::ROOM_KIND_MEETING);
  create.mutable_room()->set_max_participants(kLimit);
  v1::Room room;
  ASSERT_TRUE(stub_->CreateRoom(Context().get(), create, &room).ok());
  std::vector<std::string> tokens(kThreads * kInvitesPerThread);
  for (std::string& token : tokens) ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());

  std::atomic<int> joined{0}, full{0}, reused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kInvitesPerThread; ++i) {
        // Every invite is tried by two threads: one of them must be refused.
        for (int owner : {t, (t + 1) % kThreads}) {
          v1::JoinRoomResponse out;
          grpc::Status status = Join(room, tokens[owner * kInvitesPerThread + i], &out);
          if (status.ok()) {
            ++joined;
          } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
            ++full;
          } else if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
            ++reused;
          } else {
            ADD_FAILURE() << status.error_code() << " " << status.error_message();
            ++other;
          }
        }
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 20; ++i) {
      v1::Room scratch = CreateRoom(v1::ROOM_KIND_MEETING);
      v1::ListRoomsRequest list;
      v1::ListRoomsResponse listed;
      EXPECT_TRUE(stub_->ListRooms(Context().get(), list, &listed).ok());
      v1::CloseRoomRequest close;
      close.set_name(scratch.name());
      v1::CloseRoomResponse closed;
      EXPECT_TRUE(stub_->CloseRoom(Context().get(), close, &closed).ok());
    }
  });
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(joined.load(), kLimit);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(joined + full + reused, 2 * kThreads * kInvitesPerThread);
  EXPECT_GE(reused.load(), 1);
  v1::ListParticipantsRequest list;
  list.set_parent(room.name());
  v1::ListParticipantsResponse roster;
  ASSERT_TRUE(stub_->ListParticipants(Context().get(), list, &roster).ok());
  ASSERT_EQ(roster.participants_size(), kLimit);
  std::set<std::string> names;
  for (const auto& participant : roster.participants()) names.insert(participant.display_name());
  EXPECT_EQ(names.size(), static_cast<size_t>(kLimit));  // no Guest number handed out twice
  v1::ListRoomsRequest rooms;
  v1::ListRoomsResponse listed;
  ASSERT_TRUE(stub_->ListRooms(Context().get(), rooms, &listed).ok());
  EXPECT_EQ(listed.rooms_size(), 1);  // the scratch rooms are gone
}

TEST_F(RoomsServiceTest, AMeetingHoldsFiftyParticipants) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  EXPECT_GE(room.max_participants(), 50);
  for (int i = 0; i < 50; ++i) {
    v1::Participant joined = JoinAs(room, i == 0 ? v1::ROLE_HOST : v1::ROLE_GUEST);
    ASSERT_EQ(joined.state(), v1::PARTICIPANT_STATE_ADMITTED) << i;
  }
  v1::GetRoomRequest get;
  get.set_name(room.name());
  v1::Room now;
  ASSERT_TRUE(stub_->GetRoom(Context().get(), get, &now).ok());
  EXPECT_EQ(now.participant_count(), 50);
  EXPECT_EQ(engine_->endpoint_count(), 50);
}

// Booths: the first interpreter into a channel is on air, the second on standby; a hand-over is
// one call; when the one on air leaves, the partner takes over. Each change is an event.
TEST_P(RoomsServiceStoreTest, InterpretersShareABoothAndHandOver) {
  Start();
  v1::CreateRoomRequest create;
  create.mutable_room()->set_kind(v1::ROOM_KIND_MEETING);
  create.mutable_room()->add_languages("ar");
  v1::Room room;
  ASSERT_TRUE(stub_->CreateRoom(Context().get(), create, &room).ok());
  auto interpreter = [&] {
    v1::CreateInviteRequest request;
    request.set_parent(room.name());
    request.mutable_invite()->set_role(v1::ROLE_INTERPRETER);
    request.mutable_invite()->mutable_interpreter_languages()->set_first("da");
    request.mutable_invite()->mutable_interpreter_languages()->set_second("ar");
    v1::CreateInviteResponse invite;
    EXPECT_TRUE(stub_->CreateInvite(Context().get(), request, &invite).ok());
    v1::JoinRoomResponse joined;
    EXPECT_TRUE(Join(room, invite.token(), &joined).ok());
    return joined.participant();
  };
  v1::Participant guest = JoinAs(room, v1::ROLE_GUEST);
  v1::Participant first = interpreter();
  v1::Participant second = interpreter();
  v1::WatchRoomRequest watch;
  watch.set_name(room.name());
  watch.set_include_snapshot(true);
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto reader = stub_->WatchRoom(&watch_context, watch);
  // The snapshot (one event per participant) comes once the watcher is registered: nothing
  // after it can be missed.
  v1::RoomEvent snapshot;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(reader->Read(&snapshot));

  auto speak = [&](const v1::Participant& who, const std::string& language) {
    v1::SetSpeakLanguageRequest request;
    request.set_name(who.name());
    request.set_language(language);
    v1::Participant out;
    EXPECT_TRUE(stub_->SetSpeakLanguage(Context().get(), request, &out).ok());
    return out;
  };
  auto get = [&](const v1::Participant& who) {
    v1::GetParticipantRequest request;
    request.set_name(who.name());
    v1::Participant out;
    EXPECT_TRUE(stub_->GetParticipant(Context().get(), request, &out).ok());
    return out;
  };
  auto hand_over = [&](const v1::Participant& who, v1::Participant* out) {
    v1::HandOverInterpretationRequest request;
    request.set_name(who.name());
    return stub_->HandOverInterpretation(Context().get(), request, out);
  };
  EXPECT_TRUE(speak(first, "ar").on_air());
  EXPECT_FALSE(speak(second, "ar").on_air());  // the booth's standby
  v1::Participant out;
  EXPECT_EQ(hand_over(first, &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(hand_over(guest, &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(hand_over(second, &out).ok());
  EXPECT_TRUE(out.on_air());
  EXPECT_FALSE(get(first).on_air());
  // Turning to the floor leaves the booth; the first is then alone in it, on standby until the
  // one on air leaves.
  v1::LeaveRoomRequest leave;
  leave.set_name(second.name());
  v1::LeaveRoomResponse left;
  ASSERT_TRUE(stub_->LeaveRoom(Context().get(), leave, &left).ok());
  EXPECT_TRUE(get(first).on_air());         // the partner took over
  EXPECT_FALSE(speak(first, "").on_air());  // the floor: no booth
  EXPECT_EQ(hand_over(first, &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  // The events: on air (first), hand-over (second, previous first), take-over (first).
  std::vector<v1::RoomEvent::InterpreterOnAir> on_air;
  v1::RoomEvent event;
  while (on_air.size() < 3 && reader->Read(&event)) {
    if (event.has_interpreter_on_air()) on_air.push_back(event.interpreter_on_air());
  }
  ASSERT_EQ(on_air.size(), 3u);
  EXPECT_EQ(on_air[0].participant(), first.name());
  EXPECT_EQ(on_air[1].participant(), second.name());
  EXPECT_EQ(on_air[1].previous(), first.name());
  EXPECT_EQ(on_air[2].participant(), first.name());
  for (const auto& e : on_air) EXPECT_EQ(e.language(), "ar");
  watch_context.TryCancel();
}

TEST_F(RoomsServiceTest, AParticipantPinsTheSignLanguageInterpreterForItsOwnView) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  v1::Room other_room = CreateRoom(v1::ROOM_KIND_MEETING);
  v1::Participant host = JoinAs(room, v1::ROLE_HOST);
  v1::Participant viewer = JoinAs(room, v1::ROLE_GUEST);
  v1::Participant signer = JoinAs(room, v1::ROLE_GUEST);
  v1::Participant stranger = JoinAs(other_room, v1::ROLE_HOST);
  v1::PinParticipantRequest pin;
  v1::Participant out;
  pin.set_name(viewer.name());
  pin.set_pinned(signer.name());
  ASSERT_TRUE(stub_->PinParticipant(Context().get(), pin, &out).ok());
  EXPECT_EQ(out.pinned_participant(), signer.name());
  // Only the viewer's own view changes.
  v1::GetParticipantRequest get;
  get.set_name(host.name());
  ASSERT_TRUE(stub_->GetParticipant(Context().get(), get, &out).ok());
  EXPECT_TRUE(out.pinned_participant().empty());
  // Nonsense is refused and changes nothing.
  for (const std::string& bad : {viewer.name(), stranger.name(), std::string("signer"),
                                 std::string(5000, 'x'), room.name() + "/participants/"}) {
    pin.set_pinned(bad);
    EXPECT_EQ(stub_->PinParticipant(Context().get(), pin, &out).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << bad.substr(0, 40);
  }
  pin.set_pinned(room.name() + "/participants/nobody");
  EXPECT_EQ(stub_->PinParticipant(Context().get(), pin, &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
  pin.set_name(room.name() + "/participants/nobody");
  pin.set_pinned(signer.name());
  EXPECT_EQ(stub_->PinParticipant(Context().get(), pin, &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
  get.set_name(viewer.name());
  ASSERT_TRUE(stub_->GetParticipant(Context().get(), get, &out).ok());
  EXPECT_EQ(out.pinned_participant(), signer.name());

  // The pin ends when the pinned participant leaves, with an event for the viewer. The leave
  // waits for the watcher's snapshot (one event per participant): only then is the watcher
  // registered, and the event cannot be missed. The deadline keeps a failure from hanging.
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::WatchRoomRequest watch;
  watch.set_name(room.name());
  watch.set_include_snapshot(true);
  auto reader = stub_->WatchRoom(&watch_context, watch);
  v1::RoomEvent snapshot;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(reader->Read(&snapshot));
  v1::LeaveRoomRequest leave;
  leave.set_name(signer.name());
  v1::LeaveRoomResponse left;
  ASSERT_TRUE(stub_->LeaveRoom(Context().get(), leave, &left).ok());
  ASSERT_TRUE(stub_->GetParticipant(Context().get(), get, &out).ok());
  EXPECT_TRUE(out.pinned_participant().empty());
  bool unpinned = false;
  v1::RoomEvent event;
  while (!unpinned && reader->Read(&event)) {
    unpinned = event.has_participant_updated() &&
               event.participant_updated().participant().name() == viewer.name() &&
               event.participant_updated().participant().pinned_participant().empty();
  }
  watch_context.TryCancel();
  EXPECT_TRUE(unpinned);
  // Unpinning is always possible.
  pin.set_name(viewer.name());
  pin.set_pinned("");
  EXPECT_TRUE(stub_->PinParticipant(Context().get(), pin, &out).ok());
}

// ----- Issue 18: privacy holes and loose ends -----

// Defect 1 (the media node's side): an endpoint that belongs to nobody in the roster, added
// straight on the media node (admitted, muted: a hidden listener), is removed at the next poll.
TEST_P(RoomsServiceStoreTest, AnEndpointOfNoParticipantIsRemovedFromTheRoomsMedia) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  JoinAs(room, v1::ROLE_HOST);
  JoinAs(room, v1::ROLE_GUEST);
  auto internal = InternalStub();
  chorus::internal::v1::AddEndpointRequest add;
  add.set_parent("sessions/" + room.name().substr(6));
  add.set_endpoint_id("eavesdropper");
  chorus::internal::v1::RemoteStream* stream = add.mutable_endpoint()->add_remote_streams();
  stream->set_kind(chorus::internal::v1::MEDIA_KIND_AUDIO);
  stream->add_codecs()->set_name("opus");
  stream->mutable_codecs(0)->set_payload_type(111);
  stream->set_address("127.0.0.1");
  stream->set_port(50999);
  stream->mutable_key()->set_key_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNk");
  add.mutable_endpoint()->mutable_routing()->set_admitted(true);
  add.mutable_endpoint()->mutable_routing()->set_muted(true);
  chorus::internal::v1::Endpoint added;
  ASSERT_TRUE(internal->AddEndpoint(InternalContext().get(), add, &added).ok());
  service_->PollSpeakers();
  chorus::internal::v1::GetSessionStatsRequest get;
  get.set_name(add.parent());
  chorus::internal::v1::SessionStats stats;
  ASSERT_TRUE(internal->GetSessionStats(InternalContext().get(), get, &stats).ok());
  EXPECT_EQ(stats.endpoints_size(), 2);
  for (const auto& endpoint : stats.endpoints()) {
    EXPECT_EQ(endpoint.endpoint().find("eavesdropper"), std::string::npos);
  }
  EXPECT_EQ(service_->unknown_endpoints_removed(), 1);
}

// Defect 2: the consent rule holds whatever the credential.
TEST_F(RoomsServiceTest, AThirdConsultationParticipantNeedsConsentWhateverTheCredential) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_CONSULTATION, v1::ACCESS_MODE_SHARED_PIN, "", "1357");
  v1::JoinRoomResponse joined;
  ASSERT_TRUE(Join(room, "1357", &joined, true).ok());
  ASSERT_TRUE(Join(room, "1357", &joined, true).ok());
  grpc::Status third = Join(room, "1357", &joined, true);
  EXPECT_EQ(third.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(third.error_message().find("consent"), std::string::npos);
  EXPECT_TRUE(WaitForEvent(room, [](const v1::RoomEvent& event) {
    return event.join_rejected().reason() == v1::REJECT_REASON_CONSENT_REQUIRED;
  }));
  // An invite without a consent reference is no way around it either, and stays unused.
  std::string plain;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &plain).ok());
  EXPECT_EQ(Join(room, plain, &joined).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // With the patient's consent the third participant comes in, and the consent is recorded.
  std::string consented;
  EXPECT_FALSE(Invite(room, v1::ROLE_INTERPRETER, &consented, "consent-4711")
                   .ok());  // an interpreter needs its languages
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &consented, "consent-4711").ok());
  ASSERT_TRUE(Join(room, consented, &joined).ok());
  EXPECT_TRUE(
      WaitForEvent(room, [](const v1::RoomEvent& event) { return event.has_consent_recorded(); }));
  v1::ListParticipantsRequest list;
  list.set_parent(room.name());
  v1::ListParticipantsResponse roster;
  ASSERT_TRUE(stub_->ListParticipants(Context().get(), list, &roster).ok());
  EXPECT_EQ(roster.participants_size(), 3);
}

// Defect 3: a participant whose endpoint sends nothing leaves with MEDIA_TIMEOUT; its one-time
// room ends with it. One that sends stays.
TEST_F(RoomsServiceTest, AParticipantWithoutMediaLeavesAfterTheMediaTimeout) {
  RoomsOptions options;
  options.media_timeout = absl::Seconds(1);
  Start(false, options, /*insecure_media=*/true);
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_ONE_TIME);
  auto join_plain = [&](v1::JoinRoomResponse* out) {
    std::string token;
    EXPECT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
    v1::JoinRoomRequest request;
    request.set_room(room.name());
    request.set_invite_token(token);
    *request.mutable_offer() = Offer(50000);
    request.mutable_offer()->mutable_rtp()->set_transport(v1::TRANSPORT_RTP_INSECURE);
    request.mutable_offer()->mutable_rtp()->mutable_streams(0)->clear_key();
    grpc::Status status = stub_->JoinRoom(Context().get(), request, out);
    EXPECT_TRUE(status.ok()) << status.error_message();
  };
  v1::JoinRoomResponse talker;
  v1::JoinRoomResponse silent;
  join_plain(&talker);
  join_plain(&silent);
  // The talker sends an RTP packet every 100 ms to its endpoint's port.
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(talker.answer().rtp().streams(0).port()));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  uint8_t packet[12 + 3] = {0x80, 111, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0xf8, 0xff, 0xfe};
  v1::GetParticipantRequest get;
  get.set_name(silent.participant().name());
  v1::Participant out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  bool gone = false;
  for (uint16_t sequence = 0; !gone && std::chrono::steady_clock::now() < deadline; ++sequence) {
    packet[2] = static_cast<uint8_t>(sequence >> 8);
    packet[3] = static_cast<uint8_t>(sequence);
    sendto(fd, packet, sizeof(packet), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    service_->PollSpeakers();
    gone = stub_->GetParticipant(Context().get(), get, &out).error_code() ==
           grpc::StatusCode::NOT_FOUND;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(gone);
  EXPECT_TRUE(WaitForEvent(room, [&](const v1::RoomEvent& event) {
    return event.participant_left().participant() == silent.participant().name() &&
           event.participant_left().reason() == v1::LEAVE_REASON_MEDIA_TIMEOUT;
  }));
  get.set_name(talker.participant().name());
  EXPECT_TRUE(stub_->GetParticipant(Context().get(), get, &out).ok());
  // Once the talker stops too, the one-time room ends with its last participant.
  bool closed = false;
  v1::GetRoomRequest get_room;
  get_room.set_name(room.name());
  v1::Room now;
  while (!closed && std::chrono::steady_clock::now() < deadline + std::chrono::seconds(5)) {
    service_->PollSpeakers();
    closed =
        stub_->GetRoom(Context().get(), get_room, &now).error_code() == grpc::StatusCode::NOT_FOUND;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  close(fd);
  EXPECT_TRUE(closed);
  EXPECT_EQ(engine_->session_count(), 0);
}

// Defects 4 and 6: every field has one validation, wherever it arrives.
TEST_F(RoomsServiceTest, EveryRoomFieldIsCheckedTheSameInCreateAndUpdate) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  auto update = [&](const std::function<void(v1::Room*)>& set, const std::string& path) {
    v1::UpdateRoomRequest request;
    *request.mutable_room() = room;
    set(request.mutable_room());
    request.mutable_update_mask()->add_paths(path);
    v1::Room out;
    return stub_->UpdateRoom(Context().get(), request, &out).error_code();
  };
  auto create = [&](const std::function<void(v1::Room*)>& set) {
    v1::CreateRoomRequest request;
    request.mutable_room()->set_kind(v1::ROOM_KIND_MEETING);
    set(request.mutable_room());
    v1::Room out;
    return stub_->CreateRoom(Context().get(), request, &out).error_code();
  };
  const std::vector<std::pair<std::string, std::function<void(v1::Room*)>>> bad = {
      {"idle_timeout", [](v1::Room* r) { r->mutable_idle_timeout()->set_seconds(400 * 86400); }},
      {"idle_timeout", [](v1::Room* r) { r->mutable_idle_timeout()->set_seconds(-5); }},
      {"idle_timeout", [](v1::Room* r) { r->mutable_idle_timeout()->set_nanos(-1); }},
      {"layout_policy",
       [](v1::Room* r) { r->mutable_layout_policy()->set_mode(v1::LayoutPolicy::Mode(99)); }},
      {"layout_policy",
       [](v1::Room* r) { r->mutable_layout_policy()->set_mode(v1::LayoutPolicy::Mode(-7)); }},
      {"floor_level_db", [](v1::Room* r) { r->set_floor_level_db(6); }},
      {"max_participants", [](v1::Room* r) { r->set_max_participants(1'000'000); }},
      {"admission", [](v1::Room* r) { r->set_admission(v1::AdmissionPolicy(42)); }},
      {"languages", [](v1::Room* r) { r->add_languages(std::string(100'000, 'x')); }},
  };
  for (const auto& [path, set] : bad) {
    EXPECT_EQ(update(set, path), grpc::StatusCode::INVALID_ARGUMENT) << path;
    EXPECT_EQ(create(set), grpc::StatusCode::INVALID_ARGUMENT) << path;
  }
  EXPECT_EQ(create([](v1::Room* r) { r->set_access_mode(v1::AccessMode(99)); }),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(
      update([](v1::Room* r) { r->mutable_idle_timeout()->set_seconds(3600); }, "idle_timeout"),
      grpc::StatusCode::OK);
  v1::GetRoomRequest get;
  get.set_name(room.name());
  v1::Room now;
  ASSERT_TRUE(stub_->GetRoom(Context().get(), get, &now).ok());
  EXPECT_EQ(now.idle_timeout().seconds(), 3600);
  EXPECT_EQ(now.layout_policy().mode(), room.layout_policy().mode());
}

// Defects 5 and 6: oversized and nonsense values are refused with a short message that does not
// echo them; the offer's shape is checked before anything is reserved.
TEST_F(RoomsServiceTest, NonsenseIsRefusedWithShortMessagesThatDoNotEchoIt) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  const std::string huge(100'000, 'Z');
  auto expect_refused = [&](grpc::Status status, const char* what) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << what;
    EXPECT_LE(status.error_message().size(), 256u) << what;
    EXPECT_EQ(status.error_message().find("ZZZZZZZZZZZZZZZZZZZZZZZZZZZ"), std::string::npos)
        << what;
  };
  v1::UpdateRoomRequest update;
  *update.mutable_room() = room;
  update.mutable_update_mask()->add_paths(huge);
  v1::Room out;
  expect_refused(stub_->UpdateRoom(Context().get(), update, &out), "mask path");

  std::string token;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
  auto join_with = [&](const std::function<void(v1::StreamOffer*)>& spoil) {
    v1::JoinRoomRequest request;
    request.set_room(room.name());
    request.set_invite_token(token);
    *request.mutable_offer() = Offer(50000);
    spoil(request.mutable_offer()->mutable_rtp()->mutable_streams(0));
    v1::JoinRoomResponse joined;
    return stub_->JoinRoom(Context().get(), request, &joined);
  };
  expect_refused(join_with([&](v1::StreamOffer* s) { s->mutable_codecs(0)->set_fmtp(huge); }),
                 "fmtp");
  expect_refused(join_with([&](v1::StreamOffer* s) {
                   auto* e = s->add_header_extensions();
                   e->set_id(1);
                   e->set_uri(huge);
                 }),
                 "extension uri");
  expect_refused(join_with([](v1::StreamOffer* s) {
                   for (int i = 0; i < 1000; ++i) {
                     auto* e = s->add_header_extensions();
                     e->set_id(0);
                     e->set_uri("urn:ietf:params:rtp-hdrext:ssrc-audio-level");
                   }
                 }),
                 "1000 extensions with id 0");
  expect_refused(join_with([](v1::StreamOffer* s) { s->set_kind(v1::MediaKind(77)); }), "kind");
  expect_refused(
      join_with([](v1::StreamOffer* s) { s->mutable_key()->set_suite(v1::SrtpSuite(-3)); }),
      "suite");
  expect_refused(join_with([&](v1::StreamOffer* s) { s->set_address(huge); }), "address");
  // The invite was not spent by any of these.
  v1::JoinRoomResponse joined;
  EXPECT_TRUE(join_with([](v1::StreamOffer*) {}).ok());

  v1::CreateInviteRequest invite;
  invite.set_parent(room.name());
  invite.mutable_invite()->set_role(v1::ROLE_GUEST);
  invite.mutable_invite()->set_consent_reference(std::string("ref\0with-nul", 12));
  v1::CreateInviteResponse created;
  expect_refused(stub_->CreateInvite(Context().get(), invite, &created), "NUL in consent");
  invite.mutable_invite()->set_consent_reference(
      "ref\x07"
      "bell");
  expect_refused(stub_->CreateInvite(Context().get(), invite, &created), "BEL in consent");
  invite.mutable_invite()->clear_consent_reference();
  invite.mutable_invite()->mutable_ttl()->set_seconds(3600);
  invite.mutable_invite()->mutable_ttl()->set_nanos(-5);
  expect_refused(stub_->CreateInvite(Context().get(), invite, &created), "negative nanos");
  invite.mutable_invite()->mutable_ttl()->set_nanos(0);
  invite.mutable_invite()->set_role(v1::Role(12));
  expect_refused(stub_->CreateInvite(Context().get(), invite, &created), "role 12");
}

// Defect 8: wrong PINs lock out their source after 5; the room only after 20 from anyone.
TEST_P(RoomsServiceStoreTest, WrongPinsLockOutTheirSourceFirstAndTheRoomOnlyAfterMany) {
  RoomsOptions options;
  options.pin_attempts_per_source = 5;
  options.pin_attempts_per_room = 20;
  Start(false, options);
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN, "", "97531");
  auto join_from = [&](const std::string& address, const std::string& pin) {
    v1::JoinRoomRequest request;
    request.set_room(room.name());
    request.set_pin(pin);
    request.set_client_address(address);
    *request.mutable_offer() = Offer(50000);
    v1::JoinRoomResponse joined;
    return stub_->JoinRoom(Context().get(), request, &joined);
  };
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(join_from("198.51.100.7", "11111").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  // The guesser is locked out, even with the right PIN; everyone else still gets in.
  grpc::Status guesser = join_from("198.51.100.7", "97531");
  EXPECT_EQ(guesser.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(guesser.error_message().find("client address"), std::string::npos);
  EXPECT_TRUE(join_from("203.0.113.20", "97531").ok());
  EXPECT_TRUE(join_from("", "97531").ok());
  // Guessing spread over many addresses locks the room after 20 wrong PINs in all.
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(join_from("192.0.2." + std::to_string(i), "22222").error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  grpc::Status room_locked = join_from("203.0.113.21", "97531");
  EXPECT_EQ(room_locked.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(room_locked.error_message().find("for this room"), std::string::npos);
  // Four lockout events (the source's, the guesser's refused join, the room's, the last refused
  // join), and the address in none of the events.
  int lockouts = 0;
  bool address_seen = false;
  EXPECT_TRUE(WaitForEvent(room, [&](const v1::RoomEvent& event) {
    address_seen |= event.DebugString().find("198.51.100") != std::string::npos;
    lockouts += event.join_rejected().reason() == v1::REJECT_REASON_PIN_LOCKOUT ? 1 : 0;
    return lockouts == 4;
  }));
  EXPECT_FALSE(address_seen);
}

// Defect 9: when waiting guests get in is a room option; by default the host admits them.
TEST_F(RoomsServiceTest, WaitingGuestsGetInWhenTheHostArrivesOnlyIfTheRoomSaysSo) {
  Start();
  for (bool on_arrival : {false, true}) {
    v1::CreateRoomRequest request;
    request.mutable_room()->set_kind(v1::ROOM_KIND_CONSULTATION);
    if (on_arrival) request.mutable_room()->set_admission(v1::ADMISSION_POLICY_HOST_ARRIVES);
    v1::Room room;
    ASSERT_TRUE(stub_->CreateRoom(Context().get(), request, &room).ok());
    v1::Participant guest = JoinAs(room, v1::ROLE_GUEST);
    EXPECT_EQ(guest.state(), v1::PARTICIPANT_STATE_WAITING);
    JoinAs(room, v1::ROLE_HOST);
    v1::GetParticipantRequest get;
    get.set_name(guest.name());
    v1::Participant now;
    ASSERT_TRUE(stub_->GetParticipant(Context().get(), get, &now).ok());
    EXPECT_EQ(now.state(),
              on_arrival ? v1::PARTICIPANT_STATE_ADMITTED : v1::PARTICIPANT_STATE_WAITING)
        << "on_arrival " << on_arrival;
  }
}

// Defect 10: a join that fails leaves no media session behind.
TEST_P(RoomsServiceStoreTest, AFailedJoinLeavesNoMediaSessionBehind) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  std::string token;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
  v1::JoinRoomRequest request;
  request.set_room(room.name());
  request.set_invite_token(token);
  *request.mutable_offer() = Offer(50000);
  request.mutable_offer()->mutable_rtp()->mutable_streams(0)->mutable_key()->set_key_base64("!!");
  v1::JoinRoomResponse joined;
  EXPECT_EQ(stub_->JoinRoom(Context().get(), request, &joined).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(engine_->session_count(), 0);
  v1::UpdateRoomRequest update;
  update.mutable_room()->set_name(room.name());
  update.mutable_room()->add_languages("ar");
  update.mutable_update_mask()->add_paths("languages");
  v1::Room updated;
  EXPECT_TRUE(stub_->UpdateRoom(Context().get(), update, &updated).ok());
  // The invite is still usable, and the room's media starts with the next join.
  EXPECT_TRUE(Join(room, token, &joined).ok());
  EXPECT_EQ(engine_->session_count(), 1);
}

// Defect 11: resuming past the last event answers OUT_OF_RANGE; a locked room's refusal of an
// invite names the invite.
TEST_P(RoomsServiceStoreTest, ResumingPastTheLastEventIsOutOfRangeAndRefusalsNameTheirInvite) {
  Start();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  std::string token;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
  v1::LockRoomRequest lock;
  lock.set_name(room.name());
  v1::Room locked;
  ASSERT_TRUE(stub_->LockRoom(Context().get(), lock, &locked).ok());
  v1::JoinRoomResponse joined;
  EXPECT_EQ(Join(room, token, &joined).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  std::string invite_name;
  EXPECT_TRUE(WaitForEvent(room, [&](const v1::RoomEvent& event) {
    invite_name = event.join_rejected().invite();
    return event.join_rejected().reason() == v1::REJECT_REASON_ROOM_LOCKED;
  }));
  EXPECT_TRUE(absl::StartsWith(invite_name, room.name() + "/invites/")) << invite_name;

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::WatchRoomRequest watch;
  watch.set_name(room.name());
  watch.set_resume_after_sequence(1000);
  auto reader = stub_->WatchRoom(&context, watch);
  v1::RoomEvent event;
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
}

// A controller restarted on the same state file: rooms, pending invites, used invites and the
// event history are as they were; nobody is in the rooms.
class RoomsServiceRestartTest : public RoomsServiceTest {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(::testing::TempDir(), "/rooms_restart_",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".db");
    Forget();
  }
  void TearDown() override {
    RoomsServiceTest::TearDown();
    Forget();
  }
  void Forget() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
  }
  void StartOnFile(RoomsOptions options = {}) {
    auto store = MakeSqliteRoomStore(path_, options.now());
    ASSERT_TRUE(store.ok()) << store.status();
    Start(false, options, false, *std::move(store));
  }
  void Restart(RoomsOptions options = {}) {
    Stop();
    StartOnFile(options);
  }
  std::string path_;
};

TEST_F(RoomsServiceRestartTest, APendingInviteStillJoinsAfterARestartAndAUsedOneStaysUsed) {
  StartOnFile();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  std::string used;
  std::string pending;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &used).ok());
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &pending).ok());
  v1::JoinRoomResponse joined;
  ASSERT_TRUE(Join(room, used, &joined).ok());
  EXPECT_EQ(joined.participant().display_name(), "Guest01");

  Restart();
  v1::GetRoomRequest get;
  get.set_name(room.name());
  v1::Room after;
  ASSERT_TRUE(stub_->GetRoom(Context().get(), get, &after).ok());
  EXPECT_EQ(after.kind(), v1::ROOM_KIND_MEETING);
  EXPECT_EQ(after.state(), v1::ROOM_STATE_OPEN);
  // The call ran in the stopped process (its media node was in it, as in `chorusd all`): it did
  // not survive, and its participant left with NODE_FAILED.
  EXPECT_EQ(after.participant_count(), 0);
  EXPECT_TRUE(WaitForEvent(room, [](const v1::RoomEvent& event) {
    return event.participant_left().reason() == v1::LEAVE_REASON_NODE_FAILED;
  }));
  EXPECT_EQ(Join(room, used, &joined).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status status = Join(room, pending, &joined);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(joined.participant().display_name(), "Guest02");  // names go on where they were

  Restart();
  EXPECT_EQ(Join(room, pending, &joined).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(RoomsServiceRestartTest, PinsAndTheirLockoutOutlastARestart) {
  auto now = std::make_shared<absl::Time>(absl::FromUnixSeconds(1'800'000'000));
  RoomsOptions options;
  options.pin_attempts_per_room = 3;
  options.now = [now] { return *now; };
  StartOnFile(options);
  v1::Room guessed = CreateRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN, "", "2468");
  v1::Room other = CreateRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN, "", "1357");
  v1::JoinRoomResponse joined;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Join(guessed, "0000", &joined, true).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }

  Restart(options);
  // A restart is no way around the lockout, and the PINs are still the ones the rooms were given.
  EXPECT_EQ(Join(guessed, "2468", &joined, true).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Join(other, "0000", &joined, true).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status status = Join(other, "1357", &joined, true);
  EXPECT_TRUE(status.ok()) << status.error_message();
  *now += options.pin_lockout + absl::Seconds(1);
  status = Join(guessed, "2468", &joined, true);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// What the file holds, as another program reads it (the controller stopped).
std::string FileBytes(const std::string& path) {
  std::string bytes;
  for (const char* suffix : {"", "-wal"}) {
    std::FILE* file = std::fopen((path + suffix).c_str(), "rb");
    if (file == nullptr) continue;
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) bytes.append(buffer, n);
    std::fclose(file);
  }
  return bytes;
}

std::vector<std::string> StoredRoomIds(const std::string& path) {
  std::vector<std::string> ids;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_exec(
        db, "SELECT id FROM rooms ORDER BY rowid",
        [](void* out, int, char** values, char**) {
          static_cast<std::vector<std::string>*>(out)->push_back(values[0]);
          return 0;
        },
        &ids, nullptr);
  }
  sqlite3_close(db);
  return ids;
}

TEST_F(RoomsServiceRestartTest, RoomsThatEndedWhileTheControllerWasDownAreDeletedAtStart) {
  auto now = std::make_shared<absl::Time>(absl::FromUnixSeconds(1'800'000'000));
  RoomsOptions options;
  options.now = [now] { return *now; };
  // Two rooms written before rooms had an expire_time: one created 91 days ago, one yesterday.
  {
    auto store = MakeSqliteRoomStore(path_, *now);
    ASSERT_TRUE(store.ok()) << store.status();
    for (auto [id, age] : {std::pair{"legacy-old", absl::Hours(24 * 91)},
                           std::pair{"legacy-new", absl::Hours(24)}}) {
      auto room = std::make_unique<RoomRecord>();
      room->id = id;
      room->room.set_name(absl::StrCat(kRoomsPrefix, id));
      room->room.set_kind(v1::ROOM_KIND_MEETING);
      room->room.mutable_create_time()->set_seconds(absl::ToUnixSeconds(*now - age));
      ASSERT_TRUE((*store)->Insert(std::move(room)));
    }
  }
  StartOnFile(options);
  v1::GetRoomRequest get;
  v1::Room after;
  get.set_name("rooms/legacy-old");
  EXPECT_EQ(stub_->GetRoom(Context().get(), get, &after).error_code(), grpc::StatusCode::NOT_FOUND);
  get.set_name("rooms/legacy-new");
  ASSERT_TRUE(stub_->GetRoom(Context().get(), get, &after).ok());
  EXPECT_EQ(after.expire_time().seconds(),
            absl::ToUnixSeconds(*now - absl::Hours(24) + kMaxRoomLifetime));

  // A room for an hour, with an invite, and a room for 90 days.
  v1::CreateRoomRequest create;
  create.set_room_id("short-room");
  create.mutable_room()->set_kind(v1::ROOM_KIND_CONSULTATION);
  create.mutable_room()->mutable_ttl()->set_seconds(3600);
  v1::Room short_room;
  ASSERT_TRUE(stub_->CreateRoom(Context().get(), create, &short_room).ok());
  v1::CreateInviteRequest invite;
  invite.set_parent(short_room.name());
  invite.mutable_invite()->set_role(v1::ROLE_GUEST);
  invite.mutable_invite()->set_pseudonym("Pseudonym-Kept-Not-Long");
  v1::CreateInviteResponse invited;
  ASSERT_TRUE(stub_->CreateInvite(Context().get(), invite, &invited).ok());
  v1::Room long_room = CreateRoom(v1::ROOM_KIND_MEETING);
  Stop();
  EXPECT_NE(FileBytes(path_).find("Pseudonym-Kept-Not-Long"), std::string::npos);

  // The controller is down while the hour passes; the room is gone when it comes back, and
  // nothing of it is left in the file.
  *now += absl::Hours(2);
  StartOnFile(options);
  get.set_name(short_room.name());
  EXPECT_EQ(stub_->GetRoom(Context().get(), get, &after).error_code(), grpc::StatusCode::NOT_FOUND);
  get.set_name(long_room.name());
  EXPECT_TRUE(stub_->GetRoom(Context().get(), get, &after).ok());
  Stop();
  EXPECT_EQ(StoredRoomIds(path_),
            (std::vector<std::string>{"legacy-new", long_room.name().substr(6)}));
  const std::string bytes = FileBytes(path_);
  EXPECT_EQ(bytes.find("Pseudonym-Kept-Not-Long"), std::string::npos);
  EXPECT_EQ(bytes.find("short-room"), std::string::npos);
  EXPECT_EQ(bytes.find("legacy-old"), std::string::npos);
}

TEST_F(RoomsServiceRestartTest, WatchersResumeAcrossARestartAndClosedRoomsStayClosed) {
  StartOnFile();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  v1::Room gone = CreateRoom(v1::ROOM_KIND_MEETING);
  std::string token;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
  v1::LockRoomRequest lock;
  lock.set_name(room.name());
  v1::Room locked;
  ASSERT_TRUE(stub_->LockRoom(Context().get(), lock, &locked).ok());
  v1::JoinRoomResponse joined;
  EXPECT_EQ(Join(room, token, &joined).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::CloseRoomRequest close;
  close.set_name(gone.name());
  v1::CloseRoomResponse closed;
  ASSERT_TRUE(stub_->CloseRoom(Context().get(), close, &closed).ok());

  Restart();
  v1::GetRoomRequest get;
  get.set_name(gone.name());
  v1::Room after;
  EXPECT_EQ(stub_->GetRoom(Context().get(), get, &after).error_code(), grpc::StatusCode::NOT_FOUND);
  get.set_name(room.name());
  ASSERT_TRUE(stub_->GetRoom(Context().get(), get, &after).ok());
  EXPECT_TRUE(after.locked());
  // The refusal before the restart is still in the history a watcher resumes from.
  EXPECT_TRUE(WaitForEvent(room, [](const v1::RoomEvent& event) {
    return event.join_rejected().reason() == v1::REJECT_REASON_ROOM_LOCKED;
  }));
  // And new events go on from the old sequence.
  v1::UnlockRoomRequest unlock;
  unlock.set_name(room.name());
  ASSERT_TRUE(stub_->UnlockRoom(Context().get(), unlock, &after).ok());
  int64_t last = 0;
  EXPECT_TRUE(WaitForEvent(room, [&](const v1::RoomEvent& event) {
    EXPECT_GT(event.sequence(), last);
    last = event.sequence();
    return event.has_room_unlocked();
  }));
}

// Two controller replicas on one PostgreSQL database, as two `chorusd controller` processes: the
// fixture's service (whose gRPC server also serves the media node) and a second one on a gRPC
// server of its own, reaching the same media node (index 0 for both, as the same --media_nodes
// list gives). Skipped, saying why, only where the PostgreSQL server binaries are not installed.
class RoomsServiceReplicasTest : public RoomsServiceTest {
 protected:
  void SetUp() override {
    std::string why;
    postgres_ = chorus::testing::PostgresServer::Start(&why);
    if (postgres_ == nullptr) {
      if (!chorus::testing::PostgresServer::BinariesPresent()) GTEST_SKIP() << why;
      FAIL() << why;
    }
    url_ = postgres_->NewDatabase();
  }
  void TearDown() override {
    StopSecond();
    Stop();
    postgres_.reset();
  }
  std::unique_ptr<RoomStore> NewStore() {
    auto store = MakePostgresRoomStore(url_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  // Both replicas; with `second_leads` the second one holds the background work.
  void StartBoth(RoomsOptions options = {}, bool second_leads = false) {
    std::unique_ptr<RoomStore> second;
    if (second_leads) {
      second = NewStore();
      ASSERT_NE(second, nullptr);
      ASSERT_TRUE(second->LeadsBackgroundWork());
      ASSERT_TRUE(second->EndSection().ok());
    }
    std::unique_ptr<RoomStore> first = NewStore();
    ASSERT_NE(first, nullptr);
    Start(false, options, false, std::move(first));
    StartSecond(options, std::move(second));
  }
  void StartSecond(RoomsOptions options = {}, std::unique_ptr<RoomStore> store = nullptr) {
    if (store == nullptr) store = NewStore();
    ASSERT_NE(store, nullptr);
    second_ =
        std::make_unique<RoomsService>(*auth_, lifecycle_, nodes_.get(), options, std::move(store));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(second_.get());
    second_server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    second_stub_ = v1::Rooms::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                          grpc::InsecureChannelCredentials()));
  }
  // The second replica ends, as its process would.
  void StopSecond() {
    if (second_) second_->Shutdown();
    if (second_server_) second_server_->Shutdown();
    second_stub_.reset();
    second_server_.reset();
    second_.reset();
  }
  v1::Rooms::Stub& Through(int replica) { return replica == 0 ? *stub_ : *second_stub_; }
  grpc::Status JoinThrough(int replica, const v1::Room& room, const std::string& token,
                           bool pin = false, const std::string& address = "",
                           v1::JoinRoomResponse* out = nullptr) {
    v1::JoinRoomRequest request;
    request.set_room(room.name());
    if (pin) {
      request.set_pin(token);
    } else {
      request.set_invite_token(token);
    }
    request.set_client_address(address);
    *request.mutable_offer() = Offer(50000);
    v1::JoinRoomResponse joined;
    return Through(replica).JoinRoom(Context().get(), request, out != nullptr ? out : &joined);
  }
  // Reads `count` events of a stream (false if it ends first).
  static bool ReadEvents(grpc::ClientReader<v1::RoomEvent>& reader, size_t count,
                         std::vector<v1::RoomEvent>* events) {
    v1::RoomEvent event;
    while (events->size() < count && reader.Read(&event)) events->push_back(event);
    return events->size() == count;
  }
  static std::unique_ptr<grpc::ClientContext> WatchContext() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return context;
  }

  std::unique_ptr<chorus::testing::PostgresServer> postgres_;
  std::string url_;
  std::unique_ptr<RoomsService> second_;
  std::unique_ptr<grpc::Server> second_server_;
  std::unique_ptr<v1::Rooms::Stub> second_stub_;
};

// The issue's first promise: a single-use invite used through both replicas at the same moment
// lets exactly one participant in, every time.
TEST_F(RoomsServiceReplicasTest, AnInviteUsedThroughBothReplicasAtOnceLetsExactlyOneIn) {
  StartBoth();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    std::string token;
    ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
    std::atomic<int> ready{0};
    grpc::Status results[2];
    std::vector<std::thread> racers;
    for (int replica : {0, 1}) {
      racers.emplace_back([&, replica] {
        ++ready;
        while (ready.load() < 2) std::this_thread::yield();
        results[replica] = JoinThrough(replica, room, token);
      });
    }
    for (auto& racer : racers) racer.join();
    const int winners = (results[0].ok() ? 1 : 0) + (results[1].ok() ? 1 : 0);
    EXPECT_EQ(winners, 1) << "round " << round << ": " << results[0].error_message() << " / "
                          << results[1].error_message();
    for (const grpc::Status& result : results) {
      if (!result.ok()) {
        EXPECT_EQ(result.error_code(), grpc::StatusCode::PERMISSION_DENIED);
      }
    }
  }
  // Both replicas list the same roster: one participant per invite.
  for (int replica : {0, 1}) {
    v1::ListParticipantsRequest list;
    list.set_parent(room.name());
    v1::ListParticipantsResponse roster;
    ASSERT_TRUE(Through(replica).ListParticipants(Context().get(), list, &roster).ok());
    EXPECT_EQ(roster.participants_size(), kRounds) << "replica " << replica;
  }
}

// Wrong PINs count once wherever they arrive: five from one address, split between the replicas,
// lock that address out on both; eight in all (this room's limit here) lock every PIN join.
TEST_F(RoomsServiceReplicasTest, WrongPinsSplitBetweenTheReplicasLockOutAsOnOne) {
  RoomsOptions options;
  options.pin_attempts_per_source = 5;
  options.pin_attempts_per_room = 8;
  StartBoth(options);
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN, "", "97531");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(JoinThrough(i % 2, room, "11111", true, "198.51.100.7").error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << i;
  }
  for (int replica : {0, 1}) {
    grpc::Status guesser = JoinThrough(replica, room, "97531", true, "198.51.100.7");
    EXPECT_EQ(guesser.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << replica;
    EXPECT_NE(guesser.error_message().find("client address"), std::string::npos);
  }
  EXPECT_TRUE(JoinThrough(1, room, "97531", true, "203.0.113.20").ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(JoinThrough(i % 2, room, "22222", true, "192.0.2." + std::to_string(i)).error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << i;
  }
  for (int replica : {0, 1}) {
    grpc::Status locked = JoinThrough(replica, room, "97531", true, "203.0.113.21");
    EXPECT_EQ(locked.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << replica;
    EXPECT_NE(locked.error_message().find("for this room"), std::string::npos);
  }
}

// A watcher on one replica sees what happens through the other, in order; a watcher resumes from
// either replica, and from a replica that restarted.
TEST_F(RoomsServiceReplicasTest, AWatcherOnOneReplicaSeesTheOthersEventsAndResumesAnywhere) {
  StartBoth();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  v1::LockRoomRequest lock;
  lock.set_name(room.name());
  v1::Room out;
  ASSERT_TRUE(stub_->LockRoom(Context().get(), lock, &out).ok());  // event 1
  v1::UnlockRoomRequest unlock;
  unlock.set_name(room.name());
  ASSERT_TRUE(stub_->UnlockRoom(Context().get(), unlock, &out).ok());  // event 2

  auto context = WatchContext();
  v1::WatchRoomRequest watch;
  watch.set_name(room.name());
  watch.set_resume_after_sequence(1);
  auto reader = second_stub_->WatchRoom(context.get(), watch);
  v1::Participant host = JoinAs(room, v1::ROLE_HOST);  // through the first replica
  ASSERT_TRUE(second_stub_->LockRoom(Context().get(), lock, &out).ok());
  std::vector<v1::RoomEvent> seen;
  ASSERT_TRUE(ReadEvents(*reader, 3, &seen));
  EXPECT_TRUE(seen[0].has_room_unlocked());
  EXPECT_EQ(seen[1].participant_joined().participant().name(), host.name());
  EXPECT_TRUE(seen[2].has_room_locked());
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].sequence(), 2 + i);
  context->TryCancel();

  auto resume_everywhere = [&](const char* where) {
    for (int replica : {0, 1}) {
      auto resume_context = WatchContext();
      v1::WatchRoomRequest resume;
      resume.set_name(room.name());
      resume.set_resume_after_sequence(2);
      auto resumed = Through(replica).WatchRoom(resume_context.get(), resume);
      std::vector<v1::RoomEvent> again;
      ASSERT_TRUE(ReadEvents(*resumed, 2, &again)) << where << replica;
      EXPECT_EQ(again[0].SerializeAsString(), seen[1].SerializeAsString()) << where << replica;
      EXPECT_EQ(again[1].SerializeAsString(), seen[2].SerializeAsString()) << where << replica;
      resume_context->TryCancel();
    }
  };
  resume_everywhere("running, replica ");
  StopSecond();
  StartSecond();
  resume_everywhere("after the second's restart, replica ");
}

// WatchRooms streams on both replicas carry the same events in the same order with the same
// numbers, whichever replica made them; one resumes through a restarted replica.
TEST_F(RoomsServiceReplicasTest, EveryReplicasWatchRoomsStreamIsTheSameAndResumesAfterARestart) {
  StartBoth();
  v1::Room first = CreateRoom(v1::ROOM_KIND_MEETING);
  v1::Room second = CreateRoom(v1::ROOM_KIND_MEETING);
  v1::LockRoomRequest lock;
  v1::UnlockRoomRequest unlock;
  v1::Room out;
  lock.set_name(first.name());
  unlock.set_name(first.name());
  ASSERT_TRUE(stub_->LockRoom(Context().get(), lock, &out).ok());
  ASSERT_TRUE(stub_->UnlockRoom(Context().get(), unlock, &out).ok());
  // The unlock's stream number, from the room's history: both streams start after it.
  int64_t start = 0;
  ASSERT_TRUE(WaitForEvent(first, [&](const v1::RoomEvent& event) {
    start = event.stream_sequence();
    return event.has_room_unlocked();
  }));
  ASSERT_GT(start, 0);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::RoomEvent>>> readers;
  v1::WatchRoomsRequest all;
  all.set_resume_after_stream_sequence(start);
  for (int replica : {0, 1}) {
    contexts.push_back(WatchContext());
    readers.push_back(Through(replica).WatchRooms(contexts.back().get(), all));
  }
  constexpr size_t kEvents = 20;
  for (size_t i = 0; i < kEvents / 2; ++i) {
    const v1::Room& room = i % 2 == 0 ? first : second;
    lock.set_name(room.name());
    unlock.set_name(room.name());
    ASSERT_TRUE(Through(i % 2).LockRoom(Context().get(), lock, &out).ok());
    ASSERT_TRUE(Through((i + 1) % 2).UnlockRoom(Context().get(), unlock, &out).ok());
  }
  std::vector<v1::RoomEvent> streams[2];
  for (int replica : {0, 1}) ASSERT_TRUE(ReadEvents(*readers[replica], kEvents, &streams[replica]));
  for (size_t i = 0; i < kEvents; ++i) {
    EXPECT_EQ(streams[0][i].SerializeAsString(), streams[1][i].SerializeAsString()) << i;
    EXPECT_EQ(streams[0][i].stream_sequence(), start + 1 + static_cast<int64_t>(i)) << i;
    EXPECT_EQ(streams[0][i].has_room_locked(), i % 2 == 0) << i;
  }
  for (auto& context : contexts) context->TryCancel();

  StopSecond();
  StartSecond();
  auto context = WatchContext();
  all.set_resume_after_stream_sequence(streams[0][kEvents / 2 - 1].stream_sequence());
  auto resumed = second_stub_->WatchRooms(context.get(), all);
  std::vector<v1::RoomEvent> after;
  ASSERT_TRUE(ReadEvents(*resumed, kEvents / 2, &after));
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].SerializeAsString(), streams[0][kEvents / 2 + i].SerializeAsString()) << i;
  }
  context->TryCancel();
}

// One room, whichever replica is asked: its id is taken on both, its participants and its end
// are the same on both.
TEST_F(RoomsServiceReplicasTest, ARoomIsTheSameRoomThroughEitherReplica) {
  StartBoth();
  v1::CreateRoomRequest create;
  create.set_room_id("shared-room");
  create.mutable_room()->set_kind(v1::ROOM_KIND_MEETING);
  v1::Room room;
  ASSERT_TRUE(stub_->CreateRoom(Context().get(), create, &room).ok());
  v1::Room twin;
  EXPECT_EQ(second_stub_->CreateRoom(Context().get(), create, &twin).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  v1::ListRoomsResponse listed;
  ASSERT_TRUE(second_stub_->ListRooms(Context().get(), {}, &listed).ok());
  ASSERT_EQ(listed.rooms_size(), 1);
  EXPECT_EQ(listed.rooms(0).name(), room.name());

  v1::Participant host = JoinAs(room, v1::ROLE_HOST);
  std::string token;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
  v1::JoinRoomResponse guest;
  ASSERT_TRUE(JoinThrough(1, room, token, false, "", &guest).ok());
  EXPECT_EQ(engine_->session_count(), 1);  // one media session for the room
  v1::GetParticipantRequest get;
  get.set_name(host.name());
  v1::Participant seen;
  ASSERT_TRUE(second_stub_->GetParticipant(Context().get(), get, &seen).ok());
  EXPECT_EQ(seen.display_name(), host.display_name());
  v1::MuteParticipantRequest mute;
  mute.set_name(guest.participant().name());
  mute.set_muted(true);
  ASSERT_TRUE(stub_->MuteParticipant(Context().get(), mute, &seen).ok());
  get.set_name(guest.participant().name());
  ASSERT_TRUE(second_stub_->GetParticipant(Context().get(), get, &seen).ok());
  EXPECT_TRUE(seen.muted());

  // Closed through the second replica: gone on the first, its watcher there told and ended.
  auto context = WatchContext();
  v1::WatchRoomRequest watch;
  watch.set_name(room.name());
  watch.set_include_snapshot(true);
  auto reader = stub_->WatchRoom(context.get(), watch);
  std::vector<v1::RoomEvent> snapshot;
  ASSERT_TRUE(ReadEvents(*reader, 2, &snapshot));
  v1::CloseRoomRequest close;
  close.set_name(room.name());
  v1::CloseRoomResponse closed;
  ASSERT_TRUE(second_stub_->CloseRoom(Context().get(), close, &closed).ok());
  std::vector<v1::RoomEvent> last;
  v1::RoomEvent event;
  while (reader->Read(&event)) last.push_back(event);
  EXPECT_TRUE(reader->Finish().ok());
  ASSERT_FALSE(last.empty());
  EXPECT_TRUE(last.back().has_room_closed());
  v1::GetRoomRequest get_room;
  get_room.set_name(room.name());
  EXPECT_EQ(stub_->GetRoom(Context().get(), get_room, &twin).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(engine_->session_count(), 0);
}

// The housekeeping runs on one replica at a time; when that one ends, another takes it over.
TEST_F(RoomsServiceReplicasTest, OneReplicaAtATimeClosesIdleRoomsAndAnotherTakesOver) {
  auto time = std::make_shared<FakeTime>();
  RoomsOptions options;
  options.now = [time] { return time->Now(); };
  options.default_idle_timeout = absl::Minutes(10);
  StartBoth(options, /*second_leads=*/true);
  auto idle_room = [&] {
    v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
    LeaveRoom(JoinAs(room, v1::ROLE_GUEST));
    return room;
  };
  auto exists = [&](const v1::Room& room) {
    v1::GetRoomRequest get;
    get.set_name(room.name());
    v1::Room out;
    return stub_->GetRoom(Context().get(), get, &out).ok();
  };
  v1::Room room = idle_room();
  time->Advance(absl::Minutes(11));
  service_->Sweep();  // not the leader: nothing happens
  EXPECT_TRUE(exists(room));
  second_->Sweep();
  EXPECT_FALSE(exists(room));

  v1::Room next = idle_room();
  time->Advance(absl::Minutes(11));
  StopSecond();  // its connection, and its lock, end with it (once the server has seen it end)
  for (int i = 0; i < 100 && exists(next); ++i) {
    service_->Sweep();  // as chorusd does every second
    if (exists(next)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(exists(next));
}

// The database failing is not an answer about the room: calls say UNAVAILABLE (never NOT_FOUND,
// never OK for a change that was not kept), an invite whose creation was not kept gives no
// token, and once the database is back everything is as it was.
TEST_F(RoomsServiceReplicasTest, WhenTheDatabaseFailsCallsSaySoAndKeepNothing) {
  Start(false, {}, false, NewStore());
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  v1::LockRoomRequest lock;
  lock.set_name(room.name());
  v1::Room out;
  // The rooms table gone: nothing can be read.
  ASSERT_EQ(chorus::testing::PostgresServer::Sql(url_, "ALTER TABLE chorus_rooms RENAME TO away"),
            "");
  v1::GetRoomRequest get;
  get.set_name(room.name());
  EXPECT_EQ(stub_->GetRoom(Context().get(), get, &out).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(stub_->LockRoom(Context().get(), lock, &out).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  v1::CreateRoomRequest create;
  create.mutable_room()->set_kind(v1::ROOM_KIND_MEETING);
  EXPECT_EQ(stub_->CreateRoom(Context().get(), create, &out).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  ASSERT_EQ(chorus::testing::PostgresServer::Sql(url_, "ALTER TABLE away RENAME TO chorus_rooms"),
            "");
  // Events refused: a change that publishes one cannot be kept.
  ASSERT_EQ(chorus::testing::PostgresServer::Sql(
                url_, "ALTER TABLE chorus_events ADD CONSTRAINT no_events CHECK (sequence < 0)"),
            "");
  EXPECT_EQ(stub_->LockRoom(Context().get(), lock, &out).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  ASSERT_EQ(chorus::testing::PostgresServer::Sql(url_,
                                                 "ALTER TABLE chorus_rooms ADD CONSTRAINT "
                                                 "no_writes CHECK (version < 2)"),
            "");
  v1::CreateInviteRequest invite;
  invite.set_parent(room.name());
  invite.mutable_invite()->set_role(v1::ROLE_GUEST);
  v1::CreateInviteResponse invited;
  EXPECT_EQ(stub_->CreateInvite(Context().get(), invite, &invited).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(invited.token().empty());
  ASSERT_EQ(
      chorus::testing::PostgresServer::Sql(url_,
                                           "ALTER TABLE chorus_events DROP CONSTRAINT no_events; "
                                           "ALTER TABLE chorus_rooms DROP CONSTRAINT no_writes"),
      "");
  ASSERT_TRUE(stub_->GetRoom(Context().get(), get, &out).ok());
  EXPECT_FALSE(out.locked());
  v1::ListInvitesRequest list;
  list.set_parent(room.name());
  v1::ListInvitesResponse invites;
  ASSERT_TRUE(stub_->ListInvites(Context().get(), list, &invites).ok());
  EXPECT_EQ(invites.invites_size(), 0);
  ASSERT_TRUE(stub_->LockRoom(Context().get(), lock, &out).ok());
  EXPECT_TRUE(out.locked());
}

// The database restarts (an upgrade, a failover): both replicas connect again by themselves,
// their listeners too, and go on where they were.
TEST_F(RoomsServiceReplicasTest, BothReplicasGoOnAfterTheDatabaseRestarts) {
  StartBoth();
  v1::Room room = CreateRoom(v1::ROOM_KIND_MEETING);
  v1::LockRoomRequest lock;
  lock.set_name(room.name());
  v1::UnlockRoomRequest unlock;
  unlock.set_name(room.name());
  v1::Room out;
  ASSERT_TRUE(stub_->LockRoom(Context().get(), lock, &out).ok());
  ASSERT_TRUE(stub_->UnlockRoom(Context().get(), unlock, &out).ok());
  auto context = WatchContext();
  v1::WatchRoomRequest watch;
  watch.set_name(room.name());
  watch.set_resume_after_sequence(1);
  auto reader = second_stub_->WatchRoom(context.get(), watch);
  std::vector<v1::RoomEvent> seen;
  ASSERT_TRUE(ReadEvents(*reader, 1, &seen));  // the unlock: the watcher is in

  ASSERT_TRUE(postgres_->Restart());
  ASSERT_TRUE(stub_->LockRoom(Context().get(), lock, &out).ok());
  ASSERT_TRUE(ReadEvents(*reader, 2, &seen));  // through the second's new listening connection
  EXPECT_TRUE(seen[1].has_room_locked());
  EXPECT_EQ(seen[1].sequence(), 3);
  v1::JoinRoomResponse joined;
  std::string token;
  ASSERT_TRUE(Invite(room, v1::ROLE_GUEST, &token).ok());
  ASSERT_TRUE(second_stub_->UnlockRoom(Context().get(), unlock, &out).ok());
  grpc::Status status = JoinThrough(1, room, token, false, "", &joined);
  EXPECT_TRUE(status.ok()) << status.error_message();
  context->TryCancel();
}

}  // namespace
}  // namespace chorus::controller
