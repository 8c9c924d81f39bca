#include "services/controller/room_rules.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;
using rules::JoinDecision;
using rules::JoinRequest;
using rules::JoinVerdict;

// The rules' only clock: a time that moves when the test says so.
class FakeClock {
 public:
  absl::Time now() const { return now_; }
  void Advance(absl::Duration duration) { now_ += duration; }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
};

// Invite tokens as the rules see them: their hashes (any 32 bytes).
std::string TokenHash(char c) { return std::string(32, c); }

class RoomRulesTest : public ::testing::Test {
 protected:
  // A room created now: a meeting without a lobby unless a test changes it, 10 places.
  RoomRecord MakeRoom(v1::RoomKind kind = v1::ROOM_KIND_MEETING,
                      v1::AccessMode mode = v1::ACCESS_MODE_INVITE_ONLY) {
    RoomRecord room;
    room.id = "r1";
    room.room.set_name("rooms/r1");
    room.room.set_kind(kind);
    room.room.set_access_mode(mode);
    room.room.set_state(v1::ROOM_STATE_OPEN);
    room.room.set_max_participants(10);
    if (kind == v1::ROOM_KIND_MEETING) room.room.set_lobby_enabled(false);
    *room.room.mutable_create_time() = rules::ToTimestamp(clock_.now());
    *room.room.mutable_expire_time() = rules::ToTimestamp(clock_.now() + absl::Hours(24 * 30));
    room.empty_since = clock_.now();
    return room;
  }

  // A pending invite `id` whose token hashes to TokenHash(c), valid for a day.
  static v1::Invite& AddInvite(RoomRecord& room, const std::string& id, char c, v1::Role role,
                               absl::Time expire) {
    RoomRecord::Invite record;
    record.invite.set_name("rooms/" + room.id + "/invites/" + id);
    record.invite.set_role(role);
    record.invite.set_state(v1::INVITE_STATE_PENDING);
    *record.invite.mutable_expire_time() = rules::ToTimestamp(expire);
    record.token_hash = TokenHash(c);
    room.invite_order.push_back(id);
    return room.invites.emplace(id, std::move(record)).first->second.invite;
  }

  v1::Invite& AddInvite(RoomRecord& room, const std::string& id, char c,
                        v1::Role role = v1::ROLE_GUEST) {
    return AddInvite(room, id, c, role, clock_.now() + absl::Hours(24));
  }

  // Joins through the rules as the controller does, media set up at once.
  JoinDecision Join(RoomRecord& room, const JoinRequest& request, const std::string& id) {
    JoinDecision decision = rules::DecideJoin(room, request, clock_.now());
    if (decision.verdict == JoinVerdict::kRefuse) {
      rules::RecordRefusal(room, decision);
      return decision;
    }
    rules::ReserveParticipant(room, decision, id, false, clock_.now());
    rules::ConfirmParticipant(room, id, false, false);
    return decision;
  }

  static JoinRequest ByInvite(char c, std::string display_name = "") {
    JoinRequest request;
    request.invite_token_hash = TokenHash(c);
    request.display_name = std::move(display_name);
    return request;
  }

  static JoinRequest ByPin(v1::Role role, std::string display_name = "") {
    JoinRequest request;
    request.pin_role = role;
    request.display_name = std::move(display_name);
    return request;
  }

  FakeClock clock_;
};

// ----- Rooms -----

TEST_F(RoomRulesTest, ARoomIsCreatedOpenEmptyAndUnlockedWithItsKindsDefaults) {
  v1::Room in;
  in.set_kind(v1::ROOM_KIND_CONSULTATION);
  in.set_state(v1::ROOM_STATE_ACTIVE);  // not the platform's to say
  in.set_locked(true);
  in.set_participant_count(3);
  in.set_media_node("somewhere");
  const absl::Time end = clock_.now() + absl::Hours(2);
  RoomRecord room = rules::NewRoom("c1", in, false, false, clock_.now(), end);
  EXPECT_EQ(room.room.name(), "rooms/c1");
  EXPECT_EQ(room.room.access_mode(), v1::ACCESS_MODE_INVITE_ONLY);
  EXPECT_EQ(room.room.state(), v1::ROOM_STATE_OPEN);
  EXPECT_FALSE(room.room.locked());
  EXPECT_EQ(room.room.participant_count(), 0);
  EXPECT_TRUE(room.room.media_node().empty());
  EXPECT_EQ(room.room.max_participants(), 6);
  EXPECT_EQ(rules::RoomEnd(room.room), end);
  EXPECT_FALSE(room.ever_joined);

  in.set_kind(v1::ROOM_KIND_MEETING);
  in.set_access_mode(v1::ACCESS_MODE_HOST_PIN);
  EXPECT_EQ(rules::NewRoom("m1", in, true, true, clock_.now(), end).room.max_participants(), 100);
  in.set_max_participants(12);
  RoomRecord meeting = rules::NewRoom("m1", in, true, true, clock_.now(), end);
  EXPECT_EQ(meeting.room.max_participants(), 12);
  EXPECT_EQ(meeting.room.access_mode(), v1::ACCESS_MODE_HOST_PIN);
  EXPECT_TRUE(meeting.room.has_host_pin());
  EXPECT_TRUE(meeting.room.has_guest_pin());
}

TEST_F(RoomRulesTest, ARoomsSettingsChangeTogetherOrNotAtAll) {
  RoomRecord room = MakeRoom();
  AddInvite(room, "i1", 'a', v1::ROLE_GUEST, clock_.now() + absl::Hours(24 * 7));
  Join(room, ByInvite('a'), "p1");
  AddInvite(room, "i2", 'b', v1::ROLE_GUEST, clock_.now() + absl::Hours(24 * 7));
  Join(room, ByInvite('b'), "p2");
  AddInvite(room, "i3", 'c', v1::ROLE_GUEST, clock_.now() + absl::Hours(24 * 7));
  const std::string before = room.room.SerializeAsString();

  rules::RoomChange change;
  change.in.set_lobby_enabled(true);
  change.in.set_max_participants(8);
  change.paths = {"lobby_enabled", "max_participants", "host_pin"};
  change.host_pin_hash = "$argon2id$new";
  EXPECT_EQ(rules::ChangeRoom(room, change).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(room.room.SerializeAsString(), before);  // not even the lobby
  EXPECT_TRUE(room.host_pin_hash.empty());

  change.paths = {"lobby_enabled", "max_participants"};
  change.in.set_max_participants(1);  // fewer than 2
  EXPECT_EQ(rules::ChangeRoom(room, change).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(room.room.SerializeAsString(), before);

  change.in.set_max_participants(8);
  change.paths.push_back("expire_time");
  change.end = clock_.now() + absl::Hours(3);
  ASSERT_TRUE(rules::ChangeRoom(room, change).ok());
  EXPECT_TRUE(room.room.lobby_enabled());
  EXPECT_EQ(room.room.max_participants(), 8);
  EXPECT_EQ(rules::RoomEnd(room.room), clock_.now() + absl::Hours(3));
  // The pending invite ends with the room; the used ones keep what they had.
  EXPECT_EQ(rules::FromTimestamp(room.invites.at("i3").invite.expire_time()),
            clock_.now() + absl::Hours(3));

  change = {};
  change.paths = {"languages"};
  change.in.add_languages("de");
  room.node = 0;  // the room's media has started
  EXPECT_EQ(rules::ChangeRoom(room, change).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(room.room.languages_size(), 0);
}

TEST_F(RoomRulesTest, LockingIsAnEventOnlyWhenItChangesSomething) {
  RoomRecord room = MakeRoom();
  rules::Events events;
  rules::SetLocked(room, false, &events);
  EXPECT_TRUE(events.empty());
  rules::SetLocked(room, true, &events);
  rules::SetLocked(room, true, &events);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].has_room_locked());
  EXPECT_TRUE(room.room.locked());
  rules::SetLocked(room, false, &events);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[1].has_room_unlocked());
  EXPECT_FALSE(room.room.locked());
}

