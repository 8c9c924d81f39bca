#include "services/controller/api_requests.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/controller/room_rules.h"

namespace chorus::controller::api {
namespace {

namespace v1 = chorus::v1;
namespace internal = chorus::internal::v1;
using rules::FromTimestamp;
using rules::kMaxRoomLifetime;
using rules::ValidTimestamp;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

// Printable ASCII, 1 to `max` characters.
bool ShortToken(const std::string& text, size_t max) {
  return !text.empty() && text.size() <= max &&
         std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}
grpc::Status NotFound(const std::string& message) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, message);
}
grpc::Status Precondition(const std::string& message) {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, message);
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

bool NoControlCharacters(const std::string& text) {
  return std::none_of(text.begin(), text.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

bool ValidDuration(const google::protobuf::Duration& duration) {
  return duration.seconds() >= 0 && duration.nanos() >= 0 && duration.nanos() < 1'000'000'000;
}

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

bool SplitParticipantName(const std::string& name, std::string* room_name,
                          std::string* participant_id) {
  const size_t marker = name.find("/participants/");
  if (!absl::StartsWith(name, kRoomsPrefix) || marker == std::string::npos) return false;
  *room_name = name.substr(0, marker);
  *participant_id = name.substr(marker + 14);
  return true;
}

grpc::Status ParseParticipantName(const std::string& name, std::string* room_name,
                                  std::string* participant_id) {
  if (name.size() > 256 || !SplitParticipantName(name, room_name, participant_id) ||
      participant_id->empty()) {
    return Invalid("name: rooms/{room}/participants/{participant}");
  }
  return grpc::Status::OK;
}

grpc::Status CheckRoomField(std::string_view field, const v1::Room& in,
                            int max_participants_limit) {
  if (field == "lobby_enabled") return grpc::Status::OK;
  if (field == "admission") {
    if (!v1::AdmissionPolicy_IsValid(in.admission())) {
      return Invalid("room.admission: unknown value");
    }
    return grpc::Status::OK;
  }
  if (field == "max_participants") {
    if (in.max_participants() != 0 &&
        (in.max_participants() < 2 || in.max_participants() > max_participants_limit)) {
      return Invalid(absl::StrCat("room.max_participants: 2 to ", max_participants_limit,
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
  if (field == "prompt_language") {
    if (!in.prompt_language().empty() && !rules::ValidLanguage(in.prompt_language())) {
      return Invalid("room.prompt_language: a BCP-47 tag (en, de, da, nb have prompts)");
    }
    return grpc::Status::OK;
  }
  if (field == "floor_level_db") {
    if (!(in.floor_level_db() >= -60.0 && in.floor_level_db() <= 0.0)) {
      return Invalid("room.floor_level_db: between -60 (muted) and 0");
    }
    return grpc::Status::OK;
  }
  return Invalid(
      "update_mask: a path that cannot be changed (these can: lobby_enabled, admission, "
      "max_participants, languages, layout_policy, idle_timeout, floor_level_db, "
      "prompt_language, expire_time, ttl, host_pin, guest_pin)");
}

Pager::Pager(const char* prefix, int page_size, const std::string& token)
    : prefix_(prefix), size_(kDefaultPageSize) {
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

grpc::Status Pager::Range(size_t total, size_t* begin, size_t* end, std::string* next_token) const {
  if (offset_ > total) return Invalid("page_token is stale: the listing has changed");
  *begin = offset_;
  *end = std::min(total, offset_ + static_cast<size_t>(size_));
  if (*end < total) *next_token = absl::StrCat(prefix_, *end);
  return grpc::Status::OK;
}

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
    out->set_rtcp_port(stream.rtcp_port());
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

}  // namespace chorus::controller::api
