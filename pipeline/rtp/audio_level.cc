#include "pipeline/rtp/audio_level.h"

#include <algorithm>
#include <cmath>

namespace chorus::rtp {

std::optional<AudioLevel> ParseAudioLevel(std::span<const uint8_t> element) {
  if (element.empty()) return std::nullopt;
  return AudioLevel{.voice_activity = (element[0] & 0x80) != 0,
                    .level = static_cast<uint8_t>(element[0] & 0x7f)};
}

bool ParseAudioLevel(std::span<const uint8_t> element, bool* voice_activity, uint8_t* level) {
  const std::optional<AudioLevel> parsed = ParseAudioLevel(element);
  if (!parsed) return false;
  *voice_activity = parsed->voice_activity;
  *level = parsed->level;
  return true;
}

size_t WriteAudioLevel(const AudioLevel& level, std::span<uint8_t> out) {
  if (out.empty()) return 0;
  out[0] = static_cast<uint8_t>((level.voice_activity ? 0x80 : 0) |
                                std::min<uint8_t>(level.level, kSilentLevel));
  return 1;
}

size_t ParseCsrcAudioLevels(std::span<const uint8_t> element, std::span<uint8_t> levels) {
  const size_t count = std::min(element.size(), levels.size());
  for (size_t i = 0; i < count; ++i) levels[i] = element[i] & 0x7f;
  return count;
}

size_t WriteCsrcAudioLevels(std::span<const uint8_t> levels, std::span<uint8_t> out) {
  if (levels.empty() || levels.size() > 15 || out.size() < levels.size()) return 0;
  for (size_t i = 0; i < levels.size(); ++i) out[i] = std::min<uint8_t>(levels[i], kSilentLevel);
  return levels.size();
}

uint8_t LevelFromRms(double rms_full_scale) {
  // NaN and anything at or below -127 dBov are silence.
  if (!(rms_full_scale > 0)) return kSilentLevel;
  const double dbov = -20.0 * std::log10(rms_full_scale);
  if (!(dbov < 127.0)) return kSilentLevel;
  return static_cast<uint8_t>(std::lround(std::max(dbov, 0.0)));
}

uint8_t LevelFromSamples(std::span<const int16_t> samples) {
  if (samples.empty()) return kSilentLevel;
  // 64-bit integer sum of squares: exact for any frame shorter than 2^33 samples.
  uint64_t sum = 0;
  for (int16_t s : samples) sum += static_cast<uint64_t>(int64_t{s} * s);
  const double mean = static_cast<double>(sum) / static_cast<double>(samples.size());
  return LevelFromRms(std::sqrt(mean) / 32768.0);
}

double RmsFromLevel(uint8_t level) {
  if (level >= kSilentLevel) return 0.0;
  return std::pow(10.0, -static_cast<double>(level) / 20.0);
}

}  // namespace chorus::rtp