TEST_F(RoomRulesTest, AnInviteIsKeptPendingByItsTokensHashAndAThirdOneNeedsConsent) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_CONSULTATION);
  *room.room.mutable_expire_time() = rules::ToTimestamp(clock_.now() + absl::Hours(2));
  v1::Invite in;
  in.set_role(v1::ROLE_GUEST);
  in.set_pseudonym("Patient");
  in.set_state(v1::INVITE_STATE_USED);  // not the platform's to say
  absl::StatusOr<v1::Invite> first =
      rules::AddInvite(room, in, "i1", TokenHash('a'), clock_.now(), absl::Hours(24));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->name(), "rooms/r1/invites/i1");
  EXPECT_EQ(first->state(), v1::INVITE_STATE_PENDING);
  EXPECT_EQ(first->pseudonym(), "Patient");
  // No invite outlives its room.
  EXPECT_EQ(rules::FromTimestamp(first->expire_time()), clock_.now() + absl::Hours(2));
  EXPECT_EQ(room.invites.at("i1").token_hash, TokenHash('a'));
  in.set_role(v1::ROLE_HOST);
  ASSERT_TRUE(rules::AddInvite(room, in, "i2", TokenHash('b'), clock_.now(), absl::Hours(1)).ok());
  in.set_role(v1::ROLE_GUEST);
  EXPECT_EQ(rules::AddInvite(room, in, "i3", TokenHash('c'), clock_.now(), absl::Hours(1))
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  in.set_consent_reference("consent-2026-118");
  ASSERT_TRUE(rules::AddInvite(room, in, "i3", TokenHash('c'), clock_.now(), absl::Hours(1)).ok());
  EXPECT_EQ(room.invite_order, (std::vector<std::string>{"i1", "i2", "i3"}));
  // An interpreter's invite needs a pair the room can use.
  in.set_role(v1::ROLE_INTERPRETER);
  in.mutable_interpreter_languages()->set_first("de");
  in.mutable_interpreter_languages()->set_second("de");
  EXPECT_EQ(rules::AddInvite(room, in, "i4", TokenHash('d'), clock_.now(), absl::Hours(1))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(room.invites.size(), 3u);
}

// ----- Admission: invites -----

TEST_F(RoomRulesTest, AnInviteAdmitsItsHolderWithTheInvitesRoleAndPseudonym) {
  RoomRecord room = MakeRoom();
  v1::Invite& invite = AddInvite(room, "i1", 'a', v1::ROLE_INTERPRETER);
  invite.set_pseudonym("Interpreter DE");
  invite.mutable_interpreter_languages()->set_first("de");
  invite.mutable_interpreter_languages()->set_second("en");

  const JoinDecision decision = rules::DecideJoin(room, ByInvite('a', "asked"), clock_.now());
  EXPECT_EQ(decision.verdict, JoinVerdict::kAdmit);
  EXPECT_EQ(decision.invite_id, "i1");
  EXPECT_EQ(decision.role, v1::ROLE_INTERPRETER);
  EXPECT_EQ(decision.display_name, "Interpreter DE");

  const RoomRecord::Member& member =
      rules::ReserveParticipant(room, decision, "p1abcdef", false, clock_.now());
  EXPECT_TRUE(member.pending);
  EXPECT_EQ(member.participant.name(), "rooms/r1/participants/p1abcdef");
  EXPECT_EQ(member.participant.display_name(), "Interpreter DE");
  EXPECT_EQ(member.participant.role(), v1::ROLE_INTERPRETER);
  EXPECT_EQ(member.participant.state(), v1::PARTICIPANT_STATE_ADMITTED);
  EXPECT_EQ(member.participant.interpreter_languages().first(), "de");
  EXPECT_TRUE(member.routing.admitted());
  EXPECT_DOUBLE_EQ(member.routing.floor_gain_db(), -15.0);
  EXPECT_EQ(room.room.participant_count(), 1);
  EXPECT_EQ(room.participant_order, std::vector<std::string>{"p1abcdef"});
  const v1::Invite& used = room.invites.at("i1").invite;
  EXPECT_EQ(used.state(), v1::INVITE_STATE_USED);
  EXPECT_EQ(used.participant(), "rooms/r1/participants/p1abcdef");
  EXPECT_EQ(rules::FromTimestamp(used.use_time()), clock_.now());
}

TEST_F(RoomRulesTest, WithoutAPseudonymTheInviteHolderKeepsTheNameAskedFor) {
  RoomRecord room = MakeRoom();
  AddInvite(room, "i1", 'a');
  EXPECT_EQ(rules::DecideJoin(room, ByInvite('a', "Dr. Who"), clock_.now()).display_name,
            "Dr. Who");
}

TEST_F(RoomRulesTest, ATokenOfNoInviteOfTheRoomIsRefusedWithNothingToPublish) {
  RoomRecord room = MakeRoom();
  AddInvite(room, "i1", 'a');
  const JoinDecision decision = rules::DecideJoin(room, ByInvite('b'), clock_.now());
  EXPECT_EQ(decision.verdict, JoinVerdict::kRefuse);
  EXPECT_EQ(decision.reason, v1::REJECT_REASON_UNSPECIFIED);
  EXPECT_TRUE(decision.invite_id.empty());
  EXPECT_EQ(rules::DecisionInviteName(room, decision), "");
}

TEST_F(RoomRulesTest, AnInviteLetsInOnlyOnce) {
  RoomRecord room = MakeRoom();
  AddInvite(room, "i1", 'a');
  EXPECT_EQ(Join(room, ByInvite('a'), "p1").verdict, JoinVerdict::kAdmit);

  const JoinDecision again = Join(room, ByInvite('a'), "p2");
  EXPECT_EQ(again.verdict, JoinVerdict::kRefuse);
  EXPECT_EQ(again.reason, v1::REJECT_REASON_INVITE_ALREADY_USED);
  EXPECT_EQ(rules::DecisionInviteName(room, again), "rooms/r1/invites/i1");
  EXPECT_EQ(room.participants.size(), 1u);
  // Used even after its holder left: single use is for good.
  rules::RemoveParticipant(room, "p1", clock_.now());
  EXPECT_EQ(rules::DecideJoin(room, ByInvite('a'), clock_.now()).reason,
            v1::REJECT_REASON_INVITE_ALREADY_USED);
}

TEST_F(RoomRulesTest, ARevokedInviteIsRefusedAndAUsedOneCannotBeRevoked) {
  RoomRecord room = MakeRoom();
  AddInvite(room, "i1", 'a');
  AddInvite(room, "i2", 'b');
  EXPECT_TRUE(rules::RevokeInvite(room.invites.at("i1")));
  EXPECT_EQ(room.invites.at("i1").invite.state(), v1::INVITE_STATE_REVOKED);
  const JoinDecision decision = rules::DecideJoin(room, ByInvite('a'), clock_.now());
  EXPECT_EQ(decision.verdict, JoinVerdict::kRefuse);
  EXPECT_EQ(decision.reason, v1::REJECT_REASON_INVITE_REVOKED);

  Join(room, ByInvite('b'), "p1");
  EXPECT_FALSE(rules::RevokeInvite(room.invites.at("i2")));
  EXPECT_EQ(room.invites.at("i2").invite.state(), v1::INVITE_STATE_USED);
}

TEST_F(RoomRulesTest, AnInviteExpiresAfterItsExpireTimeAndIsMarkedSo) {
  RoomRecord room = MakeRoom();
  AddInvite(room, "i1", 'a', v1::ROLE_GUEST, clock_.now() + absl::Hours(1));
  clock_.Advance(absl::Hours(1));  // at its expire_time it still lets in
  JoinDecision decision = rules::DecideJoin(room, ByInvite('a'), clock_.now());
  EXPECT_EQ(decision.verdict, JoinVerdict::kAdmit);
  EXPECT_FALSE(decision.invite_expired);

  clock_.Advance(absl::Seconds(1));
  decision = rules::DecideJoin(room, ByInvite('a'), clock_.now());
  EXPECT_EQ(decision.verdict, JoinVerdict::kRefuse);
  EXPECT_EQ(decision.reason, v1::REJECT_REASON_INVITE_EXPIRED);
  EXPECT_TRUE(decision.invite_expired);
  EXPECT_EQ(room.invites.at("i1").invite.state(), v1::INVITE_STATE_PENDING);  // decided only
  rules::RecordRefusal(room, decision);
  EXPECT_EQ(room.invites.at("i1").invite.state(), v1::INVITE_STATE_EXPIRED);
  // Marked, it is refused for the same reason without being marked again.
  decision = rules::DecideJoin(room, ByInvite('a'), clock_.now());
  EXPECT_EQ(decision.reason, v1::REJECT_REASON_INVITE_EXPIRED);
  EXPECT_FALSE(decision.invite_expired);
}

TEST_F(RoomRulesTest, AFailedJoinGivesItsInviteBack) {
  RoomRecord room = MakeRoom();
  AddInvite(room, "i1", 'a');
  const JoinDecision decision = rules::DecideJoin(room, ByInvite('a'), clock_.now());
  rules::ReserveParticipant(room, decision, "p1", false, clock_.now());
  EXPECT_FALSE(rules::RemoveParticipant(room, "p1", clock_.now()));  // never announced
  rules::ReopenInvite(room, "i1");
  const v1::Invite& invite = room.invites.at("i1").invite;
  EXPECT_EQ(invite.state(), v1::INVITE_STATE_PENDING);
  EXPECT_FALSE(invite.has_use_time());
  EXPECT_TRUE(invite.participant().empty());
  EXPECT_EQ(room.room.participant_count(), 0);
  EXPECT_EQ(Join(room, ByInvite('a'), "p2").verdict, JoinVerdict::kAdmit);
}

// A join left half done by a controller that stopped between reserving and confirming: after a
// while its reservation goes and its invite works again; a join still in progress, and
// participants in the call, stay.
TEST_F(RoomRulesTest, AReservationNobodyConfirmedGoesAndItsInviteWorksAgain) {
  RoomRecord room = MakeRoom();
  AddInvite(room, "i1", 'a');
  AddInvite(room, "i2", 'b');
  AddInvite(room, "i3", 'c');
  ASSERT_EQ(Join(room, ByInvite('c'), "p3").verdict, JoinVerdict::kAdmit);  // in the call
  rules::ReserveParticipant(room, rules::DecideJoin(room, ByInvite('a'), clock_.now()), "p1", false,
                            clock_.now());
  clock_.Advance(absl::Minutes(3));
  rules::ReserveParticipant(room, rules::DecideJoin(room, ByInvite('b'), clock_.now()), "p2", false,
                            clock_.now());
  const absl::Time cutoff = clock_.now() - absl::Minutes(2);
  EXPECT_EQ(rules::DropStaleReservations(room, cutoff, clock_.now()),
            std::vector<std::string>{"p1"});
  EXPECT_FALSE(room.participants.contains("p1"));
  EXPECT_TRUE(room.participants.contains("p2"));  // still joining
  EXPECT_TRUE(room.participants.contains("p3"));  // in the call since before the cutoff
  EXPECT_EQ(room.invites.at("i1").invite.state(), v1::INVITE_STATE_PENDING);
  EXPECT_EQ(room.invites.at("i2").invite.state(), v1::INVITE_STATE_USED);
  EXPECT_EQ(room.room.participant_count(), 2);
  EXPECT_TRUE(rules::DropStaleReservations(room, cutoff, clock_.now()).empty());
  EXPECT_EQ(Join(room, ByInvite('a'), "p4").verdict, JoinVerdict::kAdmit);
}

// The session token's rule: only the current token of an announced participant, once.
TEST_F(RoomRulesTest, ASessionResumesOnlyWithItsCurrentTokenAndSpendsIt) {
  RoomRecord room = MakeRoom();
  AddInvite(room, "i1", 'a');
  AddInvite(room, "i2", 'b');
  ASSERT_EQ(Join(room, ByInvite('a'), "p1").verdict, JoinVerdict::kAdmit);
  room.participants.at("p1").session_token_hash = TokenHash('s');
  rules::ReserveParticipant(room, rules::DecideJoin(room, ByInvite('b'), clock_.now()), "p2", false,
                            clock_.now());
  room.participants.at("p2").session_token_hash = TokenHash('t');
  EXPECT_TRUE(absl::IsPermissionDenied(rules::ResumeSession(room, "p1", TokenHash('x'), "n")));
  EXPECT_TRUE(absl::IsPermissionDenied(rules::ResumeSession(room, "p1", "", "n")));
  EXPECT_TRUE(absl::IsPermissionDenied(rules::ResumeSession(room, "nobody", TokenHash('s'), "n")));
  EXPECT_TRUE(absl::IsPermissionDenied(rules::ResumeSession(room, "p2", TokenHash('t'), "n")));
  ASSERT_TRUE(rules::ResumeSession(room, "p1", TokenHash('s'), TokenHash('u')).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(rules::ResumeSession(room, "p1", TokenHash('s'), "n")));
  EXPECT_TRUE(rules::ResumeSession(room, "p1", TokenHash('u'), TokenHash('v')).ok());
}

// ----- Admission: the room -----

TEST_F(RoomRulesTest, ALockedRoomRefusesEveryCredentialAndConsumesNoInvite) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN);
  AddInvite(room, "i1", 'a', v1::ROLE_HOST);
  room.room.set_locked(true);
  JoinDecision decision = Join(room, ByInvite('a'), "p1");
  EXPECT_EQ(decision.verdict, JoinVerdict::kRefuse);
  EXPECT_EQ(decision.reason, v1::REJECT_REASON_ROOM_LOCKED);
  EXPECT_EQ(rules::DecisionInviteName(room, decision), "rooms/r1/invites/i1");
  EXPECT_EQ(room.invites.at("i1").invite.state(), v1::INVITE_STATE_PENDING);
  EXPECT_EQ(rules::DecideJoin(room, ByPin(v1::ROLE_HOST), clock_.now()).reason,
            v1::REJECT_REASON_ROOM_LOCKED);

  room.room.set_locked(false);
  EXPECT_EQ(Join(room, ByInvite('a'), "p1").verdict, JoinVerdict::kAdmit);
}

