#include "services/controller/sqlite_room_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "chorus/v1/controller_state.pb.h"
#include "pipeline/base/log.h"

namespace chorus::controller {
namespace {

using chorus::internal::v1::StoredInvite;
using chorus::internal::v1::StoredParticipant;
using chorus::internal::v1::StoredPinWindow;
using chorus::internal::v1::StoredRoom;

// The schema, one step per version: migration i (0-based) takes the file from version i to i + 1.
// Never edit a step that has shipped; add one.
constexpr const char* kMigrations[] = {
    // 1: a row per room, in creation order (rowid), the whole room as a StoredRoom.
    "CREATE TABLE rooms (id TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL)",
};
static_assert(std::size(kMigrations) == internal::kSqliteSchemaVersion);

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// An open descriptor of the state file holding flock(LOCK_EX) until it is closed. It must outlive
// SQLite's own use of the file: closing any descriptor of a file drops the process's POSIX locks
// on it, SQLite's included.
struct FileLock {
  explicit FileLock(int fd) : fd(fd) {}
  FileLock(FileLock&& other) noexcept : fd(std::exchange(other.fd, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock() {
    if (fd >= 0) ::close(fd);
  }
  int fd;
};

// A SQLite result code as a Status about the state file.
absl::Status SqliteError(sqlite3* db, int code, const std::string& path, const std::string& what) {
  const std::string message =
      absl::StrCat("state file ", path, ": ", what, ": ",
                   db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code));
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::FailedPreconditionError(
          absl::StrCat(message, " (is another chorusd using this file?)"));
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return absl::DataLossError(message);
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return absl::PermissionDeniedError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status Exec(sqlite3* db, const std::string& path, const std::string& sql,
                  const std::string& what) {
  const int code = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  if (code != SQLITE_OK) return SqliteError(db, code, path, what);
  return absl::OkStatus();
}

absl::StatusOr<Statement> Prepare(sqlite3* db, const std::string& path, const std::string& sql) {
  sqlite3_stmt* statement = nullptr;
  const int code =
      sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &statement, nullptr);
  Statement owned(statement);
  if (code != SQLITE_OK) return SqliteError(db, code, path, "preparing a statement");
  return owned;
}

}  // namespace

// The conversion between a room and its StoredRoom, shared with the PostgreSQL store
// (sqlite_room_store.h): whatever a row of the state file keeps, the database keeps too.
namespace internal {

StoredPinWindow ToStored(const std::deque<absl::Time>& wrong_pins, absl::Time locked_until) {
  StoredPinWindow window;
  for (absl::Time time : wrong_pins) window.add_wrong_pin_unix_us(absl::ToUnixMicros(time));
  if (locked_until != absl::InfinitePast()) {
    window.set_locked_until_unix_us(absl::ToUnixMicros(locked_until));
  }
  return window;
}

void FromStored(const StoredPinWindow& window, std::deque<absl::Time>* wrong_pins,
                absl::Time* locked_until) {
  for (int64_t us : window.wrong_pin_unix_us()) wrong_pins->push_back(absl::FromUnixMicros(us));
  *locked_until = window.has_locked_until_unix_us()
                      ? absl::FromUnixMicros(window.locked_until_unix_us())
                      : absl::InfinitePast();
}

StoredRoom ToStored(const RoomRecord& room, bool across_restart) {
  StoredRoom stored;
  stored.set_id(room.id);
  *stored.mutable_room() = room.room;
  stored.set_host_pin_hash(room.host_pin_hash);
  stored.set_guest_pin_hash(room.guest_pin_hash);
  for (const std::string& id : room.invite_order) {
    auto it = room.invites.find(id);
    if (it == room.invites.end()) continue;
    StoredInvite* invite = stored.add_invites();
    *invite->mutable_invite() = it->second.invite;
    invite->set_token_hash(it->second.token_hash);
    // A join still setting up its media is not kept (below): should the process end now, its
    // invite comes back usable, as a join that failed leaves it.
    const std::string& participant = it->second.invite.participant();
    if (across_restart && it->second.invite.state() == chorus::v1::INVITE_STATE_USED &&
        !participant.empty()) {
      auto member = room.participants.find(participant.substr(participant.rfind('/') + 1));
      if (member != room.participants.end() && member->second.pending) {
        invite->mutable_invite()->set_state(chorus::v1::INVITE_STATE_PENDING);
        invite->mutable_invite()->clear_use_time();
        invite->mutable_invite()->clear_participant();
      }
    }
  }
  stored.set_next_guest(room.next_guest);
  stored.set_next_sequence(room.next_sequence);
  for (const auto& event : room.history) *stored.add_history() = event;
  *stored.mutable_pin_window() = ToStored(room.wrong_pins, room.pin_locked_until);
  for (const auto& [source, window] : room.pin_sources) {
    StoredPinWindow* out = stored.add_pin_sources();
    *out = ToStored(window.wrong_pins, window.locked_until);
    out->set_source_hash(source);
  }
  stored.set_ever_joined(room.ever_joined);
  stored.set_empty_since_unix_us(absl::ToUnixMicros(room.empty_since));
  // The call: its participants whose media is set up, and the node that carries it. A room whose
  // node was lost (its participants left with NODE_FAILED) has neither.
  if (across_restart && (room.node >= 0 || room.restored)) {
    for (const std::string& id : room.participant_order) {
      auto it = room.participants.find(id);
      if (it == room.participants.end() || it->second.pending) continue;
      StoredParticipant* participant = stored.add_participants();
      *participant->mutable_participant() = it->second.participant;
      participant->mutable_participant()->clear_speaking();  // changes each second; not kept
      *participant->mutable_routing() = it->second.routing;
      participant->set_has_content(it->second.has_content);
      participant->set_webrtc(it->second.webrtc);
      participant->set_session_token_hash(it->second.session_token_hash);
    }
    if (stored.participants_size() > 0) {
      stored.mutable_media_node()->set_address(room.node_address);
      stored.mutable_media_node()->set_node_id(room.node_id);
    }
  }
  return stored;
}

// The room a row holds, as it comes back after a restart: with the participants of its call and
// the identity of the node that carries it, marked `restored` until RoomsService has asked that
// node; or, with nobody in it, OPEN and on no media node.
absl::StatusOr<std::unique_ptr<RoomRecord>> FromStored(const StoredRoom& stored,
                                                       absl::Time loaded_at) {
  if (stored.id().empty() || stored.room().name() != absl::StrCat(kRoomsPrefix, stored.id())) {
    return absl::DataLossError("the room's id and name do not match");
  }
  auto room = std::make_unique<RoomRecord>();
  room->id = stored.id();
  room->room = stored.room();
  room->host_pin_hash = stored.host_pin_hash();
  room->guest_pin_hash = stored.guest_pin_hash();
  const std::string invites_prefix = absl::StrCat(room->room.name(), "/invites/");
  for (const StoredInvite& invite : stored.invites()) {
    const std::string& name = invite.invite().name();
    if (name.rfind(invites_prefix, 0) != 0 || name.size() == invites_prefix.size() ||
        invite.token_hash().empty()) {
      return absl::DataLossError("an invite has no name in this room or no token hash");
    }
    std::string id = name.substr(invites_prefix.size());
    if (!room->invites.emplace(id, RoomRecord::Invite{invite.invite(), invite.token_hash()})
             .second) {
      return absl::DataLossError("two invites have the same name");
    }
    room->invite_order.push_back(std::move(id));
  }
  room->next_guest = stored.next_guest();
  room->next_sequence = stored.next_sequence();
  room->history.assign(stored.history().begin(), stored.history().end());
  FromStored(stored.pin_window(), &room->wrong_pins, &room->pin_locked_until);
  for (const StoredPinWindow& window : stored.pin_sources()) {
    RoomRecord::PinSource& source = room->pin_sources[window.source_hash()];
    FromStored(window, &source.wrong_pins, &source.locked_until);
  }
  room->ever_joined = stored.ever_joined();
  room->empty_since = absl::FromUnixMicros(stored.empty_since_unix_us());
  const std::string participants_prefix = absl::StrCat(room->room.name(), "/participants/");
  if (!stored.media_node().address().empty()) {
    for (const StoredParticipant& participant : stored.participants()) {
      const std::string& name = participant.participant().name();
      if (name.rfind(participants_prefix, 0) != 0 || name.size() == participants_prefix.size()) {
        return absl::DataLossError("a participant has no name in this room");
      }
      std::string id = name.substr(participants_prefix.size());
      RoomRecord::Member member;
      member.participant = participant.participant();
      member.routing = participant.routing();
      member.pending = false;
      member.has_content = participant.has_content();
      member.webrtc = participant.webrtc();
      member.session_token_hash = participant.session_token_hash();
      if (!room->participants.emplace(id, std::move(member)).second) {
        return absl::DataLossError("two participants have the same name");
      }
      room->participant_order.push_back(std::move(id));
    }
  }
  if (!room->participants.empty()) {
    // The call may still run on its node: RoomsService asks the node before anyone joins.
    room->node_address = stored.media_node().address();
    room->node_id = stored.media_node().node_id();
    room->restored = true;
    room->room.set_participant_count(static_cast<int32_t>(room->participants.size()));
    room->room.set_state(chorus::v1::ROOM_STATE_ACTIVE);
    room->room.set_media_node(room->node_address);
    return room;
  }
  // Nobody in it (or a row written before participants were kept: whoever was in the room left
  // with the old process).
  if (room->room.participant_count() > 0) room->empty_since = loaded_at;
  room->room.set_participant_count(0);
  room->room.set_state(chorus::v1::ROOM_STATE_OPEN);
  room->room.clear_media_node();
  return room;
}

}  // namespace internal

namespace {

using internal::FromStored;
using internal::ToStored;

class SqliteRoomStore final : public RoomStore {
 public:
  // `memory` holds the rooms loaded from `db`; `saved` their rows as written.
  SqliteRoomStore(std::string path, FileLock lock, Db db, Statement upsert, Statement remove,
                  std::unique_ptr<RoomStore> memory, std::map<std::string, std::string> saved)
      : path_(std::move(path)),
        lock_(std::move(lock)),
        db_(std::move(db)),
        upsert_(std::move(upsert)),
        remove_(std::move(remove)),
        memory_(std::move(memory)),
        saved_(std::move(saved)) {}

