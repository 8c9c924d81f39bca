#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace chorus::loadgen {

// One pre-encoded 20 ms Opus frame and the RFC 6464 level of the audio it carries.
struct EncodedFrame {
  std::vector<uint8_t> payload;
  uint8_t level = 127;  // -dBov
  bool voice = false;
};

// The audio every simulated participant sends, encoded once at start so that sending costs the
// generator nothing but a copy: a talk clip (a voiced, speech-like signal whose syllables never
// fall silent, so a listener sees its onset at once) and a frame of digital silence, sent while a
// participant listens (as a SIP phone without DTX does). Immutable after Create(); shared by all
// participants on the generator's one thread.
class TalkClip {
 public:
  // `duration_ms` of talk (at least 20 ms), encoded with libopus through pipeline/codec at
  // `bitrate_bps`. INTERNAL when the encoder cannot be opened.
  static absl::StatusOr<TalkClip> Create(int duration_ms, int bitrate_bps);

  // Frame `index` of the talk, wrapping around.
  const EncodedFrame& talk(size_t index) const { return talk_[index % talk_.size()]; }
  size_t talk_frames() const { return talk_.size(); }
  const EncodedFrame& silence() const { return silence_; }

  // The clip's PCM (48 kHz mono), for tests.
  static std::vector<int16_t> Synthesize(int duration_ms);

 private:
  std::vector<EncodedFrame> talk_;
  EncodedFrame silence_;
};

}  // namespace chorus::loadgen
