#include "services/controller/rooms_service.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "pipeline/base/log.h"
#include "services/common/api_guard.h"
#include "services/common/status.h"

namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;
namespace internal = chorus::internal::v1;
using rules::FromTimestamp;
using rules::RoomEnd;
using rules::ToTimestamp;
using rules::ValidTimestamp;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr size_t kHistory = 1000;
// A join reserves its participant, sets up its media (each call to the node waits at most 3 s),
// then confirms. A reservation this old was left by a controller that stopped in between.
constexpr absl::Duration kStaleReservation = absl::Minutes(2);
constexpr size_t kWatcherQueue = 256;
// WatchRooms: the events kept for resuming, and how far one stream may fall behind.
constexpr size_t kAllHistory = 10000;
constexpr size_t kAllWatcherQueue = 4096;
// PIN hashes: Argon2id (libsodium crypto_pwhash) with 16 MiB and 2 passes: a PIN is short, so the
// hash's job is to make a stolen memory dump expensive to search, not to be unguessable.
constexpr unsigned long long kPinOps = 2;
constexpr size_t kPinMemory = 16u << 20;

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}
grpc::Status NotFound(const std::string& message) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, message);
}
grpc::Status Precondition(const std::string& message) {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, message);
}
// A section's own status as the join flow takes it: gRPC's canonical codes are absl's.
absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

rules::PinPolicy PinPolicy(const RoomsOptions& options) {
  rules::PinPolicy policy;
  policy.attempts_per_source = options.pin_attempts_per_source;
  policy.attempts_per_room = options.pin_attempts_per_room;
  policy.window = options.pin_window;
  policy.lockout = options.pin_lockout;
  return policy;
}

void EnsureSodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) std::abort();
  });
}

std::string RandomId(size_t bytes) {
  EnsureSodium();
  std::array<unsigned char, 16> random{};
  randombytes_buf(random.data(), bytes);
  std::array<char, 33> hex{};
  sodium_bin2hex(hex.data(), hex.size(), random.data(), bytes);
  return std::string(hex.data());
}