  bool Insert(std::unique_ptr<RoomRecord> room) override {
    if (room == nullptr) return false;
    const std::string id = room->id;
    if (!memory_->Insert(std::move(room))) return false;
    // Errors are the caller's to see on its next Put(); the room holds in memory.
    std::unique_ptr<RoomRecord> inserted = memory_->Load(id);
    (void)Write(*inserted);
    (void)memory_->Put(std::move(inserted));
    return true;
  }

  std::unique_ptr<RoomRecord> Load(std::string_view id) override { return memory_->Load(id); }

  absl::Status Put(std::unique_ptr<RoomRecord> room) override {
    if (room == nullptr) return absl::InvalidArgumentError("no room");
    absl::Status written = Write(*room);
    absl::Status kept = memory_->Put(std::move(room));
    return kept.ok() ? written : kept;
  }

  bool Delete(std::string_view id) override {
    if (!memory_->Delete(id)) return false;
    const std::string key(id);
    saved_.erase(key);
    if (DeleteRow(key) != SQLITE_DONE) {
      // The room is gone from memory all the same; the next Purge() deletes its row (until then
      // it would come back after a restart).
      base::Log(base::LogLevel::kError, "room_delete_failed",
                {{"room", key}, {"error", std::string_view(sqlite3_errmsg(db_.get()))}});
    }
    return true;
  }

