#include "tools/loadgen/cli.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "tools/loadgen/load_generator.h"
#include "tools/loadgen/server_driver.h"
#include "tools/loadgen/talk_clip.h"
#include "tools/loadgen/video_clip.h"

ABSL_FLAG(std::string, target, "chorus", "chorus (gRPC public API) or janus (AudioBridge, HTTP)");
ABSL_FLAG(std::string, address, "127.0.0.1:7700", "chorus: gRPC API address host:port");
ABSL_FLAG(bool, insecure, false, "chorus: plaintext gRPC (a --dev server on loopback)");
ABSL_FLAG(std::string, token_file, "", "chorus: file whose first line is the API bearer token");
ABSL_FLAG(std::string, janus_url, "http://127.0.0.1:8088/janus", "janus: HTTP API URL");
ABSL_FLAG(std::string, transport, "srtp",
          "srtp (SDES keys in the join), rtp (plain RTP; Janus takes only rtp) or webrtc (chorus: "
          "an SDP offer, ICE, DTLS-SRTP on one socket per participant, like a browser)");
ABSL_FLAG(bool, webrtc_gcm, false,
          "webrtc: offer AEAD_AES_128_GCM before AES_CM_128_HMAC_SHA1_80 in DTLS, as browsers do "
          "(default: AES_CM_128_HMAC_SHA1_80 only, the suite of --transport=srtp)");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(10),
          "webrtc: the longest a participant may take from its join answer to a completed DTLS "
          "handshake");
ABSL_FLAG(bool, dtx, false,
          "Opus DTX while not talking: a silence frame every 400 ms instead of every 20 ms");
ABSL_FLAG(std::string, video, "",
          "chorus: also send VP8 camera video (25 fps) and receive a view of this size, e.g. "
          "1280x720 (empty: audio only)");
ABSL_FLAG(int32_t, video_kbps, 1500, "bit rate of the pre-encoded camera video, kbit/s");
ABSL_FLAG(absl::Duration, join_interval, absl::ZeroDuration(),
          "pause between one participant's join and the next (0: back to back)");
ABSL_FLAG(int32_t, rooms, 1, "rooms to create");
ABSL_FLAG(int32_t, room_size, 5, "participants per room");
ABSL_FLAG(int32_t, talkers, 0, "participants per room who take turns talking (0: all)");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(3), "sending before the measured window");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "the measured window");
ABSL_FLAG(std::vector<std::string>, local_ips, {"127.0.0.1"},
          "addresses the participants bind to, used in turn");
ABSL_FLAG(int32_t, port_min, 49000, "first local port of the participants");
ABSL_FLAG(int32_t, port_max, 49999, "last local port of the participants");
ABSL_FLAG(int32_t, sampled_per_room, 2, "receivers per room whose mix is decoded for delay");
ABSL_FLAG(int32_t, max_sampled, 64, "decoded receivers in all");
ABSL_FLAG(int32_t, talk_min_ms, 1000, "shortest talk spurt");
ABSL_FLAG(int32_t, talk_max_ms, 2500, "longest talk spurt");
ABSL_FLAG(int32_t, pause_min_ms, 700, "shortest pause between spurts");
ABSL_FLAG(int32_t, pause_max_ms, 1300, "longest pause between spurts");
ABSL_FLAG(int32_t, server_pid, 0, "the server's process id: CPU time and memory from /proc");
ABSL_FLAG(std::string, metrics_url, "", "chorus: the node's /metrics URL (http://ip:port/metrics)");
ABSL_FLAG(std::string, json, "", "also write the report as JSON to this file ('-': stdout)");
ABSL_FLAG(uint32_t, seed, 1, "seed of the talk pattern");
ABSL_FLAG(int32_t, bitrate, 32000, "Opus bitrate of the talk clip, bit/s");

