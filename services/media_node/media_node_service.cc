#include "services/media_node/media_node_service.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "pipeline/prompts/prompts.h"
#include "services/common/api_guard.h"
#include "services/common/status.h"
#include "services/media_node/webrtc_offer.h"

namespace chorus::media_node {
namespace {

namespace v1 = chorus::internal::v1;

constexpr double kDefaultWatchIntervalSeconds = 2.0;
constexpr double kMinWatchIntervalSeconds = 0.5;
constexpr double kMaxWatchIntervalSeconds = 60.0;
// How often a waiting WatchLoad stream looks for a cancelled call.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(100);
constexpr char kAudioLevelUri[] = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
constexpr char kCsrcAudioLevelUri[] = "urn:ietf:params:rtp-hdrext:csrc-audio-level";
constexpr char kSessionPrefix[] = "sessions/";

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

// "sessions/{session}" -> session; "sessions/{s}/endpoints/{e}" -> (s, e).
bool ParseSessionName(const std::string& name, std::string* session) {
  if (!absl::StartsWith(name, kSessionPrefix)) return false;
  *session = name.substr(sizeof(kSessionPrefix) - 1);
  return !session->empty() && session->find('/') == std::string::npos;
}

bool ParseEndpointName(const std::string& name, std::string* session, std::string* endpoint) {
  if (!absl::StartsWith(name, kSessionPrefix)) return false;
  std::string rest = name.substr(sizeof(kSessionPrefix) - 1);
  size_t slash = rest.find("/endpoints/");
  if (slash == std::string::npos) return false;
  *session = rest.substr(0, slash);
  *endpoint = rest.substr(slash + 11);
  return !session->empty() && !endpoint->empty() && endpoint->find('/') == std::string::npos;
}

absl::StatusOr<srtp::SrtpSuite> SuiteFromProto(v1::SrtpSuite suite) {
  switch (suite) {
    case v1::SRTP_SUITE_UNSPECIFIED:
    case v1::SRTP_SUITE_AES_CM_128_HMAC_SHA1_80:
      return srtp::SrtpSuite::kAesCm128HmacSha1_80;
    case v1::SRTP_SUITE_AES_CM_128_HMAC_SHA1_32:
      return srtp::SrtpSuite::kAesCm128HmacSha1_32;
    case v1::SRTP_SUITE_AEAD_AES_128_GCM:
      return srtp::SrtpSuite::kAeadAes128Gcm;
    default:
      return absl::InvalidArgumentError("unknown SRTP suite");
  }
}

v1::SrtpSuite SuiteToProto(srtp::SrtpSuite suite) {
  switch (suite) {
    case srtp::SrtpSuite::kAesCm128HmacSha1_80:
      return v1::SRTP_SUITE_AES_CM_128_HMAC_SHA1_80;
    case srtp::SrtpSuite::kAesCm128HmacSha1_32:
      return v1::SRTP_SUITE_AES_CM_128_HMAC_SHA1_32;
    case srtp::SrtpSuite::kAeadAes128Gcm:
      return v1::SRTP_SUITE_AEAD_AES_128_GCM;
  }
  return v1::SRTP_SUITE_UNSPECIFIED;
}

// Bus index of `language` in the session: 0 for the floor (empty).
absl::StatusOr<int> BusIndex(const std::vector<std::string>& languages, const std::string& language,
                             const char* field) {
  if (language.empty()) return 0;
  auto it = std::find(languages.begin(), languages.end(), language);
  if (it == languages.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": the session has no '", common::Excerpt(language), "' bus"));
  }
  return static_cast<int>(it - languages.begin()) + 1;
}

float DbToGain(double db) { return static_cast<float>(std::pow(10.0, db / 20.0)); }

absl::StatusOr<engine::Routing> RoutingFromProto(const v1::Routing& routing,
                                                 const std::vector<std::string>& languages) {
  engine::Routing out;
  auto speak = BusIndex(languages, routing.speak_bus(), "routing.speak_bus");
  if (!speak.ok()) return speak.status();
  auto listen = BusIndex(languages, routing.listen_bus(), "routing.listen_bus");
  if (!listen.ok()) return listen.status();
  out.speak_bus = *speak;
  out.listen_bus = *listen;
  double floor_db = routing.has_floor_gain_db() ? routing.floor_gain_db() : -15.0;
  if (!(floor_db >= -60.0 && floor_db <= 0.0)) {
    return absl::InvalidArgumentError("routing.floor_gain_db must be between -60 and 0");
  }
  if (!(routing.input_gain_db() >= -60.0 && routing.input_gain_db() <= 12.0)) {
    return absl::InvalidArgumentError("routing.input_gain_db must be between -60 and +12");
  }
  out.floor_gain = floor_db <= -60.0 ? 0.0f : DbToGain(floor_db);
  out.input_gain = DbToGain(routing.input_gain_db());
  out.muted = routing.muted();
  out.admitted = routing.admitted();
  out.content_sharing = routing.content_sharing();
  const std::string& pinned = routing.pinned_endpoint();
  if (pinned.size() > 256) {
    return absl::InvalidArgumentError("routing.pinned_endpoint: longer than 256 characters");
  }
  const size_t slash = pinned.rfind('/');
  out.pinned = slash == std::string::npos ? pinned : pinned.substr(slash + 1);
  out.keypad = routing.keypad();
  if (out.keypad && out.admitted) {
    return absl::InvalidArgumentError("routing: a keypad endpoint is not admitted");
  }
  if (!routing.prompt().empty() && !prompts::PromptFromName(routing.prompt()).has_value()) {
    return absl::InvalidArgumentError("routing.prompt: enter_pin, wrong_pin or empty");
  }
  if (routing.prompt_language().size() > 35 ||
      !std::all_of(routing.prompt_language().begin(), routing.prompt_language().end(),
                   [](char c) { return absl::ascii_isalnum(c) || c == '-'; })) {
    return absl::InvalidArgumentError("routing.prompt_language: a BCP-47 tag");
  }
  out.prompt = routing.prompt();
  out.prompt_language = routing.prompt_language();
  return out;
}

