#include "services/controller/postgres_room_store.h"

#include <endian.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "chorus/v1/controller_replica.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "pipeline/base/log.h"
#include "services/controller/sqlite_room_store.h"

namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;
using chorus::internal::v1::ReplicaMember;
using chorus::internal::v1::ReplicaRoom;
using chorus::internal::v1::ReplicaRoomState;

// The channel every commit with events notifies (payload: its last stream sequence).
constexpr char kChannel[] = "chorusd_events";
// Advisory lock keys ("chorus" in ASCII, then a number): the background work, the migrations.
constexpr int64_t kLeaderLock = 0x63686f7275730001;
constexpr int64_t kMigrationLock = 0x63686f7275730002;
// How often the leader deletes events beyond the kept ones.
constexpr absl::Duration kTrimInterval = absl::Seconds(10);
// Events read from the table at a time.
constexpr int64_t kReadBatch = 2 * internal::kPostgresKeptEvents;
// Rows of one INSERT of events.
constexpr size_t kInsertBatch = 200;

// The schema, one step per version: migration i (0-based) takes the database from version i to
// i + 1. Never edit a step that has shipped; add one.
constexpr const char* kMigrations[] = {
    // 1: rooms in creation order (position), each a ReplicaRoom with its version; events in
    // commit order (stream_sequence, from the counter row) with the room and its own sequence.
    // The counter starts at the wall clock in microseconds, as a single controller numbers
    // WatchRooms.
    "CREATE TABLE chorus_rooms ("
    "  id text PRIMARY KEY,"
    "  position bigint GENERATED ALWAYS AS IDENTITY,"
    "  version bigint NOT NULL,"
    "  record bytea NOT NULL);"
    "CREATE TABLE chorus_events ("
    "  stream_sequence bigint PRIMARY KEY,"
    "  room text NOT NULL,"
    "  sequence bigint NOT NULL,"
    "  event bytea NOT NULL,"
    "  created timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX chorus_events_room ON chorus_events (room);"
    "CREATE TABLE chorus_event_counter (last bigint NOT NULL);"
    "INSERT INTO chorus_event_counter "
    "  VALUES ((extract(epoch FROM clock_timestamp()) * 1000000)::bigint);",
};
static_assert(std::size(kMigrations) == internal::kPostgresSchemaVersion);

struct ConnectionCloser {
  void operator()(PGconn* connection) const { PQfinish(connection); }
};
struct ResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Connection = std::unique_ptr<PGconn, ConnectionCloser>;
using Result = std::unique_ptr<PGresult, ResultClearer>;

// A statement parameter: text (numbers, ids, arrays) or binary (bytea).
struct Param {
  std::string value;
  bool binary = false;
};
Param Text(std::string value) { return {std::move(value), false}; }
Param Number(int64_t value) { return {absl::StrCat(value), false}; }
Param Binary(std::string value) { return {std::move(value), true}; }

// libpq's message without its trailing newline, on one line.
std::string OneLine(const char* message) {
  std::string out = message != nullptr ? message : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out;
}

// A failed statement as a Status: the connection lost or the server going away UNAVAILABLE, a
// deadlock, serialization failure or lock timeout ABORTED.
absl::Status PgError(PGconn* connection, const PGresult* result, absl::string_view what) {
  // Only the primary message and the SQLSTATE: the server's DETAIL may quote a row's values.
  const char* primary =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view code = state != nullptr ? state : "";
  const std::string message =
      absl::StrCat("PostgreSQL: ", what, ": ",
                   primary != nullptr ? OneLine(primary) : OneLine(PQerrorMessage(connection)),
                   code.empty() ? "" : absl::StrCat(" (SQLSTATE ", std::string(code), ")"));
  if (PQstatus(connection) != CONNECTION_OK || code.substr(0, 2) == "08" ||
      code.substr(0, 3) == "57P" || code.substr(0, 2) == "53") {
    return absl::UnavailableError(message);
  }
  if (code.substr(0, 2) == "40" || code == "55P03") return absl::AbortedError(message);
  if (code == "42501") return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

// Runs one statement with parameters; results come in binary.
absl::StatusOr<Result> Run(PGconn* connection, const char* sql, const std::vector<Param>& params,
                           absl::string_view what) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const Param& param : params) {
    values.push_back(param.value.data());
    lengths.push_back(static_cast<int>(param.value.size()));
    formats.push_back(param.binary ? 1 : 0);
  }
  Result result(PQexecParams(connection, sql, static_cast<int>(params.size()), nullptr,
                             values.data(), lengths.data(), formats.data(), 1));
  const ExecStatusType status =
      result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return PgError(connection, result.get(), what);
  }
  return result;
}

