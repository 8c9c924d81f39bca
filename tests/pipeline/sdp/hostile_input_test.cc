// Offers an attacker or a broken client could send: each is refused with INVALID_ARGUMENT and a
// short message that names the problem without quoting the input, and none crashes the parser,
// the negotiation or the answer writer.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/sdp/answer.h"
#include "pipeline/sdp/negotiation.h"
#include "pipeline/sdp/parser.h"
#include "tests/pipeline/sdp/sdp_test_util.h"

namespace chorus::sdp {
namespace {

using ::testing::HasSubstr;
using testing::MinimalOffer;
using ::testing::Not;
using testing::ReadFixture;
using testing::Replace;

constexpr size_t kMaxMessageBytes = 120;

// Parses `sdp` as an offer and negotiates it; the first error.
absl::Status OfferError(const std::string& sdp) {
  const absl::StatusOr<Offer> offer = ParseOffer(sdp);
  if (!offer.ok()) return offer.status();
  return Negotiate(*offer, LocalCapabilities{}).status();
}

// `sdp` is refused with a message containing `expected` and not containing `planted`, the text
// the test put into the offer.
void ExpectRefused(const std::string& sdp, const std::string& expected,
                   const std::string& planted) {
  const absl::Status status = OfferError(sdp);
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << expected;
  const std::string message(status.message());
  EXPECT_THAT(message, HasSubstr(expected));
  EXPECT_LE(message.size(), kMaxMessageBytes) << message;
  if (!planted.empty()) {
    EXPECT_THAT(message, Not(HasSubstr(planted))) << message;
  }
}

// Whatever parses must negotiate or fail cleanly, and every answer written must parse back.
void ExpectCleanRun(const std::string& sdp) {
  const absl::StatusOr<Offer> offer = ParseOffer(sdp);
  if (!offer.ok()) {
    ASSERT_EQ(offer.status().code(), absl::StatusCode::kInvalidArgument);
    return;
  }
  const absl::StatusOr<Negotiated> negotiated = Negotiate(*offer, LocalCapabilities{});
  if (!negotiated.ok()) {
    ASSERT_EQ(negotiated.status().code(), absl::StatusCode::kInvalidArgument);
    return;
  }
  const std::string answer = WriteAnswer(*offer, *negotiated, testing::TestAnswerParams());
  const absl::StatusOr<SessionDescription> parsed = ParseAnswer(answer);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << answer;
}

TEST(HostileOfferTest, SizeLimits) {
  ExpectRefused(std::string(kMaxSdpBytes + 1, 'a'), "larger than 65536 bytes", "");
  ExpectRefused(MinimalOffer() + "a=x:" + std::string(kMaxLineBytes, 'Q') + "\n",
                "longer than 4096 bytes", "QQQQ");
  std::string many_sections = MinimalOffer();
  for (int i = 0; i < 1000; ++i) {
    many_sections += "m=audio 9 UDP/TLS/RTP/SAVPF 111\na=mid:m";
    many_sections += std::to_string(i);
    many_sections += "\n";
  }
  ExpectRefused(many_sections, "line 63: more than 16 m-sections", "");
  std::string formats;
  for (int pt = 0; pt <= 64; ++pt) {
    formats += ' ';
    formats += std::to_string(pt + 30);
  }
  ExpectRefused(Replace(MinimalOffer(), "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
                        "m=video 9 UDP/TLS/RTP/SAVPF" + formats),
                "more than 64 formats", "");
  std::string extmaps;
  for (int id = 1; id <= 33; ++id) {
    extmaps += "a=extmap:";
    extmaps += std::to_string(id);
    extmaps += " urn:x\n";
  }
  ExpectRefused(Replace(MinimalOffer(), "a=mid:v\n", "a=mid:v\n" + extmaps),
                "more than 32 a=extmap", "urn:x");
  std::string ssrcs;
  for (int i = 0; i < 257; ++i) {
    ssrcs += "a=ssrc:";
    ssrcs += std::to_string(i + 5);
    ssrcs += " cname:Zed\n";
  }
  ExpectRefused(Replace(MinimalOffer(), "a=mid:v\n", "a=mid:v\n" + ssrcs),
                "more than 256 a=ssrc lines", "Zed");
}

TEST(HostileOfferTest, BrokenLines) {
  ExpectRefused("", "empty SDP", "");
  ExpectRefused(std::string("\n") + MinimalOffer(), "line 1: empty line", "");
  ExpectRefused(Replace(MinimalOffer(), "v=0", "v=1"), "line 1: the SDP must start with v=0", "");
  ExpectRefused(Replace(MinimalOffer(), "s=-\n", "s=-\n\nt=0 0\n"), "line 4: empty line", "");
  ExpectRefused(Replace(MinimalOffer(), "t=0 0\n", "t=0 0\nno equals sign here\n"),
                "line 5: not <type>=<value>", "equals");
  ExpectRefused(Replace(MinimalOffer(), "t=0 0\n", "t=0 0\nX=what\n"), "line 5: unknown line type",
                "what");
  ExpectRefused(Replace(MinimalOffer(), "t=0 0\n", "t=0 0\nx=what\n"), "line 5: unknown line type",
                "what");
  ExpectRefused(Replace(MinimalOffer(), "a=mid:a", std::string("a=mid:a\0b", 9)),
                "line 12: NUL or CR inside the line", "");
  ExpectRefused(MinimalOffer() + std::string("\0", 1), "NUL or CR inside the line", "");
  ExpectRefused(Replace(MinimalOffer(), "a=mid:a", "a=mid:a\rb"), "NUL or CR", "");
  ExpectRefused(Replace(MinimalOffer(), "a=sendrecv", "a=sendrecv:Evil"), "takes no value", "Evil");
  ExpectRefused(Replace(MinimalOffer(), "a=rtcp-mux", "a=bad name:1"), "malformed attribute name",
                "bad name");
  ExpectRefused(Replace(MinimalOffer(), "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
                        "o=- Sess 2 IN IP4 127.0.0.1"),
                "line 2: o=: session id or version is not a number", "Sess");
  ExpectRefused(Replace(MinimalOffer(), "s=-\n", ""), "no s= line", "");
  ExpectRefused(Replace(MinimalOffer(), "s=-\n", "s=-\ns=again\n"), "s= given twice", "again");
  ExpectRefused(MinimalOffer() + "o=- 1 1 IN IP4 0.0.0.0\n", "o= after the first m= line", "");
  std::string session_only = MinimalOffer();
  session_only = session_only.substr(0, session_only.find("m=audio"));
  ExpectRefused(session_only, "no m= line", "");
}

TEST(HostileOfferTest, AbsurdNumbers) {
  ExpectRefused(Replace(MinimalOffer(), "m=audio 9 ", "m=audio 99999 "),
                "line 10: m=: port out of range", "99999");
  ExpectRefused(Replace(MinimalOffer(), "m=audio 9 ", "m=audio 9/2 "), "port counts", "");
  ExpectRefused(Replace(MinimalOffer(), "SAVPF 111 0", "SAVPF 111 300"),
                "m=: payload type out of range", "300");
  ExpectRefused(Replace(MinimalOffer(), "SAVPF 111 0", "SAVPF 111 -1"),
                "m=: payload type out of range", "");
  ExpectRefused(Replace(MinimalOffer(), "SAVPF 111 0", "SAVPF 111 0 111"),
                "payload type listed twice", "");
  ExpectRefused(Replace(MinimalOffer(), "a=rtpmap:0 PCMU/8000", "a=rtpmap:300 PCMU/8000"),
                "a=rtpmap: payload type out of range", "300");
  ExpectRefused(Replace(MinimalOffer(), "a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU/0"),
                "a=rtpmap: clock rate out of range", "");
  ExpectRefused(Replace(MinimalOffer(), "a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU/99999999999"),
                "a=rtpmap: clock rate out of range", "99999999999");
  ExpectRefused(Replace(MinimalOffer(), "a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU/8000/0"),
                "channels out of range", "");
  ExpectRefused(
      Replace(MinimalOffer(), "a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU/8000\na=rtpmap:0 PCMA/8000"),
      "mapped twice", "PCMA");
  ExpectRefused(Replace(MinimalOffer(), "a=extmap:1 ", "a=extmap:0 "),
                "line 15: a=extmap: id out of range (1-255)", "");
  ExpectRefused(Replace(MinimalOffer(), "a=extmap:1 ", "a=extmap:256 "),
                "a=extmap: id out of range", "256");
  ExpectRefused(Replace(MinimalOffer(), "a=extmap:1 ", "a=extmap:2 "), "id used twice", "");
  ExpectRefused(Replace(MinimalOffer(), "a=extmap:1 ", "a=extmap:1/sideways "),
                "a=extmap: unknown direction", "sideways");
  ExpectRefused(Replace(MinimalOffer(), "a=ssrc:1111 ", "a=ssrc:4294967296 "),
                "a=ssrc: SSRC out of range", "4294967296");
  ExpectRefused(Replace(MinimalOffer(), "a=ssrc-group:FID 2222 3333", "a=ssrc-group:FID 2222"),
                "FID needs two SSRCs", "2222");
  ExpectRefused(Replace(MinimalOffer(), "a=mid:a\n",
                        "a=mid:a\na=candidate:1 1 udp 1 10.0.0.1 70000 typ host\n"),
                "a=candidate: port out of range", "70000");
  ExpectRefused(
      Replace(MinimalOffer(), "a=mid:a\n", "a=mid:a\na=candidate:1 0 udp 1 10.0.0.1 7 typ host\n"),
      "a=candidate: component out of range", "");
  ExpectRefused(
      Replace(MinimalOffer(), "a=mid:a\n", "a=mid:a\na=candidate:1 1 udp 1 10.0.0.1 7 typ bogus\n"),
      "a=candidate: unknown type", "bogus");
  ExpectRefused(
      Replace(MinimalOffer(), "a=mid:a\n", "a=mid:a\na=candidate:1 1 udp 1 <script> 7 typ host\n"),
      "a=candidate: malformed address", "script");
  ExpectRefused(Replace(MinimalOffer(), "a=mid:a\n", "a=mid:a\na=candidate:1 1 udp 1\n"),
                "a=candidate: too few fields", "");
}

TEST(HostileOfferTest, TransportAttributes) {
  std::string without_fingerprint = MinimalOffer();
  const size_t at = without_fingerprint.find("a=fingerprint");
  without_fingerprint.erase(at, without_fingerprint.find('\n', at) + 1 - at);
  ExpectRefused(without_fingerprint, "m-section 1 (line 9): no a=fingerprint with sha-256", "");
  ExpectRefused(
      Replace(MinimalOffer(), "a=fingerprint:sha-256 00:11:22", "a=fingerprint:sha-256 00:11:2Z"),
      "line 8: a=fingerprint: not sha-256 hex pairs", "2Z");
  ExpectRefused(Replace(MinimalOffer(), "a=fingerprint:sha-256 ", "a=fingerprint:sha-1 "),
                "no a=fingerprint with sha-256", "");
  ExpectRefused(
      Replace(MinimalOffer(), "a=fingerprint:sha-256 00", "a=fingerprint:sha-256 Hello 00"),
      "a=fingerprint: needs a hash function and hex pairs", "Hello");
  ExpectRefused(Replace(MinimalOffer(), "a=setup:actpass", "a=setup:passive"),
                "a=setup:passive would make Chorus the DTLS client", "");
  ExpectRefused(Replace(MinimalOffer(), "a=setup:actpass", "a=setup:holdconn"), "holdconn", "");
  ExpectRefused(Replace(MinimalOffer(), "a=setup:actpass", "a=setup:Trusted"),
                "a=setup: unknown role", "Trusted");
  ExpectRefused(Replace(MinimalOffer(), "a=setup:actpass\n", ""), "no a=setup", "");
  ExpectRefused(Replace(MinimalOffer(), "a=ice-ufrag:Ufr4", "a=ice-ufrag:Ab!"),
                "line 6: a=ice-ufrag: not 4 to 256 ice-chars", "Ab!");
  ExpectRefused(Replace(MinimalOffer(), "a=ice-ufrag:Ufr4", "a=ice-ufrag:Ufr"), "a=ice-ufrag", "");
  ExpectRefused(Replace(MinimalOffer(), "a=ice-pwd:0123456789abcdefABCDEF",
                        "a=ice-pwd:0123456789abcdefABCDE"),
                "a=ice-pwd: not 22 to 256 ice-chars", "0123456789");
  ExpectRefused(Replace(MinimalOffer(), "a=ice-pwd:0123456789abcdefABCDEF\n", ""),
                "no a=ice-ufrag and a=ice-pwd", "");
}

TEST(HostileOfferTest, BundleAndMids) {
  ExpectRefused(Replace(MinimalOffer(), "a=mid:v", "a=mid:a"), "line 23: a=mid: used by another",
                "");
  ExpectRefused(Replace(MinimalOffer(), "a=mid:v", "a=mid:v\na=mid:w"), "given twice", "");
  ExpectRefused(Replace(MinimalOffer(), "a=mid:v\n", ""), "m-section 2 (line 21): no a=mid", "");
  ExpectRefused(Replace(MinimalOffer(), "a=mid:v", "a=mid:Mid/Slash"), "a=mid: not a token",
                "Mid/Slash");
  ExpectRefused(Replace(MinimalOffer(), "a=mid:v", "a=mid:" + std::string(33, 'm')),
                "a=mid: not a token", "mmmm");
  ExpectRefused(Replace(MinimalOffer(), "a=group:BUNDLE a v\n", ""), "no a=group:BUNDLE", "");
  ExpectRefused(Replace(MinimalOffer(), "a=group:BUNDLE a v", "a=group:BUNDLE"),
                "no a=group:BUNDLE", "");
  ExpectRefused(Replace(MinimalOffer(), "a=group:BUNDLE a v", "a=group:BUNDLE a"),
                "m-section 2 (line 21): not in the BUNDLE group", "");
  ExpectRefused(Replace(MinimalOffer(), "a=group:BUNDLE a v", "a=group:BUNDLE a v ghost"),
                "names a mid that no m-section has", "ghost");
  ExpectRefused(Replace(MinimalOffer(), "a=group:BUNDLE a v", "a=group:BUNDLE a v a"),
                "mid listed twice", "");
  ExpectRefused(Replace(MinimalOffer(), "a=group:BUNDLE a v", "a=group:BUNDLE a v\na=group:BUNDLE"),
                "more than one BUNDLE group", "");
  ExpectRefused(Replace(MinimalOffer(), "a=mid:v\na=sendrecv\na=rtcp-mux\n", "a=mid:v\n"),
                "m-section 2 (line 21): no a=rtcp-mux", "");
  std::string all_rejected = Replace(MinimalOffer(), "m=audio 9", "m=audio 0");
  all_rejected = Replace(all_rejected, "m=video 9", "m=video 0");
  ExpectRefused(all_rejected, "every bundled m-section is rejected", "");
}

TEST(HostileOfferTest, NoCommonCodec) {
  ExpectRefused(Replace(MinimalOffer(), "a=rtpmap:111 opus/48000/2", "a=rtpmap:111 SPEEX/48000/2"),
                "no common audio codec (Chorus needs Opus)", "SPEEX");
}

TEST(HostileOfferTest, EveryTruncationOfEveryFixtureFailsCleanlyOrWorks) {
  for (const std::string& name : testing::FixtureNames()) {
    const std::string full = ReadFixture(name);
    for (size_t length = 0; length <= full.size(); ++length) {
      ExpectCleanRun(full.substr(0, length));
      if (::testing::Test::HasFatalFailure()) {
        FAIL() << name << " cut at " << length;
      }
    }
  }
}

TEST(HostileOfferTest, RandomMutationsOfFixturesFailCleanlyOrWork) {
  std::mt19937 random(20240611);
  static constexpr char kBytes[] = "\0\r\n :/=0123456789abcdefxyzAZ-+*~\xff";
  const std::string bytes(kBytes, sizeof(kBytes) - 1);
  for (const std::string& name : testing::FixtureNames()) {
    const std::string full = ReadFixture(name);
    for (int round = 0; round < 300; ++round) {
      std::string mutated = full;
      const int edits = 1 + static_cast<int>(random() % 8);
      for (int e = 0; e < edits; ++e) {
        const size_t at = random() % mutated.size();
        switch (random() % 3) {
          case 0:
            mutated[at] = bytes[random() % bytes.size()];
            break;
          case 1:
            mutated.erase(at, 1 + random() % 40);
            break;
          default:
            mutated.insert(at, mutated.substr(random() % mutated.size(), random() % 80));
            break;
        }
        if (mutated.empty()) mutated.push_back('v');
      }
      ExpectCleanRun(mutated);
      if (::testing::Test::HasFatalFailure()) FAIL() << name << " round " << round;
    }
  }
}

TEST(HostileOfferTest, RandomBytesFailCleanly) {
  std::mt19937 random(7);
  for (int round = 0; round < 2000; ++round) {
    std::string text = "v=0\n";
    const size_t length = random() % 600;
    for (size_t i = 0; i < length; ++i) text.push_back(static_cast<char>(random() % 256));
    ExpectCleanRun(text);
    if (::testing::Test::HasFatalFailure()) FAIL() << "round " << round;
  }
}

}  // namespace
}  // namespace chorus::sdp
