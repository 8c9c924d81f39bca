#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "pipeline/codec/audio_codec.h"
#include "pipeline/net/socket_address.h"
#include "pipeline/srtp/srtp_suite.h"
#include "pipeline/video/rtp_video.h"

namespace chorus::engine {

// A session's audio buses: bus 0 is the floor, bus i (1..n) is languages[i-1].
struct SessionConfig {
  std::vector<std::string> languages;
  // Speakers mixed per bus (1 to 8).
  int max_speakers = 3;
};

// What an endpoint speaks into and hears (DESIGN.md, Mixing).
struct Routing {
  int speak_bus = 0;
  // The bus heard; when not the floor, the floor is mixed underneath at floor_gain.
  int listen_bus = 0;
  float floor_gain = 0.178f;  // -15 dB
  float input_gain = 1.0f;
  bool muted = false;
  // False while in the lobby: not heard, hears nothing, gets no packets.
  bool admitted = true;
  // Its content stream (screen sharing) is shown large while it flows (presentation layout).
  bool content_sharing = false;
  // The endpoint whose camera it sees large in its video view, whatever the room's layout (a
  // sign-language interpreter); empty = the room's layout.
  std::string pinned;
  // A telephone caller typing the room's PIN on its keypad, not yet a participant: like one in
  // the lobby it is neither heard nor hears anything of the room (admitted is false). It hears
  // `prompt` instead ("enter_pin", "wrong_pin"; empty: silence) in `prompt_language`, then the
  // invitation to type, repeated; its key presses (RFC 4733) are kept for the controller.
  bool keypad = false;
  std::string prompt;
  std::string prompt_language;
};

// The codec an endpoint receives (and is expected to send) on its audio stream.
struct CodecChoice {
  codec::AudioCodec codec = codec::AudioCodec::kOpus;
  uint8_t payload_type = 111;
  // Channels the endpoint declared (Opus is always 2 in SDP, RFC 7587; we send mono content).
  int channels = 1;
  // Encoder bitrate for Opus (bit/s); 0 = default.
  int bitrate_bps = 0;
};

// An endpoint's video stream (issue: Video MCU): its own socket beside the audio one, the same
// SRTP suite. What it sends is decoded and shown to the others; what it receives is the view
// the session composes for it.
struct VideoConfig {
  bool enabled = false;
  video::VideoCodec codec = video::VideoCodec::kVp8;
  uint8_t payload_type = 96;
  std::string remote_key_base64;   // the key its video is protected with
  net::SocketAddress remote;       // where it receives video
  net::SocketAddress rtcp_remote;  // where it receives RTCP, when not at `remote` (else empty)
  // The node's side decided before the endpoint's (MediaEngine::ReserveEndpoint): its key
  // (base64; empty: a new one) and SSRC (0: a new one).
  std::string local_key_base64;
  uint32_t local_ssrc = 0;
  int width = 640;  // the view it receives (even, 16 to 1920 x 16 to 1080)
  int height = 360;
  int bitrate_bps = 800'000;
};

// A WebRTC endpoint (issue: WebRTC on the media node): ICE-lite, DTLS-SRTP and BUNDLE on the
// worker's shared port instead of a socket and SDES keys of its own. From its SDP offer.
struct WebRtcConfig {
  bool enabled = false;
  std::string remote_ufrag;
  std::string remote_pwd;
  std::array<uint8_t, 32> remote_fingerprint{};  // SHA-256 of the browser's DTLS certificate
  // The SSRCs it announced for each stream (empty: recognised by payload type).
  std::vector<uint32_t> audio_ssrcs;
  std::vector<uint32_t> video_ssrcs;
  std::vector<uint32_t> content_ssrcs;
  // The transport-wide sequence number header extension's id in each stream (1..14; 0: not
  // negotiated). With any, the transport sends transport-wide congestion control feedback.
  uint8_t audio_transport_cc_id = 0;
  uint8_t video_transport_cc_id = 0;
  uint8_t content_transport_cc_id = 0;
};

struct EndpointConfig {
  std::string id;
  // SRTP (the default) or plain RTP (refused unless the engine allows insecure media).
  bool secure = true;
  srtp::SrtpSuite suite = srtp::SrtpSuite::kAesCm128HmacSha1_80;
  // The key the endpoint protects what it sends with: base64 of master key || salt.
  std::string remote_key_base64;
  // Where the endpoint receives, and its RTCP when not there (else empty: RFC 5761).
  net::SocketAddress remote;
  net::SocketAddress rtcp_remote;
  // Send to the source of the latest authenticated packet instead (NAT).
  bool learn_address = false;
  CodecChoice codec;
  // RFC 6464 client-to-mixer audio level extension id (1..14), 0 = not negotiated.
  uint8_t audio_level_extension_id = 0;
  // RFC 6465 mixer-to-client audio levels extension id (1..14), 0 = not negotiated: the levels of
  // the speakers in each mixed packet, one per CSRC.
  uint8_t csrc_audio_level_extension_id = 0;
  Routing routing;
  // RFC 4733 telephone events: their payload type, -1 when not negotiated.
  int telephone_event_pt = -1;
  // The node's side decided before the endpoint's own was known (MediaEngine::ReserveEndpoint:
  // Chorus offered first): the key it protects what it sends with (base64; empty: a new one) and
  // its SSRC (0: a new one).
  std::string local_key_base64;
  uint32_t local_ssrc = 0;
  VideoConfig video;
  // A second video stream marked as content (screen sharing), received only.
  VideoConfig content;
  WebRtcConfig webrtc;
};

// The node's side of a WebRTC endpoint's transport.
struct WebRtcAnswer {
  bool enabled = false;
  std::string local_ufrag;
  std::string local_pwd;                  // never logged
  std::array<uint8_t, 32> fingerprint{};  // SHA-256 of the node's DTLS certificate
  net::SocketAddress local;               // the worker's shared WebRTC port
};

// The node's side of the endpoint's video stream.
struct VideoAnswer {
  bool enabled = false;
  net::SocketAddress local;
  uint32_t ssrc = 0;
  std::string local_key_base64;  // never logged
};

// The node's side of the endpoint's audio stream (and video and content, when offered).
struct EndpointAnswer {
  net::SocketAddress local;
  uint32_t ssrc = 0;
  srtp::SrtpSuite suite = srtp::SrtpSuite::kAesCm128HmacSha1_80;
  // The key Chorus protects what it sends with (empty for plain RTP). Never logged.
  std::string local_key_base64;
  VideoAnswer video;
  VideoAnswer content;
  WebRtcAnswer webrtc;
};

// The floor's loudest speaker (an endpoint id, empty for none): written by the audio session
// when it changes, read by the video session on its own thread for the speaker layout. Locked;
// the audio side writes only on a change and never allocates.
class SpeakerBoard {
 public:
  void Set(std::string_view id) {
    absl::MutexLock lock(&mutex_);
    size_ = std::min(id.size(), id_.size());
    std::copy_n(id.data(), size_, id_.data());
  }
  std::string Get() const {
    absl::MutexLock lock(&mutex_);
    return std::string(id_.data(), size_);
  }

