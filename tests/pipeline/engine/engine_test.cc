#include "pipeline/engine/engine.h"

#include <time.h>
#include <unistd.h>

// GCC 12 reports a false -Wrestrict in std::string assignments at -O3 (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/codec/audio_decoder.h"
#include "pipeline/codec/audio_encoder.h"
#include "pipeline/engine/session.h"
#include "pipeline/net/port_allocator.h"
#include "pipeline/net/udp_socket.h"
#include "pipeline/rtp/audio_level.h"
#include "pipeline/rtp/rtcp.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/srtp/srtp_session.h"
#include "tests/support/allocation_counter.h"
#include "tests/support/tone.h"

namespace chorus::engine {
namespace {

using chorus::testing::ToneDbfs;

constexpr double kPi = 3.14159265358979323846;

int64_t NowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

// One simulated participant: its key, a pre-encoded Opus frame, and a socket to send from.
struct Participant {
  srtp::SrtpKeyMaterial key =
      srtp::SrtpKeyMaterial::Generate(srtp::SrtpSuite::kAesCm128HmacSha1_80);
  std::unique_ptr<srtp::SrtpSession> outbound;
  std::vector<uint8_t> opus;
  std::unique_ptr<net::UdpSocket> socket;
  net::SocketAddress target;
  uint16_t sequence = 100;
  uint32_t timestamp = 1000;
  uint32_t ssrc = 0x1234;
  uint8_t level_id = 0;  // RFC 6464 extension id on the packets sent; 0 = none
  uint8_t level = 127;

  // Sends the next packet (no allocation: stack buffer, in-place SRTP).
  void Send() {
    uint8_t buffer[1500];
    rtp::RtpHeader header;
    header.payload_type = 111;
    header.sequence_number = sequence++;
    header.timestamp = timestamp;
    timestamp += 960;
    header.ssrc = ssrc;
    header.audio_level_id = level_id;
    header.audio_level = level;
    header.voice_activity = true;
    size_t length = rtp::BuildRtp(header, opus, std::span<uint8_t>(buffer, 1400));
    size_t protected_length = 0;
    ASSERT_EQ(
        outbound->ProtectRtp(std::span<uint8_t>(buffer, sizeof(buffer)), length, &protected_length),
        srtp::SrtpResult::kOk);
    socket->Send(std::span<const uint8_t>(buffer, protected_length), target);
  }