// The video stream of an endpoint request, converted and checked.
absl::StatusOr<engine::VideoConfig> VideoFromProto(const v1::RemoteStream& stream, bool secure) {
  engine::VideoConfig video;
  video.enabled = true;
  bool chosen = false;
  bool bitrate_offered = false;
  for (const v1::Codec& offered : stream.codecs()) {
    const std::string name = absl::AsciiStrToLower(offered.name());
    if (name != "vp8" && name != "h264") continue;
    if (offered.payload_type() < 96 || offered.payload_type() > 127) {
      return absl::InvalidArgumentError("video codecs.payload_type must be 96 to 127 (dynamic)");
    }
    if (offered.bitrate() != 0 && (offered.bitrate() < 50'000 || offered.bitrate() > 8'000'000)) {
      return absl::InvalidArgumentError("video codecs.bitrate must be 0 or 50 kbit/s to 8 Mbit/s");
    }
    video.codec = name == "vp8" ? video::VideoCodec::kVp8 : video::VideoCodec::kH264;
    video.payload_type = static_cast<uint8_t>(offered.payload_type());
    if (offered.bitrate() != 0) video.bitrate_bps = static_cast<int>(offered.bitrate());
    bitrate_offered = offered.bitrate() != 0;
    chosen = true;
    break;
  }
  if (!chosen) {
    return absl::InvalidArgumentError("no video codec in common: Chorus speaks VP8 and H264");
  }
  if (stream.width() != 0 || stream.height() != 0) {
    if (stream.width() < 16 || stream.height() < 16 || stream.width() > 1920 ||
        stream.height() > 1080 || stream.width() % 2 != 0 || stream.height() % 2 != 0) {
      return absl::InvalidArgumentError(
          "video width and height must be even, 16x16 to 1920x1080 (or both 0 for 640x360)");
    }
    video.width = static_cast<int>(stream.width());
    video.height = static_cast<int>(stream.height());
  }
  // Bitrate tiers by size, unless the offer named one: 360p 800 kbit/s, 720p 1.5 Mbit/s,
  // 1080p 2.5 Mbit/s (part of the view key: receivers of one tier share an encoder).
  if (!bitrate_offered) {
    video.bitrate_bps = video.height <= 360 ? 800'000 : video.height <= 720 ? 1'500'000 : 2'500'000;
  }
  if (stream.port() == 0 || stream.port() > 65535) {
    return absl::InvalidArgumentError("remote_streams.port must be 1 to 65535");
  }
  auto remote = net::SocketAddress::FromIp(stream.address(), static_cast<uint16_t>(stream.port()));
  if (!remote.ok()) {
    return absl::InvalidArgumentError("remote_streams.address must be a literal IP address");
  }
  video.remote = *remote;
  if (stream.rtcp_port() > 65535) {
    return absl::InvalidArgumentError("remote_streams.rtcp_port must be 0 to 65535");
  }
  if (stream.rtcp_port() != 0 && stream.rtcp_port() != stream.port()) {
    video.rtcp_remote =
        *net::SocketAddress::FromIp(stream.address(), static_cast<uint16_t>(stream.rtcp_port()));
  }
  if (secure) {
    if (stream.key().key_base64().empty()) {
      return absl::InvalidArgumentError("the video stream's key.key_base64 is required for SRTP");
    }
    video.remote_key_base64 = stream.key().key_base64();
  }
  return video;
}

// The audio stream of an endpoint request, converted and checked.
absl::StatusOr<engine::EndpointConfig> EndpointFromProto(
    const std::string& endpoint_id, const v1::Endpoint& endpoint,
    const std::vector<std::string>& languages) {
  engine::EndpointConfig config;
  config.id = endpoint_id;
  switch (endpoint.transport()) {
    case v1::TRANSPORT_UNSPECIFIED:
    case v1::TRANSPORT_SRTP:
      config.secure = true;
      break;
    case v1::TRANSPORT_RTP_INSECURE:
      config.secure = false;
      break;
    default:
      return absl::InvalidArgumentError("endpoint.transport: unknown value");
  }
  const v1::RemoteStream* audio = nullptr;
  const v1::RemoteStream* video = nullptr;
  const v1::RemoteStream* content = nullptr;
  for (const v1::RemoteStream& stream : endpoint.remote_streams()) {
    if (stream.kind() == v1::MEDIA_KIND_AUDIO) {
      if (audio != nullptr) {
        return absl::InvalidArgumentError("endpoint.remote_streams: more than one audio stream");
      }
      audio = &stream;
    } else if (stream.kind() == v1::MEDIA_KIND_VIDEO) {
      if (video != nullptr) {
        return absl::InvalidArgumentError("endpoint.remote_streams: more than one video stream");
      }
      video = &stream;
    } else if (stream.kind() == v1::MEDIA_KIND_CONTENT) {
      if (content != nullptr) {
        return absl::InvalidArgumentError("endpoint.remote_streams: more than one content stream");
      }
      content = &stream;
    } else {
      return absl::InvalidArgumentError("endpoint.remote_streams.kind: unknown media kind");
    }
  }
  if (content != nullptr) {
    auto parsed = VideoFromProto(*content, config.secure);
    if (!parsed.ok()) return parsed.status();
    config.content = *parsed;
  }
  if (video != nullptr) {
    auto parsed = VideoFromProto(*video, config.secure);
    if (!parsed.ok()) return parsed.status();
    config.video = *parsed;
  }
  if (audio == nullptr) {
    return absl::InvalidArgumentError("endpoint.remote_streams: no audio stream");
  }
  for (const v1::Codec& offered : audio->codecs()) {
    // RFC 4733 key presses beside the voice codec (8 kHz, or the voice codec's rate).
    if (absl::AsciiStrToLower(offered.name()) == "telephone-event" &&
        config.telephone_event_pt < 0 && offered.payload_type() >= 96 &&
        offered.payload_type() <= 127) {
      config.telephone_event_pt = static_cast<int>(offered.payload_type());
    }
  }
  bool chosen = false;
  for (const v1::Codec& offered : audio->codecs()) {
    auto codec = codec::CodecFromName(offered.name());
    if (!codec.has_value()) continue;
    if (offered.payload_type() > 127) {
      return absl::InvalidArgumentError("codecs.payload_type must be 0 to 127");
    }
    if (offered.channels() > 2) {
      return absl::InvalidArgumentError("codecs.channels must be 0, 1 or 2");
    }
    if (offered.bitrate() != 0 && (offered.bitrate() < 6000 || offered.bitrate() > 510000)) {
      return absl::InvalidArgumentError("codecs.bitrate must be 0 or 6000 to 510000 bit/s");
    }
    config.codec.codec = *codec;
    config.codec.payload_type = static_cast<uint8_t>(offered.payload_type());
    config.codec.channels = offered.channels() == 0 ? 1 : static_cast<int>(offered.channels());
    config.codec.bitrate_bps = static_cast<int>(offered.bitrate());
    chosen = true;
    break;
  }
  if (!chosen) {
    return absl::InvalidArgumentError(
        "no audio codec in common: Chorus speaks opus, PCMU, PCMA and G722");
  }
  if (audio->port() == 0 || audio->port() > 65535) {
    return absl::InvalidArgumentError("remote_streams.port must be 1 to 65535");
  }
  auto remote = net::SocketAddress::FromIp(audio->address(), static_cast<uint16_t>(audio->port()));
  if (!remote.ok()) {
    return absl::InvalidArgumentError("remote_streams.address must be a literal IP address");
  }
  config.remote = *remote;
  if (audio->rtcp_port() > 65535) {
    return absl::InvalidArgumentError("remote_streams.rtcp_port must be 0 to 65535");
  }
  if (audio->rtcp_port() != 0 && audio->rtcp_port() != audio->port()) {
    config.rtcp_remote =
        *net::SocketAddress::FromIp(audio->address(), static_cast<uint16_t>(audio->rtcp_port()));
  }
  config.learn_address = audio->learn_address();
  if (config.secure) {
    auto suite = SuiteFromProto(audio->key().suite());
    if (!suite.ok()) return suite.status();
    config.suite = *suite;
    if (audio->key().key_base64().empty()) {
      return absl::InvalidArgumentError("remote_streams.key.key_base64 is required for SRTP");
    }
    config.remote_key_base64 = audio->key().key_base64();
  }
  for (const v1::HeaderExtension& extension : audio->header_extensions()) {
    if (extension.uri() != kAudioLevelUri && extension.uri() != kCsrcAudioLevelUri) continue;
    if (extension.id() < 1 || extension.id() > 14) {
      return absl::InvalidArgumentError("header_extensions.id must be 1 to 14");
    }
    (extension.uri() == kAudioLevelUri ? config.audio_level_extension_id
                                       : config.csrc_audio_level_extension_id) =
        static_cast<uint8_t>(extension.id());
  }
  auto routing = RoutingFromProto(endpoint.routing(), languages);
  if (!routing.ok()) return routing.status();
  config.routing = *routing;
  return config;
}

}  // namespace