// 32 random bytes, URL-safe base64 without padding (43 characters): invite and session tokens.
std::string NewSecret() {
  EnsureSodium();
  std::array<unsigned char, 32> secret{};
  randombytes_buf(secret.data(), secret.size());
  char token[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(token, sizeof(token), secret.data(), secret.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(secret.data(), secret.size());
  return std::string(token);
}

std::string HashToken(const std::string& token) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(token.data()),
                     token.size());
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

bool ValidRoomId(const std::string& id) {
  if (id.size() < 4 || id.size() > 63 || !(id[0] >= 'a' && id[0] <= 'z')) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool ValidPin(const std::string& pin) {
  return pin.size() >= 4 && pin.size() <= 12 &&
         std::all_of(pin.begin(), pin.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// No control characters (C0, DEL); the text is otherwise free (UTF-8 is checked by protobuf).
bool NoControlCharacters(const std::string& text) {
  return std::none_of(text.begin(), text.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// A duration as protobuf defines it: nanos 0 to 999,999,999 for a positive one; Chorus takes
// no negative durations.
bool ValidDuration(const google::protobuf::Duration& duration) {
  return duration.seconds() >= 0 && duration.nanos() >= 0 && duration.nanos() < 1'000'000'000;
}

// The one check of a room's end, `field` being "expire_time" or "ttl" (the two ways of giving
// it), for a room created at `created`, at `now`: CreateRoom and UpdateRoom both run it.
grpc::Status CheckExpiry(std::string_view field, const v1::Room& in, absl::Time created,
                         absl::Time now, absl::Time* end) {
  if (field == "ttl") {
    if (!in.has_ttl()) return Invalid("room.ttl: give it when update_mask names it");
    if (!ValidDuration(in.ttl()) || (in.ttl().seconds() == 0 && in.ttl().nanos() == 0)) {
      return Invalid(
          "room.ttl: longer than zero, ending at most 90 days after the room's creation");
    }
    *end = now + absl::Seconds(in.ttl().seconds()) + absl::Nanoseconds(in.ttl().nanos());
  } else {
    if (!in.has_expire_time()) {
      return Invalid("room.expire_time: give it when update_mask names it");
    }
    if (!ValidTimestamp(in.expire_time())) return Invalid("room.expire_time: not a valid time");
    *end = FromTimestamp(in.expire_time());
  }
  if (*end <= now) {
    return Invalid(absl::StrCat("room.", std::string(field), ": the room would end in the past"));
  }
  if (*end > created + kMaxRoomLifetime) {
    return Invalid(absl::StrCat("room.", std::string(field),
                                ": a room ends at most 90 days after its creation"));
  }
  return grpc::Status::OK;
}

// The one check of each settable Room field: CreateRoom runs it on every field, UpdateRoom on the
// fields of its mask, so a value is accepted or refused the same way wherever it arrives.
grpc::Status CheckRoomField(std::string_view field, const v1::Room& in,
                            const RoomsOptions& options) {
  if (field == "lobby_enabled") return grpc::Status::OK;
  if (field == "admission") {
    if (!v1::AdmissionPolicy_IsValid(in.admission())) {
      return Invalid("room.admission: unknown value");
    }
    return grpc::Status::OK;
  }
  if (field == "max_participants") {
    if (in.max_participants() != 0 &&
        (in.max_participants() < 2 || in.max_participants() > options.max_participants_limit)) {
      return Invalid(absl::StrCat("room.max_participants: 2 to ", options.max_participants_limit,
                                  " (0: the default)"));
    }
    return grpc::Status::OK;
  }
  if (field == "languages") {
    if (in.languages_size() > 8) return Invalid("room.languages: at most 8");
    std::set<std::string> seen;
    for (const std::string& language : in.languages()) {
      if (!rules::ValidLanguage(language)) return Invalid("room.languages: not a BCP-47 tag");
      if (!seen.insert(language).second) return Invalid("room.languages: a language twice");
    }
    return grpc::Status::OK;
  }
  if (field == "layout_policy") {
    if (!v1::LayoutPolicy::Mode_IsValid(in.layout_policy().mode())) {
      return Invalid("room.layout_policy.mode: unknown value");
    }
    if (in.layout_policy().max_tiles() < 0 || in.layout_policy().max_tiles() > 25) {
      return Invalid("room.layout_policy.max_tiles: 0 to 25");
    }
    return grpc::Status::OK;
  }
  if (field == "idle_timeout") {
    if (!ValidDuration(in.idle_timeout()) || in.idle_timeout().seconds() > 24 * 3600) {
      return Invalid("room.idle_timeout: 0 (the default, 10 minutes) to 24 h, not negative");
    }
    return grpc::Status::OK;
  }
  if (field == "floor_level_db") {
    if (!(in.floor_level_db() >= -60.0 && in.floor_level_db() <= 0.0)) {
      return Invalid("room.floor_level_db: between -60 (muted) and 0");
    }
    return grpc::Status::OK;
  }
  return Invalid(absl::StrCat("update_mask: '", common::Excerpt(field), "' cannot be changed"));
}

std::string HashPin(const std::string& pin) {
  EnsureSodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, pin.data(), pin.size(), kPinOps, kPinMemory) != 0) return {};
  return out;
}

bool PinMatches(const std::string& hash, const std::string& pin) {
  if (hash.empty()) return false;
  return crypto_pwhash_str_verify(hash.c_str(), pin.data(), pin.size()) == 0;
}

// Offset paging (AIP-158) of one listing, tokens "<prefix><offset>": the request is checked up
// front; the page's [begin, end) and the next token follow once the listing's size is known.
class Pager {
 public:
  Pager(const char* prefix, int page_size, const std::string& token) : prefix_(prefix) {
    if (page_size < 0) {
      status_ = Invalid("page_size must be 0 (the default, 50) or positive");
      return;
    }
    size_ = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
    if (!token.empty() &&
        (token.compare(0, prefix_.size(), prefix_) != 0 ||
         !absl::SimpleAtoi(absl::string_view(token).substr(prefix_.size()), &offset_))) {
      status_ = Invalid("page_token is not one this server returned");
    }
  }
  const grpc::Status& status() const { return status_; }
  // For a listing of `total` items; INVALID_ARGUMENT when the token points past its end.
  grpc::Status Range(size_t total, size_t* begin, size_t* end, std::string* next_token) const {
    if (offset_ > total) return Invalid("page_token is stale: the listing has changed");
    *begin = offset_;
    *end = std::min(total, offset_ + static_cast<size_t>(size_));
    if (*end < total) *next_token = absl::StrCat(prefix_, *end);
    return grpc::Status::OK;
  }

 private:
  const std::string prefix_;
  int size_ = kDefaultPageSize;
  size_t offset_ = 0;
  grpc::Status status_;
};

// Printable ASCII, 1 to `max` characters.
bool ShortToken(const std::string& text, size_t max) {
  return !text.empty() && text.size() <= max &&
         std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// The shape of a media offer: enums known, sizes bounded, ids in range. What the codecs, keys
// and addresses mean is the media node's to judge.
grpc::Status CheckRtpOffer(const v1::RtpOffer& rtp) {
  if (!v1::Transport_IsValid(rtp.transport())) {
    return Invalid("offer.rtp.transport: unknown value");
  }
  if (rtp.streams().empty()) return Invalid("offer.rtp.streams: at least one stream");
  if (rtp.streams_size() > 4) return Invalid("offer.rtp.streams: at most 4 streams");
  for (const v1::StreamOffer& stream : rtp.streams()) {
    if (stream.kind() == v1::MEDIA_KIND_UNSPECIFIED || !v1::MediaKind_IsValid(stream.kind())) {
      return Invalid("offer.rtp.streams.kind: AUDIO, VIDEO or CONTENT");
    }
    if (stream.codecs().empty() || stream.codecs_size() > 32) {
      return Invalid("offer.rtp.streams.codecs: 1 to 32");
    }
    for (const v1::Codec& codec : stream.codecs()) {
      if (!ShortToken(codec.name(), 32)) {
        return Invalid("offer.rtp.streams.codecs.name: 1 to 32 printable characters");
      }
      if (codec.payload_type() > 127) {
        return Invalid("offer.rtp.streams.codecs.payload_type: 0 to 127");
      }
      if (codec.clock_rate() > 192000 || codec.channels() > 8) {
        return Invalid("offer.rtp.streams.codecs: clock_rate at most 192000, channels at most 8");
      }
      if (codec.fmtp().size() > 512 || !NoControlCharacters(codec.fmtp())) {
        return Invalid("offer.rtp.streams.codecs.fmtp: at most 512 characters, no control ones");
      }
    }
    if (stream.address().size() > 64) {
      return Invalid("offer.rtp.streams.address: an IP address (at most 64 characters)");
    }
    if (stream.port() > 65535) return Invalid("offer.rtp.streams.port: 0 to 65535");
    if (!v1::SrtpSuite_IsValid(stream.key().suite())) {
      return Invalid("offer.rtp.streams.key.suite: unknown value");
    }
    if (stream.key().key_base64().size() > 128) {
      return Invalid("offer.rtp.streams.key.key_base64: at most 128 characters");
    }
    if (stream.header_extensions_size() > 16) {
      return Invalid("offer.rtp.streams.header_extensions: at most 16");
    }
    for (const v1::HeaderExtension& extension : stream.header_extensions()) {
      if (extension.id() < 1 || extension.id() > 14) {
        return Invalid("offer.rtp.streams.header_extensions.id: 1 to 14");
      }
      if (!ShortToken(extension.uri(), 256)) {
        return Invalid("offer.rtp.streams.header_extensions.uri: 1 to 256 printable characters");
      }
    }
    if (stream.width() > 4096 || stream.height() > 4096) {
      return Invalid("offer.rtp.streams: width and height at most 4096");
    }
  }
  return grpc::Status::OK;
}

// Public media offer -> the internal endpoint the node takes.
grpc::Status OfferToEndpoint(const v1::MediaOffer& offer, internal::Endpoint* endpoint) {
  if (offer.has_webrtc()) {
    // The media node parses and negotiates it (pipeline/sdp); the shape is checked here.
    const std::string& sdp = offer.webrtc().sdp();
    if (sdp.empty()) return Invalid("offer.webrtc.sdp: the browser's SDP offer is required");
    if (sdp.size() > 64 * 1024) return Invalid("offer.webrtc.sdp: at most 64 KiB");
    endpoint->set_webrtc_offer_sdp(sdp);
    return grpc::Status::OK;
  }
  if (!offer.has_rtp()) return Invalid("offer: an RTP/SRTP media offer is required");
  const v1::RtpOffer& rtp = offer.rtp();
  if (grpc::Status status = CheckRtpOffer(rtp); !status.ok()) return status;
  endpoint->set_transport(static_cast<internal::Transport>(rtp.transport()));
  for (const v1::StreamOffer& stream : rtp.streams()) {
    internal::RemoteStream* out = endpoint->add_remote_streams();
    out->set_kind(static_cast<internal::MediaKind>(stream.kind()));
    for (const v1::Codec& codec : stream.codecs()) {
      internal::Codec* c = out->add_codecs();
      c->set_name(codec.name());
      c->set_payload_type(codec.payload_type());
      c->set_clock_rate(codec.clock_rate());
      c->set_channels(codec.channels());
      c->set_fmtp(codec.fmtp());
    }
    out->set_address(stream.address());
    out->set_port(stream.port());
    out->set_learn_address(stream.learn_address());
    out->mutable_key()->set_suite(static_cast<internal::SrtpSuite>(stream.key().suite()));
    out->mutable_key()->set_key_base64(stream.key().key_base64());
    for (const v1::HeaderExtension& extension : stream.header_extensions()) {
      internal::HeaderExtension* e = out->add_header_extensions();
      e->set_id(extension.id());
      e->set_uri(extension.uri());
    }
    out->set_ssrc(stream.ssrc());
    out->set_width(stream.width());
    out->set_height(stream.height());
  }
  return grpc::Status::OK;
}

void EndpointToAnswer(const internal::Endpoint& endpoint, v1::MediaAnswer* answer) {
  if (!endpoint.webrtc_answer_sdp().empty()) {
    answer->mutable_webrtc()->set_sdp(endpoint.webrtc_answer_sdp());
    return;
  }
  v1::RtpAnswer* rtp = answer->mutable_rtp();
  rtp->set_transport(static_cast<v1::Transport>(endpoint.transport()));
  for (const internal::LocalStream& local : endpoint.local_streams()) {
    v1::StreamAnswer* stream = rtp->add_streams();
    stream->set_kind(static_cast<v1::MediaKind>(local.kind()));
    stream->mutable_codec()->set_name(local.codec().name());
    stream->mutable_codec()->set_payload_type(local.codec().payload_type());
    stream->mutable_codec()->set_clock_rate(local.codec().clock_rate());
    stream->mutable_codec()->set_channels(local.codec().channels());
    stream->mutable_codec()->set_fmtp(local.codec().fmtp());
    stream->set_address(local.address());
    stream->set_port(local.port());
    stream->set_ssrc(local.ssrc());
    stream->mutable_key()->set_suite(static_cast<v1::SrtpSuite>(local.key().suite()));
    stream->mutable_key()->set_key_base64(local.key().key_base64());
    for (const internal::HeaderExtension& extension : local.header_extensions()) {
      v1::HeaderExtension* e = stream->add_header_extensions();
      e->set_id(extension.id());
      e->set_uri(extension.uri());
    }
  }
}

enum EventKind { kWaiting, kJoined, kAdmitted, kUpdated };

}  // namespace

// One WatchRoom stream's queue. The room pushes (under the service mutex, never blocking); the
// stream's own thread pops. A watcher that falls kWatcherQueue events behind is ended.
struct RoomsService::Watcher {
  explicit Watcher(size_t limit = kWatcherQueue) : limit(limit) {}
  const size_t limit;
  // WatchRoom: the room's last event it has been given (from the history, when it started);
  // only later ones are pushed. Set before it is registered, under the service mutex.
  int64_t after_sequence = 0;
  absl::Mutex mutex;
  std::deque<v1::RoomEvent> queue ABSL_GUARDED_BY(mutex);
  bool overflow ABSL_GUARDED_BY(mutex) = false;
  bool closed ABSL_GUARDED_BY(mutex) = false;

  void Push(const v1::RoomEvent& event) {
    absl::MutexLock lock(&mutex);
    if (closed || overflow) return;
    if (queue.size() >= limit) {
      overflow = true;
      return;
    }
    queue.push_back(event);
  }
  void Close() {
    absl::MutexLock lock(&mutex);
    closed = true;
  }
};

// A locked section of RoomsService: holds its mutex and, before letting go, saves every room the
// section found by name or published an event in (the store skips rooms that did not change), so
// that each change reaches the store before anyone can see it.
class ABSL_SCOPED_LOCKABLE RoomsService::Locked {
 public:
  explicit Locked(RoomsService* service) ABSL_EXCLUSIVE_LOCK_FUNCTION(service->mutex_)
      : service_(service) {
    service_->mutex_.Lock();
  }
  ~Locked() ABSL_UNLOCK_FUNCTION() {
    service_->mutex_.AssertHeld();
    service_->SaveTouched().IgnoreError();  // logged and counted
    service_->mutex_.Unlock();
  }
  // Ends the section's changes here, before answering (the mutex stays held to the end of the
  // scope): OK, or UNAVAILABLE when a shared store could not keep them (then nothing of them
  // holds, and the caller must not say it does).
  grpc::Status Commit() {
    service_->mutex_.AssertHeld();
    if (service_->SaveTouched().ok()) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the change could not be kept (the rooms' database failed); try again");
  }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

 private:
  RoomsService* const service_;  // not owned
};

// The rooms as the join flow sees them: each Update is one locked section of the service.
class RoomsService::Sections final : public RoomSections {
 public:
  explicit Sections(RoomsService* service) : service_(service) {}

  absl::Status Update(const std::string& room_name,
                      const Change& change) override ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Locked lock(service_);
    Room* room = service_->FindRoom(room_name);
    const absl::Status missing = room == nullptr ? FromGrpc(service_->NoRoom()) : absl::OkStatus();
    rules::Events events;
    const absl::Status changed = change(room, missing, &events);
    if (room != nullptr) {
      for (v1::RoomEvent& event : events) service_->Publish(*room, std::move(event));
    }
    if (!changed.ok()) return changed;
    return FromGrpc(lock.Commit());
  }

 private:
  RoomsService* const service_;  // not owned
};

RoomsService::RoomsService(const common::BearerAuthenticator& auth,
                           const common::Lifecycle& lifecycle, MediaNodes* media,
                           RoomsOptions options, std::unique_ptr<RoomStore> store)
    : auth_(auth),
      lifecycle_(lifecycle),
      media_(media),
      client_(media != nullptr ? std::make_unique<MediaClientImpl>(media) : nullptr),
      options_(options),
      store_(store != nullptr ? std::move(store) : MakeInMemoryRoomStore()),
      metrics_(std::make_shared<ControllerMetrics>()),
      sections_(std::make_unique<Sections>(this)) {
  if (client_ != nullptr) {
    join_flow_ = std::make_unique<JoinFlow>(sections_.get(), client_.get(), metrics_.get(),
                                            options_.now, PinPolicy(options_), PinMatches);
  }
  EnsureSodium();
  started_ = options_.now();
  metrics_->SetCountSource([this] { return CountRooms(); });
  // Events another controller committed to a shared store: the end of a locked section delivers
  // them (SaveTouched).
  store_->SetEventListener([this] { Locked lock(this); });
  {
    // WatchRooms numbering starts at the wall clock in microseconds: above every number an
    // earlier run of this controller handed out (at fewer than one event per microsecond), so a
    // resume point from before a restart is refused, never silently misread.
    Locked lock(this);
    next_stream_sequence_ = std::max<int64_t>(1, absl::ToUnixMicros(absl::Now()));
  }
  {
    // Rooms loaded from a store written before rooms had an expire_time get theirs (the latest
    // allowed), so that the API shows when each room ends.
    Locked lock(this);
    auto outdated = [](const Room& room) {
      return !room.room.has_expire_time() ||
             room.room.expire_time().SerializeAsString() !=
                 ToTimestamp(RoomEnd(room.room)).SerializeAsString();
    };
    std::vector<std::string> ids;
    ForEachRoom([&](const Room& room) {
      if (outdated(room)) ids.push_back(room.id);
    });
    for (const std::string& id : ids) {
      Room* room = LoadRoom(id);
      if (room != nullptr && outdated(*room)) {
        *room->room.mutable_expire_time() = ToTimestamp(RoomEnd(room->room));
      }
    }
  }
  Purge();
}

google::protobuf::Timestamp RoomsService::Now() const { return ToTimestamp(options_.now()); }

RoomsService::~RoomsService() {
  metrics_->SetCountSource(nullptr);
  store_->SetEventListener(nullptr);
  Shutdown();
}

RoomCounts RoomsService::CountRooms() {
  RoomCounts counts;
  Locked lock(this);
  ForEachRoom([&](const Room& room) {
    if (room.room.state() == v1::ROOM_STATE_ACTIVE) {
      ++counts.rooms_active;
    } else {
      ++counts.rooms_open;
    }
    for (const auto& [id, member] : room.participants) {
      if (member.pending) continue;
      if (member.participant.state() == v1::PARTICIPANT_STATE_WAITING) {
        ++counts.participants_waiting;
      } else {
        ++counts.participants_admitted;
      }
    }
  });
  return counts;
}

void RoomsService::Shutdown() {
  Locked lock(this);
  shutting_down_ = true;
  for (auto& [id, list] : watchers_) {
    for (auto& watcher : list) watcher->Close();
  }
  for (auto& watcher : all_watchers_) watcher->Close();
}

void RoomsService::Sweep() {
  std::vector<std::unique_ptr<Room>> closed;
  {
    Locked lock(this);
    // Several controllers on one store: one of them at a time does the housekeeping.
    if (!store_->LeadsBackgroundWork()) return;
    const absl::Time now = options_.now();
    closed = TakeExpired(now);
    auto idle = [&](const Room& room) {
      return rules::IdleExpired(room, now, options_.default_idle_timeout);
    };
    std::vector<std::string> candidates;
    ForEachRoom([&](const Room& room) {
      if (idle(room)) candidates.push_back(room.id);
    });
    for (const std::string& id : candidates) {
      // Found again (a shared store locks it, and reads it again if it changed meanwhile).
      const Room* room = LoadRoom(id);
      if (room != nullptr && idle(*room)) closed.push_back(TakeRoom(id, CloseReason::kIdle));
    }
    // Joins a controller left half done (it died between reserving and confirming): their
    // participants go, their invites work again.
    const absl::Time stale = now - kStaleReservation;
    std::vector<std::string> reserved;
    ForEachRoom([&](const Room& room) {
      if (rules::HasStaleReservations(room, stale)) reserved.push_back(room.id);
    });
    for (const std::string& id : reserved) {
      Room* room = LoadRoom(id);  // as it is now; written back at the end
      if (room == nullptr) continue;
      const std::vector<std::string> dropped = rules::DropStaleReservations(*room, stale, now);
      if (!dropped.empty()) {
        base::Log(base::LogLevel::kWarning, "stale_reservations_dropped",
                  {{"room", id}, {"participants", static_cast<int64_t>(dropped.size())}});
      }
    }
    // Calls that came back from the store on a node that has not answered since the start: the
    // node is gone (or no longer configured); their participants may join again elsewhere.
    if (now - started_ >= options_.restore_wait) {
      std::vector<std::string> restored;
      ForEachRoom([&](const Room& room) {
        if (room.restored) restored.push_back(room.id);
      });
      for (const std::string& id : restored) {
        Room* room = LoadRoom(id);  // as it is now (another controller may have changed it)
        if (room == nullptr || !room->restored) continue;
        base::Log(base::LogLevel::kWarning, "restored_room_node_silent", {{"room", room->id}});
        LoseMedia(*room);
      }
    }
  }
  for (const auto& room : closed) EndRoomMedia(*room);
  PollSpeakers();
}

std::vector<std::unique_ptr<RoomsService::Room>> RoomsService::TakeExpired(absl::Time now) {
  std::vector<std::string> expired;
  ForEachRoom([&](const Room& room) {
    if (now >= RoomEnd(room.room)) expired.push_back(room.id);
  });
  std::vector<std::unique_ptr<Room>> closed;
  for (const std::string& id : expired) {
    const Room* room = LoadRoom(id);  // as it is now (another controller may have changed it)
    if (room != nullptr && now >= RoomEnd(room->room)) {
      closed.push_back(TakeRoom(id, CloseReason::kExpired));
    }
  }
  return closed;
}

int RoomsService::Purge() {
  std::vector<std::unique_ptr<Room>> closed;
  absl::StatusOr<int> deleted = 0;
  {
    Locked lock(this);
    if (!store_->LeadsBackgroundWork()) return 0;
    closed = TakeExpired(options_.now());
    PutBack();  // the store purges what it does not hold
    deleted = store_->Purge();
  }
  for (const auto& room : closed) EndRoomMedia(*room);
  if (!deleted.ok()) {
    base::Log(base::LogLevel::kError, "retention_purge_failed",
              {{"rooms_closed", static_cast<int64_t>(closed.size())},
               {"error", std::string(deleted.status().message())}});
  } else if (!closed.empty() || *deleted > 0) {
    base::Log(base::LogLevel::kInfo, "retention_purge",
              {{"rooms_closed", static_cast<int64_t>(closed.size())},
               {"stored_rooms_deleted", static_cast<int64_t>(*deleted)}});
  }
  return static_cast<int>(closed.size());
}

void RoomsService::PollSpeakers() {
  if (media_ == nullptr) return;
  std::vector<std::pair<std::string, int>> active;
  {
    Locked lock(this);
    if (!store_->LeadsBackgroundWork()) return;
    ForEachRoom([&](const Room& room) {
      if (room.node >= 0 && !room.participants.empty()) active.emplace_back(room.id, room.node);
    });
  }
  for (const auto& [id, node] : active) {
    absl::StatusOr<internal::SessionStats> stats =
        client_->GetSessionStats(static_cast<size_t>(node), id);
    if (!stats.ok()) continue;
    std::vector<Departure> departures;
    std::vector<std::string> unknown;
    {
      Locked lock(this);
      Room* found = LoadRoom(id);
      if (found == nullptr) continue;
      Room& room = *found;
      std::set<std::string> speaking;
      for (const auto& [language, list] : stats->speakers()) {
        std::vector<std::string> names;
        for (const std::string& endpoint : list.endpoints()) {
          const std::string participant = endpoint.substr(endpoint.rfind('/') + 1);
          if (!room.participants.contains(participant)) continue;
          names.push_back(room.ParticipantName(participant));
          speaking.insert(participant);
        }
        if (room.speakers[language] == names) continue;
        room.speakers[language] = names;
        v1::RoomEvent event;
        event.mutable_speakers_changed()->set_language(language);
        for (const std::string& name : names)
          event.mutable_speakers_changed()->add_participants(name);
        Publish(room, std::move(event));
      }
      for (auto& [participant, member] : room.participants) {
        member.participant.set_speaking(speaking.contains(participant));
      }
      // Nothing reaches a room's media that is not in its roster: an endpoint of the session that
      // belongs to no participant (pending joins included) is removed. And a participant whose
      // media stopped for the media timeout leaves.
      std::vector<std::string> silent;
      for (const internal::EndpointStats& endpoint : stats->endpoints()) {
        const std::string participant =
            endpoint.endpoint().substr(endpoint.endpoint().rfind('/') + 1);
        auto member = room.participants.find(participant);
        if (member == room.participants.end()) {
          unknown.push_back(endpoint.endpoint());
        } else if (!member->second.pending &&
                   absl::Seconds(endpoint.seconds_since_media()) > options_.media_timeout) {
          silent.push_back(participant);
        }
      }
      for (const std::string& participant : silent) {
        base::Log(base::LogLevel::kInfo, "participant_media_timeout",
                  {{"room", id}, {"participant", participant}});
        departures.push_back(Depart(room, participant, v1::LEAVE_REASON_MEDIA_TIMEOUT));
        if (departures.back().closed) break;  // a one-time room ended with it
      }
    }
    for (Departure& departure : departures) Apply(departure);
    RemoveUnknownEndpoints(id, node, unknown);
  }
}

void RoomsService::RemoveUnknownEndpoints(const std::string& room_id, int node,
                                          const std::vector<std::string>& endpoints) {
  if (media_ == nullptr || node < 0) return;
  for (const std::string& endpoint : endpoints) {
    if (client_->RemoveEndpointNamed(static_cast<size_t>(node), endpoint).ok()) {
      unknown_endpoints_removed_.fetch_add(1);
      base::Log(base::LogLevel::kWarning, "unknown_endpoint_removed", {{"room", room_id}});
    }
  }
}

void RoomsService::OnNodeFailed(size_t node) {
  Locked lock(this);
  std::vector<std::string> on_node;
  ForEachRoom([&](const Room& room) {
    if (room.node == static_cast<int>(node)) on_node.push_back(room.id);
  });
  for (const std::string& id : on_node) {
    Room* room = LoadRoom(id);  // as it is now (another controller may have changed it)
    if (room == nullptr || room->node != static_cast<int>(node)) continue;
    LoseMedia(*room);
  }
}

void RoomsService::LoseMedia(Room& room) {
  v1::RoomEvent event;
  event.mutable_media_node_failed()->set_media_node(room.room.media_node());
  Publish(room, std::move(event));
  std::vector<std::string> ids = room.participant_order;
  for (const std::string& participant : ids) {
    DropParticipant(room, participant, v1::LEAVE_REASON_NODE_FAILED);
  }
  ClearNode(room);
  base::Log(base::LogLevel::kWarning, "room_media_lost", {{"room", room.id}});
}

size_t RoomsService::ReconcileNodes() {
  if (media_ == nullptr) return 0;
  // The nodes' ids come with their load reports: a room is found again by its node's id when
  // the node's address changed.
  media_->RefreshNow();
  size_t answered = 0;
  const size_t count = media_->size();
  for (size_t node = 0; node < count; ++node) answered += ReconcileNode(node) ? 1 : 0;
  return answered;
}

bool RoomsService::ReconcileNode(size_t node) {
  if (media_ == nullptr || node >= media_->size()) return false;
  absl::StatusOr<internal::ListSessionsResponse> listed = client_->ListSessions(node);
  if (!listed.ok()) {
    base::Log(
        base::LogLevel::kWarning, "reconcile_failed",
        {{"node", media_->address(node)}, {"code", static_cast<int>(listed.status().code())}});
    return false;
  }
  const std::string address = media_->address(node);
  const std::string node_id = media_->node_id(node);
  // The node's sessions by room id (a session is named after its room).
  std::map<std::string, const internal::SessionListing*> sessions;
  for (const internal::SessionListing& listing : listed->sessions()) {
    const std::string& name = listing.session().name();
    if (absl::StartsWith(name, "sessions/")) sessions[name.substr(9)] = &listing;
  }
  struct Resend {
    std::string room_id;
    std::string participant;
    internal::Routing routing;
  };
  std::vector<Resend> resend;
  std::vector<std::pair<std::string, v1::LayoutPolicy>> layouts;
  std::vector<Departure> departures;
  std::vector<std::pair<std::string, std::vector<std::string>>> unknown;  // by room
  std::vector<std::string> orphans;
  int64_t restored_rooms = 0;
  int64_t lost_rooms = 0;
  {
    Locked lock(this);
    // 1. The calls that came back from the store and belong on this node.
    auto here = [&](const Room& room) {
      return room.restored && media_->Locate(room.node_address, room.node_id) == node;
    };
    std::vector<std::string> restored;
    ForEachRoom([&](const Room& room) {
      if (here(room)) restored.push_back(room.id);
    });
    for (const std::string& id : restored) {
      Room* room = LoadRoom(id);  // as it is now (another controller may have changed it)
      if (room == nullptr || !here(*room)) continue;
      auto session = sessions.find(room->id);
      if (session == sessions.end()) {
        // The node no longer runs the call (it restarted too, or it is the media node of a
        // `chorusd all` that stopped).
        ++lost_rooms;
        LoseMedia(*room);
        continue;
      }
      AssignNode(*room, node, *client_);
      room->session_ready = true;
      ++restored_rooms;
      layouts.emplace_back(room->id, room->room.layout_policy());
      std::map<std::string, const internal::Endpoint*> endpoints;
      for (const internal::Endpoint& endpoint : session->second->endpoints()) {
        endpoints[endpoint.name().substr(endpoint.name().rfind('/') + 1)] = &endpoint;
      }
      std::vector<std::string> gone;
      for (const std::string& id : room->participant_order) {
        auto endpoint = endpoints.find(id);
        if (endpoint == endpoints.end()) {
          gone.push_back(id);
        } else if (endpoint->second->routing().SerializeAsString() !=
                   room->participants.at(id).routing.SerializeAsString()) {
          // A change the old controller kept but did not get to send.
          resend.push_back({room->id, id, room->participants.at(id).routing});
        }
      }
      base::Log(base::LogLevel::kInfo, "room_call_restored",
                {{"room", room->id},
                 {"participants", static_cast<int64_t>(room->participants.size() - gone.size())},
                 {"participants_lost", static_cast<int64_t>(gone.size())}});
      for (const std::string& id : gone) {
        departures.push_back(Depart(*room, id, v1::LEAVE_REASON_NODE_FAILED));
        if (departures.back().closed) break;  // a one-time room ended with it
      }
    }
    // 2. What runs on the node that nobody owns: sessions of no room on this node, endpoints of
    // no participant (a join that was setting up its media when the old controller stopped).
    for (const auto& [room_id, listing] : sessions) {
      Room* room = LoadRoom(room_id);
      if (room == nullptr || room->node != static_cast<int>(node)) {
        orphans.push_back(room_id);
        continue;
      }
      std::vector<std::string> strangers;
      for (const internal::Endpoint& endpoint : listing->endpoints()) {
        const std::string id = endpoint.name().substr(endpoint.name().rfind('/') + 1);
        if (!room->participants.contains(id)) strangers.push_back(endpoint.name());
      }
      if (!strangers.empty()) unknown.emplace_back(room_id, std::move(strangers));
    }
  }
  for (Departure& departure : departures) Apply(departure);
  for (const auto& [room_id, policy] : layouts) {
    (void)ApplyLayout(room_id, static_cast<int>(node), policy);
  }
  for (const Resend& r : resend) {
    (void)ApplyRouting(r.room_id, static_cast<int>(node), r.participant, r.routing, {"routing"});
  }
  for (const auto& [room_id, endpoints] : unknown) {
    RemoveUnknownEndpoints(room_id, static_cast<int>(node), endpoints);
  }
  for (const std::string& session : orphans) {
    if (client_->DeleteSession(node, session).ok()) {
      orphan_sessions_deleted_.fetch_add(1);
      // No name of the session: it belongs to no room this controller knows.
      base::Log(base::LogLevel::kWarning, "orphan_session_deleted", {{"node", address}});
    }
  }
  base::Log(base::LogLevel::kInfo, "media_node_reconciled",
            {{"node", address},
             {"node_id", node_id},
             {"sessions", static_cast<int64_t>(sessions.size())},
             {"calls_restored", restored_rooms},
             {"calls_lost", lost_rooms},
             {"orphan_sessions", static_cast<int64_t>(orphans.size())}});
  return true;
}

RoomsService::Room* RoomsService::FindRoom(const std::string& name) {
  if (!absl::StartsWith(name, kRoomsPrefix)) return nullptr;
  return LoadRoom(std::string_view(name).substr(sizeof(kRoomsPrefix) - 1));
}

RoomsService::Room* RoomsService::LoadRoom(std::string_view id) {
  auto it = loaded_.find(id);
  if (it != loaded_.end()) return it->second.get();
  std::unique_ptr<Room> room = store_->Load(id);
  if (room == nullptr) return nullptr;
  Room* held = room.get();
  std::string key = room->id;
  loaded_.emplace(std::move(key), std::move(room));
  return held;
}

void RoomsService::PutBack() {
  for (auto& [id, room] : loaded_) {
    absl::Status saved = store_->Put(std::move(room));
    if (!saved.ok()) {
      save_failures_.fetch_add(1);
      base::Log(base::LogLevel::kError, "room_save_failed",
                {{"room", id}, {"error", std::string(saved.message())}});
    }
  }
  loaded_.clear();
}

void RoomsService::ForEachRoom(absl::FunctionRef<void(const Room&)> visit) {
  PutBack();
  store_->ScanAll(visit);
}

absl::Status RoomsService::SaveTouched() {
  PutBack();
  absl::Status committed = store_->EndSection();
  if (!committed.ok()) {
    save_failures_.fetch_add(1);
    base::Log(base::LogLevel::kError, "store_commit_failed",
              {{"error", std::string(committed.message())}});
  }
  for (const v1::RoomEvent& event : store_->TakeEvents()) Deliver(event);
  return committed;
}

grpc::Status RoomsService::NoRoom() {
  if (!store_->SectionStatus().ok()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the rooms' database cannot be reached; try again");
  }
  return NotFound("no such room");
}

grpc::Status RoomsService::FindParticipant(const std::string& name, Room** room,
                                           std::string* participant) {
  size_t marker = name.find("/participants/");
  if (!absl::StartsWith(name, kRoomsPrefix) || marker == std::string::npos) {
    return Invalid("name: expected rooms/{room}/participants/{participant}");
  }
  *room = FindRoom(name.substr(0, marker));
  if (*room == nullptr) return NoRoom();
  *participant = name.substr(marker + 14);
  auto it = (*room)->participants.find(*participant);
  if (it == (*room)->participants.end() || it->second.pending) {
    return NotFound("no such participant in this room");
  }
  return grpc::Status::OK;
}

void RoomsService::Publish(Room& room, v1::RoomEvent event) {
  event.set_sequence(room.next_sequence++);
  *event.mutable_event_time() = Now();
  event.set_room(absl::StrCat(kRoomsPrefix, room.id));
  if (event.has_join_rejected()) metrics_->CountRefusal(event.join_rejected().reason());
  // A shared store numbers the event for WatchRooms when it commits, and hands it back then.
  const bool shared = store_->AddEvent(room, event);
  if (!shared) event.set_stream_sequence(next_stream_sequence_++);
  room.history.push_back(event);
  if (room.history.size() > kHistory) room.history.pop_front();
  if (!shared) Deliver(event);
}

void RoomsService::Deliver(const v1::RoomEvent& event) {
  next_stream_sequence_ = event.stream_sequence() + 1;  // events come in stream order
  all_history_.push_back(event);
  if (all_history_.size() > kAllHistory) all_history_.pop_front();
  for (auto& watcher : all_watchers_) watcher->Push(event);
  auto watching = watchers_.find(event.room().substr(sizeof(kRoomsPrefix) - 1));
  if (watching == watchers_.end()) return;
  for (auto& watcher : watching->second) {
    if (event.sequence() > watcher->after_sequence) watcher->Push(event);
  }
  if (event.has_room_closed()) {
    // The room's last event: its streams end.
    for (auto& watcher : watching->second) watcher->Close();
    watchers_.erase(watching);
  }
}

void RoomsService::PublishParticipant(Room& room, const v1::Participant& participant, int kind) {
  v1::RoomEvent event;
  switch (kind) {
    case kWaiting:
      *event.mutable_participant_waiting()->mutable_participant() = participant;
      break;
    case kJoined:
      *event.mutable_participant_joined()->mutable_participant() = participant;
      break;
    case kAdmitted:
      *event.mutable_participant_admitted()->mutable_participant() = participant;
      break;
    default:
      *event.mutable_participant_updated()->mutable_participant() = participant;
      break;
  }
  Publish(room, std::move(event));
}

void RoomsService::DropParticipant(Room& room, const std::string& id, v1::LeaveReason reason) {
  if (!rules::RemoveParticipant(room, id, options_.now())) return;  // never announced
  v1::RoomEvent event;
  event.mutable_participant_left()->set_participant(room.ParticipantName(id));
  event.mutable_participant_left()->set_reason(reason);
  Publish(room, std::move(event));
}

std::unique_ptr<RoomsService::Room> RoomsService::TakeRoom(const std::string& id,
                                                           CloseReason reason) {
  if (LoadRoom(id) == nullptr) return nullptr;
  auto held = loaded_.find(id);
  if (!store_->Delete(id)) return nullptr;  // the store failed (it is written back as it was)
  std::unique_ptr<Room> room = std::move(held->second);
  loaded_.erase(held);
  std::vector<std::string> ids = room->participant_order;
  for (const std::string& participant : ids) {
    DropParticipant(*room, participant, v1::LEAVE_REASON_ROOM_CLOSED);
  }
  room->room.set_state(v1::ROOM_STATE_CLOSED);
  v1::RoomEvent closed;
  closed.mutable_room_closed();
  Publish(*room, std::move(closed));  // its delivery ends the room's streams
  base::Log(base::LogLevel::kInfo, "room_closed",
            {{"room", id}, {"reason", ControllerMetrics::CloseReasonName(reason)}});
  metrics_->CountRoomClosed(reason);
  return room;
}

void RoomsService::EndRoomMedia(const Room& room) {
  int node = room.node;
  if (node < 0 && room.restored && media_ != nullptr) {
    // A call that came back from the store, ended before its node was asked about it.
    std::optional<size_t> located = media_->Locate(room.node_address, room.node_id);
    if (located.has_value()) node = static_cast<int>(*located);
  }
  ForgetEmptySession(room.id, node);
}

absl::Status RoomsService::ApplyRouting(const std::string& room_id, int node,
                                        const std::string& participant,
                                        const internal::Routing& routing,
                                        const std::vector<std::string>& paths) {
  if (node < 0 || client_ == nullptr || paths.empty()) return absl::OkStatus();
  return client_->UpdateRouting(static_cast<size_t>(node), room_id, participant, routing, paths);
}

// ----- Rooms -----

grpc::Status RoomsService::CreateRoom(grpc::ServerContext* context,
                                      const v1::CreateRoomRequest* request, v1::Room* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  if (lifecycle_.draining()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the server is draining and accepts no new rooms");
  }
  const v1::Room& in = request->room();
  if (in.kind() != v1::ROOM_KIND_CONSULTATION && in.kind() != v1::ROOM_KIND_MEETING) {
    return Invalid("room.kind: CONSULTATION or MEETING is required");
  }
  if (!v1::AccessMode_IsValid(in.access_mode())) {
    return Invalid("room.access_mode: unknown value");
  }
  const v1::AccessMode mode = in.access_mode() == v1::ACCESS_MODE_UNSPECIFIED
                                  ? v1::ACCESS_MODE_INVITE_ONLY
                                  : in.access_mode();
  if (!request->room_id().empty() && !ValidRoomId(request->room_id())) {
    return Invalid("room_id: 4 to 63 characters of [a-z0-9-], starting with a letter");
  }
  for (std::string_view field :
       {"admission", "max_participants", "languages", "layout_policy", "idle_timeout"}) {
    if (grpc::Status checked = CheckRoomField(field, in, options_); !checked.ok()) return checked;
  }
  if (in.has_floor_level_db()) {
    if (grpc::Status checked = CheckRoomField("floor_level_db", in, options_); !checked.ok()) {
      return checked;
    }
  }
  const absl::Time now = options_.now();
  absl::Time end = now + kMaxRoomLifetime;
  if (in.expiration_case() != v1::Room::EXPIRATION_NOT_SET) {
    grpc::Status checked = CheckExpiry(in.has_ttl() ? "ttl" : "expire_time", in, now, now, &end);
    if (!checked.ok()) return checked;
  }
  const int max = in.max_participants() == 0 ? (in.kind() == v1::ROOM_KIND_CONSULTATION ? 6 : 100)
                                             : in.max_participants();
  if (request->host_pin().size() > 64 || request->guest_pin().size() > 64) {
    return Invalid("PINs are 4 to 12 digits");
  }
  if (mode == v1::ACCESS_MODE_HOST_PIN &&
      (request->host_pin().empty() || request->guest_pin().empty())) {
    return Invalid("host_pin and guest_pin are required for HOST_PIN rooms");
  }
  if (mode == v1::ACCESS_MODE_SHARED_PIN && request->guest_pin().empty()) {
    return Invalid("guest_pin is required for SHARED_PIN rooms");
  }
  if ((mode != v1::ACCESS_MODE_HOST_PIN && mode != v1::ACCESS_MODE_SHARED_PIN) &&
      (!request->host_pin().empty() || !request->guest_pin().empty())) {
    return Invalid("PINs are only for HOST_PIN and SHARED_PIN rooms");
  }
  for (const std::string* pin : {&request->host_pin(), &request->guest_pin()}) {
    if (!pin->empty() && !ValidPin(*pin)) return Invalid("PINs are 4 to 12 digits");
  }
  if (!request->host_pin().empty() && request->host_pin() == request->guest_pin()) {
    return Invalid("host_pin and guest_pin must differ");
  }

  auto room = std::make_unique<Room>();
  room->id = request->room_id().empty() ? "r-" + RandomId(6) : request->room_id();
  room->room = in;
  room->room.set_name(absl::StrCat(kRoomsPrefix, room->id));
  room->room.set_access_mode(mode);
  room->room.set_state(v1::ROOM_STATE_OPEN);
  room->room.set_participant_count(0);
  room->room.set_locked(false);
  room->room.set_max_participants(max);
  room->room.set_has_host_pin(!request->host_pin().empty());
  room->room.set_has_guest_pin(!request->guest_pin().empty());
  room->room.clear_media_node();
  *room->room.mutable_create_time() = ToTimestamp(now);
  *room->room.mutable_expire_time() = ToTimestamp(end);
  room->empty_since = now;
  // Hashing is slow by design: outside the lock.
  if (!request->host_pin().empty()) room->host_pin_hash = HashPin(request->host_pin());
  if (!request->guest_pin().empty()) room->guest_pin_hash = HashPin(request->guest_pin());

  Locked lock(this);
  if (LoadRoom(room->id) != nullptr) {
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "room_id is taken");
  }
  *response = room->room;
  base::Log(base::LogLevel::kInfo, "room_created",
            {{"room", room->id}, {"kind", v1::RoomKind_Name(in.kind())}});
  if (!store_->Insert(std::move(room))) {
    if (!store_->SectionStatus().ok()) return lock.Commit();  // the database failed
    // Created at the same moment through another controller of a shared store.
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "room_id is taken");
  }
  return lock.Commit();
}

grpc::Status RoomsService::GetRoom(grpc::ServerContext* context, const v1::GetRoomRequest* request,
                                   v1::Room* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  Locked lock(this);
  Room* room = FindRoom(request->name());
  if (room == nullptr) return NoRoom();
  *response = room->room;
  return grpc::Status::OK;
}

grpc::Status RoomsService::ListRooms(grpc::ServerContext* context,
                                     const v1::ListRoomsRequest* request,
                                     v1::ListRoomsResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  const Pager pager("rooms-after-", request->page_size(), request->page_token());
  if (!pager.status().ok()) return pager.status();
  Locked lock(this);
  size_t begin = 0;
  size_t end = 0;
  status = pager.Range(store_->size(), &begin, &end, response->mutable_next_page_token());
  if (!status.ok()) return status;
  store_->Scan(begin, end, [&](const Room& room) { *response->add_rooms() = room.room; });
  return grpc::Status::OK;
}

grpc::Status RoomsService::UpdateRoom(grpc::ServerContext* context,
                                      const v1::UpdateRoomRequest* request, v1::Room* response) {
  grpc::Status status = UpdateRoomState(context, request, response);
  if (!status.ok()) return status;
  const auto& paths = request->update_mask().paths();
  if (std::find(paths.begin(), paths.end(), "layout_policy") == paths.end()) return status;
  int node = -1;
  std::string room_id;
  {
    Locked lock(this);
    Room* room = FindRoom(request->room().name());
    if (room == nullptr || !room->session_ready) return status;
    node = room->node;
    room_id = room->id;
  }
  (void)ApplyLayout(room_id, node, response->layout_policy());
  return status;
}

absl::Status RoomsService::ApplyLayout(const std::string& room_id, int node,
                                       const v1::LayoutPolicy& policy) {
  if (node < 0 || client_ == nullptr) return absl::OkStatus();
  return client_->SetLayout(static_cast<size_t>(node), room_id, policy);
}

grpc::Status RoomsService::UpdateRoomState(grpc::ServerContext* context,
                                           const v1::UpdateRoomRequest* request,
                                           v1::Room* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  if (request->update_mask().paths().empty()) return Invalid("update_mask: name the fields");
  if (request->update_mask().paths_size() > 16) return Invalid("update_mask: at most 16 paths");
  std::string host_hash;
  std::string guest_hash;
  for (const std::string& path : request->update_mask().paths()) {
    if (path == "host_pin" || path == "guest_pin") {
      const std::string& pin = path == "host_pin" ? request->host_pin() : request->guest_pin();
      if (!ValidPin(pin)) return Invalid("PINs are 4 to 12 digits");
      std::string& hash = path == "host_pin" ? host_hash : guest_hash;
      if (hash.empty()) hash = HashPin(pin);  // once, however often the mask names it
    }
  }
  Locked lock(this);
  Room* room = FindRoom(request->room().name());
  if (room == nullptr) return NoRoom();
  v1::Room updated = room->room;
  const absl::Time now = options_.now();
  std::optional<absl::Time> new_end;
  for (const std::string& path : request->update_mask().paths()) {
    const v1::Room& in = request->room();
    if (path == "expire_time" || path == "ttl") {
      absl::Time end;
      grpc::Status checked =
          CheckExpiry(path, in, FromTimestamp(room->room.create_time()), now, &end);
      if (!checked.ok()) return checked;
      *updated.mutable_expire_time() = ToTimestamp(end);
      new_end = end;
      continue;
    }
    if (path == "host_pin" || path == "guest_pin") {
      const v1::AccessMode mode = room->room.access_mode();
      if (mode != v1::ACCESS_MODE_HOST_PIN && mode != v1::ACCESS_MODE_SHARED_PIN) {
        return Invalid("PINs are only for HOST_PIN and SHARED_PIN rooms");
      }
      continue;
    }
    if (grpc::Status checked = CheckRoomField(path, in, options_); !checked.ok()) return checked;
    if (path == "lobby_enabled") {
      updated.set_lobby_enabled(in.lobby_enabled());
    } else if (path == "admission") {
      updated.set_admission(in.admission());
    } else if (path == "max_participants") {
      if (in.max_participants() < std::max(2, room->room.participant_count())) {
        return Invalid(
            "room.max_participants: between the current participant count (and 2) "
            "and the server's limit");
      }
      updated.set_max_participants(in.max_participants());
    } else if (path == "languages") {
      if (rules::MediaStarted(*room)) {
        return Precondition("languages cannot change once the room's media has started");
      }
      *updated.mutable_languages() = in.languages();
    } else if (path == "layout_policy") {
      *updated.mutable_layout_policy() = in.layout_policy();
    } else if (path == "idle_timeout") {
      *updated.mutable_idle_timeout() = in.idle_timeout();
    } else if (path == "floor_level_db") {
      updated.set_floor_level_db(in.floor_level_db());
    }
  }
  if (!host_hash.empty()) {
    room->host_pin_hash = host_hash;
    updated.set_has_host_pin(true);
  }
  if (!guest_hash.empty()) {
    room->guest_pin_hash = guest_hash;
    updated.set_has_guest_pin(true);
  }
  room->room = updated;
  if (new_end.has_value()) rules::CapInviteExpiries(*room, *new_end);
  *response = updated;
  return lock.Commit();
}

grpc::Status RoomsService::LockRoom(grpc::ServerContext* context,
                                    const v1::LockRoomRequest* request, v1::Room* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  Locked lock(this);
  Room* room = FindRoom(request->name());
  if (room == nullptr) return NoRoom();
  if (!room->room.locked()) {
    room->room.set_locked(true);
    v1::RoomEvent event;
    event.mutable_room_locked();
    Publish(*room, std::move(event));
  }
  *response = room->room;
  return lock.Commit();
}

grpc::Status RoomsService::UnlockRoom(grpc::ServerContext* context,
                                      const v1::UnlockRoomRequest* request, v1::Room* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  Locked lock(this);
  Room* room = FindRoom(request->name());
  if (room == nullptr) return NoRoom();
  if (room->room.locked()) {
    room->room.set_locked(false);
    v1::RoomEvent event;
    event.mutable_room_unlocked();
    Publish(*room, std::move(event));
  }
  *response = room->room;
  return lock.Commit();
}

grpc::Status RoomsService::CloseRoom(grpc::ServerContext* context,
                                     const v1::CloseRoomRequest* request, v1::CloseRoomResponse*) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  std::unique_ptr<Room> room;
  {
    Locked lock(this);
    if (FindRoom(request->name()) == nullptr) return NoRoom();
    room = TakeRoom(request->name().substr(sizeof(kRoomsPrefix) - 1), CloseReason::kClosed);
    if (grpc::Status kept = lock.Commit(); !kept.ok()) return kept;
  }
  EndRoomMedia(*room);
  return grpc::Status::OK;
}

// ----- Invites -----

void RoomsService::SetPublicUrl(std::string url) {
  absl::MutexLock lock(&public_url_mutex_);
  public_url_ = std::move(url);
}

std::string RoomsService::PublicUrl() const {
  absl::MutexLock lock(&public_url_mutex_);
  return public_url_.empty() ? options_.public_url : public_url_;
}

grpc::Status RoomsService::CreateInvite(grpc::ServerContext* context,
                                        const v1::CreateInviteRequest* request,
                                        v1::CreateInviteResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  const v1::Invite& in = request->invite();
  if (in.role() != v1::ROLE_HOST && in.role() != v1::ROLE_GUEST &&
      in.role() != v1::ROLE_INTERPRETER) {
    return Invalid("invite.role: HOST, GUEST or INTERPRETER is required");
  }
  if (!in.pseudonym().empty() && !rules::ValidDisplayName(in.pseudonym())) {
    return Invalid("invite.pseudonym: 1 to 64 printable characters");
  }
  if (in.consent_reference().size() > 256 || !NoControlCharacters(in.consent_reference())) {
    return Invalid("invite.consent_reference: at most 256 characters, no control characters");
  }
  absl::Duration ttl = absl::Hours(24);
  if (in.has_ttl()) {
    if (!ValidDuration(in.ttl())) return Invalid("invite.ttl: 1 minute to 7 days");
    ttl = absl::Seconds(in.ttl().seconds());
    if (ttl < absl::Minutes(1) || ttl > absl::Hours(24 * 7)) {
      return Invalid("invite.ttl: 1 minute to 7 days");
    }
  }
  Locked lock(this);
  Room* room = FindRoom(request->parent());
  if (room == nullptr) return NoRoom();
  if (in.role() == v1::ROLE_INTERPRETER) {
    absl::Status pair = rules::CheckInterpreterPair(*room, in.interpreter_languages());
    if (!pair.ok()) return common::ToGrpcStatus(pair);
  }
  // A third participant in a consultation needs the patient's consent.
  if (rules::InviteNeedsConsent(*room, in.consent_reference())) {
    return Precondition(
        "a third participant in a consultation needs the patient's consent: give "
        "invite.consent_reference");
  }
  EnsureSodium();
  std::string token = NewSecret();
  const std::string id = RandomId(6);
  Room::Invite record;
  record.invite = in;
  record.invite.clear_ttl();
  record.invite.set_name(absl::StrCat(kRoomsPrefix, room->id, "/invites/", id));
  record.invite.set_state(v1::INVITE_STATE_PENDING);
  const absl::Time now = options_.now();
  *record.invite.mutable_create_time() = ToTimestamp(now);
  *record.invite.mutable_expire_time() = ToTimestamp(rules::InviteExpiry(*room, now, ttl));
  record.token_hash = HashToken(token);
  response->set_token(token);
  const std::string public_url = PublicUrl();
  if (!public_url.empty()) {
    // Room and token in the fragment: a browser never sends it to any server.
    response->set_link(absl::StrCat(public_url, "/join#r=", room->id, "&i=", token));
  }
  sodium_memzero(token.data(), token.size());  // only its hash is kept
  *response->mutable_invite() = record.invite;
  room->invites.emplace(id, std::move(record));
  room->invite_order.push_back(id);
  if (grpc::Status kept = lock.Commit(); !kept.ok()) {
    // The invite was not kept: its token must not go out.
    response->Clear();
    return kept;
  }
  return grpc::Status::OK;
}

grpc::Status RoomsService::ListInvites(grpc::ServerContext* context,
                                       const v1::ListInvitesRequest* request,
                                       v1::ListInvitesResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  const Pager pager("invites-after-", request->page_size(), request->page_token());
  if (!pager.status().ok()) return pager.status();
  Locked lock(this);
  Room* room = FindRoom(request->parent());
  if (room == nullptr) return NoRoom();
  size_t begin = 0;
  size_t end = 0;
  status =
      pager.Range(room->invite_order.size(), &begin, &end, response->mutable_next_page_token());
  if (!status.ok()) return status;
  for (size_t i = begin; i < end; ++i) {
    *response->add_invites() = room->invites.at(room->invite_order[i]).invite;
  }
  return grpc::Status::OK;
}

grpc::Status RoomsService::RevokeInvite(grpc::ServerContext* context,
                                        const v1::RevokeInviteRequest* request,
                                        v1::Invite* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  size_t marker = request->name().find("/invites/");
  if (marker == std::string::npos) return Invalid("name: expected rooms/{room}/invites/{invite}");
  Locked lock(this);
  Room* room = FindRoom(request->name().substr(0, marker));
  if (room == nullptr) return NoRoom();
  auto it = room->invites.find(request->name().substr(marker + 9));
  if (it == room->invites.end()) return NotFound("no such invite");
  if (!rules::RevokeInvite(it->second)) return Precondition("the invite has been used");
  *response = it->second.invite;
  return lock.Commit();
}

// ----- Joining -----

grpc::Status RoomsService::JoinRoom(grpc::ServerContext* context,
                                    const v1::JoinRoomRequest* request,
                                    v1::JoinRoomResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  if (lifecycle_.draining()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is draining: no new joins");
  }
  if (client_ == nullptr || client_->NodeCount() == 0) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no media node is configured");
  }
  if (request->credential_case() == v1::JoinRoomRequest::CREDENTIAL_NOT_SET) {
    return Invalid("an invite_token or a pin is required");
  }
  if (!request->display_name().empty() && !rules::ValidDisplayName(request->display_name())) {
    return Invalid("display_name: 1 to 64 printable characters");
  }
  if (request->invite_token().size() > 128 || request->pin().size() > 64) {
    return Invalid("credential: too long");
  }
  if (request->client_address().size() > 64 || !NoControlCharacters(request->client_address())) {
    return Invalid("client_address: an IP address, at most 64 characters");
  }
  // The per-source PIN limit keys on a hash of the address: the address itself is not kept.
  const std::string source =
      request->client_address().empty() ? std::string() : HashToken(request->client_address());
  internal::Endpoint endpoint;
  status = OfferToEndpoint(request->offer(), &endpoint);
  if (!status.ok()) return status;

  JoinAttempt attempt;
  attempt.room_name = request->room();
  if (request->credential_case() == v1::JoinRoomRequest::kInviteToken) {
    attempt.request.invite_token_hash = HashToken(request->invite_token());
  } else {
    attempt.pin = request->pin();
    attempt.source = source;
  }
  attempt.request.display_name = request->display_name();
  attempt.endpoint = std::move(endpoint);
  attempt.participant_id = RandomId(6);
  const std::string session_token = NewSecret();
  attempt.session_token_hash = HashToken(session_token);
  v1::RejectReason rejected = v1::REJECT_REASON_UNSPECIFIED;
  absl::StatusOr<Joined> joined = join_flow_->Join(std::move(attempt), &rejected);
  if (rejected != v1::REJECT_REASON_UNSPECIFIED) {
    // The caller learns the reason too (kRejectReasonMetadata): only a holder of the invite's
    // token gets this far with an invite, and a PIN join learns no more than its message says.
    context->AddTrailingMetadata(std::string(kRejectReasonMetadata),
                                 v1::RejectReason_Name(rejected));
  }
  if (!joined.ok()) return common::ToGrpcStatus(joined.status());
  *response->mutable_participant() = joined->participant;
  EndpointToAnswer(joined->answer, response->mutable_answer());
  response->set_session_token(session_token);
  return grpc::Status::OK;
}