  absl::StatusOr<int> Purge() override {
    // Rows of rooms this store no longer holds: their delete failed when the room ended.
    absl::StatusOr<Statement> rows = Prepare(db_.get(), path_, "SELECT id FROM rooms");
    if (!rows.ok()) return rows.status();
    std::set<std::string, std::less<>> held;
    memory_->ScanAll([&](const RoomRecord& room) { held.insert(room.id); });
    std::vector<std::string> forgotten;
    int code;
    while ((code = sqlite3_step(rows->get())) == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(rows->get(), 0);
      std::string id(text != nullptr ? reinterpret_cast<const char*>(text) : "",
                     static_cast<size_t>(sqlite3_column_bytes(rows->get(), 0)));
      if (!held.contains(id)) forgotten.push_back(std::move(id));
    }
    if (code != SQLITE_DONE) return SqliteError(db_.get(), code, path_, "listing the rooms");
    rows->reset();
    int deleted = 0;
    for (const std::string& id : forgotten) {
      code = DeleteRow(id);
      if (code != SQLITE_DONE) return SqliteError(db_.get(), code, path_, "deleting a room");
      ++deleted;
    }
    // secure_delete overwrites a deleted row in its page, but in WAL mode the pages that held it
    // live on in the -wal file until a checkpoint: copy the log into the database and truncate
    // it, so that no copy of a deleted room survives the purge. A backup reading the file at that
    // moment makes it SQLITE_BUSY: the next purge does it.
    code =
        sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    if (code != SQLITE_OK && code != SQLITE_BUSY) {
      return SqliteError(db_.get(), code, path_, "checkpointing the journal");
    }
    return deleted;
  }