MediaNodeService::MediaNodeService(MediaNodeOptions options, engine::MediaEngine* engine,
                                   const common::BearerAuthenticator& auth,
                                   common::Lifecycle& lifecycle)
    : options_(std::move(options)), engine_(engine), auth_(auth), lifecycle_(lifecycle) {}

MediaNodeService::~MediaNodeService() { Shutdown(); }

grpc::Status MediaNodeService::Authenticate(const grpc::ServerContext& context) const {
  // The controller of `chorusd all` calls through an in-process channel with the process's own
  // random secret. Every other caller authenticates like on the public API.
  if (!options_.internal_secret.empty()) {
    auto it = context.client_metadata().find(kInternalSecretHeader);
    if (it != context.client_metadata().end() &&
        it->second.size() == options_.internal_secret.size() &&
        CRYPTO_memcmp(it->second.data(), options_.internal_secret.data(),
                      options_.internal_secret.size()) == 0) {
      return grpc::Status::OK;
    }
  }
  if (options_.require_peer_certificate) {
    auto auth_context = context.auth_context();
    if (auth_context == nullptr || !auth_context->IsPeerAuthenticated()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "the internal API takes only the controller's certificate");
    }
    return grpc::Status::OK;
  }
  return auth_.Check(context);
}

void MediaNodeService::Shutdown() {
  absl::MutexLock lock(&mutex_);
  shutting_down_ = true;
}

