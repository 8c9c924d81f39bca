#include "pipeline/rtp/transport_feedback.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/rtp/rtcp.h"
#include "pipeline/rtp/rtp_packet.h"

namespace chorus::rtp {
namespace {

// What a test expects of one sequence number: lost (nullopt) or its arrival in us.
struct Expected {
  uint16_t sequence;
  std::optional<int64_t> arrival_us;
};

struct Parsed {
  TransportFeedbackParseResult result = TransportFeedbackParseResult::kTooShort;
  TransportFeedbackHeader header;
  std::vector<TransportFeedbackStatus> statuses;
};

Parsed Parse(std::span<const uint8_t> packet) {
  Parsed parsed;
  std::vector<TransportFeedbackStatus> statuses(70000);
  parsed.result = ParseTransportFeedback(packet, &parsed.header, statuses);
  if (parsed.result == TransportFeedbackParseResult::kOk) {
    statuses.resize(parsed.header.status_count);
    parsed.statuses = std::move(statuses);
  }
  return parsed;
}

// Arrival times survive to the 250 us tick (rounded down).
int64_t Tick(int64_t arrival_us) { return arrival_us / 250 * 250; }

// Every status of `parsed` matches `expected`, in order.
void ExpectStatuses(const Parsed& parsed, const std::vector<Expected>& expected) {
  ASSERT_EQ(parsed.result, TransportFeedbackParseResult::kOk)
      << TransportFeedbackParseResultName(parsed.result);
  ASSERT_EQ(parsed.statuses.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const TransportFeedbackStatus& status = parsed.statuses[i];
    EXPECT_EQ(status.sequence, expected[i].sequence) << "status " << i;
    EXPECT_EQ(status.received, expected[i].arrival_us.has_value()) << "status " << i;
    if (status.received && expected[i].arrival_us.has_value()) {
      EXPECT_EQ(status.arrival_us, Tick(*expected[i].arrival_us)) << "status " << i;
    }
  }
}

std::vector<uint8_t> BuildFrom(TransportFeedbackBuilder& builder) {
  std::vector<uint8_t> out(1500);
  out.resize(builder.Build(out));
  return out;
}

// ----- The header extension -----

// The sequence number is read from either RFC 8285 form, beside other elements, and from
// padding-only packets (bandwidth probes) too; a packet without it, or whose header does not
// hold together, has none.
TEST(TransportSequenceNumberTest, IsReadFromTheHeaderOfAnyPacket) {
  const uint8_t sequence[] = {0xab, 0xcd};
  const uint8_t level[] = {0x90};
  const uint8_t payload[] = {1, 2, 3};
  std::array<uint8_t, 200> buffer{};
  auto build = [&](uint8_t id, bool padding_only, bool two_byte) {
    RtpPacketBuilder builder;
    builder.set_payload_type(111);
    builder.set_ssrc(5);
    builder.AddCsrc(9);
    builder.AddExtension(1, level);
    builder.AddExtension(id, sequence);
    const uint8_t long_element[20] = {};
    if (two_byte) builder.AddExtension(2, long_element);  // 20 bytes: the two-byte form
    if (padding_only) builder.set_padding_size(200 - 60);
    const size_t size = builder.Build(padding_only ? std::span<const uint8_t>() : payload, buffer);
    return std::span<const uint8_t>(buffer.data(), size);
  };
  EXPECT_EQ(ReadTransportSequenceNumber(build(3, false, false), 3), 0xabcd);
  EXPECT_EQ(ReadTransportSequenceNumber(build(3, false, true), 3), 0xabcd);
  const auto probe = build(3, true, false);
  ASSERT_GT(probe.size(), 0u);
  RtpPacketView view;
  EXPECT_EQ(ParseRtp(probe, &view), RtpParseResult::kEmptyPayload);  // yet it counts:
  EXPECT_EQ(ReadTransportSequenceNumber(probe, 3), 0xabcd);
  EXPECT_FALSE(ReadTransportSequenceNumber(build(3, false, false), 4).has_value());
  EXPECT_FALSE(ReadTransportSequenceNumber(build(3, false, false), 0).has_value());
  // Cut anywhere inside its header, the packet has no number.
  const auto whole = build(3, false, false);
  for (size_t size = 0; size < whole.size() - sizeof(payload); ++size) {
    EXPECT_FALSE(ReadTransportSequenceNumber(whole.first(size), 3).has_value()) << size;
  }
  // A 1-byte element under that id is no sequence number.
  RtpPacketBuilder builder;
  builder.AddExtension(3, level);
  const size_t size = builder.Build(payload, buffer);
  EXPECT_FALSE(
      ReadTransportSequenceNumber(std::span<const uint8_t>(buffer.data(), size), 3).has_value());
}

// ----- The format -----

TEST(TransportFeedbackTest, AMessageRoundTripsThroughTheParser) {
  TransportFeedbackBuilder builder;
  builder.Reset(0x11223344, 0x55667788, 65530, 7, 0);
  // Across the 16-bit wrap: received, two lost, received out of arrival order (a negative
  // delta), a 100 ms pause (a large delta), a burst of 20 lost, then 10 received close together.
  std::vector<Expected> expected;
  uint16_t sequence = 65530;
  auto received = [&](int64_t arrival_us) {
    ASSERT_TRUE(builder.AddReceived(arrival_us));
    expected.push_back({sequence++, arrival_us});
  };
  auto lost = [&] {
    ASSERT_TRUE(builder.AddLost());
    expected.push_back({sequence++, std::nullopt});
  };
  received(1'000'100);
  lost();
  lost();
  received(1'005'000);
  received(1'004'000);
  received(1'104'000);
  for (int i = 0; i < 20; ++i) lost();
  for (int i = 0; i < 10; ++i) received(1'104'000 + 300 * (i + 1));
  const std::vector<uint8_t> message = BuildFrom(builder);
  ASSERT_GT(message.size(), 0u);
  EXPECT_EQ(message.size() % 4, 0u);
  const Parsed parsed = Parse(message);
  ExpectStatuses(parsed, expected);
  EXPECT_EQ(parsed.header.sender_ssrc, 0x11223344u);
  EXPECT_EQ(parsed.header.media_ssrc, 0x55667788u);
  EXPECT_EQ(parsed.header.base_sequence, 65530);
  EXPECT_EQ(parsed.header.status_count, expected.size());
  EXPECT_EQ(parsed.header.feedback_count, 7);
  EXPECT_EQ(parsed.header.reference_time, 1'000'100 / 64'000);  // the first arrival's 64 ms
  EXPECT_EQ(parsed.statuses[7].sequence, 1);                    // wrapped
}

// The chunk forms are chosen as the statuses call for, and the sizes are exact.
TEST(TransportFeedbackTest, ChunksAreRunLengthsOrVectorsAsTheStatusesCallFor) {
  TransportFeedbackBuilder builder;
  // Twenty received 1 ms apart: one run-length chunk of "small delta", twenty 1-byte deltas.
  builder.Reset(1, 2, 100, 0, 0);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(builder.AddReceived(64'000 + 1000 * i));
  std::vector<uint8_t> message = BuildFrom(builder);
  ASSERT_EQ(message.size(), 44u);  // 20 + 2 + 20, padded to 44
  EXPECT_EQ(message[20], 0x20);    // T=0, symbol 01, run 20
  EXPECT_EQ(message[21], 20);
  EXPECT_EQ(message[0] & 0x20, 0x20);  // P set, the last byte the padding count
  EXPECT_EQ(message.back(), 2);
  EXPECT_EQ(Parse(message).result, TransportFeedbackParseResult::kOk);

  // Received and lost alternating, small deltas: one vector of fourteen 1-bit symbols.
  builder.Reset(1, 2, 100, 0, 0);
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(builder.AddReceived(64'000 + 1000 * i));
    ASSERT_TRUE(builder.AddLost());
  }
  message = BuildFrom(builder);
  ASSERT_EQ(message.size(), 32u);  // 20 + 2 + 7 deltas, padded
  EXPECT_EQ(message[20], 0xaa);    // T=1, S=0, then 1,0,1,0,...
  EXPECT_EQ(message[21], 0xaa);

  // A large delta among them: vectors of seven 2-bit symbols.
  builder.Reset(1, 2, 100, 0, 0);
  ASSERT_TRUE(builder.AddReceived(64'000));
  ASSERT_TRUE(builder.AddLost());
  ASSERT_TRUE(builder.AddReceived(64'000 + 200'000));  // 200 ms: 800 ticks, two bytes
  message = BuildFrom(builder);
  ASSERT_EQ(message.size(), 28u);  // 20 + 2 + 1 + 2, padded
  EXPECT_EQ(message[20], 0xd2);    // T=1, S=1, symbols 01 00 10 ...
  EXPECT_EQ(message[21], 0x00);
  ExpectStatuses(Parse(message), {{100, 64'000}, {101, std::nullopt}, {102, 264'000}});
}

// A delta that does not fit in 16 bits of 250 us (a pause of more than 8 s) ends the message.
TEST(TransportFeedbackTest, APauseBeyondEightSecondsEndsTheMessage) {
  TransportFeedbackBuilder builder;
  builder.Reset(1, 2, 0, 0, 0);
  ASSERT_TRUE(builder.AddReceived(0));
  ASSERT_TRUE(builder.AddReceived(8'191'000));
  EXPECT_FALSE(builder.AddReceived(8'191'000 + 8'193'000));
  EXPECT_EQ(builder.status_count(), 2u);
  ASSERT_TRUE(builder.AddReceived(8'191'000 - 8'192'000));  // as far back as fits
  ExpectStatuses(Parse(BuildFrom(builder)), {{0, 0}, {1, 8'191'000}, {2, -1'000}});
}

TEST(TransportFeedbackTest, AMessageOfLostPacketsOnlyKeepsTheFallbackReference) {
  TransportFeedbackBuilder builder;
  builder.Reset(1, 2, 10, 3, 640'000);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(builder.AddLost());
  const std::vector<uint8_t> message = BuildFrom(builder);
  ASSERT_EQ(message.size(), 24u);  // one run-length chunk
  const Parsed parsed = Parse(message);
  ASSERT_EQ(parsed.result, TransportFeedbackParseResult::kOk);
  EXPECT_EQ(parsed.header.reference_time, 10);
  EXPECT_EQ(parsed.header.status_count, 100);
  for (const auto& status : parsed.statuses) EXPECT_FALSE(status.received);
}

// A message never exceeds kMaxBytes nor kMaxStatuses, whatever it is asked to carry.
TEST(TransportFeedbackTest, MessagesStayWithinTheirLimits) {
  TransportFeedbackBuilder builder;
  // Worst case for bytes: large deltas (2 bytes each) between losses, in 2-bit vectors.
  builder.Reset(1, 2, 0, 0, 0);
  int64_t arrival = 0;
  size_t added = 0;
  for (;;) {
    if (!builder.AddReceived(arrival)) break;
    ++added;
    arrival += (added % 4 == 1) ? 100'000 : -50'000;  // large, then negative
    if (!builder.AddLost()) break;
    ++added;
  }
  std::vector<uint8_t> message = BuildFrom(builder);
  EXPECT_LE(message.size(), TransportFeedbackBuilder::kMaxBytes);
  EXPECT_GT(message.size(), TransportFeedbackBuilder::kMaxBytes - 12);
  EXPECT_EQ(Parse(message).header.status_count, added);
  // Worst case for statuses: all lost costs almost nothing, so the count bounds the message.
  builder.Reset(1, 2, 0, 0, 0);
  added = 0;
  while (builder.AddLost()) ++added;
  EXPECT_EQ(added, TransportFeedbackBuilder::kMaxStatuses);
  EXPECT_EQ(Parse(BuildFrom(builder)).header.status_count, TransportFeedbackBuilder::kMaxStatuses);
  // Nothing added: nothing written. Too small a buffer: nothing written.
  builder.Reset(1, 2, 0, 0, 0);
  std::array<uint8_t, 64> out{};
  EXPECT_EQ(builder.Build(out), 0u);
  ASSERT_TRUE(builder.AddReceived(0));
  EXPECT_EQ(builder.Build(std::span<uint8_t>(out).first(20)), 0u);
  EXPECT_EQ(builder.Build(out), 24u);
}

// Bad messages are refused with their reason.
TEST(TransportFeedbackTest, MalformedMessagesAreRefusedByReason) {
  using Result = TransportFeedbackParseResult;
  TransportFeedbackBuilder builder;
  builder.Reset(1, 2, 0, 0, 0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(builder.AddReceived(1000 * i));
  const std::vector<uint8_t> good = BuildFrom(builder);  // 20 + 2 + 5 deltas + 1 padding = 28
  ASSERT_EQ(good.size(), 28u);
  ASSERT_EQ(Parse(good).result, Result::kOk);
  TransportFeedbackHeader header;
  std::array<TransportFeedbackStatus, 4> four{};
  EXPECT_EQ(ParseTransportFeedback(good, &header, four), Result::kTooMany);
  for (size_t size = 0; size < good.size(); ++size) {
    const Result result = Parse(std::span<const uint8_t>(good).first(size)).result;
    EXPECT_EQ(result, Result::kTooShort) << size;
  }
  auto with = [&](size_t index, uint8_t value) {
    std::vector<uint8_t> bad = good;
    bad[index] = value;
    return Parse(bad).result;
  };
  EXPECT_EQ(with(0, 0x80 | 0x20 | 1), Result::kNotFeedback);  // a NACK
  EXPECT_EQ(with(1, kRtcpPsfb), Result::kNotFeedback);
  EXPECT_EQ(with(0, 0x40 | 0x20 | 15), Result::kNotFeedback);  // version 1
  EXPECT_EQ(with(27, 0), Result::kBadPadding);
  EXPECT_EQ(with(27, 9), Result::kBadPadding);
  EXPECT_EQ(with(15, 0), Result::kEmpty);
  EXPECT_EQ(with(20, 0x60), Result::kBadChunk);  // run of the reserved symbol
  {
    std::vector<uint8_t> bad = good;
    bad[20] = 0x20;  // a run of 0
    bad[21] = 0;
    EXPECT_EQ(Parse(bad).result, Result::kBadChunk);
    bad[21] = 6;  // longer than the 5 statuses
    EXPECT_EQ(Parse(bad).result, Result::kBadChunk);
    bad[20] = 0xf0;  // a 2-bit vector starting with the reserved symbol
    bad[21] = 0;
    EXPECT_EQ(Parse(bad).result, Result::kBadChunk);
  }
  EXPECT_EQ(with(15, 40), Result::kBadChunk);  // 40 statuses, one chunk of 5, then deltas
  {
    // Five statuses announced, the deltas of two: the packet ends first.
    std::vector<uint8_t> bad(good.begin(), good.begin() + 24);
    bad[0] = 0x80 | 15;  // no padding
    bad[3] = 24 / 4 - 1;
    EXPECT_EQ(Parse(bad).result, Result::kMissingDelta);
    // Zero padding without the P bit is read (what the draft's figure shows).
    std::vector<uint8_t> unflagged = good;
    unflagged[0] = 0x80 | 15;
    unflagged[27] = 0;
    EXPECT_EQ(Parse(unflagged).result, Result::kOk);
    // But no more than padding.
    unflagged.insert(unflagged.end(), {0, 0, 0, 0});
    unflagged[3] = static_cast<uint8_t>(unflagged.size() / 4 - 1);
    EXPECT_EQ(Parse(unflagged).result, Result::kTrailingBytes);
  }
  // A negative reference time (the 24-bit field is signed).
  std::vector<uint8_t> negative = good;
  negative[16] = 0xff;
  negative[17] = 0xff;
  negative[18] = 0xfe;
  const Parsed parsed = Parse(negative);
  ASSERT_EQ(parsed.result, Result::kOk);
  EXPECT_EQ(parsed.header.reference_time, -2);
  EXPECT_EQ(parsed.statuses[0].arrival_us, -2 * 64'000);
}

// Hostile input never crashes the parser, and what parses is consistent: statuses within the
// caller's span, numbered from the base, every length the parser accepted covered.
TEST(TransportFeedbackTest, RandomAndMutatedInputNeverBreaksTheParser) {
  std::mt19937 random(20261206);
  TransportFeedbackBuilder builder;
  std::vector<TransportFeedbackStatus> statuses(300);
  int ok = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> data;
    if (round % 2 == 0) {
      data.resize(random() % 120);
      for (auto& byte : data) byte = static_cast<uint8_t>(random());
      if (data.size() >= 4) {
        data[0] = static_cast<uint8_t>(0x80 | (random() % 2 ? 0x20 : 0) | 15);
        data[1] = kRtcpRtpfb;
        data[2] = 0;
        data[3] = static_cast<uint8_t>(data.size() / 4 - 1 + random() % 3);
      }
    } else {
      builder.Reset(1, 2, static_cast<uint16_t>(random()), 0, 0);
      int64_t arrival = 0;
      for (int i = 0, n = static_cast<int>(random() % 200) + 1; i < n; ++i) {
        if (random() % 3 == 0) {
          builder.AddLost();
        } else {
          arrival += static_cast<int64_t>(random() % 300'000) - 100'000;
          builder.AddReceived(arrival);
        }
      }
      data.resize(1500);
      data.resize(builder.Build(data));
      for (int flips = static_cast<int>(random() % 4); flips > 0 && !data.empty(); --flips) {
        data[random() % data.size()] ^= static_cast<uint8_t>(1u << (random() % 8));
      }
    }
    TransportFeedbackHeader header;
    if (ParseTransportFeedback(data, &header, statuses) != TransportFeedbackParseResult::kOk) {
      continue;
    }
    ++ok;
    ASSERT_GE(header.status_count, 1u);
    ASSERT_LE(header.status_count, statuses.size());
    for (size_t i = 0; i < header.status_count; ++i) {
      ASSERT_EQ(statuses[i].sequence, static_cast<uint16_t>(header.base_sequence + i));
    }
  }
  EXPECT_GT(ok, 1000);  // the mutations left plenty intact
}

// ----- The recorder -----

// Feeds (sequence, arrival) pairs, then collects every message and checks the statuses they
// report, in order, against `expected`.
void ExpectReports(TransportFeedbackRecorder& recorder, const std::vector<Expected>& expected,
                   size_t* messages = nullptr) {
  std::vector<Expected> reported;
  std::vector<uint8_t> out(1500);
  size_t count = 0;
  int64_t base_us = -1;
  for (size_t size; (size = recorder.BuildNext(out)) > 0;) {
    ++count;
    const Parsed parsed = Parse(std::span<const uint8_t>(out.data(), size));
    ASSERT_EQ(parsed.result, TransportFeedbackParseResult::kOk);
    for (const auto& status : parsed.statuses) {
      std::optional<int64_t> arrival;
      if (status.received) {
        if (base_us < 0) base_us = status.arrival_us;
        arrival = status.arrival_us - base_us;
      }
      reported.push_back({status.sequence, arrival});
    }
  }
  EXPECT_FALSE(recorder.pending());
  if (messages != nullptr) *messages = count;
  ASSERT_EQ(reported.size(), expected.size());
  int64_t expected_base = -1;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(reported[i].sequence, expected[i].sequence) << i;
    EXPECT_EQ(reported[i].arrival_us.has_value(), expected[i].arrival_us.has_value()) << i;
    if (reported[i].arrival_us.has_value() && expected[i].arrival_us.has_value()) {
      if (expected_base < 0) expected_base = Tick(*expected[i].arrival_us);
      EXPECT_EQ(*reported[i].arrival_us, Tick(*expected[i].arrival_us) - expected_base) << i;
    }
  }
}

TEST(TransportFeedbackRecorderTest, LossesReorderingAndDuplicatesAreReportedInOrder) {
  TransportFeedbackRecorder recorder(0xfeed);
  EXPECT_FALSE(recorder.pending());
  std::array<uint8_t, 1500> out{};
  EXPECT_EQ(recorder.BuildNext(out), 0u);
  const int64_t t0 = 5'000'000;
  recorder.OnPacket(100, 0xa, t0);
  recorder.OnPacket(102, 0xa, t0 + 2'000);  // 101 missing for now
  recorder.OnPacket(104, 0xa, t0 + 3'000);
  recorder.OnPacket(103, 0xa, t0 + 3'500);  // reordered
  recorder.OnPacket(104, 0xa, t0 + 9'000);  // duplicate: the first arrival counts
  EXPECT_TRUE(recorder.pending());
  size_t messages = 0;
  ASSERT_NO_FATAL_FAILURE(ExpectReports(
      recorder,
      {{100, t0}, {101, std::nullopt}, {102, t0 + 2'000}, {103, t0 + 3'500}, {104, t0 + 3'000}},
      &messages));
  EXPECT_EQ(messages, 1u);
  // 101 arrives after it was reported lost: ignored.
  recorder.OnPacket(101, 0xa, t0 + 10'000);
  EXPECT_EQ(recorder.late_packets(), 1u);
  EXPECT_FALSE(recorder.pending());
  // The next message starts after the last one and counts on.
  recorder.OnPacket(105, 0xa, t0 + 60'000);
  const size_t size = recorder.BuildNext(out);
  const Parsed next = Parse(std::span<const uint8_t>(out.data(), size));
  ASSERT_EQ(next.result, TransportFeedbackParseResult::kOk);
  EXPECT_EQ(next.header.base_sequence, 105);
  EXPECT_EQ(next.header.feedback_count, 1);
  EXPECT_EQ(next.header.sender_ssrc, 0xfeedu);
  EXPECT_EQ(next.header.media_ssrc, 0xau);
}

TEST(TransportFeedbackRecorderTest, TheSixteenBitSequenceWrapsAround) {
  TransportFeedbackRecorder recorder(1);
  std::vector<Expected> expected;
  int64_t t = 0;
  for (uint16_t sequence = 65530; sequence != 6; ++sequence) {
    t += 20'000;
    if (sequence == 65535 || sequence == 2) {
      expected.push_back({sequence, std::nullopt});
      continue;
    }
    recorder.OnPacket(sequence, 7, t);
    expected.push_back({sequence, t});
  }
  ASSERT_NO_FATAL_FAILURE(ExpectReports(recorder, expected));
  // And on, across a second wrap, in several rounds of feedback.
  expected.clear();
  for (int round = 0; round < 70; ++round) {
    for (int i = 0; i < 1000; ++i) {
      const auto sequence = static_cast<uint16_t>(6 + round * 1000 + i);
      t += 1'000;
      recorder.OnPacket(sequence, 7, t);
      if (round == 69 && i >= 990) expected.push_back({sequence, t});
    }
    if (round < 69) {
      std::vector<uint8_t> out(1500);
      while (recorder.BuildNext(out) > 0) {
      }
    }
  }
  // Only the last 10 of the last round are checked here: the first 990 are in the messages too.
  std::vector<uint8_t> out(1500);
  std::vector<Expected> tail;
  size_t size = 0;
  std::vector<TransportFeedbackStatus> all;
  while ((size = recorder.BuildNext(out)) > 0) {
    const Parsed parsed = Parse(std::span<const uint8_t>(out.data(), size));
    ASSERT_EQ(parsed.result, TransportFeedbackParseResult::kOk);
    all.insert(all.end(), parsed.statuses.begin(), parsed.statuses.end());
  }
  ASSERT_EQ(all.size(), 1000u);
  for (size_t i = 0; i < 10; ++i) {
    const TransportFeedbackStatus& status = all[990 + i];
    EXPECT_EQ(status.sequence, expected[i].sequence);
    EXPECT_TRUE(status.received);
    EXPECT_EQ(status.arrival_us - all[990].arrival_us,
              Tick(*expected[i].arrival_us) - Tick(*expected[0].arrival_us));
  }
  EXPECT_EQ(recorder.late_packets(), 0u);
}

// A jump far ahead gives up the oldest unreported numbers (the window holds kWindow), and a
// pause of more than 8 s between arrivals splits the report into two messages.
TEST(TransportFeedbackRecorderTest, LargeGapsInSequenceAndTimeAreReported) {
  TransportFeedbackRecorder recorder(1);
  recorder.OnPacket(10, 7, 0);
  recorder.OnPacket(11, 7, 1'000);
  recorder.OnPacket(11 + 5000, 7, 2'000);  // 5000 ahead: 10 and 11 no longer fit the window
  std::vector<Expected> expected;
  const uint16_t first = 11 + 5000 - TransportFeedbackRecorder::kWindow + 1;
  for (uint16_t sequence = first; sequence < 11 + 5000; ++sequence) {
    expected.push_back({sequence, std::nullopt});
  }
  expected.push_back({11 + 5000, 2'000});
  size_t messages = 0;
  ASSERT_NO_FATAL_FAILURE(ExpectReports(recorder, expected, &messages));
  EXPECT_EQ(messages, 1u);  // 2047 lost packets cost a chunk

  recorder.OnPacket(11 + 5001, 7, 3'000);
  recorder.OnPacket(11 + 5002, 7, 3'000 + 9'000'000);  // 9 s later
  ASSERT_NO_FATAL_FAILURE(
      ExpectReports(recorder, {{11 + 5001, 3'000}, {11 + 5002, 3'000 + 9'000'000}}, &messages));
  EXPECT_EQ(messages, 2u);
}

// A flood of packets is reported in as many messages as it takes, each within the limits, and
// every packet once.
TEST(TransportFeedbackRecorderTest, AFloodIsReportedInSeveralMessages) {
  TransportFeedbackRecorder recorder(1);
  std::vector<Expected> expected;
  std::mt19937 random(5);
  int64_t t = 1'000'000;
  for (int i = 0; i < 2000; ++i) {
    const auto sequence = static_cast<uint16_t>(40000 + i);
    t += random() % 2 == 0 ? 250 : 70'000;  // mixes small and large deltas
    if (random() % 10 == 0) {
      expected.push_back({sequence, std::nullopt});
      continue;
    }
    recorder.OnPacket(sequence, 7, t);
    expected.push_back({sequence, t});
  }
  size_t messages = 0;
  ASSERT_NO_FATAL_FAILURE(ExpectReports(recorder, expected, &messages));
  EXPECT_GT(messages, 1u);
}

}  // namespace
}  // namespace chorus::rtp
