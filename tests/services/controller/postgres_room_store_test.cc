#include "services/controller/postgres_room_store.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "tests/services/controller/store_peek.h"
#include "tests/support/postgres_server.h"

namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;
using chorus::testing::PostgresServer;
using testing::Peek;

// A throwaway server per test process (see PostgresServer), a database per test. Skipped, saying
// why, only where the PostgreSQL server binaries are not installed.
class PostgresRoomStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    server_ = PostgresServer::Start(&why);
    if (server_ == nullptr) {
      if (!PostgresServer::BinariesPresent()) GTEST_SKIP() << why;
      FAIL() << why;
    }
    url_ = server_->NewDatabase();
  }
  void TearDown() override { server_.reset(); }

  std::unique_ptr<RoomStore> Open() {
    auto store = MakePostgresRoomStore(url_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  std::string Sql(const std::string& sql) { return PostgresServer::Sql(url_, sql); }

  static std::unique_ptr<RoomRecord> Room(const std::string& id) {
    auto room = std::make_unique<RoomRecord>();
    room->id = id;
    room->room.set_name(absl::StrCat(kRoomsPrefix, id));
    room->room.set_kind(v1::ROOM_KIND_MEETING);
    room->room.set_state(v1::ROOM_STATE_OPEN);
    return room;
  }
  // An event published in `room` in the current section, as RoomsService does.
  static void Publish(RoomStore& store, RoomRecord& room) {
    v1::RoomEvent event;
    event.set_sequence(room.next_sequence++);
    event.set_room(room.room.name());
    event.mutable_room_locked();
    room.history.push_back(event);
    EXPECT_TRUE(store.AddEvent(room, event));
  }

  std::unique_ptr<PostgresServer> server_;
  std::string url_;
};

TEST_F(PostgresRoomStoreTest, TheSchemaIsMigratedOnceAndANewerOneIsRefused) {
  { ASSERT_NE(Open(), nullptr); }
  { ASSERT_NE(Open(), nullptr); }  // and opening again migrates nothing
  EXPECT_EQ(Sql("SELECT count(*) FROM chorus_schema_version"),
            std::to_string(internal::kPostgresSchemaVersion));
  Sql(absl::StrCat("INSERT INTO chorus_schema_version VALUES (",
                   internal::kPostgresSchemaVersion + 1, ")"));
  auto store = MakePostgresRoomStore(url_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(store.status().message(), "newer than this chorusd"))
      << store.status();
}

TEST_F(PostgresRoomStoreTest, AnUnreachableDatabaseIsUnavailableAndTheUrlIsNotRepeated) {
  auto store = MakePostgresRoomStore(
      "postgresql://chorus:secret-password@127.0.0.1:1/nowhere?connect_timeout=2");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(absl::StrContains(store.status().message(), "secret-password")) << store.status();
}

TEST_F(PostgresRoomStoreTest, ARowThatDoesNotParseIsRefusedAtStartNamingTheRoom) {
  {
    std::unique_ptr<RoomStore> store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Insert(Room("fine")));
    ASSERT_TRUE(store->EndSection().ok());
  }
  Sql("INSERT INTO chorus_rooms (id, version, record) VALUES ('broken', 1, '\\xffffffff0102')");
  auto store = MakePostgresRoomStore(url_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(store.status().message(), "\"broken\"")) << store.status();
}