v1::LoadReport MediaNodeService::CurrentLoad() const {
  v1::LoadReport report;
  report.set_node_id(options_.node_id);
  report.set_load(engine_->load());
  report.set_sessions(engine_->session_count());
  report.set_endpoints(engine_->endpoint_count());
  report.set_workers(engine_->worker_count());
  report.set_media_address(options_.media_address);
  report.set_ready(lifecycle_.ready());
  report.set_draining(lifecycle_.draining());
  report.set_admission_threshold(options_.admission_threshold);
  report.set_free_ports(
      std::max<int>(0, static_cast<int>(engine_->port_range_size()) - engine_->endpoint_count()));
  return report;
}

grpc::Status MediaNodeService::NotYet(const grpc::ServerContext& context, const char* rpc) const {
  grpc::Status status = Authenticate(context);
  if (!status.ok()) return status;
  std::string message = rpc;
  message.append(
      " is not implemented yet: the video engine (layouts, composition) has not landed in this "
      "node");
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, message);
}

grpc::Status MediaNodeService::GetLoad(grpc::ServerContext* context, const v1::GetLoadRequest*,
                                       v1::LoadReport* response) {
  grpc::Status status = Authenticate(*context);
  if (!status.ok()) return status;
  *response = CurrentLoad();
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::WatchLoad(grpc::ServerContext* context,
                                         const v1::WatchLoadRequest* request,
                                         grpc::ServerWriter<v1::LoadReport>* writer) {
  grpc::Status status = Authenticate(*context);
  if (!status.ok()) return status;
  double seconds = request->interval_seconds();
  if (seconds == 0) seconds = kDefaultWatchIntervalSeconds;
  if (!(seconds >= kMinWatchIntervalSeconds && seconds <= kMaxWatchIntervalSeconds)) {
    return Invalid("interval_seconds must be 0 (the default, 2) or between 0.5 and 60");
  }
  const absl::Duration interval = absl::Seconds(seconds);
  absl::Time next = absl::Now();
  for (;;) {
    if (!writer->Write(CurrentLoad())) return grpc::Status::OK;  // The caller went away.
    next += interval;
    for (;;) {
      absl::MutexLock lock(&mutex_);
      if (shutting_down_) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the media node is stopping");
      }
      if (context->IsCancelled()) return grpc::Status::CANCELLED;
      absl::Time now = absl::Now();
      if (now >= next) break;
      mutex_.AwaitWithTimeout(absl::Condition(&shutting_down_), std::min(kCancelPoll, next - now));
    }
  }
}