// Runs statements without parameters (several, separated by ';').
absl::Status Exec(PGconn* connection, const char* sql, absl::string_view what) {
  Result result(PQexec(connection, sql));
  const ExecStatusType status =
      result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return PgError(connection, result.get(), what);
  }
  return absl::OkStatus();
}

// Columns of a binary result.
int64_t Int64(const PGresult* result, int row, int column) {
  uint64_t big_endian = 0;
  if (PQgetlength(result, row, column) != sizeof(big_endian)) return 0;
  std::memcpy(&big_endian, PQgetvalue(result, row, column), sizeof(big_endian));
  return static_cast<int64_t>(be64toh(big_endian));
}
std::string Bytes(const PGresult* result, int row, int column) {
  return std::string(PQgetvalue(result, row, column),
                     static_cast<size_t>(PQgetlength(result, row, column)));
}
bool Bool(const PGresult* result, int row, int column) {
  return PQgetlength(result, row, column) == 1 && PQgetvalue(result, row, column)[0] != 0;
}

// A text[] literal of `items`.
std::string ArrayLiteral(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const std::string& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

// Opens a connection with the session settings the store relies on: a row lock is waited for at
// most 10 s, a statement runs at most 30 s, a transaction left open (a replica stuck in a
// section) ends after 60 s. Settings in `url` come first; the error says why, never the url.
absl::StatusOr<Connection> Connect(const std::string& url) {
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", "chorusd", url.c_str(), nullptr};
  Connection connection(PQconnectdbParams(keys, values, 1));
  if (connection == nullptr) return absl::ResourceExhaustedError("PostgreSQL: out of memory");
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL: cannot connect: ", OneLine(PQerrorMessage(connection.get()))));
  }
  // The server's notices (a table that already exists, ...) are not for the log.
  PQsetNoticeProcessor(
      connection.get(), [](void*, const char*) {}, nullptr);
  absl::Status status = Exec(connection.get(),
                             "SET lock_timeout = '10s'; SET statement_timeout = '30s'; "
                             "SET idle_in_transaction_session_timeout = '60s'",
                             "setting up the session");
  if (!status.ok()) return status;
  return connection;
}

// Brings the database's schema to kPostgresSchemaVersion in one transaction, under an advisory
// lock so that replicas starting together migrate once.
absl::Status Migrate(PGconn* connection) {
  absl::Status status = Exec(connection, "BEGIN", "migrating the schema");
  auto fail = [&](absl::Status failure) {
    Exec(connection, "ROLLBACK", "migrating the schema").IgnoreError();
    return failure;
  };
  if (!status.ok()) return status;
  absl::StatusOr<Result> locked = Run(connection, "SELECT pg_advisory_xact_lock($1)",
                                      {Number(kMigrationLock)}, "migrating the schema");
  if (!locked.ok()) return fail(locked.status());
  status = Exec(connection,
                "CREATE TABLE IF NOT EXISTS chorus_schema_version (version integer NOT NULL)",
                "reading the schema version");
  if (!status.ok()) return fail(status);
  absl::StatusOr<Result> read =
      Run(connection, "SELECT COALESCE(MAX(version), 0)::bigint FROM chorus_schema_version", {},
          "reading the schema version");
  if (!read.ok()) return fail(read.status());
  const int64_t version = Int64(read->get(), 0, 0);
  if (version > internal::kPostgresSchemaVersion) {
    return fail(absl::FailedPreconditionError(absl::StrCat(
        "PostgreSQL: the database has schema version ", version,
        ", newer than this chorusd knows (", internal::kPostgresSchemaVersion,
        "): it was written by a newer release; run that release, or restore a backup made "
        "before the upgrade")));
  }
  for (int64_t step = version; step < internal::kPostgresSchemaVersion; ++step) {
    const std::string what = absl::StrCat("migrating to schema version ", step + 1);
    status = Exec(connection, kMigrations[step], what);
    if (!status.ok()) return fail(status);
    absl::StatusOr<Result> recorded =
        Run(connection, "INSERT INTO chorus_schema_version VALUES ($1)", {Number(step + 1)}, what);
    if (!recorded.ok()) return fail(recorded.status());
  }
  return Exec(connection, "COMMIT", "migrating the schema");
}