TEST_F(RoomRulesTest, AnInvitesOwnStateIsJudgedBeforeTheLock) {
  RoomRecord room = MakeRoom();
  AddInvite(room, "i1", 'a');
  rules::RevokeInvite(room.invites.at("i1"));
  room.room.set_locked(true);
  EXPECT_EQ(rules::DecideJoin(room, ByInvite('a'), clock_.now()).reason,
            v1::REJECT_REASON_INVITE_REVOKED);
}

TEST_F(RoomRulesTest, AFullRoomRefusesTheNextParticipant) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN);
  room.room.set_max_participants(2);
  EXPECT_EQ(Join(room, ByPin(v1::ROLE_GUEST), "p1").verdict, JoinVerdict::kAdmit);
  EXPECT_EQ(Join(room, ByPin(v1::ROLE_GUEST), "p2").verdict, JoinVerdict::kAdmit);
  const JoinDecision decision = Join(room, ByPin(v1::ROLE_GUEST), "p3");
  EXPECT_EQ(decision.verdict, JoinVerdict::kRefuse);
  EXPECT_EQ(decision.reason, v1::REJECT_REASON_ROOM_FULL);
  // The lock is judged first.
  room.room.set_locked(true);
  EXPECT_EQ(rules::DecideJoin(room, ByPin(v1::ROLE_GUEST), clock_.now()).reason,
            v1::REJECT_REASON_ROOM_LOCKED);
  // A place freed is a place taken.
  room.room.set_locked(false);
  rules::RemoveParticipant(room, "p1", clock_.now());
  EXPECT_EQ(Join(room, ByPin(v1::ROLE_GUEST), "p3").verdict, JoinVerdict::kAdmit);
}

