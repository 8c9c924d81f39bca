// The join flow alone: a room kept by a fake store, a fake media client, a fake clock. No gRPC,
// no sockets, no threads.
#include "services/controller/join_flow.h"

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;
namespace internal = chorus::internal::v1;

// Rooms by name, each Update one section; a failing store keeps none of a section's changes
// (as a shared store whose commit failed: it forgets its copy and reads the last kept one).
class FakeRooms final : public RoomSections {
 public:
  absl::Status Update(const std::string& room_name, const Change& change) override {
    auto it = rooms_.find(room_name);
    RoomRecord* room = it == rooms_.end() ? nullptr : &it->second;
    const RoomRecord before = room != nullptr ? *room : RoomRecord();
    rules::Events events;
    const absl::Status changed = change(room, absl::NotFoundError("no such room"), &events);
    if (store_fails_) {
      if (room != nullptr) *room = before;
      return changed.ok() ? absl::UnavailableError("the change could not be kept") : changed;
    }
    for (v1::RoomEvent& event : events) published_.push_back(std::move(event));
    return changed;
  }

  void Add(RoomRecord room) { rooms_[room.room.name()] = std::move(room); }
  void Remove(const std::string& name) { rooms_.erase(name); }
  RoomRecord& room(const std::string& name) { return rooms_.at(name); }
  void SetStoreFails(bool fails) { store_fails_ = fails; }
  const std::vector<v1::RoomEvent>& published() const { return published_; }

 private:
  std::map<std::string, RoomRecord> rooms_;
  bool store_fails_ = false;
  std::vector<v1::RoomEvent> published_;
};

// One media node that records what it is asked and fails the calls a test names.
class FakeMedia final : public MediaClient {
 public:
  size_t NodeCount() const override { return 1; }
  absl::StatusOr<size_t> PlaceRoom() override {
    calls_.push_back("PlaceRoom");
    if (!place_.ok()) return place_;
    return 0;
  }
  std::string NodeAddress(size_t) const override { return "node-0:7000"; }
  std::string NodeId(size_t) const override { return "n0"; }
  absl::Status CreateSession(size_t, const std::string& room_id,
                             const std::vector<std::string>&) override {
    calls_.push_back("CreateSession " + room_id);
    if (create_.ok()) sessions_[room_id];
    return create_;
  }
  absl::Status DeleteSession(size_t, const std::string& room_id) override {
    calls_.push_back("DeleteSession " + room_id);
    return sessions_.erase(room_id) > 0 ? absl::OkStatus() : absl::NotFoundError("no session");
  }
  absl::Status SetLayout(size_t, const std::string& room_id, const v1::LayoutPolicy&) override {
    calls_.push_back("SetLayout " + room_id);
    return absl::OkStatus();
  }
  absl::StatusOr<internal::SessionStats> GetSessionStats(size_t, const std::string&) override {
    return internal::SessionStats();
  }
  absl::StatusOr<internal::ListSessionsResponse> ListSessions(size_t) override {
    return internal::ListSessionsResponse();
  }
  absl::StatusOr<internal::Endpoint> AddEndpoint(size_t, const std::string& room_id,
                                                 const std::string& participant,
                                                 const internal::Endpoint& endpoint) override {
    calls_.push_back("AddEndpoint " + room_id + "/" + participant);
    if (on_add_) on_add_();
    if (!add_.ok()) return add_;
    sessions_[room_id].push_back(participant);
    internal::Endpoint answer;
    answer.set_name("sessions/" + room_id + "/endpoints/" + participant);
    answer.set_transport(endpoint.transport());
    internal::LocalStream* stream = answer.add_local_streams();
    stream->set_kind(internal::MEDIA_KIND_AUDIO);
    stream->set_port(40000);
    return answer;
  }
  absl::Status RemoveEndpoint(size_t, const std::string& room_id,
                              const std::string& participant) override {
    calls_.push_back("RemoveEndpoint " + room_id + "/" + participant);
    return absl::OkStatus();
  }
  absl::Status RemoveEndpointNamed(size_t, const std::string& name) override {
    calls_.push_back("RemoveEndpointNamed " + name);
    return absl::OkStatus();
  }
  absl::Status RequestKeyframe(size_t, const std::string& room_id,
                               const std::string& participant) override {
    calls_.push_back("RequestKeyframe " + room_id + "/" + participant);
    return absl::OkStatus();
  }
  absl::Status UpdateRouting(size_t, const std::string& room_id, const std::string& participant,
                             const internal::Routing&, const std::vector<std::string>&) override {
    calls_.push_back("UpdateRouting " + room_id + "/" + participant);
    return absl::OkStatus();
  }
  absl::StatusOr<internal::Endpoint> Renegotiate(size_t, const std::string&, const std::string&,
                                                 const internal::Endpoint&) override {
    return absl::UnimplementedError("not in these tests");
  }

