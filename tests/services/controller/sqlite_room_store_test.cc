#include "services/controller/sqlite_room_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "chorus/v1/controller_state.pb.h"
#include "gtest/gtest.h"
#include "tests/services/controller/store_peek.h"

namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;
using testing::Ids;
using testing::Peek;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

class SqliteRoomStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(::testing::TempDir(), "/sqlite_store_",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".db");
    Forget();
  }
  void TearDown() override { Forget(); }
  void Forget() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
  }
  std::unique_ptr<RoomStore> Open(absl::Time now = kNow) {
    auto store = MakeSqliteRoomStore(path_, now);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  // Runs SQL on the file as another program would (the store must be closed).
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  static std::unique_ptr<RoomRecord> Room(const std::string& id) {
    auto room = std::make_unique<RoomRecord>();
    room->id = id;
    room->room.set_name(absl::StrCat(kRoomsPrefix, id));
    room->room.set_kind(v1::ROOM_KIND_CONSULTATION);
    room->room.set_state(v1::ROOM_STATE_OPEN);
    room->empty_since = kNow - absl::Minutes(1);
    return room;
  }

  std::string path_;
};

TEST_F(SqliteRoomStoreTest, ARoomComesBackAsItWasSavedWithoutItsParticipants) {
  {
    std::unique_ptr<RoomStore> store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Insert(Room("b-room")));
    ASSERT_TRUE(store->Insert(Room("a-room")));
    std::unique_ptr<RoomRecord> room_held = store->Load("a-room");
    ASSERT_NE(room_held, nullptr);
    RoomRecord& room = *room_held;
    room.host_pin_hash = "$argon2id$host";
    room.guest_pin_hash = "$argon2id$guest";
    RoomRecord::Invite invite;
    invite.invite.set_name("rooms/a-room/invites/i1");
    invite.invite.set_state(v1::INVITE_STATE_PENDING);
    invite.token_hash = std::string("\x00\xff\x10 binary", 10);
    room.invites.emplace("i1", invite);
    invite.invite.set_name("rooms/a-room/invites/i0");
    invite.invite.set_state(v1::INVITE_STATE_USED);
    room.invites.emplace("i0", invite);
    room.invite_order = {"i1", "i0"};
    room.next_guest = 4;
    room.next_sequence = 12;
    for (int64_t sequence = 1; sequence < 12; ++sequence) {
      v1::RoomEvent event;
      event.set_sequence(sequence);
      event.mutable_room_locked();
      room.history.push_back(event);
    }
    room.wrong_pins = {kNow - absl::Seconds(30), kNow - absl::Seconds(20)};
    room.pin_locked_until = kNow + absl::Minutes(5);
    room.pin_sources[std::string("\x01\x02", 2)].wrong_pins = {kNow - absl::Seconds(10)};
    room.ever_joined = true;
    RoomRecord::Member member;
    member.participant.set_name("rooms/a-room/participants/p1");
    room.participants.emplace("p1", member);
    room.participant_order = {"p1"};
    room.room.set_participant_count(1);
    room.room.set_state(v1::ROOM_STATE_ACTIVE);
    room.room.set_media_node("node-1");
    room.node = 0;
    room.session_ready = true;
    ASSERT_TRUE(store->Put(std::move(room_held)).ok());
  }
  const absl::Time restarted = kNow + absl::Hours(1);
  std::unique_ptr<RoomStore> store = Open(restarted);
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(store->size(), 2u);
  EXPECT_EQ(Ids(*store)[0], "b-room");  // creation order
  EXPECT_EQ(Peek(*store, "b-room")->empty_since, kNow - absl::Minutes(1));
  const std::unique_ptr<RoomRecord> room_held = store->Load("a-room");
  ASSERT_NE(room_held, nullptr);
  RoomRecord& room = *room_held;
  EXPECT_EQ(room.room.name(), "rooms/a-room");
  EXPECT_EQ(room.room.kind(), v1::ROOM_KIND_CONSULTATION);
  EXPECT_EQ(room.host_pin_hash, "$argon2id$host");
  EXPECT_EQ(room.guest_pin_hash, "$argon2id$guest");
  EXPECT_EQ(room.invite_order, (std::vector<std::string>{"i1", "i0"}));
  EXPECT_EQ(room.invites.at("i1").token_hash, std::string("\x00\xff\x10 binary", 10));
  EXPECT_EQ(room.invites.at("i1").invite.state(), v1::INVITE_STATE_PENDING);
  EXPECT_EQ(room.invites.at("i0").invite.state(), v1::INVITE_STATE_USED);
  EXPECT_EQ(room.next_guest, 4);
  EXPECT_EQ(room.next_sequence, 12);
  ASSERT_EQ(room.history.size(), 11u);
  EXPECT_EQ(room.history.back().sequence(), 11);
  EXPECT_EQ(room.wrong_pins.size(), 2u);
  EXPECT_EQ(room.pin_locked_until, kNow + absl::Minutes(5));
  ASSERT_EQ(room.pin_sources.size(), 1u);
  EXPECT_EQ(room.pin_sources.begin()->first, std::string("\x01\x02", 2));
  EXPECT_EQ(room.pin_sources.begin()->second.wrong_pins.front(), kNow - absl::Seconds(10));
  EXPECT_EQ(room.pin_sources.begin()->second.locked_until, absl::InfinitePast());
  EXPECT_TRUE(room.ever_joined);
  // Nobody is in it any more: open, on no media node, empty since the restart.
  EXPECT_TRUE(room.participants.empty());
  EXPECT_EQ(room.room.participant_count(), 0);
  EXPECT_EQ(room.room.state(), v1::ROOM_STATE_OPEN);
  EXPECT_TRUE(room.room.media_node().empty());
  EXPECT_EQ(room.node, -1);
  EXPECT_FALSE(room.session_ready);
  EXPECT_EQ(room.empty_since, restarted);
}

