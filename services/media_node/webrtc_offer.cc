#include "services/media_node/webrtc_offer.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "pipeline/sdp/answer.h"
#include "pipeline/sdp/parser.h"
#include "pipeline/sdp/session_description.h"

namespace chorus::media_node {
namespace {

// The video Chorus runs for a negotiated camera or screen-share section.
engine::VideoConfig VideoFor(const sdp::NegotiatedSection& section) {
  engine::VideoConfig video;
  video.enabled = true;
  video.codec = section.codec->codec == sdp::Codec::kH264 ? video::VideoCodec::kH264
                                                          : video::VideoCodec::kVp8;
  video.payload_type = section.codec->payload_type;
  video.width = 640;
  video.height = 360;
  video.bitrate_bps = 800'000;
  return video;
}

std::vector<uint32_t> SsrcsOf(const sdp::NegotiatedSection& section) {
  std::vector<uint32_t> ssrcs;
  for (const sdp::RemoteStream& stream : section.remote_streams) ssrcs.push_back(stream.ssrc);
  return ssrcs;
}

}  // namespace

absl::StatusOr<WebRtcOffer> WebRtcOfferToEndpoint(const std::string& endpoint_id,
                                                  std::string_view sdp) {
  WebRtcOffer out;
  auto offer = sdp::ParseOffer(sdp);
  if (!offer.ok()) return offer.status();
  out.offer = *std::move(offer);
  sdp::LocalCapabilities capabilities;
  // Lost video is asked for again with generic NACK in the original stream; RTX is not taken.
  capabilities.rtx = false;
  // Transport-wide congestion control (the extension and rtcp-fb transport-cc, where offered):
  // the engine's WebRTC transport sends the feedback the browser's estimate is made of; REMB
  // stays the per-sender cap.
  auto negotiated = sdp::Negotiate(out.offer, capabilities);
  if (!negotiated.ok()) return negotiated.status();
  out.negotiated = *std::move(negotiated);
  const sdp::Negotiated& n = out.negotiated;
  if (!n.audio_section.has_value()) {
    return absl::InvalidArgumentError("the offer has no audio Chorus can use (Opus)");
  }
  engine::EndpointConfig& config = out.config;
  config.id = endpoint_id;
  config.secure = true;
  config.webrtc.enabled = true;
  config.webrtc.remote_ufrag = n.remote_ice.ufrag;
  config.webrtc.remote_pwd = n.remote_ice.pwd;
  std::copy(n.remote_fingerprint_sha256.begin(), n.remote_fingerprint_sha256.end(),
            config.webrtc.remote_fingerprint.begin());
  const sdp::NegotiatedSection& audio = n.sections[*n.audio_section];
  config.codec.codec = codec::AudioCodec::kOpus;
  config.codec.payload_type = audio.codec->payload_type;
  config.codec.channels = 2;
  config.audio_level_extension_id = audio.extensions.audio_level;
  config.webrtc.audio_ssrcs = SsrcsOf(audio);
  config.webrtc.audio_transport_cc_id = audio.extensions.transport_cc;
  if (n.camera_section.has_value()) {
    const sdp::NegotiatedSection& camera = n.sections[*n.camera_section];
    config.video = VideoFor(camera);
    config.webrtc.video_ssrcs = SsrcsOf(camera);
    config.webrtc.video_transport_cc_id = camera.extensions.transport_cc;
  }
  if (n.screen_share_section.has_value()) {
    const sdp::NegotiatedSection& share = n.sections[*n.screen_share_section];
    config.content = VideoFor(share);
    config.webrtc.content_ssrcs = SsrcsOf(share);
    config.webrtc.content_transport_cc_id = share.extensions.transport_cc;
  }
  return out;
}

absl::StatusOr<std::string> WebRtcAnswerSdp(const WebRtcOffer& offer,
                                            const engine::EndpointAnswer& answer,
                                            const std::string& media_address) {
  sdp::AnswerParams params;
  params.ice.ufrag = answer.webrtc.local_ufrag;
  params.ice.pwd = answer.webrtc.local_pwd;
  std::copy(answer.webrtc.fingerprint.begin(), answer.webrtc.fingerprint.end(),
            params.fingerprint_sha256.begin());
  params.candidates.push_back({media_address, answer.webrtc.local.port()});
  params.ssrcs.audio = answer.ssrc;
  params.ssrcs.video = answer.video.enabled ? answer.video.ssrc : 0;
  params.cname = "chorus";
  params.msid_stream_id = "chorus";
  params.session_id = (uint64_t{answer.ssrc} << 16) & 0x3fffffffffffffffULL;
  // A renegotiation's answer carries a higher version (RFC 3264 section 8): the time in ms.
  params.session_version = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
  if (absl::Status valid = sdp::ValidateAnswerParams(params); !valid.ok()) return valid;
  return sdp::WriteAnswer(offer.offer, offer.negotiated, params);
}

}  // namespace chorus::media_node
