#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chorus/v1/rooms.pb.h"
#include "services/controller/room_record.h"

namespace chorus::controller {

// Where the controller keeps its rooms: a transactional port. RoomsService works in locked
// sections (its mutex held): it loads the rooms a rule needs, the rule decides on them, and the
// section writes them back, with the events they caused, before anyone else can see them. Each
// record belongs to one side at a time: Load() hands the room over to the caller, which holds
// the only copy until Put() gives it back or Delete() ends it; the store hands out no pointer into
// what it keeps (Scan() lends a read-only view for the length of a call). A store shared by
// several controllers makes each section one transaction (the hooks at the end;
// MakePostgresRoomStore()). RoomsService makes every call under its mutex, so an implementation
// needs no lock of its own.
class RoomStore {
 public:
  virtual ~RoomStore() = default;

  // Adds a new room; false (and the room is dropped) when its id is taken.
  virtual bool Insert(std::unique_ptr<RoomRecord> room) = 0;
  // Hands the room with this id over to the caller for this section, or nullptr when there is
  // none (or the store could not look: SectionStatus()). Until the caller gives it back, the
  // store hands it to nobody else and Scan() leaves it out. A shared store locks the room's row
  // until EndSection() and reads the room again when another controller changed it.
  virtual std::unique_ptr<RoomRecord> Load(std::string_view id) = 0;
  // Takes a room handed out by Load() back, as the caller decided it (changed or not). A durable
  // store writes it through when it changed; errors say the change is not durable (it still
  // holds in memory). A shared store writes it at EndSection(), with the section's events.
  virtual absl::Status Put(std::unique_ptr<RoomRecord> room) = 0;
  // Deletes the room (handed out by Load() or not; the caller keeps whatever record it holds):
  // after this nothing of it is kept. False when there is no such room or the delete failed.
  virtual bool Delete(std::string_view id) = 0;
  // Deletes whatever the store still keeps of rooms it no longer holds (a durable store: rows
  // whose delete failed, old copies of deleted rows in its journal); returns how many rooms'
  // records it deleted. Called by RoomsService's retention purge, with no room handed out. The
  // in-memory store keeps nothing of a removed room.
  virtual absl::StatusOr<int> Purge() = 0;
  virtual size_t size() const = 0;
  // Shows `visit` the rooms in creation order, from index `begin` up to `end` (clamped to
  // size()), each read only and for the length of the call. Rooms handed out are left out.
  virtual void Scan(size_t begin, size_t end, absl::FunctionRef<void(const RoomRecord&)> visit) = 0;

  void ScanAll(absl::FunctionRef<void(const RoomRecord&)> visit) { Scan(0, size(), visit); }

  // ----- For a store shared by several controllers (the others keep these defaults) -----
  // Such a store makes each locked section of RoomsService one transaction: Load() locks the
  // room's row and re-reads it when another controller changed it, size() and Scan() re-read
  // the list, and EndSection() commits what the section put back together with its events.

  // RoomsService published `event` (sequence, time and room set) in `room` during this section.
  // A shared store keeps it with the section's changes and hands it back, numbered
  // (stream_sequence), from TakeEvents() once committed; it returns true, and RoomsService then
  // delivers it only from there. Others return false: RoomsService delivers it at once.
  virtual bool AddEvent(const RoomRecord& room, const chorus::v1::RoomEvent& event) {
    (void)room;
    (void)event;
    return false;
  }
  // The end of a locked section, after Put() of every room it loaded: a shared store commits
  // here. An error means the section's changes and events are lost (the store forgets its copies
  // of the rooms involved and reads them again).
  virtual absl::Status EndSection() { return absl::OkStatus(); }
  // The first error of this section (a statement of a shared store that failed: Load() then
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
