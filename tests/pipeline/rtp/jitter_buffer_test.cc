#include "pipeline/rtp/jitter_buffer.h"

// GCC 12 reports a false -Wrestrict in std::string concatenation at -O3 (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/base/clock.h"
#include "pipeline/rtp/rtp_packet.h"
#include "tests/pipeline/rtp/allocation_counter.h"

namespace chorus::rtp {
namespace {

using ::testing::ElementsAre;
using InsertResult = JitterBuffer::InsertResult;
using PullResult = JitterBuffer::PullResult;

constexpr uint32_t kFrameTs = 960;  // 20 ms at 48 kHz

// A tiny deterministic generator (fixed seed) for jitter patterns.
class Lcg {
 public:
  explicit Lcg(uint32_t seed) : state_(seed) {}
  uint32_t Next(uint32_t bound) {
    state_ = state_ * 1664525u + 1013904223u;
    return (state_ >> 8) % bound;
  }

 private:
  uint32_t state_;
};

class JitterBufferTest : public ::testing::Test {
 protected:
  // Inserts a packet whose payload carries its sequence number, arriving at `arrival_ms`.
  InsertResult Send(uint16_t sequence, uint32_t timestamp, int64_t arrival_ms, uint32_t ssrc = 1,
                    std::optional<AudioLevel> level = std::nullopt, size_t size = 4) {
    RtpPacketBuilder builder;
    builder.set_payload_type(111);
    builder.set_sequence_number(sequence);
    builder.set_timestamp(timestamp);
    builder.set_ssrc(ssrc);
    std::array<uint8_t, 1600> payload{};
    payload[0] = static_cast<uint8_t>(sequence);
    payload[1] = static_cast<uint8_t>(sequence >> 8);
    const size_t length = builder.Build(std::span(payload).first(size), packet_);
    RtpPacketView view;
    if (ParseRtp(std::span(packet_).first(length), &view) != RtpParseResult::kOk) {
      ADD_FAILURE() << "bad test packet";
    }
    return buffer_.Insert(view, arrival_ms * 1000, level);
  }
  // Packet `n` of a 20 ms stream starting at sequence `first`.
  InsertResult SendNth(int n, int64_t arrival_ms, uint16_t first = 0, uint32_t first_ts = 0) {
    return Send(static_cast<uint16_t>(first + n), first_ts + static_cast<uint32_t>(n) * kFrameTs,
                arrival_ms);
  }
  // Pulls at `now_ms`: "F<seq>", "L" (or "L+<seq>" with an FEC peek), "D" or "B".
  std::string PullAt(int64_t now_ms) {
    clock_.SetUs(now_ms * 1000);
    JitterFrame frame;
    const PullResult result = buffer_.Pull(&frame);
    switch (result) {
      case PullResult::kFrame:
        return "F" + std::to_string(frame.payload[0] | frame.payload[1] << 8);
      case PullResult::kLost:
        if (frame.next_payload.empty()) return "L";
        return "L+" + std::to_string(frame.next_payload[0] | frame.next_payload[1] << 8);
      case PullResult::kDtx:
        return "D";
      case PullResult::kBuffering:
        return "B";
    }
    return "?";
  }

