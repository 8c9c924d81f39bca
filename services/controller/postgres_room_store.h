#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/controller/room_store.h"

namespace chorus::controller {

// The store of two or more controller replicas: every room is a row of one PostgreSQL database
// (15 or later) that they all use, and each locked section of RoomsService is one transaction.
//
// Rooms. A row holds the room's version and a chorus.internal.v1.ReplicaRoom: its StoredRoom,
// through the SQLite store's own conversion (so both keep the same), and the live part a running
// room has beside it (participants, media node, speakers). Each replica keeps copies in memory.
// Load() locks the room's row for the section (SELECT ... FOR UPDATE), reads the copy again if
// another replica changed it (its version moved) and hands it over; Put() takes it back, and
// EndSection() writes the rooms put back that changed (version + 1) with the section's events and
// commits. size() and Scan() read the list of rows again (at most once per section, without
// locking). So a rule of several steps (check an invite, then use it) holds across replicas: two
// replicas racing for one invite take the row one after the other, and the second sees it used.
// A room created at once through two replicas: the second Insert() fails.
//
// Events. Each committed event is a row of an events table, numbered for WatchRooms under a
// counter row that every committing section updates last, so that numbers follow the order of
// the commits without gaps; the commit NOTIFYs, and every replica (a LISTEN connection of its
// own) reads the new rows and hands them to RoomsService in that order, once each, its own
// included (TakeEvents). The last kPostgresKeptEvents events are kept (a replica that starts
// reads them, so that a WatchRooms stream resumes through another replica or after a restart);
// events of rooms that ended are deleted by Purge().
//
// Background work. LeadsBackgroundWork() is true on the one replica holding a session-level
// advisory lock (pg_try_advisory_lock); another takes it over when that replica's connection
// ends. The leader also trims the events table.
//
// Schema. Migrations run at start, in order, one transaction under an advisory lock (replicas
// starting together migrate once); a database of a newer schema is refused
// (FAILED_PRECONDITION), as is a room row that does not parse (DATA_LOSS). The tables are named
// chorus_*.
//
// Failures. A lost connection is opened again at the next section; a section whose statement or
// commit fails changes nothing (its rooms are read again). Statements wait at most 10 s for a
// row lock. Not thread-safe, but for SetEventListener(): RoomsService calls it under its mutex.
//
// `url` is a libpq connection string or URI (postgres://user:password@host:5432/db?sslmode=...);
// it is never logged. Fails at start when the database cannot be reached (UNAVAILABLE), with
// libpq's reason.
absl::StatusOr<std::unique_ptr<RoomStore>> MakePostgresRoomStore(const std::string& url);

namespace internal {
// The newest schema version this binary reads and writes.
inline constexpr int kPostgresSchemaVersion = 1;
// Events the events table keeps (the newest ones), as WatchRooms keeps in memory.
inline constexpr int64_t kPostgresKeptEvents = 10000;
}  // namespace internal

}  // namespace chorus::controller
