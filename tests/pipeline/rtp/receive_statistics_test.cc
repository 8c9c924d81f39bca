#include "pipeline/rtp/receive_statistics.h"

#include <cstdint>
#include <initializer_list>

#include "gtest/gtest.h"

namespace chorus::rtp {
namespace {

constexpr uint32_t kRate = 8000;  // 8 RTP units per millisecond
constexpr uint32_t kFrame = 160;  // 20 ms

// Feeds sequence numbers arriving exactly on time (20 ms apart).
void Feed(ReceiveStatistics& stats, std::initializer_list<int> sequences) {
  for (int s : sequences) {
    stats.OnPacket(static_cast<uint16_t>(s), static_cast<uint32_t>(s) * kFrame,
                   int64_t{s} * 20'000);
  }
}

TEST(ReceiveStatisticsTest, ValidatesASourceAfterTwoPacketsInSequence) {
  ReceiveStatistics stats(kRate);
  EXPECT_EQ(stats.OnPacket(10, 0, 0), SequenceUpdate::kProbation);
  EXPECT_FALSE(stats.valid());
  EXPECT_EQ(stats.expected(), 0);
  EXPECT_EQ(stats.OnPacket(11, kFrame, 20'000), SequenceUpdate::kValid);
  EXPECT_TRUE(stats.valid());
  Feed(stats, {12, 13});
  EXPECT_EQ(stats.received(), 3u);  // the first packet only opened probation
  EXPECT_EQ(stats.expected(), 3);
  EXPECT_EQ(stats.cumulative_lost(), 0);
}

TEST(ReceiveStatisticsTest, ProbationRestartsOnAnOutOfOrderPacket) {
  ReceiveStatistics stats(kRate);
  EXPECT_EQ(stats.OnPacket(10, 0, 0), SequenceUpdate::kProbation);
  EXPECT_EQ(stats.OnPacket(20, 0, 0), SequenceUpdate::kProbation);
  EXPECT_EQ(stats.OnPacket(21, 0, 0), SequenceUpdate::kValid);
  EXPECT_EQ(stats.extended_highest_sequence(), 21u);
}

TEST(ReceiveStatisticsTest, LossAndFractionLostPerReport) {
  ReceiveStatistics stats(kRate);
  Feed(stats, {0, 1, 2, 4, 5, 7});  // valid from 1: expected 1..7 = 7, received 5
  EXPECT_EQ(stats.expected(), 7);
  EXPECT_EQ(stats.cumulative_lost(), 2);
  ReportBlock block = stats.MakeReportBlock(0x1234, 200'000);
  EXPECT_EQ(block.ssrc, 0x1234u);
  EXPECT_EQ(block.fraction_lost, (2 << 8) / 7);  // 73
  EXPECT_EQ(block.cumulative_lost, 2);
  EXPECT_EQ(block.highest_sequence, 7u);
  EXPECT_NEAR(stats.loss_ratio(), 2.0 / 7.0, 1e-9);
  Feed(stats, {8, 9, 10});
  block = stats.MakeReportBlock(0x1234, 400'000);
  EXPECT_EQ(block.fraction_lost, 0);  // nothing lost in this interval
  EXPECT_EQ(block.cumulative_lost, 2);
  Feed(stats, {11, 14});  // 12 and 13 lost of 4 expected
  block = stats.MakeReportBlock(0x1234, 600'000);
  EXPECT_EQ(block.fraction_lost, 128);
  EXPECT_EQ(block.cumulative_lost, 4);
}

TEST(ReceiveStatisticsTest, SequenceCyclesAcrossWrapAround) {
  ReceiveStatistics stats(kRate);
  Feed(stats, {65534, 65535});
  stats.OnPacket(0, 0, 0);
  stats.OnPacket(1, 0, 0);
  EXPECT_EQ(stats.extended_highest_sequence(), 65537u);
  EXPECT_EQ(stats.expected(), 3);
  EXPECT_EQ(stats.cumulative_lost(), 0);
  stats.OnPacket(65535, 0, 0);  // a late duplicate from before the wrap
  EXPECT_EQ(stats.extended_highest_sequence(), 65537u);
  EXPECT_EQ(stats.cumulative_lost(), 0);                       // metrics: never negative
  EXPECT_EQ(stats.MakeReportBlock(1, 0).cumulative_lost, -1);  // RFC 3550: signed
}

TEST(ReceiveStatisticsTest, InterarrivalJitterMatchesAppendixA8ByHand) {
  ReceiveStatistics stats(kRate);
  // Arrivals at 0, 20, 45 (5 ms late), 60, 80 ms. Transit in RTP units: 0, 0, 40, 0, 0; the
  // first packet is on probation, so D = 40, 40, 0 from the third packet on.
  const int64_t arrival_ms[] = {0, 20, 45, 60, 80};
  for (int i = 0; i < 5; ++i) {
    stats.OnPacket(static_cast<uint16_t>(100 + i), static_cast<uint32_t>(i) * kFrame,
                   arrival_ms[i] * 1000);
  }
  double j = 0;
  j += (40 - j) / 16;
  j += (40 - j) / 16;
  j += (0 - j) / 16;
  EXPECT_EQ(stats.jitter(), static_cast<uint32_t>(j));  // 4.54 -> 4
  EXPECT_NEAR(stats.jitter_ms(), j / 8.0, 1e-9);
  EXPECT_EQ(stats.MakeReportBlock(1, 100'000).jitter, 4u);
}

TEST(ReceiveStatisticsTest, ResynchronisesOnASenderRestartButNotOnAStrayPacket) {
  ReceiveStatistics stats(kRate);
  Feed(stats, {100, 101, 102, 103});
  EXPECT_EQ(stats.OnPacket(9000, 0, 0), SequenceUpdate::kBadJump);  // stray
  EXPECT_EQ(stats.OnPacket(104, 0, 0), SequenceUpdate::kValid);
  EXPECT_EQ(stats.received(), 4u);
  EXPECT_EQ(stats.OnPacket(5000, 0, 0), SequenceUpdate::kBadJump);
  EXPECT_EQ(stats.OnPacket(5001, 0, 0), SequenceUpdate::kResynced);
  EXPECT_EQ(stats.received(), 1u);
  EXPECT_EQ(stats.expected(), 1);
  EXPECT_EQ(stats.extended_highest_sequence(), 5001u);
  stats.Reset();
  EXPECT_FALSE(stats.valid());
  EXPECT_EQ(stats.received(), 0u);
}

TEST(ReceiveStatisticsTest, LsrAndDlsrComeFromTheLastSenderReport) {
  ReceiveStatistics stats(kRate);
  Feed(stats, {1, 2, 3});
  ReportBlock block = stats.MakeReportBlock(9, 1'000'000);
  EXPECT_EQ(block.last_sr, 0u);
  EXPECT_EQ(block.delay_since_last_sr, 0u);
  stats.OnSenderReport(0x83aa7e8080000000ull, 1'000'000);
  block = stats.MakeReportBlock(9, 2'500'000);
  EXPECT_EQ(block.last_sr, 0x7e808000u);
  EXPECT_EQ(block.delay_since_last_sr, 0x18000u);  // 1.5 s in 1/65536 s
}

}  // namespace
}  // namespace chorus::rtp