  base::FakeClock clock_{0};
  JitterBuffer buffer_{JitterBufferConfig{}, clock_};
  std::array<uint8_t, 2048> packet_{};
};

TEST_F(JitterBufferTest, PlaysInOrderAfterTheTargetDelay) {
  std::vector<std::string> out;
  for (int n = 0; n < 6; ++n) {
    EXPECT_EQ(SendNth(n, n * 20), InsertResult::kInserted);
    out.push_back(PullAt(n * 20));
  }
  EXPECT_THAT(out, ElementsAre("B", "F0", "F1", "F2", "F3", "F4"));
  EXPECT_EQ(buffer_.stats().target_delay_ms, 20);
  EXPECT_EQ(buffer_.stats().current_delay_ms, 20);
  EXPECT_EQ(buffer_.stats().played, 5u);
  EXPECT_EQ(buffer_.stats().inserted, 6u);
}

TEST_F(JitterBufferTest, FrameCarriesTimestampMarkerAndLevel) {
  Send(7, 12345, 0, 1, AudioLevel{.voice_activity = true, .level = 33});
  clock_.SetUs(20'000);
  JitterFrame frame;
  ASSERT_EQ(buffer_.Pull(&frame), PullResult::kFrame);
  EXPECT_EQ(frame.timestamp, 12345u);
  EXPECT_EQ(frame.sequence_number, 7);
  EXPECT_TRUE(frame.has_level);
  EXPECT_EQ(frame.level, 33);
  EXPECT_TRUE(frame.voice_activity);
  EXPECT_EQ(frame.arrival_us, 0);
  EXPECT_EQ(frame.payload.size(), 4u);
}

TEST_F(JitterBufferTest, ReordersWithinTheWindow) {
  // Pairs swapped in flight, both arriving before the first is due.
  std::vector<std::string> out;
  for (int n = 0; n < 20; n += 2) {
    EXPECT_EQ(SendNth(n + 1, n * 20 + 1), InsertResult::kInserted);
    EXPECT_EQ(SendNth(n, n * 20 + 2), InsertResult::kInserted);
    out.push_back(PullAt(n * 20 + 5));
    out.push_back(PullAt(n * 20 + 25));
  }
  std::vector<std::string> frames;
  for (const std::string& s : out) {
    if (s[0] == 'F') frames.push_back(s);
  }
  EXPECT_THAT(frames, ElementsAre("F0", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10",
                                  "F11", "F12", "F13", "F14", "F15", "F16", "F17", "F18"));
  EXPECT_EQ(buffer_.stats().late, 0u);
}

TEST_F(JitterBufferTest, DropsDuplicatesAndLatePackets) {
  EXPECT_EQ(SendNth(0, 0), InsertResult::kInserted);
  EXPECT_EQ(SendNth(0, 1), InsertResult::kDuplicate);
  EXPECT_EQ(PullAt(0), "B");
  EXPECT_EQ(PullAt(20), "F0");
  EXPECT_EQ(SendNth(0, 21), InsertResult::kTooLate);  // already played
  EXPECT_EQ(SendNth(2, 40), InsertResult::kInserted);
  EXPECT_EQ(PullAt(40), "L+2");                       // 1 is missing: conceal, FEC from 2
  EXPECT_EQ(SendNth(1, 45), InsertResult::kTooLate);  // it came after its turn
  // Its 25 ms of lateness raise the target to 45 ms at once: one tick is held to get there.
  EXPECT_EQ(PullAt(60), "L");
  EXPECT_EQ(buffer_.stats().target_delay_ms, 45);
  EXPECT_EQ(PullAt(80), "F2");
  EXPECT_EQ(buffer_.stats().current_delay_ms, 40);
  EXPECT_EQ(buffer_.stats().duplicate, 1u);
  EXPECT_EQ(buffer_.stats().late, 2u);
  EXPECT_EQ(buffer_.stats().held, 1u);
  EXPECT_EQ(buffer_.stats().concealed, 2u);
}

TEST_F(JitterBufferTest, LossIsConcealedWithAPeekAtTheNextPacketForFec) {
  std::vector<std::string> out;
  for (int n = 0; n < 8; ++n) {
    if (n != 3 && n != 5 && n != 6) SendNth(n, n * 20);
    out.push_back(PullAt(n * 20));
  }
  out.push_back(PullAt(160));
  // 3: next (4) buffered; 5: 6 is lost too, so no FEC source; 6: 7 is there.
  EXPECT_THAT(out, ElementsAre("B", "F0", "F1", "F2", "L+4", "F4", "L", "L+7", "F7"));
}

TEST_F(JitterBufferTest, TimestampJumpWithoutSequenceGapIsDtxNotLoss) {
  // Three frames, then (after 2 silent frames) the next packet, all sent in one burst.
  SendNth(0, 0);
  SendNth(1, 0);
  SendNth(2, 0);
  Send(3, 5 * kFrameTs, 0);
  std::vector<std::string> out;
  for (int t = 0; t <= 120; t += 20) out.push_back(PullAt(t));
  EXPECT_THAT(out, ElementsAre("B", "F0", "F1", "F2", "D", "D", "F3"));
  EXPECT_EQ(buffer_.stats().dtx, 2u);
  EXPECT_EQ(buffer_.stats().concealed, 0u);
}

TEST_F(JitterBufferTest, SilenceBeforeAnEmptyBufferIsDtxThenPause) {
  const AudioLevel quiet{.voice_activity = false, .level = 90};
  for (int n = 0; n < 3; ++n) Send(static_cast<uint16_t>(n), n * kFrameTs, n * 20, 1, quiet);
  std::vector<std::string> out;
  for (int t = 0; t <= 140; t += 20) out.push_back(PullAt(t));
  EXPECT_THAT(out, ElementsAre("B", "F0", "F1", "F2", "D", "D", "D", "B"));
  // Talk resumes 400 ms of media later with the next sequence number.
  Send(3, 23 * kFrameTs, 460);
  EXPECT_EQ(PullAt(460), "B");
  EXPECT_EQ(PullAt(480), "F3");
  EXPECT_EQ(buffer_.stats().underruns, 1u);
  EXPECT_EQ(buffer_.stats().concealed, 0u);
}

// Idle (nothing buffered, not playing): what a silent listener's buffer is most of the time.
// Its endpoint skips the pull then; the buffer says so exactly when a pull would answer "B" with
// nothing to do, and not while a packet waits for the target delay or play-out goes on.
TEST_F(JitterBufferTest, IsIdleOnlyWhenAPullCouldDoNothing) {
  EXPECT_TRUE(buffer_.idle());
  EXPECT_EQ(PullAt(0), "B");
  const AudioLevel quiet{.voice_activity = false, .level = 90};
  Send(0, 0, 0, 1, quiet);
  EXPECT_FALSE(buffer_.idle());  // buffered, waiting for the target delay
  EXPECT_EQ(PullAt(0), "B");
  EXPECT_FALSE(buffer_.idle());
  EXPECT_EQ(PullAt(20), "F0");
  std::vector<std::string> out;
  std::vector<bool> idle_after;
  for (int t = 40; t <= 120; t += 20) {
    out.push_back(PullAt(t));
    idle_after.push_back(buffer_.idle());
  }
  // Playing on an empty buffer (DTX ticks) is not idle; the pause after them is, from the pull
  // that first answers "B" on.
  EXPECT_THAT(out, ElementsAre("D", "D", "D", "B", "B"));
  EXPECT_THAT(idle_after, ElementsAre(false, false, false, true, true));
  Send(1, 10 * kFrameTs, 200);
  EXPECT_FALSE(buffer_.idle());
}

TEST_F(JitterBufferTest, LateSingletonWithAnEmptyBufferStillPlays) {
  SendNth(0, 0);
  EXPECT_EQ(PullAt(0), "B");
  EXPECT_EQ(PullAt(20), "F0");
  EXPECT_EQ(PullAt(40), "L");  // 1 is late, nothing buffered: conceal but keep the cursor
  SendNth(1, 50);
  EXPECT_EQ(PullAt(60), "F1");
  EXPECT_EQ(buffer_.stats().late, 0u);
}

TEST_F(JitterBufferTest, AdaptsUpQuicklyUnderJitterAndBackDownSlowly) {
  // One packet per 20 ms tick; packet n arrives at n * 20 ms plus a jitter of 0..79 ms (uniform,
  // seed 42) from 5 s to 15 s, and none before or after. Deliveries happen in arrival order,
  // each just before the tick at or after its arrival time.
  Lcg random(42);
  struct Pending {
    int n;
    int64_t arrival_ms;
  };
  std::vector<Pending> pending;
  pending.reserve(64);
  int n = 0;
  auto run_until = [&](int64_t end_ms, bool jitter) {
    for (; n * 20 < end_ms; ++n) {
      const int64_t t = n * 20;
      pending.push_back({n, t + (jitter ? random.Next(80) : 0)});
      std::sort(pending.begin(), pending.end(),
                [](const Pending& a, const Pending& b) { return a.arrival_ms < b.arrival_ms; });
      while (!pending.empty() && pending.front().arrival_ms <= t) {
        SendNth(pending.front().n, pending.front().arrival_ms);
        pending.erase(pending.begin());
      }
      PullAt(t);
    }
  };
  run_until(5'000, false);
  EXPECT_EQ(buffer_.stats().target_delay_ms, 20);
  EXPECT_EQ(buffer_.stats().late, 0u);

  run_until(5'200, true);  // grows fast: 10 jittered packets are enough
  EXPECT_GE(buffer_.stats().target_delay_ms, 60);
  run_until(7'000, true);
  const uint64_t late_when_adapted = buffer_.stats().late;
  EXPECT_GT(late_when_adapted, 0u);  // the first jittered packets came too late
  run_until(15'000, true);
  EXPECT_GE(buffer_.stats().target_delay_ms, 80);
  EXPECT_LE(buffer_.stats().target_delay_ms, 100);
  EXPECT_GE(buffer_.stats().current_delay_ms, 60);
  // Once adapted, 8 s (400 packets) of jitter cost almost no late packets.
  EXPECT_LE(buffer_.stats().late - late_when_adapted, 4u);

  // Calm again. The peak is held for the 10 s window: a second later the target is still high.
  run_until(16'000, false);
  EXPECT_GE(buffer_.stats().target_delay_ms, 80);
  // Then the target returns to the minimum and the delay follows, a frame at a time.
  const uint64_t skipped_before = buffer_.stats().skipped;
  run_until(35'000, false);
  EXPECT_EQ(buffer_.stats().target_delay_ms, 20);
  EXPECT_LE(buffer_.stats().current_delay_ms, 40);
  EXPECT_GE(buffer_.stats().skipped - skipped_before, 2u);
}

// A single stall (a second of 100 ms late packets, say a Wi-Fi hiccup or a busy moment of the
// node) raises the target at once, but is forgotten two seconds later: it does not hold the
// delay up for the whole 10 s window as recurring jitter does.
TEST_F(JitterBufferTest, AOneOffStallIsForgottenTwoSecondsLater) {
  int n = 0;
  auto steady_until = [&](int64_t end_ms) {
    for (; n * 20 < end_ms; ++n) {
      SendNth(n, n * 20);
      PullAt(n * 20);
    }
  };
  steady_until(5'000);
  EXPECT_EQ(buffer_.stats().target_delay_ms, 20);
  // Five packets held back 100 ms, then delivered together.
  const int stalled = n;
  for (int tick = 0; tick < 5; ++tick, ++n) PullAt(n * 20);
  for (int i = stalled; i < n; ++i) SendNth(i, stalled * 20 + 100);
  EXPECT_GE(buffer_.stats().target_delay_ms, 20);
  PullAt(n * 20);
  EXPECT_GE(buffer_.stats().target_delay_ms, 100);
  steady_until(6'500);
  EXPECT_GE(buffer_.stats().target_delay_ms, 100);  // still within the two seconds
  steady_until(8'000);
  EXPECT_EQ(buffer_.stats().target_delay_ms, 20);
}

TEST_F(JitterBufferTest, WrapsAroundSequenceAndTimestamp) {
  const uint16_t first_sequence = 65530;
  const uint32_t first_ts = 0xffffffffu - 3 * kFrameTs;
  std::vector<std::string> out;
  for (int n = 0; n < 12; ++n) {
    EXPECT_EQ(SendNth(n, n * 20, first_sequence, first_ts), InsertResult::kInserted);
    out.push_back(PullAt(n * 20));
  }
  EXPECT_THAT(out, ElementsAre("B", "F65530", "F65531", "F65532", "F65533", "F65534", "F65535",
                               "F0", "F1", "F2", "F3", "F4"));
  EXPECT_EQ(buffer_.stats().concealed, 0u);
  EXPECT_EQ(buffer_.stats().dtx, 0u);
}

TEST_F(JitterBufferTest, NewSsrcResetsTheBuffer) {
  for (int n = 0; n < 4; ++n) {
    SendNth(n, n * 20);
    PullAt(n * 20);
  }
  EXPECT_EQ(Send(5000, 777, 80, /*ssrc=*/2), InsertResult::kSsrcChanged);
  EXPECT_EQ(PullAt(80), "B");  // starts again from the target delay
  EXPECT_EQ(PullAt(100), "F5000");
  EXPECT_EQ(buffer_.stats().restarts, 1u);
}

TEST_F(JitterBufferTest, FarJumpRestartsOnlyWhenConfirmed) {
  for (int n = 0; n < 4; ++n) {
    SendNth(n, n * 20);
    PullAt(n * 20);
  }
  EXPECT_EQ(Send(20000, 0, 80), InsertResult::kTooFarAhead);  // a stray packet
  EXPECT_EQ(SendNth(4, 80), InsertResult::kInserted);
  EXPECT_EQ(PullAt(80), "F3");
  EXPECT_EQ(Send(40000, 0, 100), InsertResult::kTooOld);  // 25536 numbers behind
  EXPECT_EQ(Send(30000, 0, 100), InsertResult::kTooFarAhead);
  EXPECT_EQ(Send(30001, kFrameTs, 100), InsertResult::kRestarted);  // it follows: restart
  EXPECT_EQ(PullAt(100), "B");
  EXPECT_EQ(PullAt(120), "F30001");
  EXPECT_EQ(buffer_.stats().too_old, 3u);
}

TEST_F(JitterBufferTest, RefusesPacketsBeyondItsCapacity) {
  for (int n = 0; n < 64; ++n) EXPECT_EQ(SendNth(n, 0), InsertResult::kInserted);
  EXPECT_EQ(SendNth(64, 0), InsertResult::kFull);
  EXPECT_EQ(buffer_.stats().overflow, 1u);
  EXPECT_EQ(buffer_.stats().depth_ms, 0);  // gauges are updated by Pull
  // All arrived at once: packet 63 came 1260 ms early, so packet 0 has waited long enough.
  EXPECT_EQ(PullAt(0), "F0");
  EXPECT_EQ(buffer_.stats().depth_ms, 63 * 20);
  EXPECT_EQ(Send(100, 0, 0, 1, std::nullopt, 1501), InsertResult::kTooLarge);
  EXPECT_EQ(Send(101, 0, 0, 1, std::nullopt, 1500), InsertResult::kFull);
}

TEST_F(JitterBufferTest, InsertAndPullNeverAllocate) {
  Lcg random(7);
  std::array<std::array<uint8_t, 1600>, 64> packets{};
  // Build everything first; only Insert/Pull run while counting.
  testing_support::AllocationCounter counter;
  int64_t t = 0;
  for (int n = 0; n < 3000; ++n, t += 20) {
    const uint32_t r = random.Next(100);
    const uint32_t ssrc = n < 1500 ? 1 : 2;  // one SSRC change
    const uint16_t sequence = static_cast<uint16_t>(60000 + n + (r < 5 ? 1 : 0));  // reorder
    RtpPacketBuilder builder;
    builder.set_sequence_number(sequence);
    builder.set_timestamp(static_cast<uint32_t>(n) * kFrameTs);
    builder.set_ssrc(ssrc);
    std::array<uint8_t, 200> payload{};
    auto& packet = packets[static_cast<size_t>(n) % packets.size()];
    const size_t length = builder.Build(std::span(payload).first(20 + r), packet);
    RtpPacketView view;
    ASSERT_EQ(ParseRtp(std::span(packet).first(length), &view), RtpParseResult::kOk);
    clock_.SetUs(t * 1000);
    counter.Start();
    if (r >= 3) (void)buffer_.Insert(view, (t + r % 60) * 1000, AudioLevel{});  // 3 % lost
    if (r == 50) (void)buffer_.Insert(view, (t + 1) * 1000);                    // duplicate
    JitterFrame frame;
    (void)buffer_.Pull(&frame);
    counter.Stop();
  }
  EXPECT_EQ(counter.count(), 0);
  EXPECT_GT(buffer_.stats().played, 2000u);
}

}  // namespace
}  // namespace chorus::rtp