  // Sends an RTCP receiver report (RR + SDES CNAME, SRTCP) saying that `fraction_lost` (of 256)
  // of the stream `media_ssrc` it is sent was lost since its previous report.
  void SendReceiverReport(uint32_t media_ssrc, uint8_t fraction_lost) {
    uint8_t buffer[1500];
    rtp::ReportBlock block;
    block.ssrc = media_ssrc;
    block.fraction_lost = fraction_lost;
    const uint8_t cname[] = {'t', 'e', 's', 't'};
    size_t length = rtp::BuildRr(ssrc, std::span<const rtp::ReportBlock>(&block, 1),
                                 std::span<uint8_t>(buffer, 1400));
    ASSERT_GT(length, 0u);
    length += rtp::BuildSdesCname(ssrc, cname, std::span<uint8_t>(buffer + length, 1400 - length));
    size_t protected_length = 0;
    ASSERT_EQ(outbound->ProtectRtcp(std::span<uint8_t>(buffer, sizeof(buffer)), length,
                                    &protected_length),
              srtp::SrtpResult::kOk);
    socket->Send(std::span<const uint8_t>(buffer, protected_length), target);
  }
};

std::vector<uint8_t> EncodeTone(double hz, double amplitude) {
  auto encoder = *codec::AudioEncoder::Create({});
  std::vector<int16_t> samples(960);
  std::vector<uint8_t> payload(1500);
  int size = 0;
  for (int frame = 0; frame < 5 || size <= 0; ++frame) {
    for (int i = 0; i < 960; ++i) {
      samples[i] =
          static_cast<int16_t>(amplitude * std::sin(2 * kPi * hz * (frame * 960 + i) / 48000));
    }
    size = encoder->Encode(samples, payload);
  }
  payload.resize(static_cast<size_t>(size));
  return payload;
}

// Every packet waiting on `sink`, unprotected with `inbound` and parsed, handed to `take` (the
// view is valid during the call). A packet that does not unprotect or parse fails the test.
template <typename Take>
void ForEachPacket(net::UdpSocket& sink, srtp::SrtpSession& inbound, Take take) {
  std::array<uint8_t, 1600> buffer;
  net::SocketAddress from;
  int length = 0;
  while ((length = sink.Receive(buffer, &from)) > 0) {
    size_t clear = 0;
    ASSERT_EQ(inbound.UnprotectRtp(buffer, static_cast<size_t>(length), &clear),
              srtp::SrtpResult::kOk);
    rtp::RtpPacketView packet;
    ASSERT_EQ(rtp::ParseRtp(std::span<const uint8_t>(buffer.data(), clear), &packet),
              rtp::RtpParseResult::kOk);
    take(packet);
  }
}

// A listener receiving on `sink`: its endpoint's answer, and the SRTP session that unprotects
// what it is sent.
struct Listener {
  EndpointAnswer answer;
  std::unique_ptr<srtp::SrtpSession> inbound;
};
Listener AddListener(Session& session, net::PortAllocator& ports, const net::UdpSocket& sink) {
  EndpointConfig config;
  config.id = "listener";
  config.remote_key_base64 =
      srtp::SrtpKeyMaterial::Generate(srtp::SrtpSuite::kAesCm128HmacSha1_80).ToBase64();
  config.remote = sink.local_address();
  Listener listener;
  listener.answer = *session.AddEndpoint(config, *ports.Allocate());
  auto key =
      *srtp::SrtpKeyMaterial::FromBase64(listener.answer.suite, listener.answer.local_key_base64);
  listener.inbound = *srtp::SrtpSession::Create(key, srtp::Direction::kInbound);
  return listener;
}

// The engine's hot path, for real: 16 participants send SRTP Opus packets that are received,
// unprotected, buffered, decoded, mixed (4 speakers), encoded and sent back, protected, 1000
// ticks in a row. Half of them put their RFC 6464 level on their packets, so frames are held,
// and decoded or skipped after speaker selection, too. Not one heap allocation through operator
// new (libavcodec's own packet buffers come from av_malloc and are not counted here).
TEST(SessionTest, ATickOfSixteenParticipantsAllocatesNothing) {
  EngineStats stats;
  auto worker = *MediaWorker::Create(0, &stats);
  net::PortAllocator ports("127.0.0.1", 42100, 42199);
  std::unique_ptr<Session> session;
  std::vector<Participant> participants(16);
  auto sink = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
  ASSERT_TRUE(worker
                  ->Call([&] {
                    session = *Session::Create({}, worker.get(), &stats, 32);
                    for (size_t i = 0; i < participants.size(); ++i) {
                      Participant& p = participants[i];
                      p.outbound = *srtp::SrtpSession::Create(p.key, srtp::Direction::kOutbound);
                      p.opus = EncodeTone(200.0 + 60 * i, i < 4 ? 8000 : 20);
                      p.socket = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
                      p.level_id = i % 2 == 1 ? 1 : 0;
                      p.level = i < 4 ? 20 : 90;
                      EndpointConfig config;
                      config.audio_level_extension_id = p.level_id;
                      char id[32];
                      std::snprintf(id, sizeof(id), "p%zu", i);
                      config.id = id;
                      config.remote_key_base64 = p.key.ToBase64();
                      config.remote = sink->local_address();
                      auto answer = session->AddEndpoint(config, *ports.Allocate());
                      ASSERT_TRUE(answer.ok()) << answer.status();
                      p.target = answer->local;
                    }
                  })
                  .ok());
  int allocations = -1;
  uint64_t sent_before = stats.rtp_packets_out.load();
  ASSERT_TRUE(worker
                  ->Call([&] {
                    // Warm up: the jitter buffers start and every encoder has run once.
                    for (int tick = 0; tick < 20; ++tick) {
                      for (auto& p : participants) p.Send();
                      for (int i = 0; i < 16; ++i) session->endpoint(i).OnReadable();
                      session->OnTick(NowUs());
                    }
                    chorus::testing::ScopedAllocationCounter counter;
                    for (int tick = 0; tick < 1000; ++tick) {
                      for (auto& p : participants) p.Send();
                      for (int i = 0; i < 16; ++i) session->endpoint(i).OnReadable();
                      session->OnTick(NowUs());
                    }
                    allocations = counter.count();
                  })
                  .ok());
  EXPECT_EQ(allocations, 0);
  // The six quiet participants with levels were never decoded.
  EXPECT_GE(stats.decodes_skipped.load(), 6u * 1000u);
  // Every participant was sent a packet every tick.
  EXPECT_GE(stats.rtp_packets_out.load() - sent_before, 16u * 1000u);
  EXPECT_EQ(stats.drops[static_cast<size_t>(DropReason::kSrtpAuth)].load(), 0u);
  // Four loud talkers, K = 3: three speakers get their own mix-minus; the thirteen others share
  // one mix and one encoder.
  SessionStatsSnapshot snapshot;
  ASSERT_TRUE(worker->Call([&] { snapshot = session->Stats(); }).ok());
  EXPECT_EQ(snapshot.audio_encoders, 1 + 3);
  ASSERT_TRUE(worker->Call([&] { session.reset(); }).ok());
}

// What Chorus sends carries the mix's level (RFC 6464), its speakers as CSRCs, and their levels
// (RFC 6465) when the endpoint negotiated the extensions, protected with the key of the answer.
TEST(SessionTest, SentPacketsCarryTheMixLevel) {
  EngineStats stats;
  auto worker = *MediaWorker::Create(0, &stats, /*start_thread=*/false);
  net::PortAllocator ports("127.0.0.1", 42300, 42309);
  auto session = *Session::Create({}, worker.get(), &stats, 4);
  auto sink = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
  Participant talker;
  talker.outbound = *srtp::SrtpSession::Create(talker.key, srtp::Direction::kOutbound);
  talker.opus = EncodeTone(500, 8000);
  talker.socket = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
  EndpointConfig config;
  config.id = "talker";
  config.remote_key_base64 = talker.key.ToBase64();
  config.remote = *net::SocketAddress::FromIp("127.0.0.1", 9);
  talker.target = session->AddEndpoint(config, *ports.Allocate())->local;
  config.id = "listener";
  config.remote = sink->local_address();
  config.audio_level_extension_id = 3;
  config.csrc_audio_level_extension_id = 4;
  auto answer = *session->AddEndpoint(config, *ports.Allocate());
  auto chorus_key = *srtp::SrtpKeyMaterial::FromBase64(answer.suite, answer.local_key_base64);
  auto inbound = *srtp::SrtpSession::Create(chorus_key, srtp::Direction::kInbound);
  // Long enough for the jitter buffer to start and the talker to be selected as a speaker.
  for (int tick = 0; tick < 40; ++tick) {
    talker.Send();
    session->endpoint(0).OnReadable();
    session->OnTick(NowUs());
  }
  bool heard = false;
  ASSERT_NO_FATAL_FAILURE(ForEachPacket(*sink, *inbound, [&](const rtp::RtpPacketView& packet) {
    EXPECT_EQ(packet.ssrc, answer.ssrc);
    bool voice = false;
    uint8_t level = 127;
    ASSERT_TRUE(rtp::ParseAudioLevel(packet.FindExtension(3), &voice, &level));
    if (voice && level < 30) {  // a -12 dBFS tone is about 15 dB below full scale
      heard = true;
      // RFC 3550/6465: the talker is listed as a contributing source, with its level.
      ASSERT_EQ(packet.csrc_count, 1);
      EXPECT_EQ(packet.csrc(0), 0x1234u);
      std::array<uint8_t, 15> levels{};
      ASSERT_EQ(rtp::ParseCsrcAudioLevels(packet.FindExtension(4), levels), 1u);
      EXPECT_LT(levels[0], 30);
    }
  }));
  EXPECT_TRUE(heard);
}

// A telephone caller typing the room's PIN (keypad mode, not admitted): it hears the prompt
// (speech, not silence) and nothing of the room; its RFC 4733 key presses are kept once each,
// whatever the repeats of a press's end, and a press silences the prompt. Outside keypad mode
// key presses are ignored.
TEST(SessionTest, AKeypadCallerHearsItsPromptAndItsKeyPressesAreKept) {
  EngineStats stats;
  auto worker = *MediaWorker::Create(0, &stats, /*start_thread=*/false);
  net::PortAllocator ports("127.0.0.1", 42950, 42959);
  auto session = *Session::Create({}, worker.get(), &stats, 4);
  auto sink = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
  // A talker in the room, whom the caller must not hear.
  Participant talker;
  talker.outbound = *srtp::SrtpSession::Create(talker.key, srtp::Direction::kOutbound);
  talker.opus = EncodeTone(500, 8000);
  talker.socket = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
  EndpointConfig config;
  config.id = "talker";
  config.remote_key_base64 = talker.key.ToBase64();
  config.remote = *net::SocketAddress::FromIp("127.0.0.1", 9);
  talker.target = session->AddEndpoint(config, *ports.Allocate())->local;
  Participant caller;
  caller.outbound = *srtp::SrtpSession::Create(caller.key, srtp::Direction::kOutbound);
  caller.socket = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
  config.id = "caller";
  config.remote_key_base64 = caller.key.ToBase64();
  config.remote = sink->local_address();
  config.telephone_event_pt = 101;
  config.routing.admitted = false;
  config.routing.keypad = true;
  config.routing.prompt = "enter_pin";
  config.routing.prompt_language = "de";
  auto answer = *session->AddEndpoint(config, *ports.Allocate());
  caller.target = answer.local;
  auto key = *srtp::SrtpKeyMaterial::FromBase64(answer.suite, answer.local_key_base64);
  auto inbound = *srtp::SrtpSession::Create(key, srtp::Direction::kInbound);
  auto decoder = *codec::AudioDecoder::Create(codec::AudioCodec::kOpus);
  // A key press as RFC 4733 sends it: packets of one timestamp, the end three times.
  auto press = [&](uint8_t event, uint32_t timestamp) {
    for (int i = 0; i < 5; ++i) {
      const bool end = i >= 2;
      const uint8_t payload[4] = {event, static_cast<uint8_t>((end ? 0x80 : 0) | 10), 0,
                                  static_cast<uint8_t>(160 * (i + 1))};
      uint8_t buffer[1500];
      rtp::RtpHeader header;
      header.payload_type = 101;
      header.sequence_number = caller.sequence++;
      header.timestamp = timestamp;
      header.ssrc = 0x5678;
      size_t length = rtp::BuildRtp(header, payload, std::span<uint8_t>(buffer, 1400));
      size_t protected_length = 0;
      ASSERT_EQ(caller.outbound->ProtectRtp(std::span<uint8_t>(buffer, sizeof(buffer)), length,
                                            &protected_length),
                srtp::SrtpResult::kOk);
      caller.socket->Send(std::span<const uint8_t>(buffer, protected_length), caller.target);
    }
    session->endpoint(1).OnReadable();
  };
  // 1 s of the prompt while the talker talks: what the caller is sent decodes to speech
  // (energy), and never to the talker's 500 Hz.
  std::vector<int16_t> heard;
  auto listen = [&](int ticks) {
    heard.clear();
    for (int tick = 0; tick < ticks; ++tick) {
      talker.Send();
      session->endpoint(0).OnReadable();
      session->OnTick(NowUs());
      ASSERT_NO_FATAL_FAILURE(ForEachPacket(*sink, *inbound, [&](const rtp::RtpPacketView& p) {
        std::array<int16_t, 960> pcm{};
        if (decoder->Decode(p.payload, pcm) == codec::DecodeResult::kOk) {
          heard.insert(heard.end(), pcm.begin(), pcm.end());
        }
      }));
    }
  };
  ASSERT_NO_FATAL_FAILURE(listen(50));
  ASSERT_GE(heard.size(), 40u * 960u);
  double energy = 0;
  for (int16_t s : heard) energy += static_cast<double>(s) * s;
  const double rms_db = 10 * std::log10(energy / heard.size() / (32768.0 * 32768.0));
  EXPECT_GT(rms_db, -40) << "the prompt is not heard";
  EXPECT_LT(ToneDbfs(heard, 500), -50) << "the room reaches a caller typing its PIN";
  // Keys: 4, 2, #, each one press; then a press of the same key again (a new timestamp).
  press(4, 1000);
  press(2, 2600);
  press(11, 4200);
  press(11, 5800);
  SessionStatsSnapshot snapshot = session->Stats();
  ASSERT_EQ(snapshot.endpoints.size(), 2u);
  EXPECT_EQ(snapshot.endpoints[1].keypad_digits, "42##");
  EXPECT_EQ(snapshot.endpoints[1].keypad_presses, 4u);
  // A key press silences the prompt (the caller is typing): after the encoder's and decoder's
  // first frames, silence.
  ASSERT_NO_FATAL_FAILURE(listen(25));
  ASSERT_GE(heard.size(), 20u * 960u);
  energy = 0;
  for (size_t i = 5 * 960; i < heard.size(); ++i)
    energy += static_cast<double>(heard[i]) * heard[i];
  EXPECT_LT(10 * std::log10(energy / (heard.size() - 5 * 960) / (32768.0 * 32768.0) + 1e-12), -60);
  // Admitted (the PIN was right), key presses mean nothing.
  Routing admitted;
  ASSERT_TRUE(session->UpdateRouting("caller", admitted).ok());
  press(7, 7400);
  EXPECT_EQ(session->Stats().endpoints[1].keypad_digits, "42##");
}

// A listener who hears one voice alone is sent that voice's packets as they came (issue:
// forwarding): the payload untouched, in its own stream (SSRC, sequence numbers, timestamps
// continuous), with the talker as CSRC; no encode for it. A second voice makes it a mix again
// (encoded) from the next tick, and when that voice leaves the packets are forwarded again.
TEST(SessionTest, OneVoiceHeardAloneIsForwardedAndTwoAreMixed) {
  EngineStats stats;
  auto worker = *MediaWorker::Create(0, &stats, /*start_thread=*/false);
  net::PortAllocator ports("127.0.0.1", 42330, 42339);
  auto session = *Session::Create({}, worker.get(), &stats, 4);
  auto sink = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
  auto join = [&](Participant& p, const char* id, double hz, uint32_t ssrc) {
    p.outbound = *srtp::SrtpSession::Create(p.key, srtp::Direction::kOutbound);
    p.opus = EncodeTone(hz, 8000);
    p.socket = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
    p.ssrc = ssrc;
    EndpointConfig config;
    config.id = id;
    config.remote_key_base64 = p.key.ToBase64();
    config.remote = *net::SocketAddress::FromIp("127.0.0.1", 9);
    p.target = session->AddEndpoint(config, *ports.Allocate())->local;
  };
  Participant talker;
  join(talker, "talker", 500, 0x1234);
  auto [answer, inbound] = AddListener(*session, ports, *sink);
  Participant second;
  auto tick = [&](int ticks, bool both) {
    for (int t = 0; t < ticks; ++t) {
      talker.Send();
      if (both) second.Send();
      for (int i = 0; i < session->endpoint_count(); ++i) {
        session->endpoint(static_cast<size_t>(i)).OnReadable();
      }
      session->OnTick(NowUs());
    }
  };
  // What the listener got since the last look: packets that are the talker's payload as it
  // came, packets that are not, and whether sequence numbers and timestamps ran on.
  struct Seen {
    int forwarded = 0;
    int other = 0;
    bool continuous = true;
  };
  std::optional<uint16_t> last_sequence;
  std::optional<uint32_t> last_timestamp;
  auto look = [&] {
    Seen seen;
    EXPECT_NO_FATAL_FAILURE(ForEachPacket(*sink, *inbound, [&](const rtp::RtpPacketView& p) {
      EXPECT_EQ(p.ssrc, answer.ssrc);
      if (last_sequence && (p.sequence_number != static_cast<uint16_t>(*last_sequence + 1) ||
                            p.timestamp != *last_timestamp + 960)) {
        seen.continuous = false;
      }
      last_sequence = p.sequence_number;
      last_timestamp = p.timestamp;
      const bool same =
          std::equal(p.payload.begin(), p.payload.end(), talker.opus.begin(), talker.opus.end());
      if (same) {
        ++seen.forwarded;
        EXPECT_EQ(p.csrc_count, 1);
        if (p.csrc_count == 1) {
          EXPECT_EQ(p.csrc(0), 0x1234u);
        }
      } else {
        ++seen.other;
      }
    }));
    return seen;
  };
  tick(40, false);  // the jitter buffer starts; the talker is selected
  (void)look();
  const uint64_t encodes_before = stats.encodes.load();
  tick(20, false);
  Seen alone = look();
  EXPECT_EQ(alone.forwarded, 20) << "other packets: " << alone.other;
  EXPECT_TRUE(alone.continuous);
  EXPECT_GE(stats.audio_forwarded.load(), 20u);
  // The talker itself hears nobody: that (silent) output is the only one encoded.
  EXPECT_LE(stats.encodes.load() - encodes_before, 20u);

  join(second, "second", 700, 0x5678);
  tick(40, true);  // the second voice is buffered and selected: a mix from then on
  (void)look();
  const uint64_t forwarded_before = stats.audio_forwarded.load();
  tick(20, true);
  Seen mixed = look();
  EXPECT_EQ(mixed.forwarded, 0);
  EXPECT_EQ(mixed.other, 20);
  EXPECT_TRUE(mixed.continuous);
  // The two talkers each hear the other alone: forwarded to them; the listener's mix is not.
  EXPECT_EQ(stats.audio_forwarded.load() - forwarded_before, 40u);

  ASSERT_TRUE(session->RemoveEndpoint("second").ok());
  tick(20, false);
  Seen again = look();
  EXPECT_GE(again.forwarded, 19) << "other packets: " << again.other;
  EXPECT_TRUE(again.continuous);
}

// Joins `p` as `id`: a tone at `hz`, its RFC 6464 level (12, id 1) on every packet.
void JoinWithLevel(Session& session, net::PortAllocator& ports, Participant& p, const char* id,
                   double hz, uint32_t ssrc) {
  p.outbound = *srtp::SrtpSession::Create(p.key, srtp::Direction::kOutbound);
  p.opus = EncodeTone(hz, 6000);
  p.socket = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
  p.ssrc = ssrc;
  p.level_id = 1;
  p.level = 12;
  EndpointConfig config;
  config.id = id;
  config.remote_key_base64 = p.key.ToBase64();
  config.remote = *net::SocketAddress::FromIp("127.0.0.1", 9);
  config.audio_level_extension_id = 1;
  p.target = session.AddEndpoint(config, *ports.Allocate())->local;
}

// A two-party room whose talker puts its RFC 6464 level on its packets: the talker's voice is
// forwarded to the other and not decoded at all (its frames are skipped). A third participant
// joins: the listener gets a mix from then on, and the switch is not heard as a click: the
// decoder rejoins with the last skipped packet, and the encoder taking over is primed (as after
// any forwarding; without the priming the step is about 4,000). The talker was decoded in a
// three-party phase first, with another tone, so the node's last decoded frame of it is stale.
TEST(SessionTest, ATwoPartyRoomForwardsWithoutDecodingAndMixesAgainWithoutAClick) {
  EngineStats stats;
  auto worker = *MediaWorker::Create(0, &stats, /*start_thread=*/false);
  net::PortAllocator ports("127.0.0.1", 42610, 42619);
  auto session = *Session::Create({}, worker.get(), &stats, 4);
  auto sink = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
  auto join = [&](Participant& p, const char* id, double hz, uint32_t ssrc) {
    JoinWithLevel(*session, ports, p, id, hz, ssrc);
  };
  Participant talker;
  join(talker, "talker", 500, 0x1234);
  auto [answer, inbound] = AddListener(*session, ports, *sink);
  Participant third;
  auto decoder = *codec::AudioDecoder::Create(codec::AudioCodec::kOpus);
  std::vector<int16_t> heard;  // everything the listener decoded
  int forwarded = 0;
  auto tick = [&](int ticks, bool both) {
    for (int t = 0; t < ticks; ++t) {
      talker.Send();
      if (both) third.Send();
      for (int i = 0; i < session->endpoint_count(); ++i) {
        session->endpoint(static_cast<size_t>(i)).OnReadable();
      }
      session->OnTick(NowUs());
      ASSERT_NO_FATAL_FAILURE(ForEachPacket(*sink, *inbound, [&](const rtp::RtpPacketView& p) {
        forwarded +=
            std::equal(p.payload.begin(), p.payload.end(), talker.opus.begin(), talker.opus.end());
        std::array<int16_t, 960> pcm{};
        ASSERT_EQ(decoder->Decode(p.payload, pcm), codec::DecodeResult::kOk);
        heard.insert(heard.end(), pcm.begin(), pcm.end());
      }));
    }
  };
  // Three first: the talker is decoded for the mix (its decoder's last frame: 500 Hz).
  join(third, "third", 700, 0x5678);
  tick(60, true);
  ASSERT_TRUE(session->RemoveEndpoint("third").ok());
  // Two parties, and the talker's voice changes (900 Hz): forwarded, never decoded, so the frame
  // the node last decoded for it is not what the listener hears.
  talker.opus = EncodeTone(900, 6000);
  tick(40, false);
  const uint64_t skipped_before = stats.decodes_skipped.load();
  const int forwarded_before = forwarded;
  tick(50, false);
  EXPECT_EQ(forwarded - forwarded_before, 50);
  // Not decoded: every one of the talker's 50 frames skipped.
  EXPECT_GE(stats.decodes_skipped.load() - skipped_before, 49u);
  const size_t switch_at = heard.size();

  Participant again;
  join(again, "again", 700, 0x9abc);
  third = std::move(again);
  tick(60, true);  // the third voice is buffered and selected: a mix from then on
  EXPECT_LE(forwarded - forwarded_before, 50 + 20);
  ASSERT_GT(heard.size(), switch_at + 40 * 960);
  // The largest step between two samples the listener played, across the switch to mixing,
  // against the largest step of the forwarded tone alone: no click.
  auto largest_step = [&](size_t from, size_t to) {
    int largest = 0;
    for (size_t i = from + 1; i < to; ++i) {
      largest = std::max(largest, std::abs(heard[i] - heard[i - 1]));
    }
    return largest;
  };
  const int tone_step = largest_step(switch_at - 20 * 960, switch_at);
  const int mixed_step = largest_step(heard.size() - 20 * 960, heard.size());
  const int across = largest_step(switch_at - 960, heard.size() - 20 * 960);
  EXPECT_GT(tone_step, 200);
  EXPECT_LT(across, std::max(tone_step, mixed_step) * 5 / 4)
      << "the tone alone " << tone_step << ", the mix " << mixed_step;
  EXPECT_GT(ToneDbfs(std::span<const int16_t>(heard).last(20 * 960), 700), -30);
}

// In a room of three or more, a participant's digital silence (RFC 6464 level 127) is dropped by
// the kernel before it reaches the worker: one packet in 64 still comes, the gaps are not
// reported as loss, and what the participant says again comes through at once. Back in a
// two-party room, every packet comes again (the other's silence is forwarded as it came).
TEST(SessionTest, ARoomOfThreeHasTheKernelDropItsDigitalSilence) {
  EngineStats stats;
  auto worker = *MediaWorker::Create(0, &stats, /*start_thread=*/false);
  net::PortAllocator ports("127.0.0.1", 42968, 42975);
  auto session = *Session::Create({}, worker.get(), &stats, 4);
  auto sink = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
  auto join = [&](Participant& p, const char* id, double hz, uint32_t ssrc) {
    JoinWithLevel(*session, ports, p, id, hz, ssrc);
  };
  Participant talker;
  Participant muted;
  join(talker, "talker", 500, 0x1234);
  join(muted, "muted", 700, 0x5678);
  auto [answer, inbound] = AddListener(*session, ports, *sink);
  // Not before the first packet (a peer behind NAT is learnt from it).
  EXPECT_FALSE(session->Find("muted")->silence_filtered());
  auto tick = [&](int ticks) {
    for (int t = 0; t < ticks; ++t) {
      talker.Send();
      muted.Send();
      for (int i = 0; i < session->endpoint_count(); ++i) {
        session->endpoint(static_cast<size_t>(i)).OnReadable();
      }
      session->OnTick(NowUs());
      ASSERT_NO_FATAL_FAILURE(ForEachPacket(*sink, *inbound, [](const rtp::RtpPacketView&) {}));
    }
  };
  auto received = [&](const char* id) { return session->Find(id)->Stats().packets_received; };
  tick(10);  // both speak (sequence numbers 100 to 109): their streams are validated
  EXPECT_EQ(received("muted"), 10u);
  EXPECT_TRUE(session->Find("muted")->silence_filtered());
  EXPECT_TRUE(session->Find("talker")->silence_filtered());
  EXPECT_FALSE(session->Find("listener")->silence_filtered());  // no level on its packets
  muted.level = rtp::kSilentLevel;
  tick(256);  // 110 to 365: 128, 192, 256 and 320 are the sampled ones
  EXPECT_EQ(received("muted"), 14u);
  EXPECT_EQ(received("talker"), 266u);
  EXPECT_EQ(session->Find("muted")->Stats().packets_lost, 0u);
  muted.level = 30;  // speaks again: through at once
  tick(5);
  EXPECT_EQ(received("muted"), 19u);
  EXPECT_EQ(session->Find("muted")->Stats().packets_lost, 0u);

  ASSERT_TRUE(session->RemoveEndpoint("listener").ok());
  EXPECT_FALSE(session->Find("muted")->silence_filtered());  // two parties: forwarded as it came
  muted.level = rtp::kSilentLevel;
  tick(100);
  EXPECT_EQ(received("muted"), 119u);
}

// A lost frame of a stream that carries its levels is concealed only when the mixer hears it: a
// quiet participant who loses every other packet costs no concealment (in a large room under
// loss that would be one decode per silent listener and tick), while the talker's losses are
// concealed and its voice goes on for the listener.
TEST(SessionTest, OnlyTheHeardVoicesLostFramesAreConcealed) {
  EngineStats stats;
  auto worker = *MediaWorker::Create(0, &stats, /*start_thread=*/false);
  net::PortAllocator ports("127.0.0.1", 42976, 42983);
  auto session = *Session::Create({}, worker.get(), &stats, 4);
  auto sink = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
  Participant talker;
  Participant quiet;
  JoinWithLevel(*session, ports, talker, "talker", 500, 0x1234);
  JoinWithLevel(*session, ports, quiet, "quiet", 700, 0x5678);
  quiet.level = 100;  // -100 dBov: never a candidate (and not digital silence: not filtered)
  auto [answer, inbound] = AddListener(*session, ports, *sink);
  auto decoder = *codec::AudioDecoder::Create(codec::AudioCodec::kOpus);
  std::vector<int16_t> heard;  // the listener's last 25 frames
  auto tick = [&](int ticks, bool talker_loses, bool quiet_loses) {
    for (int t = 0; t < ticks; ++t) {
      // Every other packet lost: its sequence number and timestamp pass without a send.
      auto send = [&](Participant& p, bool loses) {
        if (loses && t % 2 == 1) {
          ++p.sequence;
          p.timestamp += 960;
        } else {
          p.Send();
        }
      };
      send(talker, talker_loses);
      send(quiet, quiet_loses);
      for (int i = 0; i < session->endpoint_count(); ++i) {
        session->endpoint(static_cast<size_t>(i)).OnReadable();
      }
      session->OnTick(NowUs());
      ASSERT_NO_FATAL_FAILURE(ForEachPacket(*sink, *inbound, [&](const rtp::RtpPacketView& p) {
        std::array<int16_t, 960> pcm{};
        ASSERT_EQ(decoder->Decode(p.payload, pcm), codec::DecodeResult::kOk);
        heard.insert(heard.end(), pcm.begin(), pcm.end());
        if (heard.size() > 25u * 960) heard.erase(heard.begin(), heard.end() - 25 * 960);
      }));
    }
  };
  tick(40, false, false);
  const uint64_t concealed_before = stats.concealed_frames.load();
  tick(100, false, true);
  EXPECT_EQ(stats.concealed_frames.load() - concealed_before, 0u);
  const uint64_t talker_before = stats.concealed_frames.load();
  tick(100, true, true);
  // The talker's 50 lost frames are concealed (the jitter buffer may hold a frame or two back).
  EXPECT_GE(stats.concealed_frames.load() - talker_before, 45u);
  EXPECT_LE(stats.concealed_frames.load() - talker_before, 55u);
  EXPECT_GT(ToneDbfs(heard, 500), -30);
}

// With RFC 6464 levels on the packets, only the speakers the mixer hears are decoded: four talk,
// three are heard (K = 3) and the fourth's frames are skipped. When a heard speaker stops, the
// fourth takes its place and is heard at once, at full level.
TEST(SessionTest, OnlyTheHeardSpeakersAreDecodedWhenPacketsCarryTheirLevel) {
  EngineStats stats;
  auto worker = *MediaWorker::Create(0, &stats, /*start_thread=*/false);
  net::PortAllocator ports("127.0.0.1", 42310, 42319);
  auto session = *Session::Create({}, worker.get(), &stats, 8);
  auto sink = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
  const double tones[] = {400, 600, 800, 1000};
  std::vector<Participant> talkers(4);
  for (size_t i = 0; i < talkers.size(); ++i) {
    Participant& p = talkers[i];
    p.outbound = *srtp::SrtpSession::Create(p.key, srtp::Direction::kOutbound);
    p.opus = EncodeTone(tones[i], 8000);
    p.socket = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
    p.ssrc = 0x100 + static_cast<uint32_t>(i);
    p.level_id = 1;
    p.level = i < 3 ? 10 : 20;  // the fourth is quieter: not among the three heard
    EndpointConfig config;
    config.id = "talker" + std::to_string(i);
    config.remote_key_base64 = p.key.ToBase64();
    config.remote = *net::SocketAddress::FromIp("127.0.0.1", 9);
    config.audio_level_extension_id = 1;
    auto answer = session->AddEndpoint(config, *ports.Allocate());
    ASSERT_TRUE(answer.ok()) << answer.status();
    p.target = answer->local;
  }
  auto [answer, inbound] = AddListener(*session, ports, *sink);
  auto decoder = *codec::AudioDecoder::Create(codec::AudioCodec::kOpus);
  std::vector<int16_t> heard;  // the listener's last 25 frames
  auto run = [&](int ticks, size_t first_talking) {
    for (int tick = 0; tick < ticks; ++tick) {
      for (size_t i = first_talking; i < talkers.size(); ++i) talkers[i].Send();
      for (size_t i = first_talking; i < talkers.size(); ++i) {
        session->endpoint(i - first_talking).OnReadable();
      }
      session->OnTick(NowUs());
      ASSERT_NO_FATAL_FAILURE(ForEachPacket(*sink, *inbound, [&](const rtp::RtpPacketView& packet) {
        std::array<int16_t, 960> pcm{};
        ASSERT_EQ(decoder->Decode(packet.payload, pcm), codec::DecodeResult::kOk);
        heard.insert(heard.end(), pcm.begin(), pcm.end());
        if (heard.size() > 25u * 960) heard.erase(heard.begin(), heard.end() - 25 * 960);
      }));
    }
  };
  // The three loud ones are heard; the fourth is never decoded once selection has settled.
  run(40, 0);
  const uint64_t skipped_before = stats.decodes_skipped.load();
  run(100, 0);
  EXPECT_GE(stats.decodes_skipped.load() - skipped_before, 95u);
  EXPECT_LE(stats.decodes_skipped.load() - skipped_before, 100u);
  EXPECT_GT(ToneDbfs(heard, 400), -30);
  EXPECT_GT(ToneDbfs(heard, 600), -30);
  EXPECT_GT(ToneDbfs(heard, 800), -30);
  EXPECT_LT(ToneDbfs(heard, 1000), ToneDbfs(heard, 400) - 30);
  // The 400 Hz talker leaves: the fourth is heard in its place at once, as loud as the others,
  // and nothing is skipped any more.
  ASSERT_TRUE(session->RemoveEndpoint("talker0").ok());
  run(5, 1);
  const uint64_t skipped_after = stats.decodes_skipped.load();
  run(25, 1);
  EXPECT_EQ(stats.decodes_skipped.load(), skipped_after);
  EXPECT_GT(ToneDbfs(heard, 1000), ToneDbfs(heard, 600) - 3);
  EXPECT_LT(ToneDbfs(heard, 400), ToneDbfs(heard, 600) - 30);
}

// The Opus encoders plan their in-band FEC for the loss their listeners report: a speaker's own
// encoder for its own reports, capped at 25 %; the encoder two listeners share for the worse of
// the two. When the line clears, the planned loss comes down again, more slowly than it rose.
TEST(SessionTest, OpusFecFollowsTheLossListenersReport) {
  EngineStats stats;
  auto worker = *MediaWorker::Create(0, &stats, /*start_thread=*/false);
  net::PortAllocator ports("127.0.0.1", 42320, 42329);
  auto session = *Session::Create({}, worker.get(), &stats, 4);
  const char* ids[] = {"talker", "a", "b"};
  std::vector<Participant> people(3);
  std::vector<EndpointAnswer> answers;
  for (size_t i = 0; i < people.size(); ++i) {
    Participant& p = people[i];
    p.outbound = *srtp::SrtpSession::Create(p.key, srtp::Direction::kOutbound);
    p.opus = EncodeTone(500, 8000);
    p.socket = *net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
    p.ssrc = 0x500 + static_cast<uint32_t>(i);
    EndpointConfig config;
    config.id = ids[i];
    config.remote_key_base64 = p.key.ToBase64();
    config.remote = *net::SocketAddress::FromIp("127.0.0.1", 9);
    auto answer = session->AddEndpoint(config, *ports.Allocate());
    ASSERT_TRUE(answer.ok()) << answer.status();
    p.target = answer->local;
    answers.push_back(*answer);
  }
  auto tick = [&](int ticks) {
    for (int t = 0; t < ticks; ++t) {
      people[0].Send();  // only the talker talks
      for (int i = 0; i < 3; ++i) session->endpoint(i).OnReadable();
      session->OnTick(NowUs());
    }
  };
  auto report = [&](size_t who, uint8_t fraction_lost) {
    ASSERT_NO_FATAL_FAILURE(people[who].SendReceiverReport(answers[who].ssrc, fraction_lost));
  };
  tick(40);
  // Before any report: the encoders' default. The talker speaks (its own mix-minus, its own
  // encoder); a and b hear the same mix from one encoder.
  EXPECT_EQ(session->EncoderLossPercent("talker"), 5);
  EXPECT_EQ(session->EncoderLossPercent("a"), 5);
  EXPECT_EQ(session->EncoderLossPercent("b"), 5);
  SessionStatsSnapshot snapshot = session->Stats();
  EXPECT_EQ(snapshot.audio_encoders, 2);

  report(0, 128);  // 50 %: capped
  report(1, 51);   // about 20 %
  report(2, 0);
  tick(2);
  EXPECT_EQ(session->EncoderLossPercent("talker"), 25);
  EXPECT_EQ(session->EncoderLossPercent("a"), 20);  // the worse of the two it serves
  EXPECT_EQ(session->EncoderLossPercent("b"), 20);

  // a's line clears: one clean report lowers the estimate a little, many bring it to zero.
  report(1, 0);
  tick(2);
  const int after_one = session->EncoderLossPercent("b");
  EXPECT_LT(after_one, 20);
  EXPECT_GT(after_one, 10);
  for (int i = 0; i < 30; ++i) {
    report(0, 0);
    report(1, 0);
    tick(1);
  }
  tick(1);
  EXPECT_EQ(session->EncoderLossPercent("talker"), 0);
  EXPECT_EQ(session->EncoderLossPercent("a"), 0);
  EXPECT_EQ(session->EncoderLossPercent("b"), 0);
  EXPECT_EQ(session->EncoderLossPercent("nobody"), -1);
  EXPECT_EQ(stats.drops[static_cast<size_t>(DropReason::kMalformedRtcp)].load(), 0u);
  EXPECT_EQ(stats.drops[static_cast<size_t>(DropReason::kSrtpAuth)].load(), 0u);
}

TEST(EngineTest, SessionsAndEndpointsComeAndGoWithClearErrors) {
  EngineOptions options;
  options.workers = 2;
  options.port_min = 42200;
  options.port_max = 42201;  // two ports only
  auto engine = *MediaEngine::Create(options);
  EXPECT_TRUE(engine->CreateSession("room", {}).ok());
  EXPECT_EQ(engine->CreateSession("room", {}).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(engine->CreateSession("Bad Name", {}).code(), absl::StatusCode::kInvalidArgument);
  SessionConfig too_many;
  too_many.max_speakers = 50;
  EXPECT_EQ(engine->CreateSession("other", too_many).code(), absl::StatusCode::kInvalidArgument);

  EndpointConfig config;
  config.remote = *net::SocketAddress::FromIp("127.0.0.1", 9);
  config.remote_key_base64 =
      srtp::SrtpKeyMaterial::Generate(srtp::SrtpSuite::kAesCm128HmacSha1_80).ToBase64();
  config.id = "a";
  ASSERT_TRUE(engine->AddEndpoint("room", config).ok());
  EXPECT_EQ(engine->AddEndpoint("room", config).status().code(), absl::StatusCode::kAlreadyExists);
  config.id = "b";
  EXPECT_TRUE(engine->AddEndpoint("room", config).ok());
  config.id = "c";
  EXPECT_EQ(engine->AddEndpoint("room", config).status().code(),
            absl::StatusCode::kResourceExhausted);  // no port left
  config.id = "d";
  config.secure = false;
  EXPECT_EQ(engine->AddEndpoint("room", config).status().code(),
            absl::StatusCode::kInvalidArgument);  // plain RTP refused
  config.secure = true;
  config.remote_key_base64 = "not base64!";
  EXPECT_EQ(engine->AddEndpoint("room", config).status().code(),
            absl::StatusCode::kInvalidArgument);
  config.remote_key_base64 =
      srtp::SrtpKeyMaterial::Generate(srtp::SrtpSuite::kAesCm128HmacSha1_80).ToBase64();
  EXPECT_EQ(engine->AddEndpoint("nowhere", config).status().code(), absl::StatusCode::kNotFound);
  Routing routing;
  routing.listen_bus = 3;  // the session has only the floor
  EXPECT_EQ(engine->UpdateRouting("room", "a", routing).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->endpoint_count(), 2);
  EXPECT_TRUE(engine->RemoveEndpoint("room", "a").ok());
  EXPECT_EQ(engine->RemoveEndpoint("room", "a").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(engine->DeleteSession("room").ok());
  EXPECT_EQ(engine->session_count(), 0);
  EXPECT_EQ(engine->endpoint_count(), 0);
}

// Chorus offers first (a call it places): the audio side is reserved (port, SSRC, key) before
// the callee's is known, and the endpoint made from the answer keeps exactly that side. A
// reservation holds its port until taken, removed or its session ends.
TEST(EngineTest, AnEndpointChorusOfferedFirstKeepsItsReservedPortKeyAndSsrc) {
  EngineOptions options;
  options.workers = 1;
  options.port_min = 42960;
  options.port_max = 42961;  // two ports only
  auto engine = *MediaEngine::Create(options);
  ASSERT_TRUE(engine->CreateSession("room", {}).ok());
  const srtp::SrtpSuite suite = srtp::SrtpSuite::kAesCm128HmacSha1_80;
  absl::StatusOr<EndpointAnswer> reserved = engine->ReserveEndpoint("room", "callee", true, suite);
  ASSERT_TRUE(reserved.ok()) << reserved.status();
  EXPECT_FALSE(reserved->local_key_base64.empty());
  EXPECT_NE(reserved->ssrc, 0u);
  EXPECT_EQ(engine->ReserveEndpoint("room", "callee", true, suite).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(engine->ReserveEndpoint("nowhere", "x", true, suite).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(engine->ReserveEndpoint("room", "plain", false, suite).status().code(),
            absl::StatusCode::kInvalidArgument);  // plain RTP refused here
  ASSERT_TRUE(engine->ReserveEndpoint("room", "other", true, suite).ok());
  EXPECT_EQ(engine->ReserveEndpoint("room", "third", true, suite).status().code(),
            absl::StatusCode::kResourceExhausted);            // both ports reserved
  ASSERT_TRUE(engine->RemoveEndpoint("room", "other").ok());  // released

  EndpointConfig config;
  config.id = "callee";
  config.remote = *net::SocketAddress::FromIp("127.0.0.1", 9);
  config.remote_key_base64 = srtp::SrtpKeyMaterial::Generate(suite).ToBase64();
  config.suite = srtp::SrtpSuite::kAesCm128HmacSha1_32;
  EXPECT_EQ(engine->AddEndpoint("room", config).status().code(),
            absl::StatusCode::kInvalidArgument);  // not the suite offered
  config.suite = suite;
  config.remote_key_base64 = srtp::SrtpKeyMaterial::Generate(suite).ToBase64();
  absl::StatusOr<EndpointAnswer> added = engine->AddEndpoint("room", config);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->local.port(), reserved->local.port());
  EXPECT_EQ(added->local_key_base64, reserved->local_key_base64);
  EXPECT_EQ(added->ssrc, reserved->ssrc);
  EXPECT_EQ(engine->endpoint_count(), 1);
  // A reservation ends with its session, and gives its port back.
  ASSERT_TRUE(engine->ReserveEndpoint("room", "late", true, suite).ok());
  ASSERT_TRUE(engine->DeleteSession("room").ok());
  ASSERT_TRUE(engine->CreateSession("room", {}).ok());
  EXPECT_TRUE(engine->ReserveEndpoint("room", "late", true, suite).ok());
  EXPECT_TRUE(engine->ReserveEndpoint("room", "again", true, suite).ok());
}

// Chorus offers video too (a room system called): the video stream is reserved beside the audio
// and the answered endpoint keeps it; an answer without video gives its port back.
TEST(EngineTest, AVideoStreamChorusOfferedFirstIsKeptWhenAnsweredAndReleasedWhenNot) {
  EngineOptions options;
  options.workers = 1;
  options.port_min = 42962;
  options.port_max = 42965;  // four ports: two endpoints' audio and video
  auto engine = *MediaEngine::Create(options);
  ASSERT_TRUE(engine->CreateSession("room", {}).ok());
  const srtp::SrtpSuite suite = srtp::SrtpSuite::kAesCm128HmacSha1_80;
  absl::StatusOr<EndpointAnswer> reserved =
      engine->ReserveEndpoint("room", "system", true, suite, /*video=*/true);
  ASSERT_TRUE(reserved.ok()) << reserved.status();
  ASSERT_TRUE(reserved->video.enabled);
  EXPECT_NE(reserved->video.local.port(), reserved->local.port());
  EXPECT_FALSE(reserved->video.local_key_base64.empty());
  EndpointConfig config;
  config.id = "system";
  config.remote = *net::SocketAddress::FromIp("127.0.0.1", 9);
  config.remote_key_base64 = srtp::SrtpKeyMaterial::Generate(suite).ToBase64();
  config.video.enabled = true;
  config.video.remote = *net::SocketAddress::FromIp("127.0.0.1", 11);
  config.video.remote_key_base64 = srtp::SrtpKeyMaterial::Generate(suite).ToBase64();
  absl::StatusOr<EndpointAnswer> added = engine->AddEndpoint("room", config);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->video.local.port(), reserved->video.local.port());
  EXPECT_EQ(added->video.local_key_base64, reserved->video.local_key_base64);
  EXPECT_EQ(added->video.ssrc, reserved->video.ssrc);
  // The second reserves both remaining ports; answered with audio only, its video port is free.
  ASSERT_TRUE(engine->ReserveEndpoint("room", "phone", true, suite, true).ok());
  config.id = "phone";
  config.video = VideoConfig();
  ASSERT_TRUE(engine->AddEndpoint("room", config).ok());
  EXPECT_TRUE(engine->ReserveEndpoint("room", "third", true, suite).ok());
}

// A room system that starts presenting in the same call (a re-INVITE): its running RTP endpoint
// gets a content stream of its own (a port, SSRC and key), keeps it while it goes on, and gives
// its port back when it stops; audio goes on throughout. A camera cannot be added this way.
TEST(EngineTest, AnRtpEndpointsContentStartsAndStopsInTheSameCall) {
  EngineOptions options;
  options.workers = 1;
  options.port_min = 42966;
  options.port_max = 42967;  // two ports: audio and content
  auto engine = *MediaEngine::Create(options);
  ASSERT_TRUE(engine->CreateSession("room", {}).ok());
  const srtp::SrtpSuite suite = srtp::SrtpSuite::kAesCm128HmacSha1_80;
  EndpointConfig config;
  config.id = "system";
  config.remote = *net::SocketAddress::FromIp("127.0.0.1", 9);
  config.remote_key_base64 = srtp::SrtpKeyMaterial::Generate(suite).ToBase64();
  absl::StatusOr<EndpointAnswer> joined = engine->AddEndpoint("room", config);
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_FALSE(joined->content.enabled);

  config.content.enabled = true;
  config.content.remote = *net::SocketAddress::FromIp("127.0.0.1", 13);
  config.content.remote_key_base64 = srtp::SrtpKeyMaterial::Generate(suite).ToBase64();
  absl::StatusOr<EndpointAnswer> started = engine->RenegotiateRtp("room", config);
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_TRUE(started->content.enabled);
  EXPECT_NE(started->content.local.port(), joined->local.port());
  EXPECT_FALSE(started->content.local_key_base64.empty());
  EXPECT_EQ(started->local.port(), joined->local.port());  // audio as it was
  EXPECT_EQ(started->local_key_base64, joined->local_key_base64);
  // The same offer again (a session refresh): the same content stream.
  absl::StatusOr<EndpointAnswer> again = engine->RenegotiateRtp("room", config);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->content.local.port(), started->content.local.port());
  EXPECT_EQ(again->content.ssrc, started->content.ssrc);
  // Both ports are in use; the content stops and its port is free again.
  EndpointConfig other = config;
  other.id = "other";
  other.content = VideoConfig();
  EXPECT_EQ(engine->AddEndpoint("room", other).status().code(),
            absl::StatusCode::kResourceExhausted);
  config.content = VideoConfig();
  absl::StatusOr<EndpointAnswer> stopped = engine->RenegotiateRtp("room", config);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_FALSE(stopped->content.enabled);
  // A camera added in a renegotiation is refused; unknown endpoints and sessions are not found.
  config.video.enabled = true;
  config.video.remote = *net::SocketAddress::FromIp("127.0.0.1", 11);
  config.video.remote_key_base64 = srtp::SrtpKeyMaterial::Generate(suite).ToBase64();
  EXPECT_EQ(engine->RenegotiateRtp("room", config).status().code(),
            absl::StatusCode::kInvalidArgument);
  config.id = "nobody";
  EXPECT_EQ(engine->RenegotiateRtp("room", config).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine->RenegotiateRtp("nowhere", config).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(engine->AddEndpoint("room", other).ok());
}

// A worker's load is its thread's CPU time over wall time: a session that spends about half of
// every 20 ms tick working makes it climb (smoothed over about 5 s), and it falls to zero with the
// last session.
TEST(MediaWorkerTest, LoadFollowsTheBusyTimeOfItsTicks) {
  struct Busy : TickListener {
    void OnTick(int64_t) override {
      const int64_t start = ThreadCpuUs();
      while (ThreadCpuUs() - start < 10'000) {
      }
    }
    static int64_t ThreadCpuUs() {
      timespec ts;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
    }
  } busy;
  EngineStats stats;
  auto worker = MediaWorker::Create(0, &stats);
  ASSERT_TRUE(worker.ok()) << worker.status();
  MediaWorker& w = **worker;
  EXPECT_EQ(w.load(), 0);
  ASSERT_TRUE(w.Call([&] { w.AddTickListener(&busy); }).ok());
  // After 3 s at about 0.5 the smoothed figure is near 0.23; a crowded machine gives the thread
  // less of a core (it climbs slower and less far), hence the loose bound and a deadline, not a
  // fixed wait.
  const int64_t deadline = NowUs() + 20'000'000;
  while (NowUs() < deadline && w.load() < 0.2) usleep(100'000);
  EXPECT_GT(w.load(), 0.1);
  EXPECT_LE(w.load(), 1.0);
  ASSERT_TRUE(w.Call([&] { w.RemoveTickListener(&busy); }).ok());
  EXPECT_EQ(w.load(), 0);
}

// The node's load is its busiest worker's, audio or video: a node with one worker near its
// limit is near its limit, whatever the mean says.
TEST(EngineTest, LoadIsTheBusiestWorkers) {
  const WorkerLoad loads[] = {{false, 0, 0.1}, {false, 1, 0.2}, {true, 0, 0.9}, {true, 1, 0.0}};
  EXPECT_DOUBLE_EQ(BusiestLoad(loads), 0.9);  // the mean would be 0.3
  EXPECT_DOUBLE_EQ(BusiestLoad(std::span<const WorkerLoad>(loads, 2)), 0.2);
  EXPECT_EQ(BusiestLoad({}), 0.0);
}

// Every worker is listed, audio first, and the node's load is taken from them.
TEST(EngineTest, EachWorkerIsListed) {
  EngineOptions options;
  options.workers = 2;
  options.video_workers = 3;
  options.port_min = 44640;
  options.port_max = 44649;
  auto engine = MediaEngine::Create(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  std::vector<WorkerLoad> loads = (*engine)->worker_loads();
  ASSERT_EQ(loads.size(), 5u);
  for (size_t i = 0; i < loads.size(); ++i) {
    EXPECT_EQ(loads[i].video, i >= 2);
    EXPECT_EQ(loads[i].index, static_cast<int>(i < 2 ? i : i - 2));
  }
  EXPECT_EQ((*engine)->load(), BusiestLoad(loads));
}

}  // namespace
}  // namespace chorus::engine
