#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "chorus/v1/rooms.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tools/loadgen/server_driver.h"

namespace chorus::loadgen {
namespace {

absl::Status FromGrpc(const std::string& what, const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

class ChorusDriver final : public ServerDriver {
 public:
  explicit ChorusDriver(const ChorusDriverConfig& config) : config_(config) {
    auto credentials = config.insecure_grpc ? grpc::InsecureChannelCredentials()
                                            : grpc::SslCredentials(grpc::SslCredentialsOptions());
    stub_ = chorus::v1::Rooms::NewStub(grpc::CreateChannel(config.address, credentials));
  }

  absl::StatusOr<std::string> CreateRoom(int index, int size) override {
    chorus::v1::CreateRoomRequest request;
    chorus::v1::Room* room = request.mutable_room();
    room->set_kind(size <= 6 ? chorus::v1::ROOM_KIND_CONSULTATION : chorus::v1::ROOM_KIND_MEETING);
    room->set_access_mode(chorus::v1::ACCESS_MODE_INVITE_ONLY);
    room->set_lobby_enabled(false);
    room->set_max_participants(std::max(size, 2));
    (void)index;
    chorus::v1::Room answer;
    auto context = NewContext();
    grpc::Status status = stub_->CreateRoom(context.get(), request, &answer);
    if (!status.ok()) return FromGrpc("CreateRoom", status);
    rooms_.push_back(answer.name());
    return answer.name();
  }

  absl::StatusOr<JoinAnswer> Join(const std::string& room, int index_in_room,
                                  const JoinOffer& offer) override {
    chorus::v1::CreateInviteRequest invite_request;
    invite_request.set_parent(room);
    chorus::v1::Invite* invite = invite_request.mutable_invite();
    invite->set_role(index_in_room == 0 ? chorus::v1::ROLE_HOST : chorus::v1::ROLE_GUEST);
    // A consultation needs a consent reference for its third and later participants.
    if (index_in_room >= 2) invite->set_consent_reference("load-test-consent");
    chorus::v1::CreateInviteResponse invite_answer;
    auto context = NewContext();
    grpc::Status status = stub_->CreateInvite(context.get(), invite_request, &invite_answer);
    if (!status.ok()) return FromGrpc("CreateInvite", status);

    chorus::v1::JoinRoomRequest request;
    request.set_room(room);
    request.set_invite_token(invite_answer.token());
    if (!offer.webrtc_sdp.empty()) {
      request.mutable_offer()->mutable_webrtc()->set_sdp(offer.webrtc_sdp);
      chorus::v1::JoinRoomResponse response;
      context = NewContext();
      status = stub_->JoinRoom(context.get(), request, &response);
      if (!status.ok()) return FromGrpc("JoinRoom", status);
      if (!response.answer().has_webrtc() || response.answer().webrtc().sdp().empty()) {
        return absl::InternalError("JoinRoom answered a WebRTC offer without an SDP answer");
      }
      JoinAnswer result;
      result.webrtc_sdp = response.answer().webrtc().sdp();
      return result;
    }
    chorus::v1::RtpOffer* rtp = request.mutable_offer()->mutable_rtp();
    rtp->set_transport(config_.srtp ? chorus::v1::TRANSPORT_SRTP
                                    : chorus::v1::TRANSPORT_RTP_INSECURE);
    chorus::v1::StreamOffer* stream = rtp->add_streams();
    stream->set_kind(chorus::v1::MEDIA_KIND_AUDIO);
    chorus::v1::Codec* codec = stream->add_codecs();
    codec->set_name("opus");
    codec->set_payload_type(offer.payload_type);
    codec->set_clock_rate(48000);
    codec->set_channels(2);
    stream->set_address(offer.ip);
    stream->set_port(offer.port);
    stream->set_ssrc(offer.ssrc);
    if (!offer.key_base64.empty()) {
      stream->mutable_key()->set_suite(chorus::v1::SRTP_SUITE_AES_CM_128_HMAC_SHA1_80);
      stream->mutable_key()->set_key_base64(offer.key_base64);
    }
    chorus::v1::HeaderExtension* level = stream->add_header_extensions();
    level->set_id(offer.audio_level_id);
    level->set_uri("urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    chorus::v1::HeaderExtension* csrc_levels = stream->add_header_extensions();
    csrc_levels->set_id(offer.audio_level_id + 1);
    csrc_levels->set_uri("urn:ietf:params:rtp-hdrext:csrc-audio-level");

    if (offer.video_port != 0) {
      chorus::v1::StreamOffer* video = rtp->add_streams();
      video->set_kind(chorus::v1::MEDIA_KIND_VIDEO);
      chorus::v1::Codec* vp8 = video->add_codecs();
      vp8->set_name("VP8");
      vp8->set_payload_type(offer.video_payload_type);
      vp8->set_clock_rate(90000);
      video->set_address(offer.ip);
      video->set_port(offer.video_port);
      video->set_ssrc(offer.video_ssrc);
      video->set_width(static_cast<uint32_t>(offer.video_width));
      video->set_height(static_cast<uint32_t>(offer.video_height));
      if (!offer.video_key_base64.empty()) {
        video->mutable_key()->set_suite(chorus::v1::SRTP_SUITE_AES_CM_128_HMAC_SHA1_80);
        video->mutable_key()->set_key_base64(offer.video_key_base64);
      }
    }

    chorus::v1::JoinRoomResponse response;
    context = NewContext();
    status = stub_->JoinRoom(context.get(), request, &response);
    if (!status.ok()) return FromGrpc("JoinRoom", status);
    JoinAnswer result;
    bool have_audio = false;
    for (const auto& answer : response.answer().rtp().streams()) {
      if (answer.port() == 0 || answer.port() > 65535) {
        return absl::InternalError("JoinRoom answered a stream without a port");
      }
      if (config_.srtp && answer.key().key_base64().empty()) {
        return absl::InternalError("JoinRoom answered SRTP without a key");
      }
      if (answer.kind() == chorus::v1::MEDIA_KIND_AUDIO && !have_audio) {
        have_audio = true;
        result.ip = answer.address();
        result.port = static_cast<uint16_t>(answer.port());
        result.key_base64 = answer.key().key_base64();
      } else if (answer.kind() == chorus::v1::MEDIA_KIND_VIDEO && offer.video_port != 0) {
        result.video_ip = answer.address();
        result.video_port = static_cast<uint16_t>(answer.port());
        result.video_key_base64 = answer.key().key_base64();
      }
    }
    if (!have_audio) return absl::InternalError("JoinRoom answered no audio stream");
    if (offer.video_port != 0 && result.video_port == 0) {
      return absl::InternalError("JoinRoom answered no video stream");
    }
    return result;
  }

  void CloseAll() override {
    for (const std::string& room : rooms_) {
      chorus::v1::CloseRoomRequest request;
      request.set_name(room);
      chorus::v1::CloseRoomResponse response;
      auto context = NewContext();
      grpc::Status status = stub_->CloseRoom(context.get(), request, &response);
      if (!status.ok()) {
        std::fprintf(stderr, "chorus-loadgen: CloseRoom %s: %s\n", room.c_str(),
                     status.error_message().c_str());
      }
    }
    rooms_.clear();
  }

  const char* name() const override { return "chorus"; }

 private:
  std::unique_ptr<grpc::ClientContext> NewContext() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(config_.timeout_ms)));
    if (!config_.token.empty()) context->AddMetadata("authorization", "Bearer " + config_.token);
    return context;
  }

  const ChorusDriverConfig config_;
  std::unique_ptr<chorus::v1::Rooms::Stub> stub_;
  std::vector<std::string> rooms_;
};

}  // namespace

std::unique_ptr<ServerDriver> NewChorusDriver(const ChorusDriverConfig& config) {
  return std::make_unique<ChorusDriver>(config);
}

}  // namespace chorus::loadgen