TEST_F(RoomRulesTest, AConsultationsThirdParticipantNeedsAnInviteWithConsent) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_CONSULTATION);
  room.room.set_lobby_enabled(false);
  AddInvite(room, "doctor", 'a', v1::ROLE_HOST);
  AddInvite(room, "patient", 'b');
  AddInvite(room, "relative", 'c');
  AddInvite(room, "interpreter", 'd').set_consent_reference("consent-17");
  EXPECT_EQ(Join(room, ByInvite('a'), "p1").verdict, JoinVerdict::kAdmit);
  EXPECT_EQ(Join(room, ByInvite('b'), "p2").verdict, JoinVerdict::kAdmit);

  const JoinDecision refused = Join(room, ByInvite('c'), "p3");
  EXPECT_EQ(refused.verdict, JoinVerdict::kRefuse);
  EXPECT_EQ(refused.reason, v1::REJECT_REASON_CONSENT_REQUIRED);
  EXPECT_EQ(room.invites.at("relative").invite.state(), v1::INVITE_STATE_PENDING);
  EXPECT_EQ(rules::DecideJoin(room, ByPin(v1::ROLE_GUEST), clock_.now()).reason,
            v1::REJECT_REASON_CONSENT_REQUIRED);
  EXPECT_EQ(Join(room, ByInvite('d'), "p4").verdict, JoinVerdict::kAdmit);
}

TEST_F(RoomRulesTest, AMeetingTakesAThirdParticipantWithoutConsent) {
  RoomRecord room = MakeRoom();
  for (const char* id : {"p1", "p2"}) Join(room, ByPin(v1::ROLE_GUEST), id);
  EXPECT_EQ(rules::DecideJoin(room, ByPin(v1::ROLE_GUEST), clock_.now()).verdict,
            JoinVerdict::kAdmit);
}

TEST_F(RoomRulesTest, AThirdInviteToAConsultationNeedsAConsentReference) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_CONSULTATION);
  EXPECT_FALSE(rules::InviteNeedsConsent(room, ""));
  AddInvite(room, "i1", 'a', v1::ROLE_HOST);
  AddInvite(room, "i2", 'b');
  EXPECT_TRUE(rules::InviteNeedsConsent(room, ""));
  EXPECT_FALSE(rules::InviteNeedsConsent(room, "consent-17"));
  // Revoked and expired invites bring nobody: they do not count.
  room.invites.at("i2").invite.set_state(v1::INVITE_STATE_REVOKED);
  EXPECT_FALSE(rules::InviteNeedsConsent(room, ""));
  room.invites.at("i2").invite.set_state(v1::INVITE_STATE_USED);
  EXPECT_TRUE(rules::InviteNeedsConsent(room, ""));
  EXPECT_FALSE(rules::InviteNeedsConsent(MakeRoom(v1::ROOM_KIND_MEETING), ""));
}

// ----- Lobby -----

TEST_F(RoomRulesTest, AConsultationsLobbyHoldsGuestsButNotHosts) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_CONSULTATION);
  AddInvite(room, "patient", 'a');
  AddInvite(room, "doctor", 'b', v1::ROLE_HOST);
  EXPECT_EQ(Join(room, ByInvite('a'), "p1").verdict, JoinVerdict::kWait);
  EXPECT_EQ(room.participants.at("p1").participant.state(), v1::PARTICIPANT_STATE_WAITING);
  EXPECT_FALSE(room.participants.at("p1").routing.admitted());
  EXPECT_EQ(Join(room, ByInvite('b'), "p2").verdict, JoinVerdict::kAdmit);
  // In a room with a lobby a host's arrival admits nobody: the host admits.
  EXPECT_TRUE(rules::AdmitOnHostArrival(room).empty());
  EXPECT_EQ(room.participants.at("p1").participant.state(), v1::PARTICIPANT_STATE_WAITING);
}

TEST_F(RoomRulesTest, AHostPinRoomLetsGuestsWaitUntilAHostArrives) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_HOST_PIN);
  room.room.clear_lobby_enabled();  // HOST_PIN without a lobby setting: admitted on arrival
  EXPECT_EQ(Join(room, ByPin(v1::ROLE_GUEST), "p1").verdict, JoinVerdict::kWait);
  EXPECT_EQ(Join(room, ByPin(v1::ROLE_GUEST), "p2").verdict, JoinVerdict::kWait);
  EXPECT_TRUE(rules::AdmitOnHostArrival(room).empty());  // no host yet

  EXPECT_EQ(Join(room, ByPin(v1::ROLE_HOST), "p3").verdict, JoinVerdict::kAdmit);
  EXPECT_EQ(rules::AdmitOnHostArrival(room), (std::vector<std::string>{"p1", "p2"}));
  for (const char* id : {"p1", "p2"}) {
    EXPECT_EQ(room.participants.at(id).participant.state(), v1::PARTICIPANT_STATE_ADMITTED);
    EXPECT_TRUE(room.participants.at(id).routing.admitted());
  }
  // With the host in, the next guest goes straight in.
  EXPECT_EQ(Join(room, ByPin(v1::ROLE_GUEST), "p4").verdict, JoinVerdict::kAdmit);
}

TEST_F(RoomRulesTest, AWaitingHostPinJoinStillSettingUpItsMediaIsNotAdmitted) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_HOST_PIN);
  room.room.clear_lobby_enabled();
  const JoinDecision guest = rules::DecideJoin(room, ByPin(v1::ROLE_GUEST), clock_.now());
  rules::ReserveParticipant(room, guest, "p1", false, clock_.now());  // media not set up yet
  Join(room, ByPin(v1::ROLE_HOST), "p2");
  EXPECT_TRUE(rules::AdmitOnHostArrival(room).empty());
}

TEST_F(RoomRulesTest, AMeetingWithoutALobbyAdmitsEveryone) {
  RoomRecord room = MakeRoom();
  EXPECT_EQ(Join(room, ByPin(v1::ROLE_GUEST), "p1").verdict, JoinVerdict::kAdmit);
  room.room.set_lobby_enabled(true);
  EXPECT_EQ(Join(room, ByPin(v1::ROLE_GUEST), "p2").verdict, JoinVerdict::kWait);
}

// ----- Telephone callers typing the PIN -----

