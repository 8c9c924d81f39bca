#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/loadgen/server_driver.h"
#include "tools/loadgen/talk_clip.h"
#include "tools/loadgen/talk_schedule.h"
#include "tools/loadgen/video_clip.h"

namespace chorus::loadgen {

// How the simulated participants carry their media:
//   kSrtp    SRTP with SDES keys in the join (AES_CM_128_HMAC_SHA1_80), like a SIP phone;
//   kRtp     plain RTP (a server started with --allow_insecure_media, or Janus);
//   kWebRtc  like a browser: an SDP offer in the join, then ICE (the participant controls and
//            nominates; a consent check every 5 s), a DTLS client handshake and SRTP with the
//            exported keys, everything on its one socket to the server's shared WebRTC port.
enum class Transport { kSrtp, kRtp, kWebRtc };
const char* TransportName(Transport transport);  // "srtp", "rtp", "webrtc"

struct LoadConfig {
  int rooms = 1;
  int room_size = 5;
  // Participants per room who talk (the first `talkers` of each room); 0: all of them. The others
  // send silence the whole time.
  int talkers = 0;
  Transport transport = Transport::kSrtp;
  // WebRTC: the SRTP profiles the participants' DTLS offers. False: AES_CM_128_HMAC_SHA1_80 only,
  // the suite of the SRTP participants (so that a comparison differs by the transport alone);
  // true: AEAD_AES_128_GCM first, then AES_CM_128_HMAC_SHA1_80, as browsers offer.
  bool webrtc_gcm = false;
  // WebRTC: how long a participant may take from its join answer to a completed DTLS handshake.
  int connect_timeout_ms = 10000;
  // Set-up: the pause between one join's answer and the next join (0: back to back, as fast as
  // the server answers). Participants arriving one by one rather than all at once.
  int join_interval_ms = 0;
  // Opus DTX while not talking: one silence frame every 400 ms instead of one every 20 ms (what a
  // WebRTC client negotiating usedtx=1 sends); false: a frame every 20 ms (a SIP phone).
  bool dtx = false;
  // Each participant also sends VP8 camera video (the clip given to RunLoad, 25 frames per second)
  // and receives its view of this size; 0: audio only.
  int video_width = 0;
  int video_height = 0;
  // Where the simulated participants bind: each address in turn, ports port_min..port_max on
  // each (ports in use are skipped).
  std::vector<std::string> local_ips = {"127.0.0.1"};
  int port_min = 49000;
  int port_max = 49999;
  // Sending starts once every participant has joined; the first `warmup_ms` are not measured
  // (jitter buffers and speaker selection settle), then `duration_ms` are.
  int warmup_ms = 3000;
  int duration_ms = 10000;
  TalkPattern pattern;
  // Receivers whose mix is decoded to measure talk-spurt onset delay: this many per room, at most
  // `max_sampled` in all (decoding costs the generator CPU).
  int sampled_per_room = 2;
  int max_sampled = 64;
  // A decoded 20 ms frame at or above -`onset_level_dbov` dBov is "sound"; an onset is sound
  // after at least `min_silence_ms` of frames below it.
  int onset_level_dbov = 50;
  int min_silence_ms = 300;
  // The server process, for CPU time and resident memory from /proc (0: not measured).
  int server_pid = 0;
  // A Chorus node's Prometheus endpoint, e.g. http://127.0.0.1:9464/metrics (empty: none).
  std::string metrics_url;
  uint32_t seed = 1;
};

struct DelayStats {
  int64_t samples = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
};

// What one run measured. Packet counts cover the measured window only.
struct LoadReport {
  std::string server;
  std::string transport;
  bool dtx = false;
  int rooms = 0;
  int room_size = 0;
  int participants = 0;
  int talkers_per_room = 0;
  double join_seconds = 0;    // set-up: creating rooms, joining and connecting everyone
  double window_seconds = 0;  // the measured window
  uint64_t packets_sent = 0;
  uint64_t packets_received = 0;
  uint64_t packets_expected = 0;  // from the received RTP sequence numbers
  double loss_percent = 0;
  double jitter_ms_mean = 0;  // RFC 3550 interarrival jitter of what participants receive
  double jitter_ms_max = 0;
  uint64_t srtp_failures = 0;        // received packets that did not authenticate
  uint64_t malformed = 0;            // received datagrams that are not RTP
  uint64_t late_sends = 0;           // frames the generator sent more than 10 ms late (it was busy)
  uint64_t participants_silent = 0;  // participants that received nothing in the window
  double load_average = 0;  // the machine's 1-minute load average at the end (noise indicator)
  int sampled_receivers = 0;
  // Join time: from the JoinRoom answer (when the set-up thread received it) to the first mixed
  // packet the participant received and authenticated, over every participant that received one.
  DelayStats join;
  // WebRTC only: from the answer to the ICE check's success, from there to the completed DTLS
  // handshake, and from there to the first mixed packet; retransmissions of checks and DTLS flights
  // during set-up; consent checks sent and answered over the whole run; the SRTP suite the server
  // selected.
  bool have_webrtc = false;
  double ice_ms_p50 = 0, ice_ms_p95 = 0;
  double dtls_ms_p50 = 0, dtls_ms_p95 = 0;
  double mix_ms_p50 = 0, mix_ms_p95 = 0;  // from the completed handshake to the first mix
  uint64_t stun_retransmits = 0;
  uint64_t dtls_retransmits = 0;
  uint64_t consent_checks_sent = 0;
  uint64_t consent_checks_answered = 0;
  std::string srtp_suite;
  DelayStats delay;              // talk-spurt onset to its sound in others' decoded mixes
  uint64_t spurts_expected = 0;  // (sampled receiver, spurt of someone else) pairs in the window
  uint64_t spurts_heard = 0;     // of those, the ones the receiver heard begin
  // Server process (when --server_pid): CPU seconds used in the window, cores (CPU s / wall s),
  // CPU per participant in ms per second, participants one core would carry at this rate.
  bool have_cpu = false;
  double server_cpu_seconds = 0;
  double server_cores = 0;
  double cpu_ms_per_participant_s = 0;
  double participants_per_core = 0;
  int64_t rss_kb_before = 0;  // before the rooms were created
  int64_t rss_kb_after = 0;   // at the end of the window
  double rss_kb_per_participant = 0;
  // Chorus node metrics (when --metrics_url): load at the end, tick quantiles and overruns in the
  // window.
  bool have_metrics = false;
  double node_load = 0;
  double tick_p50_ms = 0;
  double tick_p99_ms = 0;
  double tick_overruns = 0;
  double ticks = 0;
  double audio_encodes_per_tick = 0;
  // Video (when configured): packets sent and received in the window, loss of the received views,
  // view frames received per second per participant, view bit rate per participant; from
  // /metrics: video frame periods missed and view frames encoded in the window.
  bool have_video = false;
  int video_width = 0;
  int video_height = 0;
  uint64_t video_packets_sent = 0;
  uint64_t video_packets_received = 0;
  double video_loss_percent = 0;
  double video_frames_per_s = 0;
  double video_kbps = 0;
  double video_tick_overruns = 0;
  double video_ticks = 0;
  double video_frames_encoded = 0;
};

// Creates the rooms through `driver` and joins every participant (on a helper thread, while this
// thread's epoll loop receives and, for WebRTC, runs ICE and DTLS), then sends and receives for
// warm-up + duration on this thread with one epoll loop (one socket per participant and stream, a
// 5 ms timer), then ends the rooms. `clip` must outlive the call. Failures of set-up (a join
// refused, no port left) are returned; bad datagrams from the server are counted, never fatal.
// `video` (needed when config.video_width is set) must outlive the call too.
absl::StatusOr<LoadReport> RunLoad(const LoadConfig& config, ServerDriver& driver,
                                   const TalkClip& clip, const VideoClip* video = nullptr);

// The report as one JSON object, and as an aligned two-column table.
std::string ReportJson(const LoadReport& report);
std::string ReportTable(const LoadReport& report);

// Nearest-rank percentile (0..100) of `values` (sorted in place); 0 when empty.
double Percentile(std::vector<double>& values, double percent);

}  // namespace chorus::loadgen
