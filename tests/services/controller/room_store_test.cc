#include "services/controller/room_store.h"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/controller/postgres_room_store.h"
#include "services/controller/sqlite_room_store.h"
#include "tests/services/controller/store_peek.h"
#include "tests/support/postgres_server.h"

namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;
using testing::Ids;
using testing::Peek;
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

// What every store promises RoomsService, over each of them: in memory, a SQLite file, a
// PostgreSQL database (a throwaway server; skipped, saying why, only where the server binaries
// are not installed). Each step ends its section as RoomsService does (EndSection: a commit for
// PostgreSQL, nothing for the others).
enum class StoreKind { kMemory, kSqlite, kPostgres };

std::string StoreName(const ::testing::TestParamInfo<StoreKind>& info) {
  switch (info.param) {
    case StoreKind::kMemory:
      return "Memory";
    case StoreKind::kSqlite:
      return "Sqlite";
    case StoreKind::kPostgres:
      break;
  }
  return "Postgres";
}

class RoomStoreTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(::testing::TempDir(), "/room_store_",
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
    postgres_.reset();
    Forget();
  }
  void Forget() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
  }
  std::unique_ptr<RoomStore> Open() {
    switch (GetParam()) {
      case StoreKind::kMemory:
        return MakeInMemoryRoomStore();
      case StoreKind::kSqlite: {
        auto store = MakeSqliteRoomStore(path_, kNow);
        EXPECT_TRUE(store.ok()) << store.status();
        return store.ok() ? *std::move(store) : nullptr;
      }
      case StoreKind::kPostgres:
        break;
    }
    auto store = MakePostgresRoomStore(url_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
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
  std::unique_ptr<chorus::testing::PostgresServer> postgres_;
  std::string url_;
};

INSTANTIATE_TEST_SUITE_P(Stores, RoomStoreTest,
                         ::testing::Values(StoreKind::kMemory, StoreKind::kSqlite,
                                           StoreKind::kPostgres),
                         StoreName);

TEST_P(RoomStoreTest, KeepsRoomsInCreationOrderAndForgetsRemovedOnes) {
  std::unique_ptr<RoomStore> store = Open();
  ASSERT_NE(store, nullptr);
  for (const char* id : {"b-room", "a-room", "c-room"}) EXPECT_TRUE(store->Insert(Room(id)));
  EXPECT_FALSE(store->Insert(Room("a-room")));
  EXPECT_FALSE(store->Insert(nullptr));
  ASSERT_TRUE(store->EndSection().ok());
  ASSERT_EQ(store->size(), 3u);
  EXPECT_EQ(Ids(*store), (std::vector<std::string>{"b-room", "a-room", "c-room"}));
  ASSERT_TRUE(store->EndSection().ok());
  std::unique_ptr<RoomRecord> room = store->Load("a-room");
  ASSERT_NE(room, nullptr);
  room->next_guest = 7;
  EXPECT_EQ(Ids(*store), (std::vector<std::string>{"b-room", "c-room"}));  // handed out
  EXPECT_TRUE(store->Delete("a-room"));
  EXPECT_EQ(room->next_guest, 7);  // the caller's own record
  EXPECT_EQ(store->Load("a-room"), nullptr);
  EXPECT_FALSE(store->Delete("a-room"));
  EXPECT_FALSE(store->Put(std::move(room)).ok());  // no longer the store's
  ASSERT_TRUE(store->EndSection().ok());
  std::vector<std::string> ids;
  store->Scan(1, 99, [&](const RoomRecord& kept) { ids.push_back(kept.id); });
  EXPECT_EQ(ids, (std::vector<std::string>{"c-room"}));
  store->Scan(5, 9, [&](const RoomRecord&) { ADD_FAILURE() << "no room past the end"; });
  ASSERT_TRUE(store->EndSection().ok());
}

TEST_P(RoomStoreTest, ASavedChangeIsWhatTheStoreHoldsAfterwards) {
  std::unique_ptr<RoomStore> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(Room("changing")));
  ASSERT_TRUE(store->EndSection().ok());
  std::unique_ptr<RoomRecord> room = store->Load("changing");
  ASSERT_NE(room, nullptr);
  EXPECT_EQ(store->Load("changing"), nullptr);  // handed out once
  room->room.set_locked(true);
  room->next_sequence = 5;
  ASSERT_TRUE(store->Put(std::move(room)).ok());
  room = store->Load("changing");  // again in the same section: as it was put back
  ASSERT_NE(room, nullptr);
  EXPECT_EQ(room->next_sequence, 5);
  ASSERT_TRUE(store->Put(std::move(room)).ok());  // putting back what did not change is harmless
  ASSERT_TRUE(store->EndSection().ok());
  std::optional<RoomRecord> kept = Peek(*store, "changing");
  ASSERT_TRUE(kept.has_value());
  EXPECT_TRUE(kept->room.locked());
  EXPECT_EQ(kept->next_sequence, 5);
  ASSERT_TRUE(store->EndSection().ok());
  absl::StatusOr<int> purged = store->Purge();
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 0);  // nothing of a room it no longer holds
  ASSERT_TRUE(store->EndSection().ok());
}