  void FailPlacement(absl::Status status) { place_ = std::move(status); }
  void FailCreateSession(absl::Status status) { create_ = std::move(status); }
  void FailAddEndpoint(absl::Status status) { add_ = std::move(status); }
  // Runs while the node sets up an endpoint (something else happening to the room meanwhile).
  void OnAddEndpoint(std::function<void()> hook) { on_add_ = std::move(hook); }
  const std::vector<std::string>& calls() const { return calls_; }
  // The sessions the node runs, with their endpoints.
  const std::map<std::string, std::vector<std::string>>& sessions() const { return sessions_; }

 private:
  absl::Status place_;
  absl::Status create_;
  absl::Status add_;
  std::function<void()> on_add_;
  std::vector<std::string> calls_;
  std::map<std::string, std::vector<std::string>> sessions_;
};

constexpr char kRoom[] = "rooms/r1";
const std::string kToken = std::string(32, 'a');  // an invite token's hash, as the rules see it

class JoinFlowTest : public ::testing::Test {
 protected:
  JoinFlowTest()
      : flow_(
            &rooms_, &media_, &metrics_, [this] { return now_; }, PinPolicy(),
            // A PIN's "hash" here is the PIN behind a prefix: the flow never looks inside.
            [](const std::string& hash, const std::string& pin) {
              return !hash.empty() && hash == "pin:" + pin;
            }) {
    // A meeting without a lobby, with one guest invite, on no media node yet.
    RoomRecord room;
    room.id = "r1";
    room.room.set_name(kRoom);
    room.room.set_kind(v1::ROOM_KIND_MEETING);
    room.room.set_access_mode(v1::ACCESS_MODE_INVITE_ONLY);
    room.room.set_state(v1::ROOM_STATE_OPEN);
    room.room.set_max_participants(10);
    room.room.set_lobby_enabled(false);
    *room.room.mutable_create_time() = rules::ToTimestamp(now_);
    *room.room.mutable_expire_time() = rules::ToTimestamp(now_ + absl::Hours(24 * 30));
    room.empty_since = now_;
    RoomRecord::Invite invite;
    invite.invite.set_name("rooms/r1/invites/i1");
    invite.invite.set_role(v1::ROLE_GUEST);
    invite.invite.set_pseudonym("Patient");
    invite.invite.set_state(v1::INVITE_STATE_PENDING);
    *invite.invite.mutable_expire_time() = rules::ToTimestamp(now_ + absl::Hours(24));
    invite.token_hash = kToken;
    room.invites.emplace("i1", std::move(invite));
    room.invite_order.push_back("i1");
    rooms_.Add(std::move(room));
  }

  absl::StatusOr<Joined> Join(const std::string& participant_id,
                              v1::RejectReason* rejected = nullptr) {
    JoinAttempt attempt;
    attempt.room_name = kRoom;
    attempt.request.invite_token_hash = kToken;
    attempt.endpoint.set_transport(internal::TRANSPORT_SRTP);
    internal::RemoteStream* stream = attempt.endpoint.add_remote_streams();
    stream->set_kind(internal::MEDIA_KIND_AUDIO);
    attempt.participant_id = participant_id;
    v1::RejectReason reason = v1::REJECT_REASON_UNSPECIFIED;
    absl::StatusOr<Joined> joined = flow_.Join(std::move(attempt), &reason);
    if (rejected != nullptr) *rejected = reason;
    return joined;
  }

  const v1::Invite& invite() { return rooms_.room(kRoom).invites.at("i1").invite; }

  // 3 wrong PINs from one address lock it out, 10 from anyone lock the room, for 10 minutes.
  static rules::PinPolicy PinPolicy() {
    rules::PinPolicy policy;
    policy.attempts_per_source = 3;
    policy.attempts_per_room = 10;
    return policy;
  }

  // The room becomes a HOST_PIN room with host PIN 1111 and guest PIN 2222.
  void UsePins() {
    RoomRecord& room = rooms_.room(kRoom);
    room.room.set_access_mode(v1::ACCESS_MODE_HOST_PIN);
    room.host_pin_hash = "pin:1111";
    room.guest_pin_hash = "pin:2222";
  }