// A room as its row keeps it: the StoredRoom (the SQLite store's conversion) and the live part.
// Deterministic, so that an unchanged room gives the same bytes and is not written again.
std::string Serialize(const RoomRecord& room) {
  ReplicaRoom row;
  *row.mutable_stored() = internal::ToStored(room, /*across_restart=*/false);
  ReplicaRoomState& live = *row.mutable_live();
  for (const std::string& id : room.participant_order) {
    auto it = room.participants.find(id);
    if (it == room.participants.end()) continue;
    ReplicaMember& member = *live.add_members();
    member.set_id(id);
    *member.mutable_participant() = it->second.participant;
    *member.mutable_routing() = it->second.routing;
    member.set_pending(it->second.pending);
    member.set_has_content(it->second.has_content);
    member.set_webrtc(it->second.webrtc);
    member.set_session_token_hash(it->second.session_token_hash);
    member.set_keypad_attempts(it->second.keypad_attempts);
    member.set_keypad_source(it->second.keypad_source);
    member.set_dial_out_state(it->second.dial_out);
    member.set_dial_out_speak_language(it->second.dial_out_speak_language);
    member.set_dial_out_uri(it->second.dial_out_uri);
    member.set_dial_out_video(it->second.dial_out_video);
  }
  live.set_node(room.node);
  live.set_session_ready(room.session_ready);
  live.set_state(room.room.state());
  live.set_media_node(room.room.media_node());
  for (const auto& [language, names] : room.speakers) {
    auto& speakers = *live.add_speakers();
    speakers.set_language(language);
    for (const std::string& name : names) speakers.add_participants(name);
  }
  live.set_empty_since_unix_us(absl::ToUnixMicros(room.empty_since));
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    row.SerializeToCodedStream(&coded);
  }
  return bytes;
}

// The room a row holds, as the replica that wrote it had it.
absl::StatusOr<std::unique_ptr<RoomRecord>> Parse(const std::string& id, const std::string& bytes) {
  ReplicaRoom row;
  if (!row.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat("room \"", id, "\" does not parse"));
  }
  absl::StatusOr<std::unique_ptr<RoomRecord>> parsed =
      internal::FromStored(row.stored(), absl::Now());
  if (!parsed.ok() || (*parsed)->id != id) {
    return absl::DataLossError(
        absl::StrCat("room \"", id, "\" cannot be read (",
                     parsed.ok() ? "its id does not match" : parsed.status().message(), ")"));
  }
  RoomRecord& room = **parsed;
  const ReplicaRoomState& live = row.live();
  room.participants.clear();
  room.participant_order.clear();
  for (const ReplicaMember& stored : live.members()) {
    RoomRecord::Member member;
    member.participant = stored.participant();
    member.routing = stored.routing();
    member.pending = stored.pending();
    member.has_content = stored.has_content();
    member.webrtc = stored.webrtc();
    member.session_token_hash = stored.session_token_hash();
    member.keypad_attempts = stored.keypad_attempts();
    member.keypad_source = stored.keypad_source();
    member.dial_out = v1::DialOutState_IsValid(stored.dial_out_state())
                          ? static_cast<v1::DialOutState>(stored.dial_out_state())
                          : v1::DIAL_OUT_STATE_UNSPECIFIED;
    member.dial_out_speak_language = stored.dial_out_speak_language();
    member.dial_out_uri = stored.dial_out_uri();
    member.dial_out_video = stored.dial_out_video();
    if (room.participants.emplace(stored.id(), std::move(member)).second) {
      room.participant_order.push_back(stored.id());
    }
  }
  room.room.set_participant_count(static_cast<int32_t>(room.participants.size()));
  room.room.set_state(live.state() == v1::ROOM_STATE_UNSPECIFIED ? v1::ROOM_STATE_OPEN
                                                                 : live.state());
  if (live.media_node().empty()) {
    room.room.clear_media_node();
  } else {
    room.room.set_media_node(live.media_node());
  }
  room.node = live.node();
  room.session_ready = live.session_ready();
  // Shared live state, not a call coming back from a file: no replica waits for its node (the
  // replicas run the same --media_nodes, so the index names the same node).
  room.restored = false;
  room.node_address = live.media_node();
  room.speakers.clear();
  for (const auto& speakers : live.speakers()) {
    room.speakers[speakers.language()].assign(speakers.participants().begin(),
                                              speakers.participants().end());
  }
  room.empty_since = absl::FromUnixMicros(live.empty_since_unix_us());
  return parsed;
}

class PostgresRoomStore final : public RoomStore {
 public:
  PostgresRoomStore(std::string url, Connection connection)
      : url_(std::move(url)), connection_(std::move(connection)) {}

