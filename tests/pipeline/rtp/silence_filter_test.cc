#include "pipeline/rtp/silence_filter.h"

#include <poll.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/net/udp_socket.h"
#include "pipeline/rtp/audio_level.h"
#include "pipeline/rtp/rtp_packet.h"

// The program is run by the kernel (its BPF interpreter or JIT, an implementation independent of
// ours) on real datagrams over loopback, and judged by the project's own RTP parser.
namespace chorus::rtp {
namespace {

constexpr uint8_t kLevelId = 1;
constexpr uint8_t kOpus = 111;
constexpr uint16_t kSample = 64;

std::vector<uint8_t> WithIndex(std::vector<uint8_t> datagram, uint32_t index) {
  const size_t at = datagram.size();
  datagram.resize(at + 4);
  std::memcpy(datagram.data() + at, &index, 4);
  return datagram;
}

// A receiving socket with the filter, and a sender; every datagram carries its index in its last
// four bytes, and a batch ends with a marker that always passes (not RTP), so a batch's fate is
// known without waiting on a clock.
class FilteredPair {
 public:
  explicit FilteredPair(const std::vector<sock_filter>& program) {
    auto address = net::SocketAddress::FromIp("127.0.0.1", 0);
    receiver_ = *net::UdpSocket::Bind(*address);
    sender_ = *net::UdpSocket::Bind(*address);
    attached_ = receiver_->SetReceiveFilter(program);
  }
  bool attached() const { return attached_; }

  // Sends `packets` (each with its index appended) and returns which arrived.
  std::vector<bool> Deliver(const std::vector<std::vector<uint8_t>>& packets) {
    std::vector<bool> arrived(packets.size(), false);
    for (size_t start = 0; start < packets.size(); start += 200) {
      const size_t end = std::min(packets.size(), start + 200);
      for (size_t i = start; i < end; ++i) Send(packets[i], static_cast<uint32_t>(i));
      Send({0x00, 0x01}, kMarker);  // a STUN-like first byte: never dropped
      std::array<uint8_t, 2048> buffer{};
      for (;;) {
        pollfd descriptor{receiver_->fd(), POLLIN, 0};
        if (poll(&descriptor, 1, 5000) <= 0) {
          ADD_FAILURE() << "the marker did not arrive";
          return arrived;
        }
        const int length = receiver_->Receive(buffer, nullptr);
        if (length < 4) continue;
        uint32_t index = 0;
        std::memcpy(&index, buffer.data() + length - 4, 4);
        if (index == kMarker) break;
        if (index < arrived.size()) arrived[index] = true;
      }
    }
    return arrived;
  }