  size_t size() const override { return memory_->size(); }
  void Scan(size_t begin, size_t end, absl::FunctionRef<void(const RoomRecord&)> visit) override {
    memory_->Scan(begin, end, visit);
  }

 private:
  // Writes the room through when it changed since its row was written.
  absl::Status Write(const RoomRecord& room) {
    std::string bytes;
    if (!ToStored(room).SerializeToString(&bytes)) {
      return absl::InternalError("a room does not serialize");
    }
    auto it = saved_.find(room.id);
    if (it != saved_.end() && it->second == bytes) return absl::OkStatus();  // nothing changed
    sqlite3_stmt* statement = upsert_.get();
    sqlite3_reset(statement);
    sqlite3_bind_text(statement, 1, room.id.data(), static_cast<int>(room.id.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_blob(statement, 2, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
    // One statement outside BEGIN is one transaction.
    const int code = sqlite3_step(statement);
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    if (code != SQLITE_DONE) return SqliteError(db_.get(), code, path_, "saving a room");
    saved_[room.id] = std::move(bytes);
    return absl::OkStatus();
  }

  // Deletes the room's row; the SQLite result code (SQLITE_DONE when done).
  int DeleteRow(const std::string& id) {
    sqlite3_stmt* statement = remove_.get();
    sqlite3_reset(statement);
    sqlite3_bind_text(statement, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    const int code = sqlite3_step(statement);
    sqlite3_reset(statement);
    return code;
  }

  const std::string path_;
  FileLock lock_;  // declared before db_: released after SQLite has closed the file
  Db db_;
  Statement upsert_;  // INSERT ... ON CONFLICT(id) DO UPDATE (keeps the rowid: creation order)
  Statement remove_;
  std::unique_ptr<RoomStore> memory_;
  // Each room's row as last written, to skip writes that change nothing.
  std::map<std::string, std::string> saved_;
};

// Brings the file's schema to kSqliteSchemaVersion, one transaction per step.
absl::Status Migrate(sqlite3* db, const std::string& path) {
  absl::Status status =
      Exec(db, path, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
           "reading the schema version");
  if (!status.ok()) return status;
  absl::StatusOr<Statement> read =
      Prepare(db, path, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
  if (!read.ok()) return read.status();
  const int code = sqlite3_step(read->get());
  if (code != SQLITE_ROW) return SqliteError(db, code, path, "reading the schema version");
  const int64_t version = sqlite3_column_int64(read->get(), 0);
  read->reset();
  if (version > internal::kSqliteSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "state file ", path, " has schema version ", version, ", newer than this chorusd knows (",
        internal::kSqliteSchemaVersion,
        "): it was written by a newer release; run that release, or restore a backup made "
        "before the upgrade"));
  }
  for (int64_t step = version; step < internal::kSqliteSchemaVersion; ++step) {
    const std::string sql =
        absl::StrCat("BEGIN IMMEDIATE; ", kMigrations[step],
                     "; INSERT INTO schema_version VALUES (", step + 1, "); COMMIT;");
    status = Exec(db, path, sql, absl::StrCat("migrating to schema version ", step + 1));
    if (!status.ok()) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return status;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RoomStore>> MakeSqliteRoomStore(const std::string& path,
                                                               absl::Time loaded_at) {
  // The file holds invites' pseudonyms and consent references: readable by this user only (its
  // -wal and -shm files get the same mode from SQLite).
  FileLock lock(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (lock.fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("state file ", path, ": cannot open or create it: ", std::strerror(errno)));
  }
  // One controller per file. flock(), not SQLite's own locking, so that `sqlite3 FILE .backup`
  // can still read the file while chorusd runs.
  if (::flock(lock.fd, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("state file ", path, ": ",
                     errno == EWOULDBLOCK ? "in use by another chorusd (one controller per file)"
                                          : std::strerror(errno)));
  }
  sqlite3* raw = nullptr;
  const int opened =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (opened != SQLITE_OK) return SqliteError(db.get(), opened, path, "opening");
  // secure_delete: a closed room's row is overwritten, not left in free pages. busy_timeout: a
  // backup reading the file may hold it for a moment.
  absl::Status status = Exec(db.get(), path,
                             "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                             "PRAGMA secure_delete = ON; PRAGMA busy_timeout = 2000;",
                             "opening");
  if (!status.ok()) return status;
  status = Migrate(db.get(), path);
  if (!status.ok()) return status;

  std::unique_ptr<RoomStore> memory = MakeInMemoryRoomStore();
  std::map<std::string, std::string> saved;
  absl::StatusOr<Statement> rows =
      Prepare(db.get(), path, "SELECT id, record FROM rooms ORDER BY rowid");
  if (!rows.ok()) return rows.status();
  int code;
  while ((code = sqlite3_step(rows->get())) == SQLITE_ROW) {
    const auto* id_text = sqlite3_column_text(rows->get(), 0);
    std::string id(id_text != nullptr ? reinterpret_cast<const char*>(id_text) : "",
                   static_cast<size_t>(sqlite3_column_bytes(rows->get(), 0)));
    const void* blob = sqlite3_column_blob(rows->get(), 1);
    std::string bytes(blob != nullptr ? static_cast<const char*>(blob) : "",
                      static_cast<size_t>(sqlite3_column_bytes(rows->get(), 1)));
    StoredRoom stored;
    absl::StatusOr<std::unique_ptr<RoomRecord>> room =
        stored.ParseFromString(bytes) ? FromStored(stored, loaded_at)
                                      : absl::DataLossError("the row does not parse");
    if (room.ok() && (*room)->id != id) room = absl::DataLossError("the row's id does not match");
    if (!room.ok()) {
      return absl::DataLossError(absl::StrCat(
          "state file ", path, ": room \"", id, "\" cannot be read (", room.status().message(),
          "); restore the file from a backup, or move it away to start without rooms"));
    }
    if (!memory->Insert(*std::move(room))) {
      return absl::DataLossError(
          absl::StrCat("state file ", path, ": room \"", id, "\" is there twice"));
    }
    saved.emplace(std::move(id), std::move(bytes));
  }
  if (code != SQLITE_DONE) return SqliteError(db.get(), code, path, "loading the rooms");
  rows->reset();

  absl::StatusOr<Statement> upsert =
      Prepare(db.get(), path,
              "INSERT INTO rooms (id, record) VALUES (?1, ?2) "
              "ON CONFLICT(id) DO UPDATE SET record = excluded.record");
  if (!upsert.ok()) return upsert.status();
  absl::StatusOr<Statement> remove = Prepare(db.get(), path, "DELETE FROM rooms WHERE id = ?1");
  if (!remove.ok()) return remove.status();
  return std::make_unique<SqliteRoomStore>(path, std::move(lock), std::move(db), *std::move(upsert),
                                           *std::move(remove), std::move(memory), std::move(saved));
}

}  // namespace chorus::controller