  ~PostgresRoomStore() override { SetEventListener(nullptr); }

  // Reads every room (at start: a row that does not parse is an error).
  absl::Status ReadAll() {
    Refresh(/*strict=*/true);
    absl::Status status = section_failed_ ? section_error_ : load_error_;
    absl::Status ended = EndSection();
    return status.ok() ? ended : status;
  }

  bool Insert(std::unique_ptr<RoomRecord> room) override {
    if (room == nullptr) return false;
    std::string bytes = Serialize(*room);
    absl::StatusOr<Result> inserted = Query(
        "INSERT INTO chorus_rooms (id, version, record) VALUES ($1, 1, $2) "
        "ON CONFLICT (id) DO NOTHING RETURNING version",
        {Text(room->id), Binary(bytes)}, "creating a room");
    if (!inserted.ok() || PQntuples(inserted->get()) != 1) return false;  // or the id is taken
    const std::string id = room->id;
    locked_.insert(id);
    Adopt(id, 1, std::move(bytes), std::move(room));
    return true;
  }

  std::unique_ptr<RoomRecord> Load(std::string_view id) override {
    absl::StatusOr<Row*> row = Lock(id);
    if (!row.ok() || *row == nullptr) return nullptr;
    return std::move((*row)->record);  // the row stays, without its record, until Put()
  }

  absl::Status Put(std::unique_ptr<RoomRecord> room) override {
    if (room == nullptr) return absl::InvalidArgumentError("no room");
    auto it = rooms_.find(room->id);
    if (!locked_.contains(room->id) || it == rooms_.end() || it->second.record != nullptr) {
      return absl::FailedPreconditionError("the room was not handed out");
    }
    dirty_.insert(room->id);
    it->second.record = std::move(room);
    return absl::OkStatus();
  }

  bool Delete(std::string_view id) override {
    absl::StatusOr<Row*> row = Lock(id);
    if (!row.ok() || *row == nullptr) return false;
    absl::StatusOr<Result> deleted =
        Query("DELETE FROM chorus_rooms WHERE id = $1", {Text(std::string(id))}, "deleting a room");
    if (!deleted.ok()) return false;
    dirty_.erase(std::string(id));
    Forget(id);
    return true;
  }

  absl::StatusOr<int> Purge() override {
    // Events of rooms that ended a while ago (other replicas have read them by then).
    absl::StatusOr<Result> purged = Query(
        "WITH gone AS (DELETE FROM chorus_events e WHERE NOT EXISTS "
        "(SELECT 1 FROM chorus_rooms r WHERE r.id = e.room) "
        "AND e.created < now() - interval '1 minute' RETURNING room) "
        "SELECT count(DISTINCT room)::bigint FROM gone",
        {}, "deleting the events of ended rooms");
    if (!purged.ok()) return purged.status();
    return static_cast<int>(Int64(purged->get(), 0, 0));
  }

  size_t size() const override {
    // size() is const for stores that count what they hold; this one looks at the table first.
    auto* self = const_cast<PostgresRoomStore*>(this);
    self->Refresh(/*strict=*/false);
    return order_.size();
  }

  void Scan(size_t begin, size_t end, absl::FunctionRef<void(const RoomRecord&)> visit) override {
    Refresh(/*strict=*/false);
    end = std::min(end, order_.size());
    for (size_t i = begin; i < end; ++i) {
      const RoomRecord* room = rooms_.find(order_[i])->second.record.get();
      if (room != nullptr) visit(*room);  // not handed out
    }
  }

  bool AddEvent(const RoomRecord&, const v1::RoomEvent& event) override {
    pending_.push_back(event);
    return true;
  }

  absl::Status EndSection() override {
    absl::Status status = absl::OkStatus();
    if (in_transaction_ || !pending_.empty()) {
      status = section_failed_ ? section_error_ : Commit();
      if (!status.ok()) {
        if (connection_ != nullptr && PQstatus(connection_.get()) == CONNECTION_OK) {
          Exec(connection_.get(), "ROLLBACK", "rolling back").IgnoreError();
        }
        // What the section changed in memory is not in the database: read those rooms again.
        for (const std::string& id : locked_) {
          auto it = rooms_.find(id);
          if (it != rooms_.end()) it->second.version = -1;
        }
        refreshed_ = false;
      }
    }
    in_transaction_ = false;
    section_failed_ = false;
    section_error_ = absl::OkStatus();
    locked_.clear();
    dirty_.clear();
    pending_.clear();
    refreshed_ = false;
    return status;
  }