  absl::StatusOr<Joined> JoinByPin(const std::string& participant_id, const std::string& pin,
                                   const std::string& source = "address-1") {
    JoinAttempt attempt;
    attempt.room_name = kRoom;
    attempt.pin = pin;
    attempt.source = source;
    attempt.endpoint.set_transport(internal::TRANSPORT_SRTP);
    attempt.endpoint.add_remote_streams()->set_kind(internal::MEDIA_KIND_AUDIO);
    attempt.participant_id = participant_id;
    v1::RejectReason rejected = v1::REJECT_REASON_UNSPECIFIED;
    return flow_.Join(std::move(attempt), &rejected);
  }

  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  FakeRooms rooms_;
  FakeMedia media_;
  ControllerMetrics metrics_;
  JoinFlow flow_;
};

TEST_F(JoinFlowTest, AnInvitedGuestJoinsWithTheNodesAnswerAndIsAnnounced) {
  absl::StatusOr<Joined> joined = Join("p1");
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(joined->participant.name(), "rooms/r1/participants/p1");
  EXPECT_EQ(joined->participant.display_name(), "Patient");
  EXPECT_EQ(joined->participant.state(), v1::PARTICIPANT_STATE_ADMITTED);
  ASSERT_EQ(joined->answer.local_streams_size(), 1);
  EXPECT_EQ(joined->answer.local_streams(0).port(), 40000u);

  // The room was placed, its session created and laid out, then the endpoint added.
  EXPECT_EQ(media_.calls(), (std::vector<std::string>{"PlaceRoom", "CreateSession r1",
                                                      "SetLayout r1", "AddEndpoint r1/p1"}));
  const RoomRecord& room = rooms_.room(kRoom);
  EXPECT_EQ(room.node, 0);
  EXPECT_EQ(room.room.media_node(), "node-0:7000");
  EXPECT_TRUE(room.session_ready);
  EXPECT_FALSE(room.participants.at("p1").pending);
  EXPECT_EQ(room.room.state(), v1::ROOM_STATE_ACTIVE);
  EXPECT_EQ(invite().state(), v1::INVITE_STATE_USED);
  ASSERT_EQ(rooms_.published().size(), 1u);
  EXPECT_EQ(rooms_.published()[0].participant_joined().participant().name(),
            "rooms/r1/participants/p1");
}

