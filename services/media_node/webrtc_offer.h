#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "pipeline/engine/session_types.h"
#include "pipeline/sdp/negotiation.h"
#include "pipeline/sdp/session_description.h"

namespace chorus::media_node {

// A browser's SDP offer, negotiated, and the endpoint the engine runs for it.
struct WebRtcOffer {
  sdp::Offer offer;
  sdp::Negotiated negotiated;
  engine::EndpointConfig config;
};

// Parses and negotiates `sdp` (pipeline/sdp: Opus; VP8 or constrained-baseline H.264 for the
// camera and the screen share) into an engine endpoint with id `endpoint_id`. INVALID_ARGUMENT
// naming the problem (never quoting the offer): too large, malformed, no fingerprint, no common
// codec, ...
absl::StatusOr<WebRtcOffer> WebRtcOfferToEndpoint(const std::string& endpoint_id,
                                                  std::string_view sdp);

// The SDP answer for what the engine set up: ICE-lite with one host candidate (the worker's
// shared port at `media_address`), DTLS fingerprint, Chorus's SSRCs.
absl::StatusOr<std::string> WebRtcAnswerSdp(const WebRtcOffer& offer,
                                            const engine::EndpointAnswer& answer,
                                            const std::string& media_address);

}  // namespace chorus::media_node