// What one replica commits, the other reads when it next loads the room: participants, media
// node and all.
TEST_F(PostgresRoomStoreTest, AReplicaReadsWhatAnotherCommittedIntoItsOwnCopy) {
  std::unique_ptr<RoomStore> a = Open();
  std::unique_ptr<RoomStore> b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->Insert(Room("shared-room")));
  ASSERT_TRUE(a->EndSection().ok());

  std::optional<RoomRecord> seen = Peek(*b, "shared-room");
  ASSERT_TRUE(seen.has_value());
  EXPECT_TRUE(seen->participants.empty());
  ASSERT_TRUE(b->EndSection().ok());

  std::unique_ptr<RoomRecord> room = a->Load("shared-room");
  ASSERT_NE(room, nullptr);
  RoomRecord::Member member;
  member.participant.set_name("rooms/shared-room/participants/p1");
  member.participant.set_display_name("Guest01");
  member.participant.set_state(v1::PARTICIPANT_STATE_ADMITTED);
  member.routing.set_admitted(true);
  member.pending = false;
  member.webrtc = true;
  room->participants.emplace("p1", member);
  room->participant_order.push_back("p1");
  room->room.set_participant_count(1);
  room->room.set_state(v1::ROOM_STATE_ACTIVE);
  room->room.set_media_node("10.0.0.7:7701");
  room->node = 0;
  room->session_ready = true;
  room->speakers[""] = {"rooms/shared-room/participants/p1"};
  room->next_guest = 2;
  ASSERT_TRUE(a->Put(std::move(room)).ok());
  ASSERT_TRUE(a->EndSection().ok());

  std::unique_ptr<RoomRecord> again = b->Load("shared-room");
  ASSERT_NE(again, nullptr);
  ASSERT_EQ(again->participant_order, (std::vector<std::string>{"p1"}));
  const RoomRecord::Member& copy = again->participants.at("p1");
  EXPECT_EQ(copy.participant.display_name(), "Guest01");
  EXPECT_TRUE(copy.routing.admitted());
  EXPECT_FALSE(copy.pending);
  EXPECT_TRUE(copy.webrtc);
  EXPECT_EQ(again->room.participant_count(), 1);
  EXPECT_EQ(again->room.state(), v1::ROOM_STATE_ACTIVE);
  EXPECT_EQ(again->room.media_node(), "10.0.0.7:7701");
  EXPECT_EQ(again->node, 0);
  EXPECT_TRUE(again->session_ready);
  EXPECT_EQ(again->speakers.at("").size(), 1u);
  EXPECT_EQ(again->next_guest, 2);
  ASSERT_TRUE(b->Put(std::move(again)).ok());
  ASSERT_TRUE(b->EndSection().ok());

  // Deleted through one, gone from the other's lists and loads.
  ASSERT_TRUE(b->Delete("shared-room"));
  ASSERT_TRUE(b->EndSection().ok());
  EXPECT_EQ(a->size(), 0u);
  EXPECT_EQ(a->Load("shared-room"), nullptr);
  ASSERT_TRUE(a->EndSection().ok());
}

// Two replicas take a room's row one after the other: the second waits for the first's commit and
// then sees its change (the rule of a single-use invite).
TEST_F(PostgresRoomStoreTest, ASectionWaitsForAnotherReplicasSectionOnTheSameRoom) {
  std::unique_ptr<RoomStore> a = Open();
  std::unique_ptr<RoomStore> b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->Insert(Room("raced")));
  ASSERT_TRUE(a->EndSection().ok());

  std::unique_ptr<RoomRecord> first = a->Load("raced");  // a holds the row
  ASSERT_NE(first, nullptr);
  std::atomic<int> second_saw{-1};
  absl::Notification b_done;
  std::thread other([&] {
    std::unique_ptr<RoomRecord> second = b->Load("raced");  // waits for a's commit
    second_saw = second != nullptr ? second->next_guest : -2;
    if (second != nullptr) (void)b->Put(std::move(second));
    (void)b->EndSection();
    b_done.Notify();
  });
  EXPECT_FALSE(b_done.WaitForNotificationWithTimeout(absl::Milliseconds(300)));
  first->next_guest = 42;
  ASSERT_TRUE(a->Put(std::move(first)).ok());
  ASSERT_TRUE(a->EndSection().ok());
  other.join();
  EXPECT_EQ(second_saw.load(), 42);
}

