#include "services/media_node/engine_metrics.h"

#include <limits>
#include <string>
#include <utility>

#include "pipeline/audio/simd/mix_kernels.h"

namespace chorus::media_node {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

ClientMetric Value(MetricType type, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return metric;
}

double Read(const std::atomic<uint64_t>& counter) {
  return static_cast<double>(counter.load(std::memory_order_relaxed));
}

// `scale` converts the histogram's unit to seconds.
ClientMetric HistogramMetric(const engine::Histogram& histogram, double scale,
                             std::vector<ClientMetric::Label> labels = {}) {
  engine::Histogram::Snapshot snapshot = histogram.Read();
  ClientMetric metric;
  metric.label = std::move(labels);
  metric.histogram.sample_count = snapshot.count;
  metric.histogram.sample_sum = snapshot.sum * scale;
  for (size_t i = 0; i < snapshot.upper_bounds.size(); ++i) {
    metric.histogram.bucket.push_back(
        {snapshot.cumulative_counts[i], snapshot.upper_bounds[i] * scale});
  }
  metric.histogram.bucket.push_back(
      {snapshot.cumulative_counts.back(), std::numeric_limits<double>::infinity()});
  return metric;
}

const char* const kCodecNames[] = {"opus", "pcmu", "pcma", "g722"};

}  // namespace

