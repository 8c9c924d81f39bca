#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chorus/v1/controller_state.pb.h"
#include "services/controller/room_store.h"

namespace chorus::controller {

// The store of a single controller that outlives restarts: rooms are kept in memory as by
// MakeInMemoryRoomStore() (handed over by Load() and back by Put()) and each Put() writes the whole
// room through to one SQLite file when it changed (a row per room, a
// chorus.internal.v1.StoredRoom, one transaction per Put; WAL journal, synchronous=NORMAL: a
// committed Put survives a crash of the process, and of the machine but for its last moments).
//
// Opening the file loads every room: its settings, PIN hashes, invites (token hashes), wrong-PIN
// windows, event history and sequence, and the call in it: its participants whose media was set
// up (pseudonyms, roles, states, routing) and the node carrying it, by address and node id. Such
// a room comes back ACTIVE and marked `restored`, on no node index until RoomsService has asked
// that node (the call may have gone on without the controller, or not). A join still setting up
// its media is not kept: its invite comes back pending. A room without a call comes back OPEN
// and empty; one from a row written before participants were kept, that had participants,
// counts as empty since `loaded_at` (for its idle timeout).
//
// Nothing of a removed room stays: Delete() deletes its row (secure_delete overwrites it in its
// page), and Purge() deletes any row whose delete failed and checkpoints the write-ahead log into
// the database, truncating it, so that no old copy of a deleted row lingers in the -wal file.
//
// Fails (at start, so that nothing is lost silently) when the file cannot be opened or written,
// is not a SQLite database (DATA_LOSS), is held by another store (flock; FAILED_PRECONDITION),
// has a schema newer than this binary knows (FAILED_PRECONDITION), or holds a room that does not
// parse (DATA_LOSS). Older schemas are migrated in order. The file is created 0600 (it holds
// invites' and participants' pseudonyms and consent references). Not thread-safe: RoomsService
// calls it under its mutex.
absl::StatusOr<std::unique_ptr<RoomStore>> MakeSqliteRoomStore(const std::string& path,
                                                               absl::Time loaded_at = absl::Now());

namespace internal {
// The newest schema version this binary reads and writes.
inline constexpr int kSqliteSchemaVersion = 1;

// A room as one row keeps it, and back: the room as it comes back after a restart (see above;
// DATA_LOSS when the row does not hold a sound room). The PostgreSQL store keeps its rooms
// through the same conversion.
// `across_restart` (the SQLite file): a join still setting up its media is left out and its
// invite kept usable, and the call's participants and node are kept for a restarted controller
// to take over. Without it (PostgreSQL's replicas, which share the live room): invites exactly as
// they are, and no participants (the PostgreSQL store keeps the live part itself).
chorus::internal::v1::StoredRoom ToStored(const RoomRecord& room, bool across_restart = true);
absl::StatusOr<std::unique_ptr<RoomRecord>> FromStored(
    const chorus::internal::v1::StoredRoom& stored, absl::Time loaded_at);
}  // namespace internal

}  // namespace chorus::controller
