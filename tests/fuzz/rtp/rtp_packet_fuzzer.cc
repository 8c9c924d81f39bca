// Any datagram through the RTP demultiplexer and parser, every RFC 8285 extension element, the
// RFC 6464 / RFC 6465 level readers, the payload as an RFC 4733 telephone event, and a rebuild of
// what parsed.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "pipeline/rtp/audio_level.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/rtp/telephone_event.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chorus::rtp;
  const std::span<const uint8_t> packet(data, size);
  (void)IsRtcp(packet);
  (void)LooksLikeRtp(packet);
  RtpPacketView view;
  if (ParseRtp(packet, &view) != RtpParseResult::kOk) return 0;
  // Every span must lie inside the input.
  const auto inside = [&](std::span<const uint8_t> s) {
    return s.empty() || (s.data() >= data && s.data() + s.size() <= data + size);
  };
  if (!inside(view.payload) || !inside(view.csrcs) || !inside(view.extension_data)) std::abort();
  for (size_t i = 0; i < view.csrc_count; ++i) (void)view.csrc(i);
  if (auto event = ParseTelephoneEvent(view.payload)) {
    // The fields are the payload's bytes, and only a keypad event has a key.
    if (event->event != view.payload[0] || event->volume > 63) std::abort();
    const char key = KeypadDigit(event->event);
    if ((key != 0) != (event->event <= 11)) std::abort();
  }

  RtpPacketBuilder builder;
  builder.set_marker(view.marker);
  builder.set_payload_type(view.payload_type);
  builder.set_sequence_number(view.sequence_number);
  builder.set_timestamp(view.timestamp);
  builder.set_ssrc(view.ssrc);
  for (size_t i = 0; i < view.csrc_count; ++i) builder.AddCsrc(view.csrc(i));
  RtpExtensionIterator it = view.Extensions();
  RtpExtension element;
  std::array<uint8_t, 15> levels{};
  while (it.Next(&element)) {
    if (!inside(element.data)) std::abort();
    (void)ParseAudioLevel(element.data);
    (void)ParseCsrcAudioLevels(element.data, levels);
    builder.AddExtension(element.id, element.data);
    if (view.FindExtension(element.id).data() == nullptr && !element.data.empty()) std::abort();
  }
  // A rebuilt packet must parse again with the same header and payload.
  static std::array<uint8_t, 70000> out;
  const size_t length = builder.Build(view.payload, out);
  if (length == 0) std::abort();
  RtpPacketView again;
  if (ParseRtp(std::span<const uint8_t>(out.data(), length), &again) != RtpParseResult::kOk ||
      again.sequence_number != view.sequence_number || again.ssrc != view.ssrc ||
      again.payload.size() != view.payload.size()) {
    std::abort();
  }
  return 0;
}