std::vector<MetricFamily> EngineMetrics::Collect() const {
  engine::EngineStats& stats = engine_->stats();
  std::vector<MetricFamily> families;

  auto gauge = [&](const char* name, const char* help, double value) {
    MetricFamily family = Family(name, help, MetricType::Gauge);
    family.metric.push_back(Value(MetricType::Gauge, value));
    families.push_back(std::move(family));
  };
  auto counter = [&](const char* name, const char* help, double value) {
    MetricFamily family = Family(name, help, MetricType::Counter);
    family.metric.push_back(Value(MetricType::Counter, value));
    families.push_back(std::move(family));
  };
  auto in_out = [&](const char* name, const char* help, double in, double out) {
    MetricFamily family = Family(name, help, MetricType::Counter);
    family.metric.push_back(Value(MetricType::Counter, in, {{"direction", "in"}}));
    family.metric.push_back(Value(MetricType::Counter, out, {{"direction", "out"}}));
    families.push_back(std::move(family));
  };

  gauge("chorus_node_load",
        "Share of the real-time budget in use on the busiest media worker (audio or video), 0 to "
        "1, averaged over about 5 s: what autoscaling and placement use",
        engine_->load());
  {
    MetricFamily family = Family("chorus_media_worker_load",
                                 "Share of one worker's real-time budget in use, 0 to 1, averaged "
                                 "over about 5 s",
                                 MetricType::Gauge);
    for (const engine::WorkerLoad& worker : engine_->worker_loads()) {
      family.metric.push_back(Value(
          MetricType::Gauge, worker.load,
          {{"kind", worker.video ? "video" : "audio"}, {"worker", std::to_string(worker.index)}}));
    }
    families.push_back(std::move(family));
  }
  gauge("chorus_media_workers", "Media worker threads", engine_->worker_count());
  gauge("chorus_sessions", "Media sessions (rooms) on this node", engine_->session_count());
  gauge("chorus_endpoints", "Media endpoints (participants) on this node",
        engine_->endpoint_count());
  {
    MetricFamily family = Family("chorus_simd_info",
                                 "Always 1; the label names the instruction set the audio kernels "
                                 "use (CHORUS_SIMD overrides the choice)",
                                 MetricType::Gauge);
    family.metric.push_back(
        Value(MetricType::Gauge, 1, {{"instruction_set", std::string(audio::ActiveSimdName())}}));
    families.push_back(std::move(family));
  }
  in_out("chorus_rtp_packets_total", "RTP packets received and sent", Read(stats.rtp_packets_in),
         Read(stats.rtp_packets_out));
  in_out("chorus_rtcp_packets_total", "RTCP packets received and sent", Read(stats.rtcp_packets_in),
         Read(stats.rtcp_packets_out));
  in_out("chorus_media_bytes_total", "Media bytes (UDP payload) received and sent",
         Read(stats.bytes_in), Read(stats.bytes_out));
  counter("chorus_packets_lost_total",
          "Packets the senders lost on the way to this node (from RTP sequence numbers)",
          Read(stats.packets_lost));
  counter("chorus_send_failures_total", "Datagrams the kernel refused to send",
          Read(stats.send_failures));
  {
    MetricFamily family = Family("chorus_packet_drops_total",
                                 "Packets and frames dropped, by reason", MetricType::Counter);
    for (size_t i = 0; i < engine::kDropReasonCount; ++i) {
      family.metric.push_back(
          Value(MetricType::Counter, Read(stats.drops[i]),
                {{"reason", engine::DropReasonName(static_cast<engine::DropReason>(i))}}));
    }
    families.push_back(std::move(family));
  }
  counter("chorus_srtp_failures_total",
          "SRTP/SRTCP packets that failed authentication, replay protection or decryption",
          Read(stats.drops[static_cast<size_t>(engine::DropReason::kSrtpAuth)]) +
              Read(stats.drops[static_cast<size_t>(engine::DropReason::kSrtpReplay)]) +
              Read(stats.drops[static_cast<size_t>(engine::DropReason::kSrtpOther)]) +
              Read(stats.drops[static_cast<size_t>(engine::DropReason::kPlainRtpRefused)]));
  counter("chorus_concealed_frames_total", "Audio frames concealed after a loss or a late packet",
          Read(stats.concealed_frames));
  counter("chorus_fec_frames_total", "Lost audio frames rebuilt from Opus in-band FEC",
          Read(stats.fec_frames));
  counter("chorus_audio_decodes_skipped_total",
          "Audio frames left undecoded: they came with their RFC 6464 level and their speaker was "
          "not among those the mixer hears",
          Read(stats.decodes_skipped));
  counter("chorus_audio_encodes_total",
          "Audio frames encoded (once per distinct mix and codec, shared by identical listeners)",
          Read(stats.encodes));
  counter("chorus_audio_forwarded_total",
          "Audio packets sent as they came from the one voice their listener hears, instead of "
          "an encoded mix",
          Read(stats.audio_forwarded));
  counter("chorus_ticks_total", "20 ms media ticks run", Read(stats.ticks));
  counter("chorus_tick_overruns_total",
          "Media ticks that started one period or more late (the worker fell behind)",
          Read(stats.tick_overruns));

  auto histogram = [&](const char* name, const char* help, const engine::Histogram& h,
                       double scale) {
    MetricFamily family = Family(name, help, MetricType::Histogram);
    family.metric.push_back(HistogramMetric(h, scale));
    families.push_back(std::move(family));
  };
  histogram("chorus_tick_duration_seconds", "Work of one 20 ms tick of one media worker",
            stats.tick_duration_us, 1e-6);
  histogram("chorus_mix_latency_seconds",
            "From a packet's arrival to the send of the first mix carrying it, without the "
            "jitter buffer's deliberate hold",
            stats.mix_latency_ms, 1e-3);
  histogram("chorus_jitter_seconds", "Interarrival jitter of received streams (RFC 3550)",
            stats.jitter_ms, 1e-3);
  {
    MetricFamily decode =
        Family("chorus_decode_seconds", "Decoding one 20 ms audio frame", MetricType::Histogram);
    MetricFamily encode =
        Family("chorus_encode_seconds", "Encoding one 20 ms audio frame", MetricType::Histogram);
    for (size_t i = 0; i < 4; ++i) {
      decode.metric.push_back(
          HistogramMetric(stats.decode_us[i], 1e-6, {{"codec", kCodecNames[i]}}));
      encode.metric.push_back(
          HistogramMetric(stats.encode_us[i], 1e-6, {{"codec", kCodecNames[i]}}));
    }
    families.push_back(std::move(decode));
    families.push_back(std::move(encode));
  }
  // WebRTC transports (ICE-lite, DTLS-SRTP on each media worker's shared port).
  {
    const engine::WebRtcStats& webrtc = stats.webrtc;
    gauge("chorus_webrtc_transports",
          "WebRTC participants' transports (ICE, DTLS, SRTP) on this node's shared ports",
          static_cast<double>(webrtc.transports.load(std::memory_order_relaxed)));
    MetricFamily checks = Family("chorus_webrtc_stun_checks_total",
                                 "STUN connectivity checks handed to a participant's transport, by "
                                 "outcome (checks naming no transport are packet drops, "
                                 "reason unknown_peer)",
                                 MetricType::Counter);
    for (size_t i = 0; i < ice::kIceResultCount; ++i) {
      checks.metric.push_back(
          Value(MetricType::Counter, Read(webrtc.stun_checks[i]),
                {{"result", ice::IceResultName(static_cast<ice::IceResult>(i))}}));
    }
    families.push_back(std::move(checks));
    counter("chorus_webrtc_consent_expiries_total",
            "Selected ICE pairs that went 30 s without a check (RFC 7675 consent lost): nothing "
            "more is sent to them",
            Read(webrtc.consent_expiries));
    counter("chorus_webrtc_transport_feedback_sent_total",
            "RTCP transport-wide congestion control feedback messages sent to browsers",
            Read(webrtc.transport_feedback_sent));
    counter("chorus_webrtc_ice_restarts_total",
            "ICE restarts (renegotiations with new ICE "
            "credentials)",
            Read(webrtc.ice_restarts));
    const dtls::DtlsCounters& dtls = webrtc.dtls;
    counter("chorus_webrtc_dtls_handshakes_started_total",
            "DTLS handshakes started by a participant's ClientHello",
            Read(dtls.handshakes_started));
    counter("chorus_webrtc_dtls_handshakes_completed_total",
            "DTLS handshakes completed with the certificate of the offer (SRTP keys exported)",
            Read(dtls.handshakes_completed));
    // A counter family with one series per reason of a fixed list.
    auto by_reason = [&](const char* name, const char* help, const auto& values, size_t count,
                         auto reason_name) {
      MetricFamily family = Family(name, help, MetricType::Counter);
      for (size_t i = 0; i < count; ++i) {
        family.metric.push_back(
            Value(MetricType::Counter, Read(values[i]), {{"reason", reason_name(i)}}));
      }
      families.push_back(std::move(family));
    };
    by_reason("chorus_webrtc_dtls_failures_total",
              "DTLS handshakes that failed, and connected associations a peer aborted, by reason",
              dtls.failures, dtls::kDtlsFailureCount,
              [](size_t i) { return dtls::DtlsFailureName(static_cast<dtls::DtlsFailure>(i)); });
    counter("chorus_webrtc_dtls_retransmissions_total",
            "DTLS handshake flights sent again after a timeout", Read(dtls.retransmissions));
    counter("chorus_webrtc_dtls_renegotiations_refused_total",
            "DTLS renegotiations a connected peer asked for and was refused",
            Read(dtls.renegotiations_refused));
    by_reason("chorus_webrtc_dtls_datagram_drops_total",
              "DTLS datagrams dropped before OpenSSL saw them, or ignored after it, by reason",
              dtls.drops, dtls::kDtlsDropCount,
              [](size_t i) { return dtls::DtlsDropName(static_cast<dtls::DtlsDrop>(i)); });
  }
  // Video.
  counter("chorus_video_frames_in_total", "Whole video frames reassembled from participants",
          Read(stats.video_frames_in));
  counter("chorus_video_frames_decoded_total", "Participants' video frames decoded",
          Read(stats.video_frames_decoded));
  counter("chorus_video_frames_skipped_total",
          "Participants' video frames skipped while waiting for a keyframe after a loss",
          Read(stats.video_frames_skipped));
  counter("chorus_video_frames_composed_total", "View frames composed (one per distinct view)",
          Read(stats.video_frames_composed));
  counter("chorus_video_frames_encoded_total", "View frames encoded (one per distinct view)",
          Read(stats.video_frames_encoded));
  counter("chorus_video_frames_forwarded_total",
          "Participants' frames sent as they came to a viewer who sees that participant alone",
          Read(stats.video_frames_forwarded));
  counter("chorus_video_encoders_started_total",
          "Video encoders started for new views (idle views with the same settings are reused)",
          Read(stats.video_encoders_started));
  counter("chorus_video_keyframe_requests_sent_total",
          "Keyframe requests (RTCP PLI) sent to participants",
          Read(stats.video_keyframe_requests_sent));
  counter("chorus_video_keyframe_requests_received_total",
          "Keyframe requests (RTCP PLI, FIR) received from participants",
          Read(stats.video_keyframe_requests_received));
  counter("chorus_video_nacks_sent_total",
          "RTCP generic NACKs sent to participants for gaps in the video they send",
          Read(stats.video_nacks_sent));
  counter("chorus_video_nacks_received_total", "RTCP generic NACKs received from participants",
          Read(stats.video_nacks_received));
  counter("chorus_video_retransmissions_total",
          "View packets resent from the history in answer to a NACK",
          Read(stats.video_retransmissions));
  counter("chorus_video_retransmissions_missed_total",
          "Packets asked for by a NACK that were no longer in the history",
          Read(stats.video_retransmissions_missed));
  {
    MetricFamily tiers =
        Family("chorus_video_tier_changes_total",
               "Viewers moved to a lower (down) or higher (up) bitrate tier of their "
               "view, following the REMB and loss reports of their link",
               MetricType::Counter);
    tiers.metric.push_back(
        Value(MetricType::Counter, Read(stats.video_tier_downs), {{"direction", "down"}}));
    tiers.metric.push_back(
        Value(MetricType::Counter, Read(stats.video_tier_ups), {{"direction", "up"}}));
    families.push_back(std::move(tiers));
  }
  engine::EngineStats& video_ticks = engine_->video_stats();
  counter("chorus_video_ticks_total",
          "Video frame periods run (25 per second while a session "
          "has video)",
          Read(video_ticks.ticks));
  counter("chorus_video_tick_overruns_total",
          "Video frame periods missed because the video worker fell behind (frames not served "
          "in time, dropped)",
          Read(video_ticks.tick_overruns));
  {
    MetricFamily encode = Family("chorus_video_encode_seconds", "Encoding one frame of a view",
                                 MetricType::Histogram);
    const char* codecs[] = {"vp8", "h264"};
    const char* tiers[] = {"360p", "720p", "1080p", "larger"};
    for (size_t i = 0; i < 8; ++i) {
      encode.metric.push_back(HistogramMetric(stats.video_encode_us[i], 1e-6,
                                              {{"codec", codecs[i / 4]}, {"size", tiers[i % 4]}}));
    }
    families.push_back(std::move(encode));
  }
  return families;
}

}  // namespace chorus::media_node