grpc::Status RoomsService::ResumeSession(grpc::ServerContext* context,
                                         const v1::ResumeSessionRequest* request,
                                         v1::ResumeSessionResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  if (request->name().size() > 256 || request->session_token().empty() ||
      request->session_token().size() > 128) {
    return Invalid("name and session_token: those of JoinRoomResponse");
  }
  const std::string given = HashToken(request->session_token());
  const grpc::Status refused(grpc::StatusCode::PERMISSION_DENIED, "this session cannot be resumed");
  Locked lock(this);
  Room* room = nullptr;
  std::string id;
  status = FindParticipant(request->name(), &room, &id);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return status;
  if (!status.ok()) return refused;
  const std::string token = NewSecret();
  if (!rules::ResumeSession(*room, id, given, HashToken(token)).ok()) return refused;
  *response->mutable_participant() = room->participants.at(id).participant;
  status = lock.Commit();  // the old token is spent only once the new one is kept
  if (!status.ok()) return status;
  response->set_session_token(token);
  return grpc::Status::OK;
}

// ----- Participants -----

grpc::Status RoomsService::GetParticipant(grpc::ServerContext* context,
                                          const v1::GetParticipantRequest* request,
                                          v1::Participant* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  Locked lock(this);
  Room* room = nullptr;
  std::string id;
  status = FindParticipant(request->name(), &room, &id);
  if (!status.ok()) return status;
  *response = room->participants.at(id).participant;
  return grpc::Status::OK;
}