namespace chorus::loadgen {
namespace {

constexpr char kUsage[] =
    "Load generator: simulated participants that talk in turns (pre-encoded Opus with RFC 6464\n"
    "levels) against a running server, measuring loss, jitter, talk-spurt onset to mix delay\n"
    "and the server's CPU per participant.\n"
    "\n"
    "  chorus-loadgen --insecure --address=127.0.0.1:7700 --rooms=20 --room_size=5 \\\n"
    "     --server_pid=PID --metrics_url=http://127.0.0.1:9464/metrics --json=out.json\n"
    "  chorus-loadgen --transport=webrtc ... (browser-like participants: SDP, ICE, DTLS-SRTP)\n"
    "  chorus-loadgen --target=janus --janus_url=http://127.0.0.1:8088/janus --transport=rtp ...\n";

int Usage(const std::string& message) {
  std::fprintf(stderr, "chorus-loadgen: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

}  // namespace

int RunLoadgen(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1)
    return Usage(absl::StrCat("unexpected argument '", positional[1], "'"));

  LoadConfig config;
  config.rooms = absl::GetFlag(FLAGS_rooms);
  config.room_size = absl::GetFlag(FLAGS_room_size);
  config.talkers = absl::GetFlag(FLAGS_talkers);
  config.dtx = absl::GetFlag(FLAGS_dtx);
  config.local_ips = absl::GetFlag(FLAGS_local_ips);
  config.port_min = absl::GetFlag(FLAGS_port_min);
  config.port_max = absl::GetFlag(FLAGS_port_max);
  config.sampled_per_room = absl::GetFlag(FLAGS_sampled_per_room);
  config.max_sampled = absl::GetFlag(FLAGS_max_sampled);
  config.pattern.talk_min_ms = absl::GetFlag(FLAGS_talk_min_ms);
  config.pattern.talk_max_ms = absl::GetFlag(FLAGS_talk_max_ms);
  config.pattern.pause_min_ms = absl::GetFlag(FLAGS_pause_min_ms);
  config.pattern.pause_max_ms = absl::GetFlag(FLAGS_pause_max_ms);
  config.server_pid = absl::GetFlag(FLAGS_server_pid);
  config.metrics_url = absl::GetFlag(FLAGS_metrics_url);
  config.seed = absl::GetFlag(FLAGS_seed);
  const std::string transport = absl::GetFlag(FLAGS_transport);
  const std::string target = absl::GetFlag(FLAGS_target);
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);

  if (transport == "srtp") {
    config.transport = Transport::kSrtp;
  } else if (transport == "rtp") {
    config.transport = Transport::kRtp;
  } else if (transport == "webrtc") {
    config.transport = Transport::kWebRtc;
  } else {
    return Usage("--transport: srtp, rtp or webrtc");
  }
  config.webrtc_gcm = absl::GetFlag(FLAGS_webrtc_gcm);
  if (target != "chorus" && target != "janus") return Usage("--target: chorus or janus");
  if (target == "janus" && config.transport != Transport::kRtp) {
    return Usage("--target=janus joins plain RTP participants: give --transport=rtp");
  }
  const absl::Duration connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
  if (connect_timeout < absl::Milliseconds(100) || connect_timeout > absl::Minutes(10)) {
    return Usage("--connect_timeout: 100ms to 10m");
  }
  config.connect_timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(connect_timeout));
  const absl::Duration join_interval = absl::GetFlag(FLAGS_join_interval);
  if (join_interval < absl::ZeroDuration() || join_interval > absl::Minutes(1)) {
    return Usage("--join_interval: 0 to 1m");
  }
  config.join_interval_ms = static_cast<int>(absl::ToInt64Milliseconds(join_interval));
  if (config.rooms < 1 || config.rooms > 10000) return Usage("--rooms: 1 to 10000");
  if (config.room_size < 2 || config.room_size > 1000) return Usage("--room_size: 2 to 1000");
  if (config.talkers < 0) return Usage("--talkers must not be negative");
  if (config.port_min < 1 || config.port_max > 65535 || config.port_min > config.port_max) {
    return Usage("--port_min/--port_max: a range within 1..65535");
  }
  if (config.local_ips.empty()) return Usage("--local_ips: at least one address");
  if (config.sampled_per_room < 0 || config.max_sampled < 0) {
    return Usage("--sampled_per_room and --max_sampled must not be negative");
  }
  for (int value : {config.pattern.talk_min_ms, config.pattern.talk_max_ms,
                    config.pattern.pause_min_ms, config.pattern.pause_max_ms}) {
    if (value < 20 || value > 600000) return Usage("talk and pause lengths: 20 ms to 10 min");
  }
  if (warmup < absl::ZeroDuration() || warmup > absl::Hours(1)) return Usage("--warmup: 0 to 1h");
  if (duration < absl::Seconds(1) || duration > absl::Hours(24)) {
    return Usage("--duration: 1s to 24h");
  }
  config.warmup_ms = static_cast<int>(absl::ToInt64Milliseconds(warmup));
  config.duration_ms = static_cast<int>(absl::ToInt64Milliseconds(duration));
  const int bitrate = absl::GetFlag(FLAGS_bitrate);
  if (bitrate < 6000 || bitrate > 510000) return Usage("--bitrate: 6000 to 510000");