 private:
  static constexpr uint32_t kMarker = 0xffffffffu;
  void Send(const std::vector<uint8_t>& datagram, uint32_t index) {
    ASSERT_TRUE(sender_->Send(WithIndex(datagram, index), receiver_->local_address()));
  }
  std::unique_ptr<net::UdpSocket> receiver_;
  std::unique_ptr<net::UdpSocket> sender_;
  bool attached_ = false;
};

struct Element {
  uint8_t id;
  std::vector<uint8_t> data;
};

std::vector<uint8_t> Packet(uint8_t payload_type, uint16_t sequence,
                            const std::vector<Element>& elements, int csrcs = 0) {
  RtpPacketBuilder builder;
  builder.set_payload_type(payload_type);
  builder.set_sequence_number(sequence);
  builder.set_timestamp(960u * sequence);
  builder.set_ssrc(0x1234);
  for (int i = 0; i < csrcs; ++i) builder.AddCsrc(100 + i);
  for (const Element& element : elements) builder.AddExtension(element.id, element.data);
  const std::array<uint8_t, 12> payload = {0x78, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  std::vector<uint8_t> out(1500);
  out.resize(builder.Build(payload, out));
  return out;
}

// What the project's parser makes of it: digital silence of the participant's codec that the
// filter is meant to drop (not the sampled one).
enum class Verdict { kMalformed, kSilence, kOther };
Verdict Judge(std::span<const uint8_t> datagram) {
  RtpPacketView view;
  if (ParseRtp(datagram, &view) != RtpParseResult::kOk) return Verdict::kMalformed;
  const auto level = ParseAudioLevel(view.FindExtension(kLevelId));
  const bool silence = view.payload_type == kOpus && view.sequence_number % kSample != 0 &&
                       level.has_value() && level->level == kSilentLevel;
  return silence ? Verdict::kSilence : Verdict::kOther;
}

TEST(SilenceFilterTest, RefusesWhatItCannotFilterOn) {
  EXPECT_TRUE(DigitalSilenceFilter(0, kOpus, kSample).empty());
  EXPECT_TRUE(DigitalSilenceFilter(15, kOpus, kSample).empty());
  EXPECT_TRUE(DigitalSilenceFilter(kLevelId, kOpus, 48).empty());
  EXPECT_TRUE(DigitalSilenceFilter(kLevelId, kOpus, 1).empty());
  EXPECT_TRUE(DigitalSilenceFilter(kLevelId, 200, kSample).empty());
  EXPECT_FALSE(DigitalSilenceFilter(kLevelId, kOpus, kSample).empty());
}

TEST(SilenceFilterTest, TheKernelDropsDigitalSilenceOnlyAndLetsOneInASampleThrough) {
  FilteredPair pair(DigitalSilenceFilter(kLevelId, kOpus, kSample));
  ASSERT_TRUE(pair.attached());
  const std::vector<uint8_t> silent = {0x7f};
  const std::vector<uint8_t> silent_with_voice_bit = {0xff};
  const std::vector<uint8_t> quiet = {0x7e};
  const std::vector<uint8_t> loud = {0x80 | 20};
  const std::vector<uint8_t> other = {0x12, 0x34};
  struct Case {
    const char* what;
    std::vector<uint8_t> datagram;
    bool dropped;
  };
  std::vector<Case> cases = {
      {"silence", Packet(kOpus, 1, {{kLevelId, silent}}), true},
      {"silence, voice bit set", Packet(kOpus, 2, {{kLevelId, silent_with_voice_bit}}), true},
      {"the sampled one", Packet(kOpus, 128, {{kLevelId, silent}}), false},
      {"-126 dBov", Packet(kOpus, 3, {{kLevelId, quiet}}), false},
      {"speech", Packet(kOpus, 4, {{kLevelId, loud}}), false},
      {"silence after CSRCs", Packet(kOpus, 5, {{kLevelId, silent}}, 3), true},
      {"silence as the third element",
       Packet(kOpus, 6, {{3, other}, {5, loud}, {kLevelId, silent}}), true},
      {"silence as the fifth element",
       Packet(kOpus, 7, {{2, other}, {3, other}, {4, other}, {5, other}, {kLevelId, silent}}),
       false},
      {"another id holding 127", Packet(kOpus, 8, {{4, silent}, {kLevelId, loud}}), false},
      {"no level", Packet(kOpus, 9, {{4, silent}}), false},
      {"no extension", Packet(kOpus, 10, {}), false},
      {"another payload type", Packet(101, 11, {{kLevelId, silent}}), false},
      {"the two-byte form", Packet(kOpus, 12, {{kLevelId, silent}, {20, other}}), false},
  };
  // A padding byte before the level (RFC 8285 allows it): the filter gives up and passes it.
  // Elements from byte 16: [0x31 x x] [0x10 0x7f] [padding] becomes [0x31 x x] [0] [0x10 0x7f].
  std::vector<uint8_t> padded = Packet(kOpus, 13, {{3, other}, {kLevelId, silent}});
  padded[19] = 0x00;
  padded[20] = 0x10;
  padded[21] = 0x7f;
  cases.push_back({"padding before the level", padded, false});
  // An extension that claims no elements: what follows it is payload, not a level.
  std::vector<uint8_t> empty_extension = Packet(kOpus, 14, {{kLevelId, loud}});
  empty_extension[15] = 0;
  empty_extension[16] = 0x10;  // id 1, one byte...
  empty_extension[17] = 0x7f;  // ...saying silence, outside the (empty) extension
  cases.push_back({"a level outside the extension", empty_extension, false});
  // RTCP (a receiver report of the same participant) and a DTLS record.
  cases.push_back({"RTCP", {0x80, 201, 0, 1, 0, 0, 0x12, 0x34}, false});
  cases.push_back({"DTLS", {22, 0xfe, 0xfd, 0, 0}, false});

  std::vector<std::vector<uint8_t>> datagrams;
  for (const Case& c : cases) datagrams.push_back(c.datagram);
  const std::vector<bool> arrived = pair.Deliver(datagrams);
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(!arrived[i], cases[i].dropped) << cases[i].what;
  }
}

TEST(SilenceFilterTest, NeverDropsWhatTheParserDoesNotCallSilenceAmongRandomPackets) {
  FilteredPair pair(DigitalSilenceFilter(kLevelId, kOpus, kSample));
  ASSERT_TRUE(pair.attached());
  std::mt19937 random(20261207);
  auto below = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  std::vector<std::vector<uint8_t>> datagrams;
  std::vector<bool> canonical;  // built well formed, level within the first four elements
  for (int i = 0; i < 3000; ++i) {
    std::vector<Element> elements;
    const int count = below(5);
    const int level_at = below(count + 1);  // == count: no level element
    for (int e = 0; e < count; ++e) {
      if (e == level_at) {
        elements.push_back({kLevelId, {static_cast<uint8_t>(below(2) ? 0x7f : below(256))}});
      } else {
        std::vector<uint8_t> data(static_cast<size_t>(1 + below(4)));
        for (auto& byte : data) byte = static_cast<uint8_t>(below(256));
        elements.push_back({static_cast<uint8_t>(2 + e), data});
      }
    }
    std::vector<uint8_t> datagram = Packet(below(4) ? kOpus : static_cast<uint8_t>(below(128)),
                                           static_cast<uint16_t>(random()), elements, below(3));
    bool intact = true;
    if (below(3) == 0) {  // hostile: flip bytes of the header and extension, or cut it short
      const int flips = 1 + below(3);
      for (int f = 0; f < flips; ++f) {
        datagram[static_cast<size_t>(
            below(static_cast<int>(std::min<size_t>(datagram.size(), 40))))] =
            static_cast<uint8_t>(below(256));
      }
      if (below(4) == 0)
        datagram.resize(static_cast<size_t>(below(static_cast<int>(datagram.size()))));
      intact = false;
    }
    canonical.push_back(intact && level_at < count);
    datagrams.push_back(std::move(datagram));
  }
  const std::vector<bool> arrived = pair.Deliver(datagrams);
  int dropped = 0;
  for (size_t i = 0; i < datagrams.size(); ++i) {
    // Judged as sent: with the index the pair appends (in a cut packet it is header).
    const Verdict verdict = Judge(WithIndex(datagrams[i], static_cast<uint32_t>(i)));
    if (!arrived[i]) {
      ++dropped;
      EXPECT_NE(verdict, Verdict::kOther) << "packet " << i << " was dropped but is not silence";
    } else if (canonical[i]) {
      EXPECT_NE(verdict, Verdict::kSilence) << "packet " << i << " is silence but passed";
    }
  }
  EXPECT_GT(dropped, 300);  // the property is not vacuous
}

}  // namespace
}  // namespace chorus::rtp