TEST_F(PostgresRoomStoreTest, ARoomCreatedThroughTwoReplicasAtOnceExistsOnce) {
  std::unique_ptr<RoomStore> a = Open();
  std::unique_ptr<RoomStore> b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->Load("twin"), nullptr);
  ASSERT_TRUE(a->Insert(Room("twin")));  // not committed yet
  std::atomic<int> inserted{-1};
  std::thread other([&] {
    EXPECT_EQ(b->Load("twin"), nullptr);
    inserted = b->Insert(Room("twin")) ? 1 : 0;  // waits for a's commit, then finds it taken
    (void)b->EndSection();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(a->EndSection().ok());
  other.join();
  EXPECT_EQ(inserted.load(), 0);
  EXPECT_EQ(b->size(), 1u);
  ASSERT_TRUE(b->EndSection().ok());
}

// Every replica hands out every replica's events, in commit order, each once, numbered without
// gaps; the listener wakes the owner when another replica committed some.
TEST_F(PostgresRoomStoreTest, EveryReplicaGetsEveryEventInCommitOrderOnce) {
  std::unique_ptr<RoomStore> a = Open();
  std::unique_ptr<RoomStore> b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::atomic<int> a_woken{0};
  std::atomic<int> b_woken{0};
  a->SetEventListener([&] { ++a_woken; });
  b->SetEventListener([&] { ++b_woken; });
  // What each had before (none).
  EXPECT_TRUE(a->TakeEvents().empty());
  EXPECT_TRUE(b->TakeEvents().empty());
  ASSERT_TRUE(a->Insert(Room("one")));
  ASSERT_TRUE(a->Insert(Room("two")));
  ASSERT_TRUE(a->EndSection().ok());

  std::vector<v1::RoomEvent> from_a;
  std::vector<v1::RoomEvent> from_b;
  for (int round = 0; round < 5; ++round) {
    for (RoomStore* store : {a.get(), b.get()}) {
      for (const char* id : {"one", "two"}) {
        std::unique_ptr<RoomRecord> room = store->Load(id);
        ASSERT_NE(room, nullptr);
        Publish(*store, *room);
        ASSERT_TRUE(store->Put(std::move(room)).ok());
      }
      ASSERT_TRUE(store->EndSection().ok());
      for (auto& event : a->TakeEvents()) from_a.push_back(event);
    }
  }
  // b's last commit reaches a through its listener.
  for (int i = 0; i < 250 && (from_a.size() < 20 || b_woken.load() == 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (auto& event : a->TakeEvents()) from_a.push_back(event);
  }
  EXPECT_GT(a_woken.load(), 0);
  EXPECT_GT(b_woken.load(), 0);
  for (auto& event : b->TakeEvents()) from_b.push_back(event);
  ASSERT_EQ(from_a.size(), 20u);
  ASSERT_EQ(from_b.size(), 20u);
  for (size_t i = 0; i < from_a.size(); ++i) {
    EXPECT_EQ(from_a[i].SerializeAsString(), from_b[i].SerializeAsString()) << i;
    if (i > 0) {
      EXPECT_EQ(from_a[i].stream_sequence(), from_a[i - 1].stream_sequence() + 1) << i;
    }
  }
  // Each room's own numbering is in order, whichever replica published.
  int64_t last_one = 0;
  for (const auto& event : from_a) {
    if (event.room() != "rooms/one") continue;
    EXPECT_EQ(event.sequence(), last_one + 1);
    last_one = event.sequence();
  }
  EXPECT_EQ(last_one, 10);
  // The room's history carries the numbers too (WatchRoom resumes from it).
  std::optional<RoomRecord> one = Peek(*b, "one");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->history.back().stream_sequence(),
            from_a.back().room() == "rooms/one" ? from_a.back().stream_sequence()
                                                : from_a[from_a.size() - 2].stream_sequence());
  ASSERT_TRUE(b->EndSection().ok());
  a->SetEventListener(nullptr);
  b->SetEventListener(nullptr);

  // A replica that starts gets the kept events first.
  std::unique_ptr<RoomStore> c = Open();
  ASSERT_NE(c, nullptr);
  std::vector<v1::RoomEvent> from_c = c->TakeEvents();
  ASSERT_EQ(from_c.size(), 20u);
  EXPECT_EQ(from_c.front().stream_sequence(), from_a.front().stream_sequence());
}

TEST_F(PostgresRoomStoreTest, AFailedSectionChangesNothingAndItsRoomsAreReadAgain) {
  std::unique_ptr<RoomStore> a = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->Insert(Room("kept")));
  ASSERT_TRUE(a->EndSection().ok());
  std::unique_ptr<RoomRecord> room = a->Load("kept");
  ASSERT_NE(room, nullptr);
  room->next_guest = 9;
  Publish(*a, *room);
  ASSERT_TRUE(a->Put(std::move(room)).ok());
  // The database refuses the section's writes.
  Sql("ALTER TABLE chorus_events ADD CONSTRAINT no_events CHECK (sequence < 0)");
  EXPECT_FALSE(a->EndSection().ok());
  EXPECT_TRUE(a->TakeEvents().empty());
  Sql("ALTER TABLE chorus_events DROP CONSTRAINT no_events");
  room = a->Load("kept");
  ASSERT_NE(room, nullptr);
  EXPECT_EQ(room->next_guest, 1);
  EXPECT_EQ(room->next_sequence, 1);
  EXPECT_TRUE(room->history.empty());
  ASSERT_TRUE(a->Put(std::move(room)).ok());
  ASSERT_TRUE(a->EndSection().ok());
}