// The call in a room outlives the controller (its media runs on a media node): its participants
// come back as they were (but for who was speaking), in joining order, with their routing and the
// node's lasting identity, marked restored until the controller has asked that node. A join that
// was still setting up its media is not kept, and its invite comes back usable.
TEST_F(SqliteRoomStoreTest, ACallComesBackWithItsParticipantsButNotAJoinStillSettingUp) {
  {
    std::unique_ptr<RoomStore> store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Insert(Room("call")));
    std::unique_ptr<RoomRecord> room_held = store->Load("call");
    ASSERT_NE(room_held, nullptr);
    RoomRecord& room = *room_held;
    auto add = [&](const std::string& id, v1::Role role, v1::ParticipantState state, bool pending) {
      RoomRecord::Member member;
      member.participant.set_name("rooms/call/participants/" + id);
      member.participant.set_display_name("Pseudonym-" + id);
      member.participant.set_role(role);
      member.participant.set_state(state);
      member.participant.set_speaking(true);
      member.routing.set_admitted(state == v1::PARTICIPANT_STATE_ADMITTED);
      member.routing.set_floor_gain_db(-15.0);
      member.pending = pending;
      member.webrtc = id == "p2";
      member.has_content = id == "p2";
      room.participants.emplace(id, member);
      room.participant_order.push_back(id);
    };
    add("p2", v1::ROLE_HOST, v1::PARTICIPANT_STATE_ADMITTED, false);
    add("p1", v1::ROLE_GUEST, v1::PARTICIPANT_STATE_WAITING, false);
    add("p3", v1::ROLE_GUEST, v1::PARTICIPANT_STATE_ADMITTED, true);  // still joining
    room.participants.at("p1").participant.set_muted(true);
    room.participants.at("p1").routing.set_muted(true);
    for (const char* id : {"i1", "i3"}) {
      RoomRecord::Invite invite;
      invite.invite.set_name(absl::StrCat("rooms/call/invites/", id));
      invite.invite.set_state(v1::INVITE_STATE_USED);
      invite.invite.mutable_use_time()->set_seconds(1);
      invite.invite.set_participant(absl::StrCat("rooms/call/participants/p", id + 1));
      invite.token_hash = absl::StrCat("hash-", id);
      room.invites.emplace(id, invite);
      room.invite_order.push_back(id);
    }
    room.room.set_participant_count(3);
    room.room.set_state(v1::ROOM_STATE_ACTIVE);
    room.room.set_media_node("10.0.0.7:7701");
    room.node = 2;
    room.node_address = "10.0.0.7:7701";
    room.node_id = "media-7";
    room.session_ready = true;
    ASSERT_TRUE(store->Put(std::move(room_held)).ok());
  }
  std::unique_ptr<RoomStore> store = Open(kNow + absl::Minutes(1));
  ASSERT_NE(store, nullptr);
  const std::unique_ptr<RoomRecord> room_held = store->Load("call");
  ASSERT_NE(room_held, nullptr);
  RoomRecord& room = *room_held;
  EXPECT_EQ(room.participant_order, (std::vector<std::string>{"p2", "p1"}));
  ASSERT_EQ(room.participants.size(), 2u);
  const RoomRecord::Member& host = room.participants.at("p2");
  EXPECT_FALSE(host.pending);
  EXPECT_EQ(host.participant.display_name(), "Pseudonym-p2");
  EXPECT_EQ(host.participant.role(), v1::ROLE_HOST);
  EXPECT_FALSE(host.participant.speaking());  // not kept
  EXPECT_TRUE(host.routing.admitted());
  EXPECT_TRUE(host.webrtc);
  EXPECT_TRUE(host.has_content);
  const RoomRecord::Member& guest = room.participants.at("p1");
  EXPECT_EQ(guest.participant.state(), v1::PARTICIPANT_STATE_WAITING);
  EXPECT_TRUE(guest.participant.muted());
  EXPECT_TRUE(guest.routing.muted());
  EXPECT_FALSE(guest.routing.admitted());
  EXPECT_FALSE(guest.webrtc);
  // On its node by lasting identity; the index belongs to the process that asks the node.
  EXPECT_TRUE(room.restored);
  EXPECT_EQ(room.node, -1);
  EXPECT_FALSE(room.session_ready);
  EXPECT_EQ(room.node_address, "10.0.0.7:7701");
  EXPECT_EQ(room.node_id, "media-7");
  EXPECT_EQ(room.room.media_node(), "10.0.0.7:7701");
  EXPECT_EQ(room.room.state(), v1::ROOM_STATE_ACTIVE);
  EXPECT_EQ(room.room.participant_count(), 2);
  EXPECT_EQ(room.empty_since, kNow - absl::Minutes(1));
  // The invite of the join that was setting up is usable again; the other stays used.
  EXPECT_EQ(room.invites.at("i1").invite.state(), v1::INVITE_STATE_USED);
  EXPECT_EQ(room.invites.at("i1").invite.participant(), "rooms/call/participants/p1");
  EXPECT_EQ(room.invites.at("i3").invite.state(), v1::INVITE_STATE_PENDING);
  EXPECT_TRUE(room.invites.at("i3").invite.participant().empty());
  EXPECT_FALSE(room.invites.at("i3").invite.has_use_time());
}