grpc::Status RoomsService::ListParticipants(grpc::ServerContext* context,
                                            const v1::ListParticipantsRequest* request,
                                            v1::ListParticipantsResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  const Pager pager("participants-after-", request->page_size(), request->page_token());
  if (!pager.status().ok()) return pager.status();
  Locked lock(this);
  Room* room = FindRoom(request->parent());
  if (room == nullptr) return NoRoom();
  std::vector<const v1::Participant*> roster;
  for (const std::string& id : room->participant_order) {
    const Room::Member& member = room->participants.at(id);
    if (!member.pending) roster.push_back(&member.participant);
  }
  size_t begin = 0;
  size_t end = 0;
  status = pager.Range(roster.size(), &begin, &end, response->mutable_next_page_token());
  if (!status.ok()) return status;
  for (size_t i = begin; i < end; ++i) *response->add_participants() = *roster[i];
  return grpc::Status::OK;
}

grpc::Status RoomsService::ParticipantCall(grpc::ServerContext* context, const std::string& name,
                                           v1::Participant* response, const Change& change) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  std::string room_id;
  std::string id;
  int node = -1;
  std::vector<std::string> paths;
  std::vector<std::pair<std::string, internal::Routing>> updates;
  {
    Locked lock(this);
    Room* room = nullptr;
    status = FindParticipant(name, &room, &id);
    if (!status.ok()) return status;
    Room::Member& member = room->participants.at(id);
    rules::Events events;
    absl::Status changed = change(*room, member.participant, &events, &paths);
    if (!changed.ok()) return common::ToGrpcStatus(changed);
    for (v1::RoomEvent& event : events) Publish(*room, std::move(event));
    // A change may move others too (a booth partner going on air or to standby).
    if (!paths.empty()) updates = rules::RerouteAll(*room, id);
    *response = member.participant;
    room_id = room->id;
    node = room->node;
    if (grpc::Status kept = lock.Commit(); !kept.ok()) return kept;
  }
  grpc::Status result = grpc::Status::OK;
  for (const auto& [participant, routing] : updates) {
    absl::Status applied = ApplyRouting(room_id, node, participant, routing, {"routing"});
    if (participant == id) result = common::ToGrpcStatus(applied);
  }
  return result;
}