// The stores that outlive their process: what was saved is there when the store is opened again,
// as RoomsService's rules need it (invites, PINs and their lockout, events, numbering), and a
// removed room is not.
class DurableRoomStoreTest : public RoomStoreTest {};

INSTANTIATE_TEST_SUITE_P(Stores, DurableRoomStoreTest,
                         ::testing::Values(StoreKind::kSqlite, StoreKind::kPostgres), StoreName);

TEST_P(DurableRoomStoreTest, WhatWasSavedIsThereWhenTheStoreIsOpenedAgain) {
  {
    std::unique_ptr<RoomStore> store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Insert(Room("b-room")));
    ASSERT_TRUE(store->Insert(Room("a-room")));
    ASSERT_TRUE(store->Insert(Room("gone-room")));
    ASSERT_TRUE(store->EndSection().ok());
    std::unique_ptr<RoomRecord> loaded = store->Load("a-room");
    ASSERT_NE(loaded, nullptr);
    RoomRecord& room = *loaded;
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
    ASSERT_TRUE(store->Put(std::move(loaded)).ok());
    ASSERT_TRUE(store->Delete("gone-room"));
    ASSERT_TRUE(store->EndSection().ok());
  }
  std::unique_ptr<RoomStore> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(store->size(), 2u);
  EXPECT_EQ(Ids(*store)[0], "b-room");  // creation order
  EXPECT_EQ(store->Load("gone-room"), nullptr);
  const std::optional<RoomRecord> a_room = Peek(*store, "a-room");
  ASSERT_TRUE(a_room.has_value());
  const RoomRecord& room = *a_room;
  EXPECT_EQ(room.room.name(), "rooms/a-room");
  EXPECT_EQ(room.room.kind(), v1::ROOM_KIND_CONSULTATION);
  EXPECT_EQ(room.host_pin_hash, "$argon2id$host");
  EXPECT_EQ(room.guest_pin_hash, "$argon2id$guest");
  EXPECT_EQ(room.invite_order, (std::vector<std::string>{"i1", "i0"}));
  EXPECT_EQ(room.invites.at("i1").token_hash, std::string("\x00\xff\x10 binary", 10));
  EXPECT_EQ(room.invites.at("i0").invite.state(), v1::INVITE_STATE_USED);
  EXPECT_EQ(room.next_guest, 4);
  EXPECT_EQ(room.next_sequence, 12);
  ASSERT_EQ(room.history.size(), 11u);
  EXPECT_EQ(room.history.back().sequence(), 11);
  EXPECT_EQ(room.wrong_pins.size(), 2u);
  EXPECT_EQ(room.pin_locked_until, kNow + absl::Minutes(5));
  ASSERT_EQ(room.pin_sources.size(), 1u);
  EXPECT_EQ(room.pin_sources.begin()->second.wrong_pins.front(), kNow - absl::Seconds(10));
  EXPECT_TRUE(room.ever_joined);
  EXPECT_EQ(Peek(*store, "b-room")->empty_since, kNow - absl::Minutes(1));
  ASSERT_TRUE(store->EndSection().ok());
}

}  // namespace
}  // namespace chorus::controller
