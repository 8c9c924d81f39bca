// The captured browser offers end to end: parse, negotiate, write the answer, and have an
// independent WebRTC implementation (aiortc's SDP parser) read the answers back.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/sdp/answer.h"
#include "pipeline/sdp/fingerprint.h"
#include "pipeline/sdp/negotiation.h"
#include "pipeline/sdp/parser.h"
#include "tests/pipeline/sdp/sdp_test_util.h"

namespace chorus::sdp {
namespace {

constexpr char kPython[] = "/usr/bin/python3";

struct Expected {
  const char* name;
  std::vector<SectionRole> roles;
  std::vector<std::pair<Codec, int>> codecs;  // per accepted section: codec, payload type
};

// What Chorus makes of each captured offer.
const Expected kExpected[] = {
    {"chromium_camera",
     {SectionRole::kAudio, SectionRole::kCamera},
     {{Codec::kOpus, 111}, {Codec::kVp8, 96}}},
    {"chromium_h264",
     {SectionRole::kAudio, SectionRole::kCamera},
     {{Codec::kOpus, 111}, {Codec::kH264, 108}}},
    {"chromium_screen",
     {SectionRole::kAudio, SectionRole::kCamera, SectionRole::kScreenShare},
     {{Codec::kOpus, 111}, {Codec::kVp8, 96}, {Codec::kVp8, 96}}},
    {"chromium_screen_balanced",
     {SectionRole::kAudio, SectionRole::kCamera, SectionRole::kScreenShare},
     {{Codec::kOpus, 111}, {Codec::kVp8, 96}, {Codec::kVp8, 96}}},
    {"firefox_camera",
     {SectionRole::kAudio, SectionRole::kCamera},
     {{Codec::kOpus, 109}, {Codec::kVp8, 120}}},
    {"firefox_screen_balanced",
     {SectionRole::kAudio, SectionRole::kCamera, SectionRole::kScreenShare},
     {{Codec::kOpus, 109}, {Codec::kVp8, 120}, {Codec::kVp8, 120}}},
    {"aiortc_camera",
     {SectionRole::kAudio, SectionRole::kCamera},
     {{Codec::kOpus, 96}, {Codec::kVp8, 97}}},
};

TEST(FixtureTest, EveryCapturedOfferIsAnsweredAsExpected) {
  ASSERT_EQ(std::size(kExpected), testing::FixtureNames().size());
  for (const Expected& expected : kExpected) {
    SCOPED_TRACE(expected.name);
    const absl::StatusOr<Offer> offer = ParseOffer(testing::ReadFixture(expected.name));
    ASSERT_TRUE(offer.ok()) << offer.status();
    const absl::StatusOr<Negotiated> negotiated = Negotiate(*offer, LocalCapabilities{});
    ASSERT_TRUE(negotiated.ok()) << negotiated.status();
    ASSERT_EQ(negotiated->sections.size(), expected.roles.size());
    for (size_t i = 0; i < expected.roles.size(); ++i) {
      const NegotiatedSection& section = negotiated->sections[i];
      EXPECT_EQ(section.role, expected.roles[i]) << i;
      ASSERT_TRUE(section.codec.has_value());
      EXPECT_EQ(section.codec->codec, expected.codecs[i].first) << i;
      EXPECT_EQ(section.codec->payload_type, expected.codecs[i].second) << i;
      EXPECT_EQ(section.codec->rtx_payload_type.has_value(), section.kind == MediaKind::kVideo);
      EXPECT_NE(section.extensions.mid, 0) << "every stack offers sdes:mid";
      EXPECT_EQ(section.remote_streams.size(), 1u) << "one stream per section, with its RTX";
      if (section.kind == MediaKind::kVideo) {
        EXPECT_TRUE(section.remote_streams[0].rtx_ssrc.has_value());
      }
    }
    EXPECT_TRUE(negotiated->audio_section.has_value());
    EXPECT_FALSE(negotiated->remote_candidates.empty());
  }
}

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// What the answer should say, for aiortc_check.py.
std::string Expectations(const Negotiated& negotiated, const AnswerParams& params) {
  std::string json =
      "{\"ufrag\": " + JsonString(params.ice.ufrag) + ", \"pwd\": " + JsonString(params.ice.pwd) +
      ", \"fingerprint\": " + JsonString(FormatFingerprint(params.fingerprint_sha256)) +
      ", \"port\": " + std::to_string(params.candidates[0].port) +
      ", \"candidates\": " + std::to_string(params.candidates.size()) + ", \"bundle\": [";
  for (size_t i = 0; i < negotiated.bundle_mids.size(); ++i) {
    json += (i ? ", " : "") + JsonString(negotiated.bundle_mids[i]);
  }
  json += "], \"sections\": [";
  for (size_t i = 0; i < negotiated.sections.size(); ++i) {
    const NegotiatedSection& section = negotiated.sections[i];
    json += std::string(i ? ", " : "") + "{\"mid\": " + JsonString(section.mid) +
            ", \"kind\": " + JsonString(MediaKindName(section.kind)) +
            ", \"accepted\": " + (section.accepted() ? "true" : "false");
    if (section.accepted()) {
      const NegotiatedCodec& codec = *section.codec;
      json += ", \"direction\": " + JsonString(DirectionName(section.direction)) +
              ", \"codec\": " + JsonString(CodecName(codec.codec)) +
              ", \"pt\": " + std::to_string(codec.payload_type) +
              ", \"clock\": " + std::to_string(codec.clock_rate_hz) + ", \"rtx\": " +
              (codec.rtx_payload_type ? std::to_string(*codec.rtx_payload_type) : "null");
    }
    json += "}";
  }
  return json + "]}\n";
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary);
  file << text;
  ASSERT_TRUE(file.good()) << path;
}

TEST(FixtureTest, AiortcReadsEveryAnswer) {
  if (std::system((std::string(kPython) + " -c 'import aiortc.sdp' >/dev/null 2>&1").c_str()) !=
      0) {
    GTEST_SKIP() << "python3-aiortc is not installed";
  }
  std::string directory_template = ::testing::TempDir() + "chorus_sdp_aiortc_XXXXXX";
  ASSERT_NE(mkdtemp(directory_template.data()), nullptr);
  const std::filesystem::path directory(directory_template);

  const AnswerParams params = testing::TestAnswerParams();
  for (const std::string& name : testing::FixtureNames()) {
    const absl::StatusOr<Offer> offer = ParseOffer(testing::ReadFixture(name));
    ASSERT_TRUE(offer.ok()) << name;
    const absl::StatusOr<Negotiated> negotiated = Negotiate(*offer, LocalCapabilities{});
    ASSERT_TRUE(negotiated.ok()) << name;
    WriteFile(directory / (name + ".answer.sdp"), WriteAnswer(*offer, *negotiated, params));
    WriteFile(directory / (name + ".expect.json"), Expectations(*negotiated, params));
  }
  const std::string command =
      std::string(kPython) + " " + CHORUS_SDP_AIORTC_CHECK + " " + directory.string();
  const int status = std::system(command.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "aiortc refused an answer (see the lines above); answers are in " << directory;
  if (!HasFailure()) std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace chorus::sdp