grpc::Status RoomsService::AdmitParticipant(grpc::ServerContext* context,
                                            const v1::AdmitParticipantRequest* request,
                                            v1::Participant* response) {
  return ParticipantCall(context, request->name(), response,
                         [this](Room&, v1::Participant& participant, rules::Events* events,
                                std::vector<std::string>* paths) {
                           const absl::Time joined = FromTimestamp(participant.join_time());
                           absl::Status admitted = rules::AdmitWaiting(participant, events);
                           if (!admitted.ok()) return admitted;
                           metrics_->ObserveLobbyWait(options_.now() - joined);
                           paths->push_back("routing.admitted");
                           return absl::OkStatus();
                         });
}

grpc::Status RoomsService::MuteParticipant(grpc::ServerContext* context,
                                           const v1::MuteParticipantRequest* request,
                                           v1::Participant* response) {
  const bool muted = request->muted();
  return ParticipantCall(context, request->name(), response,
                         [muted](Room&, v1::Participant& participant, rules::Events* events,
                                 std::vector<std::string>* paths) {
                           rules::SetMuted(participant, muted, events);
                           paths->push_back("routing.muted");
                           return absl::OkStatus();
                         });
}

grpc::Status RoomsService::RenameParticipant(grpc::ServerContext* context,
                                             const v1::RenameParticipantRequest* request,
                                             v1::Participant* response) {
  const std::string name = request->display_name();
  if (!rules::ValidDisplayName(name)) {
    grpc::Status status = auth_.Check(*context);
    if (!status.ok()) return status;
    return Invalid("display_name: 1 to 64 printable characters");
  }
  return ParticipantCall(
      context, request->name(), response,
      [name](Room& room, v1::Participant& participant, rules::Events* events,
             std::vector<std::string>*) { return rules::Rename(room, participant, name, events); });
}