  absl::Status SectionStatus() const override { return section_error_; }

  void ReadEventsAgain() override { reread_ = true; }

  std::vector<v1::RoomEvent> TakeEvents() override {
    std::vector<v1::RoomEvent> out;
    // This replica's own commits, when nothing of another one came between.
    size_t taken = 0;
    while (taken < committed_.size() &&
           committed_[taken].stream_sequence() == last_delivered_ + 1) {
      out.push_back(std::move(committed_[taken++]));
      ++last_delivered_;
    }
    const bool gap = taken < committed_.size();
    committed_.clear();
    if (reread_.exchange(false) || gap) {
      absl::StatusOr<Result> rows = absl::UnavailableError("not connected");
      if (Connected().ok()) {
        rows = Run(connection_.get(),
                   "SELECT stream_sequence, event FROM chorus_events WHERE stream_sequence > $1 "
                   "ORDER BY stream_sequence LIMIT $2",
                   {Number(last_delivered_), Number(kReadBatch)}, "reading events");
      }
      if (!rows.ok()) {
        reread_ = true;  // the listener tries again
        base::Log(base::LogLevel::kError, "store_events_failed",
                  {{"error", std::string(rows.status().message())}});
      } else {
        const int count = PQntuples(rows->get());
        for (int row = 0; row < count; ++row) {
          const int64_t sequence = Int64(rows->get(), row, 0);
          last_delivered_ = std::max(last_delivered_, sequence);
          v1::RoomEvent event;
          if (!event.ParseFromString(Bytes(rows->get(), row, 1))) {
            base::Log(base::LogLevel::kError, "store_event_unreadable",
                      {{"stream_sequence", sequence}});
            continue;
          }
          event.set_stream_sequence(sequence);
          out.push_back(std::move(event));
        }
        if (count == kReadBatch) reread_ = true;
      }
    }
    delivered_.store(last_delivered_);
    return out;
  }

  void SetEventListener(std::function<void()> wake) override {
    if (wake != nullptr) {
      {
        std::lock_guard<std::mutex> lock(wake_mutex_);
        wake_ = std::move(wake);
      }
      if (!listener_.joinable()) {
        stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        stopping_ = false;
        listener_ = std::thread([this] { Listen(); });
      }
      return;
    }
    if (listener_.joinable()) {
      stopping_ = true;
      const uint64_t one = 1;
      if (stop_fd_ >= 0) (void)!::write(stop_fd_, &one, sizeof(one));
      listener_.join();
    }
    if (stop_fd_ >= 0) ::close(stop_fd_);
    stop_fd_ = -1;
    std::lock_guard<std::mutex> lock(wake_mutex_);
    wake_ = nullptr;
  }

  bool LeadsBackgroundWork() override {
    if (!leader_) {
      absl::StatusOr<Result> taken = Query("SELECT pg_try_advisory_lock($1)", {Number(kLeaderLock)},
                                           "taking the background work");
      if (taken.ok() && Bool(taken->get(), 0, 0)) {
        leader_ = true;
        base::Log(base::LogLevel::kInfo, "store_leader", {{"background_work", true}});
      }
    }
    if (leader_ && absl::Now() - last_trim_ >= kTrimInterval) {
      last_trim_ = absl::Now();
      Query(
          "DELETE FROM chorus_events WHERE stream_sequence <= "
          "(SELECT last FROM chorus_event_counter) - $1",
          {Number(internal::kPostgresKeptEvents)}, "trimming the events")
          .IgnoreError();
    }
    return leader_;
  }

 private:
  struct Row {
    std::unique_ptr<RoomRecord> record;
    int64_t version = 0;  // of the row this copy was read from or written to; -1: read again
    std::string bytes;    // as read or written
  };

  // A connection, opened again when it was lost (the leader's lock went with it).
  absl::Status Connected() {
    if (connection_ != nullptr && PQstatus(connection_.get()) == CONNECTION_OK) {
      return absl::OkStatus();
    }
    leader_ = false;
    if (connection_ != nullptr) {
      PQreset(connection_.get());
      if (PQstatus(connection_.get()) == CONNECTION_OK) {
        return Exec(connection_.get(),
                    "SET lock_timeout = '10s'; SET statement_timeout = '30s'; "
                    "SET idle_in_transaction_session_timeout = '60s'",
                    "setting up the session");
      }
    }
    absl::StatusOr<Connection> opened = Connect(url_);
    if (!opened.ok()) return opened.status();
    connection_ = *std::move(opened);
    return absl::OkStatus();
  }

