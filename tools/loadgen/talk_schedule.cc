#include "tools/loadgen/talk_schedule.h"

#include <algorithm>

namespace chorus::loadgen {

TalkSchedule::TalkSchedule(int speakers, const TalkPattern& pattern, int64_t start_us,
                           int64_t end_us, std::mt19937& random) {
  if (speakers <= 0) return;
  auto uniform_us = [&](int min_ms, int max_ms) {
    std::uniform_int_distribution<int> ms(std::min(min_ms, max_ms), std::max(min_ms, max_ms));
    return int64_t{ms(random)} * 1000;
  };
  std::uniform_int_distribution<int> pick(0, speakers - 1);
  int previous = -1;
  int64_t t = start_us;
  while (t < end_us) {
    int speaker = pick(random);
    if (speakers > 1) {
      while (speaker == previous) speaker = pick(random);
    }
    previous = speaker;
    TalkSpurt spurt;
    spurt.speaker = speaker;
    spurt.start_us = t;
    spurt.end_us = std::min(end_us, t + uniform_us(pattern.talk_min_ms, pattern.talk_max_ms));
    spurts_.push_back(spurt);
    t = spurt.end_us + uniform_us(pattern.pause_min_ms, pattern.pause_max_ms);
  }
}

TalkSpurt* TalkSchedule::SpurtAt(int speaker, int64_t now_us) {
  // Spurts are sorted and do not overlap: the last one starting at or before now is the only
  // candidate.
  auto it = std::upper_bound(spurts_.begin(), spurts_.end(), now_us,
                             [](int64_t t, const TalkSpurt& s) { return t < s.start_us; });
  if (it == spurts_.begin()) return nullptr;
  --it;
  return it->speaker == speaker && now_us < it->end_us ? &*it : nullptr;
}

const TalkSpurt* TalkSchedule::LatestStartBefore(int64_t now_us) const {
  auto it = std::upper_bound(spurts_.begin(), spurts_.end(), now_us,
                             [](int64_t t, const TalkSpurt& s) { return t < s.start_us; });
  if (it == spurts_.begin()) return nullptr;
  return &*(it - 1);
}

}  // namespace chorus::loadgen
