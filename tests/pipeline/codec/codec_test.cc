#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/codec/audio_codec.h"
#include "pipeline/codec/audio_decoder.h"
#include "pipeline/codec/audio_encoder.h"
#include "tests/support/tone.h"

namespace chorus::codec {
namespace {

constexpr double kPi = 3.14159265358979323846;

using chorus::testing::ToneAmplitude;

class CodecTest : public ::testing::TestWithParam<AudioCodec> {};

// One second of a tone through encoder and decoder: the tone comes out, at about its level.
TEST_P(CodecTest, ATonePassesThroughAtItsLevel) {
  auto encoder = *AudioEncoder::Create({.codec = GetParam()});
  auto decoder = *AudioDecoder::Create(GetParam());
  std::vector<int16_t> decoded;
  std::vector<int16_t> frame(960);
  std::vector<uint8_t> payload(1500);
  for (int f = 0; f < 50; ++f) {
    for (int i = 0; i < 960; ++i) {
      frame[i] = static_cast<int16_t>(8000 * std::sin(2 * kPi * 440 * (f * 960 + i) / 48000.0));
    }
    int size = encoder->Encode(frame, payload);
    ASSERT_GE(size, 0);
    if (size == 0) continue;
    std::vector<int16_t> out(960);
    ASSERT_EQ(decoder->Decode(std::span<const uint8_t>(payload.data(), size), out),
              DecodeResult::kOk);
    if (f >= 10) decoded.insert(decoded.end(), out.begin(), out.end());
  }
  EXPECT_NEAR(ToneAmplitude(decoded, 440), 8000, 1600);
  EXPECT_LT(ToneAmplitude(decoded, 1000), 400);
}

TEST_P(CodecTest, GarbageNeverCrashesTheDecoder) {
  auto decoder = *AudioDecoder::Create(GetParam());
  std::mt19937 random(7);
  std::vector<int16_t> out(960);
  for (int round = 0; round < 200; ++round) {
    std::vector<uint8_t> garbage(random() % 400);
    for (auto& b : garbage) b = static_cast<uint8_t>(random());
    DecodeResult result = decoder->Decode(garbage, out);
    EXPECT_TRUE(result == DecodeResult::kOk || result == DecodeResult::kCorrupt);
  }
  EXPECT_EQ(decoder->Decode({}, out), DecodeResult::kCorrupt);
  std::vector<uint8_t> huge(5000, 1);
  EXPECT_EQ(decoder->Decode(huge, out), DecodeResult::kCorrupt);
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecTest,
                         ::testing::Values(AudioCodec::kOpus, AudioCodec::kPcmu, AudioCodec::kPcma,
                                           AudioCodec::kG722),
                         [](const auto& info) { return std::string(CodecName(info.param)); });

TEST(CodecFactsTest, ClocksAndTimestamps) {
  EXPECT_EQ(RtpClockRate(AudioCodec::kG722), 8000u);  // RFC 3551, though it samples at 16 kHz
  EXPECT_EQ(CodecSampleRate(AudioCodec::kG722), 16000);
  EXPECT_EQ(TimestampIncrement(AudioCodec::kG722), 160u);
  EXPECT_EQ(TimestampIncrement(AudioCodec::kOpus), 960u);
  EXPECT_EQ(StaticPayloadType(AudioCodec::kPcma), 8);
  EXPECT_EQ(CodecFromName("OPUS"), AudioCodec::kOpus);
  EXPECT_FALSE(CodecFromName("speex").has_value());
}

TEST(ConcealmentTest, OpusConcealsAndG711FadesToSilence) {
  auto opus_encoder = *AudioEncoder::Create({});
  auto opus = *AudioDecoder::Create(AudioCodec::kOpus);
  auto pcmu_encoder = *AudioEncoder::Create({.codec = AudioCodec::kPcmu});
  auto pcmu = *AudioDecoder::Create(AudioCodec::kPcmu);
  std::vector<int16_t> frame(960), out(960);
  std::vector<uint8_t> payload(1500);
  for (int f = 0; f < 10; ++f) {
    for (int i = 0; i < 960; ++i) {
      frame[i] = static_cast<int16_t>(8000 * std::sin(2 * kPi * 440 * (f * 960 + i) / 48000.0));
    }
    int size = opus_encoder->Encode(frame, payload);
    if (size > 0) opus->Decode(std::span<const uint8_t>(payload.data(), size), out);
    size = pcmu_encoder->Encode(frame, payload);
    pcmu->Decode(std::span<const uint8_t>(payload.data(), size), out);
  }
  opus->Conceal(out);
  EXPECT_GT(ToneAmplitude(out, 440), 1000);  // Opus PLC continues the voice
  pcmu->Conceal(out);
  EXPECT_GT(ToneAmplitude(out, 440), 1000);
  for (int i = 0; i < 3; ++i) pcmu->Conceal(out);
  for (int16_t s : out) EXPECT_EQ(s, 0);  // silent after 60 ms
  // A lost Opus frame rebuilt from the next packet (in-band FEC, or libopus's concealment when
  // that packet carries none): 20 ms of the voice, not silence.
  for (int i = 0; i < 960; ++i) {
    frame[i] = static_cast<int16_t>(8000 * std::sin(2 * kPi * 440 * (11 * 960 + i) / 48000.0));
  }
  const int next = opus_encoder->Encode(frame, payload);
  ASSERT_GT(next, 0);
  std::fill(out.begin(), out.end(), 0);
  ASSERT_TRUE(opus->DecodeFec(std::span<const uint8_t>(payload.data(), next), out));
  EXPECT_GT(ToneAmplitude(out, 440), 1000);
  EXPECT_FALSE(pcmu->DecodeFec(std::span<const uint8_t>(payload.data(), 3), out));  // no FEC
}

TEST(EncoderTest, NonsenseConfigurationsAreRefused) {
  EXPECT_FALSE(AudioEncoder::Create({.codec = AudioCodec::kOpus, .bitrate_bps = 10}).ok());
  EXPECT_FALSE(AudioEncoder::Create({.codec = AudioCodec::kOpus, .bitrate_bps = 1 << 30}).ok());
  EXPECT_FALSE(
      AudioEncoder::Create({.codec = AudioCodec::kOpus, .expected_loss_percent = 101}).ok());
  EXPECT_FALSE(AudioEncoder::Create({.codec = AudioCodec::kOpus, .complexity = 11}).ok());
}

// The loss Opus plans its in-band FEC for changes while it encodes (what listeners report), and
// FEC stays on throughout.
TEST(EncoderTest, OpusPacketLossCanChangeWhileEncoding) {
  auto encoder = *AudioEncoder::Create({.expected_loss_percent = 5});
  EXPECT_EQ(encoder->packet_loss_percent(), 5);
  EXPECT_TRUE(encoder->inband_fec());
  std::vector<int16_t> frame(960);
  std::vector<uint8_t> payload(1500);
  for (int f = 0; f < 20; ++f) {
    for (int i = 0; i < 960; ++i) {
      frame[i] = static_cast<int16_t>(8000 * std::sin(2 * kPi * 440 * (f * 960 + i) / 48000.0));
    }
    if (f == 10) encoder->SetPacketLossPercent(20);
    ASSERT_GT(encoder->Encode(frame, payload), 0);
  }
  EXPECT_EQ(encoder->packet_loss_percent(), 20);
  EXPECT_TRUE(encoder->inband_fec());
  encoder->SetPacketLossPercent(250);
  EXPECT_EQ(encoder->packet_loss_percent(), 100);
  encoder->SetPacketLossPercent(-3);
  EXPECT_EQ(encoder->packet_loss_percent(), 0);
  EXPECT_TRUE(encoder->inband_fec());
  // Other codecs have no such setting.
  auto pcmu = *AudioEncoder::Create({.codec = AudioCodec::kPcmu});
  pcmu->SetPacketLossPercent(20);
  EXPECT_EQ(pcmu->packet_loss_percent(), -1);
  EXPECT_FALSE(pcmu->inband_fec());
}

}  // namespace
}  // namespace chorus::codec