// A keypad caller holds a place while it types, in no roster: not admitted, hearing the prompt
// in the room's language. Its right PIN makes it a participant of the PIN's role, decided again
// as a PIN join (a host is admitted, a guest waits in a lobby); wrong PINs are counted and the
// third ends it.
TEST_F(RoomRulesTest, AKeypadCallerBecomesAParticipantOfItsPinsRoleOrIsEndedAtItsThirdWrongPin) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN);
  room.room.set_lobby_enabled(true);
  room.room.set_prompt_language("da");
  room.room.set_max_participants(2);
  auto reserve = [&](const std::string& id) -> RoomRecord::Member& {
    const JoinDecision decision = rules::DecideJoin(room, ByPin(v1::ROLE_GUEST), clock_.now());
    EXPECT_NE(decision.verdict, JoinVerdict::kRefuse);
    RoomRecord::Member& member = rules::ReserveParticipant(room, decision, id, false, clock_.now());
    rules::MakeKeypadCaller(room, member, "source-hash");
    return member;
  };
  RoomRecord::Member& typing = reserve("k1");
  EXPECT_TRUE(typing.pending);
  EXPECT_FALSE(typing.routing.admitted());
  EXPECT_TRUE(typing.routing.keypad());
  EXPECT_EQ(typing.routing.prompt(), "enter_pin");
  EXPECT_EQ(typing.routing.prompt_language(), "da");
  EXPECT_EQ(typing.keypad_source, "source-hash");
  // Two wrong PINs: told so; the third ends it.
  EXPECT_FALSE(rules::KeypadPinWrong(typing));
  EXPECT_EQ(typing.routing.prompt(), "wrong_pin");
  EXPECT_FALSE(rules::KeypadPinWrong(typing));
  EXPECT_TRUE(rules::KeypadPinWrong(typing));

  // The host PIN: admitted though the room has a lobby, its place not counted twice (the room
  // has 2 places and one other participant).
  Join(room, ByPin(v1::ROLE_GUEST), "p1");
  clock_.Advance(absl::Seconds(20));
  JoinDecision decided = rules::ConfirmKeypadCaller(room, "k1", v1::ROLE_HOST, clock_.now());
  ASSERT_EQ(decided.verdict, JoinVerdict::kAdmit);
  const RoomRecord::Member& host = room.participants.at("k1");
  EXPECT_EQ(host.participant.role(), v1::ROLE_HOST);
  EXPECT_EQ(host.participant.state(), v1::PARTICIPANT_STATE_ADMITTED);
  EXPECT_TRUE(host.routing.admitted());
  EXPECT_FALSE(host.routing.keypad());
  EXPECT_TRUE(host.routing.prompt().empty());
  EXPECT_EQ(rules::FromTimestamp(host.participant.join_time()), clock_.now());
  EXPECT_EQ(room.room.participant_count(), 2);

  // A guest PIN in a room that became full while the caller typed (its limit lowered): refused,
  // and the caller is to be ended.
  room.room.set_max_participants(4);
  reserve("k2");
  ASSERT_NE(Join(room, ByPin(v1::ROLE_GUEST), "p2").verdict, JoinVerdict::kRefuse);
  room.room.set_max_participants(3);
  decided = rules::ConfirmKeypadCaller(room, "k2", v1::ROLE_GUEST, clock_.now());
  EXPECT_EQ(decided.verdict, JoinVerdict::kRefuse);
  EXPECT_EQ(decided.reason, v1::REJECT_REASON_ROOM_FULL);
  EXPECT_TRUE(room.participants.at("k2").routing.keypad());
  // With room, a guest PIN waits in the lobby.
  room.room.set_max_participants(10);
  decided = rules::ConfirmKeypadCaller(room, "k2", v1::ROLE_GUEST, clock_.now());
  EXPECT_EQ(decided.verdict, JoinVerdict::kWait);
  EXPECT_EQ(room.participants.at("k2").participant.state(), v1::PARTICIPANT_STATE_WAITING);
  EXPECT_FALSE(room.participants.at("k2").routing.admitted());
}

// ----- Names -----

TEST_F(RoomRulesTest, ParticipantsWithoutANameAreNumberedGuestsAndNamesStayUnique) {
  RoomRecord room = MakeRoom();
  Join(room, ByPin(v1::ROLE_GUEST), "aaaa1111");
  Join(room, ByPin(v1::ROLE_GUEST), "bbbb2222");
  Join(room, ByPin(v1::ROLE_GUEST, "Guest01"), "cccc3333");
  Join(room, ByPin(v1::ROLE_GUEST, "Anna"), "dddd4444");
  Join(room, ByPin(v1::ROLE_GUEST, "Anna"), "eeee5555");
  EXPECT_EQ(room.participants.at("aaaa1111").participant.display_name(), "Guest01");
  EXPECT_EQ(room.participants.at("bbbb2222").participant.display_name(), "Guest02");
  EXPECT_EQ(room.participants.at("cccc3333").participant.display_name(), "Guest01-cccc");
  EXPECT_EQ(room.participants.at("dddd4444").participant.display_name(), "Anna");
  EXPECT_EQ(room.participants.at("eeee5555").participant.display_name(), "Anna-eeee");
  EXPECT_EQ(room.next_guest, 3);

  EXPECT_TRUE(rules::DisplayNameTaken(room, "rooms/r1/participants/aaaa1111", "Anna"));
  EXPECT_FALSE(rules::DisplayNameTaken(room, "rooms/r1/participants/dddd4444", "Anna"));
  EXPECT_FALSE(rules::DisplayNameTaken(room, "rooms/r1/participants/aaaa1111", "Bert"));
}

TEST_F(RoomRulesTest, ADisplayNameIsOneToSixtyFourPrintableCharacters) {
  EXPECT_TRUE(rules::ValidDisplayName("Guest01"));
  EXPECT_TRUE(rules::ValidDisplayName(std::string(64, 'x')));
  EXPECT_FALSE(rules::ValidDisplayName(""));
  EXPECT_FALSE(rules::ValidDisplayName(std::string(65, 'x')));
  EXPECT_FALSE(rules::ValidDisplayName("line\nbreak"));
  EXPECT_FALSE(rules::ValidDisplayName("del\x7f"));
}

// ----- PINs -----

class PinRulesTest : public RoomRulesTest {
 protected:
  rules::WrongPinOutcome Wrong(RoomRecord& room, const std::string& source) {
    return rules::RecordWrongPin(room, source, clock_.now(), policy_);
  }
  rules::PinPolicy policy_;  // 5 per address, 20 per room, within 10 minutes, for 10 minutes
};

TEST_F(PinRulesTest, OnlyPinRoomsTakePins) {
  EXPECT_TRUE(rules::TakesPins(MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_HOST_PIN)));
  EXPECT_TRUE(rules::TakesPins(MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN)));
  EXPECT_FALSE(rules::TakesPins(MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_INVITE_ONLY)));
  EXPECT_FALSE(rules::TakesPins(MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_ONE_TIME)));
}