// A row written before participants were kept loads as it did: nobody in the room, empty since
// the restart when somebody was in it.
TEST_F(SqliteRoomStoreTest, ARowWrittenBeforeParticipantsWereKeptLoadsAsAnEmptyRoom) {
  { ASSERT_NE(Open(), nullptr); }
  chorus::internal::v1::StoredRoom old;
  old.set_id("old-row");
  old.mutable_room()->set_name("rooms/old-row");
  old.mutable_room()->set_state(v1::ROOM_STATE_ACTIVE);
  old.mutable_room()->set_participant_count(2);
  old.mutable_room()->set_media_node("in-process");
  std::string hex;
  for (unsigned char c : old.SerializeAsString())
    absl::StrAppend(&hex, absl::Hex(c, absl::kZeroPad2));
  Sql(absl::StrCat("INSERT INTO rooms (id, record) VALUES ('old-row', x'", hex, "')"));
  std::unique_ptr<RoomStore> store = Open(kNow + absl::Hours(1));
  ASSERT_NE(store, nullptr);
  const std::unique_ptr<RoomRecord> room_held = store->Load("old-row");
  ASSERT_NE(room_held, nullptr);
  RoomRecord& room = *room_held;
  EXPECT_TRUE(room.participants.empty());
  EXPECT_FALSE(room.restored);
  EXPECT_EQ(room.room.state(), v1::ROOM_STATE_OPEN);
  EXPECT_EQ(room.room.participant_count(), 0);
  EXPECT_TRUE(room.room.media_node().empty());
  EXPECT_EQ(room.empty_since, kNow + absl::Hours(1));
}