grpc::Status RoomsService::SetListenLanguage(grpc::ServerContext* context,
                                             const v1::SetListenLanguageRequest* request,
                                             v1::Participant* response) {
  const std::string language = request->language();
  return ParticipantCall(context, request->name(), response,
                         [language](Room& room, v1::Participant& participant, rules::Events* events,
                                    std::vector<std::string>* paths) {
                           absl::Status set =
                               rules::SetListenLanguage(room, participant, language, events);
                           if (!set.ok()) return set;
                           paths->push_back("routing.listen_bus");
                           paths->push_back("routing.floor_gain_db");
                           return absl::OkStatus();
                         });
}

grpc::Status RoomsService::SetSpeakLanguage(grpc::ServerContext* context,
                                            const v1::SetSpeakLanguageRequest* request,
                                            v1::Participant* response) {
  const std::string language = request->language();
  return ParticipantCall(context, request->name(), response,
                         [language](Room& room, v1::Participant& participant, rules::Events* events,
                                    std::vector<std::string>* paths) {
                           absl::Status set =
                               rules::SetSpeakLanguage(room, participant, language, events);
                           if (!set.ok()) return set;
                           paths->push_back("routing");
                           return absl::OkStatus();
                         });
}

grpc::Status RoomsService::HandOverInterpretation(grpc::ServerContext* context,
                                                  const v1::HandOverInterpretationRequest* request,
                                                  v1::Participant* response) {
  return ParticipantCall(context, request->name(), response,
                         [](Room& room, v1::Participant& participant, rules::Events* events,
                            std::vector<std::string>* paths) {
                           absl::Status handed =
                               rules::HandOverInterpretation(room, participant, events);
                           if (!handed.ok()) return handed;
                           paths->push_back("routing");
                           return absl::OkStatus();
                         });
}