TEST_F(PinRulesTest, FiveWrongPinsFromOneAddressLockItOutForTheLockout) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN);
  for (int i = 0; i < 4; ++i) {
    EXPECT_FALSE(Wrong(room, "addr-a").source_locked);
    EXPECT_EQ(rules::ActivePinLockout(room, "addr-a", clock_.now()), std::nullopt);
    clock_.Advance(absl::Seconds(10));
  }
  const rules::WrongPinOutcome fifth = Wrong(room, "addr-a");
  EXPECT_TRUE(fifth.source_locked);
  EXPECT_FALSE(fifth.room_locked);
  std::optional<rules::PinLockout> lockout = rules::ActivePinLockout(room, "addr-a", clock_.now());
  ASSERT_TRUE(lockout.has_value());
  EXPECT_FALSE(lockout->whole_room);
  EXPECT_EQ(lockout->until, clock_.now() + absl::Minutes(10));
  // Another address, and a join that gives none, are not locked out.
  EXPECT_EQ(rules::ActivePinLockout(room, "addr-b", clock_.now()), std::nullopt);
  EXPECT_EQ(rules::ActivePinLockout(room, "", clock_.now()), std::nullopt);

  clock_.Advance(absl::Minutes(10) - absl::Seconds(1));
  EXPECT_TRUE(rules::ActivePinLockout(room, "addr-a", clock_.now()).has_value());
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(rules::ActivePinLockout(room, "addr-a", clock_.now()), std::nullopt);
  // The count started again: the next wrong PIN alone locks nothing.
  EXPECT_FALSE(Wrong(room, "addr-a").source_locked);
}

TEST_F(PinRulesTest, WrongPinsOlderThanTheWindowDoNotCount) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN);
  for (int i = 0; i < 4; ++i) Wrong(room, "addr-a");
  clock_.Advance(absl::Minutes(10) + absl::Seconds(1));
  // The four fell out of the window: four more lock nothing, the fifth of them does.
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(Wrong(room, "addr-a").source_locked);
  EXPECT_TRUE(Wrong(room, "addr-a").source_locked);
}

TEST_F(PinRulesTest, TheWindowSlides) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN);
  Wrong(room, "addr-a");  // at 0
  clock_.Advance(absl::Minutes(6));
  for (int i = 0; i < 3; ++i) Wrong(room, "addr-a");  // at 6 min
  clock_.Advance(absl::Minutes(5));
  // At 11 min the first is out of the window: four within it, no lockout yet.
  EXPECT_FALSE(Wrong(room, "addr-a").source_locked);
  EXPECT_TRUE(Wrong(room, "addr-a").source_locked);
}

TEST_F(PinRulesTest, TwentyWrongPinsFromAnyoneLockTheWholeRoom) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN);
  for (int i = 0; i < 19; ++i) {
    const rules::WrongPinOutcome outcome = Wrong(room, "addr-" + std::to_string(i % 10));
    EXPECT_FALSE(outcome.room_locked);
    EXPECT_FALSE(outcome.source_locked);  // two each: no address reached five
  }
  EXPECT_TRUE(Wrong(room, "").room_locked);  // a join with no address counts for the room
  std::optional<rules::PinLockout> lockout = rules::ActivePinLockout(room, "", clock_.now());
  ASSERT_TRUE(lockout.has_value());
  EXPECT_TRUE(lockout->whole_room);
  EXPECT_TRUE(rules::ActivePinLockout(room, "addr-new", clock_.now())->whole_room);
  clock_.Advance(absl::Minutes(10));
  EXPECT_EQ(rules::ActivePinLockout(room, "addr-new", clock_.now()), std::nullopt);
  EXPECT_TRUE(room.wrong_pins.empty());
}

TEST_F(PinRulesTest, TheRoomWideLockoutIsReportedBeforeTheAddresses) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN);
  policy_.attempts_per_room = 5;
  const rules::WrongPinOutcome outcome = [&] {
    rules::WrongPinOutcome last;
    for (int i = 0; i < 5; ++i) last = Wrong(room, "addr-a");
    return last;
  }();
  EXPECT_TRUE(outcome.source_locked);
  EXPECT_TRUE(outcome.room_locked);
  EXPECT_TRUE(rules::ActivePinLockout(room, "addr-a", clock_.now())->whole_room);
}

TEST_F(PinRulesTest, AddressesWithNothingLeftInTheWindowAreForgotten) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_SHARED_PIN);
  Wrong(room, "addr-a");
  for (int i = 0; i < 5; ++i) Wrong(room, "addr-b");  // locked out
  EXPECT_EQ(room.pin_sources.size(), 2u);
  clock_.Advance(absl::Minutes(10) + absl::Seconds(1));
  Wrong(room, "addr-c");
  // addr-a's one wrong PIN is out of the window, addr-b's lockout is over: only addr-c is kept.
  EXPECT_EQ(room.pin_sources.size(), 1u);
  EXPECT_TRUE(room.pin_sources.contains("addr-c"));
}

// ----- Lifetime -----

TEST_F(RoomRulesTest, ARoomEndsAtItsExpireTimeButNeverLaterThanNinetyDaysAfterItsCreation) {
  RoomRecord room = MakeRoom();
  EXPECT_EQ(rules::RoomEnd(room.room), clock_.now() + absl::Hours(24 * 30));
  *room.room.mutable_expire_time() = rules::ToTimestamp(clock_.now() + absl::Hours(24 * 200));
  EXPECT_EQ(rules::RoomEnd(room.room), clock_.now() + rules::kMaxRoomLifetime);
  room.room.clear_expire_time();
  EXPECT_EQ(rules::RoomEnd(room.room), clock_.now() + rules::kMaxRoomLifetime);
}

TEST_F(RoomRulesTest, NoInviteOutlivesItsRoom) {
  RoomRecord room = MakeRoom();
  const absl::Time end = clock_.now() + absl::Hours(24 * 30);
  EXPECT_EQ(rules::InviteExpiry(room, clock_.now(), absl::Hours(24)),
            clock_.now() + absl::Hours(24));
  clock_.Advance(absl::Hours(24 * 29 + 12));
  EXPECT_EQ(rules::InviteExpiry(room, clock_.now(), absl::Hours(24 * 7)), end);

  AddInvite(room, "long", 'a', v1::ROLE_GUEST, clock_.now() + absl::Hours(6));
  AddInvite(room, "short", 'b', v1::ROLE_GUEST, clock_.now() + absl::Hours(1));
  AddInvite(room, "used", 'c', v1::ROLE_GUEST, clock_.now() + absl::Hours(6));
  room.invites.at("used").invite.set_state(v1::INVITE_STATE_USED);
  const absl::Time earlier = clock_.now() + absl::Hours(2);
  rules::CapInviteExpiries(room, earlier);
  EXPECT_EQ(rules::FromTimestamp(room.invites.at("long").invite.expire_time()), earlier);
  EXPECT_EQ(rules::FromTimestamp(room.invites.at("short").invite.expire_time()),
            clock_.now() + absl::Hours(1));
  EXPECT_EQ(rules::FromTimestamp(room.invites.at("used").invite.expire_time()),
            clock_.now() + absl::Hours(6));
}

TEST_F(RoomRulesTest, TheIdleClockStartsAtTheFirstJoin) {
  RoomRecord room = MakeRoom();
  const absl::Duration idle = absl::Minutes(10);
  clock_.Advance(absl::Hours(24 * 7));  // booked a week ahead
  EXPECT_FALSE(rules::IdleExpired(room, clock_.now(), idle));

  Join(room, ByPin(v1::ROLE_GUEST), "p1");
  EXPECT_EQ(room.room.state(), v1::ROOM_STATE_ACTIVE);
  clock_.Advance(absl::Hours(1));
  EXPECT_FALSE(rules::IdleExpired(room, clock_.now(), idle));  // somebody is in
  EXPECT_TRUE(rules::RemoveParticipant(room, "p1", clock_.now()));
  EXPECT_EQ(room.room.state(), v1::ROOM_STATE_OPEN);
  EXPECT_EQ(room.empty_since, clock_.now());
  clock_.Advance(idle);
  EXPECT_FALSE(rules::IdleExpired(room, clock_.now(), idle));
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(rules::IdleExpired(room, clock_.now(), idle));
  // The room's own idle_timeout wins over the default.
  room.room.mutable_idle_timeout()->set_seconds(3600);
  EXPECT_FALSE(rules::IdleExpired(room, clock_.now(), idle));
}

