// One 20 ms tick of a real session, whole path: the talkers' pre-encoded Opus packets go over
// loopback UDP as SRTP, are received, authenticated and decrypted, parsed, buffered, decoded,
// mixed (speaker selection, mix-minus, limiter), encoded once per distinct mix, packetized,
// protected and sent to every participant. Silent participants send nothing (Opus DTX), as
// browsers and room systems do.
//
// Reported: CPU time per tick, participants served per second, and
// participants_per_core_at_80pct = N x (0.8 x 20 ms) / (CPU time of one tick).
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "pipeline/audio/mixer.h"
#include "pipeline/codec/audio_encoder.h"
#include "pipeline/engine/session.h"
#include "pipeline/net/port_allocator.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/srtp/srtp_session.h"

namespace chorus::engine {
namespace {

int64_t NowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

struct Talker {
  std::unique_ptr<srtp::SrtpSession> outbound;
  std::unique_ptr<net::UdpSocket> socket;
  net::SocketAddress target;
  std::vector<std::vector<uint8_t>> packets;  // pre-encoded Opus, 1 s
  std::vector<uint8_t> levels;                // RFC 6464 level of each packet (-dBov)
  uint8_t level_id = 0;                       // the audio level extension's id; 0 = none
  uint16_t sequence = 1;
  uint32_t timestamp = 0;
  size_t next = 0;