TEST_F(SqliteRoomStoreTest, ARemovedRoomIsGoneAfterARestart) {
  {
    std::unique_ptr<RoomStore> store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Insert(Room("keep")));
    ASSERT_TRUE(store->Insert(Room("drop")));
    EXPECT_FALSE(store->Insert(Room("keep")));  // id taken
    ASSERT_TRUE(store->Delete("drop"));
    EXPECT_FALSE(store->Delete("drop"));
  }
  std::unique_ptr<RoomStore> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->size(), 1u);
  EXPECT_TRUE(Peek(*store, "keep").has_value());
  EXPECT_EQ(store->Load("drop"), nullptr);
}

TEST_F(SqliteRoomStoreTest, PurgeDeletesTheRowsOfRoomsTheStoreNoLongerHolds) {
  {
    std::unique_ptr<RoomStore> store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Insert(Room("kept-room")));
    // A row the store does not hold, as a delete that failed would leave it.
    Sql("INSERT INTO rooms (id, record) VALUES ('ghost-room', x'0a0a67686f73742d726f6f6d')");
    absl::StatusOr<int> purged = store->Purge();
    ASSERT_TRUE(purged.ok()) << purged.status();
    EXPECT_EQ(*purged, 1);
    purged = store->Purge();
    ASSERT_TRUE(purged.ok()) << purged.status();
    EXPECT_EQ(*purged, 0);
    // The journal was checkpointed and truncated: no old copy of the row waits in it.
    struct stat wal {};
    ASSERT_EQ(::stat((path_ + "-wal").c_str(), &wal), 0);
    EXPECT_EQ(wal.st_size, 0);
  }
  std::unique_ptr<RoomStore> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->size(), 1u);
  EXPECT_TRUE(Peek(*store, "kept-room").has_value());
}

TEST_F(SqliteRoomStoreTest, AFileOfANewerSchemaIsRefused) {
  { ASSERT_NE(Open(), nullptr); }
  Sql(absl::StrCat("INSERT INTO schema_version VALUES (", internal::kSqliteSchemaVersion + 1, ")"));
  auto store = MakeSqliteRoomStore(path_, kNow);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(store.status().message(), "newer than this chorusd"))
      << store.status();
}

TEST_F(SqliteRoomStoreTest, AnEmptyFileIsMigratedToTheCurrentSchema) {
  { ASSERT_NE(Open(), nullptr); }
  { ASSERT_NE(Open(), nullptr); }  // and opening again migrates nothing
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*), MAX(version) FROM schema_version", -1,
                               &statement, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(statement, 0), internal::kSqliteSchemaVersion);
  EXPECT_EQ(sqlite3_column_int(statement, 1), internal::kSqliteSchemaVersion);
  sqlite3_finalize(statement);
  sqlite3_close(db);
}

TEST_F(SqliteRoomStoreTest, ACorruptRowIsRefusedNamingTheRoom) {
  {
    std::unique_ptr<RoomStore> store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Insert(Room("fine")));
  }
  Sql("INSERT INTO rooms (id, record) VALUES ('broken', x'ffffffff0102')");
  auto store = MakeSqliteRoomStore(path_, kNow);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(store.status().message(), "\"broken\"")) << store.status();
}

TEST_F(SqliteRoomStoreTest, AFileThatIsNotADatabaseIsRefused) {
  std::FILE* file = std::fopen(path_.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  std::fputs("these are not the rooms you are looking for, not at all, no.......", file);
  std::fclose(file);
  auto store = MakeSqliteRoomStore(path_, kNow);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
}

TEST_F(SqliteRoomStoreTest, TheFileIsForItsOwnerOnly) {
  std::unique_ptr<RoomStore> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(Room("private")));
  struct stat info {};
  ASSERT_EQ(::stat(path_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(SqliteRoomStoreTest, OneControllerPerFile) {
  std::unique_ptr<RoomStore> first = Open();
  ASSERT_NE(first, nullptr);
  auto second = MakeSqliteRoomStore(path_, kNow);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
}

}  // namespace
}  // namespace chorus::controller