grpc::Status MediaNodeService::Drain(grpc::ServerContext* context, const v1::DrainRequest*,
                                     v1::DrainResponse* response) {
  grpc::Status status = Authenticate(*context);
  if (!status.ok()) return status;
  lifecycle_.BeginDrain();
  response->set_sessions(active_sessions());
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::CreateSession(grpc::ServerContext* context,
                                             const v1::CreateSessionRequest* request,
                                             v1::Session* response) {
  grpc::Status status = Authenticate(*context);
  if (!status.ok()) return status;
  if (lifecycle_.draining()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the media node is draining and accepts no new sessions");
  }
  if (engine_->load() > options_.admission_threshold) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "the media node is above its admission threshold");
  }
  engine::SessionConfig config;
  config.max_speakers = 3;
  for (const v1::Bus& bus : request->session().buses()) {
    if (bus.max_speakers() < 0 || bus.max_speakers() > 8) {
      return Invalid("buses.max_speakers must be 0 (default 3) to 8");
    }
    if (bus.max_speakers() > 0) config.max_speakers = bus.max_speakers();
    if (bus.language().empty()) continue;  // The floor is always there.
    if (bus.language().size() > 35 || std::find(config.languages.begin(), config.languages.end(),
                                                bus.language()) != config.languages.end()) {
      return Invalid("buses.language: too long or listed twice");
    }
    config.languages.push_back(bus.language());
  }
  absl::Status created = engine_->CreateSession(request->session_id(), config);
  if (!created.ok()) return common::ToGrpcStatus(created);
  {
    absl::MutexLock lock(&mutex_);
    sessions_[request->session_id()].languages = config.languages;
  }
  response->set_name(kSessionPrefix + request->session_id());
  for (const std::string& language : config.languages) {
    v1::Bus* bus = response->add_buses();
    bus->set_language(language);
    bus->set_max_speakers(config.max_speakers);
  }
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::DeleteSession(grpc::ServerContext* context,
                                             const v1::DeleteSessionRequest* request,
                                             v1::DeleteSessionResponse*) {
  grpc::Status status = Authenticate(*context);
  if (!status.ok()) return status;
  std::string session;
  if (!ParseSessionName(request->name(), &session)) return Invalid("name: expected sessions/{id}");
  absl::Status deleted = engine_->DeleteSession(session);
  if (!deleted.ok()) return common::ToGrpcStatus(deleted);
  absl::MutexLock lock(&mutex_);
  sessions_.erase(session);
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::AddEndpoint(grpc::ServerContext* context,
                                           const v1::AddEndpointRequest* request,
                                           v1::Endpoint* response) {
  grpc::Status status = Authenticate(*context);
  if (!status.ok()) return status;
  std::string session;
  if (!ParseSessionName(request->parent(), &session)) {
    return Invalid("parent: expected sessions/{id}");
  }
  std::vector<std::string> languages;
  {
    absl::MutexLock lock(&mutex_);
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such session");
    languages = it->second.languages;
  }
  if (!request->endpoint().webrtc_offer_sdp().empty()) {
    return AddWebRtcEndpoint(session, languages, *request, response);
  }
  if (request->endpoint().offer_first()) return ReserveEndpoint(session, *request, response);
  auto config = EndpointFromProto(request->endpoint_id(), request->endpoint(), languages);
  if (!config.ok()) return common::ToGrpcStatus(config.status());
  auto answer = engine_->AddEndpoint(session, *config);
  if (!answer.ok()) return common::ToGrpcStatus(answer.status());

  *response = request->endpoint();
  // The endpoint's key is not echoed back: it travels once, in the request.
  for (v1::RemoteStream& stream : *response->mutable_remote_streams()) stream.clear_key();
  return AnswerRtp(session, *config, *answer, response);
}

grpc::Status MediaNodeService::AnswerRtp(const std::string& session,
                                         const engine::EndpointConfig& endpoint,
                                         const engine::EndpointAnswer& answered,
                                         v1::Endpoint* response) {
  const engine::EndpointConfig* config = &endpoint;
  const engine::EndpointAnswer* answer = &answered;
  response->set_name(absl::StrCat(kSessionPrefix, session, "/endpoints/", config->id));
  response->clear_local_streams();
  v1::LocalStream* local = response->add_local_streams();
  local->set_kind(v1::MEDIA_KIND_AUDIO);
  v1::Codec* codec = local->mutable_codec();
  codec->set_name(std::string(codec::CodecName(config->codec.codec)));
  codec->set_payload_type(config->codec.payload_type);
  codec->set_clock_rate(codec::RtpClockRate(config->codec.codec));
  codec->set_channels(config->codec.codec == codec::AudioCodec::kOpus ? 2 : 1);
  local->set_address(options_.media_address);
  local->set_port(answer->local.port());
  local->set_ssrc(answer->ssrc);
  if (config->secure) {
    local->mutable_key()->set_suite(SuiteToProto(answer->suite));
    local->mutable_key()->set_key_base64(answer->local_key_base64);
  }
  if (config->audio_level_extension_id != 0) {
    v1::HeaderExtension* extension = local->add_header_extensions();
    extension->set_id(config->audio_level_extension_id);
    extension->set_uri(kAudioLevelUri);
  }
  if (config->csrc_audio_level_extension_id != 0) {
    v1::HeaderExtension* extension = local->add_header_extensions();
    extension->set_id(config->csrc_audio_level_extension_id);
    extension->set_uri(kCsrcAudioLevelUri);
  }
  if (answer->video.enabled) {
    v1::LocalStream* video = response->add_local_streams();
    video->set_kind(v1::MEDIA_KIND_VIDEO);
    v1::Codec* video_codec = video->mutable_codec();
    video_codec->set_name(config->video.codec == video::VideoCodec::kVp8 ? "VP8" : "H264");
    video_codec->set_payload_type(config->video.payload_type);
    video_codec->set_clock_rate(90000);
    if (config->video.codec == video::VideoCodec::kH264) {
      video_codec->set_fmtp("packetization-mode=1;profile-level-id=42e01f");
    }
    video->set_address(options_.media_address);
    video->set_port(answer->video.local.port());
    video->set_ssrc(answer->video.ssrc);
    if (config->secure) {
      video->mutable_key()->set_suite(SuiteToProto(answer->suite));
      video->mutable_key()->set_key_base64(answer->video.local_key_base64);
    }
  }
  if (answer->content.enabled) {
    v1::LocalStream* content = response->add_local_streams();
    content->set_kind(v1::MEDIA_KIND_CONTENT);
    v1::Codec* content_codec = content->mutable_codec();
    content_codec->set_name(config->content.codec == video::VideoCodec::kVp8 ? "VP8" : "H264");
    content_codec->set_payload_type(config->content.payload_type);
    content_codec->set_clock_rate(90000);
    if (config->content.codec == video::VideoCodec::kH264) {
      content_codec->set_fmtp("packetization-mode=1;profile-level-id=42e01f");
    }
    content->set_address(options_.media_address);
    content->set_port(answer->content.local.port());
    content->set_ssrc(answer->content.ssrc);
    if (config->secure) {
      content->mutable_key()->set_suite(SuiteToProto(answer->suite));
      content->mutable_key()->set_key_base64(answer->content.local_key_base64);
    }
  }
  // Keys are not kept by the service: the copy it remembers is for routing updates only.
  v1::Endpoint remembered = *response;
  for (v1::LocalStream& stream : *remembered.mutable_local_streams()) stream.clear_key();
  absl::MutexLock lock(&mutex_);
  auto it = sessions_.find(session);
  if (it != sessions_.end()) it->second.endpoints[config->id] = std::move(remembered);
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::ReserveEndpoint(const std::string& session,
                                               const v1::AddEndpointRequest& request,
                                               v1::Endpoint* response) {
  const v1::Endpoint& endpoint = request.endpoint();
  if (!endpoint.remote_streams().empty()) {
    return Invalid("endpoint.offer_first: without remote_streams (they come with the answer)");
  }
  bool secure = true;
  switch (endpoint.transport()) {
    case v1::TRANSPORT_UNSPECIFIED:
    case v1::TRANSPORT_SRTP:
      break;
    case v1::TRANSPORT_RTP_INSECURE:
      secure = false;
      break;
    default:
      return Invalid("endpoint.transport: unknown value");
  }
  const srtp::SrtpSuite suite = srtp::SrtpSuite::kAesCm128HmacSha1_80;
  auto reserved = engine_->ReserveEndpoint(session, request.endpoint_id(), secure, suite,
                                           endpoint.offer_video());
  if (!reserved.ok()) return common::ToGrpcStatus(reserved.status());
  *response = endpoint;
  response->set_name(absl::StrCat(kSessionPrefix, session, "/endpoints/", request.endpoint_id()));
  response->clear_local_streams();
  v1::LocalStream* local = response->add_local_streams();
  local->set_kind(v1::MEDIA_KIND_AUDIO);
  local->set_address(options_.media_address);
  local->set_port(reserved->local.port());
  local->set_ssrc(reserved->ssrc);
  if (secure) {
    local->mutable_key()->set_suite(SuiteToProto(suite));
    local->mutable_key()->set_key_base64(reserved->local_key_base64);
  }
  if (reserved->video.enabled) {
    v1::LocalStream* video = response->add_local_streams();
    video->set_kind(v1::MEDIA_KIND_VIDEO);
    video->set_address(options_.media_address);
    video->set_port(reserved->video.local.port());
    video->set_ssrc(reserved->video.ssrc);
    if (secure) {
      video->mutable_key()->set_suite(SuiteToProto(suite));
      video->mutable_key()->set_key_base64(reserved->video.local_key_base64);
    }
  }
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::AuthenticateEndpoint(const grpc::ServerContext& context,
                                                    const std::string& name, std::string* session,
                                                    std::string* endpoint) const {
  grpc::Status status = Authenticate(context);
  if (!status.ok()) return status;
  if (!ParseEndpointName(name, session, endpoint)) {
    return Invalid("name: expected sessions/{session}/endpoints/{endpoint}");
  }
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::UpdateEndpoint(grpc::ServerContext* context,
                                              const v1::UpdateEndpointRequest* request,
                                              v1::Endpoint* response) {
  std::string session;
  std::string endpoint;
  grpc::Status status =
      AuthenticateEndpoint(*context, request->endpoint().name(), &session, &endpoint);
  if (!status.ok()) return status;
  std::vector<std::string> languages;
  v1::Endpoint remembered;
  status = Remembered(session, endpoint, &languages, &remembered);
  if (!status.ok()) return status;
  v1::Routing routing = remembered.routing();
  const v1::Routing& update = request->endpoint().routing();
  if (request->update_paths().empty()) return Invalid("update_paths: name at least one field");
  for (const std::string& path : request->update_paths()) {
    if (path == "routing.speak_bus") {
      routing.set_speak_bus(update.speak_bus());
    } else if (path == "routing.listen_bus") {
      routing.set_listen_bus(update.listen_bus());
    } else if (path == "routing.floor_gain_db") {
      routing.set_floor_gain_db(update.floor_gain_db());
    } else if (path == "routing.input_gain_db") {
      routing.set_input_gain_db(update.input_gain_db());
    } else if (path == "routing.muted") {
      routing.set_muted(update.muted());
    } else if (path == "routing.admitted") {
      routing.set_admitted(update.admitted());
    } else if (path == "routing.content_sharing") {
      routing.set_content_sharing(update.content_sharing());
    } else if (path == "routing.pinned_endpoint") {
      routing.set_pinned_endpoint(update.pinned_endpoint());
    } else if (path == "routing.keypad") {
      routing.set_keypad(update.keypad());
    } else if (path == "routing.prompt") {
      routing.set_prompt(update.prompt());
    } else if (path == "routing.prompt_language") {
      routing.set_prompt_language(update.prompt_language());
    } else if (path == "routing") {
      routing = update;
    } else {
      return Invalid("update_paths: '" + common::Excerpt(path) + "' cannot be changed");
    }
  }
  auto converted = RoutingFromProto(routing, languages);
  if (!converted.ok()) return common::ToGrpcStatus(converted.status());
  absl::Status updated = engine_->UpdateRouting(session, endpoint, *converted);
  if (!updated.ok()) return common::ToGrpcStatus(updated);
  absl::MutexLock lock(&mutex_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "session ended");
  auto found = it->second.endpoints.find(endpoint);
  if (found == it->second.endpoints.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "endpoint removed");
  }
  *found->second.mutable_routing() = routing;
  *response = found->second;
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::RemoveEndpoint(grpc::ServerContext* context,
                                              const v1::RemoveEndpointRequest* request,
                                              v1::RemoveEndpointResponse*) {
  std::string session;
  std::string endpoint;
  grpc::Status status = AuthenticateEndpoint(*context, request->name(), &session, &endpoint);
  if (!status.ok()) return status;
  absl::Status removed = engine_->RemoveEndpoint(session, endpoint);
  if (!removed.ok()) return common::ToGrpcStatus(removed);
  absl::MutexLock lock(&mutex_);
  auto it = sessions_.find(session);
  if (it != sessions_.end()) it->second.endpoints.erase(endpoint);
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::RequestKeyframe(grpc::ServerContext* context,
                                               const v1::RequestKeyframeRequest* request,
                                               v1::RequestKeyframeResponse*) {
  std::string session;
  std::string endpoint;
  grpc::Status status = AuthenticateEndpoint(*context, request->name(), &session, &endpoint);
  if (!status.ok()) return status;
  return common::ToGrpcStatus(engine_->RequestKeyframe(session, endpoint));
}

grpc::Status MediaNodeService::SetLayout(grpc::ServerContext* context,
                                         const v1::SetLayoutRequest* request,
                                         v1::Layout* response) {
  grpc::Status status = Authenticate(*context);
  if (!status.ok()) return status;
  std::string session;
  if (!ParseSessionName(request->session(), &session)) {
    return Invalid("session: expected sessions/{id}");
  }
  const v1::Layout& in = request->layout();
  engine::LayoutConfig layout;
  switch (in.mode()) {
    case v1::Layout::MODE_UNSPECIFIED:
    case v1::Layout::MODE_AUTO:
    case v1::Layout::MODE_GRID:
      layout.mode = engine::LayoutConfig::Mode::kGrid;
      break;
    case v1::Layout::MODE_SPEAKER:
      layout.mode = engine::LayoutConfig::Mode::kSpeaker;
      break;
    default:
      return Invalid("layout.mode: unknown value");
  }
  layout.self_view = in.show_self_view();
  layout.max_tiles = in.max_tiles() == 0 ? 25 : in.max_tiles();
  for (const std::string& pinned : in.pinned_endpoints()) {
    const size_t slash = pinned.rfind('/');
    layout.pinned.push_back(slash == std::string::npos ? pinned : pinned.substr(slash + 1));
  }
  absl::Status set = engine_->SetLayout(session, layout);
  if (!set.ok()) return common::ToGrpcStatus(set);
  *response = in;
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::GetSessionStats(grpc::ServerContext* context,
                                               const v1::GetSessionStatsRequest* request,
                                               v1::SessionStats* response) {
  grpc::Status status = Authenticate(*context);
  if (!status.ok()) return status;
  std::string session;
  if (!ParseSessionName(request->name(), &session)) return Invalid("name: expected sessions/{id}");
  auto stats = engine_->GetSessionStats(session);
  if (!stats.ok()) return common::ToGrpcStatus(stats.status());
  response->set_session(request->name());
  response->set_audio_encoders(stats->audio_encoders);
  auto views = engine_->VideoViews(session);
  if (views.ok()) response->set_video_encoders(*views);
  std::vector<std::string> languages;
  {
    absl::MutexLock lock(&mutex_);
    auto it = sessions_.find(session);
    if (it != sessions_.end()) languages = it->second.languages;
  }
  for (size_t bus = 0; bus < stats->speakers.size(); ++bus) {
    const std::string key = bus == 0 || bus > languages.size() ? "" : languages[bus - 1];
    auto& list = (*response->mutable_speakers())[key];
    for (const std::string& endpoint : stats->speakers[bus]) {
      list.add_endpoints(absl::StrCat(request->name(), "/endpoints/", endpoint));
    }
  }
  for (const engine::EndpointStatsSnapshot& endpoint : stats->endpoints) {
    v1::EndpointStats* out = response->add_endpoints();
    out->set_endpoint(absl::StrCat(request->name(), "/endpoints/", endpoint.id));
    out->set_audio_level_dbov(endpoint.level_dbov);
    out->set_speaking(endpoint.speaking);
    out->set_seconds_since_media(endpoint.seconds_since_media);
    out->set_keypad_digits(endpoint.keypad_digits);
    out->set_keypad_presses(endpoint.keypad_presses);
    v1::StreamStats* stream = out->add_streams();
    stream->set_kind(v1::MEDIA_KIND_AUDIO);
    stream->set_packets_received(endpoint.packets_received);
    stream->set_packets_sent(endpoint.packets_sent);
    stream->set_packets_lost(endpoint.packets_lost);
    stream->set_jitter_ms(endpoint.jitter_ms);
    stream->set_jitter_buffer_ms(endpoint.jitter_buffer_ms);
    stream->set_concealed_frames(endpoint.concealed_frames);
    if (endpoint.srtp_failures > 0) (*stream->mutable_drops())["srtp"] = endpoint.srtp_failures;
    if (endpoint.drops > 0) (*stream->mutable_drops())["other"] = endpoint.drops;
  }
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::ListSessions(grpc::ServerContext* context,
                                            const v1::ListSessionsRequest*,
                                            v1::ListSessionsResponse* response) {
  grpc::Status status = Authenticate(*context);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mutex_);
  std::vector<const std::string*> names;
  names.reserve(sessions_.size());
  for (const auto& [name, info] : sessions_) names.push_back(&name);
  std::sort(names.begin(), names.end(),
            [](const std::string* a, const std::string* b) { return *a < *b; });
  for (const std::string* name : names) {
    const SessionInfo& info = sessions_.at(*name);
    v1::SessionListing* listing = response->add_sessions();
    v1::Session* session = listing->mutable_session();
    session->set_name(kSessionPrefix + *name);
    for (const std::string& language : info.languages) session->add_buses()->set_language(language);
    session->set_endpoint_count(static_cast<int32_t>(info.endpoints.size()));
    std::vector<const v1::Endpoint*> endpoints;
    endpoints.reserve(info.endpoints.size());
    for (const auto& [id, endpoint] : info.endpoints) endpoints.push_back(&endpoint);
    std::sort(endpoints.begin(), endpoints.end(),
              [](const v1::Endpoint* a, const v1::Endpoint* b) { return a->name() < b->name(); });
    for (const v1::Endpoint* remembered : endpoints) {
      // What the node chose and the routing it applies; the endpoint's own addresses stay here.
      v1::Endpoint* endpoint = listing->add_endpoints();
      endpoint->set_name(remembered->name());
      endpoint->set_transport(remembered->transport());
      *endpoint->mutable_routing() = remembered->routing();
      *endpoint->mutable_local_streams() = remembered->local_streams();
      for (v1::LocalStream& stream : *endpoint->mutable_local_streams()) stream.clear_key();
    }
  }
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::AddWebRtcEndpoint(const std::string& session,
                                                 const std::vector<std::string>& languages,
                                                 const v1::AddEndpointRequest& request,
                                                 v1::Endpoint* response) {
  const std::string& sdp = request.endpoint().webrtc_offer_sdp();
  if (sdp.size() > 64 * 1024) return Invalid("endpoint.webrtc_offer_sdp: at most 64 KiB");
  auto offer = WebRtcOfferToEndpoint(request.endpoint_id(), sdp);
  if (!offer.ok()) return common::ToGrpcStatus(offer.status());
  auto routing = RoutingFromProto(request.endpoint().routing(), languages);
  if (!routing.ok()) return common::ToGrpcStatus(routing.status());
  offer->config.routing = *routing;
  auto answer = engine_->AddEndpoint(session, offer->config);
  if (!answer.ok()) return common::ToGrpcStatus(answer.status());
  grpc::Status status =
      AnswerWebRtc(session, *offer, *answer, request.endpoint().routing(), response);
  if (!status.ok()) (void)engine_->RemoveEndpoint(session, offer->config.id);
  return status;
}

grpc::Status MediaNodeService::AnswerWebRtc(const std::string& session, const WebRtcOffer& offer,
                                            const engine::EndpointAnswer& answer,
                                            const v1::Routing& routing, v1::Endpoint* response) {
  auto text = WebRtcAnswerSdp(offer, answer, options_.media_address);
  if (!text.ok()) return common::ToGrpcStatus(text.status());
  response->set_name(absl::StrCat(kSessionPrefix, session, "/endpoints/", offer.config.id));
  *response->mutable_routing() = routing;
  response->set_webrtc_answer_sdp(*text);
  response->add_local_streams()->set_kind(v1::MEDIA_KIND_AUDIO);
  if (answer.video.enabled) response->add_local_streams()->set_kind(v1::MEDIA_KIND_VIDEO);
  if (answer.content.enabled) response->add_local_streams()->set_kind(v1::MEDIA_KIND_CONTENT);
  absl::MutexLock lock(&mutex_);
  auto it = sessions_.find(session);
  if (it != sessions_.end()) {
    v1::Endpoint remembered;
    remembered.set_name(response->name());
    *remembered.mutable_routing() = routing;
    it->second.endpoints[offer.config.id] = remembered;
  }
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::RenegotiateEndpoint(grpc::ServerContext* context,
                                                   const v1::RenegotiateEndpointRequest* request,
                                                   v1::Endpoint* response) {
  std::string session;
  std::string endpoint;
  grpc::Status status = AuthenticateEndpoint(*context, request->name(), &session, &endpoint);
  if (!status.ok()) return status;
  if (request->webrtc_offer_sdp().empty() && !request->remote_streams().empty()) {
    return RenegotiateRtp(session, endpoint, *request, response);
  }
  if (request->webrtc_offer_sdp().empty() || request->webrtc_offer_sdp().size() > 64 * 1024) {
    return Invalid(
        "webrtc_offer_sdp: the browser's SDP offer, at most 64 KiB (or an RTP endpoint's "
        "remote_streams)");
  }
  std::vector<std::string> languages;
  v1::Endpoint remembered;
  status = Remembered(session, endpoint, &languages, &remembered);
  if (!status.ok()) return status;
  const v1::Routing routing = remembered.routing();
  auto offer = WebRtcOfferToEndpoint(endpoint, request->webrtc_offer_sdp());
  if (!offer.ok()) return common::ToGrpcStatus(offer.status());
  auto converted = RoutingFromProto(routing, languages);
  if (!converted.ok()) return common::ToGrpcStatus(converted.status());
  offer->config.routing = *converted;
  auto answer = engine_->RenegotiateWebRtc(session, offer->config);
  if (!answer.ok()) return common::ToGrpcStatus(answer.status());
  return AnswerWebRtc(session, *offer, *answer, routing, response);
}

grpc::Status MediaNodeService::Remembered(const std::string& session, const std::string& endpoint,
                                          std::vector<std::string>* languages,
                                          v1::Endpoint* remembered) {
  absl::MutexLock lock(&mutex_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such session");
  auto found = it->second.endpoints.find(endpoint);
  if (found == it->second.endpoints.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such endpoint");
  }
  *languages = it->second.languages;
  *remembered = found->second;
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::RenegotiateRtp(const std::string& session,
                                              const std::string& endpoint,
                                              const v1::RenegotiateEndpointRequest& request,
                                              v1::Endpoint* response) {
  std::vector<std::string> languages;
  v1::Endpoint remembered;
  grpc::Status status = Remembered(session, endpoint, &languages, &remembered);
  if (!status.ok()) return status;
  if (remembered.remote_streams().empty()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such RTP endpoint");
  }
  v1::Endpoint offered;
  offered.set_transport(remembered.transport());
  *offered.mutable_remote_streams() = request.remote_streams();
  auto config = EndpointFromProto(endpoint, offered, languages);
  if (!config.ok()) return common::ToGrpcStatus(config.status());
  auto routing = RoutingFromProto(remembered.routing(), languages);
  if (!routing.ok()) return common::ToGrpcStatus(routing.status());
  config->routing = *routing;
  auto answer = engine_->RenegotiateRtp(session, *config);
  if (!answer.ok()) return common::ToGrpcStatus(answer.status());
  *response = std::move(remembered);
  *response->mutable_remote_streams() = request.remote_streams();
  for (v1::RemoteStream& stream : *response->mutable_remote_streams()) stream.clear_key();
  return AnswerRtp(session, *config, *answer, response);
}

}  // namespace chorus::media_node