  void Send() {
    uint8_t buffer[1500];
    rtp::RtpHeader header;
    header.payload_type = 111;
    header.sequence_number = sequence++;
    header.timestamp = timestamp;
    timestamp += 960;
    header.ssrc = 77;
    const size_t index = next++ % packets.size();
    const auto& payload = packets[index];
    header.audio_level_id = level_id;
    header.audio_level = levels[index];
    header.voice_activity = true;
    size_t length = rtp::BuildRtp(header, payload, std::span<uint8_t>(buffer, 1400));
    size_t out = 0;
    outbound->ProtectRtp(std::span<uint8_t>(buffer, sizeof(buffer)), length, &out);
    socket->Send(std::span<const uint8_t>(buffer, out), target);
  }
};

// One second of a voice-like tone (pre-encoded Opus) and each packet's level.
void Voice(double hz, Talker& talker) {
  auto encoder = *codec::AudioEncoder::Create({});
  std::vector<std::vector<uint8_t>>& packets = talker.packets;
  std::vector<int16_t> pcm(960);
  std::vector<uint8_t> out(1500);
  for (int f = 0; f < 60; ++f) {
    for (int i = 0; i < 960; ++i) {
      double t = (f * 960 + i) / 48000.0;
      pcm[i] = static_cast<int16_t>(7000 * std::sin(2 * 3.14159 * hz * t) *
                                    (0.6 + 0.4 * std::sin(2 * 3.14159 * 3 * t)));
    }
    int size = encoder->Encode(pcm, out);
    if (size > 0 && f >= 10) {
      packets.emplace_back(out.begin(), out.begin() + size);
      talker.levels.push_back(audio::MeasureLevel(pcm));
    }
  }
}

// Runs ticks of a session of `participants` endpoints, the first `talkers` of them talking, each
// endpoint routed by `routing_of(index)`.
// With `levels`, every packet carries its RFC 6464 audio level, as browsers send it.
template <typename RoutingOf>
void RunSession(benchmark::State& state, int participants, int talkers, srtp::SrtpSuite suite,
                const SessionConfig& session_config, RoutingOf routing_of, bool levels = false) {
  state.SetLabel(std::string(srtp::SuiteName(suite)));
  EngineStats stats;
  auto worker = *MediaWorker::Create(0, &stats, /*start_thread=*/false);
  net::PortAllocator ports("127.0.0.1", 45000, 46999);
  auto session = *Session::Create(session_config, worker.get(), &stats, participants);
  auto sink = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
  std::vector<Talker> voices(static_cast<size_t>(talkers));
  for (int i = 0; i < participants; ++i) {
    srtp::SrtpKeyMaterial key = srtp::SrtpKeyMaterial::Generate(suite);
    EndpointConfig config;
    config.suite = suite;
    char id[32];
    std::snprintf(id, sizeof(id), "p%d", i);
    config.id = id;
    config.remote_key_base64 = key.ToBase64();
    config.remote = sink->local_address();
    config.routing = routing_of(i);
    if (levels) config.audio_level_extension_id = 1;
    auto socket = ports.Allocate();
    if (!socket.ok()) {
      state.SkipWithError("not enough loopback ports");
      return;
    }
    auto answer = session->AddEndpoint(config, *std::move(socket));
    if (!answer.ok()) {
      state.SkipWithError("cannot add an endpoint");
      return;
    }
    if (i < talkers) {
      Talker& talker = voices[static_cast<size_t>(i)];
      talker.outbound = *srtp::SrtpSession::Create(key, srtp::Direction::kOutbound);
      talker.socket = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
      talker.target = answer->local;
      Voice(180.0 + 90 * (i % 8), talker);
      if (levels) talker.level_id = 1;
    }
  }
  auto tick = [&] {
    for (auto& talker : voices) talker.Send();
    for (int i = 0; i < talkers; ++i) session->endpoint(static_cast<size_t>(i)).OnReadable();
    session->OnTick(NowUs());
  };
  for (int i = 0; i < 10; ++i) tick();  // jitter buffers started, encoders warm
  const uint64_t encodes_before = stats.encodes.load();
  for (auto _ : state) tick();
  state.SetItemsProcessed(state.iterations() * participants);
  state.counters["participants_per_core_at_80pct"] =
      benchmark::Counter(participants * 0.8 * 0.020, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["encodes_per_tick"] =
      static_cast<double>(stats.encodes.load() - encodes_before) /
      static_cast<double>(std::max<int64_t>(1, state.iterations()));
  // Drain what the session sent so the sink's buffer does not fill.
  uint8_t drain[1500];
  net::SocketAddress from;
  while (sink->Receive(drain, &from) >= 0) {
  }
}

// Arguments: participants, talkers, SRTP suite (0 AES_CM_128_HMAC_SHA1_80, 2 AEAD_AES_128_GCM).
// Everyone on the floor.
void BM_SessionTick(benchmark::State& state) {
  RunSession(state, static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
             static_cast<srtp::SrtpSuite>(state.range(2)), SessionConfig{},
             [](int) { return Routing{}; });
}

// Everyone talking at once with RFC 6464 levels on their packets (arguments: participants,
// talkers): the mixer hears at most 3 of them, and the levels tell which before anything is
// decoded.
void BM_SessionTickWithLevels(benchmark::State& state) {
  RunSession(
      state, static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
      srtp::SrtpSuite::kAesCm128HmacSha1_80, SessionConfig{}, [](int) { return Routing{}; },
      /*levels=*/true);
}
BENCHMARK(BM_SessionTickWithLevels)
    ->Args({5, 5})
    ->Args({30, 30})
    ->Args({200, 200})
    ->ArgNames({"participants", "talkers"})
    ->Unit(benchmark::kMicrosecond);

// Interpretation (issue: Interpreter bridging): a session with three language channels (ar, tr,
// uk). Talking: the floor speaker and one interpreter into each channel (listening to the
// floor); the fourth interpreter is the Arabic booth's standby partner (not heard, hearing the
// floor and the channel); everyone else listens, in turn, to the floor, ar, tr and uk with the
// floor ducked under the channel. Expect one encode per distinct mix, not per listener.
void BM_InterpretedSessionTick(benchmark::State& state) {
  SessionConfig config;
  config.languages = {"ar", "tr", "uk"};
  RunSession(state, static_cast<int>(state.range(0)), /*talkers=*/4,
             srtp::SrtpSuite::kAesCm128HmacSha1_80, config, [](int i) {
               Routing routing;
               if (i >= 1 && i <= 3) {
                 routing.speak_bus = i;  // interpreter into channel i
               } else if (i == 4) {
                 routing.speak_bus = 1;  // the ar booth's standby
                 routing.muted = true;
                 routing.listen_bus = 1;
                 routing.floor_gain = 1.0f;
               } else if (i > 4) {
                 routing.listen_bus = i % 4;
                 routing.floor_gain = 0.18f;  // -15 dB
               }
               return routing;
             });
}
BENCHMARK(BM_InterpretedSessionTick)
    ->Arg(50)
    ->ArgNames({"participants"})
    ->Unit(benchmark::kMicrosecond);

BENCHMARK(BM_SessionTick)
    ->Args({3, 3, 0})
    ->Args({5, 3, 0})
    ->Args({5, 5, 0})
    ->Args({10, 3, 0})
    ->Args({50, 3, 0})
    ->Args({200, 3, 0})
    ->Args({1000, 3, 0})
    ->Args({5, 5, 2})
    ->Args({1000, 3, 2})
    ->ArgNames({"participants", "talkers", "suite"})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace chorus::engine
