#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace chorus::loadgen {

// A conversational talk pattern for one room: speakers take turns, each talk spurt followed by a
// pause in which nobody talks, so that every spurt onset reaches the listeners out of silence and
// its delay can be measured from the decoded mix alone (no CSRCs needed: the same method works
// for any mixer). Times are microseconds on the generator's monotonic clock.
struct TalkPattern {
  int talk_min_ms = 1000;
  int talk_max_ms = 2500;
  int pause_min_ms = 700;
  int pause_max_ms = 1300;
};

struct TalkSpurt {
  int speaker = 0;  // index of the participant in its room
  int64_t start_us = 0;
  int64_t end_us = 0;
  // When the generator actually sent the spurt's first packet (0 until then): the reference of
  // the onset-to-mix delay, so that a late generator does not count against the server.
  int64_t first_sent_us = 0;
};

// The spurts of one room from `start_us` to `end_us`, drawn from `random`. Speakers are room
// indices [0, speakers); consecutive spurts have different speakers when there are two or more.
// Not thread-safe; owned by the generator's thread.
class TalkSchedule {
 public:
  TalkSchedule(int speakers, const TalkPattern& pattern, int64_t start_us, int64_t end_us,
               std::mt19937& random);

  // The spurt `speaker` is in at `now_us`, or nullptr.
  TalkSpurt* SpurtAt(int speaker, int64_t now_us);
  // The latest spurt that started at or before `now_us` (nullptr if none).
  const TalkSpurt* LatestStartBefore(int64_t now_us) const;
  const std::vector<TalkSpurt>& spurts() const { return spurts_; }

 private:
  std::vector<TalkSpurt> spurts_;
};

}  // namespace chorus::loadgen
