#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chorus/v1/rooms.pb.h"
#include "services/controller/room_record.h"

namespace chorus::controller {

// Where the controller keeps its rooms. RoomsService makes every call, and every use of a
// returned pointer, under its own mutex, so that a rule of several steps (check the lock, the
// PIN, the limit, then add the participant) is one atomic change; an implementation therefore
// needs no lock of its own. A store shared by several controllers offers the same atomicity
// with a transaction around each section (the hooks at the end; MakePostgresRoomStore()), which
// is why the interface hands out records to change in place rather than copies.
class RoomStore {
 public:
  virtual ~RoomStore() = default;

  // Adds a room; false (and the room is dropped) when its id is taken.
  virtual bool Insert(std::unique_ptr<RoomRecord> room) = 0;
  // The room with this id, or nullptr.
  virtual RoomRecord* Find(std::string_view id) = 0;
  // Takes the room out of the store (nullptr if none): after this nothing of it is kept.
  virtual std::unique_ptr<RoomRecord> Remove(std::string_view id) = 0;
  // Keeps the room as it is now (RoomsService calls it after changing a record in place, before
  // it lets go of its mutex). A durable store writes it through; errors say the change is not
  // durable (it still holds in memory). The in-memory store has nothing to do.
  virtual absl::Status Save(const RoomRecord& room) = 0;
  // Deletes whatever the store still keeps of rooms it no longer holds (a durable store: rows
  // whose delete failed, old copies of deleted rows in its journal); returns how many rooms'
  // records it deleted. Called by RoomsService's retention purge. The in-memory store keeps
  // nothing of a removed room.
  virtual absl::StatusOr<int> Purge() = 0;
  virtual size_t size() const = 0;
  // The rooms in creation order, from index `begin` up to `end` (clamped to size()).
  virtual std::vector<RoomRecord*> List(size_t begin, size_t end) = 0;

  std::vector<RoomRecord*> All() { return List(0, size()); }

  // ----- For a store shared by several controllers (the others keep these defaults) -----
  // Such a store makes each locked section of RoomsService one transaction: Find() locks the
  // room's row and re-reads it when another controller changed it, size() and List() re-read
  // the list, and EndSection() commits what the section saved together with its events.

  // RoomsService published `event` (sequence, time and room set) in `room` during this section.
  // A shared store keeps it with the section's changes and hands it back, numbered
  // (stream_sequence), from TakeEvents() once committed; it returns true, and RoomsService then
  // delivers it only from there. Others return false: RoomsService delivers it at once.
  virtual bool AddEvent(const RoomRecord& room, const chorus::v1::RoomEvent& event) {
    (void)room;
    (void)event;
    return false;
  }
  // The end of a locked section, after Save() of every room it touched: a shared store commits
  // here. An error means the section's changes and events are lost (the store forgets its copies
  // of the rooms involved and reads them again).
  virtual absl::Status EndSection() { return absl::OkStatus(); }
  // The first error of this section (a statement of a shared store that failed: Find() then
  // answers nullptr for want of an answer, not because there is no such room).
  virtual absl::Status SectionStatus() const { return absl::OkStatus(); }
  // Every controller's committed events not handed over yet, in the order of their commits, each
  // once. Called after EndSection().
  virtual std::vector<chorus::v1::RoomEvent> TakeEvents() { return {}; }
  // The next TakeEvents() looks for events committed by other controllers even when none was
  // announced yet (a WatchRooms stream resumes here from a point another controller gave it).
  virtual void ReadEventsAgain() {}
  // `wake` runs (on a thread of the store) when another controller committed events: the owner
  // then takes its mutex and calls TakeEvents(). Called without RoomsService's mutex; a null
  // `wake` stops the calls, returning once none runs any more.
  virtual void SetEventListener(std::function<void()> wake) { (void)wake; }
  // Whether this controller does the background work (Sweep, PollSpeakers, Purge): a shared
  // store says yes to one controller at a time.
  virtual bool LeadsBackgroundWork() { return true; }
};

// The store of a single controller: rooms in memory, gone when the process ends (by design:
// nothing about a room outlives it, the hospitals' privacy rules).
std::unique_ptr<RoomStore> MakeInMemoryRoomStore();

}  // namespace chorus::controller