// ----- Participants in the call -----

class CallRulesTest : public RoomRulesTest {
 protected:
  // A meeting with a German channel: a guest, and two German-English interpreters.
  void SetUp() override {
    room_ = MakeRoom();
    room_.room.add_languages("de");
    for (const char* id : {"guest", "int-a", "int-b"}) Join(room_, ByPin(v1::ROLE_GUEST), id);
    for (const char* id : {"int-a", "int-b"}) {
      v1::Participant& interpreter = P(id);
      interpreter.set_role(v1::ROLE_INTERPRETER);
      interpreter.mutable_interpreter_languages()->set_first("de");
      interpreter.mutable_interpreter_languages()->set_second("en");
    }
  }
  v1::Participant& P(const std::string& id) { return room_.participants.at(id).participant; }
  // The kinds of the events, in order: "updated", "on_air", "admitted".
  static std::vector<std::string> Kinds(const rules::Events& events) {
    std::vector<std::string> kinds;
    for (const v1::RoomEvent& event : events) {
      kinds.push_back(event.has_participant_updated()    ? "updated"
                      : event.has_interpreter_on_air()   ? "on_air"
                      : event.has_participant_admitted() ? "admitted"
                                                         : "other");
    }
    return kinds;
  }

  RoomRecord room_;
  rules::Events events_;
};

TEST_F(CallRulesTest, TheFirstInterpreterOfAChannelIsOnAirTheSecondOnStandby) {
  ASSERT_TRUE(rules::SetSpeakLanguage(room_, P("int-a"), "de", &events_).ok());
  EXPECT_TRUE(P("int-a").on_air());
  EXPECT_EQ(Kinds(events_), (std::vector<std::string>{"updated", "on_air"}));
  EXPECT_EQ(events_[1].interpreter_on_air().participant(), P("int-a").name());
  events_.clear();
  ASSERT_TRUE(rules::SetSpeakLanguage(room_, P("int-b"), "de", &events_).ok());
  EXPECT_FALSE(P("int-b").on_air());
  EXPECT_EQ(Kinds(events_), std::vector<std::string>{"updated"});

  // Leaving the booth for the floor puts the partner on air.
  events_.clear();
  ASSERT_TRUE(rules::SetSpeakLanguage(room_, P("int-a"), "", &events_).ok());
  EXPECT_FALSE(P("int-a").on_air());
  EXPECT_TRUE(P("int-b").on_air());
  EXPECT_EQ(Kinds(events_), (std::vector<std::string>{"updated", "updated", "on_air"}));
}