grpc::Status RoomsService::SetContentSharing(grpc::ServerContext* context,
                                             const v1::SetContentSharingRequest* request,
                                             v1::Participant* response) {
  const bool enabled = request->enabled();
  return ParticipantCall(context, request->name(), response,
                         [enabled](Room& room, v1::Participant& participant, rules::Events* events,
                                   std::vector<std::string>* paths) {
                           absl::Status set =
                               rules::SetContentSharing(room, participant, enabled, events);
                           if (!set.ok()) return set;
                           paths->push_back("routing.content_sharing");
                           return absl::OkStatus();
                         });
}

grpc::Status RoomsService::PinParticipant(grpc::ServerContext* context,
                                          const v1::PinParticipantRequest* request,
                                          v1::Participant* response) {
  const std::string pinned = request->pinned();
  return ParticipantCall(context, request->name(), response,
                         [pinned](Room& room, v1::Participant& participant, rules::Events* events,
                                  std::vector<std::string>* paths) {
                           const std::string before = participant.pinned_participant();
                           absl::Status set =
                               rules::PinParticipant(room, participant, pinned, events);
                           if (!set.ok()) return set;
                           if (before != pinned) paths->push_back("routing.pinned_endpoint");
                           return absl::OkStatus();
                         });
}

grpc::Status RoomsService::RemoveCall(grpc::ServerContext* context, const std::string& name,
                                      v1::LeaveReason reason, bool only_waiting) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  Departure departure;
  {
    Locked lock(this);
    Room* room = nullptr;
    std::string participant;
    status = FindParticipant(name, &room, &participant);
    if (!status.ok()) return status;
    if (only_waiting &&
        room->participants.at(participant).participant.state() != v1::PARTICIPANT_STATE_WAITING) {
      return Precondition("the participant is not waiting");
    }
    departure = Depart(*room, participant, reason);
    if (grpc::Status kept = lock.Commit(); !kept.ok()) return kept;
  }
  Apply(departure);
  return grpc::Status::OK;
}

