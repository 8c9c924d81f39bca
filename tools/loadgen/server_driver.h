#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace chorus::loadgen {

// What a simulated participant offers when it joins: where it receives (and sends from: one
// socket, symmetric RTP), its SSRC, and for SRTP the base64 key||salt it sends with. A WebRTC
// participant offers its SDP instead (webrtc_sdp; the other fields are then informative only).
struct JoinOffer {
  std::string ip;
  uint16_t port = 0;
  uint32_t ssrc = 0;
  std::string key_base64;  // empty: plain RTP
  uint8_t payload_type = 111;
  uint8_t audio_level_id = 1;  // RFC 6464 extension id the participant writes
  // A camera stream (VP8) on a second socket when video_port is not 0, and the size of the view
  // it asks for.
  uint16_t video_port = 0;
  uint32_t video_ssrc = 0;
  std::string video_key_base64;
  uint8_t video_payload_type = 96;
  int video_width = 0;
  int video_height = 0;
  // WebRTC: the complete SDP offer (tools/loadgen/webrtc_offer.h); empty for RTP and SRTP.
  std::string webrtc_sdp;
};

// The server's side of the join: where to send, and the key it sends with (SRTP).
struct JoinAnswer {
  std::string ip;
  uint16_t port = 0;
  std::string key_base64;
  // The video stream's, when one was offered.
  std::string video_ip;
  uint16_t video_port = 0;
  std::string video_key_base64;
  // WebRTC: the server's SDP answer (ip, port and keys are then empty).
  std::string webrtc_sdp;
};

// A server under test, driven through its own public API, during set-up and tear-down only
// (never inside the media loop); calls block. During set-up the calls come from a helper thread
// of the generator (so that the loop can answer the participants' ICE and DTLS meanwhile), at
// tear-down from the generator's own thread: one thread at a time, never concurrently.
class ServerDriver {
 public:
  virtual ~ServerDriver() = default;
  // Creates room number `index` for `size` participants; returns its handle for Join.
  virtual absl::StatusOr<std::string> CreateRoom(int index, int size) = 0;
  // Joins participant `index_in_room` (0 is the host) into `room`.
  virtual absl::StatusOr<JoinAnswer> Join(const std::string& room, int index_in_room,
                                          const JoinOffer& offer) = 0;
  // Ends every room created (best effort: errors are reported on stderr, not returned).
  virtual void CloseAll() = 0;
  virtual const char* name() const = 0;
};

struct ChorusDriverConfig {
  std::string address = "127.0.0.1:7700";
  bool insecure_grpc = false;  // plaintext gRPC (a --dev server)
  std::string token;           // bearer token, when the server asks for one
  bool srtp = true;            // false: TRANSPORT_RTP_INSECURE (server needs
                               // --allow_insecure_media)
  int timeout_ms = 10000;
};
// Chorus through chorus.v1.Rooms: CreateRoom (a consultation with consent references for rooms
// of up to 6, a meeting above; no lobby), CreateInvite (the first participant host, the others
// guests), JoinRoom with an audio offer (opus, RFC 6464 level extension) or a WebRTC SDP offer,
// CloseRoom.
std::unique_ptr<ServerDriver> NewChorusDriver(const ChorusDriverConfig& config);

struct JanusDriverConfig {
  std::string url = "http://127.0.0.1:8088/janus";
  int sampling_rate_hz = 48000;
  int timeout_ms = 10000;
};
// Janus's AudioBridge plugin through Janus's HTTP API: one session, one handle per participant,
// rooms created with allow_rtp_participants, plain RTP joins ({"rtp": {"ip", "port",
// "payload_type", "audiolevel_ext"}}). Janus takes RTP only from the address announced in the join.
std::unique_ptr<ServerDriver> NewJanusDriver(const JanusDriverConfig& config);

}  // namespace chorus::loadgen