TEST_F(JoinFlowTest, AMediaFailureLeavesNothingBehindAndTheInviteWorksAgain) {
  media_.FailAddEndpoint(absl::UnavailableError("the node is gone"));
  absl::StatusOr<Joined> joined = Join("p1");
  EXPECT_EQ(joined.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(joined.status().message(), "the node is gone");

  // No participant, the invite pending again, the empty session deleted, the room on no node.
  const RoomRecord& room = rooms_.room(kRoom);
  EXPECT_TRUE(room.participants.empty());
  EXPECT_EQ(invite().state(), v1::INVITE_STATE_PENDING);
  EXPECT_EQ(room.node, -1);
  EXPECT_TRUE(room.room.media_node().empty());
  EXPECT_TRUE(media_.sessions().empty());
  EXPECT_EQ(media_.calls().back(), "DeleteSession r1");
  EXPECT_TRUE(rooms_.published().empty());  // nobody was announced

  // The same invite lets its holder in once the media works.
  media_.FailAddEndpoint(absl::OkStatus());
  joined = Join("p2");
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(invite().state(), v1::INVITE_STATE_USED);
  EXPECT_EQ(rooms_.room(kRoom).participants.size(), 1u);
}

TEST_F(JoinFlowTest, ASessionTheNodeCannotCreateUndoesTheReservation) {
  media_.FailCreateSession(absl::ResourceExhaustedError("node full"));
  absl::StatusOr<Joined> joined = Join("p1");
  EXPECT_EQ(joined.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(rooms_.room(kRoom).participants.empty());
  EXPECT_EQ(invite().state(), v1::INVITE_STATE_PENDING);
  EXPECT_EQ(rooms_.room(kRoom).node, -1);
  for (const std::string& call : media_.calls()) {
    EXPECT_NE(call.rfind("AddEndpoint", 0), 0u) << "no endpoint without a session";
  }
}

TEST_F(JoinFlowTest, AReservationTheStoreCannotKeepSetsUpNoMedia) {
  rooms_.SetStoreFails(true);
  absl::StatusOr<Joined> joined = Join("p1");
  EXPECT_EQ(joined.status().code(), absl::StatusCode::kUnavailable);
  // Placement may have asked the nodes, but no session or endpoint was set up.
  EXPECT_EQ(media_.calls(), std::vector<std::string>{"PlaceRoom"});
  EXPECT_TRUE(media_.sessions().empty());
  EXPECT_TRUE(rooms_.room(kRoom).participants.empty());
  EXPECT_EQ(invite().state(), v1::INVITE_STATE_PENDING);

  // Once the store keeps changes again, the invite still works.
  rooms_.SetStoreFails(false);
  ASSERT_TRUE(Join("p2").ok());
  EXPECT_EQ(invite().state(), v1::INVITE_STATE_USED);
}

TEST_F(JoinFlowTest, AUsedInviteIsRefusedWithItsReasonAndTouchesNoMedia) {
  ASSERT_TRUE(Join("p1").ok());
  const size_t calls = media_.calls().size();
  v1::RejectReason rejected = v1::REJECT_REASON_UNSPECIFIED;
  absl::StatusOr<Joined> again = Join("p2", &rejected);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(rejected, v1::REJECT_REASON_INVITE_ALREADY_USED);
  EXPECT_EQ(media_.calls().size(), calls);
  ASSERT_FALSE(rooms_.published().empty());
  EXPECT_EQ(rooms_.published().back().join_rejected().reason(),
            v1::REJECT_REASON_INVITE_ALREADY_USED);
  EXPECT_EQ(rooms_.published().back().join_rejected().invite(), "rooms/r1/invites/i1");
}

TEST_F(JoinFlowTest, NoNodeForTheRoomRefusesBeforeTheInviteIsUsed) {
  media_.FailPlacement(absl::ResourceExhaustedError("no media node can take a room now"));
  absl::StatusOr<Joined> joined = Join("p1");
  EXPECT_EQ(joined.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(invite().state(), v1::INVITE_STATE_PENDING);
  EXPECT_EQ(media_.calls(), std::vector<std::string>{"PlaceRoom"});
}

TEST_F(JoinFlowTest, AnUnknownRoomIsNotFound) {
  JoinAttempt attempt;
  attempt.room_name = "rooms/nowhere";
  attempt.participant_id = "p1";
  v1::RejectReason rejected = v1::REJECT_REASON_UNSPECIFIED;
  EXPECT_EQ(flow_.Join(std::move(attempt), &rejected).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(media_.calls().empty());
}

TEST_F(JoinFlowTest, APinGivesItsRoleAndWrongOnesLockTheAddressOut) {
  UsePins();
  absl::StatusOr<Joined> host = JoinByPin("p1", "1111");
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(host->participant.role(), v1::ROLE_HOST);

  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(JoinByPin("px", "9999").status().code(), absl::StatusCode::kPermissionDenied);
  }
  // Locked out: even the right PIN is refused from that address, and nothing reaches the media.
  const size_t calls = media_.calls().size();
  absl::StatusOr<Joined> locked = JoinByPin("p2", "2222");
  EXPECT_EQ(locked.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(media_.calls().size(), calls);
  EXPECT_EQ(rooms_.published().back().join_rejected().reason(), v1::REJECT_REASON_PIN_LOCKOUT);
  // Another address still joins, as a guest.
  absl::StatusOr<Joined> guest = JoinByPin("p3", "2222", "address-2");
  ASSERT_TRUE(guest.ok()) << guest.status();
  EXPECT_EQ(guest->participant.role(), v1::ROLE_GUEST);
  // And the lockout ends.
  now_ += absl::Minutes(11);
  EXPECT_TRUE(JoinByPin("p4", "2222").ok());
}

TEST_F(JoinFlowTest, AGuestWaitsForTheHostWhoseArrivalAdmitsThem) {
  UsePins();
  rooms_.room(kRoom).room.set_admission(v1::ADMISSION_POLICY_HOST_ARRIVES);
  absl::StatusOr<Joined> guest = JoinByPin("p1", "2222");
  ASSERT_TRUE(guest.ok()) << guest.status();
  EXPECT_EQ(guest->participant.state(), v1::PARTICIPANT_STATE_WAITING);
  EXPECT_TRUE(rooms_.published().back().has_participant_waiting());

  absl::StatusOr<Joined> host = JoinByPin("p2", "1111");
  ASSERT_TRUE(host.ok()) << host.status();
  // The host is announced, then the guest's admission, and the node lets the guest's media in.
  const std::vector<v1::RoomEvent>& events = rooms_.published();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2].participant_joined().participant().name(),
            "rooms/r1/participants/p2");
  EXPECT_EQ(events.back().participant_admitted().participant().name(), "rooms/r1/participants/p1");
  EXPECT_EQ(media_.calls().back(), "UpdateRouting r1/p1");
  EXPECT_EQ(rooms_.room(kRoom).participants.at("p1").participant.state(),
            v1::PARTICIPANT_STATE_ADMITTED);
}

TEST_F(JoinFlowTest, ARoomClosedWhileItsEndpointIsSetUpAnswersFailedPrecondition) {
  media_.OnAddEndpoint([this] { rooms_.Remove(kRoom); });
  absl::StatusOr<Joined> joined = Join("p1");
  EXPECT_EQ(joined.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(rooms_.published().empty());
}

}  // namespace
}  // namespace chorus::controller
