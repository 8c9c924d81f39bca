#include "pipeline/rtp/jitter_buffer.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::rtp {
namespace {

class JitterBufferTest : public ::testing::Test {
 protected:
  // Inserts packet `sequence` (payload = its low byte) as arriving at `arrival_ms`.
  JitterInsertResult Insert(uint16_t sequence, int64_t arrival_ms) {
    uint8_t payload[1] = {static_cast<uint8_t>(sequence)};
    // Media time follows the arrival schedule (20 ms per packet), so timestamps stay continuous
    // across the sequence number wrap.
    return buffer_.Insert(sequence, static_cast<uint32_t>(arrival_ms * 48), payload,
                          arrival_ms * 1000);
  }
  // Pulls and returns the payload byte, -1 for a loss, -2 for buffering.
  int Pull() {
    JitterFrame frame = buffer_.Pull();
    if (frame.kind == JitterPullKind::kFrame) return frame.payload[0];
    return frame.kind == JitterPullKind::kLost ? -1 : -2;
  }
  JitterBuffer buffer_{48000};
};

TEST_F(JitterBufferTest, PlaysInOrderAfterFillingItsTarget) {
  EXPECT_EQ(Pull(), -2);
  Insert(10, 0);
  Insert(11, 20);
  EXPECT_EQ(Pull(), 10);
  Insert(12, 40);
  EXPECT_EQ(Pull(), 11);
  EXPECT_EQ(Pull(), 12);
}

TEST_F(JitterBufferTest, ReordersAndDropsDuplicatesAndLatePackets) {
  Insert(1, 0);
  Insert(3, 40);
  EXPECT_EQ(Insert(2, 41), JitterInsertResult::kInserted);  // reordered
  EXPECT_EQ(Insert(2, 42), JitterInsertResult::kDuplicate);
  EXPECT_EQ(Pull(), 1);
  EXPECT_EQ(Pull(), 2);
  EXPECT_EQ(Pull(), 3);
  EXPECT_EQ(Insert(1, 60), JitterInsertResult::kTooLate);
  EXPECT_EQ(buffer_.stats().late, 1u);
  EXPECT_EQ(buffer_.stats().duplicate, 1u);
}

TEST_F(JitterBufferTest, ReportsALossWithTheNextPacketForFec) {
  Insert(1, 0);
  Insert(2, 20);
  Insert(4, 60);
  EXPECT_EQ(Pull(), 1);
  EXPECT_EQ(Pull(), 2);
  JitterFrame lost = buffer_.Pull();
  ASSERT_EQ(lost.kind, JitterPullKind::kLost);
  ASSERT_EQ(lost.next_payload.size(), 1u);
  EXPECT_EQ(lost.next_payload[0], 4);
  EXPECT_EQ(Pull(), 4);
}

TEST_F(JitterBufferTest, WrapsAt65535) {
  Insert(65534, 0);
  Insert(65535, 20);
  Insert(0, 40);
  Insert(1, 60);
  EXPECT_EQ(Pull(), 254);
  EXPECT_EQ(Pull(), 255);
  EXPECT_EQ(Pull(), 0);
  EXPECT_EQ(Pull(), 1);
}

TEST_F(JitterBufferTest, APauseStopsPlayoutInsteadOfConcealingForever) {
  Insert(1, 0);
  Insert(2, 20);
  EXPECT_EQ(Pull(), 1);
  EXPECT_EQ(Pull(), 2);
  EXPECT_EQ(Pull(), -1);  // briefly concealed: maybe only late
  EXPECT_EQ(Pull(), -1);
  EXPECT_EQ(Pull(), -1);
  EXPECT_EQ(Pull(), -2);  // then taken as a pause (DTX, end of talk)
}

TEST_F(JitterBufferTest, ARestartedSenderStartsAfresh) {
  Insert(100, 0);
  Insert(101, 20);
  EXPECT_EQ(Pull(), 100);
  EXPECT_EQ(Insert(30000, 40), JitterInsertResult::kRestarted);
  Insert(30001, 60);
  EXPECT_EQ(Pull(), 30000 & 0xff);
}

TEST_F(JitterBufferTest, GrowsItsDelayUnderJitterAndShrinksItSlowly) {
  int64_t now = 0;
  uint16_t sequence = 0;
  // Calm network.
  uint8_t payload[1] = {0};
  for (int i = 0; i < 50; ++i, now += 20, ++sequence) {
    buffer_.Insert(sequence, sequence * 960u, payload, now * 1000);
    buffer_.Pull();
  }
  const int calm = buffer_.target_frames();
  // Packets now arrive up to 80 ms late, in bursts.
  for (int i = 0; i < 100; ++i, now += 20, ++sequence) {
    buffer_.Insert(sequence, sequence * 960u, payload, (now + (i % 5 == 0 ? 80 : 0)) * 1000);
    buffer_.Pull();
  }
  const int jittery = buffer_.target_frames();
  EXPECT_GT(jittery, calm);
  EXPECT_LE(jittery * 20, 200);
  EXPECT_GE(buffer_.stats().target_delay_ms, 80);
}

TEST_F(JitterBufferTest, OversizedPayloadsAreRefused) {
  std::vector<uint8_t> huge(JitterBuffer::kMaxPayload + 1);
  EXPECT_EQ(buffer_.Insert(1, 0, huge, 0), JitterInsertResult::kTooLarge);
}

}  // namespace
}  // namespace chorus::rtp