RoomsService::Departure RoomsService::Depart(Room& room, const std::string& participant,
                                             v1::LeaveReason reason) {
  Departure departure;
  const v1::Participant leaving = room.participants.at(participant).participant;
  DropParticipant(room, participant, reason);
  departure.room_id = room.id;
  departure.participant = participant;
  departure.node = room.node;
  rules::Events events;
  const bool reroute = rules::AfterDeparture(room, leaving, &events);
  for (v1::RoomEvent& event : events) Publish(room, std::move(event));
  if (reroute) departure.updates = rules::RerouteAll(room, "");
  if (rules::EndsWhenEmpty(room)) {
    departure.closed = TakeRoom(room.id, CloseReason::kOneTimeEnded);  // `room` is gone now
  }
  return departure;
}

void RoomsService::Apply(Departure& departure) {
  if (client_ != nullptr && departure.node >= 0) {
    (void)client_->RemoveEndpoint(static_cast<size_t>(departure.node), departure.room_id,
                                  departure.participant);
  }
  for (const auto& [id, routing] : departure.updates) {
    (void)ApplyRouting(departure.room_id, departure.node, id, routing, {"routing"});
  }
  if (departure.closed) EndRoomMedia(*departure.closed);
}

void RoomsService::ForgetEmptySession(const std::string& room_id, int node) {
  if (client_ != nullptr) ForgetSession(*client_, room_id, node);
}

grpc::Status RoomsService::DenyParticipant(grpc::ServerContext* context,
                                           const v1::DenyParticipantRequest* request,
                                           v1::DenyParticipantResponse*) {
  return RemoveCall(context, request->name(), v1::LEAVE_REASON_DENIED, true);
}

grpc::Status RoomsService::RemoveParticipant(grpc::ServerContext* context,
                                             const v1::RemoveParticipantRequest* request,
                                             v1::RemoveParticipantResponse*) {
  return RemoveCall(context, request->name(), v1::LEAVE_REASON_REMOVED, false);
}

grpc::Status RoomsService::LeaveRoom(grpc::ServerContext* context,
                                     const v1::LeaveRoomRequest* request, v1::LeaveRoomResponse*) {
  return RemoveCall(context, request->name(), v1::LEAVE_REASON_LEFT, false);
}

grpc::Status RoomsService::UpdateMedia(grpc::ServerContext* context,
                                       const v1::UpdateMediaRequest* request,
                                       v1::UpdateMediaResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  if (!request->offer().has_webrtc()) {
    return Invalid(
        "offer.webrtc: UpdateMedia renegotiates WebRTC media (RTP endpoints join again)");
  }
  internal::Endpoint endpoint;
  status = OfferToEndpoint(request->offer(), &endpoint);
  if (!status.ok()) return status;
  std::string room_id;
  std::string id;
  int node = -1;
  {
    Locked lock(this);
    Room* room = nullptr;
    status = FindParticipant(request->name(), &room, &id);
    if (!status.ok()) return status;
    if (!room->participants.at(id).webrtc) {
      return Precondition("the participant did not join over WebRTC");
    }
    room_id = room->id;
    node = room->node;
  }
  if (client_ == nullptr || node < 0) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the room's media is not running");
  }
  absl::StatusOr<internal::Endpoint> renegotiated = client_->RenegotiateWebRtc(
      static_cast<size_t>(node), room_id, id, endpoint.webrtc_offer_sdp());
  if (!renegotiated.ok()) return common::ToGrpcStatus(renegotiated.status());
  std::vector<std::pair<std::string, internal::Routing>> updates;
  {
    Locked lock(this);
    Room* room = nullptr;
    status = FindParticipant(request->name(), &room, &id);
    if (!status.ok()) return status;
    Room::Member& member = room->participants.at(id);
    member.has_content = false;
    for (const internal::LocalStream& stream : renegotiated->local_streams()) {
      member.has_content |= stream.kind() == internal::MEDIA_KIND_CONTENT;
    }
    // A screen share that stopped ends the presentation.
    if (!member.has_content && member.participant.content_sharing()) {
      member.participant.set_content_sharing(false);
      PublishParticipant(*room, member.participant, kUpdated);
      updates = rules::RerouteAll(*room, id);
    }
    *response->mutable_participant() = member.participant;
  }
  for (const auto& [participant, routing] : updates) {
    (void)ApplyRouting(room_id, node, participant, routing, {"routing"});
  }
  EndpointToAnswer(*renegotiated, response->mutable_answer());
  return grpc::Status::OK;
}

// ----- Events -----

grpc::Status RoomsService::WatchRoom(grpc::ServerContext* context,
                                     const v1::WatchRoomRequest* request,
                                     grpc::ServerWriter<v1::RoomEvent>* writer) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  auto watcher = std::make_shared<Watcher>();
  std::vector<v1::RoomEvent> first;
  {
    Locked lock(this);
    Room* room = FindRoom(request->name());
    if (room == nullptr) return NoRoom();
    if (request->resume_after_sequence() < 0) return Invalid("resume_after_sequence: negative");
    if (request->resume_after_sequence() >= room->next_sequence) {
      return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                          absl::StrCat("resume_after_sequence is beyond the room's last event (",
                                       room->next_sequence - 1, ")"));
    }
    if (request->resume_after_sequence() > 0) {
      if (room->history.empty() ||
          request->resume_after_sequence() < room->history.front().sequence() - 1) {
        return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                            "resume_after_sequence is older than the events kept");
      }
      for (const v1::RoomEvent& event : room->history) {
        if (event.sequence() > request->resume_after_sequence()) first.push_back(event);
      }
    }
    if (request->include_snapshot()) {
      for (const std::string& id : room->participant_order) {
        const Room::Member& member = room->participants.at(id);
        if (member.pending) continue;
        v1::RoomEvent event;
        event.set_room(room->room.name());
        *event.mutable_event_time() = Now();
        *event.mutable_participant_updated()->mutable_participant() = member.participant;
        first.push_back(std::move(event));
      }
    }
    watcher->after_sequence = room->next_sequence - 1;
    watchers_[room->id].push_back(watcher);
  }
  auto unregister = [&] {
    Locked lock(this);
    Room* room = FindRoom(request->name());
    if (room == nullptr) return;
    auto watching = watchers_.find(room->id);
    if (watching == watchers_.end()) return;
    std::erase(watching->second, watcher);
    if (watching->second.empty()) watchers_.erase(watching);
  };
  return Stream(context, writer, watcher, first, unregister);
}

grpc::Status RoomsService::WatchRooms(grpc::ServerContext* context,
                                      const v1::WatchRoomsRequest* request,
                                      grpc::ServerWriter<v1::RoomEvent>* writer) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  auto watcher = std::make_shared<Watcher>(kAllWatcherQueue);
  std::vector<v1::RoomEvent> first;
  {
    Locked lock(this);
    const int64_t after = request->resume_after_stream_sequence();
    if (after < 0) return Invalid("resume_after_stream_sequence: negative");
    if (after > 0) {
      // The resume point may come from another controller of a shared store, a moment ahead of
      // this one: take every committed event first.
      store_->ReadEventsAgain();
      for (const v1::RoomEvent& event : store_->TakeEvents()) Deliver(event);
      if (after >= next_stream_sequence_) {
        return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                            "resume_after_stream_sequence is beyond the last event");
      }
      if (all_history_.empty() || after < all_history_.front().stream_sequence() - 1) {
        return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                            "resume_after_stream_sequence is older than the events kept");
      }
      for (const v1::RoomEvent& event : all_history_) {
        if (event.stream_sequence() > after) first.push_back(event);
      }
    }
    if (shutting_down_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
    all_watchers_.push_back(watcher);
  }
  auto unregister = [&] {
    Locked lock(this);
    std::erase(all_watchers_, watcher);
  };
  return Stream(context, writer, watcher, first, unregister);
}

grpc::Status RoomsService::Stream(grpc::ServerContext* context,
                                  grpc::ServerWriter<v1::RoomEvent>* writer,
                                  const std::shared_ptr<Watcher>& watcher,
                                  const std::vector<v1::RoomEvent>& first,
                                  const std::function<void()>& unregister) {
  for (const v1::RoomEvent& event : first) {
    if (!writer->Write(event)) {
      unregister();
      return grpc::Status::OK;
    }
  }
  for (;;) {
    std::deque<v1::RoomEvent> batch;
    bool closed = false;
    bool overflow = false;
    {
      absl::MutexLock lock(&watcher->mutex);
      auto ready = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return !watcher->queue.empty() || watcher->closed || watcher->overflow;
      };
      watcher->mutex.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(100));
      batch.swap(watcher->queue);
      closed = watcher->closed;
      overflow = watcher->overflow;
    }
    for (const v1::RoomEvent& event : batch) {
      if (!writer->Write(event)) {
        unregister();
        return grpc::Status::OK;
      }
    }
    if (overflow) {
      unregister();
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "the watcher fell too far behind the events; watch again with "
                          "its resume point");
    }
    if (closed) return grpc::Status::OK;
    if (context->IsCancelled()) {
      unregister();
      return grpc::Status::CANCELLED;
    }
  }
}

}  // namespace chorus::controller