  // A statement of this section's transaction (begun by the first one). After a failure the
  // section does nothing more: its transaction is lost.
  absl::StatusOr<Result> Query(const char* sql, const std::vector<Param>& params,
                               absl::string_view what) {
    if (section_failed_) return section_error_;
    absl::Status status = absl::OkStatus();
    if (!in_transaction_) {
      status = Connected();
      if (status.ok()) status = Exec(connection_.get(), "BEGIN", "beginning a transaction");
      if (!status.ok() && PQstatus(connection_.get()) != CONNECTION_OK) {
        // The connection was lost since the last section (the server restarted, a failover):
        // nothing has happened yet, so open it again and begin once more.
        status = Connected();
        if (status.ok()) status = Exec(connection_.get(), "BEGIN", "beginning a transaction");
      }
      if (status.ok()) in_transaction_ = true;
    }
    absl::StatusOr<Result> result =
        status.ok() ? Run(connection_.get(), sql, params, what) : absl::StatusOr<Result>(status);
    if (!result.ok()) {
      section_failed_ = true;
      section_error_ = result.status();
      in_transaction_ = true;  // EndSection() rolls back whatever began
      base::Log(base::LogLevel::kError, "store_query_failed",
                {{"error", std::string(result.status().message())}});
    }
    return result;
  }

  // Locks the room's row for this section and brings the copy up to date: its row (whose record
  // is null while handed out), or nullptr when there is no such room.
  absl::StatusOr<Row*> Lock(std::string_view id) {
    auto it = rooms_.find(id);
    if (locked_.contains(id)) return it == rooms_.end() ? nullptr : &it->second;
    const int64_t known = it == rooms_.end() ? -1 : it->second.version;
    absl::StatusOr<Result> row = Query(
        "SELECT version, CASE WHEN version = $2 THEN NULL ELSE record END "
        "FROM chorus_rooms WHERE id = $1 FOR UPDATE",
        {Text(std::string(id)), Number(known)}, "reading a room");
    if (!row.ok()) return row.status();
    if (PQntuples(row->get()) == 0) {
      Forget(id);  // gone (ended through another replica)
      return nullptr;
    }
    if (!PQgetisnull(row->get(), 0, 1)) {
      std::string bytes = Bytes(row->get(), 0, 1);
      absl::StatusOr<std::unique_ptr<RoomRecord>> parsed = Parse(std::string(id), bytes);
      if (!parsed.ok()) {
        base::Log(base::LogLevel::kError, "store_room_unreadable",
                  {{"error", std::string(parsed.status().message())}});
        return parsed.status();
      }
      Adopt(std::string(id), Int64(row->get(), 0, 0), std::move(bytes), *std::move(parsed));
    }
    locked_.insert(std::string(id));
    return &rooms_.find(id)->second;
  }

  // Keeps `record` as the copy of the room: in place of the copy there was, or as a new room at
  // the end of the order. A copy handed out stays the caller's (its row is locked: nobody else
  // changed it).
  void Adopt(const std::string& id, int64_t version, std::string bytes,
             std::unique_ptr<RoomRecord> record) {
    auto it = rooms_.find(id);
    if (it == rooms_.end()) {
      order_.push_back(id);
      rooms_.emplace(id, Row{std::move(record), version, std::move(bytes)});
      return;
    }
    if (it->second.record == nullptr) return;
    it->second.record = std::move(record);
    it->second.version = version;
    it->second.bytes = std::move(bytes);
  }

  void Forget(std::string_view id) {
    auto it = rooms_.find(id);
    if (it == rooms_.end()) return;
    order_.erase(std::remove(order_.begin(), order_.end(), it->first), order_.end());
    rooms_.erase(it);
  }