 private:
  mutable absl::Mutex mutex_;
  std::array<char, 64> id_{};
  size_t size_ = 0;
};

// How a session's views are laid out (DESIGN.md, Mixing: views as keys).
struct LayoutConfig {
  enum class Mode : uint8_t { kGrid, kSpeaker };
  Mode mode = Mode::kGrid;
  bool self_view = true;  // a participant sees itself among the tiles
  // Shown large in the speaker layout whatever else happens (a sign-language interpreter).
  std::vector<std::string> pinned;
  int max_tiles = 25;
};

struct EndpointStatsSnapshot {
  std::string id;
  uint64_t packets_received = 0;
  uint64_t packets_sent = 0;
  uint64_t packets_lost = 0;
  double jitter_ms = 0;
  double jitter_buffer_ms = 0;
  uint64_t concealed_frames = 0;
  uint64_t srtp_failures = 0;
  uint64_t drops = 0;
  double level_dbov = -127;
  bool speaking = false;
  // Since the last authenticated RTP or RTCP packet (or the endpoint's creation).
  double seconds_since_media = 0;
  // Keypad mode: the keys pressed ('0'-'9', '*', '#'; the last 32), and how many in all.
  std::string keypad_digits;
  uint64_t keypad_presses = 0;
};

struct SessionStatsSnapshot {
  std::vector<EndpointStatsSnapshot> endpoints;
  int audio_encoders = 0;
  int worker = 0;
  // Per bus (0 = the floor, then the session's languages): the selected speakers' endpoint ids,
  // loudest first.
  std::vector<std::vector<std::string>> speakers;
};

}  // namespace chorus::engine