  std::optional<VideoClip> video_clip;
  if (const std::string video = absl::GetFlag(FLAGS_video); !video.empty()) {
    const size_t x = video.find('x');
    if (x == std::string::npos || !absl::SimpleAtoi(video.substr(0, x), &config.video_width) ||
        !absl::SimpleAtoi(video.substr(x + 1), &config.video_height) || config.video_width < 16 ||
        config.video_height < 16 || config.video_width > 1920 || config.video_height > 1080 ||
        config.video_width % 2 != 0 || config.video_height % 2 != 0) {
      return Usage("--video: WIDTHxHEIGHT, even, 16x16 to 1920x1080");
    }
    if (target != "chorus") return Usage("--video: Janus AudioBridge carries audio only");
    if (config.transport == Transport::kWebRtc) {
      return Usage("--video: WebRTC participants send audio only");
    }
    const int kbps = absl::GetFlag(FLAGS_video_kbps);
    if (kbps < 50 || kbps > 20000) return Usage("--video_kbps: 50 to 20000");
    auto clip = VideoClip::Create(config.video_width, config.video_height, 50, kbps * 1000);
    if (!clip.ok()) {
      std::fprintf(stderr, "chorus-loadgen: %s\n", std::string(clip.status().message()).c_str());
      return 1;
    }
    video_clip = *std::move(clip);
  }

  std::unique_ptr<ServerDriver> driver;
  if (target == "chorus") {
    ChorusDriverConfig chorus;
    chorus.address = absl::GetFlag(FLAGS_address);
    chorus.insecure_grpc = absl::GetFlag(FLAGS_insecure);
    chorus.srtp = config.transport != Transport::kRtp;
    if (const std::string path = absl::GetFlag(FLAGS_token_file); !path.empty()) {
      std::ifstream in(path);
      if (!in) return Usage(absl::StrCat("--token_file: cannot read '", path, "'"));
      std::string line;
      std::getline(in, line);
      chorus.token = std::string(absl::StripAsciiWhitespace(line));
    } else if (const char* env = std::getenv("CHORUS_TOKEN"); env != nullptr) {
      chorus.token = std::string(absl::StripAsciiWhitespace(env));
    }
    driver = NewChorusDriver(chorus);
  } else {
    JanusDriverConfig janus;
    janus.url = absl::GetFlag(FLAGS_janus_url);
    driver = NewJanusDriver(janus);
  }

  auto clip = TalkClip::Create(4000, bitrate);
  if (!clip.ok()) {
    std::fprintf(stderr, "chorus-loadgen: %s\n", std::string(clip.status().message()).c_str());
    return 1;
  }
  auto report = RunLoad(config, *driver, *clip, video_clip ? &*video_clip : nullptr);
  if (!report.ok()) {
    std::fprintf(stderr, "chorus-loadgen: %s\n", report.status().ToString().c_str());
    return 1;
  }
  std::printf("%s", ReportTable(*report).c_str());
  const std::string json_path = absl::GetFlag(FLAGS_json);
  const std::string json = ReportJson(*report);
  if (json_path == "-") {
    std::printf("%s\n", json.c_str());
  } else if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << json << "\n";
    if (!out) {
      std::fprintf(stderr, "chorus-loadgen: cannot write '%s'\n", json_path.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace chorus::loadgen