  // Reads the list of rooms again (once per section), and the rooms changed since their copies.
  // `strict`: a row that does not parse fails (at start); otherwise it is left out and logged.
  void Refresh(bool strict) {
    if (refreshed_) return;
    absl::StatusOr<Result> rows =
        Query("SELECT id, version FROM chorus_rooms ORDER BY position", {}, "listing the rooms");
    if (!rows.ok()) return;
    refreshed_ = true;
    std::vector<std::string> order;
    std::vector<std::string> stale;
    for (int row = 0; row < PQntuples(rows->get()); ++row) {
      std::string id = Bytes(rows->get(), row, 0);
      auto it = rooms_.find(id);
      if (it == rooms_.end() || it->second.version != Int64(rows->get(), row, 1)) {
        stale.push_back(id);
      }
      order.push_back(std::move(id));
    }
    std::set<std::string> unreadable;
    if (!stale.empty()) {
      absl::StatusOr<Result> records =
          Query("SELECT id, version, record FROM chorus_rooms WHERE id = ANY($1::text[])",
                {Text(ArrayLiteral(stale))}, "reading rooms");
      if (!records.ok()) return;
      for (int row = 0; row < PQntuples(records->get()); ++row) {
        std::string id = Bytes(records->get(), row, 0);
        std::string bytes = Bytes(records->get(), row, 2);
        absl::StatusOr<std::unique_ptr<RoomRecord>> parsed = Parse(id, bytes);
        if (!parsed.ok()) {
          if (strict && load_error_.ok()) {
            load_error_ = absl::DataLossError(
                absl::StrCat("PostgreSQL: ", parsed.status().message(),
                             "; restore the database from a backup, or delete that row"));
          }
          base::Log(base::LogLevel::kError, "store_room_unreadable",
                    {{"error", std::string(parsed.status().message())}});
          unreadable.insert(id);
          continue;
        }
        Adopt(id, Int64(records->get(), row, 1), std::move(bytes), *std::move(parsed));
      }
    }
    std::set<std::string> present;
    std::vector<std::string> listed;
    for (std::string& id : order) {
      if (unreadable.contains(id) || !rooms_.contains(id)) continue;
      present.insert(id);
      listed.push_back(std::move(id));
    }
    for (auto it = rooms_.begin(); it != rooms_.end();) {
      it = present.contains(it->first) ? std::next(it) : rooms_.erase(it);
    }
    order_ = std::move(listed);
  }

  // Numbers the section's events, writes the rooms that changed and the events, notifies and
  // commits.
  absl::Status Commit() {
    int64_t last = 0;
    if (!pending_.empty()) {
      // Last lock of the transaction: sections take the counter one after the other, so that the
      // numbers follow the order of the commits.
      absl::StatusOr<Result> counter =
          Query("UPDATE chorus_event_counter SET last = last + $1 RETURNING last",
                {Number(static_cast<int64_t>(pending_.size()))}, "numbering events");
      if (!counter.ok()) return counter.status();
      last = Int64(counter->get(), 0, 0);
      int64_t next = last - static_cast<int64_t>(pending_.size()) + 1;
      for (v1::RoomEvent& event : pending_) {
        event.set_stream_sequence(next++);
        // The room's history has the event too (WatchRoom resumes from it): numbered the same.
        auto it = rooms_.find(event.room().substr(sizeof(kRoomsPrefix) - 1));
        if (it == rooms_.end() || it->second.record == nullptr) continue;
        auto& history = it->second.record->history;
        for (auto kept = history.rbegin(); kept != history.rend(); ++kept) {
          if (kept->sequence() == event.sequence()) {
            kept->set_stream_sequence(event.stream_sequence());
            break;
          }
        }
      }
    }
    struct Written {
      std::string id;
      int64_t version;
      std::string bytes;
    };
    std::vector<Written> written;
    for (const std::string& id : dirty_) {
      auto it = rooms_.find(id);
      if (it == rooms_.end() || it->second.record == nullptr) continue;  // never put back
      std::string bytes = Serialize(*it->second.record);
      if (bytes == it->second.bytes) continue;  // nothing changed
      absl::StatusOr<Result> updated = Query(
          "UPDATE chorus_rooms SET version = version + 1, record = $2 WHERE id = $1 "
          "RETURNING version",
          {Text(id), Binary(bytes)}, "saving a room");
      if (!updated.ok()) return updated.status();
      if (PQntuples(updated->get()) != 1) return absl::InternalError("a locked room disappeared");
      written.push_back({id, Int64(updated->get(), 0, 0), std::move(bytes)});
    }
    for (size_t first = 0; first < pending_.size(); first += kInsertBatch) {
      const size_t end = std::min(pending_.size(), first + kInsertBatch);
      std::string sql =
          "INSERT INTO chorus_events (stream_sequence, room, sequence, event) VALUES ";
      std::vector<Param> params;
      for (size_t i = first; i < end; ++i) {
        const v1::RoomEvent& event = pending_[i];
        const size_t n = params.size();
        absl::StrAppend(&sql, i == first ? "" : ",", "($", n + 1, ",$", n + 2, ",$", n + 3, ",$",
                        n + 4, ")");
        params.push_back(Number(event.stream_sequence()));
        params.push_back(Text(event.room().substr(sizeof(kRoomsPrefix) - 1)));
        params.push_back(Number(event.sequence()));
        params.push_back(Binary(event.SerializeAsString()));
      }
      absl::StatusOr<Result> inserted = Query(sql.c_str(), params, "keeping events");
      if (!inserted.ok()) return inserted.status();
    }
    if (!pending_.empty()) {
      absl::StatusOr<Result> notified =
          Query("SELECT pg_notify($1, $2)", {Text(kChannel), Number(last)}, "notifying events");
      if (!notified.ok()) return notified.status();
    }
    absl::Status committed = Exec(connection_.get(), "COMMIT", "committing");
    in_transaction_ = false;
    if (!committed.ok()) return committed;
    for (Written& row : written) {
      auto it = rooms_.find(row.id);
      if (it == rooms_.end()) continue;
      it->second.version = row.version;
      it->second.bytes = std::move(row.bytes);
    }
    for (v1::RoomEvent& event : pending_) committed_.push_back(std::move(event));
    return absl::OkStatus();
  }

