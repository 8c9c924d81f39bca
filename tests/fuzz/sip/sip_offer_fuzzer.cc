// A SIP caller's SDP offer, as the network hands it to the SIP role: sofia-sip parses it and
// Chorus turns it into the public API's offer. Whatever is accepted must make an answer that
// parses again (the same parser) with the same address, port, codec, key and crypto tag (and a
// room system's presentation, when taken, on its line), and a refusal never quotes the offer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "services/sip/sip_sdp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chorus::sip;
  if (size == 0) return 0;
  const bool allow_plain = (data[0] & 1) != 0;
  const std::string sdp(reinterpret_cast<const char*>(data + 1), size - 1);
  absl::StatusOr<CallerOffer> offer = ParseCallerOffer(sdp, allow_plain);
  if (!offer.ok()) {
    if (offer.status().message().size() > 200) std::abort();
    return 0;
  }
  const chorus::v1::StreamOffer& stream = offer->rtp.streams(0);
  if (stream.codecs().empty()) std::abort();
  chorus::v1::RtpAnswer answer;
  answer.set_transport(offer->rtp.transport());
  chorus::v1::StreamAnswer* audio = answer.add_streams();
  audio->set_kind(chorus::v1::MEDIA_KIND_AUDIO);
  audio->set_address("192.0.2.1");
  audio->set_port(40000);
  *audio->mutable_codec() = stream.codecs(0);
  *audio->mutable_key() = stream.key();
  // A presentation (content sent only) is taken as a re-INVITE would take it.
  const bool presents = offer->content.kind() == chorus::v1::MEDIA_KIND_CONTENT;
  if (presents) {
    if (offer->content_line < 0 || offer->content_line >= static_cast<int>(offer->lines.size()) ||
        offer->content.codecs().empty()) {
      std::abort();
    }
    offer->lines[static_cast<size_t>(offer->content_line)].taken = chorus::v1::MEDIA_KIND_CONTENT;
    chorus::v1::StreamAnswer* content = answer.add_streams();
    content->set_kind(chorus::v1::MEDIA_KIND_CONTENT);
    content->set_address("192.0.2.1");
    content->set_port(40004);
    *content->mutable_codec() = offer->content.codecs(0);
    *content->mutable_key() = offer->content.key();
  }
  const std::string text = AnswerSdp(answer, *offer, 1);
  if (presents && text.find("m=video 40004 ") == std::string::npos) std::abort();
  absl::StatusOr<CallerOffer> back = ParseCallerOffer(text, allow_plain);
  if (!back.ok()) std::abort();
  const chorus::v1::StreamOffer& again = back->rtp.streams(0);
  if (again.port() != 40000 || again.address() != "192.0.2.1" ||
      again.codecs(0).payload_type() != stream.codecs(0).payload_type() ||
      again.key().key_base64() != stream.key().key_base64() ||
      back->crypto_tag != offer->crypto_tag) {
    std::abort();
  }
  return 0;
}