TEST_F(PostgresRoomStoreTest, OneReplicaAtATimeDoesTheBackgroundWork) {
  std::unique_ptr<RoomStore> a = Open();
  std::unique_ptr<RoomStore> b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(a->LeadsBackgroundWork());
  ASSERT_TRUE(a->EndSection().ok());
  EXPECT_FALSE(b->LeadsBackgroundWork());
  ASSERT_TRUE(b->EndSection().ok());
  EXPECT_TRUE(a->LeadsBackgroundWork());
  ASSERT_TRUE(a->EndSection().ok());
  a.reset();  // its connection ends, and its lock with it (once the server has seen it end)
  bool leads = false;
  for (int i = 0; i < 100 && !leads; ++i) {
    leads = b->LeadsBackgroundWork();
    ASSERT_TRUE(b->EndSection().ok());
    if (!leads) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(leads);
}

TEST_F(PostgresRoomStoreTest, PurgeDeletesTheEventsOfRoomsThatEnded) {
  std::unique_ptr<RoomStore> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(Room("stays")));
  ASSERT_TRUE(store->Insert(Room("ends")));
  for (const char* id : {"stays", "ends"}) {
    std::unique_ptr<RoomRecord> room = store->Load(id);
    ASSERT_NE(room, nullptr);
    Publish(*store, *room);
    ASSERT_TRUE(store->Put(std::move(room)).ok());
  }
  ASSERT_TRUE(store->EndSection().ok());
  std::unique_ptr<RoomRecord> ended = store->Load("ends");
  ASSERT_NE(ended, nullptr);
  ASSERT_TRUE(store->Delete("ends"));
  Publish(*store, *ended);  // as room_closed would be
  ASSERT_TRUE(store->EndSection().ok());
  EXPECT_EQ(Sql("SELECT count(*) FROM chorus_events WHERE room = 'ends'"), "2");
  // Not at once (the other replicas read them first)...
  absl::StatusOr<int> purged = store->Purge();
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 0);
  ASSERT_TRUE(store->EndSection().ok());
  // ...but once they are a minute old.
  Sql("UPDATE chorus_events SET created = now() - interval '2 minutes'");
  purged = store->Purge();
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 1);
  ASSERT_TRUE(store->EndSection().ok());
  EXPECT_EQ(Sql("SELECT count(*) FROM chorus_events WHERE room = 'ends'"), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM chorus_events WHERE room = 'stays'"), "1");
  EXPECT_EQ(Sql("SELECT count(*) FROM chorus_rooms WHERE id = 'ends'"), "0");
}

}  // namespace
}  // namespace chorus::controller