  // The listener thread: a connection of its own LISTENs for commits with events and wakes the
  // owner when one of them is newer than what it has taken (and every second while a read failed).
  void Listen() {
    Connection connection;
    absl::Time last_wake = absl::InfinitePast();
    while (!stopping_) {
      if (connection == nullptr || PQstatus(connection.get()) != CONNECTION_OK) {
        connection.reset();
        absl::StatusOr<Connection> opened = Connect(url_);
        if (opened.ok() &&
            Exec(opened->get(), absl::StrCat("LISTEN ", kChannel).c_str(), "listening").ok()) {
          connection = *std::move(opened);
          reread_ = true;  // whatever came while nobody listened
          Wake();
          last_wake = absl::Now();
        } else {
          base::Log(
              base::LogLevel::kWarning, "store_listen_failed",
              {{"error", std::string(opened.ok() ? "LISTEN refused" : opened.status().message())}});
          pollfd stop{stop_fd_, POLLIN, 0};
          ::poll(&stop, 1, 1000);
          continue;
        }
      }
      pollfd fds[2] = {{PQsocket(connection.get()), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      ::poll(fds, 2, 1000);
      if (stopping_) break;
      if (PQconsumeInput(connection.get()) == 0) {
        connection.reset();
        continue;
      }
      bool newer = false;
      while (PGnotify* notification = PQnotifies(connection.get())) {
        const int64_t sequence = std::strtoll(notification->extra, nullptr, 10);
        PQfreemem(notification);
        newer |= sequence > delivered_.load();
      }
      if (newer) reread_ = true;
      if (newer || (reread_.load() && absl::Now() - last_wake >= absl::Seconds(1))) {
        Wake();
        last_wake = absl::Now();
      }
    }
  }

  void Wake() {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    if (wake_ != nullptr) wake_();
  }

  const std::string url_;
  Connection connection_;  // the sections' (under the owner's mutex)
  std::map<std::string, Row, std::less<>> rooms_;
  std::vector<std::string> order_;  // ids in creation order, as last listed
  // This section: rows locked (FOR UPDATE, or inserted), rooms saved, events published.
  std::set<std::string, std::less<>> locked_;
  std::set<std::string, std::less<>> dirty_;
  std::vector<v1::RoomEvent> pending_;
  bool in_transaction_ = false;
  bool refreshed_ = false;
  bool section_failed_ = false;
  absl::Status section_error_;
  absl::Status load_error_;
  // Events committed by this replica and not taken yet; the last stream sequence taken.
  std::vector<v1::RoomEvent> committed_;
  int64_t last_delivered_ = 0;
  bool leader_ = false;
  absl::Time last_trim_ = absl::InfinitePast();

  // Shared with the listener thread.
  std::atomic<int64_t> delivered_{0};
  std::atomic<bool> reread_{true};  // the events table has events not taken yet
  std::atomic<bool> stopping_{false};
  int stop_fd_ = -1;
  std::mutex wake_mutex_;
  std::function<void()> wake_;  // guarded by wake_mutex_
  std::thread listener_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RoomStore>> MakePostgresRoomStore(const std::string& url) {
  absl::StatusOr<Connection> connection = Connect(url);
  if (!connection.ok()) return connection.status();
  absl::Status status = Migrate(connection->get());
  if (!status.ok()) return status;
  auto store = std::make_unique<PostgresRoomStore>(url, *std::move(connection));
  status = store->ReadAll();
  if (!status.ok()) return status;
  return store;
}

}  // namespace chorus::controller