TEST_F(CallRulesTest, OnlyAnInterpreterSpeaksIntoAChannelOfItsPairThatTheRoomOffers) {
  EXPECT_EQ(rules::SetSpeakLanguage(room_, P("guest"), "de", &events_).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(rules::SetSpeakLanguage(room_, P("int-a"), "fr", &events_).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rules::SetSpeakLanguage(room_, P("int-a"), "en", &events_).code(),
            absl::StatusCode::kInvalidArgument);  // of its pair, but no channel of the room
  EXPECT_TRUE(events_.empty());
  EXPECT_EQ(P("int-a").speak_language(), "");
}

TEST_F(CallRulesTest, AStandbyInterpreterTakesTheBoothOver) {
  ASSERT_TRUE(rules::SetSpeakLanguage(room_, P("int-a"), "de", &events_).ok());
  ASSERT_TRUE(rules::SetSpeakLanguage(room_, P("int-b"), "de", &events_).ok());
  EXPECT_EQ(rules::HandOverInterpretation(room_, P("int-a"), &events_).code(),
            absl::StatusCode::kFailedPrecondition);  // already on air
  EXPECT_EQ(rules::HandOverInterpretation(room_, P("guest"), &events_).code(),
            absl::StatusCode::kFailedPrecondition);
  events_.clear();
  ASSERT_TRUE(rules::HandOverInterpretation(room_, P("int-b"), &events_).ok());
  EXPECT_TRUE(P("int-b").on_air());
  EXPECT_FALSE(P("int-a").on_air());
  ASSERT_EQ(Kinds(events_), (std::vector<std::string>{"updated", "updated", "on_air"}));
  EXPECT_EQ(events_[2].interpreter_on_air().participant(), P("int-b").name());
  EXPECT_EQ(events_[2].interpreter_on_air().previous(), P("int-a").name());
  EXPECT_EQ(events_[2].interpreter_on_air().language(), "de");
}

TEST_F(CallRulesTest, WhenAnInterpreterOnAirLeavesThePartnerTakesOverAndPinsOnItEnd) {
  ASSERT_TRUE(rules::SetSpeakLanguage(room_, P("int-a"), "de", &events_).ok());
  ASSERT_TRUE(rules::SetSpeakLanguage(room_, P("int-b"), "de", &events_).ok());
  ASSERT_TRUE(rules::PinParticipant(room_, P("guest"), P("int-a").name(), &events_).ok());
  const v1::Participant leaving = P("int-a");
  EXPECT_TRUE(rules::RemoveParticipant(room_, "int-a", clock_.now()));
  events_.clear();
  EXPECT_TRUE(rules::AfterDeparture(room_, leaving, &events_));
  EXPECT_TRUE(P("int-b").on_air());
  EXPECT_EQ(P("guest").pinned_participant(), "");
  EXPECT_EQ(Kinds(events_), (std::vector<std::string>{"updated", "updated", "on_air"}));
  // A guest nobody pinned leaves without changing anyone's routing.
  const v1::Participant guest = P("guest");
  rules::RemoveParticipant(room_, "guest", clock_.now());
  events_.clear();
  EXPECT_FALSE(rules::AfterDeparture(room_, guest, &events_));
  EXPECT_TRUE(events_.empty());
}

TEST_F(CallRulesTest, APinNamesAnotherParticipantOfTheRoom) {
  EXPECT_EQ(
      rules::PinParticipant(room_, P("guest"), "rooms/other/participants/int-a", &events_).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rules::PinParticipant(room_, P("guest"), "rooms/r1/participants/", &events_).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      rules::PinParticipant(room_, P("guest"), "rooms/r1/participants/nobody", &events_).code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(rules::PinParticipant(room_, P("guest"), P("guest").name(), &events_).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(events_.empty());
  ASSERT_TRUE(rules::PinParticipant(room_, P("guest"), P("int-a").name(), &events_).ok());
  EXPECT_EQ(events_.size(), 1u);
  ASSERT_TRUE(rules::PinParticipant(room_, P("guest"), P("int-a").name(), &events_).ok());
  EXPECT_EQ(events_.size(), 1u);  // nothing changed, nothing published
}

TEST_F(CallRulesTest, OnePresenterAtATimeAndOnlyWithAContentStream) {
  EXPECT_EQ(rules::SetContentSharing(room_, P("guest"), true, &events_).code(),
            absl::StatusCode::kFailedPrecondition);
  room_.participants.at("guest").has_content = true;
  room_.participants.at("int-a").has_content = true;
  ASSERT_TRUE(rules::SetContentSharing(room_, P("guest"), true, &events_).ok());
  EXPECT_EQ(rules::SetContentSharing(room_, P("int-a"), true, &events_).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(rules::SetContentSharing(room_, P("guest"), false, &events_).ok());
  EXPECT_TRUE(rules::SetContentSharing(room_, P("int-a"), true, &events_).ok());
}

TEST_F(CallRulesTest, AScreenShareThatStoppedInARenegotiationEndsThePresentation) {
  RoomRecord::Member member;
  member.has_content = true;
  member.participant.set_content_sharing(true);
  rules::Events events;
  EXPECT_FALSE(rules::MediaRenegotiated(member, true, &events));  // still sharing
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(rules::MediaRenegotiated(member, false, &events));
  EXPECT_FALSE(member.has_content);
  EXPECT_FALSE(member.participant.content_sharing());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].participant_updated().participant().content_sharing());
  EXPECT_FALSE(rules::MediaRenegotiated(member, false, &events));  // nothing more to end
  EXPECT_EQ(events.size(), 1u);
}

TEST_F(CallRulesTest, NamesListeningMutingAndTheLobby) {
  EXPECT_EQ(rules::Rename(room_, P("guest"), P("int-a").display_name(), &events_).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(rules::Rename(room_, P("guest"), "Patient", &events_).ok());
  EXPECT_EQ(P("guest").display_name(), "Patient");

  EXPECT_EQ(rules::SetListenLanguage(room_, P("guest"), "fr", &events_).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(rules::SetListenLanguage(room_, P("guest"), "de", &events_).ok());
  EXPECT_EQ(P("guest").listen_language(), "de");

  events_.clear();
  rules::SetMuted(P("guest"), true, &events_);
  rules::SetMuted(P("guest"), true, &events_);
  EXPECT_EQ(events_.size(), 1u);

  EXPECT_EQ(rules::AdmitWaiting(P("guest"), &events_).code(),
            absl::StatusCode::kFailedPrecondition);
  P("guest").set_state(v1::PARTICIPANT_STATE_WAITING);
  events_.clear();
  EXPECT_TRUE(rules::AdmitWaiting(P("guest"), &events_).ok());
  EXPECT_EQ(P("guest").state(), v1::PARTICIPANT_STATE_ADMITTED);
  EXPECT_EQ(Kinds(events_), std::vector<std::string>{"admitted"});
}

TEST_F(RoomRulesTest, AnInterpreterWorksBetweenTwoLanguagesOneOfThemAChannelOfTheRoom) {
  RoomRecord room = MakeRoom();
  v1::LanguagePair pair;
  pair.set_first("de");
  pair.set_second("fr");
  EXPECT_TRUE(rules::CheckInterpreterPair(room, pair).ok());  // a room without channels
  room.room.add_languages("en");
  EXPECT_EQ(rules::CheckInterpreterPair(room, pair).code(), absl::StatusCode::kInvalidArgument);
  room.room.add_languages("fr");
  EXPECT_TRUE(rules::CheckInterpreterPair(room, pair).ok());
  pair.set_second("de");
  EXPECT_EQ(rules::CheckInterpreterPair(room, pair).code(), absl::StatusCode::kInvalidArgument);
  pair.set_second("x");
  EXPECT_EQ(rules::CheckInterpreterPair(room, pair).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(rules::ValidLanguage("pt-BR"));
  EXPECT_FALSE(rules::ValidLanguage("pt_BR"));
  EXPECT_FALSE(rules::ValidLanguage(std::string(36, 'a')));
}

TEST_F(RoomRulesTest, AOneTimeRoomEndsWhenItsLastParticipantLeaves) {
  RoomRecord room = MakeRoom(v1::ROOM_KIND_MEETING, v1::ACCESS_MODE_ONE_TIME);
  AddInvite(room, "i1", 'a');
  AddInvite(room, "i2", 'b');
  Join(room, ByInvite('a'), "p1");
  Join(room, ByInvite('b'), "p2");
  rules::RemoveParticipant(room, "p1", clock_.now());
  EXPECT_FALSE(rules::EndsWhenEmpty(room));
  rules::RemoveParticipant(room, "p2", clock_.now());
  EXPECT_TRUE(rules::EndsWhenEmpty(room));
  EXPECT_FALSE(rules::EndsWhenEmpty(MakeRoom()));
}

// ----- Routing -----

TEST_F(RoomRulesTest, AStandbyInterpreterIsMutedAndHearsItsChannelWithTheFloorAtFullLevel) {
  RoomRecord room = MakeRoom();
  room.room.set_floor_level_db(-20.0);
  room.room.add_languages("de");
  Join(room, ByPin(v1::ROLE_GUEST), "guest");
  Join(room, ByPin(v1::ROLE_GUEST), "on-air");
  Join(room, ByPin(v1::ROLE_GUEST), "standby");
  for (const char* id : {"on-air", "standby"}) {
    v1::Participant& interpreter = room.participants.at(id).participant;
    interpreter.set_role(v1::ROLE_INTERPRETER);
    interpreter.set_speak_language("de");
  }
  room.participants.at("on-air").participant.set_on_air(true);
  room.participants.at("guest").participant.set_listen_language("de");

  const auto updates = rules::RerouteAll(room, "");
  EXPECT_EQ(updates.size(), 3u);
  const auto& guest = room.participants.at("guest").routing;
  EXPECT_EQ(guest.listen_bus(), "de");
  EXPECT_DOUBLE_EQ(guest.floor_gain_db(), -20.0);
  const auto& on_air = room.participants.at("on-air").routing;
  EXPECT_FALSE(on_air.muted());
  EXPECT_EQ(on_air.speak_bus(), "de");
  EXPECT_EQ(on_air.listen_bus(), "");
  const auto& standby = room.participants.at("standby").routing;
  EXPECT_TRUE(standby.muted());
  EXPECT_EQ(standby.listen_bus(), "de");
  EXPECT_DOUBLE_EQ(standby.floor_gain_db(), 0.0);

  // Nothing changed: only `always` is sent again.
  const auto again = rules::RerouteAll(room, "guest");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].first, "guest");
}

// ----- A participant's own requests -----

TEST(OwnRequestTest, WaitingParticipantsOnlyLeaveAndOnlyAdmittedHostsManageTheRoom) {
  using rules::OwnRequest;
  const OwnRequest everyone[] = {OwnRequest::kLeave, OwnRequest::kRenegotiate};
  const OwnRequest own[] = {OwnRequest::kShare,    OwnRequest::kListen, OwnRequest::kSpeak,
                            OwnRequest::kHandOver, OwnRequest::kPin,    OwnRequest::kMuteSelf};
  const OwnRequest hosts[] = {OwnRequest::kAdmit, OwnRequest::kDeny, OwnRequest::kRemove,
                              OwnRequest::kMute,  OwnRequest::kLock, OwnRequest::kUnlock,
                              OwnRequest::kEnd};
  for (v1::Role role : {v1::ROLE_HOST, v1::ROLE_GUEST, v1::ROLE_INTERPRETER}) {
    for (OwnRequest request : everyone) {
      EXPECT_TRUE(rules::MayRequest(role, false, request).ok());
      EXPECT_TRUE(rules::MayRequest(role, true, request).ok());
    }
    for (OwnRequest request : own) {
      EXPECT_TRUE(absl::IsPermissionDenied(rules::MayRequest(role, false, request)));
      EXPECT_TRUE(rules::MayRequest(role, true, request).ok());
    }
    for (OwnRequest request : hosts) {
      EXPECT_TRUE(absl::IsPermissionDenied(rules::MayRequest(role, false, request)));
      EXPECT_EQ(rules::MayRequest(role, true, request).ok(), role == v1::ROLE_HOST);
    }
  }
}

}  // namespace
}  // namespace chorus::controller
